"""The book's conv nets trained by dlpy35 (per PyTensor mode) and by PyTorch, for :mod:`bench.conv`.

Each implementation runs in its own subprocess, which :mod:`bench.conv` starts
with one thread, trains ``batches`` mini-batches of 10 real MNIST images per
timed pass after a warm-up, and its best pass is scaled to a 50,000-image epoch
(5,000 mini-batches): the seconds per epoch are extrapolated, not measured on a
full epoch.

Numpy only at import, so that the PyTorch side runs in another interpreter::

    PYTHONPATH=scripts python -m bench.peers.conv_peers torch DIR     # DIR from save_problem(); prints JSON
    PYTHONPATH=scripts python -m bench.peers.conv_peers dlpy35 DIR [MODE]
    PYTHONPATH=scripts python -m bench.peers.conv_peers profile DIR [REPEATS]   # dlpy35 on JAX, op by op
    PYTHONPATH=scripts python -m bench.peers.conv_peers impls         # im2col vs signal.convolve2d
"""

from __future__ import annotations

import json
import os
import sys

import numpy as np

from .base import WARM_UP_BATCHES, elapsed, read_problem, seconds_per_call, timed, write_problem

EPOCH_IMAGES = 50_000
#: name -> (activation, conv layers, eta, lmbda), as dlpy35.network3.PRESETS / book_layers.
NETS = {"conv1": ("sigmoid", 1, 0.1, 0.0), "conv2-relu": ("relu", 2, 0.03, 0.1)}


def save_problem(directory, x, y, net, batches, m=10, passes=2, **population):
    """Write the images, labels and settings a subprocess reads (`population`: the profile's
    ``k``, ``order`` and ``dropout``)."""
    n = batches * m
    arrays = {"x": np.ascontiguousarray(x[:n], np.float32), "y": np.asarray(y[:n], np.int64)}
    write_problem(directory, {"net": net, "batches": batches, "m": m, "passes": passes, **population}, arrays)


def _epoch_seconds(pass_seconds, batches):
    """The best pass of `batches` mini-batches of 10, scaled to a 50,000-image epoch."""
    return min(pass_seconds) * EPOCH_IMAGES / 10 / batches


def _cores():
    """How many CPU cores this process may run on (:func:`bench.peers.base.pin_to_one_core` makes it 1)."""
    return len(os.sched_getaffinity(0))


def _result(name, backend, pass_seconds, batches, compile_seconds, note=""):
    return {"name": name, "backend": backend, "pass_seconds": pass_seconds, "batches": batches,
            "epoch_seconds": _epoch_seconds(pass_seconds, batches), "compile_seconds": compile_seconds,
            "cores": _cores(), "note": note}


# -- PyTorch -----------------------------------------------------------------------------
def train_torch(x, y, cfg):
    """The same network in PyTorch (NCHW, autograd, plain SGD with the book's L2 term)."""
    import torch
    import torch.nn.functional as nnf

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
            a = act(nnf.max_pool2d(nnf.conv2d(a, params[2 * i]), 2) + params[2 * i + 1][None, :, None, None])
        a = act(nnf.linear(a.flatten(1), params[-4], params[-3]))
        cost = nnf.cross_entropy(nnf.linear(a, params[-2], params[-1]), ty[k * m : (k + 1) * m])
        if lmbda:
            cost = cost + 0.5 * lmbda * sum((w * w).sum() for w in weights) / (EPOCH_IMAGES // m)
        grads = torch.autograd.grad(cost, params)
        with torch.no_grad():
            for p, g in zip(params, grads, strict=True):
                p.sub_(eta * g)
        return cost

    def train(ks):
        for k in ks:
            step(k)

    warm = elapsed(train, (k % batches for k in range(WARM_UP_BATCHES)))
    seconds = [elapsed(train, range(batches)) for _ in range(cfg["passes"])]
    return [_result(f"PyTorch {torch.__version__} autograd", "torch cpu float32, 1 core", seconds, batches,
                    warm)]


# -- dlpy35 ---------------------------------------------------------------------------------
def train_dlpy35(x, y, cfg, mode):
    """``network3.Network.SGD`` over the problem, ``passes`` epochs; seconds from its history."""
    from dlpy35 import network3 as n3

    name = cfg["net"]
    preset = n3.PRESETS[name]
    net = n3.Network(n3.book_layers(name, cfg["m"]), cfg["m"], seed=0, mode=mode, device="cpu")
    history = net.SGD((x, y), cfg["passes"], cfg["m"], preset["eta"], lmbda=preset["lmbda"], verbose=False)
    return [_result(f"dlpy35 network3 ({mode}, scan)", f"{mode} cpu float32, 1 core",
                    [r["seconds"] for r in history], cfg["batches"], net.compile_seconds)]


def _train_function_hlo(trainer, batches, m):
    """The optimized HLO of `trainer`'s compiled scan epoch, lowered for `batches` mini-batches."""
    import jax

    [fn] = [f for key, f in trainer._fns.items() if key[:2] == ("train", "scan")]

    def arg(var, value):  # the explicit inputs (mini-batch rows, hyperparameters) hold no value between calls
        if value is not None:
            return value
        # (mini-batches, [K orders,] rows of a mini-batch): the first size is the count, a later one m
        shape = tuple(d if d is not None else batches if i == 0 else m for i, d in enumerate(var.type.shape))
        return jax.ShapeDtypeStruct(shape, jax.dtypes.canonicalize_dtype(var.type.dtype))

    args = [arg(v, c.storage[0]) for v, c in zip(fn.maker.fgraph.inputs, fn.input_storage, strict=True)]
    return fn.vm.jit_fn.lower(*args).compile().as_text()


def _profiled(x, y, cfg):
    """``(label, epoch, trained)``: what the profile trains (one network, or ``cfg["k"]`` networks as a
    population of ``cfg["order"]``, with chapter 6's dropout when ``cfg["dropout"]``); `epoch()` trains
    one epoch and returns its seconds, after which ``trained.trainer`` holds the compiled functions."""
    from types import SimpleNamespace

    from dlpy35.engine.population import LayerPopulation
    from dlpy35.network3 import Network

    from ..population import conv_settings

    name, m, k, dropout = cfg["net"], cfg["m"], cfg.get("k"), cfg.get("dropout", False)
    layers, eta, lmbda = conv_settings(SimpleNamespace(net=name, mini_batch_size=m, dropout=dropout))
    label = name + (" + dropout" if dropout else "")
    if not k:
        net = Network(layers, m, seed=0, mode="JAX", device="cpu")
        return label, lambda: net.SGD((x, y), 1, m, eta, lmbda=lmbda, verbose=False)[-1]["seconds"], net
    pop = LayerPopulation(layers, m, list(range(k)), eta, lmbda, mode="JAX", device="cpu", order=cfg["order"])
    label = f"{label}, a population of {k} ({cfg['order']} order)"
    return label, lambda: pop.SGD((x, y), 1)[0][-1]["seconds"], pop


def profile_dlpy35(x, y, cfg, repeats):
    """dlpy35's conv step on JAX op by op (:func:`bench.peers.jax_ops.profile`), and its untraced epoch.

    Returns ``{"net", "ops": [...], "epoch_seconds", "cores"}``: microseconds per step
    of each op, and the best untraced pass scaled to a 50,000-image epoch.
    """
    from .jax_ops import profile

    label, epoch, trained = _profiled(x, y, cfg)
    seconds = [epoch() for _ in range(cfg["passes"] + 1)][1:]  # the first compiles
    ops = profile(epoch, _train_function_hlo(trained.trainer, cfg["batches"], cfg["m"]), repeats,
                  per_step_at_least=cfg["batches"])
    return {"net": label, "ops": ops, "epoch_seconds": _epoch_seconds(seconds, cfg["batches"]),
            "cores": _cores()}


# -- the conv implementation choice ---------------------------------------------------------------
def _time_sgd_step(x, c, w, xv, mode, steps):
    """``(compile seconds, ms per call)`` of ``w -= 0.01 grad(c)`` compiled in `mode`, fed `xv` for `x`."""
    import pytensor

    def compile_and_call():
        f = pytensor.function([x], c, updates=[(w, w - 0.01 * pytensor.grad(c, w))], mode=mode)
        f(xv)
        return f

    f, compile_s = timed(compile_and_call)
    return compile_s, seconds_per_call(lambda: f(xv), steps) * 1e3


def measure_conv_impls(modes=("JAX", "NUMBA"), steps=200):
    """ms per SGD step of one conv-pool layer (mb 10, 20x5x5 on 28x28, sigmoid): im2col vs convolve2d.

    ``pytensor.tensor.signal.convolve2d`` (the only 2-D convolution in PyTensor
    3.3.7: ``pytensor.tensor.nnet`` and ``tensor.conv`` are gone) is one
    channel at a time, vectorised by Blockwise over (image, filter, channel)
    and summed over channels.
    """
    import pytensor
    import pytensor.tensor as pt
    from pytensor.tensor.signal import convolve2d

    from dlpy35.engine.layers import conv2d_valid, max_pool

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
                try:
                    compile_s, ms = _time_sgd_step(x, c, w, xv, mode, steps)
                    row = {"ms_per_step": ms, "compile_seconds": compile_s}
                except Exception as exc:  # e.g. no JAX conversion for Convolve2d
                    row = {"error": f"{type(exc).__name__}: {str(exc)[:120]}"}
                out.append({"mode": mode, "impl": impl, **row})
    return out


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["impls"]:
        for r in measure_conv_impls():
            print(json.dumps(r))
        return 0
    if len(argv) < 2 or argv[0] not in ("torch", "dlpy35", "profile"):
        print("usage: python -m bench.peers.conv_peers "
              "{torch DIR | dlpy35 DIR [MODE] | profile DIR [REPEATS] | impls}", file=sys.stderr)
        return 2
    cfg, arrays = read_problem(argv[1])
    x, y = arrays["x"], arrays["y"]
    if argv[0] == "profile":
        res = profile_dlpy35(x, y, cfg, int((argv[2:] or [5])[0]))
    elif argv[0] == "torch":
        res = train_torch(x, y, cfg)
    else:
        res = train_dlpy35(x, y, cfg, (argv[2:] or ["JAX"])[0])
    print(json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
