"""Reading MNIST-format files: IDX, raw or gzipped, within the memory their header declares.

:func:`read_idx` reads any IDX file and :func:`load_idx_dir` any directory laid out like
MNIST (the four standard file names, raw or ``.gz``), whatever the image size or the
number of classes. Only the structure is checked, never a checksum, so Fashion-MNIST,
KMNIST or a data set of one's own load the same way as MNIST.

A file is read header first: its length is checked against the file (a raw file's size, the
most its gzip can inflate to) before its array is allocated, and a gzip stream is inflated
no more than one byte past what the header describes, so that a small file claiming much, or
a gzip bomb, costs no memory. A set of no images is refused naming its file.

Every problem is a :class:`~dlpy35.data.errors.DataError` whose message names the file.
"""

from __future__ import annotations

import gzip
import math
import os
import zlib
from pathlib import Path

import numpy as np

from dlpy35.data.errors import DataError, _one_line, _show
from dlpy35.text import plural

__all__ = [
    "TRAIN_IMAGES",
    "TRAIN_LABELS",
    "TEST_IMAGES",
    "TEST_LABELS",
    "IDX_NAMES",
    "parse_idx",
    "read_idx",
    "load_idx_dir",
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
_CHUNK = 1 << 20
#: Deflate's largest expansion: no gzip inflates to more than 1032 times its size.
_DEFLATE_RATIO = 1032


# --------------------------------------------------------------------------- raw or gzipped


def _is_gzip(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(2) == b"\x1f\x8b"


def _open(path: Path):
    """Open ``path`` for reading its content, decompressing it when it is gzipped."""
    return gzip.open(path, "rb") if _is_gzip(path) else open(path, "rb")


def _decompressed_bytes(path: Path, *, limit: int) -> bytes:
    """The content of ``path`` (gunzipped when it is gzipped), at most ``limit`` + 1 bytes of it.

    A content of more than ``limit`` bytes comes back ``limit`` + 1 bytes long, for the caller to
    refuse without inflating the rest.
    """
    try:
        with _open(path) as f:
            return f.read(limit + 1)
    except (gzip.BadGzipFile, EOFError, zlib.error) as e:
        raise DataError(
            f"{_show(path)}: unreadable gzip ({_one_line(e)}), {_REDOWNLOAD}"
        ) from None


# --------------------------------------------------------------------------- IDX


def _idx_magic(buf: memoryview, where: str) -> tuple[np.dtype, int]:
    """The element type and the number of dimensions told by an IDX file's first 4 bytes."""
    if len(buf) < 4 or buf[0] != 0 or buf[1] != 0:
        head = bytes(buf[:4]).hex(" ") or "empty"
        raise DataError(f"{where}: not an IDX file (starts {head}, expected "
                        f"00 00 <type> <ndim>), {_REDOWNLOAD}")
    code, ndim = buf[2], buf[3]
    if code not in _IDX_DTYPES:
        raise DataError(f"{where}: unknown IDX type code 0x{code:02x}, {_REDOWNLOAD}")
    if ndim == 0:
        raise DataError(f"{where}: IDX header has 0 dimensions, {_REDOWNLOAD}")
    return _IDX_DTYPES[code], ndim


def _idx_dims(buf: memoryview, ndim: int, where: str) -> tuple[int, ...]:
    """The dimensions in an IDX header, ``buf`` being the file's first ``4 + 4 * ndim`` bytes or more."""
    if len(buf) < 4 + 4 * ndim:
        raise DataError(f"{where}: truncated IDX header ({plural(len(buf), 'byte')}), {_REDOWNLOAD}")
    return tuple(int(d) for d in np.frombuffer(buf, ">u4", ndim, 4))


def _idx_length_error(where: str, dims, dtype: np.dtype, have: int, expected: int,
                      exact: bool = True) -> DataError:
    """The error for a file of ``have`` bytes (more than ``expected`` when not ``exact``) whose header
    describes ``expected``."""
    shape = f"{'x'.join(map(str, dims))} {dtype.name}"
    if have < expected:
        return DataError(f"{where}: truncated, the header ({shape}) needs {expected:,} bytes "
                         f"but the file has {have:,}, {_REDOWNLOAD}")
    if exact:
        return DataError(f"{where}: {have - expected:,} bytes beyond what the header ({shape}) "
                         f"describes, {_REDOWNLOAD}")
    return DataError(f"{where}: more than the {expected:,} bytes the header ({shape}) describes, "
                     f"{_REDOWNLOAD}")


def _shaped(flat: np.ndarray, dims, where: str) -> np.ndarray:
    """``flat`` (the IDX file's elements, big-endian) as a native-endian array of shape ``dims``."""
    native = flat.dtype.newbyteorder("=")
    if native != flat.dtype:
        flat = flat.byteswap(inplace=True).view(native)
    try:
        return flat.reshape(dims)
    except ValueError as e:
        # The length fits, yet numpy makes no such array: more than 64 dimensions, or an empty
        # array whose other dimensions multiply beyond the largest array numpy can describe.
        shape = "x".join(map(str, dims))
        raise DataError(f"{where}: the header's shape {shape} ({native.name}) is not one numpy can make "
                        f"({_one_line(e)}), {_REDOWNLOAD}") from None


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
    dtype, ndim = _idx_magic(buf, where)
    dims = _idx_dims(buf, ndim, where)
    header = 4 + 4 * ndim
    expected = header + math.prod(dims) * dtype.itemsize
    if len(buf) != expected:
        raise _idx_length_error(where, dims, dtype, len(buf), expected)
    return _shaped(np.frombuffer(buf, dtype, math.prod(dims), header).copy(), dims, where)


def _readinto(f, view: memoryview) -> int:
    """Fill ``view`` from ``f`` a chunk at a time (a gzip stream inflates no more than asked); bytes read."""
    got = 0
    while got < len(view):
        n = f.readinto(view[got:got + _CHUNK])
        if not n:
            break
        got += n
    return got


def _read_idx_stream(f, where: str, size: int, gz: bool) -> np.ndarray:
    """The IDX file open as ``f`` (``size`` bytes on disk, gzipped when ``gz``), checked as it is read.

    The header is read first; its length is checked against the file (a raw file's size, the
    most a gzip of ``size`` bytes can inflate to) before the array is allocated, and no more
    than one byte beyond what it describes is inflated.
    """
    head = memoryview(f.read(4))
    dtype, ndim = _idx_magic(head, where)
    head = memoryview(head.tobytes() + f.read(4 * ndim))
    dims = _idx_dims(head, ndim, where)
    count = math.prod(dims)
    expected = len(head) + count * dtype.itemsize
    if not gz and size != expected:
        raise _idx_length_error(where, dims, dtype, size, expected)
    if gz and expected > size * _DEFLATE_RATIO:
        raise DataError(f"{where}: the header ({'x'.join(map(str, dims))} {dtype.name}) describes "
                        f"{expected:,} bytes, more than a gzip of {size:,} bytes can hold, {_REDOWNLOAD}")
    try:
        flat = np.empty(count, dtype)
    except MemoryError:
        raise DataError(f"{where}: its {expected:,} bytes do not fit in this machine's memory; "
                        f"use a machine with more") from None
    got = len(head) + _readinto(f, memoryview(flat.view(np.uint8)))
    if got < expected:
        raise _idx_length_error(where, dims, dtype, got, expected)
    if f.read(1):
        raise _idx_length_error(where, dims, dtype, expected + 1, expected, exact=not gz)
    return _shaped(flat, dims, where)


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
        gz = _is_gzip(path)
        with _open(path) as f:
            return _read_idx_stream(f, _show(path), os.fstat(f.fileno()).st_size, gz)
    except (gzip.BadGzipFile, EOFError, zlib.error) as e:
        raise DataError(f"{_show(path)}: unreadable gzip ({_one_line(e)}), {_REDOWNLOAD}") from None
    except OSError as e:
        raise DataError(f"{_show(path)}: cannot read ({_one_line(e)})") from None


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
    if 0 in images.shape:  # numpy would fail later on reshaping it, naming no file
        raise DataError(f"{ipath}: no pixels in it (its header says {'x'.join(map(str, images.shape))}), "
                        f"give a file of one image or more")
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise DataError(
            f"{lpath}: expected 1-D uint8 labels, got {labels.ndim}-D {labels.dtype}, "
            f"{_REDOWNLOAD}"
        )
    if len(images) != len(labels):
        raise DataError(
            f"{lpath}: {plural(len(labels), 'label')} but {ipath} has {plural(len(images), 'image')}, "
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
