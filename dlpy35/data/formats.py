"""Reading MNIST-format files: IDX (raw or gzipped) and Nielsen's ``mnist.pkl.gz``.

:func:`read_idx` reads any IDX file and :func:`load_idx_dir` any directory laid out like
MNIST (the four standard file names, raw or ``.gz``), whatever the image size or the
number of classes. Only the structure is checked, never a checksum, so Fashion-MNIST,
KMNIST or a data set of one's own load the same way as MNIST. :func:`load_pickle` reads
the book's pickle of the 50,000/10,000/10,000 split.

Every problem is a :class:`~dlpy35.data.errors.DataError` whose message names the file.
"""

from __future__ import annotations

import gzip
import math
import os
import pickle
import zlib
from pathlib import Path

import numpy as np

from dlpy35.data.errors import DataError, _one_line, _show

__all__ = [
    "TRAIN_IMAGES",
    "TRAIN_LABELS",
    "TEST_IMAGES",
    "TEST_LABELS",
    "IDX_NAMES",
    "parse_idx",
    "read_idx",
    "load_idx_dir",
    "load_pickle",
]

TRAIN_IMAGES = "train-images-idx3-ubyte"
TRAIN_LABELS = "train-labels-idx1-ubyte"
TEST_IMAGES = "t10k-images-idx3-ubyte"
TEST_LABELS = "t10k-labels-idx1-ubyte"

#: The four file names of an MNIST-format data set, each stored raw or as ``<name>.gz``.
IDX_NAMES = (TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS)

_IDX_DTYPES = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_REDOWNLOAD = "replace it with an intact copy"


# --------------------------------------------------------------------------- raw or gzipped


def _is_gzip(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(2) == b"\x1f\x8b"


def _open(path: Path):
    """Open ``path`` for reading its content, decompressing it when it is gzipped."""
    return gzip.open(path, "rb") if _is_gzip(path) else open(path, "rb")


def _decompressed_bytes(path: Path) -> bytes:
    try:
        with _open(path) as f:
            return f.read()
    except (gzip.BadGzipFile, EOFError, zlib.error) as e:
        raise DataError(
            f"{_show(path)}: unreadable gzip ({_one_line(e)}), {_REDOWNLOAD}"
        ) from None


# --------------------------------------------------------------------------- IDX


def parse_idx(buf: bytes | bytearray | memoryview, where: str = "<bytes>") -> np.ndarray:
    """Decode the bytes of an (uncompressed) IDX file.

    Parameters
    ----------
    buf : bytes-like
        The whole file.
    where : str
        Name used in error messages.

    Returns
    -------
    numpy.ndarray
        A native-endian array of the header's shape and type.

    Raises
    ------
    DataError
        Wrong magic, unknown type code, or a length that disagrees with the header.
    """
    buf = memoryview(buf).cast("B")
    n = len(buf)
    if n < 4 or buf[0] != 0 or buf[1] != 0:
        head = bytes(buf[:4]).hex(" ") or "empty"
        raise DataError(f"{where}: not an IDX file (starts {head}, expected "
                        f"00 00 <type> <ndim>), {_REDOWNLOAD}")
    code, ndim = buf[2], buf[3]
    if code not in _IDX_DTYPES:
        raise DataError(f"{where}: unknown IDX type code 0x{code:02x}, {_REDOWNLOAD}")
    if ndim == 0:
        raise DataError(f"{where}: IDX header has 0 dimensions, {_REDOWNLOAD}")
    header = 4 + 4 * ndim
    if n < header:
        raise DataError(f"{where}: truncated IDX header ({n} bytes), {_REDOWNLOAD}")
    dims = tuple(int(d) for d in np.frombuffer(buf, ">u4", ndim, 4))
    dtype = _IDX_DTYPES[code]
    expected = header + math.prod(dims) * dtype.itemsize
    shape = "x".join(map(str, dims))
    if n < expected:
        raise DataError(
            f"{where}: truncated, the header ({shape} {dtype.name}) needs {expected:,} bytes "
            f"but the file has {n:,}, {_REDOWNLOAD}"
        )
    if n > expected:
        raise DataError(
            f"{where}: {n - expected:,} bytes beyond what the header ({shape} {dtype.name}) "
            f"describes, {_REDOWNLOAD}"
        )
    try:
        arr = np.frombuffer(buf, dtype, math.prod(dims), header).reshape(dims)
    except ValueError as e:
        # The length fits, yet numpy makes no such array: more than 64 dimensions, or an empty
        # array whose other dimensions multiply beyond the largest array numpy can describe.
        raise DataError(f"{where}: the header's shape {shape} ({dtype.name}) is not one numpy can make "
                        f"({_one_line(e)}), {_REDOWNLOAD}") from None
    return arr.astype(dtype.newbyteorder("="), copy=True)


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read one IDX file, raw or gzipped.

    Any IDX file is accepted: any of the six element types and any number of
    dimensions. Whether the file is gzipped is told by its first bytes, not by its
    name. No checksum is involved; the length must match what the header describes.

    Parameters
    ----------
    path : str or os.PathLike
        The file, e.g. ``train-images-idx3-ubyte`` or ``train-images-idx3-ubyte.gz``.

    Returns
    -------
    numpy.ndarray
        A writable, native-endian array of the shape and type given by the header
        (for MNIST: uint8 ``(n, 28, 28)`` images or uint8 ``(n,)`` labels).

    Raises
    ------
    DataError
        An unreadable file or gzip, wrong magic, unknown type code, a truncated file
        or bytes beyond what the header describes.

    See Also
    --------
    load_idx_dir : the four files of an MNIST-format data set at once, cross-checked.

    Examples
    --------
    A gzipped IDX file of three uint8 labels (type code 0x08, one dimension of size 3):

    >>> import gzip, tempfile
    >>> from pathlib import Path
    >>> from dlpy35.data import read_idx
    >>> path = Path(tempfile.mkdtemp()) / "labels-idx1-ubyte.gz"
    >>> _ = path.write_bytes(gzip.compress(bytes([0, 0, 0x08, 1, 0, 0, 0, 3, 7, 2, 1])))
    >>> read_idx(path)
    array([7, 2, 1], dtype=uint8)

    The MNIST training images once fetched (``python -m dlpy35.data``):

    >>> from dlpy35.data import default_data_dir
    >>> images = read_idx(default_data_dir() / "train-images-idx3-ubyte.gz")  # doctest: +SKIP
    >>> images.shape, images.dtype  # doctest: +SKIP
    ((60000, 28, 28), dtype('uint8'))
    """
    path = Path(path)
    try:
        buf = _decompressed_bytes(path)
    except OSError as e:
        raise DataError(f"{_show(path)}: cannot read ({_one_line(e)})") from None
    return parse_idx(buf, _show(path))


def _find(directory: Path, name: str) -> Path | None:
    """``<name>.gz`` or else ``<name>`` in ``directory``; ``None`` when neither is a file."""
    for p in (directory / (name + ".gz"), directory / name):
        if p.is_file():
            return p
    return None


def _check_split(images: np.ndarray, labels: np.ndarray, ipath: str, lpath: str,
                 n_classes: int | None) -> None:
    if images.dtype != np.uint8 or images.ndim != 3:
        raise DataError(
            f"{ipath}: expected 3-D uint8 images, got {images.ndim}-D {images.dtype}, "
            f"{_REDOWNLOAD}"
        )
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise DataError(
            f"{lpath}: expected 1-D uint8 labels, got {labels.ndim}-D {labels.dtype}, "
            f"{_REDOWNLOAD}"
        )
    if len(images) != len(labels):
        raise DataError(
            f"{lpath}: {len(labels):,} labels but {ipath} has {len(images):,} images, "
            f"use files from the same data set"
        )
    if n_classes is None:
        return
    bad = np.flatnonzero(labels >= n_classes)
    if bad.size:
        raise DataError(
            f"{lpath}: label {int(labels[bad[0]])} at index {int(bad[0])} is above "
            f"{n_classes - 1} ({bad.size} such), {_REDOWNLOAD}"
        )


def _check_set(arrays: dict[str, np.ndarray], shown: dict[str, str], n_classes: int | None) -> None:
    """Structural checks of the four arrays of an MNIST-format set.

    ``arrays`` and ``shown`` (the paths for messages) are keyed by :data:`IDX_NAMES`;
    labels must be below ``n_classes`` unless it is ``None``.
    """
    for images, labels in ((TRAIN_IMAGES, TRAIN_LABELS), (TEST_IMAGES, TEST_LABELS)):
        _check_split(arrays[images], arrays[labels], shown[images], shown[labels], n_classes)
    train, test = arrays[TRAIN_IMAGES].shape, arrays[TEST_IMAGES].shape
    if train[1:] != test[1:]:
        raise DataError(
            f"{shown[TEST_IMAGES]}: {test[1]}x{test[2]} images but {shown[TRAIN_IMAGES]} has "
            f"{train[1]}x{train[2]}, use files from the same data set"
        )


def _find_set(directory: Path) -> dict[str, Path]:
    """The file of each of :data:`IDX_NAMES` in ``directory``, ``<name>.gz`` preferred.

    Raises
    ------
    DataError
        A file missing both raw and gzipped (the first such is named).
    """
    found = {}
    for name in IDX_NAMES:
        p = _find(directory, name)
        if p is None:
            raise DataError(
                f"{_show(directory / name)}(.gz): missing, put the four MNIST files in {_show(directory)}/"
            )
        found[name] = p
    return found


def _read_set(found: dict[str, Path], n_classes: int | None):
    """``((train_images, train_labels), (test_images, test_labels))`` from the files ``found``.

    ``found`` is keyed by :data:`IDX_NAMES`; the arrays are checked by :func:`_check_set`.
    """
    arrays = {name: read_idx(p) for name, p in found.items()}
    _check_set(arrays, {name: _show(p) for name, p in found.items()}, n_classes)
    return ((arrays[TRAIN_IMAGES], arrays[TRAIN_LABELS]),
            (arrays[TEST_IMAGES], arrays[TEST_LABELS]))


def load_idx_dir(path: str | os.PathLike, *, n_classes: int | None = None):
    """Load any data set laid out like MNIST: the public way to read MNIST-format data.

    ``path`` must hold the four standard files (:data:`IDX_NAMES`), each raw or as
    ``<name>.gz``; ``.gz`` is preferred when both are there. Only the structure is
    checked (no checksums), so MNIST, Fashion-MNIST, KMNIST or a data set of one's own
    with any image size and any number of classes load alike.

    Parameters
    ----------
    path : str or os.PathLike
        The directory.
    n_classes : int, optional
        When given, every label must be below it (10 for the digits 0..9). By default
        any uint8 label is accepted.

    Returns
    -------
    ((train_images, train_labels), (test_images, test_labels))
        Images uint8 ``(n, rows, cols)``, labels uint8 ``(n,)``, as stored (no scaling,
        no validation split; :func:`~dlpy35.data.load_mnist` gives the book's split).

    Raises
    ------
    DataError
        A missing or unreadable file, images not 3-D uint8, labels not 1-D uint8,
        image and label counts that differ, a label not below ``n_classes``, or
        train and test images of different sizes.

    See Also
    --------
    read_idx : one IDX file of any type and shape.

    Examples
    --------
    Fashion-MNIST unpacked into ``data/fashion``:

    >>> from dlpy35.data import load_idx_dir
    >>> (train_x, train_y), (test_x, test_y) = load_idx_dir("data/fashion")  # doctest: +SKIP
    >>> train_x.shape, test_x.shape  # doctest: +SKIP
    ((60000, 28, 28), (10000, 28, 28))

    A small data set of 8x8 images with labels up to 45, written here on the spot:

    >>> import tempfile
    >>> import numpy as np
    >>> from pathlib import Path
    >>> def idx(a):  # IDX encoding of a uint8 array: magic, dimensions, data
    ...     return bytes([0, 0, 0x08, a.ndim]) + np.array(a.shape, ">u4").tobytes() + a.tobytes()
    >>> d = Path(tempfile.mkdtemp())
    >>> for split, n in (("train", 6), ("t10k", 2)):
    ...     images, labels = np.zeros((n, 8, 8), np.uint8), np.arange(n, dtype=np.uint8) * 9
    ...     _ = (d / f"{split}-images-idx3-ubyte").write_bytes(idx(images))
    ...     _ = (d / f"{split}-labels-idx1-ubyte").write_bytes(idx(labels))
    >>> (train_x, train_y), (test_x, test_y) = load_idx_dir(d)
    >>> train_x.shape, train_y.tolist(), test_y.tolist()
    ((6, 8, 8), [0, 9, 18, 27, 36, 45], [0, 9])
    """
    return _read_set(_find_set(Path(path)), n_classes)


# --------------------------------------------------------------------------- pickle

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


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickler that only rebuilds numpy arrays (a pickle can run arbitrary code)."""

    def find_class(self, module: str, name: str):
        if (module, name) not in _PICKLE_GLOBALS:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}")
        if module.startswith("numpy.core.") and hasattr(np, "_core"):
            module = "numpy._core." + module.removeprefix("numpy.core.")
        return super().find_class(module, name)


def load_pickle(path: str | os.PathLike):
    """Read Nielsen's ``mnist.pkl.gz`` (a Python 2 pickle, read with ``latin1``).

    Only numpy arrays are unpickled; any other object in the file is refused.

    Parameters
    ----------
    path : str or os.PathLike
        The pickle, gzipped or not.

    Returns
    -------
    (training, validation, test)
        Each ``(X, y)`` with ``X`` float32 ``(n, 784)`` and ``y`` int64 ``(n,)``.

    Raises
    ------
    DataError
        Unreadable file, or not a 3-tuple of ``(X, y)`` pairs with 784-wide ``X``,
        matching counts and labels in 0..9.
    """
    path = Path(path)
    where = _show(path)
    fix = "give the path of the book's mnist.pkl.gz instead"
    try:
        with _open(path) as f:
            obj = _ArrayUnpickler(f, encoding="latin1").load()
    except (pickle.UnpicklingError, gzip.BadGzipFile, EOFError, zlib.error,
            AttributeError, ImportError, IndexError, TypeError, ValueError, OSError) as e:
        raise DataError(f"{where}: cannot unpickle ({_one_line(e)}), {fix}") from None
    if not (isinstance(obj, (tuple, list)) and len(obj) == 3):
        raise DataError(f"{where}: expected (training, validation, test), got "
                        f"{type(obj).__name__}, {fix}")
    parts = []
    for part, split in zip(obj, ("training", "validation", "test"), strict=True):
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
            raise DataError(f"{where}: {split} set has {len(x):,} images but {len(y):,} "
                            f"labels, {fix}")
        bad = np.flatnonzero((y < 0) | (y > 9))
        if bad.size:
            raise DataError(f"{where}: {split} label {int(y[bad[0]])} at index "
                            f"{int(bad[0])} is outside 0..9, {fix}")
        parts.append((x.astype(np.float32, copy=False), y.astype(np.int64, copy=False)))
    return tuple(parts)
