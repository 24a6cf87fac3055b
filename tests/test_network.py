"""Tests for dlpy35.network.Network: the book's network.py API on a PyTensor graph.

Two configurations are exercised on the CPU: NUMBA in float64 (exact comparisons with
numpy) and JAX in float32 (the default float32 CPU path; JAX stays in float32 so the
process never switches ``jax_enable_x64`` on).  The references (forward pass,
backprop, SGD step) are written here in numpy, independently of dlpy35.engine.backprop.
Small [784, 30, 10] networks on a few hundred real MNIST examples keep each test fast
once the Numba and JAX caches are warm.
"""

from __future__ import annotations

import math
import re
from types import SimpleNamespace

import numpy as np
import pytest

from dlpy35.network import Network, TrainingDiverged

CONFIGS = {
    "NUMBA-float64": dict(mode="NUMBA", dtype="float64"),
    "JAX-float32": dict(mode="JAX", dtype="float32"),
}
# absolute tolerance on weights after a few SGD steps, per dtype.  float32 (JAX against the float64
# numpy reference): measured at most 3.1e-7 (AMD EPYC, AVX-512, and with XLA_FLAGS=
# --xla_cpu_max_isa=AVX2 or SSE4_2, or OPENBLAS_CORETYPE=Sandybridge); 1e-5 leaves a 30x margin.
# A step's moves are > 1e-3.
TOL = {"float64": 1e-10, "float32": 1e-5}
SIZES = [784, 30, 10]


def make(cfg, seed=0, sizes=SIZES, **kw):
    return Network(list(sizes), seed=seed, device="cpu", **CONFIGS[cfg], **kw)


# -- numpy references -----------------------------------------------------------------


def np_sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def np_feedforward(weights, biases, a):
    """The book's feedforward on columns a (n_in, k), in float64."""
    a = np.asarray(a, np.float64)
    for w, b in zip(weights, biases):
        a = np_sigmoid(np.asarray(w, np.float64) @ a + np.asarray(b, np.float64))
    return a


def np_backprop(weights, biases, x, y):
    """Gradient of sum_x ||a^L - y||^2 / 2 over the columns of x, in float64."""
    weights = [np.asarray(w, np.float64) for w in weights]
    biases = [np.asarray(b, np.float64) for b in biases]
    acts = [np.asarray(x, np.float64)]
    for w, b in zip(weights, biases):
        acts.append(np_sigmoid(w @ acts[-1] + b))
    delta = (acts[-1] - y) * acts[-1] * (1 - acts[-1])
    nb, nw = [None] * len(weights), [None] * len(weights)
    for layer in range(len(weights) - 1, -1, -1):
        nb[layer] = delta.sum(axis=1, keepdims=True)
        nw[layer] = delta @ acts[layer].T
        if layer:
            delta = (weights[layer].T @ delta) * acts[layer] * (1 - acts[layer])
    return nb, nw


def np_sgd_step(weights, biases, x, y, eta):
    nb, nw = np_backprop(weights, biases, x, y)
    m = x.shape[1]
    return ([np.asarray(w, np.float64) - eta / m * g for w, g in zip(weights, nw)],
            [np.asarray(b, np.float64) - eta / m * g for b, g in zip(biases, nb)])


def np_cost(weights, biases, x, y):
    return 0.5 * float(np.sum((np_feedforward(weights, biases, x) - y) ** 2))


def params(net):
    return [w.astype(np.float64) for w in net.weights], [b.astype(np.float64) for b in net.biases]


def assert_params_close(net, weights, biases, atol):
    for got, want in zip(net.weights + net.biases, list(weights) + list(biases)):
        assert got.shape == np.shape(want)
        np.testing.assert_allclose(got.astype(np.float64), want, rtol=0, atol=atol)


def assert_params_equal(net_a, net_b):
    for a, b in zip(net_a.weights + net_a.biases, net_b.weights + net_b.biases):
        np.testing.assert_array_equal(a, b)


def max_param_diff(net_a, net_b):
    return max(float(np.abs(a - b).max())
               for a, b in zip(net_a.weights + net_a.biases, net_b.weights + net_b.biases))


# -- data -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def d(mnist):
    """200 training and 100 test examples of the real MNIST, in every accepted form."""
    (tx, ty), _, (sx, sy) = mnist
    x_all, labels = np.array(tx[:200]), np.array(ty[:200])
    y_all = np.eye(10, dtype=np.float32)[labels]
    test_x, test_labels = np.array(sx[:100]), np.array(sy[:100])
    return SimpleNamespace(
        X=x_all, labels=labels, Y=y_all, TX=test_x, TL=test_labels,
        # the book's training_data and test_data
        pairs=[(x.reshape(784, 1), y.reshape(10, 1)) for x, y in zip(x_all, y_all)],
        test_pairs=[(x.reshape(784, 1), int(label)) for x, label in zip(test_x, test_labels)],
    )


# -- construction, parameters ---------------------------------------------------------


def test_initial_parameters_shapes_and_seed():
    net = make("NUMBA-float64", seed=11)
    assert net.sizes == SIZES and net.num_layers == 3
    assert [w.shape for w in net.weights] == [(30, 784), (10, 30)]
    assert [b.shape for b in net.biases] == [(30, 1), (10, 1)]
    assert all(p.dtype == np.float64 for p in net.weights + net.biases)
    # N(0, 1), as in the book
    w = net.weights[0]
    assert abs(w.mean()) < 0.05 and abs(w.std() - 1) < 0.05
    # same seed, same draws; float32 networks hold the same numbers rounded
    assert_params_equal(net, make("NUMBA-float64", seed=11))
    j = make("JAX-float32", seed=11)
    for a, b in zip(j.weights + j.biases, net.weights + net.biases):
        assert a.dtype == np.float32
        np.testing.assert_array_equal(a, b.astype(np.float32))
    assert not np.array_equal(make("NUMBA-float64", seed=12).weights[0], w)


def test_weights_are_copies_and_settable():
    net = make("NUMBA-float64", seed=1)
    w = net.weights
    w[0][:] = 0.0
    assert np.abs(net.weights[0]).max() > 0  # reading gives copies
    new_w = [np.full((30, 784), 0.5), np.full((10, 30), -0.25)]
    new_b = [np.full((30, 1), 0.125), np.zeros((10, 1))]
    net.weights, net.biases = new_w, new_b
    assert_params_close(net, new_w, new_b, atol=0)
    with pytest.raises(ValueError, match=r"weights: expected arrays of shapes \[\(30, 784\), \(10, 30\)\]"):
        net.weights = [np.zeros((784, 30)), np.zeros((10, 30))]
    with pytest.raises(ValueError, match=r"biases: expected arrays of shapes"):
        net.biases = [np.zeros(30), np.zeros(10)]


# -- feedforward, evaluate, cost_derivative -------------------------------------------


@pytest.mark.parametrize("cfg", CONFIGS)
def test_feedforward_matches_numpy(cfg, d):
    net = make(cfg, seed=2)
    # float32 against numpy's float64: measured at most 2.4e-7 (as for TOL): a 40x margin
    tol = {"NUMBA-float64": 1e-12, "JAX-float32": 1e-5}[cfg]
    w, b = params(net)
    x = d.TX[0].reshape(784, 1)
    out = net.feedforward(x)
    assert out.shape == (10, 1)
    np.testing.assert_allclose(out, np_feedforward(w, b, x), rtol=0, atol=tol)
    cols = d.TX[:7].T  # (784, 7)
    out_k = net.feedforward(cols)
    assert out_k.shape == (10, 7)
    np.testing.assert_allclose(out_k, np_feedforward(w, b, cols), rtol=0, atol=tol)
    np.testing.assert_allclose(out_k[:, :1], out, rtol=0, atol=tol)
    flat = net.feedforward(d.TX[0])  # a 1-D input is one column
    assert flat.shape == (10,)
    np.testing.assert_allclose(flat, out.ravel(), rtol=0, atol=tol)
    assert np.all((out_k > 0) & (out_k < 1))


@pytest.mark.parametrize("cfg", CONFIGS)
def test_evaluate_matches_numpy_count(cfg, d):
    net = make(cfg, seed=3)
    # a few steps so the count is not near zero and depends on the weights
    net.SGD((d.X, d.labels), 2, 10, 3.0, verbose=False)
    w, b = params(net)
    want = int(np.sum(np.argmax(np_feedforward(w, b, d.TX.T), axis=0) == d.TL))
    got = net.evaluate(d.test_pairs)
    assert type(got) is int
    # Exact although float32 meets float64: the outputs differ by at most 7.4e-7 and the smallest
    # top-2 margin was 5.8e-5 (measured, here and for the count checks of the SGD tests below).
    assert got == want
    assert net.evaluate((d.TX, d.TL)) == want
    assert net.evaluate((d.TX, np.eye(10)[d.TL])) == want
    assert net.evaluate(d.test_pairs[:10]) == int(
        np.sum(np.argmax(np_feedforward(w, b, d.TX[:10].T), axis=0) == d.TL[:10]))
    assert want > 20  # better than chance (10 / 100) after training


def test_cost_derivative():
    net = make("NUMBA-float64")
    rng = np.random.default_rng(0)
    a, y = rng.random((10, 1)), np.eye(10)[:, 3:4]
    np.testing.assert_array_equal(net.cost_derivative(a, y), a - y)
    a2 = rng.random((10, 5))
    np.testing.assert_array_equal(net.cost_derivative(a2, np.zeros((10, 5))), a2)


# -- update_mini_batch: one step against numpy ----------------------------------------


@pytest.mark.parametrize("cfg", CONFIGS)
def test_update_mini_batch_equals_numpy_step(cfg, d):
    net = make(cfg, seed=5)
    w0, b0 = params(net)
    mini_batch = d.pairs[:10]
    eta = 3.0
    net.update_mini_batch(mini_batch, eta)
    x = np.hstack([p[0] for p in mini_batch]).astype(np.float64)
    y = np.hstack([p[1] for p in mini_batch]).astype(np.float64)
    want_w, want_b = np_sgd_step(w0, b0, x, y, eta)
    assert_params_close(net, want_w, want_b, atol=TOL[net.dtype])
    # the step is real: every layer moved by much more than the tolerance
    for new, old in zip(net.weights + net.biases, w0 + b0):
        assert np.abs(new - old).max() > 100 * TOL["float32"]
    # a second step continues from the first
    net.update_mini_batch(d.pairs[10:20], 0.5)
    x2 = np.hstack([p[0] for p in d.pairs[10:20]]).astype(np.float64)
    y2 = np.hstack([p[1] for p in d.pairs[10:20]]).astype(np.float64)
    want_w, want_b = np_sgd_step(want_w, want_b, x2, y2, 0.5)
    assert_params_close(net, want_w, want_b, atol=2 * TOL[net.dtype])


@pytest.mark.parametrize("cfg", CONFIGS)
def test_update_mini_batch_array_form_is_the_same(cfg, d):
    a, b, c = make(cfg, seed=6), make(cfg, seed=6), make(cfg, seed=6)
    a.update_mini_batch(d.pairs[:10], 1.0)
    b.update_mini_batch((d.X[:10], d.Y[:10]), 1.0)
    c.update_mini_batch((d.X[:10], d.labels[:10]), 1.0)
    assert_params_equal(a, b)
    assert_params_equal(a, c)


# -- SGD ------------------------------------------------------------------------------


def test_sgd_prints_book_lines_with_test_data(d, capsys):
    net = make("JAX-float32", seed=7)
    history = net.SGD(d.pairs, 2, 10, 3.0, test_data=d.test_pairs)
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert out.endswith("\n")
    assert len(lines) == 2
    for j, line in enumerate(lines):
        m = re.fullmatch(rf"Epoch {j} : (\d+) / 100", line)
        assert m, line
        assert int(m.group(1)) == history[j]["correct"]
    # the last epoch's count is the count of the final weights
    w, b = params(net)
    assert history[-1]["correct"] == int(np.sum(np.argmax(np_feedforward(w, b, d.TX.T), axis=0) == d.TL))


def test_sgd_prints_complete_without_test_data(d, capsys):
    net = make("JAX-float32", seed=7)
    history = net.SGD(d.pairs, 3, 10, 3.0)
    assert capsys.readouterr().out == "Epoch 0 complete\nEpoch 1 complete\nEpoch 2 complete\n"
    assert [h["correct"] for h in history] == [None] * 3
    assert [h["n_test"] for h in history] == [None] * 3
    net.SGD(d.pairs, 1, 10, 3.0, test_data=d.test_pairs, verbose=False)
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("cfg", CONFIGS)
def test_sgd_history(cfg, d):
    net = make(cfg, seed=8)
    history = net.SGD((d.X, d.labels), 3, 10, 3.0, test_data=(d.TX, d.TL), verbose=False)
    assert isinstance(history, list) and len(history) == 3
    for j, rec in enumerate(history):
        assert set(rec) == {"epoch", "cost", "seconds", "correct", "n_test"}
        assert rec["epoch"] == j
        assert isinstance(rec["cost"], float) and math.isfinite(rec["cost"])
        assert 0 < rec["cost"] <= 10 / 2  # the mean quadratic cost of 10 sigmoid outputs is at most 5
        assert isinstance(rec["seconds"], float) and rec["seconds"] > 0
        assert type(rec["correct"]) is int and rec["n_test"] == 100
    w, b = params(net)  # the last epoch's count is the numpy forward pass's, on the final weights
    assert history[-1]["correct"] == int(np.sum(np.argmax(np_feedforward(w, b, d.TX.T), axis=0) == d.TL))
    # the cost falls while training on 200 examples at eta 3
    assert history[-1]["cost"] < history[0]["cost"]
    assert net.SGD((d.X, d.labels), 0, 10, 3.0) == []


@pytest.mark.parametrize("cfg", CONFIGS)
def test_sgd_one_full_batch_equals_one_numpy_step(cfg, d):
    """mini_batch_size == n: one step whatever the shuffle; the recorded cost is that of the start."""
    net = make(cfg, seed=9)
    w0, b0 = params(net)
    n, eta = 40, 2.0
    history = net.SGD((d.X[:n], d.labels[:n]), 1, n, eta, verbose=False)
    x, y = d.X[:n].T.astype(np.float64), d.Y[:n].T.astype(np.float64)
    want_w, want_b = np_sgd_step(w0, b0, x, y, eta)
    assert_params_close(net, want_w, want_b, atol=TOL[net.dtype])
    rel = 1e-10 if net.dtype == "float64" else 1e-5
    assert history[0]["cost"] == pytest.approx(np_cost(w0, b0, x, y) / n, rel=rel)


@pytest.mark.parametrize("epoch_mode", ["scan", "step"])
@pytest.mark.parametrize("cfg", CONFIGS)
def test_sgd_short_last_mini_batch_is_used(cfg, epoch_mode, d):
    """n=25, mini_batch_size=10: three updates, the last over 5 examples.

    All 25 examples are the same, so the shuffle cannot matter: each update is
    ``eta * grad(example)`` whatever the batch size -- three of them, not two (a dropped
    short batch) and not 2.5 (a short batch divided by 10).
    """
    net = make(cfg, seed=10, epoch_mode=epoch_mode)
    w, b = params(net)
    x1, lab = d.X[3:4], d.labels[3:4]
    xs, labels = np.repeat(x1, 25, axis=0), np.repeat(lab, 25)
    eta = 2.0
    net.SGD((xs, labels), 1, 10, eta, verbose=False)
    col, ycol = x1.T.astype(np.float64), np.eye(10)[lab].T
    for _ in range(3):
        w, b = np_sgd_step(w, b, col, ycol, eta)
    assert_params_close(net, w, b, atol=TOL[net.dtype])


@pytest.mark.parametrize("cfg", CONFIGS)
def test_scan_and_step_epochs_agree(cfg, d):
    """Same seed, same data, n=25 and mini-batches of 10: the scan path also runs the short step."""
    data = (d.X[:25], d.labels[:25])
    scan, step = make(cfg, seed=12, epoch_mode="scan"), make(cfg, seed=12, epoch_mode="step")
    hs = scan.SGD(data, 2, 10, 3.0, test_data=(d.TX, d.TL), verbose=False)
    ht = step.SGD(data, 2, 10, 3.0, test_data=(d.TX, d.TL), verbose=False)
    # the scan and the step compile the same update: measured bit-identical in float32 too (as
    # for TOL), so 1e-6 is not loosened
    atol = 1e-12 if scan.dtype == "float64" else 1e-6
    for a, b in zip(scan.weights + scan.biases, step.weights + step.biases):
        np.testing.assert_allclose(a, b, rtol=0, atol=atol)
    for a, b in zip(hs, ht):
        assert a["cost"] == pytest.approx(b["cost"], rel=1e-6)
    assert max_param_diff(scan, make(cfg, seed=12)) > 1e-3  # training moved the weights


@pytest.mark.parametrize("cfg", CONFIGS)
def test_sgd_data_forms_give_identical_weights(cfg, d):
    n = 50
    forms = {
        "pairs": d.pairs[:n],
        "zip": zip([p[0] for p in d.pairs[:n]], [p[1] for p in d.pairs[:n]]),
        "onehot": (d.X[:n], d.Y[:n]),
        "labels": (d.X[:n], d.labels[:n]),
    }
    nets = {}
    for name, data in forms.items():
        nets[name] = make(cfg, seed=13)
        nets[name].SGD(data, 1, 10, 3.0, verbose=False)
    for name in ("zip", "onehot", "labels"):
        assert_params_equal(nets["pairs"], nets[name])
    assert max_param_diff(nets["pairs"], make(cfg, seed=13)) > 1e-3


@pytest.mark.parametrize("cfg", CONFIGS)
def test_sgd_seeds(cfg, d):
    data, test = (d.X[:100], d.labels[:100]), (d.TX, d.TL)
    a, b = make(cfg, seed=21), make(cfg, seed=21)
    ha = a.SGD(data, 2, 10, 3.0, test_data=test, verbose=False)
    hb = b.SGD(data, 2, 10, 3.0, test_data=test, verbose=False)
    assert_params_equal(a, b)
    assert [h["correct"] for h in ha] == [h["correct"] for h in hb]
    assert [h["cost"] for h in ha] == [h["cost"] for h in hb]
    # a different seed: different start and different result
    c = make(cfg, seed=22)
    c.SGD(data, 2, 10, 3.0, verbose=False)
    assert max_param_diff(a, c) > 1e-2
    # the seed also drives the shuffle: same start, different seed -> different weights
    e = make(cfg, seed=23)
    e.weights, e.biases = make(cfg, seed=21).weights, make(cfg, seed=21).biases
    e.SGD(data, 2, 10, 3.0, verbose=False)
    assert max_param_diff(a, e) > 1e-4


@pytest.mark.parametrize("epoch_mode", ["scan", "step"])
def test_sgd_progress_callback(epoch_mode, d):
    net = make("JAX-float32", seed=14, epoch_mode=epoch_mode)
    calls = []
    records = []
    history = net.SGD((d.X[:95], d.labels[:95]), 2, 10, 3.0, test_data=(d.TX, d.TL), verbose=False,
                      progress=lambda *a: calls.append(a), on_epoch=records.append)
    assert records == history and [r["epoch"] for r in records] == [0, 1]  # each epoch's dict, as it ends
    assert calls, "progress was never called"
    for epoch in (0, 1):
        mine = [c for c in calls if c[0] == epoch]
        assert mine and mine[-1] == (epoch, 10, 10)  # 9 full batches and a short one
        done = [c[1] for c in mine]
        assert done == sorted(done) and all(c[2] == 10 for c in mine)


# -- bad input ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(sizes=[784]), r"sizes needs at least two layers"),
        (dict(sizes=[]), r"sizes needs at least two layers"),
        (dict(sizes=[784, 0, 10]), r"sizes must contain positive integers"),
        (dict(sizes=[784, -30, 10]), r"sizes must contain positive integers"),
        (dict(sizes=[784, 30.0, 10]), r"sizes must contain positive integers"),
        (dict(sizes=[784, "30", 10]), r"sizes must contain positive integers"),
        (dict(sizes=[784, 30.5, 10]), r"sizes must contain positive integers"),
        (dict(sizes=784), r"sizes must be a list of layer sizes"),
        (dict(device="tpu"), r"device must be one of \('auto', 'cuda', 'cpu'\), got 'tpu'"),
        (dict(dtype="float16"), r"dtype must be one of \('float32', 'float64'\), got 'float16'"),
        (dict(epoch_mode="x"), r"epoch_mode must be one of \('scan', 'step'\), got 'x'"),
    ],
)
def test_bad_constructor_arguments(kwargs, match):
    kwargs = {"sizes": [784, 30, 10], **kwargs}
    with pytest.raises(ValueError, match=match):
        Network(**kwargs)


@pytest.fixture(scope="module")
def vnet():
    """A network for the validation tests: nothing here compiles, and its weights must not move."""
    return make("NUMBA-float64", seed=30)


@pytest.fixture
def unchanged(vnet):
    before = vnet.weights + vnet.biases
    yield vnet
    for a, b in zip(vnet.weights + vnet.biases, before):
        np.testing.assert_array_equal(a, b)


ETA_MSG = r"eta \(the learning rate\) must be a finite number > 0"


@pytest.mark.parametrize("eta", [0, 0.0, -1.0, math.nan, math.inf, -math.inf, "3.0", None])
def test_bad_eta(eta, d, unchanged):
    with pytest.raises(ValueError, match=rf"{ETA_MSG}, got {re.escape(repr(eta))}"):
        unchanged.SGD((d.X[:50], d.labels[:50]), 1, 10, eta)
    with pytest.raises(ValueError, match=ETA_MSG):
        unchanged.update_mini_batch(d.pairs[:10], eta)


@pytest.mark.parametrize("m", [0, -1, 51, 2.5, None])
def test_bad_mini_batch_size(m, d, unchanged):
    with pytest.raises(ValueError,
                       match=rf"mini_batch_size must be an integer in 1\.\.50, got {re.escape(repr(m))}"):
        unchanged.SGD((d.X[:50], d.labels[:50]), 1, m, 3.0)


def test_bad_epochs(d, unchanged):
    with pytest.raises(ValueError, match=r"epochs must be an integer in >= 0, got -1"):
        unchanged.SGD((d.X[:50], d.labels[:50]), -1, 10, 3.0)


WIDTH = (r"inputs have 783 values each, but the network's input layer sizes\[0\] is 784; "
         r"give inputs of width 784")


def test_input_width_mismatch(d, unchanged):
    x783 = d.X[:20, :783]
    with pytest.raises(ValueError, match=rf"^training_data: {WIDTH}"):
        unchanged.SGD((x783, d.labels[:20]), 1, 10, 3.0)
    with pytest.raises(ValueError, match=rf"^training_data: {WIDTH}"):
        unchanged.SGD([(x.reshape(783, 1), y) for x, (_, y) in zip(x783, d.pairs)], 1, 10, 3.0)
    with pytest.raises(ValueError, match=rf"^test_data: {WIDTH}"):
        unchanged.SGD((d.X[:20], d.labels[:20]), 1, 10, 3.0, test_data=(d.TX[:10, :783], d.TL[:10]))
    with pytest.raises(ValueError, match=rf"^test_data: {WIDTH}"):
        unchanged.SGD((d.X[:20], d.labels[:20]), 1, 10, 3.0,
                      test_data=[(x[:783].reshape(783, 1), label) for x, label in zip(d.TX[:10], d.TL)])
    with pytest.raises(ValueError, match=rf"^test_data: {WIDTH}"):
        unchanged.evaluate((d.TX[:10, :783], d.TL[:10]))
    with pytest.raises(ValueError, match=rf"^feedforward input: {WIDTH}"):
        unchanged.feedforward(np.zeros((783, 1)))
    with pytest.raises(ValueError, match=rf"^feedforward input: {WIDTH}"):
        unchanged.feedforward(np.zeros((783, 4)))
    with pytest.raises(ValueError, match=rf"^mini_batch: {WIDTH}"):
        unchanged.update_mini_batch((x783[:10], d.labels[:10]), 3.0)
    with pytest.raises(ValueError, match=rf"^x: {WIDTH}"):
        unchanged.backprop(np.zeros((783, 1)), np.zeros((10, 1)))


@pytest.mark.parametrize("bad", [10, 11, -1])
def test_labels_out_of_range(bad, d, unchanged):
    msg = rf"label {bad} is outside the output range; labels must be integers in 0\.\.9"
    labels = d.labels[:20].copy()
    labels[7] = bad
    with pytest.raises(ValueError, match=rf"^training_data: {msg}"):
        unchanged.SGD((d.X[:20], labels), 1, 10, 3.0)
    with pytest.raises(ValueError, match=rf"^training_data: {msg}"):
        unchanged.SGD([(x.reshape(784, 1), int(label)) for x, label in zip(d.X[:20], labels)], 1, 10, 3.0)
    test_labels = d.TL[:10].copy()
    test_labels[3] = bad
    with pytest.raises(ValueError, match=rf"^test_data: {msg}"):
        unchanged.SGD((d.X[:20], d.labels[:20]), 1, 10, 3.0, test_data=(d.TX[:10], test_labels))
    with pytest.raises(ValueError, match=rf"^test_data: {msg}"):
        unchanged.SGD(d.pairs[:20], 1, 10, 3.0, test_data=[(x.reshape(784, 1), int(label))
                                                           for x, label in zip(d.TX[:10], test_labels)])
    with pytest.raises(ValueError, match=rf"^test_data: {msg}"):
        unchanged.evaluate((d.TX[:10], test_labels))


def test_one_hot_width_mismatch(d, unchanged):
    with pytest.raises(ValueError, match=r"^training_data: targets must be one-hot rows of width 10"):
        unchanged.SGD((d.X[:20], np.eye(11)[d.labels[:20]]), 1, 10, 3.0)
    with pytest.raises(ValueError, match=r"^y: expected shape \(10, 1\)"):
        unchanged.backprop(np.zeros((784, 1)), np.zeros((9, 1)))


def test_empty_and_nan_training_data(d, unchanged):
    with pytest.raises(ValueError, match=r"^training_data is empty"):
        unchanged.SGD([], 1, 10, 3.0)
    xs = d.X[:20].copy()
    xs[4, 100] = np.nan
    with pytest.raises(ValueError, match=r"^training_data: inputs contain NaN or infinity"):
        unchanged.SGD((xs, d.labels[:20]), 1, 10, 3.0)


def test_empty_array_training_data_rejected_as_empty(unchanged):
    """``(X, Y)`` with no rows deserves the same message as ``[]``, not one about mini_batch_size 1..0."""
    with pytest.raises(ValueError, match=r"training_data.*empty"):
        unchanged.SGD((np.zeros((0, 784), np.float32), np.zeros(0, np.int64)), 1, 10, 3.0)


@pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")
def test_eta_that_overflows_float32_rejected(d):
    """eta = 1e39 is finite in Python but inf in a float32 network: it must be refused up front."""
    net = make("JAX-float32", seed=31)
    before = net.weights
    with pytest.raises(ValueError, match=ETA_MSG):
        net.SGD((d.X[:20], d.labels[:20]), 1, 10, 1e39, verbose=False)
    for a, b in zip(net.weights, before):
        np.testing.assert_array_equal(a, b)


# -- divergence -----------------------------------------------------------------------


def test_absurd_eta_raises_training_diverged(d):
    """The issue's case: float32, eta 1e30 after one normal epoch.

    Raises TrainingDiverged and keeps the weights from the end of the normal epoch.
    """
    net = make("JAX-float32", seed=40)
    data = (d.X, d.labels)
    net.SGD(data, 1, 10, 3.0, verbose=False)
    good_w, good_b = net.weights, net.biases
    with pytest.raises(TrainingDiverged):
        net.SGD(data, 1, 10, 1e30, verbose=False)
    for got, want in zip(net.weights + net.biases, good_w + good_b):
        np.testing.assert_array_equal(got, want)
        assert np.all(np.isfinite(got))


def poison(net, layer, value):
    """Put `value` into one weight on the device, behind the public setter (which refuses
    non-finite values): the only way to make a sigmoid network's training non-finite on
    purpose at a chosen epoch."""
    w = net.weights[layer]
    w[0, 0] = value
    net.device.assign(net.trainer.params[layer], w)


def test_weights_setter_refuses_non_finite():
    net = make("NUMBA-float64", seed=43)
    w = net.weights
    w[0][0, 0] = np.nan
    with pytest.raises(ValueError, match=r"weights: values must be finite"):
        net.weights = w


@pytest.mark.parametrize("epoch_mode", ["scan", "step"])
@pytest.mark.parametrize("cfg", CONFIGS)
def test_divergence_keeps_weights_of_last_finite_epoch(cfg, epoch_mode, d):
    """Epoch 0 trains normally; during epoch 1 the weights turn NaN (injected from the progress
    callback, which runs between mini-batches).  SGD raises and the network holds the weights
    from the end of epoch 0 -- and can train again."""
    net = make(cfg, seed=41, epoch_mode=epoch_mode)
    start = net.weights
    seen = {}

    def progress(epoch, done, total):
        if epoch == 0 and done == total:
            seen["end0"] = net.weights + net.biases
        if epoch == 1 and "poisoned" not in seen:
            seen["poisoned"] = True
            poison(net, 0, np.nan)

    data = (d.X[:100], d.labels[:100])
    with pytest.raises(TrainingDiverged, match=r"epoch 1: .*NaN, infinite or too large"):
        net.SGD(data, 3, 10, 3.0, verbose=False, progress=progress)
    assert seen.get("poisoned")
    for got, want in zip(net.weights + net.biases, seen["end0"]):
        np.testing.assert_array_equal(got, want)
        assert np.all(np.isfinite(got))
    assert max(np.abs(a - b).max() for a, b in zip(net.weights, start)) > 1e-3  # epoch 0 did train
    # still usable: training again works and stays finite
    history = net.SGD(data, 1, 10, 3.0, verbose=False)
    assert math.isfinite(history[0]["cost"])
    assert all(np.all(np.isfinite(p)) for p in net.weights + net.biases)


def test_divergence_in_first_epoch_restores_starting_weights(d):
    net = make("NUMBA-float64", seed=42)

    def progress(epoch, done, total):
        poison(net, 1, np.inf)

    start = net.weights + net.biases
    with pytest.raises(TrainingDiverged, match=r"epoch 0"):
        net.SGD((d.X[:50], d.labels[:50]), 2, 10, 3.0, verbose=False, progress=progress)
    for got, want in zip(net.weights + net.biases, start):
        np.testing.assert_array_equal(got, want)


# -- the book's driver on the real MNIST ----------------------------------------------


@pytest.mark.slow
def test_book_driver_real_mnist(mnist_dir, capsys):
    from dlpy35 import mnist_loader, network

    training_data, validation_data, test_data = mnist_loader.load_data_wrapper()
    assert len(training_data) == 50000 and len(test_data) == 10000
    net = network.Network([784, 30, 10], seed=0)
    history = net.SGD(training_data, 1, 10, 3.0, test_data=test_data)
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert len(lines) == 1, out
    m = re.match(r"^Epoch 0 : (\d+) / 10000$", lines[0])
    assert m, lines[0]
    correct = int(m.group(1))
    assert correct == history[0]["correct"]
    assert correct >= 8800, f"only {correct} / 10000 after epoch 0 (the issue demands >= 88%)"


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_feedforward_refuses_non_finite_input(bad):
    net = Network([4, 3, 2], seed=0, mode="JAX", device="cpu")
    x = np.zeros((4, 1))
    x[2, 0] = bad
    with pytest.raises(ValueError, match="feedforward input: inputs contain NaN or infinity"):
        net.feedforward(x)


def test_chapter_one_network_saves_the_books_json_and_loads_back_exactly(tmp_path):
    from dlpy35 import network, network2

    net = Network([6, 4, 3], seed=3, dtype="float64", mode="NUMBA")
    net.save(tmp_path / "net.json")
    saved = __import__("json").loads((tmp_path / "net.json").read_text())
    assert saved["sizes"] == [6, 4, 3] and saved["cost"] == "QuadraticCost"
    assert np.array_equal(np.array(saved["weights"][1]), net.weights[1])  # (n_out, n_in), the book's shape
    back = network.load(tmp_path / "net.json", dtype="float64", mode="NUMBA")
    assert type(back) is Network and back.cost.name == "QuadraticCost"
    for a, b in zip(back.weights + back.biases, net.weights + net.biases):
        assert np.array_equal(a, b)
    as_ch3 = network2.load(tmp_path / "net.json", dtype="float64", mode="NUMBA")  # the same file, chapter 3's
    assert type(as_ch3) is network2.Network and np.array_equal(as_ch3.biases[0], net.biases[0])
