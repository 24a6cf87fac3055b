"""The one error for a file dlpy35 saved and cannot load back.

Saved networks (:mod:`dlpy35.network2`'s JSON, :mod:`dlpy35.network3`'s npz) and
checkpoints (:mod:`dlpy35.storage.checkpoint`) all raise :class:`SavedFileError`, with
one line naming the file and what is wrong with it, so a caller catches one type.
The npz readers here refuse what a damaged archive would make numpy do (allocate what
a corrupt header claims, accept values that overflow the network's dtype).
"""

from __future__ import annotations

import math
import os
import tokenize
import zipfile
import zlib

import numpy as np

from dlpy35.engine.device import DTYPES


class SavedFileError(ValueError):
    """A saved network or checkpoint that cannot be read, or belongs to another network or run."""


# What reading a corrupt npz can raise, besides ValueError and KeyError: the zip layer's
# own errors (a compression method or encryption flag flipped on is NotImplementedError or
# RuntimeError), zlib's for a damaged deflate stream, RecursionError for JSON nested
# deeper than the parser recurses, OverflowError for a shape beyond int64 in an npy header.
NPZ_ERRORS = (OSError, EOFError, KeyError, ValueError, TypeError, AttributeError, RecursionError,
              OverflowError, RuntimeError, zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error)


def open_npz(filename):
    """``(archive, size)``: ``np.load(filename)`` of an npz archive and its size in bytes.

    Raises
    ------
    FileNotFoundError
        No such file.
    ValueError
        An npy file: ``np.load`` would allocate the array its header claims before reading a byte.
    """
    with open(filename, "rb") as f:
        head = f.read(6)
        size = os.fstat(f.fileno()).st_size
    if head == b"\x93NUMPY":
        raise ValueError("an npy array, not an npz archive")
    return np.load(filename, allow_pickle=False), size


def read_npz_array(npz, name, file_size):
    """Member `name` of the archive `npz` (from ``np.load``), its npy header checked first.

    ``np.load`` allocates the array a member's header describes before reading its data,
    so a corrupt header claiming billions of items would allocate gigabytes, or fail with
    MemoryError, before the missing data is noticed.  Here the claimed size must be what
    the member holds, and no more than an archive of `file_size` bytes can hold.

    Parameters
    ----------
    npz : numpy.lib.npyio.NpzFile
    name : str
        The array's name (the member ``<name>.npy``).
    file_size : int
        The archive's size in bytes.

    Returns
    -------
    numpy.ndarray

    Raises
    ------
    KeyError
        No such member.
    ValueError
        A header that is not npy's, or that describes more or less data than the member holds.
    """
    info = npz.zip.getinfo(f"{name}.npy")
    with npz.zip.open(info) as member:
        version = np.lib.format.read_magic(member)
        if version not in ((1, 0), (2, 0), (3, 0)):
            raise ValueError(f"{name}: unknown npy format version {version}")
        # 3.0 differs from 2.0 only in the header's encoding (utf-8), the same for a plain array's.
        read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                       else np.lib.format.read_array_header_2_0)
        try:
            shape, _, dtype = read_header(member)
        except (SyntaxError, tokenize.TokenError) as exc:  # what numpy's fallback parser lets through
            raise ValueError(f"{name}: unreadable npy header ({exc})") from None
        claimed = math.prod(shape) * dtype.itemsize
        held = info.file_size - member.tell()
    # A stored member is no bigger than the archive; deflate expands at most 1032-fold.
    most = file_size * (1 if info.compress_type == zipfile.ZIP_STORED else 1032)
    if claimed != held or claimed > most:
        raise ValueError(f"{name}: its header describes {shape} {dtype} ({claimed:,} bytes) "
                         f"but the archive holds {held:,} bytes for it")
    return npz[name]


def read_npz_text(npz, name, file_size):
    """The text in member `name` of `npz`: a 0-d str array, as ``np.array(json.dumps(...))`` saves.

    Parameters and errors as :func:`read_npz_array`; ValueError also for another kind of
    array, or code points that are not Unicode.
    """
    a = read_npz_array(npz, name, file_size)
    if a.dtype.kind != "U" or a.ndim != 0:
        raise ValueError(f"{name} is a {a.dtype} array of shape {a.shape}, not a text")
    # numpy makes str objects of any 32-bit code units, even beyond U+10FFFF, which later
    # string operations fail on with SystemError; decoding the bytes refuses them.  numpy
    # pads a str with NULs, and drops them when it makes one.
    return a.astype(a.dtype.newbyteorder("<")).tobytes().decode("utf-32-le").rstrip("\0")


def check_values(arrays, dtype):
    """ValueError unless every ``(name, array)`` holds real numbers that stay finite in `dtype`.

    `dtype` outside :data:`dlpy35.engine.device.DTYPES` checks only that the numbers are real.
    """
    for name, a in arrays:
        if a.dtype.kind not in "fiu":
            raise ValueError(f"{name} holds {a.dtype}, not real numbers")
    if dtype in DTYPES:
        with np.errstate(over="ignore", invalid="ignore"):  # the overflow is what is checked
            bad = [name for name, a in arrays if not np.all(np.isfinite(a.astype(dtype)))]
        if bad:
            raise ValueError(f"{bad[0]} holds values that are not finite in {dtype} (NaN, inf, or "
                             f"beyond its range)")
