"""Cost functions of the book's chapters 1 and 3, symbolic and in numpy.

Each cost has the book's ``fn(a, y)`` and ``delta(z, a, y)`` (the output error
``delta^L``, eq. BP1) in numpy, and as PyTensor expressions over a row-wise
batch ``symbolic(z, y)`` (the cost summed over the batch, what training
differentiates) and ``per_example(z, y)`` (one cost per row, for evaluation),
both from one ``terms(z, y)`` written from the output layer's weighted input
``z`` so that it is numerically safe.
"""

from __future__ import annotations

import numpy as np
import pytensor.tensor as pt

from dlpy35.engine.backprop import sigmoid_prime


class _Symbolic:
    """``scale * sum(terms(z, y))`` over the batch, or over each row."""

    scale = 1.0

    @classmethod
    def symbolic(cls, z, y):
        """The cost summed over the batch."""
        return cls.scale * pt.sum(cls.terms(z, y))

    @classmethod
    def per_example(cls, z, y):
        """The cost of each row."""
        return cls.scale * pt.sum(cls.terms(z, y), axis=-1)


class QuadraticCost(_Symbolic):
    """``C = ||a - y||^2 / 2`` (eq. 6)."""

    name = "QuadraticCost"
    scale = 0.5

    @staticmethod
    def fn(a, y, z=None):
        """The cost of activations `a` (`z` is accepted for symmetry and unused)."""
        return 0.5 * float(np.sum((a - y) ** 2))

    @staticmethod
    def delta(z, a, y):
        """``(a - y) sigma'(z)``."""
        return (a - y) * sigmoid_prime(z)

    @staticmethod
    def terms(z, y):
        return pt.sqr(pt.sigmoid(z) - y)


class CrossEntropyCost(_Symbolic):
    """``C = -sum_j [y_j ln a_j + (1 - y_j) ln(1 - a_j)]`` (eq. 63), ``a = sigma(z)``.

    Written as ``softplus(z) - y z``, which is the same number without ``log 0``
    or overflow for any ``z``: no ``nan`` from ``0 log 0``, no warnings.
    """

    name = "CrossEntropyCost"

    @staticmethod
    def fn(a, y, z=None):
        """The cost of activations `a` (or, exactly, of weighted inputs `z`)."""
        if z is None:  # from a alone, as the book does, clipped away from 0 and 1
            tiny = np.finfo(np.asarray(a).dtype if np.asarray(a).dtype.kind == "f" else np.float64).tiny
            a = np.clip(a, tiny, 1 - np.finfo(np.float64).epsneg)
            return float(np.sum(-y * np.log(a) - (1 - y) * np.log1p(-a)))
        return float(np.sum(np.logaddexp(0, z) - y * z))

    @staticmethod
    def delta(z, a, y):
        """``a - y``: the sigmoid's derivative cancels (eq. 66)."""
        return a - y

    @staticmethod
    def terms(z, y):
        return pt.softplus(z) - y * z


COSTS = {c.name: c for c in (QuadraticCost, CrossEntropyCost)}
ALIASES = {"quadratic": QuadraticCost, "cross-entropy": CrossEntropyCost, "crossentropy": CrossEntropyCost}


def get(cost):
    """A cost class from a class, an instance, or a name (``"cross-entropy"``, ``"CrossEntropyCost"``...)."""
    if isinstance(cost, str):
        found = COSTS.get(cost) or ALIASES.get(cost.lower())
        if found is None:
            raise ValueError(f"unknown cost {cost!r}; use one of {sorted(COSTS) + sorted(ALIASES)}")
        return found
    cls = cost if isinstance(cost, type) else type(cost)
    if cls.__name__ not in COSTS or COSTS[cls.__name__] is not cls:
        raise ValueError(f"cost must be QuadraticCost, CrossEntropyCost or their names, got {cost!r}")
    return cls


__all__ = ["QuadraticCost", "CrossEntropyCost", "get"]
