"""The book's MNIST split: 50,000 training, 10,000 validation and 10,000 test images.

:func:`load_mnist` reads the four verified IDX files (fetching them when missing, see
:mod:`dlpy35.data.fetch`), or Nielsen's ``mnist.pkl.gz`` when they cannot be had, and
returns the split the book trains on with pixels scaled as in the book's pickle.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from dlpy35.data.errors import DataError, _show
from dlpy35.data.fetch import DATA_ENV, FILES, FetchError, _check_bytes, _dir, fetch_mnist
from dlpy35.data.formats import (
    IDX_NAMES,
    TEST_IMAGES,
    TEST_LABELS,
    TRAIN_IMAGES,
    TRAIN_LABELS,
    _check_set,
    _decompressed_bytes,
    parse_idx,
)
from dlpy35.data.pickles import load_pickle
from dlpy35.text import plural

__all__ = ["VALIDATION_SIZE", "PICKLE_NAME", "load_mnist", "book_split"]

#: The book's validation set: the last 10,000 of the 60,000 training images.
VALIDATION_SIZE = 10_000

#: Nielsen's pickle, looked for in the data directory and its parent.
PICKLE_NAME = "mnist.pkl.gz"


def _find_pickle(data_dir: Path) -> Path | None:
    for p in (data_dir / PICKLE_NAME, data_dir.parent / PICKLE_NAME):
        if p.is_file():
            return p
    return None


def load_mnist(data_dir: str | os.PathLike | None = None, fetch: bool = True):
    """The book's MNIST split, as in Nielsen's ``mnist.pkl.gz``.

    Training is the first 50,000 of LeCun's training images, validation the last
    10,000, test the 10,000 ``t10k`` images. Pixels are ``k / 256`` for the byte
    value ``k`` (float32 in ``[0, 1)``, largest 255/256 = 0.99609375), which is how
    the book's pickle stores them.

    The verified IDX files in ``data_dir`` are used, fetched first when missing
    (unless ``fetch`` is false). Only when they are missing and cannot be fetched is
    a ``mnist.pkl.gz`` in ``data_dir`` or its parent (``data/``) read instead.

    Parameters
    ----------
    data_dir : path-like, optional
        Defaults to :func:`~dlpy35.data.fetch.default_data_dir`.
    fetch : bool
        Download missing files (see :func:`~dlpy35.data.fetch.fetch_mnist`).

    Returns
    -------
    ((train_x, train_y), (val_x, val_y), (test_x, test_y))
        ``X`` float32 ``(n, 784)``, ``y`` int64 ``(n,)``.

    Raises
    ------
    DataError
        A corrupt file, or the data is missing and neither a source nor a pickle
        supplies it.
    """
    data_dir = _dir(data_dir)
    finals = {name: data_dir / (name + ".gz") for name in IDX_NAMES}
    if not all(p.is_file() for p in finals.values()):
        try:
            if not fetch:
                absent = ", ".join(p.name for p in finals.values() if not p.is_file())
                raise FetchError(f"{_show(data_dir)}: missing {absent}, run "
                                 f"`python -m dlpy35.data` or set {DATA_ENV}")
            fetch_mnist(data_dir)
        except FetchError:
            pkl = _find_pickle(data_dir)
            if pkl is None:
                raise
            return load_pickle(pkl)

    arrays = {}
    for name, path in finals.items():
        buf = _decompressed_bytes(path, limit=FILES[name].size)  # a bomb inflates no further
        _check_bytes(buf, path, name)
        arrays[name] = parse_idx(buf, _show(path))
        del buf
    shown = {name: _show(p) for name, p in finals.items()}
    _check_set(arrays, shown, n_classes=10)  # the digits 0..9
    return book_split(arrays, shown)


def book_split(arrays: dict[str, np.ndarray], shown: dict[str, str]):
    """The book's split of the four arrays of an MNIST-format set (keyed by :data:`IDX_NAMES`).

    Training is all but the last :data:`VALIDATION_SIZE` training images, validation
    those, test the test images; images flattened row by row, pixels ``k / 256``
    (float32), labels int64. ``shown`` names the files in errors.
    """
    def flat(images: np.ndarray) -> np.ndarray:
        x = images.reshape(len(images), -1).astype(np.float32)
        x /= np.float32(256)  # exact: k/256 is representable in float32
        return x

    train_x, test_x = flat(arrays[TRAIN_IMAGES]), flat(arrays[TEST_IMAGES])
    train_y = arrays[TRAIN_LABELS].astype(np.int64)
    test_y = arrays[TEST_LABELS].astype(np.int64)
    n = len(train_x) - VALIDATION_SIZE
    if n <= 0:
        raise DataError(f"{shown[TRAIN_IMAGES]}: only {plural(len(train_x), 'training image')}, "
                        f"need more than {VALIDATION_SIZE:,} for the validation split")
    # Slices of one array: no copies of the 50,000 x 784 training pixels.
    return ((train_x[:n], train_y[:n]), (train_x[n:], train_y[n:]), (test_x, test_y))
