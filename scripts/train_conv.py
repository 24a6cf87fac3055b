"""Train the book's chapter-6 convolutional networks (``dlpy35.network3``).

Presets (mini-batch 10, test accuracy reported at the best validation epoch)::

    --net conv1        conv 20x5x5 + 2x2 max-pool -> FC 100 -> softmax, sigmoid, eta 0.1, 60 epochs
    --net conv2        two conv-pool layers (20, 40 maps), sigmoid, eta 0.1, 60 epochs
    --net conv2-relu   the same with ReLU, eta 0.03, lmbda 0.1, 60 epochs
    --expanded         train on the 250,000-image expanded set (scripts/expand_mnist.py)
    --dropout          two FC-1000 layers with dropout 0.5 instead of FC 100; eta 0.03, lmbda 0, 40 epochs
    --ensemble K       train K networks (seeds seed..seed+K-1) as one population and report their
                       plurality vote

Examples::

    python scripts/train_conv.py --net conv1 --epochs 1 --n-train 2000
    python scripts/train_conv.py --net conv1 --checkpoint-dir runs/conv1 --plot runs/conv1.png
    # ... Ctrl-C, then the same command with --resume
    python scripts/train_conv.py --net conv2-relu --expanded --dropout --device cuda --save runs/conv.npz
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dlpy35.commandline import exit_on_interrupt  # noqa: E402

exit_on_interrupt(Path(__file__).name)  # before the heavy imports

from dlpy35 import checkpoint  # noqa: E402
from dlpy35 import network3 as n3  # noqa: E402
from dlpy35.atomic import atomic_write, check_writable  # noqa: E402
from dlpy35.commandline import ArgumentParser, fail, finite_float, natural_int, positive_int, run  # noqa: E402
from dlpy35.data import DataError, load_mnist  # noqa: E402
from dlpy35.device import DeviceError  # noqa: E402
from dlpy35.expand import load_expanded  # noqa: E402
from dlpy35.inputs import check_eta, check_lmbda  # noqa: E402
from dlpy35.population import LayerPopulation  # noqa: E402
from dlpy35.trainer import TrainingDiverged  # noqa: E402

PROG = Path(__file__).name


def parse_args(argv=None):
    p = ArgumentParser(__doc__, prog=PROG)
    p.add_argument("--net", choices=sorted(n3.PRESETS), default="conv1")
    p.add_argument("--expanded", action="store_true", help="train on the 250,000 shifted images")
    p.add_argument("--dropout", action="store_true", help="FC-1000 x2 with dropout 0.5 (the book's last net)")
    p.add_argument("--epochs", type=natural_int, default=None,
                   help="default: the preset's (60, or 40 with --dropout)")
    p.add_argument("--eta", type=finite_float, default=None, help="default: the preset's")
    p.add_argument("--lmbda", type=finite_float, default=None, help="default: the preset's")
    p.add_argument("--mini-batch-size", type=positive_int, default=10)
    p.add_argument("--n-train", type=positive_int, default=None,
                   help="use only the first N training images (quick runs)")
    p.add_argument("--data-dir", type=Path, default=None,
                   help="MNIST directory (default data/mnist or $DLPY35_DATA)")
    p.add_argument("--device", default="auto", choices=("auto", "cuda", "cpu"))
    p.add_argument("--mode", default=None,
                   help="PyTensor mode (JAX, NUMBA...); default chosen by dlpy35.device")
    p.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    p.add_argument("--seed", type=natural_int, default=0)
    p.add_argument("--ensemble", type=positive_int, default=1, metavar="K",
                   help="train K nets together, as one population, and vote (default 1)")
    p.add_argument("--checkpoint-dir", type=Path, default=None, help="save a checkpoint after every epoch")
    p.add_argument("--resume", action="store_true", help="continue from the checkpoints in --checkpoint-dir")
    p.add_argument("--overwrite", action="store_true",
                   help="start over in a --checkpoint-dir that holds checkpoints (refused otherwise)")
    p.add_argument("--save", default=None, metavar="PATH", help="save the (first) trained network (.npz)")
    p.add_argument("--history", default=None, metavar="PATH", help="write the per-epoch history as JSON")
    p.add_argument("--plot", type=Path, default=None, help="write a PNG of the (first) network's curves")
    p.add_argument("--stop-on-saturation", action="store_true",
                   help="stop (exit 2) instead of warning when a network gives one answer to 99%% of the "
                        "validation data after an epoch (eta far too large)")
    args = p.parse_args(argv)
    preset = n3.DROPOUT_PRESET if args.dropout else n3.PRESETS[args.net]
    for key in ("epochs", "eta", "lmbda"):
        if getattr(args, key) is None:
            setattr(args, key, preset[key])
    if args.checkpoint_dir and args.ensemble > 1:
        p.error("--checkpoint-dir: an ensemble trains as one population, which keeps no checkpoint; give "
                "--ensemble 1 or leave out --checkpoint-dir")
    if args.resume and not args.checkpoint_dir:
        p.error("--resume needs --checkpoint-dir")
    if args.resume and args.overwrite:
        p.error("--resume continues a checkpoint, --overwrite starts over: give one of them")
    try:  # eta and every output path, before any data is loaded
        check_eta(args.eta, args.dtype)
        check_lmbda(args.lmbda)
        for flag, path in (("--save", args.save), ("--history", args.history), ("--plot", args.plot)):
            if path is not None:
                check_writable(path, flag)
    except ValueError as exc:
        p.error(str(exc))
    return args


def plot(history, path, title):
    """A network's validation accuracy and training cost per epoch (its history), as network2 plots them."""
    from dlpy35.plots import plot_history

    curves = {"training_cost": [h["training_cost"] for h in history],
              "evaluation_accuracy": [h["validation_correct"] for h in history]}
    return plot_history(curves, path, title, n_eval=history[0]["validation_total"])


def train(args, data):
    """The K networks of the run, trained as one population (one network alone when K is 1, so that it
    can checkpoint); ``(a network to save, histories, the ensemble's test accuracy or None)``."""
    (tx, ty), val, test = data
    layers = n3.book_layers(args.net, args.mini_batch_size, args.dropout)
    start = time.perf_counter()
    if args.ensemble == 1:
        net = n3.Network(layers, args.mini_batch_size, seed=args.seed, dtype=args.dtype, mode=args.mode,
                         device=args.device)
        net.stop_on_saturation = args.stop_on_saturation
        print(f"{net.device.describe()} ({net.device.note})", flush=True)
        net.SGD((tx, ty), args.epochs, args.mini_batch_size, args.eta, val, test, args.lmbda,
                checkpoint_dir=args.checkpoint_dir, resume=args.resume, overwrite=args.overwrite,
                on_epoch=lambda r: print(f"  epoch {r['epoch']}: {r['seconds']:.1f} s training, "
                                         f"cost {r['cost']:.4f}", flush=True))
        histories = [[r.flat() for r in net.records]]
        vote = None
    else:
        pop = LayerPopulation(layers, args.mini_batch_size, list(range(args.seed, args.seed + args.ensemble)),
                              args.eta, args.lmbda, dtype=args.dtype, mode=args.mode, device=args.device)
        print(f"{args.ensemble} networks as one population: {pop.device.describe()} ({pop.device.note})",
              flush=True)
        pop.SGD((tx, ty), args.epochs, val, test, on_epoch=lambda r: print(
            f"  epoch {r.epoch}: {r.seconds:.1f} s training, validation accuracy "
            + " ".join(f"{e.evaluations['validation'].accuracy:.2%}" if e else "diverged" for e in r.records),
            flush=True))
        histories = pop.histories
        vote = float(np.mean(pop.vote(test[0]) == test[1]))
        net = pop.network(0)
    secs = [h["seconds"] for h in histories[0]]
    compile_s = (net if args.ensemble == 1 else pop.trainer).compile_seconds or 0.0
    print(f"compile/warm-up {compile_s:.1f} s; {(sum(secs) / len(secs) if secs else 0):.1f} s per epoch; "
          f"wall {time.perf_counter() - start:.1f} s", flush=True)
    return net, histories, vote


def main(argv=None):
    args = parse_args(argv)
    try:
        (tx, ty), val, test = load_mnist(args.data_dir)
        if args.expanded:
            tx, ty = load_expanded(verbose=True)
    except DataError as exc:
        return fail(PROG, exc)
    if args.n_train:
        tx, ty = tx[: args.n_train], ty[: args.n_train]
    print(f"{args.net}{' + dropout' if args.dropout else ''}: {len(tx):,} training images"
          f"{' (expanded)' if args.expanded else ''}, {args.epochs} epochs, "
          f"mini-batch {args.mini_batch_size}, eta {args.eta}, lmbda {args.lmbda}, seed {args.seed}",
          flush=True)
    try:
        net, histories, vote = train(args, ((tx, ty), val, test))
    except (DeviceError, ValueError, TrainingDiverged) as exc:
        return fail(PROG, exc)
    except KeyboardInterrupt:
        where = checkpoint.after_interrupt(args.checkpoint_dir)
        print(f"{PROG}: interrupted; {where}", file=sys.stderr)
        return 130
    if vote is not None:
        print(f"Ensemble of {args.ensemble}: test accuracy {vote:.2%} (plurality vote)")
    if args.save:
        net.save(args.save)
        print(f"saved {args.save}")
    if args.history:
        with atomic_write(args.history, "w") as f:
            json.dump({"args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
                       "runs": [{"seed": args.seed + k, "history": h} for k, h in enumerate(histories)]}, f,
                      indent=1)
    if args.plot and histories[0]:
        plot(histories[0], args.plot, f"{args.net}{' + dropout' if args.dropout else ''}, eta {args.eta}, "
                                      f"lmbda {args.lmbda}, seed {args.seed}")
        print(f"plot: {args.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(run(main, PROG))
