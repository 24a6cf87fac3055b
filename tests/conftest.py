"""Shared fixtures: the real MNIST, fetched once per test session; no CPU calibration of the user's; the
runs a command keeps by default in a temporary folder."""

from __future__ import annotations

import socket

import pytest

from dlpy35.data import DataError, fetch_mnist, load_mnist
from dlpy35.storage import caches


@pytest.fixture(scope="session", autouse=True)
def no_calibration(tmp_path_factory):
    """The default CPU mode as on a machine never calibrated (JAX for float32), whatever this one stored.

    JAX's compiles are kept where the ``dlpy35`` command keeps them (and stay there when
    ``$DLPY35_CACHE`` moves), which keeps the suite fast.
    """
    caches.keep_jax_compiles()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DLPY35_CACHE", str(tmp_path_factory.mktemp("dlpy35_cache")))
        # runs kept by default (a train without --save or --run-dir) go here, not into the checkout
        mp.setenv("DLPY35_RUNS", str(tmp_path_factory.mktemp("dlpy35_runs")))
        yield


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


@pytest.fixture
def closed_port():
    """A port of this machine nothing listens at (it was free a moment ago)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def local_ray():
    """A Ray cluster on this machine, started once per test process: two CPUs, a small object store."""
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, object_store_memory=100 << 20)
    yield ray
    ray.shutdown()
