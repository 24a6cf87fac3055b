"""dlpy35.device: backend choice, device-resident shared variables, no per-step copies."""

import numpy as np
import pytest

from dlpy35 import device as dv
from dlpy35.network import Network

jax = pytest.importorskip("jax")


def synthetic(n, n_in=784, n_out=10, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, n_in), dtype=np.float32), rng.integers(0, n_out, n)


def test_auto_falls_back_to_cpu_and_says_so(monkeypatch):
    monkeypatch.setattr(dv, "cuda_devices", lambda: [])
    d = dv.resolve("auto")
    assert d.kind == "cpu" and d.mode == "JAX" and "falling back to the CPU" in d.note


def test_cuda_without_gpu_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(dv, "cuda_devices", lambda: [])
    with pytest.raises(dv.DeviceError, match="--device cuda: JAX sees no GPU.*--device cpu"):
        dv.resolve("cuda")


def test_cuda_is_chosen_when_jax_sees_a_gpu(monkeypatch):
    monkeypatch.setattr(dv, "cuda_devices", lambda: ["fake-gpu"])
    assert dv.resolve("auto") == dv.Device("cuda", "JAX", "float32", note="auto: JAX sees a GPU")
    with pytest.raises(dv.DeviceError, match="only with mode JAX"):
        dv.resolve("cuda", mode="NUMBA")


@pytest.mark.parametrize("kwargs, match", [
    ({"device": "tpu"}, "device must be one of"),
    ({"dtype": "float16"}, "dtype must be one of"),
    ({"mode": 3}, "mode must be a PyTensor mode name"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        dv.resolve(**kwargs)


def test_float64_defaults_to_numba_so_jax_x64_stays_off():
    assert dv.resolve("cpu", dtype="float64").mode == "NUMBA"
    assert dv.resolve("cpu", dtype="float32").mode == "JAX"


def test_shared_values_live_on_the_jax_device():
    d = dv.resolve("cpu", mode="JAX")
    var = d.shared(np.arange(6, dtype=np.float32).reshape(2, 3), "v")
    assert isinstance(var.container.storage[0], jax.Array)
    np.testing.assert_array_equal(d.read(var), np.arange(6).reshape(2, 3))
    assert d.put(np.arange(3)).dtype == np.int32  # no x64: indices are int32 on the device


@pytest.fixture(scope="module")
def jax_net():
    """A JAX-mode network already trained once, so every function is compiled."""
    net = Network([784, 30, 10], seed=0, mode="JAX", device="cpu")
    train, test = synthetic(300), synthetic(50, seed=1)
    net.SGD(train, 1, 10, 3.0, test_data=test, verbose=False)
    return net, train, test


@pytest.mark.parametrize("epoch_mode", ["scan", "step"])
def test_sgd_copies_nothing_implicitly(jax_net, epoch_mode):
    """The proof of residency: a whole SGD call runs under transfer_guard("disallow")."""
    net, (x, y), test = jax_net
    net.epoch_mode = epoch_mode
    train = (x[:295], y[:295])  # 29 full mini-batches and a short one: both paths run
    net.SGD(train, 1, 10, 3.0, test_data=test, verbose=False)  # compiles the short-batch shapes
    with jax.transfer_guard("disallow"):
        history = net.SGD(train, 2, 10, 3.0, test_data=test, verbose=False)
    assert [r["epoch"] for r in history] == [0, 1] and history[-1]["correct"] >= 0
    for var in (*net._w, *net._b, net._data_x, net._data_y, net._eval_x, net._eval_y):
        assert isinstance(var.container.storage[0], jax.Array), var.name


def test_transfer_guard_would_catch_a_host_array(jax_net):
    """The guard is not vacuous: a numpy mini-batch index is a host-to-device copy and fails."""
    net, _, _ = jax_net
    eta = net.device.put(np.asarray(3.0, np.float32))
    with jax.transfer_guard("disallow"), pytest.raises(Exception, match="Disallowed host-to-device"):
        net._fn("step")(np.arange(10), eta)


def test_set_value_would_leave_data_on_the_host():
    """Why Device.assign writes the container: set_value stores numpy, copied every call."""
    d = dv.resolve("cpu", mode="JAX")
    var = d.shared(np.zeros(3, np.float32), "v")
    var.set_value(np.ones(3, np.float32))
    assert isinstance(var.container.storage[0], np.ndarray)
    d.assign(var, np.ones(3, np.float32))
    assert isinstance(var.container.storage[0], jax.Array)


@pytest.mark.gpu
def test_training_runs_on_the_gpu():
    if not dv.cuda_devices():
        pytest.skip("no CUDA device visible to JAX")
    net = Network([784, 30, 10], seed=0, device="cuda")
    train, test = synthetic(1000), synthetic(200, seed=1)
    net.SGD(train, 1, 10, 3.0, test_data=test, verbose=False)
    with jax.transfer_guard("disallow"):
        net.SGD(train, 1, 10, 3.0, test_data=test, verbose=False)
    assert net._w[0].container.storage[0].devices() == {dv.cuda_devices()[0]}
