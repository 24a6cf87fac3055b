"""Tests for dlpy35.engine.arguments: converting and checking what users pass to a network.

Pure numpy, nothing compiles.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from dlpy35.engine import arguments

N_IN, N_OUT = 6, 4


def book_pairs(n, seed=0, labels_only=False):
    """The book's format: x (N_IN, 1) columns; y (N_OUT, 1) one-hot or int labels."""
    rng = np.random.default_rng(seed)
    xs = rng.random((n, N_IN)).astype(np.float32)
    labels = rng.integers(0, N_OUT, n)
    if labels_only:
        return [(x.reshape(-1, 1), int(label)) for x, label in zip(xs, labels)], xs, labels
    return [(x.reshape(-1, 1), np.eye(N_OUT, dtype=np.float32)[label].reshape(-1, 1))
            for x, label in zip(xs, labels)], xs, labels


# -- training_arrays ------------------------------------------------------------------


def test_training_arrays_from_book_pairs():
    pairs, xs, labels = book_pairs(5)
    x, y = arguments.training_arrays(pairs, N_IN, N_OUT, "float32")
    assert x.shape == (5, N_IN) and y.shape == (5, N_OUT)
    assert x.dtype == np.float32 and y.dtype == np.float32
    assert x.flags.c_contiguous and y.flags.c_contiguous
    np.testing.assert_array_equal(x, xs)
    np.testing.assert_array_equal(np.argmax(y, axis=1), labels)
    np.testing.assert_array_equal(y.sum(axis=1), np.ones(5))


def test_training_arrays_accepts_zip_objects_and_generators():
    pairs, xs, labels = book_pairs(5)
    want = arguments.training_arrays(pairs, N_IN, N_OUT, "float64")
    cols = [p[0] for p in pairs]
    ys = [p[1] for p in pairs]
    got_zip = arguments.training_arrays(zip(cols, ys), N_IN, N_OUT, "float64")
    got_gen = arguments.training_arrays(((c, t) for c, t in pairs), N_IN, N_OUT, "float64")
    for got in (got_zip, got_gen):
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])
    assert want[0].dtype == np.float64


def test_training_arrays_all_forms_agree():
    pairs, xs, labels = book_pairs(7, seed=1)
    label_pairs, _, _ = book_pairs(7, seed=1, labels_only=True)
    onehot = np.eye(N_OUT)[labels]
    forms = [
        pairs,
        label_pairs,
        (xs, onehot),
        (xs, labels),
        (xs.astype(np.float64), labels.astype(np.int32)),
        [(x, int(label)) for x, label in zip(xs, labels)],  # 1-D x vectors are columns too
    ]
    ref_x, ref_y = arguments.training_arrays(forms[0], N_IN, N_OUT, "float32")
    for form in forms[1:]:
        x, y = arguments.training_arrays(form, N_IN, N_OUT, "float32")
        np.testing.assert_array_equal(x, ref_x)
        np.testing.assert_array_equal(y, ref_y)


def test_training_arrays_accepts_read_only_and_leaves_input_untouched():
    _, xs, labels = book_pairs(4, seed=2)
    xs = xs.astype(np.float64)
    before = xs.copy()
    xs.flags.writeable = False
    labels.flags.writeable = False
    x, y = arguments.training_arrays((xs, labels), N_IN, N_OUT, "float32")
    np.testing.assert_array_equal(xs, before)
    x[0, 0] = 123.0  # the result is a writable copy, not a view of the caller's data
    assert xs[0, 0] == before[0, 0]


@pytest.mark.parametrize("row, shown", [
    (np.full(N_OUT, 0.25), "[0.25, 0.25, 0.25, 0.25]"),  # soft targets
    (np.eye(N_OUT)[3] * 2, "[0, 0, 0, 2]"),
    (np.eye(N_OUT)[1] + np.eye(N_OUT)[3], "[0, 1, 0, 1]"),  # two classes
    (np.zeros(N_OUT), "[0, 0, 0, 0]"),  # none
])
def test_targets_that_are_not_one_hot_rejected(row, shown):
    """A target row that is not one-hot trains towards something accuracy does not measure."""
    xs = np.zeros((3, N_IN))
    ys = np.eye(N_OUT)[[1, 2, 0]]
    ys[2] = row
    with pytest.raises(ValueError, match=rf"^training_data: target row 2 is {re.escape(shown)}, not one-hot; "
                                         r"give one-hot rows \(a single 1\) or integer labels"):
        arguments.training_arrays((xs, ys), N_IN, N_OUT, "float64")
    with pytest.raises(ValueError, match=r"^test_data: target row 2 is .*, not one-hot"):
        arguments.labelled_arrays((xs, ys), N_IN, N_OUT, "float64")


def test_one_hot_rows_give_their_labels():
    xs = np.zeros((3, N_IN))
    _, labels = arguments.labelled_arrays((xs, np.eye(N_OUT)[[3, 0, 2]]), N_IN, N_OUT, "float32")
    np.testing.assert_array_equal(labels, [3, 0, 2])
    assert labels.dtype == np.int64


@pytest.mark.parametrize("dtype", [np.uint8, np.float32, np.float64])
def test_pixels_0_to_255_rejected_with_the_fix(dtype):
    """Pixels as stored in the IDX files (0..255) must be divided by 255, not trained at chance."""
    _, xs, labels = book_pairs(4, seed=5)
    raw = np.round(xs * 255).astype(dtype)
    raw[0, 0] = 0
    with pytest.raises(ValueError, match=r"^training_data: inputs range over \[0, 2\d\d\], the networks "
                                         r"take values in \[0, 1\]; divide pixels 0..255 by 255$"):
        arguments.training_arrays((raw, labels), N_IN, N_OUT, "float32")
    with pytest.raises(ValueError, match=r"^test_data: inputs range over .*divide pixels 0..255 by 255"):
        arguments.labelled_arrays((raw, labels), N_IN, N_OUT, "float32")
    x, _ = arguments.training_arrays((raw / 255, labels), N_IN, N_OUT, "float32")
    assert 0 <= x.min() and x.max() <= 1


def test_negative_inputs_rejected():
    xs = np.zeros((2, N_IN))
    xs[1, 3] = -0.5
    with pytest.raises(ValueError, match=r"inputs range over \[-0.5, 0\], .*; rescale them to \[0, 1\]$"):
        arguments.training_arrays((xs, np.array([0, 1])), N_IN, N_OUT, "float32")


def test_inputs_at_the_bounds_accepted():
    xs = np.zeros((2, N_IN))
    xs[0] = 1.0
    x, _ = arguments.training_arrays((xs, np.array([0, 1])), N_IN, N_OUT, "float32")
    assert x.min() == 0 and x.max() == 1


@pytest.mark.parametrize("make_empty", [list, tuple, lambda: zip([], []), lambda: (p for p in [])],
                         ids=["list", "tuple", "zip", "generator"])
def test_empty_list_rejected(make_empty):
    data = make_empty()
    with pytest.raises(ValueError, match=r"^training_data is empty; give at least one \(x, y\) pair"):
        arguments.training_arrays(data, N_IN, N_OUT, "float32")
    with pytest.raises(ValueError, match=r"^test_data is empty"):
        arguments.labelled_arrays([], N_IN, N_OUT, "float32")


def test_empty_arrays_rejected():
    """``(X, Y)`` with zero rows is as empty as ``[]`` and must be rejected the same way."""
    with pytest.raises(ValueError, match=r"training_data.*empty"):
        arguments.training_arrays((np.zeros((0, N_IN)), np.zeros(0, np.int64)), N_IN, N_OUT, "float32")
    with pytest.raises(ValueError, match=r"test_data.*empty"):
        arguments.labelled_arrays((np.zeros((0, N_IN)), np.zeros(0, np.int64)), N_IN, N_OUT, "float32")


def test_mismatched_lengths_rejected():
    xs = np.zeros((5, N_IN))
    with pytest.raises(ValueError,
                       match=r"^training_data: X has 5 rows but Y has 4; give one target per example"):
        arguments.training_arrays((xs, np.zeros(4, np.int64)), N_IN, N_OUT, "float32")
    with pytest.raises(ValueError, match=r"^test_data: X has 5 rows but Y has 6"):
        arguments.labelled_arrays((xs, np.zeros(6, np.int64)), N_IN, N_OUT, "float32")
    with pytest.raises(ValueError, match=r"^mini_batch: X has 5 rows but Y has 3"):
        arguments.training_arrays((xs, np.zeros((3, N_OUT))), N_IN, N_OUT, "float32", "mini_batch")


def test_one_hot_width_mismatch_rejected():
    xs = np.zeros((3, N_IN))
    with pytest.raises(ValueError, match=rf"^training_data: targets must be one-hot rows of width {N_OUT} "
                                         r"\(sizes\[-1\]\)"):
        arguments.training_arrays((xs, np.eye(N_OUT + 1)[:3]), N_IN, N_OUT, "float32")
    pairs = [(np.zeros((N_IN, 1)), np.zeros((N_OUT - 1, 1))) for _ in range(3)]
    with pytest.raises(ValueError,
                       match=rf"training_data: targets must be one-hot rows of width {N_OUT}"):
        arguments.training_arrays(pairs, N_IN, N_OUT, "float32")
    with pytest.raises(ValueError, match=rf"^test_data: targets have {N_OUT + 1} values each "
                                         rf"but the output layer has {N_OUT}"):
        arguments.labelled_arrays((xs, np.eye(N_OUT + 1)[:3]), N_IN, N_OUT, "float32")


def test_input_width_mismatch_rejected():
    with pytest.raises(ValueError, match=rf"^training_data: inputs have {N_IN - 1} values each, "
                                         rf"but the network's input layer sizes\[0\] is {N_IN}; "
                                         rf"give inputs of width {N_IN}"):
        arguments.training_arrays((np.zeros((3, N_IN - 1)), np.zeros(3, np.int64)), N_IN, N_OUT, "float32")
    pairs = [(np.zeros((N_IN + 2, 1)), 0) for _ in range(2)]
    with pytest.raises(ValueError,
                       match=rf"^test_data: inputs have {N_IN + 2} values each.*sizes\[0\] is {N_IN}"):
        arguments.labelled_arrays(pairs, N_IN, N_OUT, "float32")


def test_ragged_inputs_rejected():
    pairs = [(np.zeros((N_IN, 1)), 0), (np.zeros((N_IN + 1, 1)), 1)]
    with pytest.raises(ValueError,
                       match=rf"^training_data: inputs have different sizes \[{N_IN}, {N_IN + 1}\]"):
        arguments.training_arrays(pairs, N_IN, N_OUT, "float32")


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_training_inputs_rejected(bad):
    _, xs, labels = book_pairs(4, seed=3)
    xs = xs.copy()
    xs[2, 1] = bad
    with pytest.raises(ValueError, match=r"^training_data: inputs contain NaN or infinity "
                                         r"\(after conversion to float32\); clean the data first"):
        arguments.training_arrays((xs, labels), N_IN, N_OUT, "float32")
    pairs = [(x.reshape(-1, 1), int(label)) for x, label in zip(xs, labels)]
    with pytest.raises(ValueError, match=r"training_data: inputs contain NaN or infinity"):
        arguments.training_arrays(pairs, N_IN, N_OUT, "float32")


@pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")
def test_values_that_overflow_float32_rejected():
    """1e39 is finite in float64 but inf once cast to the network's float32."""
    xs = np.zeros((2, N_IN))
    xs[0, 0] = 1e39
    with pytest.raises(ValueError, match=r"inputs contain NaN or infinity"):
        arguments.training_arrays((xs, np.array([0, 1])), N_IN, N_OUT, "float32")


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_test_inputs_rejected(bad):
    """Test data feeds the same network: NaN pixels must be refused there too, not counted as wrong."""
    _, xs, labels = book_pairs(4, seed=4)
    xs = xs.copy()
    xs[0, 0] = bad
    with pytest.raises(ValueError, match=r"test_data: inputs contain NaN or infinity"):
        arguments.labelled_arrays((xs, labels), N_IN, N_OUT, "float32")


def test_not_pairs_rejected():
    with pytest.raises(ValueError, match=r"^training_data: expected a list of \(x, y\) pairs "
                                         r"or a tuple \(X, Y\) of arrays, got ndarray"):
        arguments.training_arrays(np.zeros((3, N_IN)), N_IN, N_OUT, "float32")
    with pytest.raises(ValueError, match=r"got str"):
        arguments.training_arrays("mnist.pkl.gz", N_IN, N_OUT, "float32")
    with pytest.raises(ValueError, match=r"^training_data: every item must be an \(x, y\) pair"):
        arguments.training_arrays([(np.zeros(N_IN), 0, 1)], N_IN, N_OUT, "float32")
    with pytest.raises(ValueError, match=r"every item must be an \(x, y\) pair"):
        arguments.training_arrays([np.zeros(N_IN)], N_IN, N_OUT, "float32")


# -- labels ---------------------------------------------------------------------------


def test_labelled_arrays_forms_agree():
    label_pairs, xs, labels = book_pairs(6, seed=5, labels_only=True)
    for form in (label_pairs, (xs, labels), (xs, np.eye(N_OUT)[labels]),
                 [(x, np.int64(label)) for x, label in zip(xs, labels)]):
        x, lab = arguments.labelled_arrays(form, N_IN, N_OUT, "float64")
        assert x.dtype == np.float64 and lab.dtype == np.int64
        np.testing.assert_array_equal(x, xs.astype(np.float64))
        np.testing.assert_array_equal(lab, labels)


@pytest.mark.parametrize("bad", [N_OUT, N_OUT + 5, -1])
def test_labels_out_of_range_rejected(bad):
    xs = np.zeros((3, N_IN))
    labels = np.array([0, bad, 1])
    msg = rf"label {bad} is outside the output range; labels must be integers in 0\.\.{N_OUT - 1}"
    with pytest.raises(ValueError, match=rf"^training_data: {msg}"):
        arguments.training_arrays((xs, labels), N_IN, N_OUT, "float32")
    with pytest.raises(ValueError, match=rf"^test_data: {msg}"):
        arguments.labelled_arrays((xs, labels), N_IN, N_OUT, "float32")
    with pytest.raises(ValueError, match=rf"^test_data: {msg}"):
        arguments.labelled_arrays([(x, int(label)) for x, label in zip(xs, labels)], N_IN, N_OUT, "float32")


def test_float_label_arrays_rejected():
    with pytest.raises(ValueError, match=rf"labels must be integers in 0\.\.{N_OUT - 1} "
                                         rf"\(or one-hot rows of width {N_OUT}\)"):
        arguments.labelled_arrays((np.zeros((2, N_IN)), np.array([0.0, 1.0])), N_IN, N_OUT, "float32")


# -- scalar checks --------------------------------------------------------------------


def test_check_sizes():
    assert arguments.check_sizes([784, 30, 10]) == [784, 30, 10]
    assert arguments.check_sizes((2, np.int64(3), 1)) == [2, 3, 1]
    assert all(type(s) is int for s in arguments.check_sizes((2, np.int64(3), 1)))
    for bad in ([784], [], [784, 0, 10], [784, -3, 10], [784, 30.0, 10], [784, "30", 10], [784, True, 10],
                [784, None]):
        with pytest.raises(ValueError, match=r"^sizes "):
            arguments.check_sizes(bad)
    with pytest.raises(ValueError, match=r"sizes must be a list of layer sizes"):
        arguments.check_sizes(784)


def test_check_eta():
    assert arguments.check_eta(3) == 3.0 and isinstance(arguments.check_eta(3), float)
    assert arguments.check_eta(np.float32(0.5)) == 0.5
    assert arguments.check_eta(1e-12) == 1e-12
    for bad in (0, 0.0, -1.0, math.nan, math.inf, -math.inf, "3.0", None, True, np.nan):
        with pytest.raises(ValueError, match=r"^eta \(the learning rate\) must be a finite number > 0, got "):
            arguments.check_eta(bad)


def test_check_count():
    assert arguments.check_count(10, "mini_batch_size", 1, 50) == 10
    assert arguments.check_count(np.int64(50), "mini_batch_size", 1, 50) == 50
    assert arguments.check_count(0, "epochs", 0) == 0
    for bad in (0, 51, 2.5, True, "10", None):
        with pytest.raises(ValueError, match=rf"^mini_batch_size must be an integer in 1\.\.50, got {bad!r}"):
            arguments.check_count(bad, "mini_batch_size", 1, 50)
    with pytest.raises(ValueError, match=r"^epochs must be an integer in >= 0, got -1"):
        arguments.check_count(-1, "epochs", 0)


@pytest.mark.parametrize("label", [3.7, float("nan"), -0.5])
def test_a_label_that_is_not_a_whole_number_is_refused_not_truncated(label):
    pairs = [(np.zeros((4, 1)), 1), (np.zeros((4, 1)), label)]
    with pytest.raises(ValueError, match="test_data: label .* is not a whole number"):
        arguments.labelled_arrays(pairs, 4, 5, "float32")


def test_whole_number_labels_given_as_floats_are_the_integers():
    x, labels = arguments.labelled_arrays([(np.zeros((4, 1)), 3.0), (np.zeros((4, 1)), 0)], 4, 5, "float32")
    assert labels.dtype == np.int64 and labels.tolist() == [3, 0]


def test_inputs_of_the_wrong_rank_name_the_reshape():
    with pytest.raises(ValueError, match=r"X has shape \(5, 4, 1\); give one example per row.*reshape"):
        arguments.training_arrays((np.zeros((5, 4, 1)), np.zeros(5, np.int64)), 4, 2, "float32")
