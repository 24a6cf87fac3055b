"""dlpy35.engine.evaluation: a labelled set in padded chunks (its scoring graph is tested through the
trainer, against numpy, in test_trainer.py)."""

from __future__ import annotations

import numpy as np
import pytest

from dlpy35.engine.evaluation import padded_chunks


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_set_is_cut_in_equal_chunks_padded_with_zero_rows_labelled_negative(dtype):
    x = np.arange(7 * 3, dtype=np.float64).reshape(7, 3)
    labels = np.array([0, 1, 2, 0, 1, 2, 0])
    xs, ys, idx = padded_chunks(x, labels, 3, dtype)
    assert xs.shape == (3, 3, 3) and ys.shape == (3, 3) and list(idx) == [0, 1, 2]
    assert xs.dtype == np.dtype(dtype) and ys.dtype == np.int64  # the device's dtype, not numpy's default
    np.testing.assert_array_equal(xs.reshape(9, 3)[:7], x)
    assert not xs.reshape(9, 3)[7:].any() and list(ys.reshape(9)[7:]) == [-1, -1]
    np.testing.assert_array_equal(ys.reshape(9)[:7], labels)


def test_no_chunk_size_or_a_larger_one_is_one_chunk_of_the_whole_set():
    x, labels = np.ones((5, 2)), np.zeros(5, np.int64)
    for chunk in (None, 50):
        xs, ys, idx = padded_chunks(x, labels, chunk, "float32")
        assert xs.shape == (1, 5, 2) and ys.shape == (1, 5) and list(idx) == [0] and (ys == 0).all()
