"""Expanded MNIST: each training image and its four 1-pixel shifts (the book's ``expand_mnist.py``).

The 50,000 training images become 250,000: for image ``i``, rows ``5i .. 5i+4``
are the image itself, then shifted down, up, right and left by one pixel, the
row or column that enters filled with zeros (the book's ``np.roll`` with the
wrapped line zeroed).  The book shuffles the result; ``Network.SGD`` shuffles
every epoch, so the order here stays deterministic.

The set is cached next to the MNIST files (``<data_dir>/mnist_expanded.npz``,
pixel bytes plus a SHA-256 of them), written atomically, and regenerated when
missing or corrupt.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

import numpy as np

from dlpy35.data import default_data_dir, load_mnist
from dlpy35.storage.atomic import atomic_write

CACHE_NAME = "mnist_expanded.npz"
SIDE = 28
#: (shift, axis) in row order after the original: down, up, right, left.
SHIFTS = ((1, 0), (-1, 0), (1, 1), (-1, 1))


def shift(images, d, axis):
    """`images` (n, 28, 28) moved by `d` pixels along `axis` (0 rows, 1 columns), zero-filled."""
    out = np.zeros_like(images)
    src = [slice(None)] * 3
    dst = [slice(None)] * 3
    src[axis + 1] = slice(0, SIDE - d) if d > 0 else slice(-d, SIDE)
    dst[axis + 1] = slice(d, SIDE) if d > 0 else slice(0, SIDE + d)
    out[tuple(dst)] = images[tuple(src)]
    return out


def expand(images, labels):
    """``(X, y)`` with each image followed by its four 1-pixel shifts.

    Parameters
    ----------
    images : array (n, 784)
    labels : array (n,)

    Returns
    -------
    X : array (5n, 784), the dtype of `images`
    y : array (5n,), each label repeated five times
    """
    images = np.asarray(images)
    labels = np.asarray(labels)
    if images.ndim != 2 or images.shape[1] != SIDE * SIDE or len(images) != len(labels):
        raise ValueError(f"expand: expected images (n, {SIDE * SIDE}) and n labels, "
                         f"got {images.shape} and {labels.shape}")
    square = images.reshape(-1, SIDE, SIDE)
    out = np.stack([square, *(shift(square, d, axis) for d, axis in SHIFTS)], axis=1)
    return out.reshape(-1, SIDE * SIDE), np.repeat(labels, 1 + len(SHIFTS))


def _digest(pixels, labels):
    return hashlib.sha256(pixels.tobytes() + labels.tobytes()).hexdigest()


def _read(path):
    """``(pixels uint8, labels)`` from the cache, or None when it is missing or corrupt."""
    try:
        with np.load(path, allow_pickle=False) as f:
            pixels, labels, digest = f["pixels"], f["labels"], str(f["sha256"])
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError):
        return None
    if (pixels.dtype != np.uint8 or pixels.ndim != 2 or pixels.shape[1] != SIDE * SIDE
            or labels.shape != (len(pixels),) or _digest(pixels, labels) != digest):
        return None
    return pixels, labels


def cache_path(data_dir=None) -> Path:
    """Where :func:`load_expanded` keeps the expanded set."""
    return Path(data_dir or default_data_dir()) / CACHE_NAME


def load_expanded(data_dir=None, verbose=False):
    """The 250,000-image expanded training set, from the cache or generated (and cached).

    Parameters
    ----------
    data_dir : path-like, optional
        The MNIST directory (default :func:`dlpy35.data.default_data_dir`); the
        cache lives there.
    verbose : bool
        Say when the set is (re)generated.

    Returns
    -------
    X : float32 (250000, 784), pixels ``k / 256`` as in :func:`dlpy35.data.load_mnist`
    y : int64 (250000,)
    """
    path = cache_path(data_dir)
    cached = _read(path)
    if cached is None:
        if verbose:
            print(f"generating {path} (missing or corrupt)", flush=True)
        (x, y), _, _ = load_mnist(data_dir)
        pixels, labels = expand(np.rint(x * 256).astype(np.uint8), y.astype(np.int64))
        buf = io.BytesIO()
        np.savez(buf, pixels=pixels, labels=labels, sha256=np.array(_digest(pixels, labels)))
        with atomic_write(path, "wb") as f:
            f.write(buf.getvalue())
        cached = pixels, labels
    pixels, labels = cached
    x = pixels.astype(np.float32)
    x /= np.float32(256)
    return x, labels.astype(np.int64)
