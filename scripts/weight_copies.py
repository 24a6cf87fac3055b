#!/usr/bin/env python3
"""Which arrays a population's compiled epoch copies in another order: XLA's transposes, by shape.

A population of K chapter-6 networks (``--net``, ``--dropout``, ``--order``: as ``dlpy35
train-conv --ensemble K`` trains them) trains one epoch on ``--n-train`` images with JAX on the CPU,
XLA writing its optimised programs as text (``--xla_dump_to``, into a temporary directory; the
script keeps no compile cache, so every program is compiled and dumped here).  The largest program
is the scan epoch; each of its ``transpose`` (and ``copy``) instructions is listed by result shape, and those
whose shape orders a weight's dimensions (all K networks' or one network's, the K merged into a
neighbour or not) otherwise are marked: a transposed copy of weights at every step, or an
activation of the same dimensions (``--mini-batch-size`` tells them apart).  It measures no time.

Examples::

    python scripts/weight_copies.py --net conv2-relu --dropout --ks 5
    python scripts/weight_copies.py --net fc --order shared
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import sys
import tempfile
from pathlib import Path

INSTRUCTION = re.compile(r"= [a-z0-9]+\[([0-9,]*)\][^ ]* (transpose|copy)\(")


def parse(argv):
    from dlpy35.chapter6 import PRESETS

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--net", choices=sorted(PRESETS), default="conv1")
    p.add_argument("--dropout", action="store_true")
    p.add_argument("--order", choices=("own", "shared"), default="shared")
    p.add_argument("--ks", type=int, default=5, help="networks in the population (default 5)")
    p.add_argument("--n-train", type=int, default=40, help="images of the one epoch (default 40)")
    p.add_argument("--mini-batch-size", type=int, default=10, help="(default 10, the book's)")
    return p.parse_args(argv)


def layouts(shape):
    """The sorted dimensions of a weight of `shape` (K, ...) as a compiled program may hold it: with K, one
    network's, and K merged into each of the others."""
    k, *rest = shape
    merged = [sorted([*rest[:i], k * d, *rest[i + 1:]]) for i, d in enumerate(rest)]
    return [sorted(shape), sorted(rest), *merged]


def moved(program, weights):
    """``{(instruction, shape, a weight's dimensions or not): count}`` of the transposes and copies in
    `program`; a weight's dimensions: those of one of :func:`layouts`, in another order."""
    known = [layout for shape in weights for layout in layouts(shape)]
    found = collections.Counter()
    for dims, what in INSTRUCTION.findall(program):
        shape = tuple(int(d) for d in dims.split(",") if d)
        found[what, shape, len(shape) > 1 and sorted(shape) in known] += 1
    return found


def main(argv=None):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's dlpy35, installed or not
    args = parse(sys.argv[1:] if argv is None else argv)
    dump = Path(tempfile.mkdtemp(prefix="xla-dump-"))
    os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} --xla_dump_to={dump} --xla_dump_hlo_as_text"
    from dlpy35.chapter6 import DROPOUT_PRESET, PRESETS, book_layers
    from dlpy35.data import load_mnist
    from dlpy35.engine.population import LayerPopulation

    (x, y), _, _ = load_mnist()
    preset = DROPOUT_PRESET if args.dropout else PRESETS[args.net]
    m = args.mini_batch_size
    pop = LayerPopulation(book_layers(args.net, m, args.dropout), m, list(range(args.ks)), preset["eta"],
                          preset["lmbda"], mode="JAX", device="cpu", order=args.order)
    pop.SGD((x[:args.n_train], y[:args.n_train]), 1)
    weights = [v.shape for v in pop.trainer.values() if v.ndim >= 3]
    program = max(dump.glob("*after_optimizations.txt"), key=lambda f: f.stat().st_size).read_text()
    print(f"{args.net}{' + dropout' if args.dropout else ''}, {args.order} order, K = {args.ks}; weights "
          f"{', '.join(map(str, weights))}")
    for (what, shape, weight), count in sorted(moved(program, weights).items()):
        print(f"  {count} x {what} {shape}{'   <- the dimensions of a weight' if weight else ''}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
