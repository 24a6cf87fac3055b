#!/usr/bin/env python3
"""Where the time of one SGD step goes: the step's operations one by one, against dlpy35's step.

One mini-batch step of [784, 30, 10] (m = 10, float32) is two small matrix
products forward, three backward, a handful of elementwise ops and the update of
23,860 parameters.  This times each operation in numpy (the BLAS numpy links,
as configured by the environment), then dlpy35's whole-epoch call per step for
each backend, so the overhead of the compiled graph shows as the difference.

    python scripts/profile_step.py [--modes JAX NUMBA] [--repeat 20000]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def per_call(fn, repeat):
    """Best-of-5 mean microseconds per call of `fn`."""
    fn()
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(repeat // 5):
            fn()
        best = min(best, (time.perf_counter() - start) / (repeat // 5))
    return best * 1e6


def numpy_ops(repeat, m=10, sizes=(784, 30, 10)):
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
        "update w1 -= c g1 (23,520 values)": per_call(lambda: np.subtract(w1, np.float32(1e-9) * g1, out=w1), repeat),
    }


def dlpy35_step(mode, epochs=3):
    """Microseconds per mini-batch of dlpy35's whole-epoch call (median epoch / 5,000)."""
    from dlpy35 import data
    from dlpy35.network import Network

    (x, y), _, _ = data.load_mnist()
    net = Network([784, 30, 10], seed=0, mode=mode, device="cpu")
    history = net.SGD((x, y), epochs, 10, 3.0, verbose=False)
    return sorted(r["seconds"] for r in history)[epochs // 2] / 5000 * 1e6


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--modes", nargs="+", default=["JAX", "NUMBA"])
    p.add_argument("--repeat", type=int, default=20_000)
    args = p.parse_args(argv)
    print(f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}")
    ops = numpy_ops(args.repeat)
    for name, us in ops.items():
        print(f"  {us:7.2f} us  {name}")
    print(f"  {sum(ops.values()):7.2f} us  sum (one step's operations in numpy, backward products counted once)")
    for mode in args.modes:
        print(f"  {dlpy35_step(mode):7.2f} us  dlpy35 whole-epoch call per mini-batch, mode {mode}")


if __name__ == "__main__":
    main()
