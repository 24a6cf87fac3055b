"""Train the book's chapter-6 convolutional networks (``dlpy35.network3``).

Presets (mini-batch 10, test accuracy reported at the best validation epoch)::

    --net fc           FC 100 -> softmax, sigmoid, eta 0.1, 60 epochs (no convolution)
    --net conv1        conv 20x5x5 + 2x2 max-pool -> FC 100 -> softmax, sigmoid, eta 0.1, 60 epochs
    --net conv2        two conv-pool layers (20, 40 maps), sigmoid, eta 0.1, 60 epochs
    --net conv2-relu   the same with ReLU, eta 0.03, lmbda 0.1, 60 epochs
    --expanded         train on the 250,000-image expanded set (python scripts/expand_mnist.py)
    --extra-fc         a second FC-100 layer (the book's 99.43% run, with conv2-relu --expanded)
    --dropout          two FC-1000 layers with dropout 0.5 instead of FC 100; eta 0.03, lmbda 0, 40 epochs
    --ensemble K       train K networks (seeds seed..seed+K-1) as one population and report their
                       plurality vote (--order shared: all on the first network's shuffles and masks)

Examples::

    dlpy35 train-conv --net conv1 --epochs 1 --n-train 2000   # kept in a new runs/train-conv-...
    dlpy35 train-conv --net conv1 --checkpoint-dir runs/conv1 --run-dir runs/conv1
    # ... Ctrl-C, then the same command with --resume
    dlpy35 train-conv --net conv1 --ensemble 5 --order shared --checkpoint-dir runs/five   # all five in one
    dlpy35 train-conv --net conv2-relu --expanded --dropout --device cuda --save runs/conv.npz
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from dlpy35.cli import signals
from dlpy35.cli.common import (
    add_data_flags,
    add_device_flags,
    add_order_flag,
    add_output_flags,
    add_tensorboard_flag,
    check_outputs,
    fail,
    finite_float,
    interrupted,
    interrupted_line,
    make_run_dir,
    natural_int,
    positive_int,
    tensorboard_callbacks,
)
from dlpy35.cli.config import add_config_flag
from dlpy35.engine.callbacks import Callback  # light: imports no PyTensor, as a command's parsing must not
from dlpy35.text import plural

NETWORK_FILE = "network.npz"


def configure(p):
    """The flags of ``dlpy35 train-conv`` (and ``scripts/train_conv.py``) on the parser `p`."""
    from dlpy35.chapter6 import PRESETS

    p.add_argument("--net", choices=sorted(PRESETS), default="conv1", help="the book's network (see above)")
    p.add_argument("--expanded", action="store_true", help="train on the 250,000 shifted images")
    p.add_argument("--dropout", action="store_true", help="FC-1000 x2 with dropout 0.5 (the book's last net)")
    p.add_argument("--extra-fc", action="store_true", help="a second FC-100 layer after the first")
    p.add_argument("--epochs", type=natural_int, default=None,
                   help="default: the preset's (60, or 40 with --dropout)")
    p.add_argument("--eta", type=finite_float, default=None, help="default: the preset's")
    p.add_argument("--lmbda", type=finite_float, default=None, help="default: the preset's")
    p.add_argument("--mini-batch-size", type=positive_int, default=10, help="examples per SGD step")
    p.add_argument("--n-train", type=positive_int, default=None,
                   help="use only the first N training images (quick runs)")
    add_data_flags(p)
    add_device_flags(p)
    p.add_argument("--dtype", default="float32", choices=("float32", "float64"), help="training precision")
    p.add_argument("--seed", type=natural_int, default=0, help="seeds the initial weights and the shuffles")
    p.add_argument("--ensemble", type=positive_int, default=1, metavar="K",
                   help="train K nets together, as one population, and vote (default 1)")
    add_order_flag(p)
    p.add_argument("--checkpoint-dir", type=Path, default=None, help="save a checkpoint after every epoch")
    p.add_argument("--resume", action="store_true",
                   help="continue from the checkpoints in --checkpoint-dir (and rewrite the run's outputs)")
    p.add_argument("--overwrite", action="store_true",
                   help="start over in a --checkpoint-dir that holds checkpoints, and replace what --save, "
                        "--history, --plot and --run-dir hold (refused otherwise)")
    add_output_flags(p, NETWORK_FILE)
    add_config_flag(p)
    add_tensorboard_flag(p)
    p.add_argument("--history", type=Path, default=None, metavar="PATH",
                   help="write the per-epoch history as JSON")
    p.add_argument("--plot", type=Path, default=None, help="write a PNG of the (first) network's curves")
    p.add_argument("--stop-on-saturation", action="store_true",
                   help="stop (exit 2) instead of warning when a network gives one answer to 99%% of the "
                        "validation data after an epoch (eta far too large)")


def check(p, args):
    """The preset's defaults filled in; every value and output path checked before data loads."""
    from dlpy35.chapter6 import DROPOUT_PRESET, PRESETS
    from dlpy35.engine.arguments import check_eta, check_lmbda

    preset = DROPOUT_PRESET if args.dropout else PRESETS[args.net]
    for key in ("epochs", "eta", "lmbda"):
        if getattr(args, key) is None:
            setattr(args, key, preset[key])
    if args.order != "own" and args.ensemble == 1:
        p.error(f"--order {args.order}: one network has one order; give --ensemble K (K > 1) or leave out "
                "--order")
    if args.resume and not args.checkpoint_dir:
        p.error("--resume needs --checkpoint-dir")
    if args.resume and args.overwrite:
        p.error("--resume continues a checkpoint, --overwrite starts over: give one of them")
    if args.dropout and args.extra_fc:
        p.error("--dropout replaces the FC-100 layer by two FC-1000 ones; --extra-fc adds an FC-100: "
                "give one of them")
    if args.expanded and args.dataset:
        p.error("--expanded shifts MNIST's images; it cannot be combined with --dataset")
    try:
        check_eta(args.eta, args.dtype)
        check_lmbda(args.lmbda)
        check_outputs(args, NETWORK_FILE, command="train-conv")
    except ValueError as exc:
        p.error(str(exc))


def _curves(history, path, title):
    """A network's validation accuracy and training cost per epoch, as network2's runs are plotted."""
    from dlpy35.studies.plots import plot_history

    curves = {"training_cost": [h["training_cost"] for h in history],
              "evaluation_accuracy": [h["validation_correct"] for h in history]}
    return plot_history(curves, path, title, n_eval=history[0]["validation_total"]) if history else None


def _epoch_rows(args, records):
    """``epochs.csv`` rows of the run from each network's records: its validation accuracy per epoch."""
    from dlpy35.storage.tables import epoch_rows

    return [row for k, mine in enumerate(records)
            for row in epoch_rows(k, args.seed + k, args.eta, args.lmbda, [args.net], mine, "validation")]


def _network_line(record):
    return f"  epoch {record.epoch}: {record.seconds:.1f} s training, cost {record.cost:.4f}"


def _population_line(record):
    return (f"  epoch {record.epoch}: {record.seconds:.1f} s training, validation accuracy "
            + " ".join(f"{e.evaluations['validation'].accuracy:.2%}" if e else "diverged"
                       for e in record.records))


class EpochLines(Callback):
    """A line after each epoch, and the run directory's ``epochs.csv`` with every network's epochs so
    far (a resumed run's earlier ones included); its ``args.json`` once the run starts.

    Parameters
    ----------
    prog, args, bar
        The command, its arguments (``args.run``: the run directory or None) and its progress bar.
    records : callable
        ``records(run)``: each network's :class:`dlpy35.engine.records.EpochRecord` list so far.
    line : callable
        ``line(record)``: what an epoch's record says.
    """

    def __init__(self, prog, args, bar, records, line):
        self.prog, self.args, self.bar, self.records, self.line = prog, args, bar, records, line

    def on_start(self, trainer, run):
        """Once the checkpoint to resume (if any) is checked and restored: ``args.json`` with the run's
        identity, and ``epochs.csv`` with the resumed checkpoint's epochs."""
        if self.args.run:
            self.args.run.start(self.prog, self.args, run.identity, run.state["epoch"], trainer.device)
            self.args.run.epochs(_epoch_rows(self.args, self.records(run)))

    def on_epoch(self, trainer, run, record):
        self.bar.close()
        print(self.line(record), flush=True)
        if self.args.run:
            self.args.run.epochs(_epoch_rows(self.args, self.records(run)))


def train(prog, args, data, bar):
    """The K networks of the run, trained as one population (one network alone when K is 1), either
    checkpointing into ``--checkpoint-dir``; ``(a network to save, histories, the ensemble's test accuracy
    or None)``."""
    from dlpy35 import network3 as n3
    from dlpy35.engine.population import LayerPopulation

    (tx, ty), val, test = data.training, data.validation, data.test
    layers = n3.book_layers(args.net, args.mini_batch_size, args.dropout, data.n_classes, args.extra_fc)
    start = time.perf_counter()
    keep = {"checkpoint_dir": args.checkpoint_dir, "resume": args.resume, "overwrite": args.overwrite}
    if args.ensemble == 1:
        net = n3.Network(layers, args.mini_batch_size, seed=args.seed, dtype=args.dtype, mode=args.mode,
                         device=args.device)
        net.stop_on_saturation = args.stop_on_saturation
        print(f"{net.device.describe()} ({net.device.note})", flush=True)
        make_run_dir(args)  # the device is known good: the run is about to start
        lines = EpochLines(prog, args, bar, lambda run: [run.records], _network_line)
        net.SGD((tx, ty), args.epochs, args.mini_batch_size, args.eta, val, test, args.lmbda, **keep,
                progress=bar, callbacks=[lines, *tensorboard_callbacks(args)])
        histories, vote, trainer = [[r.flat() for r in net.records]], None, net
    else:
        pop = LayerPopulation(layers, args.mini_batch_size, list(range(args.seed, args.seed + args.ensemble)),
                              args.eta, args.lmbda, dtype=args.dtype, mode=args.mode, device=args.device,
                              order=args.order)
        make_run_dir(args)
        print(f"{plural(args.ensemble, 'network')} as one population ({args.order} order): "
              f"{pop.device.describe()} ({pop.device.note})", flush=True)
        lines = EpochLines(prog, args, bar, lambda run: pop.records, _population_line)
        pop.SGD((tx, ty), args.epochs, val, test, progress=bar, **keep,
                callbacks=[lines, *tensorboard_callbacks(args)])
        histories, trainer = pop.histories, pop.trainer
        vote = float(np.mean(pop.vote(test[0]) == test[1]))
        net = pop.network(0)
        net.records = pop.records[0]  # what its file records of its training
    secs = [h["seconds"] for h in histories[0]]
    print(f"compile/warm-up {trainer.compile_seconds or 0.0:.1f} s; "
          f"{(sum(secs) / len(secs) if secs else 0):.1f} s per epoch; "
          f"wall {time.perf_counter() - start:.1f} s", flush=True)
    return net, histories, vote


def _load(args):
    """What to train on: MNIST (expanded with ``--expanded``) or ``--dataset``, cut to ``--n-train``."""
    from dlpy35.data import load_data
    from dlpy35.data.expand import load_expanded

    data = load_data(args.data_dir, args.dataset)
    if data.image_shape != (28, 28):
        raise ValueError(f"{data.name} has {data.image_shape[0]}x{data.image_shape[1]} images; the book's "
                         "convolutional networks take 28x28 ones (dlpy35 train takes any size)")
    if args.expanded:
        data = data._replace(training=load_expanded(args.data_dir, verbose=True))
    if args.n_train:
        data = data._replace(training=tuple(a[: args.n_train] for a in data.training))
    return data


def execute(p, args) -> int:
    """Train as `args` say; the exit status."""
    check(p, args)
    prog = p.prog
    from dlpy35.cli.progress import EpochBar
    from dlpy35.data import DataError
    from dlpy35.engine.device import DeviceError
    from dlpy35.engine.trainer import TrainingDiverged
    from dlpy35.storage.checkpoint import check_resumable
    from dlpy35.storage.metadata import Metadata, run_results, training_settings
    from dlpy35.storage.outputs import OutputError

    try:
        if args.resume:  # before the data loads: nothing to resume is a mistake, not a fresh start
            check_resumable(args.checkpoint_dir)
        data = _load(args)
    except (DataError, ValueError) as exc:
        return fail(prog, exc)
    name = f"{args.net}{' + FC-100' if args.extra_fc else ''}{' + dropout' if args.dropout else ''}"
    expanded = ", expanded" if args.expanded else ""
    print(f"{name}: {plural(len(data.training[0]), 'training image')} ({data.name}{expanded}), "
          f"{plural(args.epochs, 'epoch')}, "
          f"mini-batch {args.mini_batch_size}, eta {args.eta}, lmbda {args.lmbda}, "
          f"seed {args.seed}", flush=True)
    bar = EpochBar(args.quiet)
    try:
        with signals.saying(lambda: interrupted_line(prog, "interrupted", args.checkpoint_dir)):
            net, histories, vote = train(prog, args, data, bar)
    except (DeviceError, ValueError, TrainingDiverged) as exc:  # a CheckpointError is a ValueError
        bar.close()
        if args.run:  # refused before the run started: no empty directory left
            args.run.discard()
        return fail(prog, exc)
    except KeyboardInterrupt:
        bar.close()
        return interrupted(prog, "interrupted", args.checkpoint_dir)
    if vote is not None:
        print(f"Ensemble of {args.ensemble}: test accuracy {vote:.2%} (plurality vote)")
    net.metadata = Metadata.of(data, training_settings(prog, args), {
        **run_results(net.records), **({} if vote is None else {"ensemble_test_accuracy": round(vote, 6)})})
    title = f"{name}, eta {args.eta}, lmbda {args.lmbda}, seed {args.seed}"
    try:
        with signals.saying(lambda: signals.while_writing(prog)):
            _finish(args, net, histories, vote, title)
    except OutputError as exc:
        return fail(prog, exc)
    return 0


def _finish(args, net, histories, vote, title):
    """Write ``--save``, the run directory's last files, ``--history`` and ``--plot``; OutputError when one
    fails, the trained network saved somewhere all the same (:class:`dlpy35.storage.outputs.Finisher`)."""
    from dlpy35.storage.atomic import atomic_write
    from dlpy35.storage.outputs import Finisher
    from dlpy35.storage.rundir import plain_args

    def history(path):
        with atomic_write(path, "w") as f:
            json.dump({"args": plain_args(args),
                       "runs": [{"seed": args.seed + k, "history": h} for k, h in enumerate(histories)],
                       "vote_test_accuracy": vote}, f, indent=1)

    keep = Finisher(net, Path(NETWORK_FILE).suffix)
    if args.save:
        keep.network(args.save, "--save")
        print(f"saved {args.save}")
    if args.run:
        written = args.run.finish(net, lambda path: _curves(histories[0], path, title), keep)
        print(f"run directory: {', '.join(map(str, written))}")
    if args.history:
        keep.write(args.history, "--history", history)
    if args.plot and keep.write(args.plot, "--plot", lambda path: _curves(histories[0], path, title)):
        print(f"plot: {args.plot}")
