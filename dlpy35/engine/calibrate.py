"""Measure which CPU mode, JAX or NUMBA, trains faster on this machine, and remember it.

Which CPU backend wins depends on the machine: Numba's matrix products go
through SciPy's OpenBLAS, whose kernel choice (``OPENBLAS_CORETYPE`` and
friends) can make it faster or slower than JAX's own compiler by half.  A
calibration times both on the same small job -- a whole-epoch ``pytensor.scan``
of SGD steps of the book's [784, 30, 10] sigmoid network at mini-batch 10, on
seeded synthetic data -- and stores seconds per step and compile seconds in
``cpu_calibration.json`` under :func:`dlpy35.storage.caches.cache_dir`, keyed by a
:func:`dlpy35.storage.caches.fingerprint` of what decides the speed (CPU, package
versions, BLAS and thread settings).  :func:`dlpy35.engine.device.cpu_default` reads it
back (:func:`dlpy35.storage.caches.cached`); a calibration made under another
fingerprint, or a damaged file, counts as none.

Calibrating costs a Numba compile (a minute or more on a cold cache), so it
never runs implicitly: call :func:`calibrate`, or run ``dlpy35 calibrate`` (once, then it
reports the stored result; ``--force`` measures again).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import numpy as np
import pytensor.tensor as pt

from dlpy35.engine import device as _device
from dlpy35.engine import graph
from dlpy35.engine.arguments import one_hot
from dlpy35.storage.caches import Calibration, cached, fingerprint, save

MODES = ("JAX", "NUMBA")
SIZES = (784, 30, 10)
MINI_BATCH = 10
ETA = 3.0
STEPS = 1000
REPEATS = 5


def choice(calibration: Calibration) -> tuple[str, str]:
    """``(mode, reason)``: the float32 CPU default by the rule of :func:`dlpy35.engine.device.cpu_default`."""
    return _device.choose_float32(calibration)


def report(calibration: Calibration) -> str:
    """Both timings, compile seconds, the resulting float32 choice and where the calibration is stored."""
    lines = [f"CPU calibration of {calibration.created}: [784, 30, 10] sigmoid net, mini-batch {MINI_BATCH}, "
             f"float32, whole-epoch scan of {calibration.steps} steps, best of {calibration.repeats}"]
    for mode in sorted(calibration.seconds_per_step):
        s = calibration.seconds_per_step[mode]
        lines.append(f"  {mode:<6} {s * 1e6:8.2f} us/step ({s * 5000:.3f} s per 5,000-step epoch), "
                     f"compile (or load from its cache) {calibration.compile_seconds[mode]:.1f} s")
    mode, reason = choice(calibration)
    lines.append(f"  float32 CPU default: {mode} -- {reason}")
    if calibration.path is not None:
        lines.append(f"  stored in {calibration.path} (fingerprint {calibration.key})")
    return "\n".join(lines)


# -- measurement ----------------------------------------------------------------------
def _epoch_function(dev, x, y, params):
    """Compile the timed job: :func:`dlpy35.engine.graph.sgd_epoch`, the sigmoid network's training scan.

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
        Its ``path`` says where it is stored; :func:`report` describes it.
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
