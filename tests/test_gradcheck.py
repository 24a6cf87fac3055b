"""Tests for dlpy35.engine.gradcheck: pytensor.grad vs hand-written BP1-BP4 vs central finite differences.

Everything is float64 on the NUMBA CPU mode (``random_problem`` uses device="cpu";
float64 defaults to NUMBA so the process never flips JAX to x64).
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from dlpy35.engine import backprop as bp
from dlpy35.engine import gradcheck
from dlpy35.network import Network

SYM_TOL = 1e-8
FD_TOL = 1e-5


def test_tolerances_are_the_issues():
    assert gradcheck.SYMBOLIC_VS_HAND_TOL == SYM_TOL
    assert gradcheck.FD_TOL == FD_TOL


@pytest.mark.parametrize(
    "sizes, batch, max_entries",
    [
        ([2, 3, 1], 4, None),
        ([5, 4, 3], 4, None),
        ([784, 30, 10], 3, None),  # every one of the 23,860 parameters
        ([784, 30, 20, 10], 3, 150),  # sampled
    ],
    ids=["2-3-1", "5-4-3", "784-30-10", "784-30-20-10-sampled"],
)
def test_three_way_check(sizes, batch, max_entries):
    net, x, y = gradcheck.random_problem(sizes, batch, seed=len(sizes) + batch)
    assert net.device.mode == "NUMBA" and net.dtype == "float64"
    errs = gradcheck.check(net, x, y, max_entries=max_entries, seed=1)
    assert set(errs) == {"symbolic_vs_hand", "symbolic_vs_fd", "hand_vs_fd"}
    assert errs["symbolic_vs_hand"] < SYM_TOL, errs
    assert errs["symbolic_vs_fd"] < FD_TOL, errs
    assert errs["hand_vs_fd"] < FD_TOL, errs


def test_random_problem_is_seeded_and_float64():
    net1, x1, y1 = gradcheck.random_problem([5, 4, 3], 2, seed=11)
    net2, x2, y2 = gradcheck.random_problem([5, 4, 3], 2, seed=11)
    net3, x3, _ = gradcheck.random_problem([5, 4, 3], 2, seed=12)
    assert x1.shape == (5, 2) and y1.shape == (3, 2)
    np.testing.assert_array_equal(x1, x2)
    np.testing.assert_array_equal(y1, y2)
    for a, b in zip(net1.weights + net1.biases, net2.weights + net2.biases):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(x1, x3)
    assert not np.array_equal(net1.weights[0], net3.weights[0])
    assert all(w.dtype == np.float64 for w in net1.weights + net1.biases)
    assert np.all((y1 >= 0) & (y1 < 1))


def test_check_catches_a_wrong_hand_gradient(monkeypatch):
    """Not a tautology: corrupting one entry of the hand-written gradient shows up in two errors."""
    net, x, y = gradcheck.random_problem([5, 4, 3], 3, seed=3)
    true_backprop = net.backprop

    def broken(xx, yy):
        nb, nw = true_backprop(xx, yy)
        nw[0] = nw[0].copy()
        nw[0][1, 2] += 0.05 * np.abs(nw[0]).max() + 1e-3
        return nb, nw

    monkeypatch.setattr(net, "backprop", broken)
    errs = gradcheck.check(net, x, y)
    assert errs["symbolic_vs_hand"] > 1e-3
    assert errs["hand_vs_fd"] > 1e-3
    assert errs["symbolic_vs_fd"] < FD_TOL


def test_relative_error():
    assert gradcheck.relative_error([3.0, 4.0], [3.0, 4.0]) == 0.0
    assert gradcheck.relative_error(np.zeros(3), np.zeros(3)) == 0.0
    assert gradcheck.relative_error([1.0, 0.0], [0.0, 0.0]) == 1.0
    # ||(3,4) - (0,4)|| / max(5, 4) = 3 / 5
    assert gradcheck.relative_error([3.0, 4.0], [0.0, 4.0]) == pytest.approx(0.6, rel=1e-15)
    assert gradcheck.relative_error(np.ones((2, 2)), np.ones(4)) == 0.0  # shapes are flattened
    assert gradcheck.max_relative_error([[1.0], [2.0, 0.0]], [[1.0], [0.0, 0.0]]) == 1.0


def test_finite_difference_sampling():
    weights = [np.random.default_rng(0).standard_normal((6, 5)),
               np.random.default_rng(1).standard_normal((2, 6))]
    biases = [np.zeros((6, 1)), np.zeros((2, 1))]
    x = np.random.default_rng(2).random((5, 3))
    y = np.random.default_rng(3).random((2, 3))
    nb, nw, probed = gradcheck.finite_difference(weights, biases, x, y, max_entries=4,
                                                 rng=np.random.default_rng(9))
    # biases first, then weights; at most 4 probes per array, sorted, distinct
    assert [len(p) for p in probed] == [4, 2, 4, 4]
    for p, g in zip(probed, [*nb, *nw]):
        assert np.all(np.diff(p) > 0)
        flat = g.reshape(-1)
        assert np.all(np.isfinite(flat[p]))
        mask = np.ones(flat.size, bool)
        mask[p] = False
        assert np.all(np.isnan(flat[mask]))
    # probed entries agree with backprop; the caller's arrays are untouched
    hb, hw = bp.backprop(weights, biases, x, y)
    for p, fd, hand in zip(probed, [*nb, *nw], [*hb, *hw]):
        np.testing.assert_allclose(fd.reshape(-1)[p], hand.reshape(-1)[p], rtol=1e-6, atol=1e-9)
    assert np.all(biases[0] == 0)
    # the same rng seed probes the same entries
    _, _, again = gradcheck.finite_difference(weights, biases, x, y, max_entries=4,
                                              rng=np.random.default_rng(9))
    assert all(np.array_equal(a, b) for a, b in zip(probed, again))


def test_symbolic_equals_hand_on_real_mnist_minibatch(mnist):
    (train_x, train_y), _, _ = mnist
    net = Network([784, 30, 10], seed=0, dtype="float64", mode="NUMBA", device="cpu")
    x = np.asarray(train_x[:10], np.float64).T  # (784, 10) columns
    y = np.eye(10)[train_y[:10]].T  # (10, 10) one-hot columns
    assert x.shape == (784, 10) and y.shape == (10, 10)
    assert np.all(y.sum(axis=0) == 1)
    sym_b, sym_w = net.symbolic_gradients(x, y)
    hand_b, hand_w = net.backprop(x, y)
    assert [g.shape for g in sym_b] == [(30, 1), (10, 1)]
    assert [g.shape for g in sym_w] == [(30, 784), (10, 30)]
    for s, h in zip([*sym_b, *sym_w], [*hand_b, *hand_w]):
        assert np.linalg.norm(h) > 0
        assert gradcheck.relative_error(s, h) < SYM_TOL
    assert gradcheck.max_relative_error([*sym_b, *sym_w], [*hand_b, *hand_w]) < SYM_TOL


def test_main_reports_ok(capsys):
    from dlpy35.cli.gradcheck import main

    assert main(["--batch", "2", "--max-entries", "20", "--seed", "1"]) == 0
    out = capsys.readouterr().out
    lines = out.strip().splitlines()
    assert "symbolic vs hand" in lines[0]
    for sizes in gradcheck.SHAPES:
        rows = [line for line in lines[1:-1] if str(sizes) in line]
        assert rows, f"no row for {sizes} in:\n{out}"
        for row in rows:
            nums = [float(v) for v in re.findall(r"\d\.\d\de[-+]\d+", row)]
            assert len(nums) == 3 and nums[0] < SYM_TOL and max(nums[1:]) < FD_TOL, row
            assert "FAIL" not in row
    assert lines[-1].endswith("-> ok")
