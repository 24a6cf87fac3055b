"""The sigmoid network of the book's chapter 1 as symbolic PyTensor expressions.

Notation follows the book: layer ``l`` has weights ``w^l`` (n_out, n_in) and
biases ``b^l`` (n_out,); ``a^l = sigma(w^l a^{l-1} + b^l)`` (eq. 25).  The graph
works on whole mini-batches stored row-wise, ``A`` (m, n), so the book's
``w a + b`` becomes ``A w^T + b``.  Gradients are ``pytensor.grad`` of the
quadratic cost (eq. 6); the SGD update is eqs. 20-21.

Nothing here compiles or knows the device: :mod:`dlpy35.network` does that
through :class:`dlpy35.device.Device`.
"""

from __future__ import annotations

import pytensor
import pytensor.tensor as pt


def feedforward(a, weights, biases):
    """Output activations ``a^L`` for the row-wise batch `a` (eq. 25, layer by layer)."""
    for w, b in zip(weights, biases):
        a = pt.sigmoid(a @ w.T + b)
    return a


def quadratic_cost(a, y):
    """``C = sum_x ||y(x) - a^L(x)||^2 / 2`` summed over the batch (eq. 6 times n)."""
    return 0.5 * pt.sum(pt.sqr(a - y))


def gradients(x, y, weights, biases):
    """``(dC/db, dC/dw)`` per layer by ``pytensor.grad``, C summed over the batch."""
    cost = quadratic_cost(feedforward(x, weights, biases), y)
    grads = pytensor.grad(cost, [*biases, *weights])
    return grads[: len(biases)], grads[len(biases):], cost


def sgd_step(x, y, eta, weights, biases):
    """One mini-batch of gradient descent (eqs. 20-21).

    Returns the new weights, the new biases and the mini-batch's mean cost.
    ``w -> w - (eta/m) sum_x dC_x/dw``, m the mini-batch size.
    """
    nabla_b, nabla_w, cost = gradients(x, y, weights, biases)
    m = pt.cast(x.shape[0], x.dtype)
    scale = eta / m
    new_w = [w - scale * g for w, g in zip(weights, nabla_w)]
    new_b = [b - scale * g for b, g in zip(biases, nabla_b)]
    return new_w, new_b, cost / m


def sgd_epoch(batches, data_x, data_y, eta, weights, biases):
    """Many mini-batches in one graph: ``pytensor.scan`` over rows of `batches`.

    Parameters
    ----------
    batches : int matrix (n_batches, m)
        Row k holds the indices of mini-batch k into `data_x` / `data_y` (a
        slice of the epoch's permutation: the shuffle happens by gathering on
        the device).
    data_x, data_y : matrices
        The training inputs and one-hot targets, row-wise (shared, on the device).

    Returns
    -------
    new_weights, new_biases, total_cost
        Parameters after the last mini-batch, and the sum of the mini-batches'
        mean costs.
    """
    n = len(weights)

    def step(rows, *params):
        new_w, new_b, cost = sgd_step(data_x[rows], data_y[rows], eta, params[:n], params[n:])
        return [*new_w, *new_b, cost]

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


def all_finite(tensors):
    """A boolean scalar: every entry of every tensor is finite."""
    return pt.all([pt.all(pt.isfinite(t)) for t in tensors])
