"""dlpy35's on-disk cache: where it lives, and the CPU calibration kept in it.

The directory (:func:`cache_dir`) holds JAX's compile cache (when a program asks for it:
:func:`keep_jax_compiles`), PyTensor's generated source (:mod:`dlpy35.engine.device`) and
``cpu_calibration.json``: per :func:`fingerprint` of what decides the CPU modes' speed (CPU,
package versions, BLAS and thread settings), the timings that :mod:`dlpy35.engine.calibrate`
measured.  :func:`cached` reads back the entry for the current fingerprint, which
:func:`dlpy35.engine.device.cpu_default` uses; a damaged file or an entry for another fingerprint
counts as none.  Nothing here measures or compiles.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import importlib.metadata
import json
import math
import os
import platform
from pathlib import Path

from dlpy35.storage.atomic import atomic_write
from dlpy35.storage.bounded import read_bounded
from dlpy35.storage.identity import key

FILENAME = "cpu_calibration.json"
FORMAT = 1

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
def package_versions(names: tuple) -> dict:
    """The installed version of each package of `names`, None for one not installed, read from the
    installed metadata (nothing is imported; constant within a process, so looked up once)."""
    out = {}
    for name in names:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def dlpy35_version() -> str:
    """The version of the installed dlpy35 (the package's own when it is not installed)."""
    return package_versions(("dlpy35",))["dlpy35"] or importlib.import_module("dlpy35").__version__


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
            "machine": platform.machine(), **package_versions(PACKAGES),
            **{v: os.environ.get(v) for v in ENV_VARS}}


def fingerprint_key(fp: dict) -> str:
    """A short stable hash of a fingerprint: the key of its entry in the file."""
    return key(fp)


def cache_dir() -> Path:
    """Directory of dlpy35's on-disk caches (``$DLPY35_CACHE`` or ``~/.cache/dlpy35``)."""
    return Path(os.environ.get("DLPY35_CACHE", Path.home() / ".cache" / "dlpy35"))


#: Where JAX keeps its compiled functions, once a program asks (:func:`keep_jax_compiles`).
_jax_compiles: Path | None = None


def keep_jax_compiles() -> None:
    """Keep JAX's compiled functions on disk, in :func:`cache_dir`'s ``jax``, for this process.

    For programs that own their process (the ``dlpy35`` command, its Ray tasks, the
    tests), to be called before dlpy35 first imports JAX: a compile that took seconds is
    read back in the next run.  dlpy35 used as a library leaves JAX's configuration as
    it found it, so a program keeps its own cache, or none (XLA's ``--xla_dump_to`` dumps
    nothing for a compile read from a cache); a cache the process already chose is kept.
    The directory is fixed at the first call, as JAX fixes it at its first compile, so a
    later ``$DLPY35_CACHE`` does not move it.
    """
    global _jax_compiles
    if _jax_compiles is None:
        _jax_compiles = cache_dir() / "jax"


def jax_compiles_dir() -> Path | None:
    """Where JAX keeps its compiles, if the program asked (:func:`keep_jax_compiles`)."""
    return _jax_compiles


def cache_path() -> Path:
    """The calibration file, ``cpu_calibration.json`` in :func:`cache_dir`."""
    return cache_dir() / FILENAME



def _read_entries(path: Path) -> dict:
    """The file's entries by fingerprint key; {} if there is no file; CalibrationError if damaged."""
    try:
        raw = read_bounded(path)
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise CalibrationError(f"cannot read {path}: {exc}") from exc
    except ValueError as exc:  # larger than any calibration file, or not a file
        raise CalibrationError(f"{path} is not a calibration file: {exc}") from exc
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
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
