"""Training data: MNIST, a data set laid out like it (a directory of its IDX files), or image folders.

:func:`load_data` gives a :class:`Dataset`: the book's three sets, the number of
classes and the image size, from the verified MNIST, from a directory of the four
IDX files of another data set (Fashion-MNIST, KMNIST, one's own), which is checked
for its structure only and split as the book splits MNIST, or from folders of images
of each class (:mod:`dlpy35.data.image_folders`), prepared as predict prepares an image.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import NamedTuple

import numpy as np

from dlpy35.data.digit_images import SIDE
from dlpy35.data.errors import DataError, _show
from dlpy35.data.formats import IDX_NAMES, TRAIN_LABELS, load_idx_dir
from dlpy35.data.image_folders import is_image_folders, load_folders
from dlpy35.data.mnist import book_split, load_mnist

__all__ = ["Dataset", "load_data"]


class _Sets(NamedTuple):
    training: tuple[np.ndarray, np.ndarray]
    validation: tuple[np.ndarray, np.ndarray]
    test: tuple[np.ndarray, np.ndarray]
    n_classes: int
    image_shape: tuple[int, int]
    name: str
    classes: tuple[str, ...] = ()


class Dataset(_Sets):
    """The book's three sets of a data set, ``(X float32 (n, rows cols), y int64 (n,))`` each.

    ``classes`` names the classes (label ``k`` is ``classes[k]``) where the data set names
    them; :attr:`class_names` is what to show either way.
    """

    @property
    def class_names(self) -> tuple[str, ...]:
        """Each label's name: ``classes``, or the labels' digits where the data set names none."""
        return self.classes or tuple(str(k) for k in range(self.n_classes))

    @property
    def n_in(self) -> int:
        """Pixels per image: a network's input width."""
        return self.image_shape[0] * self.image_shape[1]

    @functools.cached_property
    def digest(self) -> str:
        """A digest of the three sets' contents (:func:`dlpy35.storage.identity.digest`): what a run
        records of its data, beside the name.  Computed once per object (about 0.1 s for MNIST)."""
        from dlpy35.storage.identity import digest

        named = {"training": self.training, "validation": self.validation, "test": self.test}
        if self.classes:  # which label is which class is part of what the data are
            named["classes"] = np.array(self.classes)
        return digest(named)


def load_data(data_dir: str | os.PathLike | None = None,
              dataset: str | os.PathLike | None = None) -> Dataset:
    """MNIST from `data_dir` (fetched and verified when missing), or the data set in `dataset`.

    Parameters
    ----------
    data_dir : path-like, optional
        MNIST's directory (:func:`~dlpy35.data.load_mnist`); ignored with `dataset`.
    dataset : path-like, optional
        A directory holding ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
        ``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte`` (each raw or
        ``.gz``); the number of classes is the largest label plus one.  Or one holding
        image folders, ``train/CLASS/*.png`` and optionally ``test/CLASS/...``
        (:func:`dlpy35.data.image_folders.load_folders`); the classes are the folders' names.

    Raises
    ------
    DataError
        One line naming the file and the problem.
    """
    if dataset is None:
        return Dataset(*load_mnist(data_dir), 10, (28, 28), "MNIST")
    path = Path(dataset).expanduser()
    if not path.is_dir():
        raise DataError(f"{_show(path)}: not a directory; give the directory of the four IDX files or of "
                        "image folders (train/CLASS/*.png)")
    title = Path(os.path.abspath(path)).name or str(path)  # the name given, not a link's target
    if is_image_folders(path):
        *sets, classes = load_folders(path)
        return Dataset(*sets, len(classes), (SIDE, SIDE), title, classes)
    if not any((path / n).exists() or (path / f"{n}.gz").exists() for n in IDX_NAMES):
        raise DataError(f"{_show(path)}: holds neither the four IDX files (train-images-idx3-ubyte...) nor "
                        "image folders (train/CLASS/*.png); give the directory of a data set")
    (train_x, train_y), (test_x, test_y) = load_idx_dir(path)
    arrays = dict(zip(IDX_NAMES, (train_x, train_y, test_x, test_y)))
    shown = {name: _show(path / name) for name in IDX_NAMES}
    n_classes = int(max(train_y.max(initial=0), test_y.max(initial=0))) + 1
    if n_classes < 2:
        raise DataError(f"{shown[TRAIN_LABELS]}: every label is 0; a classifier needs two classes or more")
    return Dataset(*book_split(arrays, shown), n_classes, tuple(train_x.shape[1:]), title)
