"""dlpy35.storage.caches and dlpy35.engine.calibrate: the stored CPU calibration, its fingerprint, the timed
job against a numpy SGD step, the timing rule on a scripted clock, a real measurement.

No test here compiles for Numba, and none has "numba" in its name: the mutation run (setup.cfg) leaves out
the tests named for Numba, which compile for a minute each.
"""

import json
import math
import os
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import numpy as np
import pytest

from dlpy35.cli.calibrate import main as calibrate_command
from dlpy35.engine import calibrate as cal
from dlpy35.engine import device as dv
from dlpy35.storage import caches
from dlpy35.storage.bounded import SMALL_JSON_BYTES


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """An empty ``$DLPY35_CACHE``."""
    monkeypatch.setenv("DLPY35_CACHE", str(tmp_path))
    return tmp_path


def fabricated(jax_s=60e-6, numba_s=50e-6):
    return caches.Calibration(caches.fingerprint(), {"JAX": jax_s, "NUMBA": numba_s},
                              {"JAX": 1.0, "NUMBA": 70.0}, steps=1000, repeats=5,
                              created="2026-01-01T00:00:00+00:00")


def fake_measure(modes, steps, repeats, log=None):
    """JAX 60 us/step, NUMBA 40 us/step, both compiled in 3 s."""
    return {m: ({"JAX": 6e-5, "NUMBA": 4e-5}[m], 3.0) for m in modes}


def test_round_trip_through_the_cache_dir(cache):
    saved = caches.save(fabricated())
    assert saved.path == cache / caches.FILENAME == caches.cache_path()
    loaded, why = caches.cached()
    assert loaded == fabricated() and loaded.path == saved.path and why == ""
    doc = json.loads(saved.path.read_text())
    assert doc["format"] == caches.FORMAT
    assert list(doc["entries"]) == [caches.fingerprint_key(caches.fingerprint())]


def test_other_fingerprints_are_kept_but_ignored(cache, monkeypatch):
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Haswell")
    caches.save(fabricated(numba_s=10e-6))
    monkeypatch.delenv("OPENBLAS_CORETYPE")
    loaded, why = caches.cached()
    assert loaded is None and "OPENBLAS_CORETYPE 'Haswell' -> unset" in why
    caches.save(fabricated())  # the current fingerprint joins the other one
    assert len(json.loads(caches.cache_path().read_text())["entries"]) == 2
    assert caches.cached()[0] == fabricated()


@pytest.mark.parametrize("variable", caches.ENV_VARS)
def test_fingerprint_follows_the_blas_and_thread_settings(monkeypatch, variable):
    monkeypatch.delenv(variable, raising=False)
    before = caches.fingerprint_key(caches.fingerprint())
    monkeypatch.setenv(variable, "1")
    assert caches.fingerprint()[variable] == "1" and caches.fingerprint_key(caches.fingerprint()) != before


def test_fingerprint_names_cpu_and_versions():
    fp = caches.fingerprint()
    assert fp["cpu"] and fp["cpu_count"] >= 1 and fp["pytensor"] and fp["numpy"] and fp["jax"]
    assert set(caches.PACKAGES) | set(caches.ENV_VARS) <= set(fp)


@pytest.mark.parametrize("content", [
    b"{not json", b"\xff\xfe", b"[]", b'{"format": 99, "entries": {}}', b'{"format": 1, "entries": []}',
])
def test_a_damaged_file_counts_as_no_calibration(cache, content):
    caches.cache_path().write_bytes(content)
    loaded, why = caches.cached()
    assert loaded is None and "unreadable" in why


@pytest.mark.parametrize("entry", [
    {"fingerprint": "x"},
    "not an object",
    {"modes": {"JAX": {"seconds_per_step": -1.0, "compile_seconds": 1.0}}},
    {"modes": {"JAX": {"seconds_per_step": "nan", "compile_seconds": 1.0}}},
    {"modes": {"JAX": {"seconds_per_step": 0.0, "compile_seconds": 1.0}}},
])
def test_a_malformed_entry_counts_as_no_calibration(cache, entry):
    good = fabricated().to_json()
    bad = {**good, **entry} if isinstance(entry, dict) else entry
    key = caches.fingerprint_key(caches.fingerprint())
    caches.cache_path().write_text(json.dumps({"format": caches.FORMAT, "entries": {key: bad}}))
    loaded, why = caches.cached()
    assert loaded is None and "unreadable" in why


def test_a_calibration_file_too_large_or_not_a_file_counts_as_none_without_reading_it(cache):
    caches.cache_path().write_bytes(b" " * (SMALL_JSON_BYTES + 1) + b"{}")  # more than any calibration
    assert caches.cached()[0] is None and "larger than" in caches.cached()[1]
    caches.cache_path().unlink()
    os.mkfifo(caches.cache_path())  # opening it must not wait for a writer
    loaded, why = caches.cached()
    assert loaded is None and "not a regular file" in why


def test_calibrate_rewrites_a_damaged_file(cache, monkeypatch):
    caches.cache_path().write_text("{damaged")
    monkeypatch.setattr(cal, "measure", fake_measure)
    result = cal.calibrate()
    assert result.seconds_per_step == {"JAX": 6e-5, "NUMBA": 4e-5} and result.path == caches.cache_path()
    assert caches.cached()[0] == result


def test_calibrate_reuses_the_stored_result_unless_forced(cache, monkeypatch):
    stored = caches.save(fabricated())

    def must_not_measure(*args):
        raise AssertionError("measured although a calibration is stored")

    monkeypatch.setattr(cal, "measure", must_not_measure)
    assert cal.calibrate() == stored
    monkeypatch.setattr(cal, "measure", lambda modes, steps, repeats, log: dict.fromkeys(modes, (1e-5, 0.5)))
    forced = cal.calibrate(force=True, steps=10, repeats=1)
    assert forced.seconds_per_step == {"JAX": 1e-5, "NUMBA": 1e-5} and forced.steps == 10


def test_without_jax_calibrate_times_and_chooses_only_the_host_mode(cache, monkeypatch):
    monkeypatch.setattr(dv, "_jax", lambda: None)
    monkeypatch.setattr(cal, "measure", fake_measure)
    result = cal.calibrate()
    assert set(result.seconds_per_step) == {"NUMBA"}
    assert cal.choice(result) == ("NUMBA", "JAX is not installed") == dv.cpu_default("float32")


def test_main_prints_timings_choice_and_place(cache, monkeypatch, capsys):
    monkeypatch.setattr(cal, "measure", fake_measure)
    assert calibrate_command([]) == 0
    out = capsys.readouterr().out
    for text in ("JAX       60.00 us/step", "NUMBA     40.00 us/step", "float32 CPU default: NUMBA",
                 "compile (or load from its cache) 3.0 s", str(caches.cache_path())):
        assert text in out
    assert calibrate_command([]) == 0 and "stored result; --force" in capsys.readouterr().out


def test_measure_checks_its_arguments():
    with pytest.raises(ValueError, match="at least 1"):
        cal.measure("JAX", steps=0)


def test_real_calibration_of_jax_on_a_tiny_job(cache):
    """The one real measurement in the suite: JAX only (NUMBA would be a cold compile), 20 steps."""
    import jax

    result = cal.calibrate(modes=["jax"], steps=20, repeats=2)
    assert set(result.seconds_per_step) == {"JAX"} and result.steps == 20
    assert all(math.isfinite(s) and s > 0 for s in (*result.seconds_per_step.values(),
                                                   *result.compile_seconds.values()))
    assert caches.cached()[0] == result
    assert not jax.config.jax_enable_x64  # a float32 calibration leaves the process in 32-bit mode
    mode, reason = dv.cpu_default("float32")
    assert mode == "JAX" and "timed only JAX" in reason


# -- the timing rule, driven by scripted timings (nothing is timed) ------------------------------
STEP = 2.0 ** -10  # JAX's seconds per step below; powers of two keep "x steps / steps" exact
STEPS = 4


class ScriptedJob:
    """Stands in for calibrate._Job: each mode's timed calls answer `script`'s seconds, in turn."""

    script: dict = {}
    calls: list = []

    def __init__(self, mode, steps, seed):
        self.mode, self.compile_seconds = mode, {"JAX": 1.5, "NUMBA": 61.0}[mode]
        self.left = list(self.script[mode])

    def seconds(self):
        ScriptedJob.calls.append(self.mode)
        return self.left.pop(0)


def scripted(monkeypatch, per_step):
    """Each mode timed three times at 1.5x, 1x and 1.25x `per_step[mode]` seconds per step."""
    ScriptedJob.script = {m: [f * s * STEPS for f in (1.5, 1.0, 1.25)] for m, s in per_step.items()}
    ScriptedJob.calls = []
    monkeypatch.setattr(cal, "_Job", ScriptedJob)


def test_measure_keeps_each_modes_fastest_call_per_step_alternating_the_modes(monkeypatch):
    scripted(monkeypatch, {"JAX": STEP, "NUMBA": 3 * STEP})
    timings = cal.measure(["jax", "numba"], steps=STEPS, repeats=3)
    assert timings == {"JAX": (STEP, 1.5), "NUMBA": (3 * STEP, 61.0)}
    assert ScriptedJob.calls == ["JAX", "NUMBA"] * 3


@pytest.mark.parametrize("numba, mode", [
    (STEP, "JAX"),                                  # equal
    (1.5 * STEP, "JAX"),                            # NUMBA slower
    (float(np.nextafter(0.9 * STEP, 1)), "JAX"),    # a hair short of 10% faster
    (0.91 * STEP, "JAX"),                           # 9% faster
    (0.9 * STEP, "NUMBA"),                          # exactly 10% faster: "at least 10%"
    (0.89 * STEP, "NUMBA"),                         # 11% faster
], ids=["equal", "slower", "just-short", "9%", "exactly-10%", "11%"])
def test_the_choice_switches_at_10_percent_faster_per_step_and_not_below(cache, monkeypatch, numba, mode):
    scripted(monkeypatch, {"JAX": STEP, "NUMBA": numba})
    result = cal.calibrate(force=True, steps=STEPS, repeats=3)
    assert result.seconds_per_step == {"JAX": STEP, "NUMBA": numba}
    assert dv.cpu_default("float32")[0] == mode == cal.choice(result)[0]
    assert f"float32 CPU default: {mode} -- " in cal.report(result)


@pytest.mark.parametrize("modes", [["JAX"], ["NUMBA"]])
def test_a_calibration_missing_a_mode_leaves_jax(cache, monkeypatch, modes):
    """However fast the one mode timed: JAX, and the reason names what was timed."""
    scripted(monkeypatch, {"JAX": STEP, "NUMBA": STEP / 100})
    result = cal.calibrate(force=True, modes=modes, steps=STEPS, repeats=3)
    assert set(result.seconds_per_step) == set(modes)
    mode, reason = dv.cpu_default("float32")
    assert mode == "JAX" and f"the calibration timed only {modes[0]}" in reason


def test_a_string_mode_and_the_smallest_job_are_measured(monkeypatch):
    """One mode may be named by a string; one step and one repeat are the least `measure` accepts."""
    scripted(monkeypatch, {"JAX": STEP})
    assert cal.measure("jax", steps=STEPS, repeats=1) == {"JAX": (1.5 * STEP, 1.5)}
    scripted(monkeypatch, {"JAX": STEP})
    assert cal.measure(["JAX"], steps=1, repeats=1) == {"JAX": (1.5 * STEP * STEPS, 1.5)}


@pytest.mark.parametrize("steps, repeats", [(0, 1), (1, 0), (-1, 5)])
def test_measure_refuses_no_steps_or_no_repeats(monkeypatch, steps, repeats):
    scripted(monkeypatch, {"JAX": STEP})
    with pytest.raises(ValueError, match="at least 1"):
        cal.measure("JAX", steps=steps, repeats=repeats)
    assert ScriptedJob.calls == []


def test_measure_builds_each_job_from_its_steps_and_seed(monkeypatch):
    built = []

    class Recorded(ScriptedJob):
        def __init__(self, mode, steps, seed):
            built.append((mode, steps, seed))
            super().__init__(mode, steps, seed)

    scripted(monkeypatch, {"JAX": STEP, "NUMBA": STEP})
    monkeypatch.setattr(cal, "_Job", Recorded)
    cal.measure(["jax", "JAX", "numba"], steps=STEPS, repeats=2, seed=5)
    assert built == [("JAX", STEPS, 5), ("NUMBA", STEPS, 5)]  # a mode named twice is timed once


def test_calibrate_logs_progress_and_stamps_the_time_in_utc(cache, monkeypatch):
    """The slow compile is announced for the host mode only; the time stamp is UTC, to the second."""
    scripted(monkeypatch, {"JAX": STEP, "NUMBA": STEP})
    lines = []
    before = datetime.now(UTC).replace(microsecond=0)
    result = cal.calibrate(force=True, steps=STEPS, repeats=3, log=lines.append)
    created = datetime.fromisoformat(result.created)
    assert created.utcoffset() == timedelta(0) and before <= created <= datetime.now(UTC)
    compiling = {line.split()[1].rstrip(":"): line for line in lines if line.startswith("calibrating ")}
    assert set(compiling) == {"JAX", "NUMBA"} and len(lines) == 3
    assert "minute" in compiling["NUMBA"] and "minute" not in compiling["JAX"]
    assert "seconds" in compiling["JAX"]
    assert lines[-1] == f"timing 3 x {STEPS} steps per mode, alternating"


def test_report_gives_microseconds_per_step_and_seconds_per_5000_steps_one_line_each(cache):
    """2^-6 s = 15625 us per step, 78.125 s per 5,000 steps; 60 us per step, 0.3 s."""
    stored = caches.save(fabricated(jax_s=2.0 ** -6, numba_s=60e-6))
    lines = cal.report(stored).split("\n")
    assert len(lines) == 5 and lines[0].startswith("CPU calibration of 2026-01-01T00:00:00+00:00: ")
    compiled = "compile (or load from its cache)"
    assert lines[1] == f"  JAX    15625.00 us/step (78.125 s per 5,000-step epoch), {compiled} 1.0 s"
    assert lines[2] == f"  NUMBA     60.00 us/step (0.300 s per 5,000-step epoch), {compiled} 70.0 s"
    assert lines[3].startswith("  float32 CPU default: NUMBA -- ")
    assert lines[4] == f"  stored in {caches.cache_path()} (fingerprint {stored.key})"


# -- the timed job ---------------------------------------------------------------------------------
def book_sgd(x, y, order, eta, w1, w2, b1, b2):
    """The book's update_mini_batch for each row of `order`, in float64 numpy (eqs. BP1-BP4, 20-21)."""
    def sigmoid(z):
        return 1 / (1 + np.exp(-z))

    for rows in order:
        a0, target = x[rows], y[rows]
        a1 = sigmoid(a0 @ w1.T + b1)
        a2 = sigmoid(a1 @ w2.T + b2)
        d2 = (a2 - target) * a2 * (1 - a2)
        d1 = (d2 @ w2) * a1 * (1 - a1)
        scale = eta / len(rows)
        w1, w2 = w1 - scale * d1.T @ a0, w2 - scale * d2.T @ a1
        b1, b2 = b1 - scale * d1.sum(axis=0), b2 - scale * d2.sum(axis=0)
    return [w1, w2, b1, b2]


def test_the_epoch_function_does_the_books_sgd_steps_on_the_shared_weights(cache):
    rng = np.random.default_rng(11)
    x = rng.random((30, 784), dtype=np.float32)
    y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, 30)]
    params = [(rng.standard_normal(shape) / np.sqrt(shape[-1])).astype(np.float32)
              for shape in ((30, 784), (10, 30), (30,), (10,))]
    order = rng.permutation(30)[:20].reshape(2, 10)
    dev = dv.Device("cpu", "JAX", "float32")
    fn, shared = cal._epoch_function(dev, x, y, params)
    fn(dev.put(order), dev.put(np.asarray(3.0, np.float32)))
    expected = book_sgd(x.astype(np.float64), y.astype(np.float64), order, 3.0,
                        *(p.astype(np.float64) for p in params))
    for var, before, want in zip(shared, params, expected, strict=True):
        got = dev.read(var)
        assert got.dtype == np.float32 and got.shape == before.shape
        # float32 against float64: measured error below 1e-7; the two steps move each parameter by over 0.09
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)
        assert np.abs(want - before).max() > 0.05


class Clock:
    """A stand-in for the time module: perf_counter reads `now`, which the stubs advance."""

    def __init__(self):
        self.now = 1000.0

    def perf_counter(self):
        return self.now


def stubbed_job(monkeypatch, mode, compile_s=2.0, call_s=0.25):
    """A calibrate._Job whose compile is a stub (nothing compiles) recording what it is given.

    The stub's function takes `call_s` on `clock` and adds one to every weight; its compile takes `compile_s`.
    """
    seen, clock = SimpleNamespace(calls=[]), Clock()

    def epoch_function(dev, x, y, params):
        seen.x, seen.y, seen.params = x, y, params
        shared = [dev.shared(p, f"p{k}") for k, p in enumerate(params)]

        def fn(batches, eta):
            seen.calls.append([dev.read(v).copy() for v in shared])
            for v in shared:
                dev.assign(v, dev.read(v) + 1)
            clock.now += call_s

        clock.now += compile_s
        return fn, shared

    monkeypatch.setattr(cal, "_epoch_function", epoch_function)
    monkeypatch.setattr(cal, "time", clock)
    return seen


# The host mode's function (trust_input) is given the arrays as they are: their dtypes must be the graph's.
@pytest.mark.parametrize("mode, index_dtype", [("JAX", np.int32), ("NUMBA", np.int64)],
                         ids=["device", "host"])
def test_the_job_builds_seeded_float32_data_weights_and_arguments(cache, monkeypatch, mode, index_dtype):
    steps = 20
    seen = stubbed_job(monkeypatch, mode)
    job = cal._Job(mode, steps, seed=3)
    n = steps * cal.MINI_BATCH
    assert seen.x.shape == (n, 784) and seen.x.dtype == np.float32 and 0 <= seen.x.min() < seen.x.max() < 1
    assert seen.y.shape == (n, 10) and seen.y.dtype == np.float32
    assert np.array_equal(seen.y, np.eye(10, dtype=np.float32)[seen.y.argmax(axis=1)])  # one-hot rows
    assert (seen.y.sum(axis=0) > 0).all()  # every digit class among 200 seeded labels
    assert [p.shape for p in seen.params] == [(30, 784), (10, 30), (30,), (10,)]
    assert all(p.dtype == np.float32 for p in seen.params) and seen.params is job.params
    order, eta = (job.dev.get(a) for a in job.args)
    assert order.shape == (steps, 10) and order.dtype == index_dtype
    assert np.array_equal(np.sort(order, axis=None), np.arange(n))  # a permutation of the rows
    assert eta.shape == () and eta.dtype == np.float32 and eta == 3.0
    assert len(seen.calls) == 1  # the untimed first call

    again = stubbed_job(monkeypatch, mode)
    same = cal._Job(mode, steps, seed=3)
    for a, b in zip((seen.x, seen.y, *seen.params), (again.x, again.y, *again.params), strict=True):
        assert np.array_equal(a, b)
    assert np.array_equal(job.dev.get(same.args[0]), order)
    other = stubbed_job(monkeypatch, mode)
    cal._Job(mode, steps, seed=4)
    assert not np.array_equal(other.x, seen.x) and not np.array_equal(other.params[0], seen.params[0])


def test_the_job_times_its_compile_and_each_call_from_the_initial_weights(cache, monkeypatch):
    seen = stubbed_job(monkeypatch, "NUMBA", compile_s=2.0, call_s=0.25)
    job = cal._Job("NUMBA", 2, seed=0)
    assert job.compile_seconds == 2.25  # the compile and the first call
    assert job.seconds() == 0.25 and job.seconds() == 0.25
    assert len(seen.calls) == 3
    for weights in seen.calls:  # each timed call starts from the initial weights, not the last call's
        assert all(np.array_equal(w, p) for w, p in zip(weights, job.params, strict=True))


def test_a_job_on_jax_without_jax_says_how_to_install_it(cache, monkeypatch):
    stubbed_job(monkeypatch, "NUMBA")
    monkeypatch.setattr(dv, "_jax", lambda: None)
    with pytest.raises(dv.DeviceError, match="JAX.*pip install jax"):
        cal._Job("JAX", 2, seed=0)
    assert cal._Job("NUMBA", 2, seed=0).compile_seconds == 2.25  # the host mode needs no JAX
