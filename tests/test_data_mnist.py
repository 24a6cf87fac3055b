"""Tests for dlpy35.data.mnist: the book's 50k/10k/10k split, from the IDX files or the pickle."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
from data_helpers import (
    TEST_IMAGES,
    TEST_LABELS,
    TRAIN_IMAGES,
    TRAIN_LABELS,
    assert_error,
    book_pickle,
    book_sets,
    make_fake,
)

from dlpy35.data import DataError, FetchError, MirrorSource, fetch, fetch_mnist, load_mnist, read_idx
from dlpy35.data import mnist as mnist_module

# Label counts of LeCun's MNIST (training and t10k sets).
TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@pytest.fixture
def fake(tmp_path, monkeypatch):
    return make_fake(tmp_path, monkeypatch)


# --------------------------------------------------------------------------- load_mnist


def test_load_mnist_book_split(fake, monkeypatch):
    monkeypatch.setattr(mnist_module, "VALIDATION_SIZE", 10)
    monkeypatch.setenv(fetch.SOURCES_ENV, fake.mirror_url)
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


@pytest.mark.parametrize("where", ["parent", "same"])
def test_load_mnist_falls_back_to_pickle(fake, monkeypatch, where):
    monkeypatch.setenv(fetch.SOURCES_ENV, "none")
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
    monkeypatch.setattr(mnist_module, "VALIDATION_SIZE", 10)
    monkeypatch.setenv(fetch.SOURCES_ENV, fake.mirror_url)
    fake.dest.mkdir()
    (fake.dest.parent / "mnist.pkl.gz").write_bytes(book_pickle(book_sets()))
    (tr_x, _), _, _ = load_mnist(fake.dest)
    assert tr_x.shape == (20, 16)


# --------------------------------------------------------------------------- the real MNIST


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
