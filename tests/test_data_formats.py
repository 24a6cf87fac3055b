"""Tests for dlpy35.data.formats: IDX files, MNIST-format directories, the book's pickle."""

from __future__ import annotations

import gzip
import pickle

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
    book_pickle,
    book_sets,
    idx_bytes,
    synthetic_mnist,
    write,
    write_dir,
)

from dlpy35.data import DataError, load_idx_dir, load_pickle, parse_idx, read_idx

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
