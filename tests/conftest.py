"""Shared fixtures: the real MNIST, fetched once per test session."""

from __future__ import annotations

import pytest

from dlpy35.data import DataError, fetch_mnist, load_mnist


@pytest.fixture(scope="session")
def mnist_dir():
    """The default data directory, with the four MNIST files fetched and verified."""
    try:
        return fetch_mnist()
    except DataError as e:
        pytest.fail(f"MNIST unavailable: {e}", pytrace=False)


@pytest.fixture(scope="session")
def mnist(mnist_dir):
    """The book's split, ``load_mnist(mnist_dir)``, loaded once per session.

    ``((train_x, train_y), (val_x, val_y), (test_x, test_y))``: X float32 (n, 784) in
    [0, 1), y int64. The arrays are shared by every test, so they are read-only;
    copy one before changing it.
    """
    data = load_mnist(mnist_dir)
    for x, y in data:
        x.flags.writeable = False
        y.flags.writeable = False
    return data
