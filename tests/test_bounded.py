"""dlpy35.storage.bounded: a file read back within a bound, allocating what it holds."""

from __future__ import annotations

import os
import tracemalloc

import pytest

from dlpy35.storage import bounded
from dlpy35.storage.bounded import read_bounded, read_json


def test_a_file_of_the_bound_is_read_whole_and_one_byte_more_is_refused(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"x" * 100)
    assert read_bounded(path, 100) == b"x" * 100
    with pytest.raises(ValueError, match=r"^larger than 99 bytes$"):
        read_bounded(path, 99)


def test_a_file_read_in_pieces_comes_back_whole(tmp_path, monkeypatch):
    monkeypatch.setattr(bounded, "CHUNK_BYTES", 7)
    path = tmp_path / "f"
    path.write_bytes(bytes(range(256)) * 3)
    assert read_bounded(path, 768) == bytes(range(256)) * 3
    with pytest.raises(ValueError, match="larger than 767 bytes"):
        read_bounded(path, 767)


def test_a_large_bound_allocates_what_the_file_holds_not_the_bound(tmp_path):
    path = tmp_path / "small.json"
    path.write_bytes(b"{}" * 100)
    tracemalloc.start()
    try:
        assert read_bounded(path, 1 << 30) == b"{}" * 100
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 * bounded.CHUNK_BYTES  # a read(limit) would allocate the GiB first


def test_a_fifo_a_device_or_a_directory_is_refused_before_reading(tmp_path):
    os.mkfifo(tmp_path / "fifo")  # nothing writes to it: an open that waited would hang here
    for path in (tmp_path / "fifo", "/dev/zero", tmp_path):
        with pytest.raises(ValueError, match="^not a regular file$"):
            read_bounded(path)
    with pytest.raises(FileNotFoundError):
        read_bounded(tmp_path / "absent")


def test_json_read_back_within_its_bound_and_nested_beyond_the_parser_is_a_valueerror(tmp_path):
    path = tmp_path / "doc.json"
    path.write_text('{"a": [1, 2.5]}')
    assert read_json(path) == {"a": [1, 2.5]}
    with pytest.raises(ValueError, match="larger than 10 bytes"):
        read_json(path, 10)
    path.write_text("[" * 100_000 + "]" * 100_000)  # json.loads raises RecursionError on this
    with pytest.raises(ValueError, match="^lists or objects nested too deeply$"):
        read_json(path)
    path.write_text("{not json")
    with pytest.raises(ValueError, match="Expecting property name"):
        read_json(path)
