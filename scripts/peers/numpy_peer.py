"""numpy peers: the book's per-example algorithm and a whole-mini-batch version.

Both use :func:`dlpy35.backprop.backprop` (the book's BP1-BP4):

* :func:`train_book` is Nielsen's ``network.py`` as written: the training data a
  list of ``(x, y)`` column pairs, ``update_mini_batch`` calling ``backprop`` once
  per example and summing, new weight lists after each mini-batch, float64
  parameters (``np.random.randn`` in the book) on float32 inputs.
* :func:`train_batched` is the matrix form: ``backprop`` on a (n_in, m) block of
  columns, float32, updating the parameters in place.
"""

from __future__ import annotations

import time

import numpy as np

from dlpy35 import backprop as bp

WARM_UP_BATCHES = 20


def _accuracy(weights, biases, test_x, test_y):
    """Test images whose largest output is the label."""
    out = bp.forward(weights, biases, test_x.T.astype(weights[0].dtype))[1][-1]
    return int(np.sum(np.argmax(out, axis=0) == test_y))


def _result(name, backend, epoch_seconds, compile_seconds, correct, n_test, note=""):
    return {"name": name, "backend": backend, "epoch_seconds": list(epoch_seconds),
            "compile_seconds": compile_seconds, "correct": correct, "n_test": n_test, "note": note}


# -- (a) the book, per example -------------------------------------------------
def _book_update_mini_batch(weights, biases, mini_batch, eta):
    """The book's ``update_mini_batch``: backprop per example, summed, then one step."""
    nabla_b = [np.zeros(b.shape) for b in biases]
    nabla_w = [np.zeros(w.shape) for w in weights]
    for x, y in mini_batch:
        delta_nabla_b, delta_nabla_w = bp.backprop(weights, biases, x, y)
        nabla_b = [nb + dnb for nb, dnb in zip(nabla_b, delta_nabla_b)]
        nabla_w = [nw + dnw for nw, dnw in zip(nabla_w, delta_nabla_w)]
    weights = [w - (eta / len(mini_batch)) * nw for w, nw in zip(weights, nabla_w)]
    biases = [b - (eta / len(mini_batch)) * nb for b, nb in zip(biases, nabla_b)]
    return weights, biases


def _book_epoch(weights, biases, training_data, perm, m, eta):
    """One pass of the book's ``SGD`` loop, shuffled by `perm` instead of ``random.shuffle``."""
    shuffled = [training_data[i] for i in perm]
    for k in range(0, len(shuffled), m):
        weights, biases = _book_update_mini_batch(weights, biases, shuffled[k : k + m], eta)
    return weights, biases


def train_book(train_x, train_y1h, test_x, test_y, weights, biases, perms, m, eta):
    """(a) Nielsen's per-example ``network.py``; see the module docstring.

    Parameters
    ----------
    train_x : (n, n_in) float32
    train_y1h : (n, n_out) one-hot targets
    test_x, test_y : (n_test, n_in) float32 and (n_test,) int labels
    weights, biases : lists of float64 (n_out, n_in) and (n_out, 1) initial values
    perms : (epochs, n) int
        The permutation of each epoch.
    m : int
        Mini-batch size.
    eta : float
        Learning rate.

    Returns
    -------
    dict
        The peer result (see :mod:`scripts.peers`).
    """
    # The book's data: (784, 1) float32 columns and (10, 1) float64 one-hot columns.
    training_data = [(x[:, None], y.astype(np.float64)[:, None]) for x, y in zip(train_x, train_y1h)]
    weights = [np.array(w, dtype=np.float64) for w in weights]
    biases = [np.array(b, dtype=np.float64) for b in biases]
    start = time.perf_counter()
    _book_epoch(weights, biases, training_data, np.arange(min(len(training_data), WARM_UP_BATCHES * m)), m, eta)
    warm = time.perf_counter() - start
    seconds = []
    for perm in perms:
        start = time.perf_counter()
        weights, biases = _book_epoch(weights, biases, training_data, perm, m, eta)
        seconds.append(time.perf_counter() - start)
    return _result("book per-example (a)", "numpy float64", seconds, warm,
                   _accuracy(weights, biases, test_x, test_y), len(test_y))


# -- (b) whole mini-batch --------------------------------------------------------
def _batched_epoch(weights, biases, x, y1h, perm, m, eta):
    """One epoch of matrix-form backprop, updating `weights` and `biases` in place."""
    for k in range(0, len(perm), m):
        rows = perm[k : k + m]
        nabla_b, nabla_w = bp.backprop(weights, biases, x[rows].T, y1h[rows].T)
        scale = np.float32(eta / len(rows))
        for w, nw in zip(weights, nabla_w):
            w -= scale * nw
        for b, nb in zip(biases, nabla_b):
            b -= scale * nb


def train_batched(train_x, train_y1h, test_x, test_y, weights, biases, perms, m, eta):
    """(b) Whole-mini-batch numpy in float32; parameters as for :func:`train_book`."""
    x = np.ascontiguousarray(train_x, dtype=np.float32)
    y1h = np.ascontiguousarray(train_y1h, dtype=np.float32)
    start = time.perf_counter()
    scratch_w = [np.array(w, dtype=np.float32) for w in weights]
    scratch_b = [np.array(b, dtype=np.float32) for b in biases]
    _batched_epoch(scratch_w, scratch_b, x, y1h, np.arange(min(len(x), WARM_UP_BATCHES * m)), m, eta)
    warm = time.perf_counter() - start
    weights = [np.array(w, dtype=np.float32) for w in weights]
    biases = [np.array(b, dtype=np.float32) for b in biases]
    seconds = []
    for perm in perms:
        start = time.perf_counter()
        _batched_epoch(weights, biases, x, y1h, perm, m, eta)
        seconds.append(time.perf_counter() - start)
    return _result("numpy whole mini-batch (b)", "numpy float32", seconds, warm,
                   _accuracy(weights, biases, test_x, test_y), len(test_y))
