#!/usr/bin/env python3
"""Train the book's sigmoid network on MNIST, on the GPU when there is one.

The defaults are the book's chapter-1 run: ``Network([784, 30, 10])``, 30 epochs,
mini-batch 10, eta 3.0, evaluated on the 10,000 test images after every epoch.
MNIST is fetched and verified on first use.  ``--device auto`` takes a CUDA GPU
when JAX sees one and otherwise falls back to the CPU, saying so; ``--device
cuda`` without a GPU exits with status 2.

Example::

    python scripts/train_gpu.py                     # the book's run
    python scripts/train_gpu.py --epochs 1 --device cpu --mode NUMBA
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from dlpy35 import data  # noqa: E402
from dlpy35.device import DeviceError, cache_dir, numba_cache_dir  # noqa: E402
from dlpy35.network import Network, TrainingDiverged  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[784, 30, 10], help="layer sizes (default 784 30 10)")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--mini-batch-size", type=int, default=10)
    p.add_argument("--eta", type=float, default=3.0, help="learning rate")
    p.add_argument("--device", choices=["auto", "cuda", "cpu"], default="auto")
    p.add_argument("--mode", default=None, help="PyTensor mode: JAX, NUMBA, CVM... (default: fastest for the device)")
    p.add_argument("--epoch-mode", choices=["scan", "step"], default="scan",
                   help="scan: one compiled call per epoch (default); step: one per mini-batch")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data-dir", type=Path, default=None, help="MNIST directory (default data/mnist or $DLPY35_DATA)")
    p.add_argument("--n-train", type=int, default=None, help="use only the first N training images")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p.parse_args(argv)


class ProgressBar:
    """A one-line bar on stderr, redrawn in place; silent when stderr is not a terminal."""

    def __init__(self, enabled=True, width=30):
        self.enabled = enabled and sys.stderr.isatty()
        self.width = width

    def __call__(self, epoch, done, total):
        if self.enabled:
            filled = self.width * done // total
            sys.stderr.write(f"\rEpoch {epoch} [{'#' * filled}{'.' * (self.width - filled)}] {done}/{total}")
            sys.stderr.flush()

    def clear(self):
        if self.enabled:
            sys.stderr.write("\r" + " " * (self.width + 40) + "\r")


def cache_entries(path: Path) -> int:
    return sum(1 for _ in path.rglob("*")) if path.exists() else 0


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        net = Network(args.sizes, seed=args.seed, mode=args.mode, device=args.device, epoch_mode=args.epoch_mode)
    except (DeviceError, ValueError) as exc:
        print(f"train_gpu.py: {exc}", file=sys.stderr)
        return 2
    print(f"dlpy35: {net.device.describe()} -- {net.device.note}")
    cache = cache_dir() / "jax" if net.device.uses_jax else numba_cache_dir()
    print(f"compile cache: {cache}")
    try:
        (train_x, train_y), _, (test_x, test_y) = data.load_mnist(args.data_dir)
    except data.DataError as exc:
        print(f"train_gpu.py: {exc}", file=sys.stderr)
        return 2
    if args.n_train:
        train_x, train_y = train_x[: args.n_train], train_y[: args.n_train]
    print(f"MNIST: {len(train_x)} training, {len(test_x)} test images; sizes {net.sizes}, "
          f"{args.epochs} epochs, mini-batch {args.mini_batch_size}, eta {args.eta}, seed {args.seed}")
    bar = ProgressBar(not args.no_progress)

    def report(record):
        bar.clear()
        print(f"Epoch {record['epoch']} : {record['correct']} / {record['n_test']}  ({record['seconds']:.3f} s)",
              flush=True)

    before = cache_entries(cache)
    try:
        history = net.SGD((train_x, train_y), args.epochs, args.mini_batch_size, args.eta,
                          test_data=(test_x, test_y), progress=bar, on_epoch=report, verbose=False)
    except (ValueError, TrainingDiverged) as exc:
        bar.clear()
        print(f"train_gpu.py: {exc}", file=sys.stderr)
        return 2
    if net.compile_seconds is not None:
        new = cache_entries(cache) - before
        state = f"cold: {new} new cache entries" if new else "cached start: nothing recompiled"
        print(f"compile: {net.compile_seconds:.2f} s ({state})")
    if history:
        seconds = [r["seconds"] for r in history]
        best = max(history, key=lambda r: r["correct"])
        print(f"training: {sum(seconds):.2f} s for {len(history)} epochs "
              f"({sorted(seconds)[len(seconds) // 2]:.3f} s/epoch median)")
        print(f"best: epoch {best['epoch']} : {best['correct']} / {best['n_test']} "
              f"({100 * best['correct'] / best['n_test']:.2f}%)")
    return 0


if __name__ == "__main__":
    start = time.perf_counter()
    status = main()
    print(f"total wall time: {time.perf_counter() - start:.1f} s", file=sys.stderr)
    sys.exit(status)
