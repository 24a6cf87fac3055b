"""Tests for chapter 5's speed of learning: ``||delta^l|| = ||dC/db^l||`` of each hidden layer (network2).

The symbolic gradient (``pytensor.grad`` of the mean cost, on the device) is checked against the
hand-written BP1-BP4 of :mod:`dlpy35.engine.backprop` in float64, as the book computes it (``delta^l``
averaged over the examples, then its norm); on the real MNIST the book's phenomenon shows: the
earlier the layer, the slower it learns.  ``SGD(monitor_learning_speed=...)`` records one entry
before training and one per epoch, also across a checkpoint and a resume, and ``dlpy35 train
--learning-speed`` prints them and writes ``learning_speed.csv``.  Float64 on NUMBA for the exact
comparisons, float32 on JAX's CPU device for the rest.
"""

from __future__ import annotations

import csv

import numpy as np
import pytest
from command_helpers import run_main

from dlpy35 import network2
from dlpy35.cli import main as cli
from dlpy35.engine import backprop as bp
from dlpy35.engine.costs import CrossEntropyCost, QuadraticCost
from dlpy35.storage.checkpoint import CheckpointError

SIZES = [10, 8, 7, 6, 4]  # three hidden layers
BOOK_DEEP = [784, 30, 30, 30, 30, 10]


def _data(n, sizes=SIZES, seed=0):
    """Inputs uniform in [0, 1) and labels from a fixed random linear map."""
    rng = np.random.default_rng(seed)
    x = rng.random((n, sizes[0])).astype(np.float32)
    labels = np.argmax((x - 0.5) @ np.random.default_rng(99).normal(size=(sizes[0], sizes[-1])), axis=1)
    return x, labels.astype(np.int64)


def _backprop_speeds(net, x, labels):
    """The book's ``get_average_gradient`` and ``list_norm``: BP1-BP4 by hand, in float64."""
    y = np.eye(net.sizes[-1])[labels]
    weights = [w.astype(np.float64) for w in net.weights]
    biases = [b.astype(np.float64) for b in net.biases]
    nabla_b, _ = bp.backprop(weights, biases, x.T.astype(np.float64), y.T, net.cost.delta)
    return [float(np.linalg.norm(nb / len(x))) for nb in nabla_b[:-1]]


def _float64_net(cost, seed):
    init = "large" if cost is QuadraticCost else "default"
    return network2.Network(SIZES, cost=cost, seed=seed, dtype="float64", mode="NUMBA", device="cpu",
                            weight_init=init)


# --------------------------------------------------------------------------- the gradient itself


@pytest.mark.parametrize("cost", [CrossEntropyCost, QuadraticCost], ids=["cross-entropy", "quadratic"])
def test_symbolic_speed_is_the_norm_of_backprops_average_delta_per_layer(cost):
    net = _float64_net(cost, seed=5)
    x, labels = _data(300)
    speeds = net.learning_speed((x, labels))
    expected = _backprop_speeds(net, x, labels)
    assert len(speeds) == len(SIZES) - 2
    np.testing.assert_allclose(speeds, expected, rtol=1e-10, atol=0)
    # the book's own data form gives the same numbers; a subset gives others (the mean is over `data`)
    pairs = [(xi.reshape(-1, 1), np.eye(SIZES[-1])[[label]].T) for xi, label in zip(x, labels)]
    np.testing.assert_allclose(net.learning_speed(pairs), expected, rtol=1e-12, atol=0)
    subset = net.learning_speed((x[:50], labels[:50]))
    np.testing.assert_allclose(subset, _backprop_speeds(net, x[:50], labels[:50]), rtol=1e-10, atol=0)
    assert not np.allclose(subset, expected, rtol=1e-3)


def test_a_network_without_hidden_layers_has_no_speeds():
    net = network2.Network([6, 3], seed=0, device="cpu", mode="JAX")
    x, labels = _data(20, [6, 3])
    assert net.learning_speed((x, labels)) == []


@pytest.mark.parametrize(("sizes", "factor"), [(BOOK_DEEP, 2.0), ([784, 30, 30, 10], 2.0)])
def test_on_mnist_the_earlier_hidden_layers_learn_slower(mnist, sizes, factor):
    """The book's chapter 5 at the start of training: seed 0, the first 1,000 training images."""
    (x, labels), _, _ = mnist
    net = network2.Network(sizes, seed=0, device="cpu", mode="JAX")
    speeds = net.learning_speed((x[:1000], labels[:1000]))
    # float32 JAX against float64 numpy: measured 1.5e-7 relative at most (AMD EPYC, AVX-512)
    np.testing.assert_allclose(speeds, _backprop_speeds(net, x[:1000], labels[:1000]), rtol=1e-4)
    assert len(speeds) == len(sizes) - 2
    for earlier, later in zip(speeds, speeds[1:]):
        assert later > factor * earlier, speeds


# --------------------------------------------------------------------------- recorded by SGD


def test_sgd_records_the_speed_before_training_and_after_every_epoch():
    x, labels = _data(120)
    net = network2.Network(SIZES, seed=1, device="cpu", mode="JAX")
    before = net.learning_speed((x, labels))
    seen = []
    net.SGD((x, labels), 3, 10, 0.5, monitor_learning_speed=True, verbose=False,
            on_epoch=lambda r: seen.append(r["learning_speed"]))
    history = net.history["learning_speed"]
    assert len(history) == 4 and all(len(h) == len(SIZES) - 2 for h in history)
    assert history[0] == before  # fewer than 1,000 examples: all of them
    assert history[1:] == seen
    np.testing.assert_allclose(history[-1], net.learning_speed((x, labels)), rtol=1e-6)
    assert history[1] != history[0] and history[2] != history[1]  # it trained in between
    # an integer measures that many first examples; no monitoring records nothing
    net.SGD((x, labels), 1, 10, 0.5, monitor_learning_speed=40, verbose=False)
    np.testing.assert_allclose(net.history["learning_speed"][-1], net.learning_speed((x[:40], labels[:40])),
                               rtol=1e-6)
    net.SGD((x, labels), 0, 10, 0.5, monitor_learning_speed=True, verbose=False)
    assert len(net.history["learning_speed"]) == 1
    net.SGD((x, labels), 1, 10, 0.5, verbose=False)
    assert net.history["learning_speed"] == []


@pytest.mark.parametrize("value", [0, -1, 2.5, "1000", np.nan])
def test_bad_monitor_learning_speed_is_refused(value):
    net = network2.Network(SIZES, seed=1, device="cpu", mode="JAX")
    with pytest.raises(ValueError, match="monitor_learning_speed"):
        net.SGD(_data(20), 1, 10, 0.5, monitor_learning_speed=value, verbose=False)


def test_a_resumed_run_keeps_one_speed_per_epoch(tmp_path):
    x, labels = _data(120)
    settings = dict(mini_batch_size=10, eta=0.5, monitor_learning_speed=True, verbose=False)
    whole = network2.Network(SIZES, seed=2, device="cpu", mode="JAX")
    whole.SGD((x, labels), 4, checkpoint_dir=tmp_path / "whole", **settings)

    def stop_after_epoch_1(record):
        if record["epoch"] == 1:
            raise KeyboardInterrupt

    net = network2.Network(SIZES, seed=2, device="cpu", mode="JAX")
    with pytest.raises(KeyboardInterrupt):
        net.SGD((x, labels), 4, checkpoint_dir=tmp_path / "cut", on_epoch=stop_after_epoch_1, **settings)
    assert len(net.history["learning_speed"]) == 3
    resumed = network2.Network(SIZES, seed=2, device="cpu", mode="JAX")  # untrained weights, until resumed
    resumed.SGD((x, labels), 4, checkpoint_dir=tmp_path / "cut", resume=True, **settings)
    assert resumed.history["learning_speed"] == whole.history["learning_speed"]
    assert len(resumed.history["learning_speed"]) == 5
    # resuming without the monitor (or with another count) would leave holes: refused
    for monitor in (False, 50):
        with pytest.raises(CheckpointError, match="learning_speed"):
            resumed.SGD((x, labels), 6, checkpoint_dir=tmp_path / "cut", resume=True,
                        **{**settings, "monitor_learning_speed": monitor})


# --------------------------------------------------------------------------- dlpy35 train --learning-speed


def _train(argv, capsys):
    return run_main(lambda a: cli.command_main("train", a), argv, capsys)


def test_train_flag_prints_the_speeds_and_writes_the_csv(mnist_dir, tmp_path, capsys):
    run_dir = tmp_path / "run"
    argv = ("--sizes 784 12 11 10 --cost cross-entropy --n-train 1000 --epochs 2 --then 1 0.2 --eta 0.5 "
            "--learning-speed 30 --evaluation validation --device cpu --mode JAX --quiet --run-dir").split()
    status, out, err = _train([*argv, str(run_dir)], capsys)
    assert status == 0, err
    lines = [line for line in out.splitlines() if "hidden layers 1-2:" in line]
    assert len(lines) == 4 and lines[0].startswith("Before epoch 0: ")  # before training, then 3 epochs
    with open(run_dir / "learning_speed.csv", newline="") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
    assert reader.fieldnames == ["epoch", "layer1", "layer2"]
    assert [int(r["epoch"]) for r in rows] == [0, 1, 2, 3]  # two stages, one entry each epoch
    printed = [[float(v) for v in line.split(": ")[-1].split()] for line in lines]
    np.testing.assert_allclose([[float(r["layer1"]), float(r["layer2"])] for r in rows], printed, rtol=1e-3)
    assert (run_dir / "learning_speed.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"speed of learning: {run_dir / 'learning_speed.csv'}, {run_dir / 'learning_speed.png'}" in out


def test_train_flag_with_no_epochs_gives_the_speed_before_training(mnist, tmp_path, capsys):
    (x, labels), _, _ = mnist
    argv = "--sizes 784 9 8 10 --cost cross-entropy --epochs 0 --learning-speed --seed 3 --quiet --device cpu"
    status, out, err = _train([*argv.split(), "--mode", "JAX", "--run-dir", str(tmp_path)], capsys)
    assert status == 0, err
    expected = network2.Network([784, 9, 8, 10], seed=3, device="cpu", mode="JAX").learning_speed(
        (x[:1000], labels[:1000]))
    assert f"Before training: {network2.speed_text(expected)}" in out.splitlines()
    with open(tmp_path / "learning_speed.csv", newline="") as f:
        assert [r["epoch"] for r in csv.DictReader(f)] == ["0"]


@pytest.mark.parametrize("value", ["0", "-1", "word", "1.5"])
def test_train_flag_refuses_a_bad_count_in_one_line(value, capsys):
    status, out, err = _train(["--learning-speed", value, "--epochs", "1"], capsys)
    assert status == 2 and out == "", (status, out, err)
    assert len(err.strip().splitlines()) == 1 and "--learning-speed" in err and "Traceback" not in err
