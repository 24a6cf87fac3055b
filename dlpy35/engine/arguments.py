"""Checking and converting what users pass to a network.

The book passes data as lists of ``(x, y)`` pairs: ``x`` a (784, 1) column, ``y`` a
(10, 1) one-hot column for training and an integer label for validation and test
data.  dlpy35 also accepts a pair of arrays ``(X, Y)``: ``X`` (n, n_in) row-wise,
``Y`` (n, n_out) one-hot or (n,) integer labels.  Inputs must be finite and lie in
[0, 1] (greyscale intensities, as the book's loader gives them).  Everything is
converted to row-wise arrays here, once, with errors that name the parameter and
the fix.
"""

from __future__ import annotations

import math
from numbers import Integral, Real

import numpy as np

from dlpy35.text import plural


def _is_array_pair(data) -> bool:
    return (
        isinstance(data, tuple)
        and len(data) == 2
        and all(isinstance(d, np.ndarray) for d in data)
        and data[0].ndim == 2
    )


def _split(data, name):
    """``(X rows, raw targets)`` from either accepted form, without copying arrays twice."""
    if _is_array_pair(data):
        x, y = data
        if len(x) != len(y):
            raise ValueError(f"{name}: X has {plural(len(x), 'row')} but Y has {len(y):,}; "
                             "give one target per example")
        if len(x) == 0:
            raise ValueError(f"{name} is empty; give at least one example")
        return x, np.asarray(y)
    if isinstance(data, tuple) and len(data) == 2 and all(isinstance(d, np.ndarray) for d in data):
        raise ValueError(f"{name}: X has shape {data[0].shape}; give one example per row, (n, n_in): "
                         "X.reshape(len(X), -1)")
    if isinstance(data, np.ndarray) or isinstance(data, (str, bytes)):
        raise ValueError(f"{name}: expected a list of (x, y) pairs or a tuple (X, Y) of arrays, "
                         f"got {type(data).__name__}")
    pairs = list(data)  # also materialises zip objects from older loaders
    if not pairs:
        raise ValueError(f"{name} is empty; give at least one (x, y) pair")
    try:
        xs = [np.asarray(x).reshape(-1) for x, _ in pairs]
        ys = [np.asarray(y) for _, y in pairs]
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name}: every item must be an (x, y) pair ({exc})") from None
    widths = {x.size for x in xs}
    if len(widths) != 1:
        raise ValueError(f"{name}: inputs have different sizes {sorted(widths)}; all must be equal")
    if ys[0].ndim == 0:  # integer labels, as in the book's validation and test data
        return np.stack(xs), _whole_labels(np.array(ys), name)
    return np.stack(xs), np.stack([y.reshape(-1) for y in ys])


def _whole_labels(labels, name):
    """Labels given as numbers, as int64; a label that is not a whole number (3.7) is an error, not 3."""
    if labels.dtype.kind == "f":
        bad = labels[~(np.isfinite(labels) & (labels == np.round(labels)))]
        if bad.size:
            raise ValueError(f"{name}: label {bad[0]} is not a whole number; labels are class numbers "
                             "0, 1, 2...")
        return labels.astype(np.int64)
    return labels


def check_width(x, n_in, name):
    if x.ndim != 2 or x.shape[1] != n_in:
        raise ValueError(
            f"{name}: inputs have {x.shape[1] if x.ndim == 2 else x.shape} values each, "
            f"but the network's input layer sizes[0] is {n_in}; give inputs of width {n_in}"
        )


def _check_labels(labels, n_out, name):
    if labels.size and (labels.min() < 0 or labels.max() >= n_out):
        bad = labels[(labels < 0) | (labels >= n_out)][0]
        raise ValueError(f"{name}: label {bad} is outside the output range; "
                         f"labels must be integers in 0..{n_out - 1}")


def _as_labels(y, n_out, name):
    """Integer labels from integer labels or one-hot rows."""
    if y.ndim == 2:
        if y.shape[1] != n_out:
            raise ValueError(f"{name}: targets have {y.shape[1]} values each "
                             f"but the output layer has {n_out}")
        return np.argmax(_one_hot_rows(y, np.float64, name), axis=1)
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"{name}: labels must be integers in 0..{n_out - 1} "
                         f"(or one-hot rows of width {n_out})")
    labels = y.astype(np.int64)
    _check_labels(labels, n_out, name)
    return labels


def training_arrays(data, n_in, n_out, dtype, name="training_data"):
    """``(X, Y)``: X (n, n_in) inputs in [0, 1] and one-hot rows Y (n, n_out), both `dtype`."""
    x, y = _split(data, name)
    check_width(x, n_in, name)
    if y.ndim == 1:
        y = one_hot(_as_labels(y, n_out, name), n_out, dtype)
    elif y.ndim != 2 or y.shape[1] != n_out:
        raise ValueError(f"{name}: targets must be one-hot rows of width {n_out} (sizes[-1]) "
                         "or integer labels")
    return unit_inputs(x, dtype, name), _one_hot_rows(y, dtype, name)


def _one_hot_rows(y, dtype, name):
    """`y` as `dtype` when each row is all zeros but one 1 (the book's targets); ValueError otherwise.

    Other targets would train without complaint towards something else than the
    labels that accuracy is measured against.
    """
    y = np.ascontiguousarray(y, dtype=dtype)
    bad = np.flatnonzero(~(np.isin(y, (0, 1)).all(axis=1) & (y.sum(axis=1) == 1)))
    if bad.size:
        raise ValueError(f"{name}: target row {bad[0]} is {_show_row(y[bad[0]])}, not one-hot; give one-hot "
                         "rows (a single 1) or integer labels")
    return y


def _show_row(row, limit=6):
    values = ", ".join(f"{v:g}" for v in row[:limit])
    return f"[{values}{', ...' if len(row) > limit else ''}]"


def one_hot(labels, n, dtype):
    """``(len(labels), n)`` rows of zeros with a one at each label (the book's ``vectorized_result``)."""
    rows = np.zeros((len(labels), n), dtype=dtype)
    rows[np.arange(len(labels)), labels] = 1
    return rows


def finite_inputs(x, dtype, name):
    """`x` as a C-contiguous `dtype` array; ValueError when it holds NaN or infinity."""
    x = np.ascontiguousarray(x, dtype=dtype)
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name}: inputs contain NaN or infinity (after conversion to {dtype}); "
                         "clean the data first")
    return x


def unit_inputs(x, dtype, name):
    """:func:`finite_inputs` whose values also lie in [0, 1]; ValueError naming the fix otherwise.

    The book's networks classify greyscale intensities in [0, 1]: pixels 0..255
    would saturate every sigmoid of the first layer and train at chance with no
    error.  (``feedforward`` evaluates the network's function anywhere: it checks
    only that its input is finite.)
    """
    x = finite_inputs(x, dtype, name)
    if x.size and (x.min() < 0 or x.max() > 1):
        fix = "divide pixels 0..255 by 255" if x.min() >= 0 else "rescale them to [0, 1]"
        raise ValueError(f"{name}: inputs range over [{x.min():g}, {x.max():g}], the networks take values "
                         f"in [0, 1]; {fix}")
    return x


def example_rows(x, n_in, dtype, name):
    """`x` as rows (n, n_in) of `dtype` values in [0, 1], one example per row; ValueError naming the fix.

    Each example may come in any shape holding `n_in` values -- a 28 x 28 image, the book's (784, 1)
    column -- and is flattened row-major; a single example must still come as a batch of one.
    """
    try:
        x = np.asarray(x, dtype=dtype)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected an array of numbers, one example per row (n, {n_in}), "
                         f"got {type(x).__name__}") from None
    if x.ndim < 2:
        raise ValueError(f"{name}: X has shape {x.shape}; give one example per row, (n, {n_in}): "
                         "X.reshape(1, -1) for a single example")
    if len(x) == 0:
        raise ValueError(f"{name}: X is empty; give at least one example")
    if x.ndim > 2:  # images (n, 28, 28), the book's columns (n, 784, 1)
        if (size := math.prod(x.shape[1:])) != n_in:
            raise ValueError(f"{name}: each example of X {x.shape} holds {size} values, but the network's "
                             f"input layer takes {n_in}; give examples of {n_in} values")
        x = x.reshape(len(x), n_in)
    check_width(x, n_in, name)
    return unit_inputs(x, dtype, name)


def target_labels(y, n, n_out, name):
    """int64 labels (n,) in ``0..n_out-1`` from labels, one-hot rows (n, n_out) or the book's one-hot columns
    (n, n_out, 1); ValueError naming the fix."""
    y = np.asarray(y)
    if y.ndim == 3 and y.shape[2] == 1:
        y = y[..., 0]
    if y.ndim == 0 or len(y) != n:
        raise ValueError(f"{name}: {len(y) if y.ndim else 'a single'} target{'s' if y.ndim else ''} for {n} "
                         "examples; give one label (or one-hot row) per example")
    return _as_labels(_whole_labels(y, name) if y.ndim == 1 else y, n_out, name)


def labelled_arrays(data, n_in, n_out, dtype, name="test_data"):
    """``(X, labels)``: X (n, n_in) `dtype` and int64 labels in ``0..n_out-1``."""
    x, y = _split(data, name)
    check_width(x, n_in, name)
    return unit_inputs(x, dtype, name), _as_labels(y, n_out, name)


def columns(x, y, n_in, n_out, dtype):
    """Input and target columns ``(n_in, m)``, ``(n_out, m)`` as the book's ``backprop`` takes them."""
    x = np.asarray(x, dtype=dtype)
    y = np.asarray(y, dtype=dtype)
    x = x.reshape(-1, 1) if x.ndim == 1 else x
    y = y.reshape(-1, 1) if y.ndim == 1 else y
    check_width(x.T, n_in, "x")
    if y.shape != (n_out, x.shape[1]):
        raise ValueError(f"y: expected shape {(n_out, x.shape[1])} to match x's columns, got {y.shape}")
    return x, y


def check_sizes(sizes):
    """``sizes``: at least two layers, each a positive integer."""
    try:
        sizes = list(sizes)
    except TypeError:
        raise ValueError("sizes must be a list of layer sizes such as [784, 30, 10], "
                         f"got {sizes!r}") from None
    if len(sizes) < 2:
        raise ValueError("sizes needs at least two layers (input and output), such as [784, 30, 10]; "
                         f"got {sizes}")
    for s in sizes:
        if not is_count(s):
            raise ValueError(f"sizes must contain positive integers (neurons per layer); got {sizes}")
    return [int(s) for s in sizes]


def check_eta(eta, dtype="float64"):
    """The learning rate: a number above 0, finite also in the network's `dtype`."""
    ok = isinstance(eta, Real) and not isinstance(eta, bool) and math.isfinite(eta) and eta > 0
    with np.errstate(over="ignore"):
        if not ok or not np.isfinite(np.asarray(eta, dtype)):
            raise ValueError(f"eta (the learning rate) must be a finite number > 0, got {eta!r} "
                             f"(the network computes in {dtype})")
    return float(eta)


def check_lmbda(lmbda):
    """The regularisation parameter: a finite number >= 0."""
    if isinstance(lmbda, bool) or not isinstance(lmbda, Real) or not math.isfinite(lmbda) or lmbda < 0:
        raise ValueError(f"lmbda (the regularisation parameter) must be a finite number >= 0, got {lmbda!r}")
    return float(lmbda)


def is_count(value, low=1):
    """True for an integer (not a bool) of at least `low`: the one test of every count dlpy35 takes."""
    return isinstance(value, Integral) and not isinstance(value, bool) and value >= low


def check_count(value, name, low, high=None):
    """An integer in ``low..high`` (inclusive)."""
    ok = is_count(value, low)
    if ok and high is not None:
        ok = value <= high
    if not ok:
        allowed = f"{low}..{high}" if high is not None else f">= {low}"
        raise ValueError(f"{name} must be an integer in {allowed}, got {value!r}")
    return int(value)
