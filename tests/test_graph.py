"""Tests for dlpy35.engine.graph: the symbolic network, compiled in float64, against numpy formulas.

Everything is compiled with the NUMBA mode in float64 (two compiled functions for the
whole module, so a cold Numba cache costs two compiles).  Shapes follow graph.py:
row-wise batches X (m, n_in), weights (n_out, n_in), biases as vectors (n_out,).
"""

from __future__ import annotations

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from dlpy35.engine import graph
from dlpy35.engine.costs import QuadraticCost

SIZES = [6, 5, 4]
MODE = "NUMBA"


def np_sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def np_forward(x, weights, biases):
    """Row-wise: a -> sigma(a w^T + b); returns the list of activations (a[0] = x) and zs."""
    acts, zs = [x], []
    for w, b in zip(weights, biases):
        zs.append(acts[-1] @ w.T + b)
        acts.append(np_sigmoid(zs[-1]))
    return acts, zs


def np_gradients(x, y, weights, biases):
    """Gradients of 0.5 * sum((a^L - y)^2) over the rows, written row-wise for this test."""
    acts, zs = np_forward(x, weights, biases)
    delta = (acts[-1] - y) * acts[-1] * (1 - acts[-1])
    nb, nw = [None] * len(weights), [None] * len(weights)
    for layer in range(len(weights) - 1, -1, -1):
        nb[layer] = delta.sum(axis=0)
        nw[layer] = delta.T @ acts[layer]
        if layer:
            delta = (delta @ weights[layer]) * acts[layer] * (1 - acts[layer])
    return nb, nw


def np_cost(x, y, weights, biases):
    return 0.5 * np.sum((np_forward(x, weights, biases)[0][-1] - y) ** 2)


def np_sgd_step(x, y, eta, weights, biases):
    nb, nw = np_gradients(x, y, weights, biases)
    m = len(x)
    return ([w - eta / m * g for w, g in zip(weights, nw)],
            [b - eta / m * g for b, g in zip(biases, nb)],
            np_cost(x, y, weights, biases) / m)


def params(seed):
    rng = np.random.default_rng(seed)
    weights = [rng.standard_normal((o, i)) / np.sqrt(i) for i, o in zip(SIZES[:-1], SIZES[1:])]
    biases = [rng.standard_normal(o) for o in SIZES[1:]]
    return weights, biases


def symbolic_params():
    ws = [pt.matrix(f"w{k}", dtype="float64") for k in range(len(SIZES) - 1)]
    bs = [pt.vector(f"b{k}", dtype="float64") for k in range(len(SIZES) - 1)]
    return ws, bs


def correct_count(x, labels, weights, biases):
    """How many rows of `x` the network classifies as `labels` (argmax of ``a^L``): what the tests
    count with the graph's feedforward."""
    return pt.sum(pt.eq(pt.argmax(graph.feedforward(x, weights, biases), axis=1), labels), dtype="int64")


@pytest.fixture(scope="module")
def step_fn():
    """One function: feedforward, quadratic_cost, gradients and sgd_step, correct_count."""
    with pytensor.config.change_flags(floatX="float64"):
        x = pt.matrix("x", dtype="float64")
        y = pt.matrix("y", dtype="float64")
        labels = pt.vector("labels", dtype="int64")
        eta = pt.scalar("eta", dtype="float64")
        ws, bs = symbolic_params()
        a = graph.feedforward(x, ws, bs)
        cost = graph.total_cost(x, y, ws, bs)
        nb, nw, gcost = graph.gradients(x, y, ws, bs)
        new_w, new_b, mean_cost = graph.sgd_step(x, y, eta, ws, bs)
        count = correct_count(x, labels, ws, bs)
        outs = [a, cost, gcost, mean_cost, count, *nb, *nw, *new_w, *new_b]
        fn = pytensor.function([x, y, labels, eta, *ws, *bs], outs, mode=MODE)
    n = len(SIZES) - 1  # layers

    def call(xv, yv, lab, etav, weights, biases):
        out = fn(xv, yv, lab, etav, *weights, *biases)
        a, cost, gcost, mean_cost, count = out[:5]
        rest = out[5:]
        return {
            "a": a, "cost": cost, "gcost": gcost, "mean_cost": mean_cost, "count": count,
            "nb": rest[:n], "nw": rest[n:2 * n], "new_w": rest[2 * n:3 * n], "new_b": rest[3 * n:],
        }

    return call


@pytest.fixture(scope="module")
def epoch_fn():
    with pytensor.config.change_flags(floatX="float64"):
        batches = pt.matrix("batches", dtype="int64")
        data_x = pt.matrix("data_x", dtype="float64")
        data_y = pt.matrix("data_y", dtype="float64")
        eta = pt.scalar("eta", dtype="float64")
        ws, bs = symbolic_params()
        new_w, new_b, total = graph.sgd_epoch(batches, data_x, data_y, eta, ws, bs)
        fn = pytensor.function([batches, data_x, data_y, eta, *ws, *bs], [*new_w, *new_b, total], mode=MODE)
    n = len(SIZES) - 1  # layers

    def call(b, dx, dy, etav, weights, biases):
        out = fn(b, dx, dy, etav, *weights, *biases)
        return [np.array(o) for o in out[:n]], [np.array(o) for o in out[n:2 * n]], float(out[-1])

    return call


def test_the_sigmoid_nets_parameters_are_named_and_shaped_by_layer_weights_first():
    """``w1, w2, b1, b2``: the book's w^l and b^l of layers 2 and 3, numbered from the first hidden layer."""
    net = graph.SigmoidNet([5, 4, 3])
    assert net.param_names == ["w1", "w2", "b1", "b2"]
    assert net.param_shapes == [(4, 5), (3, 4), (4,), (3,)]


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(42)
    x = rng.random((12, SIZES[0]))
    labels = rng.integers(0, SIZES[-1], 12)
    y = np.eye(SIZES[-1])[labels]
    return x, y, labels


def test_feedforward_matches_numpy(step_fn, data):
    x, y, labels = data
    weights, biases = params(1)
    out = step_fn(x, y, labels, 0.5, weights, biases)
    want = np_forward(x, weights, biases)[0][-1]
    assert out["a"].shape == (12, SIZES[-1])
    np.testing.assert_allclose(out["a"], want, rtol=1e-13, atol=1e-15)
    # and the book's column form gives the same numbers, transposed
    a = x.T
    for w, b in zip(weights, biases):
        a = np_sigmoid(w @ a + b[:, None])
    np.testing.assert_allclose(out["a"], a.T, rtol=1e-13)


def test_quadratic_cost_matches_numpy(step_fn, data):
    x, y, labels = data
    weights, biases = params(2)
    out = step_fn(x, y, labels, 0.5, weights, biases)
    want = np_cost(x, y, weights, biases)
    assert float(out["cost"]) == pytest.approx(want, rel=1e-13)
    assert float(out["gcost"]) == pytest.approx(want, rel=1e-13)
    assert float(out["mean_cost"]) == pytest.approx(want / len(x), rel=1e-13)
    # eval() of the bare expression on constants
    z = np.random.default_rng(3).standard_normal((4, 3))
    t = np.random.default_rng(4).random((4, 3))
    with pytensor.config.change_flags(floatX="float64"):
        val = QuadraticCost.symbolic(pt.as_tensor_variable(z), pt.as_tensor_variable(t)).eval(mode=MODE)
    assert float(val) == pytest.approx(0.5 * np.sum((np_sigmoid(z) - t) ** 2), rel=1e-14)


def test_gradients_match_numpy(step_fn, data):
    x, y, labels = data
    weights, biases = params(3)
    out = step_fn(x, y, labels, 0.5, weights, biases)
    nb, nw = np_gradients(x, y, weights, biases)
    for got, want in zip([*out["nb"], *out["nw"]], [*nb, *nw]):
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-14)
        assert np.abs(want).max() > 1e-4


@pytest.mark.parametrize("reg", ["l2", "l1"])
def test_sgd_step_with_a_regulariser_moves_the_weights_as_eqs_93_and_97(data, reg):
    """L2: w -> (1 - decay) w - (eta/m) dC/dw (eq. 93); L1: w -> w - decay sgn(w) - (eta/m) dC/dw (eq. 97).

    Biases are not regularised.  Compiled with FAST_COMPILE: one small function, no Numba compile.
    """
    x, y, _ = data
    weights, biases = params(5)
    eta, decay = 0.7, 0.01
    with pytensor.config.change_flags(floatX="float64"):
        xs, ys = pt.matrix("x", dtype="float64"), pt.matrix("y", dtype="float64")
        ws, bs = symbolic_params()
        new_w, new_b, _ = graph.sgd_step(xs, ys, eta, ws, bs, reg=reg, decay=decay)
        fn = pytensor.function([xs, ys, *ws, *bs], [*new_w, *new_b], mode="FAST_COMPILE")
    out = fn(x, y, *weights, *biases)
    plain_w, plain_b, _ = np_sgd_step(x, y, eta, weights, biases)
    shrink = [decay * w if reg == "l2" else decay * np.sign(w) for w in weights]
    for got, want, s in zip(out[:len(weights)], plain_w, shrink):
        np.testing.assert_allclose(got, want - s, rtol=1e-12, atol=1e-14)
    for got, want in zip(out[len(weights):], plain_b):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


def test_sgd_step_matches_numpy(step_fn, data):
    x, y, labels = data
    weights, biases = params(4)
    eta = 0.75
    out = step_fn(x, y, labels, eta, weights, biases)
    want_w, want_b, want_cost = np_sgd_step(x, y, eta, weights, biases)
    for got, want, old in zip([*out["new_w"], *out["new_b"]], [*want_w, *want_b], [*weights, *biases]):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-13)
        assert np.abs(got - old).max() > 1e-5  # a real step was taken
    assert float(out["mean_cost"]) == pytest.approx(want_cost, rel=1e-13)


def test_correct_count(step_fn, data):
    x, y, labels = data
    weights, biases = params(5)
    out = step_fn(x, y, labels, 0.5, weights, biases)
    guesses = np.argmax(np_forward(x, weights, biases)[0][-1], axis=1)
    assert int(out["count"]) == int(np.sum(guesses == labels))
    # all labels set to the guesses -> every row counts
    assert int(step_fn(x, y, guesses.astype(np.int64), 0.5, weights, biases)["count"]) == len(x)


def test_sgd_epoch_equals_sequential_steps(step_fn, epoch_fn, data):
    """sgd_epoch over 3 mini-batches (shuffled rows) equals three sgd_step calls in order."""
    x, y, labels = data
    weights, biases = params(6)
    eta = 2.0
    perm = np.random.default_rng(7).permutation(len(x))
    batches = perm.reshape(3, 4).astype(np.int64)
    got_w, got_b, total = epoch_fn(batches, x, y, eta, weights, biases)

    w, b, costs = weights, biases, []
    nw_, nb_ = weights, biases  # the numpy reference in parallel
    np_costs = []
    for rows in batches:
        out = step_fn(x[rows], y[rows], labels[rows], eta, w, b)
        w, b = [np.array(v) for v in out["new_w"]], [np.array(v) for v in out["new_b"]]
        costs.append(float(out["mean_cost"]))
        nw_, nb_, c = np_sgd_step(x[rows], y[rows], eta, nw_, nb_)
        np_costs.append(c)
    for got, want in zip([*got_w, *got_b], [*w, *b]):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-13)
    for got, want in zip([*got_w, *got_b], [*nw_, *nb_]):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
    assert total == pytest.approx(sum(costs), rel=1e-13)
    assert total == pytest.approx(sum(np_costs), rel=1e-12)
    # order matters: a different batch order gives different weights (so the check above is not vacuous)
    other_w, _, _ = epoch_fn(batches[::-1].copy(), x, y, eta, weights, biases)
    assert np.abs(other_w[0] - got_w[0]).max() > 1e-8


def test_sgd_epoch_single_batch_equals_one_step(step_fn, epoch_fn, data):
    x, y, labels = data
    weights, biases = params(8)
    rows = np.arange(len(x), dtype=np.int64)[None, :]
    got_w, got_b, total = epoch_fn(rows, x, y, 1.5, weights, biases)
    out = step_fn(x, y, labels, 1.5, weights, biases)
    for got, want in zip([*got_w, *got_b], [*out["new_w"], *out["new_b"]]):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-14)
    assert total == pytest.approx(float(out["mean_cost"]), rel=1e-14)
