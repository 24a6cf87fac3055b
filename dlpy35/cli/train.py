"""Train the book's networks of chapters 1 and 3 on MNIST, on the GPU when there is one.

The defaults are the book's chapter-1 run: ``Network([784, 30, 10])``, quadratic
cost, N(0, 1) weights, 30 epochs, mini-batch 10, eta 3.0, evaluated on the 10,000
test images after every epoch.  Chapter 3's options -- ``--cost cross-entropy``,
``--lmbda``, ``--monitor``, ``--early-stopping``, ``--lr-schedule`` -- train
``dlpy35.network2.Network`` on the same device-resident path; chapter 5's
``--learning-speed`` records each hidden layer's speed of learning, ``||dC/db^l||``.
Without ``--save`` or ``--run-dir`` the run is kept in a new
``runs/train-YYYYmmdd-HHMMSS`` (``--no-save``: nothing kept).  The best epoch printed is the
book's chapter-1 figure, on the test set; ``--evaluation validation`` chooses honestly.
MNIST is fetched and verified on first use; ``--dataset DIR`` trains on another
MNIST-format data set, or on folders of images (``DIR/train/CLASS/*.png``).
``--device auto`` takes a CUDA GPU when JAX sees one and otherwise falls back to
the CPU, saying so; ``--device cuda`` without a GPU exits with status 2.

Examples::

    dlpy35 train                                     # chapter 1: the book's run, kept in runs/train-...
    dlpy35 train --config runs/train-20250101-120000 # that run again (flags given with it override)
    dlpy35 train --cost cross-entropy --eta 0.5 --lmbda 5.0 --run-dir runs/ch3
    dlpy35 train --sizes 784 100 10 --cost cross-entropy --eta 0.5 --lmbda 5.0 --then 60 0.1
    dlpy35 train --checkpoint-dir runs/ck            # Ctrl-C, then the same with --resume
    dlpy35 train --sizes 784 30 30 30 30 10 --cost cross-entropy --learning-speed --run-dir runs/ch5
    dlpy35 train --dataset data/fashion --cost cross-entropy --eta 0.5 --save fashion.json
    dlpy35 train --dataset my-digits --cost cross-entropy --eta 0.5  # my-digits/train/7/*.png ...
"""

from __future__ import annotations

import sys
from argparse import ArgumentTypeError
from pathlib import Path

from dlpy35.cli import signals
from dlpy35.cli.common import (
    INTERRUPTED,
    add_output_flags,
    add_tensorboard_flag,
    add_training_flags,
    check_outputs,
    fail,
    finite_float,
    interrupted_line,
    make_run_dir,
    natural_int,
    network_sizes,
    positive_int,
    tensorboard_callbacks,
    weight_init,
)
from dlpy35.cli.config import add_config_flag
from dlpy35.engine.callbacks import Callback  # light: imports no PyTensor, as a command's parsing must not
from dlpy35.storage.rundir import RunDir
from dlpy35.text import plural

NETWORK_FILE = "network.json"
SPEED_CSV, SPEED_PNG = RunDir.SPEED_CSV, RunDir.SPEED_PNG  # --learning-speed's files in --run-dir


def configure(p):
    """The flags of ``dlpy35 train`` (and ``scripts/train_gpu.py``) on the parser `p`."""
    p.add_argument("--sizes", type=positive_int, nargs="+", default=None,
                   help="layer sizes (default 784 30 10; with --dataset, its pixels and classes around 30)")
    p.add_argument("--eta", type=finite_float, default=3.0, help="learning rate")
    p.add_argument("--calibrate", action="store_true",
                   help="time JAX against NUMBA on this CPU first (about a minute, once; cached) and let the "
                        "result choose the default CPU mode")
    p.add_argument("--seed", type=natural_int, default=0, help="seeds the initial weights and the shuffles")
    p.add_argument("--stop-on-saturation", action="store_true",
                   help="stop (exit 2) instead of warning when the network gives one answer to 99%% of the "
                        "evaluation data after an epoch (eta far too large)")
    add_output_flags(p, NETWORK_FILE)
    add_config_flag(p)
    add_tensorboard_flag(p)
    ch3 = p.add_argument_group("chapter 3 (network2)")
    add_training_flags(p, ch3)
    ch3.add_argument("--lmbda", type=finite_float, default=0.0, help="regularisation parameter")
    ch3.add_argument("--monitor", action="store_true",
                     help="also print training cost/accuracy and evaluation cost")
    ch3.add_argument("--early-stopping", type=natural_int, default=0, metavar="N",
                     help="stop after N epochs without better evaluation accuracy")
    ch3.add_argument("--lr-schedule", type=natural_int, default=0, metavar="N",
                     help="halve eta after N epochs without improvement; stop at eta/128")
    ch3.add_argument("--then", nargs=2, action="append", default=[], metavar=("EPOCHS", "ETA"),
                     help="continue with EPOCHS more epochs at ETA (repeatable)")
    ch3.add_argument("--checkpoint-dir", type=Path, default=None, help="save a checkpoint after every epoch")
    ch3.add_argument("--resume", action="store_true",
                     help="continue from the checkpoint in --checkpoint-dir (and rewrite the run's outputs)")
    ch3.add_argument("--overwrite", action="store_true",
                     help="start over in a --checkpoint-dir that holds a checkpoint, and replace what "
                          "--save, --plot and --run-dir hold (refused otherwise)")
    ch3.add_argument("--plot", type=Path, default=None,
                     help="write a PNG of the monitored curves (needs matplotlib)")
    # const: network2.SPEED_EXAMPLES, the book's 1,000 images (network2 imports PyTensor: not at parse time)
    ch3.add_argument("--learning-speed", type=positive_int, nargs="?", const=1000, default=None, metavar="N",
                     help="chapter 5: print each hidden layer's speed of learning, ||dC/db^l|| of the mean "
                          "cost over the first N training images (N 1000 if omitted), before training and "
                          f"after every epoch; with --run-dir, {SPEED_CSV} and {SPEED_PNG}")


def check(p, args):
    """Every flag's value and every output path checked before any data loads; exit 2 via `p` if not."""
    from dlpy35.engine.arguments import check_eta, check_lmbda

    try:
        args.then = [(natural_int(e), finite_float(eta)) for e, eta in args.then]
    except ArgumentTypeError as exc:
        p.error(f"--then EPOCHS ETA: {exc}")
    if args.sizes is not None and len(args.sizes) < 2:
        p.error(f"--sizes: give at least two layer sizes (input and output), got {args.sizes}")
    try:  # every stage's eta, lmbda and every output path
        for eta in (args.eta, *(eta for _, eta in args.then)):
            check_eta(eta, args.dtype)
        check_lmbda(args.lmbda)
        check_outputs(args, NETWORK_FILE, run_files=(SPEED_CSV, SPEED_PNG) if args.learning_speed else (),
                      command="train")
    except ValueError as exc:
        p.error(str(exc))
    if args.resume and not args.checkpoint_dir:
        p.error("--resume needs --checkpoint-dir")
    if args.resume and args.overwrite:
        p.error("--resume continues a checkpoint, --overwrite starts over: give one of them")


def _cache_entries(path: Path | None) -> int:
    """The number of files and folders under `path` (0 if there is none): a compile cache's size."""
    return sum(1 for _ in path.rglob("*")) if path and path.exists() else 0


def execute(p, args) -> int:
    """Train as `args` say: load the data, build the network, train every stage, report.

    Returns
    -------
    int
        The exit status: 0, 2 on an error (said on stderr), 130 on Ctrl-C.
    """
    check(p, args)
    from dlpy35.cli.progress import EpochBar
    from dlpy35.data import DataError, load_data
    from dlpy35.engine.device import DeviceError
    from dlpy35.network import check_json_size
    from dlpy35.network2 import Network
    from dlpy35.storage.checkpoint import check_resumable
    from dlpy35.storage.metadata import Metadata, training_settings
    from dlpy35.storage.outputs import OutputError

    init = weight_init(args)
    try:
        if args.resume:  # before the data loads: nothing to resume is a mistake, not a fresh start
            check_resumable(args.checkpoint_dir)
        data = load_data(args.data_dir, args.dataset)
        sizes = network_sizes(args.sizes, data)
        check_json_size(sizes)  # the network it trains is saved as JSON
    except (DataError, ValueError) as exc:
        return fail(p.prog, exc)
    if args.calibrate:
        _calibrate()
    try:
        net = Network(sizes, cost=args.cost, seed=args.seed, dtype=args.dtype, mode=args.mode,
                      device=args.device, epoch_mode=args.epoch_mode, weight_init=init)
        make_run_dir(args)  # the data and the network are known good: the run is about to start
    except (DeviceError, ValueError, OutputError) as exc:
        return fail(p.prog, exc)
    net.stop_on_saturation = args.stop_on_saturation
    net.metadata = Metadata.of(data, training_settings(p.prog, args))  # what its files record
    cache = _announce(net)
    training, evaluation = _datasets(args, data)
    report = Report(p.prog, args, net, len(training[0]), EpochBar(args.quiet))

    def stopped():  # read when Ctrl-C comes: the epochs trained by then, the checkpoint on disk
        what = f"interrupted after {plural(len(report.records), 'epoch')}"
        return interrupted_line(p.prog, what, args.checkpoint_dir)

    with signals.saying(stopped):
        _describe(args, data.name, net, init, len(training[0]), len(evaluation[0]))
        return _run(p, args, net, report, training, evaluation, cache, stopped)


def _run(p, args, net, report, training, evaluation, cache, stopped) -> int:
    """Train `net` as `args` say, report, write the results; the exit status (Ctrl-C: `stopped()`)."""
    from dlpy35.network2 import TrainingDiverged
    from dlpy35.storage.checkpoint import CheckpointError
    from dlpy35.storage.metadata import run_results

    before = _cache_entries(cache)
    try:
        _train(args, net, training, evaluation, report)
    except (ValueError, TrainingDiverged, CheckpointError) as exc:
        report.bar.close()
        if args.run:  # refused before the run started (a checkpoint of another run): no empty directory
            args.run.discard()
        return fail(p.prog, exc)
    except KeyboardInterrupt:
        report.bar.close()
        print(stopped(), file=sys.stderr)
        return INTERRUPTED
    report.last_speed()
    _print_compile(net.compile_seconds or 0.0, None if cache is None else _cache_entries(cache) - before)
    report.summary()
    net.metadata = net.metadata.with_results(run_results(report.run_records, {"evaluation": args.evaluation}))
    with signals.saying(lambda: signals.while_writing(p.prog)):
        return finish(p.prog, args, net, net.history, len(training[0]), len(evaluation[0]))


def _calibrate():
    """``--calibrate``: time JAX against NUMBA on this CPU (cached) and print the result."""
    from dlpy35.engine.calibrate import calibrate, report

    print(report(calibrate(log=print)), flush=True)


def _announce(net) -> Path | None:
    """Print the device `net` trains on and its compile cache.

    Returns
    -------
    pathlib.Path or None
        The compile cache's folder (None: compiles are not kept).
    """
    cache = net.device.compile_cache()
    print(f"dlpy35: {net.device.describe()} -- {net.device.note}")
    print(f"compile cache: {cache or 'none'}")
    return cache


def _datasets(args, data):
    """The data sets to train and evaluate on.

    Returns
    -------
    tuple
        ``(training, evaluation)``: `data`'s training set cut to ``--n-train``, and ``--evaluation``'s set,
        each ``(x, y)``.
    """
    train_x, train_y = data.training
    if args.n_train:
        train_x, train_y = train_x[: args.n_train], train_y[: args.n_train]
    return (train_x, train_y), data.test if args.evaluation == "test" else data.validation


def _describe(args, name, net, init, n_train, n_eval):
    """Print what is trained: the data set `name`, its sizes, the network and every stage."""
    stages = " then ".join(f"{plural(e, 'epoch')} at eta {eta}"
                           for e, eta in [(args.epochs, args.eta), *args.then])
    print(f"{name}: {n_train} training, {n_eval} {args.evaluation} images; "
          f"sizes {net.sizes}, {net.cost.name}, init {init}, mini-batch {args.mini_batch_size}, {stages}, "
          f"lmbda {args.lmbda} ({args.reg}), seed {args.seed}")
    if args.learning_speed:
        print(f"speed of learning: ||dC/db^l|| of the mean cost over the first "
              f"{plural(min(args.learning_speed, n_train), 'training image')}, per hidden layer")


def _train(args, net, training, evaluation, report):
    """Train `net` through every stage (``--epochs`` at ``--eta``, then each ``--then``) in one run,
    `report` told of every epoch; say why the run stopped early (``--early-stopping``, ``--lr-schedule``)."""
    net.SGD(training, args.epochs, args.mini_batch_size, args.eta, lmbda=args.lmbda, then=args.then,
            evaluation_data=evaluation, monitor_evaluation_accuracy=True,
            monitor_evaluation_cost=args.monitor, monitor_training_cost=args.monitor,
            monitor_training_accuracy=args.monitor, early_stopping_n=args.early_stopping,
            reg=args.reg, lr_schedule_n=args.lr_schedule, checkpoint_dir=args.checkpoint_dir,
            resume=args.resume, overwrite=args.overwrite, progress=report.bar,
            callbacks=[report, *tensorboard_callbacks(args)],
            monitor_learning_speed=args.learning_speed or False, verbose=False)
    if net.history["stopped"]:
        print(net.history["stopped"])


def _print_compile(seconds, new):
    """Print the seconds spent compiling, and whether the start was cold (`new` cache entries) or cached.

    `new` is None where compiles are not kept.
    """
    if new is None:
        state = "compiles not kept between runs"
    else:
        state = f"cold: {new} new cache entries" if new else "cached start: nothing recompiled"
    print(f"compile: {seconds:.2f} s ({state})")


class Report(Callback):
    """Each epoch's lines as it ends, the run directory's rows, and the run's summary at the end.

    Parameters
    ----------
    prog : str
        The command, as ``args.json`` names it.
    args : argparse.Namespace
        The flags of ``dlpy35 train``.
    net : dlpy35.network2.Network
        The network trained; its ``history`` holds the monitored figures.
    n_train : int
        The number of training images.
    bar : dlpy35.cli.progress.EpochBar
        The progress bar of the epochs, closed before an epoch's lines.

    Attributes
    ----------
    records : list of dlpy35.engine.records.EpochRecord
        The epochs trained by this command (not those of a checkpoint it resumed).
    run_records : list of dlpy35.engine.records.EpochRecord
        Every epoch of the run, a resumed checkpoint's included.
    """

    def __init__(self, prog, args, net, n_train, bar):
        self.prog, self.args, self.net, self.n_train, self.bar = prog, args, net, n_train, bar
        self.records, self.run_records = [], []

    def on_start(self, trainer, run):
        """Once the checkpoint to resume (if any) is checked and restored: the run directory's
        ``args.json``, and its ``epochs.csv`` with the resumed checkpoint's epochs."""
        self.run_records = run.records
        if self.args.run:
            self.args.run.start(self.prog, self.args, run.identity, run.state["epoch"], self.net.device)
            if run.records:
                self._write_rows(run.records, run.state["learning_speed"])

    def on_epoch(self, trainer, run, record):
        """Print the epoch's lines (the speed before training first) and rewrite the run's rows."""
        from dlpy35.network2 import speed_text

        args, state = self.args, run.state
        self.bar.close()
        speeds = state["learning_speed"]
        if args.learning_speed and not self.records:
            print(f"Before epoch {record.epoch}: {speed_text(speeds[-2])}")
        ev = record.evaluations["evaluation"]
        print(f"Epoch {record.epoch} : {ev.correct} / {ev.total}  ({record.seconds:.3f} s)", flush=True)
        if args.monitor:
            print(f"  training cost {state['training_cost'][-1]:.4f}, training accuracy "
                  f"{state['training_accuracy'][-1]} / {self.n_train}, "
                  f"evaluation cost {state['evaluation_cost'][-1]:.4f}")
        if args.learning_speed:
            print(f"  {speed_text(speeds[-1])}", flush=True)
        self.records.append(record)
        if args.run:
            self._write_rows(run.records, speeds)

    def _write_rows(self, records, speeds):
        """Rewrite the run directory's ``epochs.csv`` with every epoch of the run (a resumed checkpoint's
        too), and its speeds of learning."""
        from dlpy35.storage.tables import epoch_rows, write_csv

        args = self.args
        test = "evaluation" if args.evaluation == "test" else "test"  # train evaluates one set
        args.run.epochs(epoch_rows(0, args.seed, args.eta, args.lmbda, self.net.sizes, records, test=test))
        if args.learning_speed:
            write_csv(args.run.path / SPEED_CSV, *_speed_table(speeds))

    def last_speed(self):
        """Print the speed of learning where training ended, when no epoch printed it.

        That is with ``--epochs 0``, or on resuming a finished run.
        """
        from dlpy35.network2 import speed_text

        speeds = self.net.history["learning_speed"]
        if self.args.learning_speed and not self.records and speeds:
            done = len(speeds) - 1
            when = f"After {plural(done, 'epoch')}" if done else "Before training"
            print(f"{when}: {speed_text(speeds[-1])}")

    def summary(self):
        """Print the seconds of the epochs trained now, if any, and the best epoch of the whole run (the
        first of equal ones, a resumed checkpoint's epochs included), if it has any."""
        seconds = [r.seconds for r in self.records]
        if seconds:
            print(f"training: {sum(seconds):.2f} s for {plural(len(self.records), 'epoch')} "
                  f"({sorted(seconds)[len(seconds) // 2]:.3f} s/epoch median)")
        from dlpy35.storage.tables import best_epoch

        if not self.run_records:
            return
        best = best_epoch(self.run_records)
        ev = best.evaluations["evaluation"]
        print(f"best: epoch {best.epoch} : {ev.correct} / {ev.total} "
              f"({100 * ev.accuracy:.2f}%, {self.args.evaluation} data)")


def _speed_table(speeds):
    """``(columns, rows)`` of ``learning_speed.csv``: ``epoch`` (epochs trained: 0 is before training)
    and ``layer1``..``layerN``, each hidden layer's ``||dC/db^l||``."""
    columns = ["epoch", *(f"layer{k}" for k in range(1, len(speeds[0]) + 1))] if speeds else ["epoch"]
    return columns, [dict(zip(columns, (k, *row))) for k, row in enumerate(speeds)]


def finish(prog, args, net, curves, n_train, n_eval) -> int:
    """Save the network (``--save``), the run directory's last files, and the plot (``--plot``); the exit
    status: 2 when a write fails, with the trained network saved somewhere all the same."""
    from dlpy35.storage.outputs import Finisher, OutputError

    title = f"{net.sizes}, {net.cost.name}, eta {args.eta}, lmbda {args.lmbda}, seed {args.seed}"

    def draw(path):
        from dlpy35.studies.plots import plot_history

        return plot_history(curves, path, title, n_train=n_train, n_eval=n_eval)

    keep = Finisher(net, Path(NETWORK_FILE).suffix)
    try:
        if args.save:
            keep.network(args.save, "--save")
            print(f"saved the network to {args.save}")
        if args.run:
            print(f"run directory: {', '.join(map(str, args.run.finish(net, draw, keep)))}")
        if args.learning_speed and args.run:
            _write_speeds(args.run.path, curves["learning_speed"],
                          f"{title}, mini-batch {args.mini_batch_size}, "
                          f"{plural(n_train, 'training image')}", keep)
        if args.plot and keep.write(args.plot, "--plot", draw):
            print(f"plot: {args.plot}")
    except (OutputError, ImportError) as exc:
        return fail(prog, exc)
    return 0


def _write_speeds(directory, speeds, title, keep):
    """Write ``learning_speed.csv`` and, with matplotlib, ``learning_speed.png`` (the book's figure), through
    `keep` (a :class:`dlpy35.storage.outputs.Finisher`)."""
    from dlpy35.storage.tables import write_csv
    from dlpy35.studies.plots import plot_learning_speed

    keep.write(directory / SPEED_CSV, "--run-dir", lambda path: write_csv(path, *_speed_table(speeds)))
    written = [directory / SPEED_CSV]
    try:
        plotted = keep.write(directory / SPEED_PNG, "--run-dir",
                             lambda path: plot_learning_speed(speeds, path, title))
        written += [directory / SPEED_PNG] if plotted else []  # a Figure, or None: nothing to plot
    except ImportError:  # matplotlib is optional: the CSV holds the figures
        pass
    print(f"speed of learning: {', '.join(map(str, written))}")
