"""PyTorch peers: manual backprop and autograd, float32, one thread, mini-batch loop.

Standalone (numpy and torch only) so that it can run in another interpreter,
e.g. a Python 3.11 venv with torch::

    PYTHONPATH=scripts python -m bench.peers.torch_peer DIR

reads ``DIR/config.json`` (``m``, ``eta``, ``layers``) and the arrays
``train_x.npy``, ``train_y1h.npy``, ``test_x.npy``, ``test_y.npy``, ``perms.npy``,
``w{l}.npy``, ``b{l}.npy`` (as written by :func:`save_problem`), trains both
versions and prints a JSON list of two result dicts on stdout.
"""

from __future__ import annotations

import json
import sys

import numpy as np

from .base import elapsed, read_problem, result, warm_up_size, write_problem


# -- one mini-batch step, two ways ----------------------------------------------
def _manual_step(params, x, y, eta):
    """BP1-BP4 by hand on a row-wise batch, updating `params` [(w, b), ...] in place."""
    import torch

    acts = [x]
    for w, b in params:
        acts.append(torch.sigmoid(torch.addmm(b, acts[-1], w.T)))
    a = acts[-1]
    delta = (a - y) * a * (1 - a)  # BP1
    scale = -eta / x.shape[0]
    for l in range(len(params) - 1, -1, -1):  # noqa: E741 -- the book's layer index
        w, b = params[l]
        grad_w = delta.T @ acts[l]  # BP4
        grad_b = delta.sum(0)  # BP3
        if l:
            a_prev = acts[l]
            delta = (delta @ w) * a_prev * (1 - a_prev)  # BP2, before w changes
        w.add_(grad_w, alpha=scale)
        b.add_(grad_b, alpha=scale)


def _autograd_step(params, x, y, eta):
    """``cost.backward()`` of the quadratic cost, then ``p -= (eta/m) p.grad``."""
    import torch

    a = x
    for w, b in params:
        a = torch.sigmoid(torch.addmm(b, a, w.T))
    cost = 0.5 * torch.sum((a - y) ** 2)
    cost.backward()
    scale = -eta / x.shape[0]
    with torch.no_grad():
        for w, b in params:
            w.add_(w.grad, alpha=scale)
            b.add_(b.grad, alpha=scale)
            w.grad = b.grad = None


def _epoch(step, params, x, y, perm, m, eta):
    for k in range(0, len(perm), m):
        rows = perm[k : k + m]
        step(params, x.index_select(0, rows), y.index_select(0, rows), eta)


def _train(step, autograd, x, y, test_x, test_y, weights, biases, perms, m, eta):
    import torch

    def fresh():
        ps = [(torch.tensor(np.asarray(w), dtype=torch.float32),
               torch.tensor(np.ravel(b), dtype=torch.float32)) for w, b in zip(weights, biases, strict=True)]
        for w, b in ps:
            w.requires_grad_(autograd)
            b.requires_grad_(autograd)
        return ps

    grad_ctx = torch.enable_grad if autograd else torch.no_grad
    with grad_ctx():
        n_warm = warm_up_size(len(x), m)
        warm = elapsed(lambda: _epoch(step, fresh(), x, y, torch.arange(n_warm), m, eta))
        params = fresh()
        seconds = [elapsed(_epoch, step, params, x, y, perm, m, eta) for perm in perms]
    with torch.no_grad():
        a = test_x
        for w, b in params:
            a = torch.sigmoid(torch.addmm(b, a, w.T))
        correct = int((a.argmax(1) == test_y).sum())
    return warm, seconds, correct


def train_torch(train_x, train_y1h, test_x, test_y, weights, biases, perms, m, eta):
    """(e) Both PyTorch versions; parameters as for ``numpy_peer.train_book``.

    Returns
    -------
    list of dict
        The manual-backprop result, then the autograd one.
    """
    import torch

    torch.set_num_threads(1)
    x = torch.from_numpy(np.ascontiguousarray(train_x, dtype=np.float32))
    y = torch.from_numpy(np.ascontiguousarray(train_y1h, dtype=np.float32))
    tx = torch.from_numpy(np.ascontiguousarray(test_x, dtype=np.float32))
    ty = torch.from_numpy(np.asarray(test_y, dtype=np.int64))
    tperms = [torch.from_numpy(np.asarray(p, dtype=np.int64)) for p in perms]
    backend = f"torch {torch.__version__} cpu float32, 1 thread"
    results = []
    for name, step, autograd in (("PyTorch manual backprop (e)", _manual_step, False),
                                 ("PyTorch autograd (e)", _autograd_step, True)):
        warm, seconds, correct = _train(step, autograd, x, y, tx, ty, weights, biases, tperms, m, eta)
        results.append(result(name, backend, seconds, warm, correct, len(test_y)))
    return results


# -- the subprocess protocol ------------------------------------------------------
ARRAYS = ("train_x", "train_y1h", "test_x", "test_y", "perms")


def save_problem(directory, train_x, train_y1h, test_x, test_y, weights, biases, perms, m, eta):
    """Write the problem that :func:`load_problem` reads in the subprocess."""
    arrays = dict(zip(ARRAYS, (train_x, train_y1h, test_x, test_y, perms), strict=True))
    arrays |= {f"w{i}": w for i, w in enumerate(weights)} | {f"b{i}": b for i, b in enumerate(biases)}
    write_problem(directory, {"m": m, "eta": eta, "layers": len(weights)}, arrays)


def load_problem(directory):
    """The keyword arguments of :func:`train_torch`, read from `directory`."""
    config, arrays = read_problem(directory)
    layers = range(config["layers"])
    return {**{name: arrays[name] for name in ARRAYS}, "m": config["m"], "eta": config["eta"],
            "weights": [arrays[f"w{i}"] for i in layers], "biases": [arrays[f"b{i}"] for i in layers]}


def main(argv=None):
    """Train from the problem in ``argv[0]`` and print the results as JSON."""
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m bench.peers.torch_peer DIR", file=sys.stderr)
        return 2
    print(json.dumps(train_torch(**load_problem(argv[0]))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
