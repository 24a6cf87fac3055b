"""Helpers shared by the tests of dlpy35.data: small MNIST-format files, a fake MNIST, the pickle."""

from __future__ import annotations

import gzip
import hashlib
import io
import pickle
import struct
import subprocess
import sys
import zlib
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from dlpy35.data import fetch

REPO = Path(__file__).resolve().parents[1]
NAMES = list(fetch.FILES)
TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS = NAMES

IDX_CODES = {"uint8": 0x08, "int8": 0x09, "int16": 0x0B, "int32": 0x0C,
             "float32": 0x0D, "float64": 0x0E}


def idx_bytes(arr: np.ndarray, *, dims=None, code=None, magic=None) -> bytes:
    """The IDX encoding of ``arr``; ``dims``/``code``/``magic`` override the header."""
    arr = np.asarray(arr)
    code = IDX_CODES[arr.dtype.name] if code is None else code
    dims = arr.shape if dims is None else dims
    head = bytes([0, 0, code, len(dims)]) if magic is None else magic
    body = arr.astype(arr.dtype.newbyteorder(">")).tobytes()
    return head + struct.pack(f">{len(dims)}I", *dims) + body


def write(path: Path, content: bytes, *, gz: bool = False) -> Path:
    path.write_bytes(gzip.compress(content, mtime=0) if gz else content)
    return path


def synthetic_mnist(seed: int = 0, n_train: int = 30, n_test: int = 8, side: int = 4):
    """Raw bytes of four small MNIST-format files, and the arrays they encode."""
    rng = np.random.default_rng(seed)
    arrays = {
        TRAIN_IMAGES: rng.integers(0, 256, (n_train, side, side), dtype=np.uint8),
        TRAIN_LABELS: rng.integers(0, 10, n_train, dtype=np.uint8),
        TEST_IMAGES: rng.integers(0, 256, (n_test, side, side), dtype=np.uint8),
        TEST_LABELS: rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    arrays[TRAIN_IMAGES][0, 0, 0] = 255  # the largest pixel value appears
    return {k: idx_bytes(v) for k, v in arrays.items()}, arrays


def write_dir(directory: Path, raw: dict[str, bytes], *, gz=True) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, content in raw.items():
        write(directory / (name + ".gz" if gz else name), content, gz=gz)
    return directory


def assert_error(excinfo, *needles: str) -> str:
    """The message is one line and contains every needle."""
    msg = str(excinfo.value)
    assert "\n" not in msg
    for needle in needles:
        assert needle in msg, (needle, msg)
    return msg


def listing(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def make_fake(tmp_path: Path, monkeypatch) -> SimpleNamespace:
    """Small synthetic "MNIST" whose checksums replace the real ones in ``fetch.FILES``.

    Attributes: ``raw`` and ``arrays`` (from :func:`synthetic_mnist`), ``mirror`` (a
    directory of the gzipped files), ``mirror_url`` (its ``file://`` URL) and ``dest``
    (a data directory that does not exist yet).
    """
    raw, arrays = synthetic_mnist()
    monkeypatch.setattr(fetch, "FILES", {
        name: fetch.FileInfo(len(b), hashlib.sha256(b).hexdigest()) for name, b in raw.items()
    })
    monkeypatch.delenv(fetch.SOURCES_ENV, raising=False)
    mirror = write_dir(tmp_path / "mirror", raw)
    return SimpleNamespace(raw=raw, arrays=arrays, mirror=mirror,
                           mirror_url=mirror.as_uri() + "/", dest=tmp_path / "dest")


# --------------------------------------------------------------------------- the book's pickle


class _Py2Pickler(pickle._Pickler):
    """Writes bytes as Python 2 ``str`` opcodes, like the book's mnist.pkl.gz."""

    dispatch = pickle._Pickler.dispatch.copy()

    def save_bytes(self, obj):
        n = len(obj)
        if n < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([n]) + obj)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", n) + obj)
        self.memoize(obj)

    dispatch[bytes] = save_bytes


def book_pickle(obj) -> bytes:
    buf = io.BytesIO()
    _Py2Pickler(buf, protocol=2).dump(obj)
    # numpy 1.x names, as in a pickle written by Python 2.
    return gzip.compress(buf.getvalue().replace(b"numpy._core.", b"numpy.core."), mtime=0)


def book_sets(seed=6, sizes=(12, 5, 4)):
    rng = np.random.default_rng(seed)
    return tuple(
        ((rng.integers(0, 256, (n, 784)) / 256).astype(np.float32),
         rng.integers(0, 10, n).astype(np.int64))
        for n in sizes
    )


# --------------------------------------------------------------------------- bombs


def zeros_gzip(n_bytes: int, chunk: int = 64 << 20) -> bytes:
    """gzip members that inflate to ``n_bytes`` zeros (a multiple of ``chunk``): one compressed
    ``chunk`` repeated, as a gzip stream may be, so that a bomb of a GiB is made in a fraction of a second."""
    assert n_bytes % chunk == 0
    return gzip.compress(bytes(chunk), compresslevel=9, mtime=0) * (n_bytes // chunk)


class Claim:
    """Pickles as numpy's ``_reconstruct`` of ``shape`` and ``dtype`` with no data after it: an array
    numpy allocates from the claim alone (300,000 images in a pickle of a few hundred bytes)."""

    def __init__(self, shape, dtype="f4"):
        self.shape, self.dtype = shape, dtype

    def __reduce__(self):
        reconstruct = np.empty(0).__reduce__()[0]  # numpy's _reconstruct, whichever module holds it
        return reconstruct, (np.ndarray, self.shape, self.dtype)


_CHILD = """
import resource, sys
limit = 600 << 20
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
from dlpy35.data import DataError, load_pickle, read_idx
read = read_idx if sys.argv[1] == "idx" else load_pickle
for path in sys.argv[2:]:
    try:
        read(path)
        print("accepted", path)
    except DataError as e:
        print(e)
"""


def read_in_child(kind: str, paths) -> list[str]:
    """The line each file gives when read in a child process limited to 600 MB of address space."""
    env = {"PATH": "/usr/bin:/bin", "OPENBLAS_NUM_THREADS": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run([sys.executable, "-c", _CHILD, kind, *map(str, paths)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and not done.stderr, done.stderr
    return done.stdout.splitlines()


# --------------------------------------------------------------------------- images


def png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height 1-bit pixels and whose data is 16 bytes: decoding it
    would fail as truncated, so a refusal naming its size shows the header alone was read."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(bytes(16)))
            + chunk(b"IEND", b""))
