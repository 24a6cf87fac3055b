"""The sigmoid network of the book's chapter 1 as symbolic PyTensor expressions.

Notation follows the book: layer ``l`` has weights ``w^l`` (n_out, n_in) and
biases ``b^l`` (n_out,); ``a^l = sigma(w^l a^{l-1} + b^l)`` (eq. 25).  The graph
works on whole mini-batches stored row-wise, ``A`` (m, n), so the book's
``w a + b`` becomes ``A w^T + b``.  Gradients are ``pytensor.grad`` of the
cost (the quadratic cost of eq. 6 or chapter 3's cross-entropy, from
:mod:`dlpy35.costs`); the SGD update is eqs. 20-21, with L2 or L1 weight decay.

Nothing here compiles or knows the device: :mod:`dlpy35.network` does that
through :class:`dlpy35.device.Device`.
"""

from __future__ import annotations

import pytensor
import pytensor.tensor as pt

from dlpy35.costs import QuadraticCost


def output(a, weights, biases):
    """``(z^L, a^L)`` for the row-wise batch `a`: eq. 25 layer by layer."""
    z = a
    for w, b in zip(weights, biases):
        z = a @ w.T + b
        a = pt.sigmoid(z)
    return z, a


def feedforward(a, weights, biases):
    """Output activations ``a^L`` for the row-wise batch `a`."""
    return output(a, weights, biases)[1]


def quadratic_cost(a, y):
    """``C = sum_x ||y(x) - a^L(x)||^2 / 2`` summed over the batch (eq. 6 times n)."""
    return 0.5 * pt.sum(pt.sqr(a - y))


def total_cost(x, y, weights, biases, cost=QuadraticCost):
    """`cost` summed over the rows of `x` with targets `y`."""
    return cost.symbolic(output(x, weights, biases)[0], y)


def regularizer(weights, reg):
    """``sum w^2 / 2`` (L2) or ``sum |w|`` (L1) over all weights; biases are not regularised."""
    if reg == "l2":
        return 0.5 * sum(pt.sum(pt.sqr(w)) for w in weights)
    if reg == "l1":
        return sum(pt.sum(pt.abs(w)) for w in weights)
    raise ValueError(f"reg must be 'l2' or 'l1', got {reg!r}")


def gradients(x, y, weights, biases, cost=QuadraticCost):
    """``(dC/db, dC/dw)`` per layer by ``pytensor.grad``, C summed over the batch."""
    c = total_cost(x, y, weights, biases, cost)
    grads = pytensor.grad(c, [*biases, *weights])
    return grads[: len(biases)], grads[len(biases):], c


def sgd_step(x, y, eta, weights, biases, cost=QuadraticCost, reg=None, decay=None):
    """One mini-batch of gradient descent (eqs. 20-21; with L2, eq. 93; with L1, eq. 97).

    ``w -> w - (eta/m) sum_x dC_x/dw``, m the mini-batch size.  With ``reg="l2"``
    the weights first decay, ``w -> (1 - decay) w``; with ``reg="l1"``,
    ``w -> w - decay sgn(w)``; `decay` is ``eta lambda / n``.

    Returns the new weights, the new biases and the mini-batch's mean cost.
    """
    nabla_b, nabla_w, c = gradients(x, y, weights, biases, cost)
    m = pt.cast(x.shape[0], x.dtype)
    scale = eta / m
    if reg is None:
        kept = list(weights)
    elif reg == "l2":
        kept = [(1 - decay) * w for w in weights]
    elif reg == "l1":
        kept = [w - decay * pt.sign(w) for w in weights]
    else:
        raise ValueError(f"reg must be None, 'l2' or 'l1', got {reg!r}")
    new_w = [k - scale * g for k, g in zip(kept, nabla_w)]
    new_b = [b - scale * g for b, g in zip(biases, nabla_b)]
    return new_w, new_b, c / m


def sgd_epoch(batches, data_x, data_y, eta, weights, biases, cost=QuadraticCost, reg=None, decay=None):
    """Many mini-batches in one graph: ``pytensor.scan`` over rows of `batches`.

    Parameters
    ----------
    batches : int matrix (n_batches, m)
        Row k holds the indices of mini-batch k into `data_x` / `data_y` (a
        slice of the epoch's permutation: the shuffle happens by gathering on
        the device).
    data_x, data_y : matrices
        The training inputs and one-hot targets, row-wise (shared, on the device).
    cost, reg, decay
        As for :func:`sgd_step`.

    Returns
    -------
    new_weights, new_biases, total_cost
        Parameters after the last mini-batch, and the sum of the mini-batches'
        mean costs.
    """
    n = len(weights)

    def step(rows, *params):
        new_w, new_b, c = sgd_step(data_x[rows], data_y[rows], eta, params[:n], params[n:], cost, reg, decay)
        return [*new_w, *new_b, c]

    outputs = pytensor.scan(
        step,
        sequences=[batches],
        outputs_info=[*weights, *biases, None],
        return_updates=False,
    )
    finals = [o[-1] for o in outputs[:-1]]
    return finals[:n], finals[n:], pt.sum(outputs[-1])


def correct_count(x, labels, weights, biases):
    """How many rows of `x` the network classifies as `labels` (argmax of ``a^L``)."""
    guesses = pt.argmax(feedforward(x, weights, biases), axis=1)
    return pt.sum(pt.eq(guesses, labels), dtype="int64")


def one_hot(labels, n, dtype):
    """Rows of `n` zeros with a one at each label (the book's ``vectorized_result``)."""
    return pt.cast(pt.eq(labels[:, None], pt.arange(n)[None, :]), dtype)


def all_finite(tensors):
    """A boolean scalar: every entry of every tensor is finite."""
    return pt.all([pt.all(pt.isfinite(t)) for t in tensors])
