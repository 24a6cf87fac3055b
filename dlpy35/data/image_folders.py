"""Folders of images as a data set, laid out as torchvision's ``ImageFolder`` and Keras'
``image_dataset_from_directory`` read them: ``DIR/train/CLASS/*.png`` and, optionally,
``DIR/test/CLASS/...``.

Classes
    The names of the folders in ``DIR/train``, sorted (label ``k`` is the ``k``-th); at least two.
    A folder of ``DIR/test`` must be one of them (a class may be missing from the test set).
Files
    An image is a file whose suffix is one of :data:`IMAGE_SUFFIXES` (any case), in its class
    folder or a folder below it.  Hidden files and folders (a name starting with ``.``: macOS's
    ``.DS_Store`` and ``._*``) and :data:`SYSTEM_FILES` are skipped; any other file is refused,
    rather than a photo in a format not read here being left out unnoticed.  ``DIR`` may hold
    other things besides ``train`` and ``test``: only those two are read.
Preparation
    Every image is prepared as ``dlpy35 predict`` prepares one
    (:func:`dlpy35.data.digit_images.prepare`: ink light on dark whichever way it was drawn,
    cropped, fitted into 20 x 20, centred in 28 x 28), so that a network trained here answers
    for a user's own images as it did for these.  An image that cannot be read or is blank is
    named in a :class:`~dlpy35.data.errors.DataError`.
Split
    Stratified and seeded (:data:`SPLIT_SEED`), as MNIST's proportions are: without a ``test``
    folder, 1/7 of each class's images are held out as the test set (MNIST's 10,000 of 70,000);
    validation is 1/6 of each class's remaining training images (10,000 of 60,000).  Counts are
    rounded half up; each set's order is shuffled too, so that ``--n-train N`` takes every class.
    The same files give the same split on any machine; the data set's digest records it.
Cache
    Preparing takes 0.25 to 1 ms an image (a 28 x 28 PNG); reading the cache, a fiftieth of that.
    The prepared images are kept in :func:`dlpy35.storage.caches.cache_dir` ``/image_folders``,
    one npz per content (about 1.6 MB for 10,000 images; older ones are not removed): its name is
    a SHA-256 of every file's name and bytes and of
    :data:`~dlpy35.data.digit_images.PREPARATION_VERSION`, so that a changed, added, removed or
    renamed file, or another preparation, is another entry.  A damaged entry is prepared again
    and replaced; a cache that cannot be written is done without.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from dlpy35.data.errors import DataError, _one_line, _show
from dlpy35.text import plural

__all__ = ["IMAGE_SUFFIXES", "SYSTEM_FILES", "SPLIT_SEED", "is_image_folders", "load_folders", "split"]

#: Suffixes of the files read as images: torchvision's and Keras' (Pillow reads them all).
IMAGE_SUFFIXES = (".bmp", ".gif", ".jpeg", ".jpg", ".pgm", ".png", ".ppm", ".tif", ".tiff", ".webp")
_SUFFIXES = " ".join(IMAGE_SUFFIXES)
#: Files that file managers leave in folders, skipped like hidden files.
SYSTEM_FILES = ("Thumbs.db", "desktop.ini")
#: The seed of the split (:func:`split`).
SPLIT_SEED = 0
#: Format of a cache entry; a change makes every older entry another key.
CACHE_FORMAT = 1
_PARTS = ("levels", "labels")  # a set's members in a cache entry: f"{set}_{part}"


def _layout(folder: Path) -> str:
    return f"put one folder of images per class in it ({folder.name}/CLASS/*.png)"


def is_image_folders(path: str | os.PathLike) -> bool:
    """Whether `path` is laid out as image folders: it has a ``train`` folder (then IDX files beside it
    are not read)."""
    return (Path(path) / "train").is_dir()


def load_folders(path: str | os.PathLike):
    """The three sets of the image folders in `path` and the class names (see the module).

    Returns
    -------
    training, validation, test : (X float32 (n, 784), y int64 (n,))
        Pixels ``k / 256`` as :func:`dlpy35.data.digit_images.prepare` gives them.
    classes : tuple of str
        The class folders' names, sorted.

    Raises
    ------
    DataError
        One line naming the folder or file and the fix.
    """
    path = Path(path)
    train = _class_files(path / "train")
    classes = tuple(sorted(train))
    if len(classes) < 2:
        raise DataError(f"{_show(path / 'train')}: {len(classes)} class folder ({', '.join(classes)}); a "
                        "classifier needs two classes or more")
    test = _class_files(path / "test") if (path / "test").exists() else None
    for name in sorted(test or ()):
        if name not in train:
            raise DataError(f"{_show(path / 'test' / name)}: train has no class {name!r}; give test/ only "
                            "folders of the classes in train/")
    sets = {"train": train} if test is None else {"train": train, "test": test}
    arrays = _prepared(path, sets, classes)
    return (*_held_out(path, arrays, test is None), classes)


def _class_files(folder: Path) -> dict[str, list[str]]:
    """The images of each class folder of `folder` (``DIR/train`` or ``DIR/test``), by class."""
    if not folder.is_dir():
        raise DataError(f"{_show(folder)}: not a folder; {_layout(folder)}")
    found = {}
    for entry in sorted(folder.iterdir()):
        if _skipped(entry.name):
            continue
        if not entry.is_dir():
            raise DataError(f"{_show(entry)}: not in a class folder; {folder.name}/ holds one folder of "
                            f"images per class ({folder.name}/CLASS/{entry.name})")
        found[entry.name] = _images(entry)
    if not found:
        raise DataError(f"{_show(folder)}: holds no class folder; {_layout(folder)}")
    return found


def _skipped(name: str) -> bool:
    return name.startswith(".") or name in SYSTEM_FILES


def _images(folder: Path) -> list[str]:
    """The image files in `folder` and the folders below it, as paths below it (``a.png``, ``scans/b.jpg``),
    sorted by their parts."""
    images = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not _skipped(d)]
        below = Path(root).relative_to(folder).parts
        for name in files:
            if _skipped(name):
                continue
            if os.path.splitext(name)[1].lower() not in IMAGE_SUFFIXES:
                raise DataError(f"{_show(Path(root) / name)}: not an image file "
                                f"({_SUFFIXES}); class folders hold images only: move it elsewhere")
            images.append((*below, name))
    if not images:
        raise DataError(f"{_show(folder)}: a class folder without images; put its images in it "
                        f"({_SUFFIXES})")
    return ["/".join(parts) for parts in sorted(images)]


def _files(sets: dict):
    """``(set, class, name)`` of every image of `sets`, the name below ``DIR`` (``train/3/a.png``)."""
    for set_name, by_class in sets.items():
        for class_name, images in by_class.items():
            for image in images:
                yield set_name, class_name, f"{set_name}/{class_name}/{image}"


def _prepared(path: Path, sets: dict, classes: tuple[str, ...]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Each set's prepared levels (uint8 (n, 784), ``k`` for the pixel ``k / 256``) and labels, from the
    cache when it holds them."""
    from dlpy35.storage.caches import cache_dir

    shown = _show(path)  # once: the files are named below it
    entry = cache_dir() / "image_folders" / f"{_content_key(path, shown, sets)}.npz"
    counts = {name: sum(map(len, by_class.values())) for name, by_class in sets.items()}
    arrays = _read_entry(entry, classes, counts)
    if arrays is None:
        arrays = _prepare(shown, sets, classes)
        _write_entry(entry, arrays, classes)
    return arrays


def _content_key(path: Path, shown: str, sets: dict) -> str:
    """SHA-256 of the preparation's version and every file's name (below ``DIR``) and bytes."""
    from dlpy35.data.digit_images import PREPARATION_VERSION

    h = hashlib.sha256(f"dlpy35 image folders {CACHE_FORMAT} prepared {PREPARATION_VERSION}\0".encode())
    for _, _, name in _files(sets):
        h.update(name.encode("utf-8", "surrogateescape") + b"\0")
        try:
            with open(path / name, "rb") as f:
                h.update(hashlib.file_digest(f, "sha256").digest())
        except OSError as exc:
            raise DataError(f"{shown}/{name}: cannot read it ({_one_line(exc)})") from None
    return h.hexdigest()[:32]


def _prepare(shown: str, sets: dict, classes: tuple[str, ...]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The levels and labels of each set's images, prepared as predict prepares an image."""
    from dlpy35.data import digit_images

    levels, labels = {name: [] for name in sets}, {name: [] for name in sets}
    index = {name: k for k, name in enumerate(classes)}
    for set_name, class_name, name in _files(sets):
        try:
            pixels = digit_images.prepare_file(f"{shown}/{name}")  # named so in its errors
        except digit_images.ImageError as exc:
            raise DataError(str(exc)) from None
        levels[set_name].append(np.round(pixels * 256).astype(np.uint8))
        labels[set_name].append(index[class_name])
    return {name: (np.stack(levels[name]), np.asarray(labels[name], dtype=np.int64)) for name in sets}


def _read_entry(entry: Path, classes: tuple[str, ...], counts: dict[str, int]):
    """The arrays the cache `entry` holds, or None when it holds none or not these (damaged, another
    layout)."""
    from dlpy35.data.digit_images import SIDE
    from dlpy35.storage.saved_files import NPZ_ERRORS, open_npz, read_npz_array, read_npz_text

    try:
        npz, size = open_npz(entry)
    except NPZ_ERRORS:  # none (FileNotFoundError), or not an npz
        return None
    try:
        with npz:
            if json.loads(read_npz_text(npz, "classes", size)) != list(classes):
                return None
            arrays = {name: tuple(read_npz_array(npz, f"{name}_{part}", size) for part in _PARTS)
                      for name in counts}
    except NPZ_ERRORS:
        return None
    for name, (x, y) in arrays.items():
        if (x.dtype != np.uint8 or x.shape != (counts[name], SIDE * SIDE) or y.dtype != np.int64
                or y.shape != (counts[name],) or not np.all((y >= 0) & (y < len(classes)))):
            return None
    return arrays


def _write_entry(entry: Path, arrays: dict, classes: tuple[str, ...]) -> None:
    """Keep `arrays` in the cache `entry`, atomically; a cache that cannot be written is done without."""
    from dlpy35.storage.atomic import atomic_write

    members = {f"{name}_{part}": a for name, pair in arrays.items() for part, a in zip(_PARTS, pair)}
    try:
        with atomic_write(entry, "wb") as f:
            np.savez_compressed(f, classes=np.array(json.dumps(list(classes))), **members)
    except OSError:
        pass


def split(labels: np.ndarray, fractions: tuple[tuple[int, int], ...],
          seed: int = SPLIT_SEED) -> list[np.ndarray]:
    """Stratified, seeded indices of `labels`: one array per fraction, then the rest.

    Of each class's ``n`` examples (in a seeded random order), the first fraction ``(a, b)`` takes
    ``a / b`` of ``n``, rounded half up, the next its share of what is left, and so on.  Each
    array's order is then shuffled, so that its classes are mixed.

    Parameters
    ----------
    labels : array of int (n,)
    fractions : tuple of (numerator, denominator)
    seed : int
        The same labels and seed give the same indices on any machine (NumPy's PCG64).
    """
    rng = np.random.default_rng(seed)
    parts = [[] for _ in range(len(fractions) + 1)]
    for label in np.unique(labels):
        rest = rng.permutation(np.flatnonzero(labels == label))
        for k, (a, b) in enumerate(fractions):
            take = (2 * a * len(rest) + b) // (2 * b)
            parts[k].append(rest[:take])
            rest = rest[take:]
        parts[-1].append(rest)
    return [rng.permutation(np.concatenate(p)) for p in parts]


def _held_out(path: Path, arrays: dict, no_test: bool):
    """Training, validation and test sets of the prepared `arrays` (see the module's Split)."""
    def pixels(x):
        out = x.astype(np.float32)
        out /= np.float32(256)  # exact, as MNIST's k / 256
        return out

    x, y = arrays["train"]
    fractions = ((1, 7), (1, 6)) if no_test else ((1, 6),)
    *held, train = split(y, fractions)
    test, validation = held if no_test else (None, held[0])
    if not len(validation) or (no_test and not len(test)):
        least = 4 if no_test else 3
        raise DataError(f"{_show(path / 'train')}: {plural(len(y), 'image')} in all, too few to hold out "
                        f"{'test and ' if no_test else ''}validation images; give a class {least} images "
                        "or more")
    sets = [(pixels(x[i]), y[i]) for i in (train, validation)]
    if no_test:
        return (*sets, (pixels(x[test]), y[test]))
    tx, ty = arrays["test"]
    return (*sets, (pixels(tx), ty))
