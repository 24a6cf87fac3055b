"""dlpy35.data.dataset: MNIST or another MNIST-format set as the book's three sets, its classes and size."""

from __future__ import annotations

import numpy as np
import pytest
from data_helpers import (
    TEST_IMAGES,
    TEST_LABELS,
    TRAIN_IMAGES,
    TRAIN_LABELS,
    idx_bytes,
    synthetic_mnist,
    write_dir,
)
from PIL import Image

from dlpy35.data import DataError, load_mnist
from dlpy35.data import mnist as mnist_module
from dlpy35.data.dataset import load_data


@pytest.fixture()
def small_split(monkeypatch):
    """The book's split with 10 validation images, so that sets of 30 training images can be split."""
    monkeypatch.setattr(mnist_module, "VALIDATION_SIZE", 10)


def test_another_dataset_is_split_as_the_book_splits_mnist(tmp_path, small_split):
    raw, arrays = synthetic_mnist(seed=3, n_train=30, n_test=8, side=4)
    data = load_data(dataset=write_dir(tmp_path / "shapes", raw))
    assert data.name == "shapes" and data.image_shape == (4, 4) and data.n_in == 16
    labels = np.concatenate([arrays[TRAIN_LABELS], arrays[TEST_LABELS]])
    assert data.n_classes == int(labels.max()) + 1
    pixels = arrays[TRAIN_IMAGES].reshape(30, 16) / 256
    (tx, ty), (vx, vy), (ex, ey) = data.training, data.validation, data.test
    np.testing.assert_array_equal(tx, pixels[:20])
    np.testing.assert_array_equal(vx, pixels[20:])
    np.testing.assert_array_equal(ex, arrays[TEST_IMAGES].reshape(8, 16) / 256)
    assert tx.dtype == np.float32 and ty.dtype == ey.dtype == np.int64
    np.testing.assert_array_equal(np.concatenate([ty, vy]), arrays[TRAIN_LABELS])
    np.testing.assert_array_equal(ey, arrays[TEST_LABELS])


@pytest.mark.parametrize("train_top, test_top, classes", [(4, 2, 5), (1, 6, 7), (1, 1, 2)])
def test_the_classes_are_the_largest_label_of_either_set_plus_one(tmp_path, small_split, train_top, test_top,
                                                                  classes):
    raw, _ = synthetic_mnist(seed=1)
    raw[TRAIN_LABELS] = idx_bytes(np.arange(30, dtype=np.uint8) % (train_top + 1))
    raw[TEST_LABELS] = idx_bytes(np.arange(8, dtype=np.uint8) % (test_top + 1))
    assert load_data(dataset=write_dir(tmp_path / "d", raw)).n_classes == classes


def test_one_class_or_a_file_is_refused_in_one_line(tmp_path, small_split):
    raw, _ = synthetic_mnist(seed=2)
    raw[TRAIN_LABELS] = idx_bytes(np.zeros(30, np.uint8))
    raw[TEST_LABELS] = idx_bytes(np.zeros(8, np.uint8))
    with pytest.raises(DataError, match=r"every label is 0; a classifier needs two classes or more$"):
        load_data(dataset=write_dir(tmp_path / "d", raw))
    (tmp_path / "file").write_text("x")
    with pytest.raises(DataError, match=r"file: not a directory; give the directory of the four IDX files or "
                                        r"of image folders \(train/CLASS/\*.png\)$"):
        load_data(dataset=tmp_path / "file")


def test_a_set_too_small_for_the_books_split_names_its_file(tmp_path):
    raw, _ = synthetic_mnist(seed=5)  # 30 training images, and the book keeps 10,000 for validation
    with pytest.raises(DataError, match=r"d/train-images-idx3-ubyte: only 30 training images, need more than "
                                        r"10,000"):
        load_data(dataset=write_dir(tmp_path / "d", raw))


@pytest.mark.parametrize("validation, refused", [(29, False), (30, True)])
def test_the_split_needs_one_training_image_beyond_validation(tmp_path, monkeypatch, validation, refused):
    monkeypatch.setattr(mnist_module, "VALIDATION_SIZE", validation)
    path = write_dir(tmp_path / "d", synthetic_mnist(seed=5)[0])  # 30 training images
    if refused:
        with pytest.raises(DataError, match="only 30 training images, need more than 30 for the validation"):
            load_data(dataset=path)
    else:
        assert len(load_data(dataset=path).training[0]) == 1


def test_the_mnist_of_the_data_dir_given(tmp_path):
    """`data_dir` is MNIST's directory: a damaged file there is reported, not read from elsewhere."""
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(b"not MNIST")
    with pytest.raises(DataError, match="train-images-idx3-ubyte.gz"):
        load_data(tmp_path)


def test_without_a_dataset_it_is_mnist(mnist_dir):
    data = load_data(mnist_dir)
    assert (data.name, data.n_classes, data.image_shape, data.n_in) == ("MNIST", 10, (28, 28), 784)
    for got, want in zip(data[:3], load_mnist(mnist_dir)):
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])


def test_the_digest_is_of_the_contents_once_per_object(tmp_path, small_split, monkeypatch):
    """Another set of the same shapes has another digest; the same files elsewhere, or under another
    name, the same one; and it is computed once per Dataset."""
    from dlpy35.storage import identity

    raw, _ = synthetic_mnist(seed=3, n_train=30, n_test=8, side=4)
    other, _ = synthetic_mnist(seed=4, n_train=30, n_test=8, side=4)
    data = load_data(dataset=write_dir(tmp_path / "a", raw))
    assert load_data(dataset=write_dir(tmp_path / "b", other)).digest != data.digest
    assert load_data(dataset=write_dir(tmp_path / "c", raw, gz=False)).digest == data.digest
    assert data._replace(name="renamed").digest == data.digest
    assert data._replace(test=data.validation).digest != data.digest
    calls = []
    monkeypatch.setattr(identity, "digest", lambda named: calls.append(1) or "d")
    fresh = load_data(dataset=tmp_path / "a")
    assert (fresh.digest, fresh.digest, calls) == ("d", "d", [1])


def test_image_folders_are_read_from_the_directory_given(tmp_path):
    """A ``train/CLASS/*.png`` tree is its images, in classes named by the folders (sorted)."""
    rng = np.random.default_rng(0)
    for name in ("cat", "ant"):
        (tmp_path / "pics" / "train" / name).mkdir(parents=True)
        for i in range(12):
            Image.fromarray(rng.integers(0, 256, (28, 28), dtype=np.uint8)).save(
                tmp_path / "pics" / "train" / name / f"{i}.png")
    data = load_data(dataset=tmp_path / "pics")
    assert (data.name, data.classes, data.n_classes) == ("pics", ("ant", "cat"), 2)
    assert data.image_shape == (28, 28)
    labels = np.concatenate([s[1] for s in data[:3]])
    assert sorted(labels.tolist()) == [0] * 12 + [1] * 12
