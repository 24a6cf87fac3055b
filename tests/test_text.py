"""plural: a count with its noun, singular for exactly one."""

import pytest

from dlpy35.text import plural

CASES = [
    # n, noun, plural_form, expected
    (0, "epoch", None, "0 epochs"),
    (1, "epoch", None, "1 epoch"),
    (2, "epoch", None, "2 epochs"),
    (1, "network", None, "1 network"),
    (32, "network", None, "32 networks"),
    (1, "class", "classes", "1 class"),
    (3, "class", "classes", "3 classes"),
    (2, "mini-batch", "mini-batches", "2 mini-batches"),
    (1, "mini-batch", "mini-batches", "1 mini-batch"),
    (1, "byte", None, "1 byte"),
    (50000, "image", None, "50,000 images"),
    (1, "population", None, "1 population"),
    (2, "index", "indices", "2 indices"),
    (1, "index", "indices", "1 index"),
    (-1, "epoch", None, "-1 epochs"),
]


@pytest.mark.parametrize(("n", "noun", "plural_form", "expected"), CASES)
def test_plural(n, noun, plural_form, expected):
    assert plural(n, noun, plural_form) == expected
