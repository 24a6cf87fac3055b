"""Seconds per epoch of the book's conv nets: dlpy35 (per PyTensor mode) against PyTorch, CPU, one thread.

Each implementation of conv1 and conv2-relu runs in its own subprocess
(:mod:`bench.peers.conv_peers`) on one core with one thread (XLA, Numba, BLAS and
OpenMP pinned; ``torch.set_num_threads(1)``), trains ``--batches`` mini-batches of 10
real MNIST images per timed pass after a warm-up, and its best of ``--epochs``
passes is scaled to a 50,000-image epoch: the seconds per epoch are
extrapolated, not measured on a full epoch.

Usage::

    python scripts/bench.py --network conv --torch-python /tmp/torchvenv/bin/python
    python scripts/bench.py --network conv --modes JAX --batches 100 --epochs 2
"""

from __future__ import annotations

import sys
import tempfile

from . import cli, results
from .peers import conv_peers
from .peers.base import run_peer, timed

NETS = ("conv1", "conv2-relu")
ONE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
              "NUMBA_NUM_THREADS": "1", "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false"}


def parser():
    """The command line (see ``--help``)."""
    p = cli.Parser(__doc__)
    cli.add(p, "modes", ["JAX", "NUMBA"])
    cli.add(p, "epochs", 3, "timed passes per implementation; the best counts (default %(default)s)")
    p.add_argument("--batches", type=cli.positive_int, default=300, metavar="N",
                   help="timed mini-batches per pass (default %(default)s)")
    cli.add(p, "data_dir")
    cli.add(p, "torch_python")
    cli.add(p, "json", "runs/bench_conv.json")
    return p


def _run_one(label, python, args):
    """The rows of one subprocess, or one error row (the fields ``table`` reads) when it fails."""
    try:
        return run_peer(python, "conv_peers", *args, env=ONE_THREAD, one_core=True)
    except Exception as exc:
        return [{"name": label, "backend": "?", "epoch_seconds": None, "note": f"error: {exc}"}]


def run_conv_bench(tx, ty, modes, torch_python=None, batches=300, passes=2):
    """Time every implementation on each of :data:`NETS`; returns the result rows (``net`` added)."""
    rows = []
    for net in NETS:
        with tempfile.TemporaryDirectory(prefix="conv-bench-") as tmp:
            conv_peers.save_problem(tmp, tx, ty, net, batches, passes=passes)
            jobs = [(f"dlpy35 {mode}", sys.executable, ("dlpy35", tmp, mode)) for mode in modes]
            if torch_python:
                jobs.append(("torch", torch_python, ("torch", tmp)))
            for label, python, args in jobs:
                got, seconds = timed(_run_one, label, python, args)
                rows += [{**r, "net": net} for r in got]
                results.log(f"  {net} {label:<14} done in {seconds:6.1f} s")
    return rows


def table(rows, batches):
    """The rows as a Markdown table, with how the epoch times were extrapolated below it."""
    head = ["net", "implementation", "backend", "s/epoch (extrapolated)", "compile/warm-up s"]
    cells = [[r["net"], r["name"], r["backend"],
              f"{r['epoch_seconds']:.1f}" if r.get("epoch_seconds") else r.get("note", "n/a"),
              f"{r['compile_seconds']:.1f}" if r.get("compile_seconds") is not None else "-"] for r in rows]
    note = (f"best of the timed passes over {batches} mini-batches of 10 real MNIST images, "
            f"scaled x{conv_peers.EPOCH_IMAGES / 10 / batches:g} to a 50,000-image epoch")
    return results.markdown(head, cells, [note])


def main(argv=None):
    """Run the conv benchmark, print the machine and the table, write the JSON; returns 0."""
    args, (tx, ty), info = cli.start(parser(), argv)
    rows = run_conv_bench(tx, ty, args.modes, args.torch_python, args.batches, args.epochs)
    print(table(rows, args.batches))
    results.write(args.json, {"args": {"network": "conv", **vars(args)}, "machine": info, "results": rows})
    return 0
