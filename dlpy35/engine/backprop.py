"""Hand-written backpropagation in numpy: the book's four equations BP1-BP4.

This is the reference the symbolic gradients of :mod:`dlpy35.engine.graph` are checked
against (:mod:`dlpy35.engine.gradcheck`).  Shapes follow the book: ``weights[l]`` is
(n_out, n_in), ``biases[l]`` is (n_out, 1), and inputs are columns, one example
``x`` (n_in, 1) or a mini-batch ``X`` (n_in, m) of columns.  The cost is the
quadratic cost ``C_x = ||y - a^L||^2 / 2`` unless another cost's BP1 is passed
(:mod:`dlpy35.engine.costs`); for a batch the gradients are summed over its examples
(as ``update_mini_batch`` sums ``nabla_b``, ``nabla_w``).

- BP1: ``delta^L = grad_a C * sigma'(z^L)``, with ``grad_a C = a^L - y``
- BP2: ``delta^l = ((w^{l+1})^T delta^{l+1}) * sigma'(z^l)``
- BP3: ``dC/db^l = delta^l``
- BP4: ``dC/dw^l = delta^l (a^{l-1})^T``
"""

from __future__ import annotations

import numpy as np


def sigmoid(z):
    """The logistic function ``1 / (1 + e^-z)``, without overflow or underflow.

    With ``e = exp(-|z|)``: ``1 / (1 + e)`` for ``z >= 0`` and ``e / (1 + e)``
    below, so ``exp`` never overflows and keeps full relative precision for
    negative ``z``; below ``-cap``, where ``e`` would leave the normal range, it is 0.
    """
    z = np.asarray(z)
    dtype = z.dtype if z.dtype.kind == "f" else np.float64
    cap = -np.log(np.finfo(dtype).tiny)
    e = np.exp(-np.minimum(np.abs(z), cap).astype(dtype, copy=False))
    return np.where(z >= 0, 1 / (1 + e), np.where(z < -cap, 0, e / (1 + e)))


def sigmoid_prime(z):
    """Derivative of the sigmoid, ``sigma(z) (1 - sigma(z))``."""
    s = sigmoid(z)
    return s * (1.0 - s)


def cost_derivative(output_activations, y):
    """``dC_x/da^L = a^L - y`` for the quadratic cost."""
    return output_activations - y


def forward(weights, biases, x):
    """The forward pass keeping what backprop needs: lists of ``z^l`` and ``a^l``.

    `x` is (n_in, m); ``activations[0]`` is `x` itself.
    """
    activations, zs = [x], []
    for w, b in zip(weights, biases):
        zs.append(w @ activations[-1] + b)
        activations.append(sigmoid(zs[-1]))
    return zs, activations


def quadratic_delta(z, a, y):
    """BP1 for the quadratic cost: ``(a - y) * sigma'(z)``."""
    return cost_derivative(a, y) * sigmoid_prime(z)


def backprop(weights, biases, x, y, delta=quadratic_delta):
    """Gradient of the cost for the columns of `x`, summed over them.

    Works for one example (n_in, 1) -- the book's ``backprop`` -- and for a whole
    mini-batch (n_in, m) at once, the matrix form the book suggests as an exercise.
    `delta(z, a, y)` is the output error of BP1 for the cost in use (a cost's
    ``delta`` in :mod:`dlpy35.engine.costs`; the quadratic cost by default).

    Returns
    -------
    nabla_b, nabla_w : lists of arrays
        Layer by layer, in the shapes of `biases` and `weights`.
    """
    zs, activations = forward(weights, biases, x)
    d = delta(zs[-1], activations[-1], y)  # BP1
    nabla_b = [None] * len(weights)
    nabla_w = [None] * len(weights)
    for k in range(1, len(weights) + 1):  # k counts layers from the output, as the book's l does
        if k > 1:
            d = (weights[-k + 1].T @ d) * sigmoid_prime(zs[-k])  # BP2
        nabla_b[-k] = d.sum(axis=1, keepdims=True)  # BP3
        nabla_w[-k] = d @ activations[-k - 1].T  # BP4
    return nabla_b, nabla_w


def backprop_per_example(weights, biases, x, y, delta=quadratic_delta):
    """The book's algorithm literally: BP1-BP4 for each column in turn, then summed.

    Slower than :func:`backprop` on a batch, and the reference it is tested against.
    """
    nabla_b = [np.zeros_like(b) for b in biases]
    nabla_w = [np.zeros_like(w) for w in weights]
    for k in range(x.shape[1]):
        db, dw = backprop(weights, biases, x[:, k : k + 1], y[:, k : k + 1], delta)
        nabla_b = [nb + d for nb, d in zip(nabla_b, db)]
        nabla_w = [nw + d for nw, d in zip(nabla_w, dw)]
    return nabla_b, nabla_w
