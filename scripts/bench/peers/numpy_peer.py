"""numpy peers: the book's per-example algorithm and a whole-mini-batch version.

Both use :func:`dlpy35.engine.backprop.backprop` (the book's BP1-BP4):

* :func:`train_book` is Nielsen's ``network.py`` as written: the training data a
  list of ``(x, y)`` column pairs, ``update_mini_batch`` calling ``backprop`` once
  per example and summing, new weight lists after each mini-batch, float64
  parameters (``np.random.randn`` in the book) on float32 inputs.
* :func:`train_batched` is the matrix form: ``backprop`` on a (n_in, m) block of
  columns, float32, updating the parameters in place.
"""

from __future__ import annotations

import numpy as np

from dlpy35.engine import backprop as bp

from .base import elapsed, result, warm_up_size


def _accuracy(weights, biases, test_x, test_y):
    """Test images whose largest output is the label."""
    out = bp.forward(weights, biases, test_x.T.astype(weights[0].dtype))[1][-1]
    return int(np.sum(np.argmax(out, axis=0) == test_y))


# -- (a) the book, per example -------------------------------------------------
def _book_update_mini_batch(weights, biases, mini_batch, eta):
    """The book's ``update_mini_batch``: backprop per example, summed, then one step."""
    nabla_b = [np.zeros(b.shape) for b in biases]
    nabla_w = [np.zeros(w.shape) for w in weights]
    for x, y in mini_batch:
        delta_nabla_b, delta_nabla_w = bp.backprop(weights, biases, x, y)
        nabla_b = [nb + dnb for nb, dnb in zip(nabla_b, delta_nabla_b, strict=True)]
        nabla_w = [nw + dnw for nw, dnw in zip(nabla_w, delta_nabla_w, strict=True)]
    weights = [w - (eta / len(mini_batch)) * nw for w, nw in zip(weights, nabla_w, strict=True)]
    biases = [b - (eta / len(mini_batch)) * nb for b, nb in zip(biases, nabla_b, strict=True)]
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
        The peer's row (see :func:`bench.peers.base.result`).
    """
    # The book's data: (784, 1) float32 columns and (10, 1) float64 one-hot columns.
    training_data = [(x[:, None], y.astype(np.float64)[:, None])
                     for x, y in zip(train_x, train_y1h, strict=True)]
    params = [[np.array(w, dtype=np.float64) for w in weights],
              [np.array(b, dtype=np.float64) for b in biases]]

    def epoch(perm):  # the book makes new parameter lists each mini-batch
        params[:] = _book_epoch(*params, training_data, perm, m, eta)

    n_warm = warm_up_size(len(train_x), m)
    warm = elapsed(lambda: _book_epoch(*params, training_data, np.arange(n_warm), m, eta))
    seconds = [elapsed(epoch, perm) for perm in perms]
    correct = _accuracy(*params, test_x, test_y)
    return result("book per-example (a)", "numpy float64", seconds, warm, correct, len(test_y))


# -- (b) whole mini-batch --------------------------------------------------------
def _batched_epoch(weights, biases, x, y1h, perm, m, eta):
    """One epoch of matrix-form backprop, updating `weights` and `biases` in place."""
    for k in range(0, len(perm), m):
        rows = perm[k : k + m]
        nabla_b, nabla_w = bp.backprop(weights, biases, x[rows].T, y1h[rows].T)
        scale = np.float32(eta / len(rows))
        for w, nw in zip(weights, nabla_w, strict=True):
            w -= scale * nw
        for b, nb in zip(biases, nabla_b, strict=True):
            b -= scale * nb


def train_batched(train_x, train_y1h, test_x, test_y, weights, biases, perms, m, eta):
    """(b) Whole-mini-batch numpy in float32; parameters as for :func:`train_book`."""
    x = np.ascontiguousarray(train_x, dtype=np.float32)
    y1h = np.ascontiguousarray(train_y1h, dtype=np.float32)

    def fresh():
        return ([np.array(w, dtype=np.float32) for w in weights],
                [np.array(b, dtype=np.float32) for b in biases])

    # The warm-up trains a copy (its time includes making it) so that the timed epochs start from `weights`.
    n_warm = warm_up_size(len(x), m)
    warm = elapsed(lambda: _batched_epoch(*fresh(), x, y1h, np.arange(n_warm), m, eta))
    params = fresh()
    seconds = [elapsed(_batched_epoch, *params, x, y1h, perm, m, eta) for perm in perms]
    correct = _accuracy(*params, test_x, test_y)
    return result("numpy whole mini-batch (b)", "numpy float32", seconds, warm, correct, len(test_y))
