"""Nielsen's ``mnist.pkl.gz``, read without running its code or spending memory on what it only claims.

A pickle is a program. The unpickler here runs only what rebuilding numpy arrays needs (any
other global is refused) and bounds what that costs before anything is allocated:

* the (inflated) stream is read through a reader that gives out at most
  :data:`MAX_PICKLE_BYTES` in all, each read's declared length checked before it is read,
  so that a gzip bomb stops there;
* ``numpy.ndarray`` is never called (``ndarray(shape)`` allocates any shape it is told), and
  numpy's ``_reconstruct`` may only make the empty array numpy's pickles start from: an array
  declared with a size but no data (300,000 images in 168 bytes) is refused;
* each array's state is checked before numpy takes it: its data must be exactly as long as
  its shape and type declare and hold no Python objects; the arrays and byte strings built
  from the pickle's data stay within twice :data:`MAX_PICKLE_BYTES` together (numpy copies a
  string the pickle names many times once for each time).

:func:`load_pickle` then checks the structure: three ``(images, labels)`` sets, each with at
least one image. Every problem is a one-line :class:`~dlpy35.data.errors.DataError`.
"""

from __future__ import annotations

import functools
import gzip
import math
import os
import pickle
import zlib
from pathlib import Path

import numpy as np

from dlpy35.data.errors import DataError, _one_line, _show
from dlpy35.data.formats import _open, _readinto
from dlpy35.text import plural

__all__ = ["MAX_PICKLE_BYTES", "load_pickle"]

#: The most bytes a pickle may inflate to: four times the book's mnist.pkl.gz (220 MB inflated).
MAX_PICKLE_BYTES = 1 << 30

# Globals a pickle of plain numpy arrays needs; anything else is refused.
_PICKLE_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("_codecs", "encode"),  # bytes in protocol-2 pickles written by Python 3
}


class _Budget:
    """Bytes that may still be spent on one kind of thing (`what`) while one pickle is read."""

    def __init__(self, limit: int, what: str) -> None:
        self.left, self.limit, self.what = limit, limit, what

    def take(self, n: int) -> None:
        if n > self.left:
            raise pickle.UnpicklingError(f"{self.what} more than {self.limit:,} bytes")
        self.left -= n


class _BoundedReader:
    """The file an unpickler reads, giving out no more than its budget: each length asked for is
    checked before it is read (a length declared in the pickle may be anything)."""

    def __init__(self, f, budget: _Budget) -> None:
        self.f, self.budget = f, budget

    def read(self, n: int = -1) -> bytes:
        self.budget.take(self.budget.left + 1 if n is None or n < 0 else n)
        return self.f.read(n)

    def readinto(self, b) -> int:
        view = memoryview(b).cast("B")
        self.budget.take(len(view))
        return _readinto(self.f, view)

    def readline(self, size: int = -1) -> bytes:
        line = self.f.readline(self.budget.left + 1 if size is None or size < 0 else size)
        self.budget.take(len(line))
        return line


class _NdarrayGlobal:
    """What ``numpy.ndarray`` stands for in a pickle read here: the type ``_reconstruct`` is told
    to make, never called (``ndarray(shape)`` would allocate the shape it is given)."""

    def __new__(cls, *args, **kwargs):
        raise pickle.UnpicklingError("refusing to call numpy.ndarray")


class _Array(np.ndarray):
    """An array being unpickled: numpy takes its state once :func:`_state_bytes` has checked it."""

    def __setstate__(self, state) -> None:
        self._built.take(_state_bytes(state))
        super().__setstate__(state)


def _count(shape) -> int:
    """The number of elements of a declared shape (a tuple of non-negative ints)."""
    if not (isinstance(shape, tuple) and all(isinstance(d, int) and d >= 0 for d in shape)):
        raise pickle.UnpicklingError(f"an array's shape is {shape!r}, not a tuple of sizes")
    return math.prod(shape)


def _state_bytes(state) -> int:
    """The bytes of an array's pickled state ``([version,] shape, dtype, fortran, data)``, checked
    against its data."""
    if not (isinstance(state, tuple) and len(state) in (4, 5)):
        raise pickle.UnpicklingError("an array's state is not numpy's")
    shape, dtype, _, data = state[-4:]
    if not isinstance(dtype, np.dtype) or dtype.hasobject:
        raise pickle.UnpicklingError(f"an array of {dtype!r}, not of numbers")
    nbytes = _count(shape) * dtype.itemsize
    if not isinstance(data, (bytes, bytearray, str)) or len(data) != nbytes:
        have = f"{len(data):,} bytes" if isinstance(data, (bytes, bytearray, str)) else type(data).__name__
        raise pickle.UnpicklingError(f"an array of shape {shape} {dtype} ({nbytes:,} bytes) "
                                     f"comes with {have}")
    return nbytes


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickler that only rebuilds numpy arrays, within the budgets of the module's docstring."""

    def __init__(self, f, **kwargs) -> None:
        super().__init__(_BoundedReader(f, _Budget(MAX_PICKLE_BYTES, "holds")), **kwargs)
        self._built = _Budget(2 * MAX_PICKLE_BYTES, "builds arrays of")

    def find_class(self, module: str, name: str):
        if (module, name) not in _PICKLE_GLOBALS:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}")
        if module.startswith("numpy.core.") and hasattr(np, "_core"):
            module = "numpy._core." + module.removeprefix("numpy.core.")
        if name == "ndarray":
            return _NdarrayGlobal
        found = super().find_class(module, name)
        if name == "_reconstruct":
            return functools.partial(self._reconstruct, found)
        if name == "encode":
            return functools.partial(self._encode, found)
        return found

    def _reconstruct(self, reconstruct, subtype, shape, dtype):
        if subtype is not _NdarrayGlobal:
            raise pickle.UnpicklingError(f"refusing to reconstruct {subtype!r}")
        n = _count(shape if isinstance(shape, tuple) else (shape,))
        if n:  # numpy's pickles start from an empty array; its data comes with its state
            raise pickle.UnpicklingError(f"an array of {n:,} elements declared without its data")
        array = reconstruct(_Array, shape, dtype)
        array._built = self._built
        return array

    def _encode(self, encode, text, *args):
        self._built.take(len(text) if isinstance(text, (str, bytes)) else 0)
        return encode(text, *args)


def _checked_set(part, split: str, where: str, fix: str):
    """``(X float32, y int64)`` of one unpickled set, or the one-line reason it is not one."""
    if not (isinstance(part, (tuple, list)) and len(part) == 2):
        raise DataError(f"{where}: {split} set is not an (images, labels) pair, {fix}")
    x, y = (np.asarray(a) for a in part)
    if x.ndim != 2 or x.shape[1] != 784 or x.dtype.kind != "f":
        raise DataError(f"{where}: {split} images are {x.dtype} {x.shape}, expected "
                        f"float (n, 784), {fix}")
    if y.ndim != 1 or y.dtype.kind not in "iu":
        raise DataError(f"{where}: {split} labels are {y.dtype} {y.shape}, expected "
                        f"integer (n,), {fix}")
    if len(x) != len(y):
        raise DataError(f"{where}: {split} set has {plural(len(x), 'image')} but "
                        f"{plural(len(y), 'label')}, {fix}")
    if len(x) == 0:
        raise DataError(f"{where}: {split} set has no images, {fix}")
    bad = np.flatnonzero((y < 0) | (y > 9))
    if bad.size:
        raise DataError(f"{where}: {split} label {int(y[bad[0]])} at index "
                        f"{int(bad[0])} is outside 0..9, {fix}")
    return x.astype(np.float32, copy=False), y.astype(np.int64, copy=False)


def load_pickle(path: str | os.PathLike):
    """Read Nielsen's ``mnist.pkl.gz`` (a Python 2 pickle, read with ``latin1``).

    Only numpy arrays are unpickled, within the bounds of the module's docstring; any other
    object in the file is refused.

    Parameters
    ----------
    path : str or os.PathLike
        The pickle, gzipped or not.

    Returns
    -------
    (training, validation, test)
        Each ``(X, y)`` with ``X`` float32 ``(n, 784)`` and ``y`` int64 ``(n,)``, ``n > 0``.

    Raises
    ------
    DataError
        Unreadable file, a pickle beyond the bounds, or not a 3-tuple of ``(X, y)`` pairs with
        784-wide ``X``, matching counts, at least one image and labels in 0..9.
    """
    path = Path(path)
    where = _show(path)
    fix = "give the path of the book's mnist.pkl.gz instead"
    try:
        with _open(path) as f:
            obj = _ArrayUnpickler(f, encoding="latin1").load()
    except MemoryError:
        raise DataError(f"{where}: declares more data than this machine's memory holds, {fix}") from None
    except (pickle.UnpicklingError, gzip.BadGzipFile, EOFError, zlib.error,
            AttributeError, ImportError, IndexError, TypeError, ValueError, OSError) as e:
        raise DataError(f"{where}: cannot unpickle ({_one_line(e)}), {fix}") from None
    if not (isinstance(obj, (tuple, list)) and len(obj) == 3):
        raise DataError(f"{where}: expected (training, validation, test), got "
                        f"{type(obj).__name__}, {fix}")
    return tuple(_checked_set(part, split, where, fix)
                 for part, split in zip(obj, ("training", "validation", "test"), strict=True))
