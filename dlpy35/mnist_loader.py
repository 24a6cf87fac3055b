"""The book's ``mnist_loader`` (chapter 1), ported to Python 3 and to :mod:`dlpy35.data`.

Same API as Nielsen's ``mnist_loader.py``: :func:`load_data` returns the three data
sets the way ``mnist.pkl.gz`` stores them, :func:`load_data_wrapper` the lists of
``(x, y)`` pairs that ``network.py`` and ``network2.py`` train on.

Unlike the usual Python 3 port, :func:`load_data_wrapper` returns lists, not ``zip``
objects, so the data can be sliced (``training_data[:1000]``) and read more than
once. The column vectors are views into one array per data set, not copies.
"""

from __future__ import annotations

import os

import numpy as np

from dlpy35.data import load_mnist
from dlpy35.engine.arguments import one_hot

__all__ = ["load_data", "load_data_wrapper", "vectorized_result"]


def load_data(data_dir: str | os.PathLike | None = None):
    """The MNIST data as ``(training_data, validation_data, test_data)``.

    As in the book, ``training_data`` is a pair ``(X, y)``: ``X`` holds 50,000 images
    of 784 pixels (float32 ``(50000, 784)``, values in ``[0, 1)``) and ``y`` their
    digits (int64 ``(50000,)``). ``validation_data`` and ``test_data`` are alike with
    10,000 images each.

    Parameters
    ----------
    data_dir : path-like, optional
        Where the MNIST files are (see :func:`dlpy35.data.load_mnist`); they are
        fetched when missing.

    Returns
    -------
    (training_data, validation_data, test_data)
    """
    return load_mnist(data_dir)


def load_data_wrapper(data_dir: str | os.PathLike | None = None):
    """The data sets as lists of ``(x, y)`` pairs, the form the book's networks use.

    ``training_data`` is a list of 50,000 pairs ``(x, y)``: ``x`` a float32
    ``(784, 1)`` column of pixels and ``y`` the float32 ``(10, 1)`` one-hot vector of
    the digit. ``validation_data`` and ``test_data`` are lists of 10,000 pairs
    ``(x, y)`` with ``y`` the digit as an ``int``, as in the book.

    Every ``x`` (and every one-hot ``y``) is a read-only view into one array per
    data set, so the pixels are stored once.

    Parameters
    ----------
    data_dir : path-like, optional
        Where the MNIST files are (see :func:`dlpy35.data.load_mnist`).

    Returns
    -------
    (training_data, validation_data, test_data)
        Lists: they can be sliced, shuffled and iterated any number of times.
    """
    tr_d, va_d, te_d = load_data(data_dir)
    training_inputs = _columns(tr_d[0])
    training_results = _columns(one_hot(tr_d[1], 10, np.float32))
    training_data = list(zip(training_inputs, training_results))
    validation_data = list(zip(_columns(va_d[0]), (int(j) for j in va_d[1])))
    test_data = list(zip(_columns(te_d[0]), (int(j) for j in te_d[1])))
    return training_data, validation_data, test_data


def vectorized_result(j: int) -> np.ndarray:
    """A float32 ``(10, 1)`` unit vector with 1.0 in position ``j`` (the book's one-hot).

    Parameters
    ----------
    j : int
        A digit, 0 to 9.
    """
    if not 0 <= int(j) <= 9 or int(j) != j:
        raise ValueError(f"vectorized_result: expected a digit 0..9, got {j!r}")
    e = np.zeros((10, 1), dtype=np.float32)
    e[int(j)] = 1.0
    return e


def _columns(rows: np.ndarray) -> list[np.ndarray]:
    """The rows of an ``(n, k)`` array as ``(k, 1)`` read-only views of one array."""
    cols = np.ascontiguousarray(rows).reshape(len(rows), -1, 1)
    cols.flags.writeable = False  # shared by every pair: an in-place edit would leak
    return list(cols)
