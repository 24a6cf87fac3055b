"""dlpy35.engine.device: backend choice, device-resident shared variables, no per-step copies."""

import os
import subprocess
import sys
import textwrap

import jax
import numpy as np
import pytest

from dlpy35.engine import device as dv
from dlpy35.network import Network
from dlpy35.storage import caches


@pytest.fixture(autouse=True)
def no_stored_calibration(tmp_path, monkeypatch):
    """An empty ``$DLPY35_CACHE``: the default modes must not depend on this machine's calibration."""
    monkeypatch.setenv("DLPY35_CACHE", str(tmp_path))


def stored(jax_s, numba_s, **fingerprint):
    """Store a fabricated calibration (for the current fingerprint, updated by `fingerprint`)."""
    fp = {**caches.fingerprint(), **fingerprint}
    return caches.save(caches.Calibration(fp, {"JAX": jax_s, "NUMBA": numba_s}, {"JAX": 1.0, "NUMBA": 60.0},
                                          1000, 5, "2026-01-01T00:00:00+00:00"))


def synthetic(n, n_in=784, n_out=10, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, n_in), dtype=np.float32), rng.integers(0, n_out, n)


def test_auto_falls_back_to_cpu_and_says_so(monkeypatch):
    monkeypatch.setattr(dv, "cuda_devices", lambda: [])
    d = dv.resolve("auto")
    assert d.kind == "cpu" and d.mode == "JAX" and "falling back to the CPU" in d.note


def test_cuda_without_gpu_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(dv, "cuda_devices", lambda: [])
    with pytest.raises(dv.DeviceError, match='device="cuda": JAX sees no GPU.*device="cpu"'):
        dv.resolve("cuda")


@pytest.mark.parametrize("mode, message", [
    ("JAX", "--device cuda: JAX sees no GPU; install the CUDA build (pip install 'dlpy35[cuda]') on a "
            "machine with an NVIDIA GPU, or use --device cpu"),
    ("NUMBA", "--device cuda runs only with --mode JAX, got --mode NUMBA"),
])
def test_a_command_says_the_device_problem_in_its_flags(monkeypatch, capsys, tmp_path, mode, message):
    from dlpy35.cli import main as cli

    monkeypatch.setattr(dv, "cuda_devices", lambda: [])
    argv = ["reproduce", "ch1-30", "--device", "cuda", "--mode", mode, "--out", str(tmp_path)]
    assert cli.main(argv) == 2
    assert capsys.readouterr().err == f"dlpy35 reproduce: {message}\n"


def test_cuda_is_chosen_when_jax_sees_a_gpu(monkeypatch):
    monkeypatch.setattr(dv, "cuda_devices", lambda: ["fake-gpu"])
    assert dv.resolve("auto") == dv.Device("cuda", "JAX", "float32", note="auto: JAX sees a GPU")
    with pytest.raises(dv.DeviceError, match='only with mode="JAX", got mode="NUMBA"'):
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


def _child(code, env=None):
    """The standard output of a new Python process running `code` (dedented), which must succeed."""
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=300, check=False, env={**os.environ, **(env or {})})
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_float32_on_jax_after_a_float64_jax_compile_is_refused_in_one_line():
    """PyTensor turns jax_enable_x64 on at a float64 JAX compile; float32 training then says so.

    In a child process: x64 is process-wide and must stay off in this one.
    """
    out = _child("""
        import numpy as np, pytensor, pytensor.tensor as pt
        from dlpy35.engine.device import DeviceError
        w = pt.vector("w", dtype="float64")
        pytensor.function([w], w * 2, mode="JAX")  # the user's own float64 JAX function
        from dlpy35.network2 import Network
        net = Network([4, 3, 2], mode="JAX", device="cpu")
        x, y = np.zeros((10, 4), np.float32), np.zeros(10, np.int64)
        try:
            net.SGD((x, y), 1, 5, 1.0, verbose=False)
        except DeviceError as exc:
            print("refused:", exc)
    """)
    assert "refused: JAX runs in 64-bit mode in this process (jax_enable_x64 is on" in out
    assert "train float32 with mode='NUMBA', or in a new process" in out


def _jax_cache_in_a_child(code, env=None):
    """The ``jax_compilation_cache_dir`` a new process ends with after `code` and a dlpy35 compile."""
    out = _child(f"""
        import pytensor.tensor as pt
        from dlpy35.storage import caches
        from dlpy35.engine.device import resolve
        {code}
        x = pt.vector("x")
        resolve("cpu", "JAX").function([x], 2 * x)  # dlpy35 imports JAX and compiles
        import jax
        print("cache:", jax.config.jax_compilation_cache_dir)
    """, env)
    return out.split("cache: ")[-1].strip()


def test_the_library_leaves_jax_s_compile_cache_as_it_found_it(tmp_path):
    """dlpy35 alone sets no JAX cache; a program that asks gets dlpy35's; a program's own is kept."""
    env = {"DLPY35_CACHE": str(tmp_path)}
    assert _jax_cache_in_a_child("", env) == "None"
    assert _jax_cache_in_a_child("caches.keep_jax_compiles()", env) == str(tmp_path / "jax")
    own = f"import jax; jax.config.update('jax_compilation_cache_dir', '{tmp_path / 'own'}')"
    assert _jax_cache_in_a_child(f"{own}; caches.keep_jax_compiles()", env) == str(tmp_path / "own")


def test_training_on_jax_hides_jax_s_noise_from_its_own_calls_only():
    """PyTensor's float64 and int64 requests and Asserts make JAX warn as it traces dlpy35's graphs;
    none escapes, and the program's own JAX code still gets that warning (before, dlpy35 silenced
    it for the whole process)."""
    out = _child("""
        import warnings
        import numpy as np
        import jax
        warnings.filterwarnings("error", category=UserWarning)  # the program's choice
        from dlpy35 import network3
        rng = np.random.default_rng(0)
        x, y = rng.random((20, 784), dtype=np.float32), rng.integers(0, 10, 20)
        net = network3.Network(network3.book_layers("conv1", 10), 10, seed=0, mode="JAX", device="cpu")
        net.SGD((x, y), 1, 10, 0.1, (x, y), verbose=False)
        noise = [f for f in warnings.filters if f[1] and "requested dtype" in f[1].pattern]
        print("filters of the noise:", noise)
        try:
            jax.numpy.zeros(2, dtype="float64")
        except UserWarning as exc:
            print("own warning:", exc)
    """)
    assert "filters of the noise: []" in out
    assert "own warning: Explicitly requested dtype float64 requested in zeros" in out


def test_a_jax_function_is_quiet_at_every_shape_it_traces():
    """Argmax asks JAX for int64 at each trace: at a new shape too, the warning stays inside the call."""
    import warnings

    import pytensor.tensor as pt

    x = pt.matrix("x", dtype="float32")
    fn = dv.resolve("cpu", "JAX").function([x], pt.argmax(x, axis=1))
    assert fn.maker.fgraph.outputs  # the PyTensor function's own attributes
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for rows in (3, 5, 3):
            np.testing.assert_array_equal(fn(np.eye(rows, 6, dtype=np.float32)), np.arange(rows))


def test_the_compile_cache_stays_where_it_was_first_asked_for(monkeypatch, tmp_path):
    monkeypatch.setattr(caches, "_jax_compiles", None)
    monkeypatch.setenv("DLPY35_CACHE", str(tmp_path / "first"))
    caches.keep_jax_compiles()
    monkeypatch.setenv("DLPY35_CACHE", str(tmp_path / "second"))  # a later command run in this process
    caches.keep_jax_compiles()
    assert caches.jax_compiles_dir() == tmp_path / "first" / "jax"


def test_numba_20_percent_faster_is_the_default():
    stored(jax_s=50e-6, numba_s=40e-6)
    mode, reason = dv.cpu_default("float32")
    assert mode == "NUMBA" and "NUMBA 40.0 us/step, JAX 50.0 us/step" in reason and "20% faster" in reason


def test_numba_5_percent_faster_is_not_enough():
    stored(jax_s=50e-6, numba_s=47.5e-6)
    mode, reason = dv.cpu_default("float32")
    assert mode == "JAX" and "not at least 10% faster" in reason


def test_uncalibrated_float32_is_jax_and_says_how_to_calibrate():
    mode, reason = dv.cpu_default("float32")
    assert mode == "JAX" and "no CPU calibration" in reason and "dlpy35 calibrate" in reason


def test_a_calibration_for_other_settings_is_ignored():
    stored(jax_s=50e-6, numba_s=10e-6, OPENBLAS_CORETYPE="not-this-one")
    mode, reason = dv.cpu_default("float32")
    assert mode == "JAX" and "OPENBLAS_CORETYPE 'not-this-one' ->" in reason


def test_a_damaged_calibration_is_ignored():
    caches.cache_path().parent.mkdir(parents=True, exist_ok=True)
    caches.cache_path().write_bytes(b'{"format": 1, "entries": {')
    mode, reason = dv.cpu_default("float32")
    assert mode == "JAX" and "unreadable" in reason and "dlpy35 calibrate" in reason
    stored(jax_s=50e-6, numba_s=40e-6)  # the next calibration replaces the damaged file
    assert dv.cpu_default("float32")[0] == "NUMBA"


def test_float64_is_numba_whatever_the_calibration():
    stored(jax_s=10e-6, numba_s=50e-6)
    assert dv.cpu_default("float64") == ("NUMBA", dv.cpu_default("float64")[1])
    assert "jax_enable_x64" in dv.cpu_default("float64")[1]


def test_without_jax_float32_is_numba(monkeypatch):
    monkeypatch.setattr(dv, "_jax", lambda: None)
    assert dv.cpu_default("float32") == ("NUMBA", "JAX is not installed")


def test_resolve_notes_the_reason_for_a_default_mode_only(monkeypatch):
    monkeypatch.setattr(dv, "cuda_devices", lambda: [])
    stored(jax_s=50e-6, numba_s=40e-6)
    d = dv.resolve("auto")
    assert d.mode == "NUMBA" and d.note.startswith("auto: no GPU visible to JAX") and "20% faster" in d.note
    assert dv.resolve("cpu", mode="JAX").note == "cpu: CPU requested"


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
    for var in (*net.trainer.params, *net.trainer._train):
        assert isinstance(var.container.storage[0], jax.Array), var.name
    assert all(isinstance(array, jax.Array) for array in net.trainer._sets["test"])


def test_transfer_guard_would_catch_a_host_array(jax_net):
    """The guard is not vacuous: a numpy mini-batch index is a host-to-device copy and fails."""
    net, _, _ = jax_net
    eta = net.device.put(np.asarray(3.0, np.float32))
    with jax.transfer_guard("disallow"), pytest.raises(Exception, match="Disallowed host-to-device"):
        net.trainer._train_fn("step", None, 10)(np.arange(10), eta, eta)


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
    assert net.trainer.params[0].container.storage[0].devices() == {dv.cuda_devices()[0]}


def test_an_unknown_mode_is_refused_at_once():
    with pytest.raises(ValueError, match="mode 'BOGUS' is not a PyTensor mode; use one of .*NUMBA"):
        dv.resolve("cpu", mode="bogus")


@pytest.mark.parametrize("mode", ["JAX", "NUMBA"])
def test_a_compile_leaves_nothing_in_the_temporary_directory(mode, tmp_path, monkeypatch):
    """PyTensor writes the source it generates for a JAX or NUMBA function to a file of its own in
    ``$TMPDIR`` and never removes it; dlpy35's compiles keep it, named by its content, in the cache."""
    import tempfile

    import pytensor.tensor as pt

    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))  # where NamedTemporaryFile would write
    dev = dv.resolve("cpu", mode)
    x = pt.vector("x")
    fn = dev.function([x], [pt.exp(x) * 2 - 1], name="tempfile_probe")  # a graph of this test only
    (got,) = fn(dev.put(np.zeros(3, np.float32)))
    assert np.array_equal(dev.get(got), np.ones(3, np.float32))
    assert list(temp.iterdir()) == []
    first = sorted(dv.generated_src_dir().iterdir())
    assert first and all(p.suffix == ".py" for p in first) and str(tmp_path) in str(dv.generated_src_dir())
    dev.function([x], [pt.exp(x) * 2 - 1], name="tempfile_probe")  # the same graph: the same files
    assert sorted(dv.generated_src_dir().iterdir()) == first and list(temp.iterdir()) == []
