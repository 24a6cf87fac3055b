"""Tests for dlpy35.data.formats: IDX files, read within what their header declares, and MNIST-format
directories."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest
from data_helpers import (
    IDX_CODES,
    NAMES,
    TEST_IMAGES,
    TEST_LABELS,
    TRAIN_IMAGES,
    TRAIN_LABELS,
    assert_error,
    idx_bytes,
    read_in_child,
    synthetic_mnist,
    write,
    write_dir,
    zeros_gzip,
)

from dlpy35.data import DataError, load_data, load_idx_dir, parse_idx, read_idx

# --------------------------------------------------------------------------- IDX reader


@pytest.mark.parametrize("head, message", [
    (b"", "not an IDX file (starts empty, expected 00 00 <type> <ndim>)"),
    (b"\x00\x00\x08\x01", "truncated IDX header (4 bytes)"),  # the magic alone, its dimension missing
    (b"\x00\x00\x99\x01\x00\x00\x00\x01\x07", "unknown IDX type code 0x99"),
])
def test_parse_idx_names_what_is_wrong_with_the_header(head, message):
    with pytest.raises(DataError) as e:
        parse_idx(head, "f-idx")
    assert_error(e, f"f-idx: {message}")


def test_parse_idx_without_a_name_calls_its_input_bytes():
    with pytest.raises(DataError) as e:
        parse_idx(b"")
    assert_error(e, "<bytes>: not an IDX file")


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
    for got, name in zip((tr_x, tr_y, te_x, te_y), NAMES, strict=True):
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


@pytest.mark.parametrize("label", [9, 10, 12, 255])
def test_load_idx_dir_labels_at_the_class_boundary(tmp_path, label):
    """With ``n_classes=10`` labels 0..9 load and 10 or more are refused; any label loads by default."""
    labels = np.zeros(8, np.uint8)
    labels[5] = label
    d = _bad_dir(tmp_path, **{TEST_LABELS: idx_bytes(labels)})
    (_, _), (_, test_y) = load_idx_dir(d)  # any number of classes by default (EMNIST and the like)
    np.testing.assert_array_equal(test_y, labels)
    if label == 9:
        (_, _), (_, test_y) = load_idx_dir(d, n_classes=10)
        np.testing.assert_array_equal(test_y, labels)
        return
    with pytest.raises(DataError) as e:
        load_idx_dir(d, n_classes=10)
    assert_error(e, TEST_LABELS + ".gz", f"label {label}", "index 5", "above 9")


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


def test_load_idx_dir_and_load_data_refuse_a_set_of_no_images(tmp_path):
    """numpy's reshape error named no file; the set of 0 images (or of 0-pixel images) is named."""
    for name, shape in ((TRAIN_IMAGES, (0, 4, 4)), (TEST_IMAGES, (8, 0, 4))):
        raw, _ = synthetic_mnist(seed=5)
        raw[name] = idx_bytes(np.zeros(shape, np.uint8))
        if shape[0] == 0:
            raw[TRAIN_LABELS] = idx_bytes(np.zeros(0, np.uint8))
        d = write_dir(tmp_path / name, raw)
        for load in (load_idx_dir, lambda d: load_data(dataset=d)):
            with pytest.raises(DataError) as e:
                load(d)
            assert_error(e, name + ".gz", "no pixels in it", "x".join(map(str, shape)), "one image or more")


# --------------------------------------------------------------------------- bounded reading


def test_a_gzip_inflating_past_its_header_stops_one_byte_after_it(tmp_path):
    """A second gzip member of garbage follows the extra bytes: reading it would fail as unreadable;
    the refusal for bytes beyond the header shows the stream was inflated no further."""
    content = idx_bytes(np.ones((3, 4, 4), np.uint8)) + bytes(10)
    path = write(tmp_path / "long-idx.gz", gzip.compress(content, mtime=0) + b"\x1f\x8b garbage")
    with pytest.raises(DataError) as e:
        read_idx(path)
    assert_error(e, "long-idx.gz", "more than the 64 bytes the header (3x4x4 uint8) describes")


@pytest.mark.parametrize("gz", [False, True])
def test_a_header_claiming_more_than_the_file_can_hold_is_refused_before_allocation(tmp_path, gz):
    head = bytes([0, 0, 0x0D, 3]) + struct.pack(">3I", 4_000_000_000, 1000, 1000)  # 16 EB of float32
    path = write(tmp_path / "claim-idx", head + bytes(100), gz=gz)
    with pytest.raises(DataError) as e:
        read_idx(path)
    if gz:
        assert_error(e, "claim-idx", "describes 16,000,000,000,000,016 bytes, more than a gzip of",
                     "bytes can hold")
    else:
        assert_error(e, "claim-idx", "truncated", "16,000,000,000,000,016 bytes but the file has 116")


@pytest.mark.parametrize("dtype", ["int16", "float64"])
def test_read_idx_big_endian_elements_are_swapped_in_place(tmp_path, dtype):
    arr = (np.arange(-6, 6) * 1000).astype(dtype).reshape(3, 4)
    out = read_idx(write(tmp_path / "be-idx.gz", idx_bytes(arr), gz=True))
    assert out.dtype.isnative and out.flags.writeable
    np.testing.assert_array_equal(out, arr)


def test_idx_gzip_bombs_are_refused_within_600_mb(tmp_path):
    """Each bomb, read in a child process limited to 600 MB of address space, gives its one-line DataError
    (before: the first took 2.1 GB, so MemoryError there, as did the third)."""
    bomb = tmp_path / "bomb-idx3-ubyte.gz"  # 1000 images declared, 768 MiB of zeros after them
    bomb.write_bytes(gzip.compress(bytes([0, 0, 8, 3]) + struct.pack(">3I", 1000, 28, 28), mtime=0)
                     + zeros_gzip(768 << 20))
    claim = tmp_path / "claim-idx3-ubyte.gz"  # 4,000,000 images declared in 32 bytes
    claim.write_bytes(gzip.compress(bytes([0, 0, 8, 3]) + struct.pack(">3I", 4_000_000, 28, 28), mtime=0))
    honest = tmp_path / "honest-idx3-ubyte.gz"  # 704 MiB declared and there: more than the child may use
    honest.write_bytes(gzip.compress(bytes([0, 0, 8, 3]) + struct.pack(">3I", 11, 64, 1 << 20), mtime=0)
                       + zeros_gzip(704 << 20))
    assert max(p.stat().st_size for p in (bomb, claim, honest)) < 1 << 20
    assert read_in_child("idx", [bomb, claim, honest]) == [
        f"{bomb}: more than the 784,016 bytes the header (1000x28x28 uint8) describes, replace it with an "
        "intact copy",
        f"{claim}: the header (4000000x28x28 uint8) describes 3,136,000,016 bytes, more than a gzip of 32 "
        "bytes can hold, replace it with an intact copy",
        f"{honest}: its 738,197,520 bytes do not fit in this machine's memory; use a machine with more",
    ]
