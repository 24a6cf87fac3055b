"""Tests for dlpy35.storage.atomic.atomic_write: replace atomically, or leave the old file alone."""

from __future__ import annotations

import os
import stat

import pytest

from dlpy35.storage.atomic import atomic_write


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_writes_a_new_file(tmp_path):
    target = tmp_path / "new.bin"
    with atomic_write(target) as f:
        f.write(b"\x00\x01payload")
    assert target.read_bytes() == b"\x00\x01payload"
    assert os.listdir(tmp_path) == ["new.bin"]


def test_replaces_existing_content_text_mode(tmp_path):
    target = tmp_path / "net.json"
    target.write_text("old content that is longer than the new one\n")
    with atomic_write(target, "w") as f:
        f.write('{"new": 1}')
    assert target.read_text() == '{"new": 1}'
    assert os.listdir(tmp_path) == ["net.json"]


def test_accepts_str_path_and_creates_parent_directories(tmp_path):
    target = tmp_path / "a" / "b" / "out.txt"
    with atomic_write(str(target), "w") as f:
        f.write("x")
    assert target.read_text() == "x"


def test_old_content_stays_until_the_block_ends(tmp_path):
    """During the write the final name still holds the old file; the temp file lives beside it."""
    target = tmp_path / "data.txt"
    target.write_text("old")
    with atomic_write(target, "w") as f:
        f.write("new")
        f.flush()
        assert target.read_text() == "old"
        others = [p for p in os.listdir(tmp_path) if p != "data.txt"]
        assert len(others) == 1 and others[0].endswith(".tmp")  # same directory: rename is atomic
    assert target.read_text() == "new"
    assert os.listdir(tmp_path) == ["data.txt"]


@pytest.mark.parametrize("exc", [RuntimeError("boom"), KeyboardInterrupt()], ids=["error", "ctrl-c"])
def test_exception_keeps_old_file_and_removes_temp(tmp_path, exc):
    target = tmp_path / "data.txt"
    target.write_text("precious")
    with pytest.raises(type(exc)):
        with atomic_write(target, "w") as f:
            f.write("half-writ")
            f.flush()
            raise exc
    assert target.read_text() == "precious"
    assert os.listdir(tmp_path) == ["data.txt"]


def test_exception_on_a_new_file_leaves_nothing(tmp_path):
    target = tmp_path / "never.txt"
    with pytest.raises(ValueError):
        with atomic_write(target, "w") as f:
            f.write("partial")
            raise ValueError("serialisation failed")
    assert os.listdir(tmp_path) == []


def test_mode_is_0644_for_a_new_file(tmp_path):
    target = tmp_path / "out.bin"
    with atomic_write(target) as f:
        f.write(b"1")
    assert _mode(target) == 0o644


def test_mode_is_0644_whatever_the_umask(tmp_path):
    target = tmp_path / "out.bin"
    old = os.umask(0o077)
    try:
        with atomic_write(target) as f:
            f.write(b"1")
    finally:
        os.umask(old)
    assert _mode(target) == 0o644


def test_mode_is_0644_when_replacing(tmp_path):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    os.chmod(target, 0o600)
    with atomic_write(target) as f:
        f.write(b"new")
    assert target.read_bytes() == b"new"
    assert _mode(target) == 0o644


def test_replacing_makes_a_new_inode(tmp_path):
    """A reader holding the old file open keeps reading the old content (rename, not rewrite)."""
    target = tmp_path / "data.txt"
    target.write_text("old")
    with open(target) as reader:
        with atomic_write(target, "w") as f:
            f.write("new")
        assert reader.read() == "old"
    assert target.read_text() == "new"
