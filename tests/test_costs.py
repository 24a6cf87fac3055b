"""Tests for dlpy35.engine.costs: the quadratic and cross-entropy costs, numpy and symbolic.

Also the gradient check with the cross-entropy cost (pytensor.grad vs hand-written
BP1-BP4 vs finite differences) and the output error ``delta^L = a - y`` that
``Network.backprop`` uses with it.  Float64 work runs on the NUMBA CPU mode.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from dlpy35.engine import backprop as bp
from dlpy35.engine import costs, gradcheck
from dlpy35.engine.costs import CrossEntropyCost, QuadraticCost


def _sigmoid(z):
    """The book's sigmoid, written independently of dlpy35.engine.backprop."""
    return 1.0 / (1.0 + np.exp(-z))


def _textbook_cross_entropy(a, y):
    """Eq. 63 literally: -sum[y ln a + (1 - y) ln(1 - a)]."""
    return float(-np.sum(y * np.log(a) + (1 - y) * np.log(1 - a)))


def _compile(expr_inputs, expr):
    """A float64 function on the mode float64 networks use (NUMBA)."""
    return pytensor.function(expr_inputs, expr, mode="NUMBA")


# -- numpy costs --------------------------------------------------------------------


def test_quadratic_fn_and_delta():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(5, 3))
    a = _sigmoid(z)
    y = rng.random((5, 3))
    assert QuadraticCost.fn(a, y) == pytest.approx(0.5 * np.sum((a - y) ** 2), rel=1e-14)
    # z is accepted and ignored
    assert QuadraticCost.fn(a, y, z=z) == QuadraticCost.fn(a, y)
    np.testing.assert_allclose(QuadraticCost.delta(z, a, y), (a - y) * a * (1 - a), rtol=1e-12, atol=1e-15)
    assert isinstance(QuadraticCost.fn(a, y), float)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("a_val, y_val", [(0.0, 0.0), (0.0, 1.0), (1.0, 0.0), (1.0, 1.0)])
def test_cross_entropy_fn_saturated_is_finite_and_silent(a_val, y_val, dtype):
    a = np.array([[a_val]], dtype=dtype)
    y = np.array([[y_val]], dtype=dtype)
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        c = CrossEntropyCost.fn(a, y)
    assert math.isfinite(c)
    assert c >= 0
    if a_val == y_val:
        assert c == pytest.approx(0.0, abs=1e-12)  # a perfect output costs nothing
    else:
        assert c > 30  # a confidently wrong output costs a lot


@pytest.mark.parametrize("a, y, want", [
    (np.array([[1], [0], [1]]), np.array([[1], [0], [0]]), -np.log(np.finfo(np.float64).epsneg)),  # integers
    (np.array([[0], [0]]), np.array([[1], [0]]), -np.log(np.finfo(np.float64).tiny)),
    (np.array([[0.0]], np.float32), np.array([[1.0]], np.float32), -np.log(np.finfo(np.float32).tiny)),
])
def test_cross_entropy_fn_clips_a_wrong_certainty_to_its_dtypes_smallest_number(a, y, want):
    """A certain wrong answer costs -log of the clip: the smallest normal number of a's float type."""
    assert CrossEntropyCost.fn(a, y) == pytest.approx(want, rel=1e-6)


def test_cross_entropy_fn_all_saturated_cases_together():
    a = np.array([[0.0], [1.0], [0.0], [1.0]])
    y = np.array([[0.0], [0.0], [1.0], [1.0]])
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        c = CrossEntropyCost.fn(a, y)
    # From z: exp(-800) underflows to 0, which is exact enough and numpy's default
    # ignores; overflow, division by zero and invalid operations must not happen.
    with warnings.catch_warnings(), np.errstate(over="raise", divide="raise", invalid="raise"):
        warnings.simplefilter("error")
        cz = CrossEntropyCost.fn(a, y, z=np.array([[-800.0], [800.0], [-800.0], [800.0]]))
    assert math.isfinite(c)
    # from z exactly: the two wrong answers cost |z| each, the right ones ~0
    assert cz == pytest.approx(1600.0, rel=1e-12)


def test_cross_entropy_fn_matches_textbook_for_moderate_values():
    rng = np.random.default_rng(1)
    z = rng.uniform(-6, 6, size=(10, 4))
    a = _sigmoid(z)
    y = rng.random((10, 4))
    want = _textbook_cross_entropy(a, y)
    assert CrossEntropyCost.fn(a, y, z=z) == pytest.approx(want, rel=1e-12)
    assert CrossEntropyCost.fn(a, y) == pytest.approx(want, rel=1e-12)
    # one-hot targets as in MNIST
    y1 = np.zeros((10, 4))
    y1[np.arange(10), rng.integers(0, 4, 10)] = 1
    assert CrossEntropyCost.fn(a, y1, z=z) == pytest.approx(_textbook_cross_entropy(a, y1), rel=1e-12)


def test_cross_entropy_delta_is_a_minus_y():
    rng = np.random.default_rng(2)
    z = rng.normal(size=(6, 2))
    a = _sigmoid(z)
    y = rng.random((6, 2))
    np.testing.assert_array_equal(CrossEntropyCost.delta(z, a, y), a - y)


def test_cross_entropy_delta_is_the_derivative_in_z():
    """delta = dC/dz: central differences of fn(z=...) agree with a - y."""
    rng = np.random.default_rng(3)
    z = rng.normal(size=(4, 1))
    y = rng.random((4, 1))
    h = 1e-6
    fd = np.zeros_like(z)
    for i in range(len(z)):
        up, down = z.copy(), z.copy()
        up[i] += h
        down[i] -= h
        fd[i] = (CrossEntropyCost.fn(_sigmoid(up), y, z=up)
                 - CrossEntropyCost.fn(_sigmoid(down), y, z=down)) / (2 * h)
    np.testing.assert_allclose(CrossEntropyCost.delta(z, _sigmoid(z), y), fd, rtol=1e-6, atol=1e-9)


# -- symbolic costs -----------------------------------------------------------------


def test_symbolic_cross_entropy_finite_at_extreme_z():
    z = pt.dmatrix("z")
    y = pt.dmatrix("y")
    f = _compile([z, y], CrossEntropyCost.symbolic(z, y))
    zv = np.array([[100.0, -100.0, 100.0, -100.0, 0.0, 3.0]])
    yv = np.array([[1.0, 0.0, 0.0, 1.0, 0.5, 0.25]])
    got = float(f(zv, yv))
    want = float(np.sum(np.logaddexp(0, zv) - yv * zv))
    assert math.isfinite(got)
    assert got == pytest.approx(want, rel=1e-12)
    # the two wrong saturated answers cost 100 each
    assert got == pytest.approx(200 + math.log(2) + (math.log1p(math.exp(3)) - 0.75), rel=1e-12)
    # element by element as well
    for j in range(zv.shape[1]):
        c = float(f(zv[:, j : j + 1], yv[:, j : j + 1]))
        assert math.isfinite(c)
        assert c == pytest.approx(float(np.logaddexp(0, zv[0, j]) - yv[0, j] * zv[0, j]),
                                  rel=1e-12, abs=1e-30)


def test_symbolic_costs_match_numpy_fn_on_a_batch():
    rng = np.random.default_rng(4)
    zv = rng.uniform(-5, 5, size=(7, 3))
    yv = rng.random((7, 3))
    z = pt.dmatrix("z")
    y = pt.dmatrix("y")
    f = _compile([z, y], [CrossEntropyCost.symbolic(z, y), QuadraticCost.symbolic(z, y)])
    ce, quad = (float(v) for v in f(zv, yv))
    a = _sigmoid(zv)
    assert ce == pytest.approx(CrossEntropyCost.fn(a, yv, z=zv), rel=1e-12)
    assert ce == pytest.approx(_textbook_cross_entropy(a, yv), rel=1e-12)
    assert quad == pytest.approx(QuadraticCost.fn(a, yv), rel=1e-12)


# -- costs.get -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, cls",
    [
        ("cross-entropy", CrossEntropyCost),
        ("CrossEntropyCost", CrossEntropyCost),
        ("crossentropy", CrossEntropyCost),
        ("Cross-Entropy", CrossEntropyCost),
        ("quadratic", QuadraticCost),
        ("QuadraticCost", QuadraticCost),
    ],
)
def test_get_by_name(name, cls):
    assert costs.get(name) is cls


def test_get_by_class_and_instance():
    assert costs.get(CrossEntropyCost) is CrossEntropyCost
    assert costs.get(QuadraticCost()) is QuadraticCost


@pytest.mark.parametrize("bad", ["log-likelihood", "", "cross entropy"])
def test_get_unknown_name_raises(bad):
    with pytest.raises(ValueError, match="unknown cost"):
        costs.get(bad)


def test_get_rejects_a_lookalike_class():
    class CrossEntropyCost:  # same name, not the real one
        pass

    with pytest.raises(ValueError):
        costs.get(CrossEntropyCost)
    with pytest.raises(ValueError):
        costs.get(42)


# -- gradient check with the cross-entropy cost ------------------------------------------


@pytest.mark.parametrize("sizes", [[2, 3, 1], [5, 4, 3]], ids=["2-3-1", "5-4-3"])
def test_gradcheck_cross_entropy(sizes):
    net, x, y = gradcheck.random_problem(sizes, 4, seed=7, cost=CrossEntropyCost)
    assert net.cost is CrossEntropyCost and net.dtype == "float64"
    errs = gradcheck.check(net, x, y, seed=1)
    assert errs["symbolic_vs_hand"] < 1e-8, errs
    assert errs["symbolic_vs_fd"] < 1e-5, errs
    assert errs["hand_vs_fd"] < 1e-5, errs


def test_gradcheck_cross_entropy_differs_from_quadratic():
    """The check really uses the network's cost: the two costs' gradients differ."""
    ce, x, y = gradcheck.random_problem([2, 3, 1], 4, seed=7, cost=CrossEntropyCost)
    quad, _, _ = gradcheck.random_problem([2, 3, 1], 4, seed=7, cost=QuadraticCost)
    np.testing.assert_array_equal(ce.weights[0], quad.weights[0])
    ce_b = ce.backprop(x, y)[0][-1]
    quad_b = quad.backprop(x, y)[0][-1]
    assert not np.allclose(ce_b, quad_b)


def test_network_backprop_cross_entropy_output_delta_is_a_minus_y():
    from dlpy35.network2 import Network

    net = Network([2, 3, 1], seed=11, dtype="float64")
    assert net.cost is CrossEntropyCost
    x = np.array([[0.3], [-0.8]])
    y = np.array([[1.0]])
    w1, w2 = net.weights
    b1, b2 = net.biases
    a1 = _sigmoid(w1 @ x + b1)
    a2 = _sigmoid(w2 @ a1 + b2)
    nabla_b, nabla_w = net.backprop(x, y)
    np.testing.assert_allclose(nabla_b[-1], a2 - y, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(nabla_w[-1], (a2 - y) @ a1.T, rtol=1e-12, atol=1e-15)
    # BP2 through the hidden layer with the cross-entropy delta
    d1 = (w2.T @ (a2 - y)) * a1 * (1 - a1)
    np.testing.assert_allclose(nabla_b[0], d1, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(nabla_w[0], d1 @ x.T, rtol=1e-12, atol=1e-15)
    # and not the quadratic cost's (a - y) sigma'(z)
    assert not np.allclose(nabla_b[-1], (a2 - y) * a2 * (1 - a2))
    # the same numbers as the module-level BP1-BP4 with the cost's delta
    ref_b, _ = bp.backprop(net.weights, net.biases, x, y, CrossEntropyCost.delta)
    np.testing.assert_array_equal(nabla_b[-1], ref_b[-1])
