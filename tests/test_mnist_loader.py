"""Tests for dlpy35.mnist_loader, the book's loader API."""

from __future__ import annotations

import random

import numpy as np
import pytest

from dlpy35 import mnist_loader
from dlpy35.engine import arguments
from dlpy35.mnist_loader import load_data, load_data_wrapper, vectorized_result


@pytest.fixture(scope="module")
def wrapped(mnist_dir):
    return load_data_wrapper(mnist_dir)


def test_load_data_matches_load_mnist(mnist, mnist_dir):
    sets = load_data(mnist_dir)
    assert len(sets) == 3
    for (x, y), (ex, ey), n in zip(sets, mnist, (50_000, 10_000, 10_000)):
        assert x.shape == (n, 784) and x.dtype == np.float32
        assert y.shape == (n,) and y.dtype == np.int64
        np.testing.assert_array_equal(x, ex)
        np.testing.assert_array_equal(y, ey)


def test_wrapper_returns_lists(wrapped):
    training_data, validation_data, test_data = wrapped
    assert type(training_data) is list and len(training_data) == 50_000
    assert type(validation_data) is list and len(validation_data) == 10_000
    assert type(test_data) is list and len(test_data) == 10_000


def test_training_pairs(wrapped, mnist):
    training_data = wrapped[0]
    (train_x, train_y), _, _ = mnist
    for i in (0, 1, 12_345, 49_999):
        x, y = training_data[i]
        assert x.shape == (784, 1) and x.dtype == np.float32
        assert y.shape == (10, 1) and y.dtype == np.float32
        np.testing.assert_array_equal(x[:, 0], train_x[i])
        assert y.sum() == 1.0 and int(np.argmax(y)) == train_y[i]
    ys = np.concatenate([y for _, y in training_data], axis=1)
    assert ys.shape == (10, 50_000)
    np.testing.assert_array_equal(ys.argmax(axis=0), train_y)
    assert set(np.unique(ys).tolist()) == {0.0, 1.0}


@pytest.mark.parametrize("which", [1, 2])
def test_evaluation_pairs_have_int_labels(wrapped, mnist, which):
    pairs = wrapped[which]
    x_all, y_all = mnist[which]
    labels = [y for _, y in pairs]
    assert all(type(y) is int for y in labels)
    assert labels == y_all.tolist()
    x, _ = pairs[-1]
    assert x.shape == (784, 1) and x.dtype == np.float32
    np.testing.assert_array_equal(x[:, 0], x_all[-1])


def test_slicing_and_second_pass(wrapped):
    training_data, _, test_data = wrapped
    subset = training_data[:1000]
    assert type(subset) is list and len(subset) == 1000
    assert subset[999][0] is training_data[999][0]
    first = sum(float(x.sum()) for x, _ in test_data)
    second = sum(float(x.sum()) for x, _ in test_data)
    assert first == second and first > 0
    assert sum(1 for _ in training_data) == sum(1 for _ in training_data) == 50_000


def test_in_place_shuffle_keeps_pairs(wrapped):
    # network.py shuffles its training list in place each epoch.
    subset = wrapped[0][:200]
    label_of = {id(x): int(np.argmax(y)) for x, y in subset}
    before = [id(x) for x, _ in subset]
    random.Random(0).shuffle(subset)
    assert [id(x) for x, _ in subset] != before
    assert all(label_of[id(x)] == int(np.argmax(y)) for x, y in subset)
    assert [id(x) for x, _ in wrapped[0][:200]] == before  # the original list is unchanged


def test_columns_are_views_of_one_array(wrapped):
    training_data = wrapped[0]
    x0, y0 = training_data[0]
    x1, y1 = training_data[1]
    assert x0.base is not None and x0.base is x1.base
    assert y0.base is not None and y0.base is y1.base
    assert not x0.flags.writeable  # shared: in-place edits are refused
    with pytest.raises(ValueError):
        x0 += 1


def test_vectorized_result():
    for j in range(10):
        e = vectorized_result(j)
        assert e.shape == (10, 1) and e.dtype == np.float32
        assert e[j, 0] == 1.0 and e.sum() == 1.0
    assert vectorized_result(np.int64(3))[3, 0] == 1.0
    for bad in (-1, 10, 2.5):
        with pytest.raises(ValueError):
            vectorized_result(bad)


def test_one_hot_and_columns_helpers():
    labels = np.array([3, 0, 9], dtype=np.int64)
    one_hot = arguments.one_hot(labels, 10, np.float32)
    np.testing.assert_array_equal(one_hot.argmax(axis=1), labels)
    cols = mnist_loader._columns(one_hot)
    assert [c.shape for c in cols] == [(10, 1)] * 3
    for c, j in zip(cols, labels):
        np.testing.assert_array_equal(c, vectorized_result(int(j)))
