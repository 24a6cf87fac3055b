"""Where the time of one SGD step goes: the step's operations one by one, against dlpy35's step.

One mini-batch step of [784, 30, 10] (m = 10, float32) is two small matrix
products forward, three backward, a handful of elementwise ops and the update of
23,860 parameters.  This times each operation in numpy (the BLAS numpy links,
as configured by the environment), then dlpy35's whole-epoch call per step for
each backend, so the overhead of the compiled graph shows as the difference.

Usage::

    python scripts/bench.py --profile [--modes JAX NUMBA] [--repeat 20000]
"""

from __future__ import annotations

import math
import statistics

import numpy as np

from . import cli, results
from .peers.base import seconds_per_call

SIZES, M = [784, 30, 10], 10


def parser():
    """The command line (see ``--help``)."""
    p = cli.Parser(__doc__)
    cli.add(p, "modes", ["JAX", "NUMBA"])
    p.add_argument("--repeat", type=cli.positive_int, default=20_000, metavar="N",
                   help="calls of each numpy operation, in 5 timed runs (default %(default)s)")
    cli.add(p, "epochs", 3, "dlpy35 epochs per mode; the median counts (default %(default)s)")
    cli.add(p, "n_train", None, "training images per dlpy35 epoch (default all 50,000)")
    cli.add(p, "seed", 0)
    cli.add(p, "data_dir")
    cli.add(p, "json", "runs/profile.json")
    return p


def per_call(fn, repeat):
    """Microseconds per call of `fn`: the best of 5 runs of ``repeat // 5`` calls, after one call."""
    fn()
    return min(seconds_per_call(fn, repeat // 5) for _ in range(5)) * 1e6


def numpy_ops(repeat, m=M, sizes=SIZES):
    """Microseconds per operation of one step, in numpy float32."""
    rng = np.random.default_rng(0)
    n_in, n_hid, n_out = sizes
    x = rng.random((m, n_in), dtype=np.float32)
    w1 = rng.standard_normal((n_hid, n_in), dtype=np.float32)
    w2 = rng.standard_normal((n_out, n_hid), dtype=np.float32)
    a1 = rng.random((m, n_hid), dtype=np.float32)
    d2 = rng.random((m, n_out), dtype=np.float32)
    d1 = rng.random((m, n_hid), dtype=np.float32)
    g1 = np.empty_like(w1)
    data = rng.random((50_000, n_in), dtype=np.float32)
    rows = rng.permutation(50_000)[:m]
    return {
        "gather 10 rows of the data": per_call(lambda: data[rows], repeat),
        "forward x w1^T (10x784 . 784x30)": per_call(lambda: x @ w1.T, repeat),
        "forward a1 w2^T (10x30 . 30x10)": per_call(lambda: a1 @ w2.T, repeat),
        "sigmoid of 10x30": per_call(lambda: 1 / (1 + np.exp(-a1)), repeat),
        "backward d2 w2 (BP2)": per_call(lambda: d2 @ w2, repeat),
        "backward d1^T x (BP4, 30x10 . 10x784)": per_call(lambda: np.dot(d1.T, x, out=g1), repeat),
        "update w1 -= c g1 (23,520 values)":
            per_call(lambda: np.subtract(w1, np.float32(1e-9) * g1, out=w1), repeat),
    }


def dlpy35_step(mode, train, epochs, seed):
    """Microseconds per mini-batch of dlpy35's whole-epoch call: the median epoch over its mini-batches."""
    from dlpy35.network import Network

    net = Network(SIZES, seed=seed, mode=mode, device="cpu")
    history = net.SGD(train, epochs, M, 3.0, verbose=False)
    return statistics.median(r["seconds"] for r in history) / math.ceil(len(train[0]) / M) * 1e6


def main(argv=None):
    """Print and write the step's numpy operations and dlpy35's step per mode, in microseconds; returns 0."""
    p = parser()
    args = cli.parse(p, argv)
    if args.repeat < 5:
        p.error(f"--repeat {args.repeat}: give at least 5 (5 timed runs)")
    train, _, _ = cli.load_mnist(p, args.data_dir, args.n_train)
    info = results.machine_info()
    results.print_machine(info)
    ops = numpy_ops(args.repeat)
    for name, us in ops.items():
        print(f"  {us:7.2f} us  {name}")
    print(f"  {sum(ops.values()):7.2f} us  sum (one step's operations in numpy, "
          "backward products counted once)")
    steps = {}
    for mode in args.modes:
        steps[mode] = dlpy35_step(mode, train, args.epochs, args.seed)
        print(f"  {steps[mode]:7.2f} us  dlpy35 whole-epoch call per mini-batch, mode {mode}", flush=True)
    results.write(args.json, {"args": {"profile": True, **vars(args)}, "machine": info, "numpy_us": ops,
                              "numpy_sum_us": sum(ops.values()), "dlpy35_us": steps})
    return 0
