"""dlpy35.data.image_folders: DIR/train/CLASS/*.png as a data set, prepared as predict prepares an image,
split seeded and stratified, cached by content; and the commands that take it as --dataset DIR."""

from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pytest
from command_helpers import run_main
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from dlpy35.data import DataError, digit_images, load_data
from dlpy35.data.image_folders import split

N_IMAGES = 500  # MNIST's first test images: 40 to 67 of each digit


def _png(path, pixels, dark_on_light=False):
    levels = np.round(np.asarray(pixels).reshape(28, 28) * 256).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(255 - levels if dark_on_light else levels).save(path)


@pytest.fixture(scope="module")
def digits(mnist, tmp_path_factory):
    """``DIR/train/<word>/NNNN.png``: MNIST's first test digits as PNG files, every third one drawn dark on
    light (as a scan is), in class folders named by the digits' words."""
    _, _, (x, y) = mnist
    root = tmp_path_factory.mktemp("folders") / "my-digits"
    for i in range(N_IMAGES):
        _png(root / "train" / WORDS[y[i]] / f"{i:04d}.png", x[i], dark_on_light=i % 3 == 0)
    return root


WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


@pytest.fixture()
def cache(tmp_path, monkeypatch):
    """An empty cache directory of this test's own."""
    monkeypatch.setenv("DLPY35_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "image_folders"


def _copy(digits, tmp_path, n=None):
    """A copy of `digits` (its first `n` images of each class), to change."""
    root = tmp_path / "copy"
    for folder in sorted((digits / "train").iterdir()):
        for file in sorted(folder.iterdir())[:n]:
            (root / "train" / folder.name).mkdir(parents=True, exist_ok=True)
            shutil.copy(file, root / "train" / folder.name / file.name)
    return root


# -- the data set ----------------------------------------------------------------------------------
def test_classes_are_the_folders_and_each_image_is_prepared_as_predict_prepares_it(digits, cache):
    data = load_data(dataset=digits)
    assert (data.name, data.image_shape, data.n_in) == ("my-digits", (28, 28), 784)
    assert data.classes == tuple(sorted(WORDS)) and data.n_classes == 10
    files = sorted((digits / "train").rglob("*.png"))
    expected = {tuple(digit_images.prepare_file(f)): data.classes.index(f.parent.name) for f in files}
    got = [(tuple(x), int(y)) for s in data[:3] for x, y in zip(*s)]
    assert len(got) == N_IMAGES and all(expected[x] == y for x, y in got)
    assert sorted(got) == sorted(expected.items())  # every image once, none twice
    assert all(s[0].dtype == np.float32 and s[1].dtype == np.int64 for s in data[:3])


def test_a_scan_and_a_negative_of_the_same_digit_are_the_same_pixels(digits, cache, tmp_path, mnist):
    """Polarity is predict's: the same function decides it."""
    _, _, (x, y) = mnist
    root = tmp_path / "pair"
    for label in (0, 1):
        i = int(np.flatnonzero(y == label)[0])
        for n, dark in enumerate((False, True, False, True)):
            _png(root / "train" / str(label) / f"{n}.png", x[i], dark_on_light=dark)
    data = load_data(dataset=root)
    pixels = np.concatenate([s[0] for s in data[:3]])
    assert len(np.unique(pixels, axis=0)) == 2  # two digits, whichever way drawn


@pytest.mark.parametrize("no_test", [True, False])
def test_the_split_keeps_mnists_proportions(digits, cache, tmp_path, no_test):
    """Without test/: 1/7 of each class is the test set and 1/6 of the rest validation (MNIST's 10,000 of
    70,000 and 10,000 of 60,000); with test/, validation is 1/6 of train and the test set is test/."""
    root = _copy(digits, tmp_path, n=35)  # 35 of each class: 5 test, 5 validation, 25 training
    if not no_test:  # or 6 validation and 29 training
        for word in ("one", "seven"):
            shutil.copytree(root / "train" / word, root / "test" / word)
    (tx, ty), (vx, vy), (ex, ey) = load_data(dataset=root)[:3]
    assert (len(tx), len(vx), len(ex)) == ((250, 50, 50) if no_test else (290, 60, 70))
    assert np.bincount(vy).tolist() == [5 if no_test else 6] * 10
    if no_test:
        assert np.bincount(ey).tolist() == [5] * 10
    else:
        classes = sorted(WORDS)
        assert sorted(ey.tolist()) == [classes.index("one")] * 35 + [classes.index("seven")] * 35


def test_the_same_folders_give_the_same_split_and_each_set_mixes_its_classes(digits, cache, tmp_path):
    first = load_data(dataset=digits)
    again = load_data(dataset=shutil.copytree(digits, tmp_path / "elsewhere"))
    assert again.digest == first.digest
    for a, b in zip(first[:3], again[:3]):
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[1], b[1])
    assert len(set(first.training[1][:30].tolist())) >= 8  # --n-train 30 takes most classes, not one


def test_renamed_classes_are_other_data(digits, cache, tmp_path):
    root = shutil.copytree(digits, tmp_path / "renamed")
    (root / "train" / "zero").rename(root / "train" / "zilch")  # still the last: the same labels
    renamed, data = load_data(dataset=root), load_data(dataset=digits)
    assert renamed.classes[-1] == "zilch" and renamed.classes[:-1] == data.classes[:-1]
    np.testing.assert_array_equal(renamed.training[1], data.training[1])
    assert renamed.digest != data.digest


# -- the split -----------------------------------------------------------------------------------
def test_the_split_is_this_on_any_machine():
    """Seeded: the indices NumPy's PCG64 gives for seed 0 (a change here changes every user's split)."""
    labels = np.array([0] * 7 + [1] * 7)
    test, validation, train = split(labels, ((1, 7), (1, 6)))
    assert (test.tolist(), validation.tolist()) == ([2, 12], [4, 9])
    assert sorted(train.tolist()) == sorted(set(range(14)) - {2, 12, 4, 9})


@pytest.mark.parametrize("n, test, validation", [(1, 0, 0), (2, 0, 0), (3, 0, 1), (4, 1, 1), (7, 1, 1),
                                                  (10, 1, 2), (11, 2, 2), (42, 6, 6), (70, 10, 10)])
def test_each_class_is_split_in_its_rounded_shares(n, test, validation):
    labels = np.repeat([0, 1], [n, 5])
    parts = split(labels, ((1, 7), (1, 6)))
    assert [int(np.sum(labels[p] == 0)) for p in parts] == [test, validation, n - test - validation]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 4), min_size=1, max_size=80), st.integers(0, 2 ** 32 - 1))
def test_a_split_is_a_partition_stratified_and_determined_by_its_seed(labels, seed):
    labels = np.array(labels)
    parts = split(labels, ((1, 7), (1, 6)), seed)
    assert sorted(np.concatenate(parts).tolist()) == list(range(len(labels)))
    for label in np.unique(labels):
        n = int(np.sum(labels == label))
        test = (2 * n + 7) // 14
        assert [int(np.sum(labels[p] == label)) for p in parts[:2]] == [test, (2 * (n - test) + 6) // 12]
    again = split(labels, ((1, 7), (1, 6)), seed)
    assert all(np.array_equal(a, b) for a, b in zip(parts, again))


# -- the cache -----------------------------------------------------------------------------------
def _counting(monkeypatch):
    calls = []
    prepare_file = digit_images.prepare_file
    monkeypatch.setattr(digit_images, "prepare_file", lambda path: calls.append(path) or prepare_file(path))
    return calls


def test_the_second_load_reads_the_cache_and_a_changed_file_is_prepared_again(digits, cache, tmp_path,
                                                                            monkeypatch, mnist):
    root = _copy(digits, tmp_path, n=5)
    calls = _counting(monkeypatch)
    first = load_data(dataset=root)
    assert len(calls) == 50 and len(list(cache.glob("*.npz"))) == 1
    again = load_data(dataset=root)
    assert len(calls) == 50 and again.digest == first.digest
    _png(next((root / "train" / "two").iterdir()), mnist[2][0][-1])  # other pixels, under the same name
    changed = load_data(dataset=root)
    assert len(calls) == 100 and changed.digest != first.digest and len(list(cache.glob("*.npz"))) == 2


@pytest.mark.parametrize("damage", [
    lambda b: b"", lambda b: b"not an npz", lambda b: b[: len(b) // 2], lambda b: b"\x93NUMPY" + b[6:],
    lambda b: b[:-30] + bytes(30)])
def test_a_damaged_cache_entry_is_prepared_again_and_replaced(digits, cache, tmp_path, monkeypatch, damage):
    root = _copy(digits, tmp_path, n=4)
    data = load_data(dataset=root)
    (entry,) = cache.glob("*.npz")
    entry.write_bytes(damage(entry.read_bytes()))
    calls = _counting(monkeypatch)
    assert load_data(dataset=root).digest == data.digest and len(calls) == 40
    assert load_data(dataset=root).digest == data.digest and len(calls) == 40  # replaced by a good one


OTHER_ARRAYS = [  # what a cache entry holds instead of the 40 images of the 10 classes
    {"classes": ["a", "b"]}, {"train_levels": np.zeros((39, 784), np.uint8)},
    {"train_levels": np.zeros((40, 784), np.float32)}, {"train_labels": np.full(40, 10)},
    {"train_labels": np.full(40, -1)}, {"train_labels": np.zeros(40, np.int32)}]


@pytest.mark.parametrize("other", [None, *OTHER_ARRAYS])
def test_a_cache_entry_of_other_arrays_is_not_used(digits, cache, tmp_path, monkeypatch, other):
    """Only an entry of the images' count, classes and types is read (None: such an entry, of other pixels,
    which is read as it is)."""
    root = _copy(digits, tmp_path, n=4)
    data = load_data(dataset=root)
    (entry,) = cache.glob("*.npz")
    members = {"classes": sorted(WORDS), "train_levels": np.zeros((40, 784), np.uint8),
               "train_labels": np.zeros(40, np.int64), **(other or {})}
    np.savez(entry, **{**members, "classes": np.array(json.dumps(members["classes"]))})
    calls = _counting(monkeypatch)
    read = load_data(dataset=root)
    if other is None:
        assert not calls and not read.training[0].any() and not read.training[1].any()
    else:
        assert read.digest == data.digest and len(calls) == 40


def test_a_cache_that_cannot_be_written_is_done_without(digits, tmp_path, monkeypatch):
    (tmp_path / "cache").write_text("a file where the cache directory would be")
    monkeypatch.setenv("DLPY35_CACHE", str(tmp_path / "cache"))
    assert load_data(dataset=_copy(digits, tmp_path, n=4)).n_classes == 10


# -- what is refused --------------------------------------------------------------------------------
def _image(path, level=0):
    path.parent.mkdir(parents=True, exist_ok=True)
    grey = np.full((12, 12), 255 - level, np.uint8)
    grey[3:9, 5:7] = level  # a stroke
    Image.fromarray(grey).save(path)


REFUSED = [  # (files made under DIR: path -> "image", "text" or "dir"), the error's path, its words
    ({"train": "dir"}, "d/train", "holds no class folder; put one folder of images per class in it "
                                  "(train/CLASS/*.png)"),
    ({"train/a/1.png": "image", "train/b": "dir"}, "d/train/b", "a class folder without images"),
    ({"train/a/1.png": "image", "train/a/2.png": "text", "train/b/1.png": "image"}, "d/train/a/2.png",
     "not an image (give a PNG or JPEG of a digit)"),
    ({"train/a/1.png": "image", "train/a/2.png": "link", "train/b/1.png": "image"}, "d/train/a/2.png",
     "cannot read it (No such file or directory)"),
    ({"train/a/1.png": "image", "train/a/notes.txt": "text", "train/b/1.png": "image"}, "d/train/a/notes.txt",
     "not an image file (.bmp .gif .jpeg .jpg .pgm .png .ppm .tif .tiff .webp); class folders hold images "
     "only: move it elsewhere"),
    ({"train/a/1.png": "image", "train/b/1.png": "image", "test/c/1.png": "image"}, "d/test/c",
     "train has no class 'c'; give test/ only folders of the classes in train/"),
    ({"train/a/1.png": "image"}, "d/train", "1 class folder (a); a classifier needs two classes or more"),
    ({"train/a/1.png": "image", "train/b/1.png": "image", "train/labels.csv": "text"}, "d/train/labels.csv",
     "not in a class folder; train/ holds one folder of images per class (train/CLASS/labels.csv)"),
    ({"train/a/1.png": "image", "train/b/1.png": "image", "test": "dir"}, "d/test",
     "holds no class folder; put one folder of images per class in it (test/CLASS/*.png)"),
    ({"train/a/1.png": "image", "train/b/1.png": "image", "test": "text"}, "d/test", "not a folder"),
    ({"train/a/1.png": "image", "train/a/2.png": "image", "train/b/1.png": "image"}, "d/train",
     "3 images in all, too few to hold out test and validation images; give a class 4 images or more"),
    ({"train/a/1.png": "image", "train/b/1.png": "image", "test/a/1.png": "image"}, "d/train",
     "2 images in all, too few to hold out validation images; give a class 3 images or more"),
    ({"README.md": "text"}, "d", "holds neither the four IDX files (train-images-idx3-ubyte...) nor image "
                                 "folders (train/CLASS/*.png)"),
]


@pytest.mark.parametrize("files, where, words", REFUSED)
def test_a_folder_that_is_not_a_data_set_is_refused_in_one_line_naming_the_file(tmp_path, cache, monkeypatch,
                                                                               files, where, words):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "d").mkdir()
    for name, kind in files.items():
        path = tmp_path / "d" / name
        if kind == "dir":
            path.mkdir(parents=True)
        elif kind == "image":
            _image(path)
        elif kind == "link":
            path.parent.mkdir(parents=True, exist_ok=True)
            path.symlink_to(tmp_path / "nowhere.png")
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("not an image")
    with pytest.raises(DataError) as excinfo:
        load_data(dataset="d")
    message = str(excinfo.value)
    assert "\n" not in message and message.startswith(f"{where}: ") and words in message, message


def test_a_blank_image_is_named(tmp_path, cache, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("a/1.png", "a/2.png", "b/1.png", "b/2.png"):
        _image(tmp_path / "d" / "train" / name)
    Image.fromarray(np.full((9, 9), 200, np.uint8)).save(tmp_path / "d" / "train" / "b" / "2.png")
    with pytest.raises(DataError, match=r"^d/train/b/2.png: blank, no ink stands out from the paper"):
        load_data(dataset="d")


def test_hidden_and_system_files_are_skipped_and_images_below_a_class_folder_read(tmp_path, cache):
    root = tmp_path / "d"
    for name in ("a/1.PNG", "a/scans/2.jpg", "b/1.png", "b/2.png", "b/3.png", "b/4.png"):
        _image(root / "train" / name, level=40)
    for name in (".DS_Store", "a/.DS_Store", "a/._1.PNG", "a/Thumbs.db", "b/desktop.ini", ".cache/x.txt",
                 "a/.thumbnails/1.txt"):
        (root / "train" / name).parent.mkdir(parents=True, exist_ok=True)
        (root / "train" / name).write_text("not an image")
    data = load_data(dataset=root)
    assert data.classes == ("a", "b") and sum(len(s[1]) for s in data[:3]) == 6
    assert np.bincount(np.concatenate([s[1] for s in data[:3]])).tolist() == [2, 4]


# -- the commands ------------------------------------------------------------------------------------
def _command(name, argv, capsys):
    from dlpy35.cli.main import command_main

    return run_main(lambda a: command_main(name, a), argv, capsys)


def test_train_evaluate_and_predict_on_image_folders(digits, cache, tmp_path, capsys):
    """``dlpy35 train --dataset DIR`` learns the digits of the folders well above chance (10%); evaluate
    finds the same accuracy on the same held-out test set; predict answers for the folders' images with
    the folders' names, which the saved network records."""
    net = tmp_path / "net.json"
    status, out, err = _command("train", ["--dataset", str(digits), "--epochs", "10", "--cost",
                                          "cross-entropy", "--eta", "0.5", "--device", "cpu", "--quiet",
                                          "--save", str(net)], capsys)
    assert status == 0, err
    correct, total = map(int, re.search(r"Epoch 9 : (\d+) / (\d+)", out).groups())
    assert total == 72 and correct / total > 0.75, out  # measured: 64 / 72 (88.9%)
    status, out, err = _command("evaluate", [str(net), "--dataset", str(digits), "--device", "cpu"], capsys)
    assert status == 0 and f"({correct} / {total})" in out, (out, err)
    legend = ", ".join(f"{k} {word}" for k, word in enumerate(sorted(WORDS)))  # the folders, sorted
    assert f"classes: {legend}" in out.splitlines(), out
    images = sorted((digits / "train" / "seven").iterdir())[:10]
    status, out, err = _command("predict", [str(net), *map(str, images), "--device", "cpu"], capsys)
    assert status == 0, err
    assert sum(": seven (" in line for line in out.splitlines()) >= 7, out  # the model's class names


@pytest.mark.slow
def test_train_conv_and_sweep_on_image_folders(digits, cache, tmp_path, capsys):
    status, out, err = _command("train-conv", ["--dataset", str(digits), "--net", "fc", "--epochs", "1",
                                               "--device", "cpu", "--quiet"], capsys)
    assert status == 0 and "my-digits" in out, (out, err)
    status, out, err = _command("sweep", ["--dataset", str(digits), "--seeds", "0", "--epochs", "1",
                                          "--cost", "cross-entropy", "--eta", "0.5", "--device", "cpu",
                                          "--out", str(tmp_path / "sweep"), "--quiet"], capsys)
    assert status == 0, err
    assert (tmp_path / "sweep" / "summary.csv").is_file()


def test_a_command_refuses_a_bad_folder_in_one_line_with_status_2(tmp_path, cache, capsys):
    (tmp_path / "d" / "train" / "a").mkdir(parents=True)
    status, out, err = _command("train", ["--dataset", str(tmp_path / "d"), "--quiet"], capsys)
    assert status == 2 and err.count("\n") == 1 and "a class folder without images" in err, err
