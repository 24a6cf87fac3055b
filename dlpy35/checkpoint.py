"""Training checkpoints: weights, RNG state, epoch, history and schedule, written atomically.

One file, ``<dir>/checkpoint.npz``: the weights and biases as float arrays and a
JSON document (``meta``) with everything else.  It is replaced atomically at the
end of every epoch (:mod:`dlpy35.atomic`), so a crash or a kill during a save
leaves the previous checkpoint loadable.  :class:`Checkpoint` ties a file to a
run of :class:`dlpy35.trainer.Trainer`: what it saves, and what a resume must match.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import math
import os
import tokenize
import zipfile
import zlib
from pathlib import Path

import numpy as np

from dlpy35.atomic import atomic_write, stale_temp_files
from dlpy35.device import DTYPES
from dlpy35.files import SavedFileError

FILENAME = "checkpoint.npz"
FORMAT = 1


CheckpointError = SavedFileError  # the name checkpoint code reads best


def path_in(directory) -> Path:
    return Path(directory) / FILENAME


@contextlib.contextmanager
def claim(directory, resume=False, overwrite=False):
    """Hold `directory` for one training run; checked before any training.

    One run at a time: the directory is locked (``flock``) until the block
    ends, and a second run fails at once.  An existing checkpoint is never
    replaced silently: without `resume` (continue it) or `overwrite` (start
    over) it is refused.  None does nothing.

    Raises
    ------
    CheckpointError
        One line naming the directory and what to do.
    """
    if directory is None:
        yield
        return
    if resume and overwrite:
        raise ValueError("resume and overwrite exclude each other: resume continues the checkpoint, "
                         "overwrite starts over")
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise CheckpointError(f"{directory}: is a file, not a directory; give a directory for checkpoints")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(directory, os.O_RDONLY)
    except OSError as exc:
        raise CheckpointError(f"{directory}: cannot use it as a checkpoint directory ({exc.strerror}); "
                              "give a directory you can write") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise CheckpointError(f"{directory}: another run is training into this checkpoint directory; "
                                  "wait for it to end or use another one") from None
        if path_in(directory).exists() and not (resume or overwrite):
            raise CheckpointError(f"{path_in(directory)}: a checkpoint of an earlier run is there; continue "
                                  "it with --resume (resume=True) or start over with --overwrite "
                                  "(overwrite=True)")
        yield
    finally:
        os.close(fd)  # releases the lock


def after_interrupt(directory) -> str:
    """What an interrupted run kept, read from disk: only what is true, for the message a script prints."""
    if directory is None:
        return "nothing saved (use --checkpoint-dir to keep progress)"
    try:
        found = load(directory)
    except CheckpointError:
        found = None
    if found is None:
        return f"no checkpoint was written in {directory}"
    history = found[2].get("history")
    epochs = history.get("epoch") if isinstance(history, dict) else "an unknown number of"
    return (f"the checkpoint in {directory} holds {epochs} completed epochs; run the same command with "
            "--resume to continue")


def save(directory, weights, biases, meta: dict) -> Path:
    """Write ``checkpoint.npz`` into `directory` atomically and return its path."""
    arrays = {f"w{k}": np.asarray(w) for k, w in enumerate(weights)}
    arrays.update({f"b{k}": np.asarray(b) for k, b in enumerate(biases)})
    arrays["meta"] = np.array(json.dumps({"format": FORMAT, **meta}))
    path = path_in(directory)
    for stale in stale_temp_files(path):  # left by a process killed mid-save
        stale.unlink(missing_ok=True)
    with atomic_write(path) as f:
        np.savez(f, **arrays)
    return path


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

    `dtype` outside :data:`dlpy35.device.DTYPES` checks only that the numbers are real.
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


def load(directory):
    """``(weights, biases, meta)`` from `directory`, or None when it holds no checkpoint.

    ``meta["sizes"]`` gives the number of layers, hence of arrays; whether their
    shapes fit a network is for the network to check.  The arrays must hold real
    numbers, finite in the run's dtype (``meta["dtype"]``).

    Raises
    ------
    CheckpointError
        The file exists but is not a readable checkpoint.
    """
    path = path_in(directory)
    if not path.exists():
        return None
    try:
        z, size = open_npz(path)
        with z:
            meta = json.loads(read_npz_text(z, "meta", size))
            sizes = meta["sizes"]
            if not isinstance(sizes, list) or len(sizes) < 2:
                raise ValueError(f"sizes must be a list of at least two layer sizes, got {sizes!r}")
            n = len(sizes) - 1
            weights = [read_npz_array(z, f"w{k}", size) for k in range(n)]
            biases = [read_npz_array(z, f"b{k}", size) for k in range(n)]
        check_values([*((f"w{k}", w) for k, w in enumerate(weights)),
                      *((f"b{k}", b) for k, b in enumerate(biases))], meta.get("dtype"))
    except NPZ_ERRORS as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__  # numpy's messages span lines
        raise CheckpointError(f"{path}: not a readable dlpy35 checkpoint ({reason}); resume from another "
                              "checkpoint directory, or train without resuming") from None
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{path}: checkpoint format {meta.get('format')!r}, expected {FORMAT}")
    return weights, biases, meta


def check_compatible(meta: dict, expected: dict, path) -> None:
    """Refuse to resume when the checkpoint's network or run settings differ from this run's."""
    for key, want in expected.items():
        got = meta.get(key)
        if got != want:
            raise CheckpointError(
                f"{path}: cannot resume: the checkpoint has {key}={got!r} but this run has {key}={want!r}; "
                f"use the checkpoint's settings or another --checkpoint-dir"
            )


class Checkpoint:
    """Where and what a run checkpoints: a directory and the settings a resume must match.

    Parameters
    ----------
    directory : path
    settings : dict
        JSON-ready; written into the checkpoint and compared on resume.
    required : tuple of str
        Keys the network adds to ``run.state``; a checkpoint without them is incomplete.
    """

    def __init__(self, directory, settings, required=()):
        self.directory, self.settings, self.required = directory, settings, required

    @classmethod
    def of_run(cls, trainer, run, directory, settings, resume=False, verbose=True, required=()):
        """The checkpoint of `run` in `directory`, resumed from with `resume`; None without a directory.

        `settings` name the network; the run's dtype, mini-batch size, first eta
        and training-set size are added: a resume must match them all.
        """
        if directory is None:
            return None
        run_settings = {"dtype": trainer.dtype, "mini_batch_size": run.m, "eta0": run.eta, "n_train": run.n}
        saver = cls(directory, {**settings, **run_settings}, required)
        if resume:
            saver.resume(trainer, run, verbose)
        return saver

    @property
    def path(self):
        return path_in(self.directory)

    def save(self, trainer, run):
        meta = {**self.settings, "history": run.state, "records": [r.to_json() for r in run.records],
                "rng": trainer.rng.bit_generator.state}
        save(self.directory, *trainer.model.checkpoint_arrays(run.snapshot), meta)

    def resume(self, trainer, run, verbose=True):
        """Put `run` where the checkpoint left off; False (and nothing changed) when there is none."""
        found = load(self.directory)
        if found is None:
            if verbose:
                print(f"no checkpoint in {self.directory}; starting from epoch 0", flush=True)
            return False
        check_compatible(found[2], self.settings, self.path)
        trainer.resume(run, found, self.path, self.required)
        if verbose:
            print(f"resuming from {self.path} at epoch {run.state['epoch']}", flush=True)
        return True

