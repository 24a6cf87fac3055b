"""dlpy35.storage.caches and dlpy35.engine.calibrate: the stored CPU calibration, its fingerprint, a real
measurement."""

import json
import math

import numpy as np
import pytest

from dlpy35.cli.calibrate import main as calibrate_command
from dlpy35.engine import calibrate as cal
from dlpy35.engine import device as dv
from dlpy35.storage import caches


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """An empty ``$DLPY35_CACHE``.

    JAX is set up first, so that its persistent compile cache stays where it
    was for the rest of the session.
    """
    dv._jax()
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


def test_without_jax_only_numba_is_timed_and_chosen(cache, monkeypatch):
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
def test_numba_is_chosen_at_10_percent_faster_per_step_and_not_below(cache, monkeypatch, numba, mode):
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
