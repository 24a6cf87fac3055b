"""Seconds per epoch of the book's conv nets: dlpy35 (per PyTensor mode) against PyTorch, CPU, 1 thread.

Each implementation runs in its own subprocess with one thread (XLA, Numba,
BLAS and OpenMP pinned; ``torch.set_num_threads(1)``), trains ``--batches``
mini-batches of 10 real MNIST images per timed pass after a warm-up, and its
best pass is scaled to a 50,000-image epoch (5,000 mini-batches): the printed
seconds per epoch are extrapolated, not measured on a full epoch.

This file is standalone (numpy only at import) so that the PyTorch side runs in
another interpreter::

    python scripts/peers/conv_peers.py torch DIR     # DIR from save_problem(); prints JSON
    python scripts/peers/conv_peers.py dlpy35 DIR    # needs dlpy35 (Python 3.12)
    python scripts/peers/conv_peers.py impls         # im2col vs pytensor.tensor.signal.convolve2d

``run_conv_bench`` (called by ``scripts/bench.py --network conv``) drives it all.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

EPOCH_IMAGES = 50_000
WARM_UP_BATCHES = 20
ONE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1",
              "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"}
#: name -> (activation, conv layers, eta, lmbda), as dlpy35.network3.PRESETS / book_layers.
NETS = {"conv1": ("sigmoid", 1, 0.1, 0.0), "conv2-relu": ("relu", 2, 0.03, 0.1)}


def save_problem(directory, x, y, net, batches, m=10, passes=2):
    """Write the images, labels and settings a subprocess reads."""
    directory = Path(directory)
    np.save(directory / "x.npy", np.ascontiguousarray(x[: batches * m], np.float32))
    np.save(directory / "y.npy", np.asarray(y[: batches * m], np.int64))
    (directory / "config.json").write_text(json.dumps({"net": net, "batches": batches, "m": m, "passes": passes}))


def _load(directory):
    directory = Path(directory)
    cfg = json.loads((directory / "config.json").read_text())
    return np.load(directory / "x.npy"), np.load(directory / "y.npy"), cfg


def _result(name, backend, pass_seconds, batches, compile_seconds, note=""):
    scale = EPOCH_IMAGES / 10 / batches
    return {"name": name, "backend": backend, "pass_seconds": pass_seconds, "batches": batches,
            "epoch_seconds": min(pass_seconds) * scale, "compile_seconds": compile_seconds, "note": note}


# -- PyTorch -----------------------------------------------------------------------------
def train_torch(x, y, cfg):
    """The same network in PyTorch (NCHW, autograd, plain SGD with the book's L2 term)."""
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(1)
    act_name, n_conv, eta, lmbda = NETS[cfg["net"]]
    act = torch.sigmoid if act_name == "sigmoid" else torch.relu
    m, batches = cfg["m"], cfg["batches"]
    rng = np.random.default_rng(0)

    def param(shape, std):
        return torch.tensor(rng.normal(0, std, shape), dtype=torch.float32, requires_grad=True)

    params = [param((20, 1, 5, 5), np.sqrt(4 / 500)), param((20,), 1.0)]
    if n_conv == 2:
        params += [param((40, 20, 5, 5), np.sqrt(4 / 1000)), param((40,), 1.0)]
    n_flat = 20 * 12 * 12 if n_conv == 1 else 40 * 4 * 4
    params += [param((100, n_flat), 0.1), param((100,), 1.0),
               torch.zeros((10, 100), requires_grad=True), torch.zeros(10, requires_grad=True)]
    weights = params[0::2]
    tx = torch.from_numpy(x).reshape(-1, 1, 28, 28)
    ty = torch.from_numpy(y)

    def step(k):
        a = tx[k * m : (k + 1) * m]
        for i in range(n_conv):
            a = act(F.max_pool2d(F.conv2d(a, params[2 * i]), 2) + params[2 * i + 1][None, :, None, None])
        a = act(F.linear(a.flatten(1), params[-4], params[-3]))
        cost = F.cross_entropy(F.linear(a, params[-2], params[-1]), ty[k * m : (k + 1) * m])
        if lmbda:
            cost = cost + 0.5 * lmbda * sum((w * w).sum() for w in weights) / (EPOCH_IMAGES // m)
        grads = torch.autograd.grad(cost, params)
        with torch.no_grad():
            for p, g in zip(params, grads):
                p.sub_(eta * g)
        return cost

    start = time.perf_counter()
    for k in range(WARM_UP_BATCHES):
        step(k % batches)
    warm = time.perf_counter() - start
    seconds = []
    for _ in range(cfg["passes"]):
        start = time.perf_counter()
        for k in range(batches):
            step(k)
        seconds.append(time.perf_counter() - start)
    return [_result(f"PyTorch {torch.__version__} autograd", "torch cpu float32, 1 thread", seconds, batches, warm)]


# -- dlpy35 ---------------------------------------------------------------------------------
def train_dlpy35(x, y, cfg, mode):
    """``network3.Network.SGD`` over the problem, ``passes`` epochs; seconds from its history."""
    from dlpy35 import network3 as n3

    name = cfg["net"]
    preset = n3.PRESETS[name]
    net = n3.Network(n3.book_layers(name, cfg["m"]), cfg["m"], seed=0, mode=mode, device="cpu")
    history = net.SGD((x, y), cfg["passes"], cfg["m"], preset["eta"], lmbda=preset["lmbda"], verbose=False)
    return [_result(f"dlpy35 network3 ({mode}, scan)", f"{mode} cpu float32, 1 thread",
                    [r["seconds"] for r in history], cfg["batches"], net.compile_seconds)]


# -- the conv implementation choice ---------------------------------------------------------------
def measure_conv_impls(modes=("JAX", "NUMBA"), steps=200):
    """ms per SGD step of one conv-pool layer (mb 10, 20x5x5 on 28x28, sigmoid) by im2col vs signal.convolve2d.

    ``pytensor.tensor.signal.convolve2d`` (the only 2-D convolution in PyTensor
    3.3.7: ``pytensor.tensor.nnet`` and ``tensor.conv`` are gone) is one
    channel at a time, vectorised by Blockwise over (image, filter, channel)
    and summed over channels.
    """
    import pytensor
    import pytensor.tensor as pt
    from pytensor.tensor.signal import convolve2d

    from dlpy35.layers import conv2d_valid, max_pool

    mb, h, n_f, k = 10, 28, 20, 5
    rng = np.random.default_rng(0)
    xv = rng.random((mb, h, h, 1)).astype("float32")
    out = []
    for mode in modes:
        for impl in ("im2col", "signal.convolve2d"):
            with pytensor.config.change_flags(floatX="float32"):
                x = pt.tensor4("x", dtype="float32", shape=(mb, h, h, 1))
                w = pytensor.shared((rng.standard_normal((n_f, 1, k, k)) * 0.1).astype("float32"), "w")
                if impl == "im2col":
                    z = conv2d_valid(x, w, (h, h), (n_f, 1, k, k))
                else:  # true convolution with a flipped filter is the cross-correlation
                    xn = x.dimshuffle(0, 3, 1, 2)
                    z = convolve2d(xn[:, None], w[None, :, :, ::-1, ::-1], mode="valid").sum(axis=2)
                    z = z.dimshuffle(0, 2, 3, 1)
                c = pt.sum(pt.sigmoid(max_pool(z, (2, 2), (24, 24, n_f))) ** 2)
                start = time.perf_counter()
                try:
                    f = pytensor.function([x], c, updates=[(w, w - 0.01 * pytensor.grad(c, w))], mode=mode)
                    f(xv)
                except Exception as exc:  # e.g. no JAX conversion for Convolve2d
                    out.append({"mode": mode, "impl": impl, "error": f"{type(exc).__name__}: {str(exc)[:120]}"})
                    continue
                compile_s = time.perf_counter() - start
                start = time.perf_counter()
                for _ in range(steps):
                    f(xv)
                ms = (time.perf_counter() - start) / steps * 1e3
                out.append({"mode": mode, "impl": impl, "ms_per_step": ms, "compile_seconds": compile_s})
    return out


# -- driving the subprocesses ----------------------------------------------------------------------
def _run(cmd, env_extra):
    env = dict(os.environ, **ONE_THREAD, **env_extra)
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if proc.returncode:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"{' '.join(map(str, cmd[:3]))} exited {proc.returncode}: {tail}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run_conv_bench(nets=("conv1", "conv2-relu"), modes=("JAX",), torch_python=None, batches=300, passes=2, log=print):
    """Time every implementation on each net; returns a list of result dicts (``net`` added)."""
    from dlpy35.data import load_mnist

    (tx, ty), _, _ = load_mnist()
    here = Path(__file__).resolve()
    root = str(here.parents[2])
    results = []
    for net in nets:
        with tempfile.TemporaryDirectory(prefix="conv-bench-") as tmp:
            save_problem(tmp, tx, ty, net, batches, passes=passes)
            jobs = [(f"dlpy35 {mode}", [sys.executable, str(here), "dlpy35", tmp, mode], {"PYTHONPATH": root})
                    for mode in modes]
            if torch_python:
                jobs.append(("torch", [torch_python, str(here), "torch", tmp], {}))
            for label, cmd, env in jobs:
                start = time.perf_counter()
                try:
                    got = _run(cmd, env)
                except Exception as exc:
                    got = [{"name": label, "backend": "?", "epoch_seconds": None, "note": f"error: {exc}"}]
                for r in got:
                    r["net"] = net
                results += got
                log(f"  {net} {label:<14} done in {time.perf_counter() - start:6.1f} s")
    return results


def table(results, batches):
    head = ["net", "implementation", "backend", "s/epoch (extrapolated)", "compile/warm-up s"]
    rows = [[r["net"], r["name"], r["backend"],
             f"{r['epoch_seconds']:.1f}" if r.get("epoch_seconds") else r.get("note", "n/a"),
             f"{r['compile_seconds']:.1f}" if r.get("compile_seconds") is not None else "-"] for r in results]
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(head)]
    line = lambda cells: "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"  # noqa: E731
    note = (f"best of the timed passes over {batches} mini-batches of 10 real MNIST images, "
            f"scaled x{EPOCH_IMAGES / 10 / batches:g} to a 50,000-image epoch")
    return "\n".join([line(head), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, rows), note])


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["impls"]:
        for r in measure_conv_impls():
            print(json.dumps(r))
        return 0
    if len(argv) < 2 or argv[0] not in ("torch", "dlpy35"):
        print("usage: conv_peers.py {torch DIR | dlpy35 DIR [MODE] | impls}", file=sys.stderr)
        return 2
    x, y, cfg = _load(argv[1])
    res = train_torch(x, y, cfg) if argv[0] == "torch" else train_dlpy35(x, y, cfg, (argv[2:] or ["JAX"])[0])
    print(json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
