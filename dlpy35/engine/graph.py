"""The sigmoid network of the book's chapter 1 as symbolic PyTensor expressions.

Notation follows the book: layer ``l`` has weights ``w^l`` (n_out, n_in) and
biases ``b^l`` (n_out,); ``a^l = sigma(w^l a^{l-1} + b^l)`` (eq. 25).  The graph
works on whole mini-batches stored row-wise, ``A`` (m, n): the book's ``w a + b``
with the mini-batch's activations as the columns of ``a = A^T``, transposed back
to rows, ``(w A^T)^T + b``.  Gradients are ``pytensor.grad`` of the
cost (the quadratic cost of eq. 6 or chapter 3's cross-entropy, from
:mod:`dlpy35.engine.costs`); the SGD update is eqs. 20-21, with L2 or L1 weight decay.

:class:`SigmoidNet` packs these for :class:`dlpy35.engine.trainer.Trainer`, which
compiles them on the device; nothing here compiles or knows the device.
"""

from __future__ import annotations

import numpy as np
import pytensor
import pytensor.tensor as pt

from dlpy35.engine.costs import QuadraticCost
from dlpy35.engine.model import Model


def output(a, weights, biases):
    """``(z^L, a^L)`` for the row-wise batch `a`: eq. 25 layer by layer.

    ``w a^T`` rather than ``a w^T``: the same sums, but the gradient with respect
    to ``w`` is then ``delta^T a`` in ``w``'s own layout, so a population's K
    weight matrices take their gradients from one wide matmul without a transpose.
    """
    z = a
    for w, b in zip(weights, biases):
        z = (w @ a.T).T + b
        a = pt.sigmoid(z)
    return z, a


def feedforward(a, weights, biases):
    """Output activations ``a^L`` for the row-wise batch `a`."""
    return output(a, weights, biases)[1]


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
    m = x.shape[0]
    new_w, new_b = sgd_update(weights, biases, nabla_w, nabla_b, eta, m, reg, decay)
    return new_w, new_b, c / pt.cast(m, x.dtype)


def sgd_update(weights, biases, nabla_w, nabla_b, eta, m, reg=None, decay=None):
    """The new weights and biases from the gradients of the summed cost of `m` examples (eqs. 20-21)."""
    scale = eta / pt.cast(m, weights[0].dtype)
    if reg is None:
        kept = list(weights)
    elif reg == "l2":
        kept = [(1 - decay) * w for w in weights]
    elif reg == "l1":
        kept = [w - decay * pt.sign(w) for w in weights]
    else:
        raise ValueError(f"reg must be None, 'l2' or 'l1', got {reg!r}")
    return [k - scale * g for k, g in zip(kept, nabla_w)], [b - scale * g for b, g in zip(biases, nabla_b)]


def split_key(row, m):
    """``(indices, key)`` from a row of `m` mini-batch indices followed by a random key.

    The indices get the static length `m`: shapes computed from them (JAX's
    reshapes and aranges) must be constants.  A population's row holds one such
    row per network (leading axes of static length), and gives one key per network.
    """
    return pt.specify_shape(row[..., :m], (*row.type.shape[:-1], m)), row[..., m]


def scan_sgd(step, batches, params, keyed_m=None):
    """Many SGD steps in one graph: ``pytensor.scan`` of `step` over the rows of `batches`.

    The one whole-epoch builder under every network: the sigmoid network here
    and :mod:`dlpy35.engine.layers`' stacks pass their own `step`.

    Parameters
    ----------
    step : callable
        ``step(rows, params, key) -> (new_params, mean_cost)`` for one mini-batch,
        `rows` its indices into the training data.
    batches : int matrix (n_batches, m) or (n_batches, m + 1)
        Row k: the indices of mini-batch k (a slice of the epoch's permutation:
        the shuffle happens by gathering on the device); with `keyed_m`, a last
        column holding that mini-batch's random key (one sequence only: JAX cannot
        trace scan's trimming of several sequences to a common length).
    params : list of tensors
        The parameters before the first step (shared variables).
    keyed_m : int, optional
        The mini-batch size, when rows carry a key: each row is split by
        :func:`split_key`; otherwise `key` is None.

    Returns
    -------
    new_params, total_cost
        Parameters after the last step, and the sum of the steps' mean costs.
    """

    def body(row, *p):
        rows, key = split_key(row, keyed_m) if keyed_m else (row, None)
        new, c = step(rows, list(p), key)
        return [*new, c]

    outputs = pytensor.scan(body, sequences=[batches], outputs_info=[*params, None], return_updates=False)
    return [o[-1] for o in outputs[:-1]], pt.sum(outputs[-1], axis=0)  # per network in a population


def sgd_epoch(batches, data_x, data_y, eta, weights, biases, cost=QuadraticCost, reg=None, decay=None):
    """:func:`sgd_step` over every row of `batches` (row k: the indices of mini-batch k), in one scan.

    Returns the weights and biases after the last mini-batch and the sum of
    the mini-batches' mean costs.
    """
    n = len(weights)

    def step(rows, params, key):
        new_w, new_b, c = sgd_step(data_x[rows], data_y[rows], eta, params[:n], params[n:], cost, reg, decay)
        return [*new_w, *new_b], c

    new, total = scan_sgd(step, batches, [*weights, *biases])
    return new[:n], new[n:], total


def one_hot(labels, n, dtype):
    """Rows of `n` zeros with a one at each label (the book's ``vectorized_result``)."""
    return pt.cast(pt.eq(labels[..., None], pt.arange(n)), dtype)


def layer_shapes(sizes):
    """``[(n_in, n_out), ...]`` for consecutive layers of `sizes`.

    The book's ``zip(sizes[:-1], sizes[1:])``.
    """
    return list(zip(sizes[:-1], sizes[1:]))


class SigmoidNet(Model):
    """The model of chapters 1 and 3 (a :class:`dlpy35.engine.model.Model`).

    Parameters are ``[w^1 ... w^L, b^1 ... b^L]`` with ``w^l`` (n_out, n_in) and
    ``b^l`` (n_out,); a step is :func:`sgd_update` (hyperparameters ``eta`` and
    ``decay = eta lambda / n``; the run's option is the regulariser).

    Parameters
    ----------
    sizes : list of int
    cost : QuadraticCost or CrossEntropyCost
    """

    hyper_names = ("eta", "decay")
    stochastic = False

    def __init__(self, sizes, cost=QuadraticCost):
        self.sizes, self.cost = list(sizes), cost
        self.n_layers, self.n_in, self.n_out = len(sizes) - 1, sizes[0], sizes[-1]
        self.param_names = [*(f"w{k + 1}" for k in range(self.n_layers)),
                            *(f"b{k + 1}" for k in range(self.n_layers))]
        self.param_shapes = [*((y, x) for x, y in layer_shapes(sizes)), *((y,) for y in sizes[1:])]

    def init_params(self, rng, dtype, weight_init="large"):
        """Initial parameters drawn from `rng` as the book draws them: every bias, then every weight.

        Biases N(0, 1); weights N(0, 1) (``"large"``, chapter 1) or N(0, 1/n_in)
        (``"default"``, chapter 3).
        """
        biases = [rng.standard_normal(y) for y in self.sizes[1:]]
        weights = [rng.standard_normal((y, x)) / (np.sqrt(x) if weight_init == "default" else 1)
                   for x, y in layer_shapes(self.sizes)]
        return [np.asarray(p, dtype) for p in (*weights, *biases)]

    def split(self, params):
        """``(weights, biases)`` from the flat parameter list."""
        return params[: self.n_layers], params[self.n_layers:]

    def objective(self, x, y, params, hyper, option, noise=None):
        """``(C summed over the mini-batch, its mean)``: the step differentiates the sum (eq. 20)."""
        c = total_cost(x, y, *self.split(params), self.cost)
        return c, c / pt.cast(x.shape[0], x.dtype)

    def update(self, params, grads, hyper, option, m):
        weights, biases = self.split(params)
        nabla_w, nabla_b = self.split(grads)
        new_w, new_b = sgd_update(weights, biases, nabla_w, nabla_b, hyper["eta"], m, option, hyper["decay"])
        return [*new_w, *new_b]

    def forward(self, x, params):
        return feedforward(x, *self.split(params))

    def widths(self):
        return list(self.sizes)

    def example_metrics(self, x, labels, params):
        z, a = output(x, *self.split(params))
        return pt.argmax(a, axis=1), self.cost.per_example(z, one_hot(labels, self.n_out, z.dtype))

    def checkpoint_arrays(self, values):
        """``(weights, biases)`` in the book's shapes: biases as (n_out, 1) columns."""
        weights, biases = self.split(values)
        return list(weights), [b[:, None] for b in biases]

    def from_checkpoint(self, weights, biases):
        """The flat parameter list from the book's shapes; ValueError naming the part that does not fit."""
        want = {"weights": self.param_shapes[: self.n_layers], "biases": [(y, 1) for y in self.sizes[1:]]}
        for name, arrays in (("weights", weights), ("biases", biases)):
            got = [np.shape(a) for a in arrays]
            if got != want[name]:
                raise ValueError(f"{name}: expected arrays of shapes {want[name]}, got {got}")
            if not all(np.all(np.isfinite(a)) for a in arrays):
                raise ValueError(f"{name}: values must be finite numbers")
        return [*weights, *(np.reshape(b, -1) for b in biases)]

    def gradients(self, x, y, params):
        """``[dC/db^1 ... dC/db^L, dC/dw^1 ... dC/dw^L]`` for the batch (x, y), C summed over it."""
        nabla_b, nabla_w, _ = gradients(x, y, *self.split(params), self.cost)
        return [*nabla_b, *nabla_w]
