"""Measure which CPU mode, JAX or NUMBA, trains faster on this machine, and remember it.

Which CPU backend wins depends on the machine: Numba's matrix products go
through SciPy's OpenBLAS, whose kernel choice (``OPENBLAS_CORETYPE`` and
friends) can make it faster or slower than JAX's own compiler by half.  A
calibration times both on the same small job -- a whole-epoch ``pytensor.scan``
of SGD steps of the book's [784, 30, 10] sigmoid network at mini-batch 10, on
seeded synthetic data -- and stores seconds per step and compile seconds in
``cpu_calibration.json`` under :func:`dlpy35.device.cache_dir`, keyed by a
:func:`fingerprint` of what decides the speed (CPU, package versions, BLAS and
thread settings).  :func:`dlpy35.device.cpu_default` reads it back; a
calibration made under another fingerprint, or a damaged file, counts as none.

Calibrating costs a Numba compile (a minute or more on a cold cache), so it
never runs implicitly: call :func:`calibrate`, or run::

    python -m dlpy35.calibrate           # measure once, then report the stored result
    python -m dlpy35.calibrate --force   # measure again
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import importlib.metadata
import json
import math
import os
import platform
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytensor.tensor as pt

from dlpy35 import device as _device
from dlpy35 import graph
from dlpy35.atomic import atomic_write
from dlpy35.inputs import one_hot

FILENAME = "cpu_calibration.json"
FORMAT = 1
MODES = ("JAX", "NUMBA")
SIZES = (784, 30, 10)
MINI_BATCH = 10
ETA = 3.0
STEPS = 1000
REPEATS = 5

# What decides the relative speed of the two modes.  SciPy is listed because
# Numba's matrix products call the BLAS that SciPy bundles; jaxlib holds JAX's
# CPU compiler.  XLA_FLAGS and PYTENSOR_FLAGS can change code generation (and
# the latter where Numba's compile cache lives).
PACKAGES = ("pytensor", "jax", "jaxlib", "numba", "numpy", "scipy")
ENV_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS",
            "XLA_FLAGS", "PYTENSOR_FLAGS")


class CalibrationError(ValueError):
    """The calibration file cannot be read or does not hold a valid calibration."""


@dataclasses.dataclass(frozen=True)
class Calibration:
    """One calibration: per-mode timings measured under one fingerprint.

    Parameters
    ----------
    fingerprint : dict
        :func:`fingerprint` when it was measured.
    seconds_per_step : dict
        Mode name -> best seconds per SGD step (mini-batch 10, [784, 30, 10]).
    compile_seconds : dict
        Mode name -> seconds to compile (or load from the compile cache) and run
        the first call.
    steps, repeats : int
        Steps per timed call; timed calls (the best is kept).
    created : str
        When it was measured (ISO 8601, UTC).
    path : Path, optional
        The file it was read from or saved to.
    """

    fingerprint: dict
    seconds_per_step: dict
    compile_seconds: dict
    steps: int
    repeats: int
    created: str
    path: Path | None = dataclasses.field(default=None, compare=False)

    @property
    def key(self) -> str:
        return fingerprint_key(self.fingerprint)

    def to_json(self) -> dict:
        return {
            "fingerprint": self.fingerprint, "created": self.created, "steps": self.steps,
            "repeats": self.repeats,
            "modes": {m: {"seconds_per_step": s, "compile_seconds": self.compile_seconds[m]}
                      for m, s in self.seconds_per_step.items()},
        }

    @classmethod
    def from_json(cls, entry, path=None) -> Calibration:
        """Validate and convert one stored entry; :class:`CalibrationError` if malformed."""
        try:
            per_step, compile_s = {}, {}
            for mode, t in entry["modes"].items():
                per_step[str(mode)] = _positive(t["seconds_per_step"])
                compile_s[str(mode)] = _positive(t["compile_seconds"], zero=True)
            if not isinstance(entry["fingerprint"], dict):
                raise TypeError("fingerprint is not an object")
            return cls(entry["fingerprint"], per_step, compile_s, int(entry["steps"]), int(entry["repeats"]),
                       str(entry["created"]), path)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise CalibrationError(f"malformed calibration entry: {exc!r}") from exc

    def choice(self) -> tuple[str, str]:
        """``(mode, reason)``: the float32 CPU default by the rule of :func:`dlpy35.device.cpu_default`."""
        if _device._jax() is None:
            return "NUMBA", "JAX is not installed"
        return _device.choose_float32(self)

    def report(self) -> str:
        """Both timings, compile seconds, the resulting float32 choice and where it is stored."""
        lines = [f"CPU calibration of {self.created}: [784, 30, 10] sigmoid net, mini-batch {MINI_BATCH}, "
                 f"float32, whole-epoch scan of {self.steps} steps, best of {self.repeats}"]
        for mode in sorted(self.seconds_per_step):
            s = self.seconds_per_step[mode]
            lines.append(f"  {mode:<6} {s * 1e6:8.2f} us/step ({s * 5000:.3f} s per 5,000-step epoch), "
                         f"compile (or load from its cache) {self.compile_seconds[mode]:.1f} s")
        mode, reason = self.choice()
        lines.append(f"  float32 CPU default: {mode} -- {reason}")
        if self.path is not None:
            lines.append(f"  stored in {self.path} (fingerprint {self.key})")
        return "\n".join(lines)


def _positive(value, zero=False) -> float:
    value = float(value)
    if not math.isfinite(value) or value < 0 or (value == 0 and not zero):
        raise ValueError(f"not a positive finite number: {value!r}")
    return value


# -- fingerprint and file -------------------------------------------------------
def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


@functools.cache
def _versions() -> dict:
    """Installed package versions (constant within a process, so looked up once)."""
    out = {}
    for name in PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def fingerprint() -> dict:
    """What decides which CPU mode is faster: CPU model and count, package versions, BLAS/thread settings.

    Returns
    -------
    dict
        ``cpu`` (model name), ``cpu_count``, ``cpus_usable`` (this process's
        affinity), ``machine``, the versions of :data:`PACKAGES` (None when not
        installed) and the values of :data:`ENV_VARS` (None when unset).
    """
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"cpu": _cpu_model(), "cpu_count": os.cpu_count(), "cpus_usable": usable,
            "machine": platform.machine(), **_versions(), **{v: os.environ.get(v) for v in ENV_VARS}}


def fingerprint_key(fp: dict) -> str:
    """A short stable hash of a fingerprint: the key of its entry in the file."""
    return hashlib.sha256(json.dumps(fp, sort_keys=True).encode()).hexdigest()[:16]


def cache_path() -> Path:
    """The calibration file, ``cpu_calibration.json`` in :func:`dlpy35.device.cache_dir`."""
    return _device.cache_dir() / FILENAME


def _read_entries(path: Path) -> dict:
    """The file's entries by fingerprint key; {} if there is no file; CalibrationError if damaged."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise CalibrationError(f"cannot read {path}: {exc}") from exc
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CalibrationError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or not isinstance(doc.get("entries"), dict):
        raise CalibrationError(f"{path} is not a format-{FORMAT} calibration file")
    return doc["entries"]


def save(calibration: Calibration, path: Path | None = None) -> Calibration:
    """Store `calibration` under its fingerprint, keeping other fingerprints' entries; atomic.

    A damaged file is replaced.  Returns the calibration with `path` set.
    """
    path = Path(path) if path is not None else cache_path()
    try:
        entries = _read_entries(path)
    except CalibrationError:
        entries = {}
    entries[calibration.key] = calibration.to_json()
    with atomic_write(path, "w") as f:
        json.dump({"format": FORMAT, "entries": entries}, f, indent=1, sort_keys=True)
        f.write("\n")
    return dataclasses.replace(calibration, path=path)


def _differences(old: dict, new: dict) -> str:
    def show(v):
        return "unset" if v is None else repr(v)
    keys = sorted(set(old) | set(new), key=lambda k: (k not in new, k))
    changed = [k for k in keys if old.get(k) != new.get(k)]
    return ", ".join(f"{k} {show(old.get(k))} -> {show(new.get(k))}" for k in changed)


def cached(path: Path | None = None) -> tuple[Calibration | None, str]:
    """The stored calibration for the current fingerprint, or None and why there is none.

    Never raises on a bad file: a missing, unreadable or malformed file, or one
    with entries for other fingerprints only, gives ``(None, why)``.
    """
    path = Path(path) if path is not None else cache_path()
    try:
        entries = _read_entries(path)
    except CalibrationError as exc:
        return None, f"the calibration file is unreadable ({exc})"
    if not entries:
        return None, "this machine has no CPU calibration yet"
    fp = fingerprint()
    entry = entries.get(fingerprint_key(fp))
    if entry is None:
        others = [e for e in entries.values()
                  if isinstance(e, dict) and isinstance(e.get("fingerprint"), dict)]
        latest = max(others, key=lambda e: str(e.get("created", "")), default=None)
        diff = f" (the latest differs in: {_differences(latest['fingerprint'], fp)})" if latest else ""
        return None, f"no CPU calibration for this machine and settings{diff}"
    try:
        calibration = Calibration.from_json(entry, path)
    except CalibrationError as exc:
        return None, f"the calibration file is unreadable ({exc})"
    if calibration.fingerprint != fp:  # a hash collision, or an entry filed under the wrong key
        return None, "the calibration file is unreadable (entry filed under another fingerprint)"
    return calibration, ""


# -- measurement ----------------------------------------------------------------------
def _epoch_function(dev, x, y, params):
    """Compile the timed job: :func:`dlpy35.graph.sgd_epoch`, the sigmoid network's training scan.

    The same computation as a training epoch of ``Network([784, 30, 10])``:
    gather a mini-batch from the device-resident data, forward, quadratic
    cost, ``pytensor.grad``, update of the shared weights.
    """
    n = len(params) // 2
    data_x, data_y = dev.shared(x, "data_x"), dev.shared(y, "data_y")
    names = graph.SigmoidNet(SIZES).param_names
    shared = [dev.shared(p, name) for p, name in zip(params, names, strict=True)]
    batches = pt.matrix("batches", dtype="int64")
    eta = pt.scalar("eta", dtype=dev.dtype)
    new_w, new_b, _ = graph.sgd_epoch(batches, data_x, data_y, eta, shared[:n], shared[n:])
    updates = list(zip(shared, [*new_w, *new_b], strict=True))
    return dev.function([batches, eta], [], updates=updates, name=f"calibration_{dev.mode.lower()}"), shared


class _Job:
    """The calibration job compiled for one mode, ready to be timed call by call."""

    def __init__(self, mode: str, steps: int, seed: int):
        if mode == "JAX" and _device._jax() is None:
            raise _device.DeviceError("mode JAX needs JAX: pip install jax")
        self.dev = dev = _device.Device("cpu", mode, "float32", note="calibration")
        rng = np.random.default_rng(seed)
        n = steps * MINI_BATCH
        x = rng.random((n, SIZES[0]), dtype=np.float32)
        y = one_hot(rng.integers(0, SIZES[-1], n), SIZES[-1], np.float32)
        shapes = graph.SigmoidNet(SIZES).param_shapes
        self.params = [rng.standard_normal(shape).astype(np.float32) for shape in shapes]
        order = rng.permutation(n).reshape(steps, MINI_BATCH)
        start = time.perf_counter()
        self.fn, self.shared = _epoch_function(dev, x, y, self.params)
        self.args = (dev.put(order), dev.put(np.asarray(ETA, np.float32)))
        self._run()
        self.compile_seconds = time.perf_counter() - start

    def _run(self):
        self.fn(*self.args)
        for var in self.shared:  # JAX dispatch is asynchronous: wait for the result
            self.dev.sync(var)

    def seconds(self) -> float:
        """One timed call, from the initial weights (every call does the same work)."""
        for var, value in zip(self.shared, self.params, strict=True):
            self.dev.assign(var, value)
            self.dev.sync(var)
        start = time.perf_counter()
        self._run()
        return time.perf_counter() - start


def measure(modes: str | Sequence[str], steps: int = STEPS, repeats: int = REPEATS, seed: int = 0,
            log: Callable[[str], None] | None = None) -> dict[str, tuple[float, float]]:
    """Time CPU modes on the calibration job.

    All modes are compiled first; then the timed calls alternate between the
    modes, so that a change in the machine's background load falls on all of
    them rather than on whichever was measured last.

    Parameters
    ----------
    modes : str or sequence of str
        PyTensor modes (``"JAX"``, ``"NUMBA"``...).
    steps : int
        SGD steps (mini-batches of 10) per timed call.
    repeats : int
        Timed calls per mode after the first, untimed one; the fastest counts.
    seed : int
        Seed of the synthetic data, the initial weights and the batch order.
    log : callable, optional
        Called with a line before each compile (``print``, say): a cold Numba
        compile takes a minute or more.

    Returns
    -------
    dict
        Mode -> ``(seconds_per_step, compile_seconds)``: the best call's
        seconds divided by `steps`; the seconds to compile (or load from the
        compile cache) and run the first call.
    """
    if steps < 1 or repeats < 1:
        raise ValueError(f"steps and repeats must be at least 1, got {steps} and {repeats}")
    modes = [modes] if isinstance(modes, str) else modes
    jobs = {}
    for mode in dict.fromkeys(m.upper() for m in modes):
        if log is not None:
            expect = "a minute or more on a cold cache" if mode == "NUMBA" else "seconds"
            log(f"calibrating {mode}: compiling ({expect})")
        jobs[mode] = _Job(mode, steps, seed)
    if log is not None:
        log(f"timing {repeats} x {steps} steps per mode, alternating")
    best = dict.fromkeys(jobs, math.inf)
    for _ in range(repeats):
        for mode, job in jobs.items():
            best[mode] = min(best[mode], job.seconds())
    return {mode: (best[mode] / steps, job.compile_seconds) for mode, job in jobs.items()}


def calibrate(force: bool = False, modes: Sequence[str] | None = None, steps: int = STEPS,
              repeats: int = REPEATS, log: Callable[[str], None] | None = None) -> Calibration:
    """Measure the CPU modes and store the result, or return the stored one.

    Parameters
    ----------
    force : bool
        Measure even when a calibration for this fingerprint is stored.
    modes : sequence of str, optional
        Modes to time (default: JAX when installed, and NUMBA).  The choice
        between JAX and NUMBA needs both; a calibration with only one leaves the
        default at JAX.
    steps, repeats : int
        As for :func:`measure`.
    log : callable, optional
        Called with lines of progress (``print``, say), as by :func:`measure`.

    Returns
    -------
    Calibration
        Its ``path`` says where it is stored; :meth:`Calibration.report` prints it.
    """
    if modes is None:
        modes = MODES if _device._jax() is not None else ("NUMBA",)
    modes = tuple(dict.fromkeys(m.upper() for m in modes))
    if not force:
        stored, _ = cached()
        if stored is not None and set(modes) <= set(stored.seconds_per_step):
            return stored
    fp = fingerprint()  # before measuring: what the timings were measured under
    timings = measure(modes, steps, repeats, log=log)
    created = datetime.now(UTC).isoformat(timespec="seconds")
    return save(Calibration(fp, {m: t[0] for m, t in timings.items()}, {m: t[1] for m, t in timings.items()},
                            steps, repeats, created))


def main(argv=None) -> int:
    """``python -m dlpy35.calibrate [--force]``: measure (once) and report."""
    from dlpy35.commandline import ArgumentParser, positive_int

    p = ArgumentParser(prog="python -m dlpy35.calibrate", description=__doc__.split("\n\n")[0])
    p.add_argument("--force", action="store_true", help="measure again even if a calibration is stored")
    p.add_argument("--steps", type=positive_int, default=STEPS,
                   help=f"SGD steps per timed call (default {STEPS})")
    p.add_argument("--repeats", type=positive_int, default=REPEATS,
                   help=f"timed calls; the best counts (default {REPEATS})")
    args = p.parse_args(argv)
    stored, _ = cached()
    calibration = calibrate(args.force, steps=args.steps, repeats=args.repeats, log=print)
    if calibration == stored:
        print("(stored result; --force measures again)")
    print(calibration.report())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
