"""Tests for dlpy35.network2: the chapter-3 network.

Regularised updates against numpy, ``total_cost`` (the regularisation term added
once), initialisers, per-epoch monitoring, early stopping and the learning-rate
schedule on the *evaluation* accuracy, and the book's JSON save/load.

Exact comparisons use float64 networks (NUMBA); everything else float32 on JAX's
CPU device with small synthetic data.  The one real-MNIST run is marked slow.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os

import numpy as np
import pytest

from dlpy35 import network, network2
from dlpy35.engine import backprop as bp
from dlpy35.engine.costs import CrossEntropyCost, QuadraticCost
from dlpy35.engine.records import Evaluation

SMALL = [8, 6, 3]  # float32 / JAX tests
EXACT = [4, 5, 3]  # float64 / NUMBA tests


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def _forward(weights, biases, x_cols):
    """Output activations and weighted inputs for columns, in float64 numpy."""
    a = np.asarray(x_cols, np.float64)
    z = a
    for w, b in zip(weights, biases):
        z = np.asarray(w, np.float64) @ a + np.asarray(b, np.float64)
        a = _sigmoid(z)
    return a, z


def _one_hot(labels, n):
    y = np.zeros((len(labels), n))
    y[np.arange(len(labels)), labels] = 1
    return y


def _synthetic(n, sizes=SMALL, seed=0):
    """Learnable data: X uniform in [0, 1), labels from a fixed random linear map."""
    rng = np.random.default_rng(seed)
    x = rng.random((n, sizes[0])).astype(np.float32)
    w = np.random.default_rng(1234).normal(size=(sizes[0], sizes[-1]))
    labels = np.argmax((x - 0.5) @ w, axis=1).astype(np.int64)
    return x, labels


def _book_pairs(x, labels, n_out, one_hot=True):
    """The book's list of (x column, y) pairs: y a one-hot column or an int label."""
    if one_hot:
        return [(xi.reshape(-1, 1), _one_hot([label], n_out).reshape(-1, 1)) for xi, label in zip(x, labels)]
    return [(xi.reshape(-1, 1), int(label)) for xi, label in zip(x, labels)]


# -- L2 and L1 updates against numpy ----------------------------------------------------------


def _mini_batch(seed, m, sizes=EXACT):
    rng = np.random.default_rng(seed)
    x = rng.random((m, sizes[0]))
    labels = rng.integers(0, sizes[-1], m)
    return _book_pairs(x, labels, sizes[-1]), x.T, _one_hot(labels, sizes[-1]).T


@pytest.mark.parametrize("cost", [CrossEntropyCost, QuadraticCost], ids=["cross-entropy", "quadratic"])
def test_update_mini_batch_l2_matches_numpy(cost):
    net = network2.Network(EXACT, cost=cost, seed=3, dtype="float64")
    assert net.device.mode == "NUMBA"
    batch, xc, yc = _mini_batch(5, m=7)
    w0, b0 = net.weights, net.biases
    eta, lmbda, n, m = 0.7, 5.0, 50, 7
    nabla_b, nabla_w = bp.backprop(w0, b0, xc, yc, cost.delta)
    net.update_mini_batch(batch, eta, lmbda, n)
    for got, w, g in zip(net.weights, w0, nabla_w):
        np.testing.assert_allclose(got, (1 - eta * lmbda / n) * w - eta / m * g, rtol=1e-12, atol=1e-14)
    for got, b, g in zip(net.biases, b0, nabla_b):  # biases are not decayed
        np.testing.assert_allclose(got, b - eta / m * g, rtol=1e-12, atol=1e-14)
    # the decay really happened: without it the weights would differ by about eta lmbda/n |w|
    undecayed = w0[0] - eta / m * nabla_w[0]
    assert np.max(np.abs(net.weights[0] - undecayed)) > 0.01 * np.max(np.abs(w0[0]))


def test_update_mini_batch_l1_matches_numpy():
    net = network2.Network(EXACT, seed=4, dtype="float64")
    batch, xc, yc = _mini_batch(6, m=5)
    w0, b0 = net.weights, net.biases
    eta, lmbda, n, m = 0.5, 3.0, 20, 5
    nabla_b, nabla_w = bp.backprop(w0, b0, xc, yc, CrossEntropyCost.delta)
    net.update_mini_batch(batch, eta, lmbda, n, reg="l1")
    for got, w, g in zip(net.weights, w0, nabla_w):
        want = w - eta * lmbda / n * np.sign(w) - eta / m * g
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)
    for got, b, g in zip(net.biases, b0, nabla_b):
        np.testing.assert_allclose(got, b - eta / m * g, rtol=1e-12, atol=1e-14)
    # and not the L2 update
    l2 = (1 - eta * lmbda / n) * w0[0] - eta / m * nabla_w[0]
    assert not np.allclose(net.weights[0], l2)


# -- total_cost ------------------------------------------------------------------------------


def _numpy_total_cost(net, x, labels, lmbda, reg="l2"):
    w, b = net.weights, net.biases
    a, z = _forward(w, b, x.T)
    y = _one_hot(labels, net.sizes[-1]).T
    per_example = [net.cost.fn(a[:, k : k + 1], y[:, k : k + 1], z[:, k : k + 1]) for k in range(len(x))]
    mean = float(np.mean(per_example))
    if reg == "l2":
        penalty = 0.5 * sum(float(np.sum(np.asarray(wi, np.float64) ** 2)) for wi in w)
    else:
        penalty = sum(float(np.sum(np.abs(np.asarray(wi, np.float64)))) for wi in w)
    return mean, penalty


@pytest.mark.parametrize("cost", [CrossEntropyCost, QuadraticCost], ids=["cross-entropy", "quadratic"])
@pytest.mark.parametrize("form", ["one-hot pairs", "label pairs", "arrays"])
def test_total_cost_adds_the_l2_term_once(cost, form):
    net = network2.Network(SMALL, cost=cost, seed=8)
    x, labels = _synthetic(40, seed=9)
    if form == "arrays":
        data = (x, labels)
    else:
        data = _book_pairs(x, labels, SMALL[-1], one_hot=form == "one-hot pairs")
    lmbda, n = 2.5, len(x)
    mean, sq = _numpy_total_cost(net, x, labels, lmbda)
    want = mean + 0.5 * (lmbda / n) * (2 * sq)  # sq is already sum ||w||^2 / 2
    got = net.total_cost(data, lmbda)
    assert got == pytest.approx(want, rel=1e-5)
    # the Python 3 port's bug: the term added once per example, n times in all
    buggy = mean + n * 0.5 * (lmbda / n) * (2 * sq)
    assert got != pytest.approx(buggy, rel=1e-3)
    # without regularisation: the mean per-example cost
    assert net.total_cost(data, 0.0) == pytest.approx(mean, rel=1e-5)


def test_total_cost_l1():
    net = network2.Network(SMALL, seed=10)
    x, labels = _synthetic(30, seed=11)
    lmbda = 1.5
    mean, l1 = _numpy_total_cost(net, x, labels, lmbda, reg="l1")
    assert net.total_cost((x, labels), lmbda, reg="l1") == pytest.approx(mean + lmbda / len(x) * l1, rel=1e-5)


def test_total_cost_rejects_negative_lmbda():
    net = network2.Network(SMALL, seed=10)
    with pytest.raises(ValueError, match="lmbda"):
        net.total_cost(_synthetic(5), -1.0)


# -- initialisers ----------------------------------------------------------------------------


def _std_tolerance(n, k=6.0):
    """k standard errors of a sample standard deviation of n normal draws, relative."""
    return k / np.sqrt(2 * n)


def test_default_initialiser_is_n0_1_over_n_in():
    net = network2.Network([784, 30, 10], seed=0, dtype="float64")
    for w, n_in in zip(net.weights, (784, 30)):
        assert w.std() == pytest.approx(1 / np.sqrt(n_in), rel=_std_tolerance(w.size))
        assert abs(w.mean()) < 6 / np.sqrt(n_in) / np.sqrt(w.size)
    for b in net.biases:  # biases stay N(0, 1)
        assert b.shape[1] == 1
    all_b = np.concatenate([b.ravel() for b in net.biases])
    assert all_b.std() == pytest.approx(1.0, rel=_std_tolerance(all_b.size, k=8))


def test_default_initialiser_follows_the_books_draw_order():
    """Biases first, then weights / sqrt(n_in), from one generator seeded with `seed`."""
    net = network2.Network([5, 4, 2], seed=21, dtype="float64")
    rng = np.random.default_rng(21)
    biases = [rng.standard_normal((y, 1)) for y in (4, 2)]
    weights = [rng.standard_normal((y, x)) / np.sqrt(x) for x, y in ((5, 4), (4, 2))]
    for got, want in zip(net.biases, biases):
        np.testing.assert_array_equal(got, want)
    for got, want in zip(net.weights, weights):
        np.testing.assert_array_equal(got, want)


def test_large_initialiser_is_n0_1():
    net = network2.Network([784, 30, 10], seed=0, dtype="float64", weight_init="large")
    w = net.weights[0]
    assert w.std() == pytest.approx(1.0, rel=_std_tolerance(w.size))
    w2 = net.weights[1]
    assert w2.std() == pytest.approx(1.0, rel=_std_tolerance(w2.size))
    # the same seed and draw order as the default, without the 1/sqrt(n_in)
    default = network2.Network([784, 30, 10], seed=0, dtype="float64")
    np.testing.assert_allclose(default.weights[0], w / np.sqrt(784), rtol=1e-15)


def test_network2_defaults_are_cross_entropy_and_default_init():
    net = network2.Network([784, 30, 10], seed=1)
    assert net.cost is CrossEntropyCost
    assert net.weights[0].std() == pytest.approx(1 / np.sqrt(784), rel=_std_tolerance(784 * 30))
    assert net.dtype == "float32" and net.weights[0].dtype == np.float32
    # the initialisers can be called again, as in the book
    net.large_weight_initializer()
    assert net.weights[0].std() == pytest.approx(1.0, rel=_std_tolerance(784 * 30))
    net.default_weight_initializer()
    assert net.weights[0].std() == pytest.approx(1 / np.sqrt(784), rel=_std_tolerance(784 * 30))


def test_unknown_weight_init_raises():
    with pytest.raises(ValueError, match="weight_init"):
        network2.Network(SMALL, weight_init="xavier")


# -- monitoring ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_data():
    x, labels = _synthetic(300, seed=2)
    return (x[:200], labels[:200]), (x[200:], labels[200:])


def test_sgd_monitors_all_four(small_data):
    train, val = small_data
    net = network2.Network(SMALL, seed=5)
    lmbda = 0.3
    seen = []

    def on_epoch(record):
        # computed after the same epoch, on the same weights (reloads the same evaluation data)
        seen.append((record["epoch"], record["evaluation_accuracy"], record["evaluation_cost"],
                     net.accuracy(val), net.total_cost(val, lmbda)))

    ec, ea, tc, ta = net.SGD(train, 3, 10, 0.5, lmbda, evaluation_data=val,
                             monitor_evaluation_cost=True, monitor_evaluation_accuracy=True,
                             monitor_training_cost=True, monitor_training_accuracy=True,
                             on_epoch=on_epoch, verbose=False)
    assert [len(v) for v in (ec, ea, tc, ta)] == [3, 3, 3, 3]
    assert all(isinstance(v, int) and 0 <= v <= 100 for v in ea)
    assert all(isinstance(v, int) and 0 <= v <= 200 for v in ta)
    assert all(np.isfinite(v) and v > 0 for v in ec + tc)
    for j, (epoch, rec_acc, rec_cost, acc, cost) in enumerate(seen):
        assert epoch == j
        assert rec_acc == acc == ea[j]
        assert rec_cost == ec[j]
        assert cost == pytest.approx(ec[j], rel=1e-6)
    # on the final weights
    assert net.accuracy(val) == ea[-1]
    assert net.total_cost(val, lmbda) == pytest.approx(ec[-1], rel=1e-6)
    x_tr, y_tr = train
    assert net.accuracy((x_tr, _one_hot(y_tr, 3).astype(np.float32))) == ta[-1]
    assert net.accuracy(_book_pairs(x_tr, y_tr, 3)) == ta[-1]  # the book's one-hot columns
    assert net.total_cost(train, lmbda) == pytest.approx(tc[-1], rel=1e-5)
    # training cost and evaluation cost are different numbers on different data
    assert tc[-1] != ec[-1]
    # the history holds the same lists, an eta per epoch
    h = net.history
    assert (h["evaluation_cost"], h["evaluation_accuracy"], h["training_cost"], h["training_accuracy"]) == (
        ec, ea, tc, ta)
    assert h["eta"] == [0.5] * 3 and len(h["seconds"]) == 3 and h["epoch"] == 3 and h["stopped"] is None


def test_on_epoch_looking_at_other_data_does_not_change_the_monitored_figures(small_data):
    """A callback that calls accuracy/total_cost on the training data must not redirect monitoring.

    Both runs train identically (the callback changes no weights); the evaluation
    figures SGD reports must be the same, and must be figures of the evaluation data.
    """
    train, val = small_data
    plain = network2.Network(SMALL, seed=5)
    _, ea_plain, _, _ = plain.SGD(train, 3, 10, 0.5, evaluation_data=val, monitor_evaluation_accuracy=True,
                                  verbose=False)
    net = network2.Network(SMALL, seed=5)
    truth = []

    def on_epoch(record):
        truth.append(net.accuracy(val))
        net.accuracy(train)  # e.g. printing training accuracy from a callback
        net.total_cost(train, 0.0)

    _, ea, _, _ = net.SGD(train, 3, 10, 0.5, evaluation_data=val, monitor_evaluation_accuracy=True,
                          on_epoch=on_epoch, verbose=False)
    assert truth == ea_plain
    assert all(a <= len(val[0]) for a in ea)
    assert ea == ea_plain


@pytest.mark.parametrize(
    "flags, lengths",
    [
        ({}, [0, 0, 0, 0]),
        ({"monitor_evaluation_accuracy": True}, [0, 2, 0, 0]),
        ({"monitor_evaluation_cost": True}, [2, 0, 0, 0]),
        ({"monitor_training_accuracy": True}, [0, 0, 0, 2]),
        ({"monitor_training_cost": True, "monitor_evaluation_accuracy": True}, [0, 2, 2, 0]),
    ],
)
def test_unmonitored_lists_are_empty(small_data, flags, lengths):
    train, val = small_data
    net = network2.Network(SMALL, seed=6)
    out = net.SGD(train, 2, 10, 0.5, 0.1, evaluation_data=val, verbose=False, **flags)
    assert [len(v) for v in out] == lengths


def test_verbose_prints_the_books_lines(small_data, capsys):
    train, val = small_data
    net = network2.Network(SMALL, seed=6)
    _, ea, _, ta = net.SGD(train, 1, 10, 0.5, 0.1, evaluation_data=val, monitor_evaluation_accuracy=True,
                           monitor_training_accuracy=True)
    out = capsys.readouterr().out
    assert "Epoch 0 training complete" in out
    assert f"Accuracy on evaluation data: {ea[0]} / 100" in out
    assert f"Accuracy on training data: {ta[0]} / 200" in out


# -- early stopping and the schedule read the evaluation accuracy ------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"early_stopping_n": 2},
        {"lr_schedule_n": 2},
        {"monitor_evaluation_accuracy": True},
        {"monitor_evaluation_cost": True},
    ],
    ids=lambda k: next(iter(k)),
)
def test_evaluation_features_need_evaluation_data(small_data, kwargs):
    train, _ = small_data
    net = network2.Network(SMALL, seed=0)
    before = net.weights
    with pytest.raises(ValueError, match="evaluation_data"):
        net.SGD(train, 3, 10, 0.5, verbose=False, **kwargs)
    for a, b in zip(before, net.weights):  # nothing was trained
        np.testing.assert_array_equal(a, b)


def _script(monkeypatch, net, name, values):
    """Make the trainer's evaluation of the set `name` count ``values[k]`` correct on its k-th call
    (the last value after); other sets are evaluated for real."""
    calls = []
    real = net.trainer.evaluate

    def fake(which, n):
        if which != name:
            return real(which, n)
        k = len(calls)
        calls.append(k)
        return Evaluation(values[min(k, len(values) - 1)], n, 1.0)

    monkeypatch.setattr(net.trainer, "evaluate", fake)
    return calls


@pytest.mark.parametrize("monitor_training_accuracy", [False, True])
@pytest.mark.parametrize("monitor_evaluation_accuracy", [False, True])
@pytest.mark.parametrize(
    "eval_acc, n, epochs_run",
    [
        ([50], 3, 4),  # flat from the start: epoch 0 is the best, three more without improvement
        ([10, 20, 20, 15, 20, 30], 3, 5),  # equal to the best is no improvement
        ([10, 20, 30, 40, 41, 41, 42, 42, 42], 2, 9),
    ],
)
def test_early_stopping_on_scripted_evaluation_accuracy(monkeypatch, small_data, eval_acc, n, epochs_run,
                                                        monitor_training_accuracy,
                                                        monitor_evaluation_accuracy):
    train, val = small_data
    net = network2.Network(SMALL, seed=1)
    eval_calls = _script(monkeypatch, net, "evaluation", eval_acc)
    # training accuracy that keeps improving every epoch must not keep training alive
    _script(monkeypatch, net, "training", list(range(100, 200)))
    epochs_seen = []
    _, ea, _, ta = net.SGD(train, 30, 10, 0.5, evaluation_data=val, early_stopping_n=n,
                           monitor_training_accuracy=monitor_training_accuracy,
                           monitor_evaluation_accuracy=monitor_evaluation_accuracy,
                           on_epoch=lambda r: epochs_seen.append(r["epoch"]), verbose=False)
    assert epochs_seen == list(range(epochs_run))
    assert len(eval_calls) == epochs_run
    assert ea == ((eval_acc + [eval_acc[-1]] * 30)[:epochs_run] if monitor_evaluation_accuracy else [])
    assert ta == (list(range(100, 100 + epochs_run)) if monitor_training_accuracy else [])
    assert net.history["stopped"] is not None and "Early stopping" in net.history["stopped"]
    assert net.history["epoch"] == epochs_run


def test_early_stopping_off_runs_every_epoch(monkeypatch, small_data):
    train, val = small_data
    net = network2.Network(SMALL, seed=1)
    _script(monkeypatch, net, "evaluation", [50])
    _, ea, _, _ = net.SGD(train, 6, 10, 0.5, evaluation_data=val, monitor_evaluation_accuracy=True,
                          verbose=False)
    assert ea == [50] * 6
    assert net.history["stopped"] is None


def test_early_stopping_real_path_flat_evaluation_rising_training(small_data):
    """No monkeypatching: evaluation labels are all class 0, which the training data never has.

    The network learns never to answer 0, so evaluation accuracy is 0 every epoch
    while training accuracy rises; training must stop after exactly n flat epochs.
    """
    train, _ = small_data
    x, labels = _synthetic(300, seed=3)
    keep = labels != 0
    train = (x[keep][:200], labels[keep][:200])
    assert set(np.unique(train[1])) <= {1, 2}
    val = (x[:50], np.zeros(50, np.int64))
    net = network2.Network(SMALL, seed=2)
    n = 3
    _, ea, _, ta = net.SGD(train, 40, 10, 0.2, evaluation_data=val, early_stopping_n=n,
                           monitor_evaluation_accuracy=True, monitor_training_accuracy=True, verbose=False)
    assert ea == [0] * (n + 1)
    assert len(ta) == n + 1
    assert ta[-1] > ta[0]  # training kept improving, stopping still happened
    assert "Early stopping" in net.history["stopped"]


def test_lr_schedule_halves_eta_every_n_flat_epochs_and_stops_at_eta0_over_128(monkeypatch, small_data):
    train, val = small_data
    net = network2.Network(SMALL, seed=1)
    _script(monkeypatch, net, "evaluation", [50])
    eta0 = 0.8
    _, ea, _, _ = net.SGD(train, 100, 10, eta0, evaluation_data=val, lr_schedule_n=2,
                          monitor_evaluation_accuracy=True, verbose=False)
    # epoch 0 sets the best; every 2 flat epochs halve eta; eta0/64 is the last rate used
    want = [eta0] * 3 + [eta0 / 2 ** k for k in range(1, 7) for _ in range(2)]
    assert net.history["eta"] == want
    assert len(ea) == len(want) == 15
    assert min(want) == eta0 / 64 > eta0 / network2.SCHEDULE_FLOOR
    assert "eta0/128" in net.history["stopped"]


def test_lr_schedule_resets_on_improvement(monkeypatch, small_data):
    train, val = small_data
    net = network2.Network(SMALL, seed=1)
    # flat, flat (halve), improve, flat, flat (halve), ...
    _script(monkeypatch, net, "evaluation", [10, 10, 10, 20, 20, 20, 20])
    net.SGD(train, 7, 10, 1.0, evaluation_data=val, lr_schedule_n=2, verbose=False)
    assert net.history["eta"] == [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.25]
    assert net.history["stopped"] is None


def test_lr_schedule_really_trains_with_the_halved_eta(monkeypatch, small_data):
    """The schedule's run equals one-epoch SGD calls with the etas it recorded."""
    train, val = small_data
    net = network2.Network(SMALL, seed=12)
    _script(monkeypatch, net, "evaluation", [50])
    net.SGD(train, 20, 10, 0.8, 0.5, evaluation_data=val, lr_schedule_n=1, verbose=False)
    etas = net.history["eta"]
    assert etas == [0.8, 0.8, 0.4, 0.2, 0.1, 0.05, 0.025, 0.0125]
    ref = network2.Network(SMALL, seed=12)
    for eta in etas:  # the same shuffles: the generator continues from call to call
        ref.SGD(train, 1, 10, eta, 0.5, verbose=False)
    for a, b in zip(net.weights + net.biases, ref.weights + ref.biases):
        np.testing.assert_array_equal(a, b)


# -- save and load ---------------------------------------------------------------------------


def test_save_writes_the_books_json(tmp_path):
    net = network2.Network(EXACT, seed=13, dtype="float64")
    path = tmp_path / "net.json"
    net.save(str(path))
    data = json.loads(path.read_text())
    assert set(data) == {"sizes", "weights", "biases", "cost", "metadata"}  # the book's load reads the four
    assert data["metadata"]["dataset"] is None  # saved without its data set: none recorded
    assert data["sizes"] == EXACT
    assert data["cost"] == "CrossEntropyCost"
    assert [np.array(w).shape for w in data["weights"]] == [(5, 4), (3, 5)]
    assert [np.array(b).shape for b in data["biases"]] == [(5, 1), (3, 1)]
    np.testing.assert_array_equal(np.array(data["weights"][1]), net.weights[1])
    assert os.listdir(tmp_path) == ["net.json"]


def test_save_load_round_trip_exact_float64(tmp_path):
    net = network2.Network(EXACT, seed=14, dtype="float64", cost=QuadraticCost)
    path = tmp_path / "net.json"
    net.save(path)
    back = network2.load(path, dtype="float64")
    assert isinstance(back, network2.Network)
    assert back.sizes == EXACT and back.cost is QuadraticCost
    for a, b in zip(net.weights + net.biases, back.weights + back.biases):
        assert a.dtype == b.dtype == np.float64
        np.testing.assert_array_equal(a, b)


def test_save_load_trained_network_same_accuracy(tmp_path, small_data):
    train, val = small_data
    net = network2.Network(SMALL, seed=15)
    net.SGD(train, 2, 10, 0.5, 0.1, verbose=False)
    path = tmp_path / "trained.json"
    net.save(path)
    back = network2.load(path)
    for a, b in zip(net.weights + net.biases, back.weights + back.biases):
        np.testing.assert_array_equal(a, b)  # float32 -> JSON -> float32 is exact
    assert back.accuracy(val) == net.accuracy(val)
    assert back.total_cost(val, 0.1) == net.total_cost(val, 0.1)
    # and it can go on training
    back.SGD(train, 1, 10, 0.5, 0.1, verbose=False)


def test_load_the_books_own_file(tmp_path):
    rng = np.random.default_rng(16)
    weights = [rng.standard_normal((3, 2)), rng.standard_normal((1, 3))]
    biases = [rng.standard_normal((3, 1)), rng.standard_normal((1, 1))]
    path = tmp_path / "book.json"
    with open(path, "w") as f:  # exactly what the book's Network.save writes
        json.dump({"sizes": [2, 3, 1], "weights": [w.tolist() for w in weights],
                   "biases": [b.tolist() for b in biases], "cost": "QuadraticCost"}, f)
    net = network2.load(str(path), dtype="float64")
    assert net.cost is QuadraticCost and net.sizes == [2, 3, 1]
    for a, b in zip(net.weights + net.biases, weights + biases):
        np.testing.assert_array_equal(a, b)
    x = np.array([[0.25], [-0.5]])
    np.testing.assert_allclose(net.feedforward(x), _forward(weights, biases, x)[0], rtol=1e-12)


BAD_FILES = {
    "not json": "this is not JSON {",
    "empty": "",
    "a list": "[1, 2, 3]",
    "a number": "42",
    "missing keys": json.dumps({"sizes": [2, 1], "weights": [[[0.0, 0.0]]]}),
    "sizes not a list": json.dumps({"sizes": 3, "weights": [], "biases": [], "cost": "QuadraticCost"}),
    "sizes too short": json.dumps({"sizes": [2], "weights": [], "biases": [], "cost": "QuadraticCost"}),
    "sizes with floats": json.dumps({"sizes": [2, 1.5], "weights": [[[0.0, 0.0]]], "biases": [[[0.0]]],
                                     "cost": "QuadraticCost"}),
    "weights wrong shape": json.dumps({"sizes": [2, 3, 1], "weights": [[[0.0, 0.0]] * 3, [[0.0, 0.0]]],
                                       "biases": [[[0.0]] * 3, [[0.0]]], "cost": "QuadraticCost"}),
    "too few layers of weights": json.dumps({"sizes": [2, 3, 1], "weights": [[[0.0, 0.0]] * 3],
                                             "biases": [[[0.0]] * 3, [[0.0]]], "cost": "QuadraticCost"}),
    "biases wrong shape": json.dumps({"sizes": [2, 1], "weights": [[[0.0, 0.0]]], "biases": [[0.0, 1.0]],
                                      "cost": "QuadraticCost"}),
    "ragged weights": json.dumps({"sizes": [2, 1], "weights": [[[0.0], [0.0, 1.0]]], "biases": [[[0.0]]],
                                  "cost": "QuadraticCost"}),
    "weights not numbers": json.dumps({"sizes": [2, 1], "weights": [[["a", "b"]]], "biases": [[[0.0]]],
                                       "cost": "QuadraticCost"}),
    "weights null": json.dumps({"sizes": [2, 1], "weights": None, "biases": [[[0.0]]],
                                "cost": "QuadraticCost"}),
    "nan weights": ('{"sizes": [2, 1], "weights": [[[NaN, 0.0]]], "biases": [[[0.0]]], '
                    '"cost": "QuadraticCost"}'),
    "unknown cost": json.dumps({"sizes": [2, 1], "weights": [[[0.0, 0.0]]], "biases": [[[0.0]]],
                                "cost": "LogLikelihoodCost"}),
    "cost not a string": json.dumps({"sizes": [2, 1], "weights": [[[0.0, 0.0]]], "biases": [[[0.0]]],
                                     "cost": ["QuadraticCost"]}),
}


@pytest.mark.parametrize("kind", list(BAD_FILES))
def test_load_bad_file_raises_one_line_naming_the_file(tmp_path, kind):
    path = tmp_path / "bad-network.json"
    path.write_text(BAD_FILES[kind])
    with pytest.raises(network2.NetworkFileError) as info:
        network2.load(str(path))
    msg = str(info.value)
    assert str(path) in msg
    assert "\n" not in msg
    assert isinstance(info.value, ValueError)


def test_load_binary_garbage(tmp_path):
    path = tmp_path / "garbage.json"
    path.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(network2.NetworkFileError, match="garbage.json"):
        network2.load(path)


def test_load_missing_file(tmp_path):
    path = tmp_path / "nope.json"
    with pytest.raises(network2.NetworkFileError, match="nope.json"):
        network2.load(path)


def test_load_a_directory(tmp_path):
    with pytest.raises(network2.NetworkFileError, match=str(tmp_path)):
        network2.load(tmp_path)


def test_load_a_fifo_is_refused_at_once_not_waiting_for_a_writer(tmp_path):
    fifo = tmp_path / "network.json"
    os.mkfifo(fifo)
    with pytest.raises(network2.NetworkFileError, match="not a regular file"):
        network2.load(fifo)


def test_a_json_network_is_read_and_written_within_its_bound(tmp_path, monkeypatch):
    """Loading reads at most JSON_BYTES; saving refuses a file larger than that, and keeps the old one."""
    from dlpy35 import network

    path = tmp_path / "n.json"
    net = network2.Network([4, 3, 2], seed=1)
    net.save(path)
    size, before = path.stat().st_size, path.read_bytes()
    monkeypatch.setattr(network, "JSON_BYTES", size)
    assert network2.load(path).sizes == [4, 3, 2]
    net.save(path)  # as large as a file may be
    monkeypatch.setattr(network, "JSON_BYTES", size - 1)
    with pytest.raises(network2.NetworkFileError, match=rf"^{path}: not a JSON network file \(larger than"):
        network2.load(path)
    with pytest.raises(ValueError, match=rf"^cannot save {path}: {size} bytes of JSON, more than a JSON "
                                         rf"network file holds \({size - 1}\); give smaller hidden layers$"):
        net.save(path)
    assert path.read_bytes() == before


def test_a_network_too_large_to_save_as_json_is_refused_before_it_trains(monkeypatch):
    from dlpy35 import network

    monkeypatch.setattr(network, "JSON_BYTES", 23 * network.JSON_CHARS_PER_NUMBER)
    network.check_json_size([4, 3, 2])  # 23 weights and biases
    with pytest.raises(ValueError) as exc:
        network.check_json_size([4, 3, 3])
    assert str(exc.value) == ("a network of sizes [4, 3, 3] has 27 weights and biases, more than a JSON "
                              "network file holds (23); give smaller hidden layers")


def test_save_to_a_bare_filename_in_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    net = network2.Network(EXACT, seed=20, dtype="float64")
    net.save("plain.json")
    assert os.listdir(tmp_path) == ["plain.json"]
    np.testing.assert_array_equal(network2.load("plain.json", dtype="float64").biases[1], net.biases[1])


def test_load_error_messages_say_what_is_wrong(tmp_path):
    path = tmp_path / "n.json"
    path.write_text(BAD_FILES["unknown cost"])
    with pytest.raises(network2.NetworkFileError, match="LogLikelihoodCost"):
        network2.load(path)
    path.write_text(BAD_FILES["weights wrong shape"])
    with pytest.raises(network2.NetworkFileError, match="shape"):
        network2.load(path)
    path.write_text(BAD_FILES["missing keys"])
    with pytest.raises(network2.NetworkFileError, match="biases"):
        network2.load(path)


def test_save_leaves_no_temp_files(tmp_path):
    net = network2.Network(SMALL, seed=17)
    path = tmp_path / "net.json"
    net.save(path)
    net.save(path)  # overwriting
    assert os.listdir(tmp_path) == ["net.json"]
    assert oct(os.stat(path).st_mode & 0o777) == oct(0o644)


def test_save_failing_mid_way_keeps_the_previous_file(tmp_path, monkeypatch):
    old_net = network2.Network(SMALL, seed=18)
    path = tmp_path / "net.json"
    old_net.save(path)
    before = path.read_bytes()

    real = network.atomic_write

    @contextlib.contextmanager
    def full_disk(target, mode):  # half the document written, then the disk is full
        with real(target, mode) as f:
            class HalfWritten:
                def write(self, text):
                    f.write(text[:len(text) // 2])
                    f.flush()
                    raise OSError(errno.ENOSPC, "No space left on device")
            yield HalfWritten()

    monkeypatch.setattr(network, "atomic_write", full_disk)  # the save of network.Network, inherited
    new_net = network2.Network(SMALL, seed=19)
    with pytest.raises(OSError, match="No space left"):
        new_net.save(path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["net.json"]
    back = network2.load(path)
    np.testing.assert_array_equal(back.weights[0], old_net.weights[0])


# -- real data -------------------------------------------------------------------------------


@pytest.mark.slow
def test_one_epoch_on_mnist_reaches_93_percent(mnist):
    (train_x, train_y), (val_x, val_y), _ = mnist
    net = network2.Network([784, 30, 10], seed=0)
    assert net.cost is CrossEntropyCost
    ec, ea, tc, ta = net.SGD((train_x, train_y), 1, 10, 0.5, lmbda=5.0, evaluation_data=(val_x, val_y),
                             monitor_evaluation_accuracy=True, verbose=False)
    assert len(ea) == 1 and ec == tc == ta == []
    assert ea[0] >= 9300, f"evaluation accuracy after one epoch: {ea[0]} / 10000"
    assert net.accuracy((val_x, val_y)) == ea[0]
