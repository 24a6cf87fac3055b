"""Tests for dlpy35.engine.backprop (the hand-written BP1-BP4) and a hand-computed [2, 3, 1] network.

The references here are written independently of dlpy35.engine.backprop: explicit scalar
chain-rule loops in pure Python for a tiny network, and the book's per-example code
(``1 / (1 + exp(-z))``) for deeper ones.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from dlpy35.engine import backprop as bp
from dlpy35.engine.costs import QuadraticCost
from dlpy35.network import Network

# -- references written for these tests ----------------------------------------------


def _sig(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


def scalar_forward(ws, bs, x):
    """Pure-Python forward pass of one example: lists of z and a per layer (a[0] = x)."""
    a_layers, z_layers = [list(x)], []
    for w, b in zip(ws, bs):
        prev = a_layers[-1]
        z = [sum(w[j][k] * prev[k] for k in range(len(prev))) + b[j] for j in range(len(w))]
        z_layers.append(z)
        a_layers.append([_sig(v) for v in z])
    return z_layers, a_layers


def scalar_cost(ws, bs, x, y):
    a = scalar_forward(ws, bs, x)[1][-1]
    return 0.5 * sum((a[j] - y[j]) ** 2 for j in range(len(y)))


def scalar_gradients(ws, bs, x, y):
    """dC/db and dC/dw of C = ||a^L - y||^2 / 2 for one example, by the scalar chain rule.

    ws[l][j][k], bs[l][j] nested lists; no matrices, no dlpy35.
    """
    zs, acts = scalar_forward(ws, bs, x)
    n_layers = len(ws)
    db = [None] * n_layers
    dw = [None] * n_layers
    # dC/dz for the output layer: (a - y) * a (1 - a)
    dz = [(acts[-1][j] - y[j]) * acts[-1][j] * (1.0 - acts[-1][j]) for j in range(len(y))]
    for layer in range(n_layers - 1, -1, -1):
        a_prev = acts[layer]
        db[layer] = list(dz)
        dw[layer] = [[dz[j] * a_prev[k] for k in range(len(a_prev))] for j in range(len(dz))]
        if layer > 0:
            # dC/da_prev[k] = sum_j dC/dz[j] * w[j][k];  dC/dz_prev[k] = that * a_prev (1 - a_prev)
            dz = [
                sum(dz[j] * ws[layer][j][k] for j in range(len(dz))) * a_prev[k] * (1.0 - a_prev[k])
                for k in range(len(a_prev))
            ]
    return db, dw


def book_backprop(weights, biases, x, y):
    """The book's network.py ``backprop`` (chapter 1), one column at a time, summed over columns."""

    def sigmoid(z):
        return 1.0 / (1.0 + np.exp(-z))

    nb_sum = [np.zeros(b.shape) for b in biases]
    nw_sum = [np.zeros(w.shape) for w in weights]
    for k in range(x.shape[1]):
        activation = x[:, k : k + 1]
        activations, zs = [activation], []
        for b, w in zip(biases, weights):
            z = np.dot(w, activation) + b
            zs.append(z)
            activation = sigmoid(z)
            activations.append(activation)
        nabla_b = [np.zeros(b.shape) for b in biases]
        nabla_w = [np.zeros(w.shape) for w in weights]
        s = sigmoid(zs[-1])
        delta = (activations[-1] - y[:, k : k + 1]) * s * (1 - s)
        nabla_b[-1] = delta
        nabla_w[-1] = np.dot(delta, activations[-2].transpose())
        for layer in range(2, len(weights) + 1):
            s = sigmoid(zs[-layer])
            delta = np.dot(weights[-layer + 1].transpose(), delta) * s * (1 - s)
            nabla_b[-layer] = delta
            nabla_w[-layer] = np.dot(delta, activations[-layer - 1].transpose())
        nb_sum = [a + d for a, d in zip(nb_sum, nabla_b)]
        nw_sum = [a + d for a, d in zip(nw_sum, nabla_w)]
    return nb_sum, nw_sum


def random_params(sizes, seed, scale=1.0):
    rng = np.random.default_rng(seed)
    weights = [rng.standard_normal((y, x)) * scale / np.sqrt(x) for x, y in zip(sizes[:-1], sizes[1:])]
    biases = [rng.standard_normal((y, 1)) * scale for y in sizes[1:]]
    return weights, biases


# -- the hand-computed [2, 3, 1] network ----------------------------------------------

W1 = [[0.1, -0.2], [0.4, 0.3], [-0.5, 0.6]]
B1 = [0.1, -0.1, 0.2]
W2 = [[0.7, -0.8, 0.9]]
B2 = [-0.3]
# two examples: columns of X, targets in Y
EXAMPLES = [([0.5, -1.0], [1.0]), ([-0.25, 2.0], [0.0])]


def hand_expected():
    """Summed over EXAMPLES: (nabla_b, nabla_w) in the book's shapes, from scalar loops."""
    db_sum = [np.zeros((3, 1)), np.zeros((1, 1))]
    dw_sum = [np.zeros((3, 2)), np.zeros((1, 3))]
    for x, y in EXAMPLES:
        db, dw = scalar_gradients([W1, W2], [B1, B2], x, y)
        for layer in range(2):
            db_sum[layer] += np.array(db[layer]).reshape(-1, 1)
            dw_sum[layer] += np.array(dw[layer])
    return db_sum, dw_sum


@pytest.fixture(scope="module")
def net_231():
    net = Network([2, 3, 1], seed=0, dtype="float64", mode="NUMBA", device="cpu")
    net.weights = [np.array(W1), np.array(W2)]
    net.biases = [np.array(B1).reshape(3, 1), np.array(B2).reshape(1, 1)]
    return net


def test_scalar_reference_agrees_with_finite_differences():
    """The test's own chain-rule code is itself right: central differences of the scalar cost."""
    h = 1e-6
    for x, y in EXAMPLES:
        db, dw = scalar_gradients([W1, W2], [B1, B2], x, y)
        params = [[list(r) for r in W1], [list(r) for r in W2]], [list(B1), list(B2)]
        ws, bs = params
        for layer in range(2):
            for j in range(len(bs[layer])):
                old = bs[layer][j]
                bs[layer][j] = old + h
                up = scalar_cost(ws, bs, x, y)
                bs[layer][j] = old - h
                down = scalar_cost(ws, bs, x, y)
                bs[layer][j] = old
                assert (up - down) / (2 * h) == pytest.approx(db[layer][j], abs=1e-9)
                for k in range(len(ws[layer][j])):
                    old = ws[layer][j][k]
                    ws[layer][j][k] = old + h
                    up = scalar_cost(ws, bs, x, y)
                    ws[layer][j][k] = old - h
                    down = scalar_cost(ws, bs, x, y)
                    ws[layer][j][k] = old
                    assert (up - down) / (2 * h) == pytest.approx(dw[layer][j][k], abs=1e-9)


def test_net_parameters_are_the_ones_set(net_231):
    np.testing.assert_array_equal(net_231.weights[0], np.array(W1))
    np.testing.assert_array_equal(net_231.weights[1], np.array(W2))
    np.testing.assert_array_equal(net_231.biases[0], np.array(B1).reshape(3, 1))
    np.testing.assert_array_equal(net_231.biases[1], np.array(B2).reshape(1, 1))


@pytest.mark.parametrize("method", ["backprop", "symbolic_gradients"])
def test_hand_computed_231_gradients(net_231, method):
    x = np.array([ex[0] for ex in EXAMPLES]).T  # (2, 2): columns are examples
    y = np.array([ex[1] for ex in EXAMPLES]).T  # (1, 2)
    exp_b, exp_w = hand_expected()
    nabla_b, nabla_w = getattr(net_231, method)(x, y)
    assert [g.shape for g in nabla_b] == [(3, 1), (1, 1)]
    assert [g.shape for g in nabla_w] == [(3, 2), (1, 3)]
    for got, want in zip([*nabla_b, *nabla_w], [*exp_b, *exp_w]):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
    # the gradient is not trivially zero
    assert min(np.abs(g).max() for g in [*exp_b, *exp_w]) > 1e-3


@pytest.mark.parametrize("method", ["backprop", "symbolic_gradients"])
def test_hand_computed_231_single_example(net_231, method):
    x, y = EXAMPLES[0]
    db, dw = scalar_gradients([W1, W2], [B1, B2], x, y)
    nabla_b, nabla_w = getattr(net_231, method)(np.array(x).reshape(2, 1), np.array(y).reshape(1, 1))
    for layer in range(2):
        np.testing.assert_allclose(nabla_b[layer], np.array(db[layer]).reshape(-1, 1), rtol=0, atol=1e-12)
        np.testing.assert_allclose(nabla_w[layer], np.array(dw[layer]), rtol=0, atol=1e-12)


def test_hand_computed_231_via_module_function():
    x = np.array([ex[0] for ex in EXAMPLES]).T
    y = np.array([ex[1] for ex in EXAMPLES]).T
    weights = [np.array(W1), np.array(W2)]
    biases = [np.array(B1).reshape(3, 1), np.array(B2).reshape(1, 1)]
    exp_b, exp_w = hand_expected()
    nabla_b, nabla_w = bp.backprop(weights, biases, x, y)
    for got, want in zip([*nabla_b, *nabla_w], [*exp_b, *exp_w]):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-13)
    cost = sum(scalar_cost([W1, W2], [B1, B2], xx, yy) for xx, yy in EXAMPLES)
    assert QuadraticCost.fn(bp.forward(weights, biases, x)[1][-1], y) == pytest.approx(cost, rel=1e-14)


# -- batch vs per-example, and the book's code ----------------------------------------


@pytest.mark.parametrize("sizes", [[2, 3, 1], [5, 4, 3], [6, 5, 4, 3], [10, 7, 6, 5, 2]])
def test_batch_equals_per_example_sum(sizes):
    weights, biases = random_params(sizes, seed=sum(sizes))
    rng = np.random.default_rng(len(sizes))
    x = rng.random((sizes[0], 7))
    y = rng.random((sizes[-1], 7))
    batch_b, batch_w = bp.backprop(weights, biases, x, y)
    per_b, per_w = bp.backprop_per_example(weights, biases, x, y)
    for got, want in zip([*batch_b, *batch_w], [*per_b, *per_w]):
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)
    # and each column's gradient is a real contribution: the sum differs from one column's
    one_b, _ = bp.backprop(weights, biases, x[:, :1], y[:, :1])
    assert not np.allclose(one_b[-1], batch_b[-1])


@pytest.mark.parametrize("sizes", [[5, 4, 3], [784, 30, 10], [8, 6, 6, 4]])
def test_backprop_matches_book_code(sizes):
    weights, biases = random_params(sizes, seed=7)
    rng = np.random.default_rng(8)
    x = rng.random((sizes[0], 4))
    y = np.eye(sizes[-1])[:, rng.integers(0, sizes[-1], 4)]
    got_b, got_w = bp.backprop(weights, biases, x, y)
    want_b, want_w = book_backprop(weights, biases, x, y)
    for got, want in zip([*got_b, *got_w], [*want_b, *want_w]):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-14)


def test_backprop_does_not_modify_its_arguments():
    weights, biases = random_params([5, 4, 3], seed=1)
    rng = np.random.default_rng(2)
    x, y = rng.random((5, 3)), rng.random((3, 3))
    copies = [a.copy() for a in (*weights, *biases, x, y)]
    bp.backprop(weights, biases, x, y)
    bp.backprop_per_example(weights, biases, x, y)
    for a, c in zip((*weights, *biases, x, y), copies):
        np.testing.assert_array_equal(a, c)


def test_forward_shapes_and_values():
    weights, biases = random_params([5, 4, 3], seed=3)
    x = np.random.default_rng(4).random((5, 6))
    zs, acts = bp.forward(weights, biases, x)
    assert [z.shape for z in zs] == [(4, 6), (3, 6)]
    assert [a.shape for a in acts] == [(5, 6), (4, 6), (3, 6)]
    assert acts[0] is x
    np.testing.assert_allclose(zs[0], weights[0] @ x + biases[0], rtol=1e-14)
    np.testing.assert_allclose(acts[2], 1 / (1 + np.exp(-(weights[1] @ acts[1] + biases[1]))), rtol=1e-13)


# -- sigmoid and friends -------------------------------------------------------------


def test_sigmoid_no_overflow_warning_at_large_z():
    z = np.array([-1000.0, -745.0, -50.0, 0.0, 50.0, 745.0, 1000.0])
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        s = bp.sigmoid(z)
        sp = bp.sigmoid_prime(z)
    assert s[0] == 0.0 and s[-1] == 1.0 and s[3] == 0.5
    assert np.all(np.diff(s) >= 0)
    assert np.all((sp >= 0) & (sp <= 0.25))
    assert sp[0] == 0.0 and sp[-1] == 0.0 and sp[3] == 0.25
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        assert bp.sigmoid(np.float32(-1000.0)) == 0.0
        assert bp.sigmoid(np.float32(1000.0)) == 1.0


@pytest.mark.parametrize("dtype, want", [(np.float32, np.float32), (np.float64, np.float64),
                                         (np.int64, np.float64)])
def test_sigmoid_keeps_a_float_dtype_and_makes_integers_float64(dtype, want):
    z = np.array([-90.0, -3.0, 0.0, 2.0]).astype(dtype)
    s = bp.sigmoid(z)
    assert s.dtype == want
    exact = 1 / (1 + np.exp(-z.astype(np.float64)))
    np.testing.assert_allclose(s[1:], exact[1:], rtol=1e-6 if want == np.float32 else 1e-15)
    # e^-90 is below float32's normal range only: 0 there, the number in float64
    assert s[0] == 0.0 if want == np.float32 else s[0] == pytest.approx(exact[0], rel=1e-15)


def test_sigmoid_matches_logistic_formula():
    z = np.linspace(-30, 30, 601)
    # the tanh form is accurate to ~1 ulp of 1 (absolute), not relatively for very negative z
    np.testing.assert_allclose(bp.sigmoid(z), 1 / (1 + np.exp(-z)), rtol=1e-13, atol=1e-16)
    s = 1 / (1 + np.exp(-z))
    # (at z = +30, 1 - s cancels, so compare absolutely)
    np.testing.assert_allclose(bp.sigmoid_prime(z), s * (1 - s), rtol=1e-10, atol=1e-15)
    # the derivative really is the derivative
    h = 1e-6
    np.testing.assert_allclose(bp.sigmoid_prime(z), (bp.sigmoid(z + h) - bp.sigmoid(z - h)) / (2 * h),
                               atol=1e-9)


def test_cost_derivative_and_quadratic_cost():
    rng = np.random.default_rng(5)
    a, y = rng.random((10, 3)), rng.random((10, 3))
    np.testing.assert_array_equal(bp.cost_derivative(a, y), a - y)
    weights, biases = random_params([4, 3, 2], seed=6)
    x, t = rng.random((4, 5)), rng.random((2, 5))
    out = 1 / (1 + np.exp(-(weights[1] @ (1 / (1 + np.exp(-(weights[0] @ x + biases[0])))) + biases[1])))
    cost = QuadraticCost.fn(bp.forward(weights, biases, x)[1][-1], t)
    assert cost == pytest.approx(0.5 * np.sum((out - t) ** 2), rel=1e-13)
    assert isinstance(cost, float)
