"""Expanded MNIST: the shifts, the 250,000-image set from real MNIST, and its cache."""

from __future__ import annotations

import os

import numpy as np
import pytest

from dlpy35.data import expand as ex

#: The book's expand_mnist.py, written out: (shift, axis) of down, up, right, left, in that order.
BOOK_SHIFTS = ((1, 0), (-1, 0), (1, 1), (-1, 1))


def rolled(images, d, axis):
    """``np.roll`` by `d` along `axis` of (n, 28, 28), the wrapped-around line zeroed (the book's way)."""
    out = np.roll(images, d, axis=axis + 1)
    line = 0 if d > 0 else 27
    if axis == 0:
        out[:, line, :] = 0
    else:
        out[:, :, line] = 0
    return out


def test_expand_small():
    rng = np.random.default_rng(0)
    x = rng.random((3, 784)).astype(np.float32)
    y = np.array([4, 1, 7])
    big, labels = ex.expand(x, y)
    assert big.shape == (15, 784) and big.dtype == np.float32
    np.testing.assert_array_equal(labels, [4] * 5 + [1] * 5 + [7] * 5)
    sq = x.reshape(-1, 28, 28)
    parts = big.reshape(3, 5, 28, 28)
    np.testing.assert_array_equal(parts[:, 0], sq)
    for k, (d, axis) in enumerate(BOOK_SHIFTS, 1):
        np.testing.assert_array_equal(parts[:, k], rolled(sq, d, axis))
    # down means the content moves to larger row indices
    assert np.array_equal(parts[0, 1, 1:], sq[0, :-1]) and not parts[0, 1, 0].any()
    assert len(ex.SHIFTS) == 4
    with pytest.raises(ValueError, match=r"expand: expected images \(n, 784\)"):
        ex.expand(x[:, :100], y)


@pytest.mark.parametrize("row, col, want", [
    (5, 7, [(6, 7), (4, 7), (5, 8), (5, 6)]),   # inside: down, up, right, left by one pixel
    (27, 0, [None, (26, 0), (27, 1), None]),    # a corner: what leaves the image is gone, nothing wraps
    (0, 27, [(1, 27), None, None, (0, 26)]),
])
def test_one_lit_pixel_moves_down_up_right_left(row, col, want):
    image = np.zeros((1, 28, 28), np.float32)
    image[0, row, col] = 1.0
    big, labels = ex.expand(image.reshape(1, 784), np.array([3]))
    parts = big.reshape(5, 28, 28)
    assert np.array_equal(parts[0], image[0]) and labels.tolist() == [3] * 5
    for part, where in zip(parts[1:], want):
        lit = [tuple(int(i) for i in p) for p in np.argwhere(part)]
        assert lit == ([] if where is None else [where])


def test_the_cache_lives_in_the_data_directory_given(tmp_path):
    assert ex.cache_path(tmp_path) == tmp_path / "mnist_expanded.npz"


@pytest.mark.parametrize("pixels_shape, n_labels, readable", [((10, 784), 10, True), ((10, 784), 9, False),
                                                             ((10, 783), 10, False)])
def test_a_cache_is_read_only_in_its_own_layout_even_when_its_digest_matches(tmp_path, pixels_shape, n_labels,
                                                                            readable):
    pixels = np.arange(np.prod(pixels_shape)).reshape(pixels_shape).astype(np.uint8)
    labels = np.ones(n_labels, np.int64)
    path = tmp_path / "cache.npz"
    np.savez(path, pixels=pixels, labels=labels, sha256=np.array(ex._digest(pixels, labels)))
    got = ex._read(path)
    if readable:
        np.testing.assert_array_equal(got[0], pixels)
        np.testing.assert_array_equal(got[1], labels)
    else:
        assert got is None


@pytest.fixture()
def data_dir(tmp_path, mnist_dir):
    """A private MNIST directory (links to the verified files) so the cache test owns its cache."""
    for f in mnist_dir.iterdir():
        if f.name.endswith(".gz"):
            os.symlink(f.resolve(), tmp_path / f.name)
    return tmp_path


def test_expanded_real_mnist_and_its_cache(mnist, data_dir):
    (tx, ty), _, _ = mnist
    x, y = ex.load_expanded(data_dir)
    assert (x.shape == (250_000, 784) and x.dtype == np.float32
            and y.shape == (250_000,) and y.dtype == np.int64)
    np.testing.assert_array_equal(y, np.repeat(ty, 5))
    parts = x.reshape(50_000, 5, 28, 28)
    sq = tx.reshape(-1, 28, 28)
    np.testing.assert_array_equal(parts[:, 0], sq)
    for k, (d, axis) in enumerate(BOOK_SHIFTS, 1):
        np.testing.assert_array_equal(parts[:, k], rolled(sq, d, axis))
    del parts, x

    path = ex.cache_path(data_dir)
    stamp = path.stat().st_mtime_ns
    x2, _ = ex.load_expanded(data_dir)  # reused: not rewritten
    assert path.stat().st_mtime_ns == stamp and x2.shape == (250_000, 784)
    del x2

    raw = bytearray(path.read_bytes())  # corrupt one pixel byte: the digest catches it
    raw[len(raw) // 2] ^= 0xFF
    path.write_bytes(bytes(raw))
    x3, _ = ex.load_expanded(data_dir)
    np.testing.assert_array_equal(x3[::5], tx)
    pixels, labels = ex._read(path)  # the regenerated set again, as bytes (the book's k / 256)
    np.testing.assert_array_equal(pixels[::5], np.rint(tx * 256).astype(np.uint8))
    np.testing.assert_array_equal(labels, np.repeat(ty, 5))
    path.write_bytes(b"garbage")  # unreadable: regenerated too
    assert ex.load_expanded(data_dir)[0].shape == (250_000, 784)
    assert not list(data_dir.glob(".*tmp"))
