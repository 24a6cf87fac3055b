"""Where and how a network runs: backend choice, floatX, device-resident shared variables.

This is the one module that knows about devices.  Everything else asks a
:class:`Device` to create shared variables, to move arrays to and from the
device, and to compile PyTensor functions.

Two paths exist:

* **CUDA** -- PyTensor's JAX backend on a JAX GPU device.  Shared variables
  hold ``jax.Array`` objects placed there with ``jax.device_put``; compiled
  functions run with ``trust_input=True`` on device arrays, so nothing is
  copied between host and device per step.  (A shared variable that a JAX
  function only *reads* would otherwise stay numpy and be copied on every
  call: :meth:`Device.assign` writes the container instead of ``set_value``.)
* **CPU** -- JAX or NUMBA by the rule of :func:`cpu_default`, which uses this
  machine's calibration (measured by :mod:`dlpy35.engine.calibrate`, read from
  :mod:`dlpy35.storage.caches`) when there is one, or any other PyTensor mode the user
  names (``NUMBA``, ``CVM``, ``JAX``...).
  ``mode="JAX"`` on the CPU runs exactly the CUDA code path on JAX's CPU
  device, which is how the tests exercise it without a GPU.
"""

from __future__ import annotations

import contextlib
import functools
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytensor
from pytensor.compile.mode import predefined_modes

from dlpy35.engine import rewrites
from dlpy35.storage import caches

DEVICES = ("auto", "cuda", "cpu")
DTYPES = ("float32", "float64")


class DeviceError(RuntimeError):
    """The requested device or backend is not available on this machine."""


def generated_src_dir() -> Path:
    """Where PyTensor keeps the Python source it generates for dlpy35's compiles (JAX and NUMBA modes).

    Left to itself PyTensor writes every function's source to a new file in the
    system's temporary directory and never removes it: a few files per command,
    hundreds after a day.  Here the files are named by their content (the same
    graph reuses its file) in dlpy35's cache, which PyTensor prunes of files unused
    for weeks; they stay readable while the process runs (tracebacks and Numba's
    type inference read them).
    """
    return caches.cache_dir() / "pytensor_src"


@functools.cache
def _jax():
    """Import JAX once, keeping its compiles on disk if the program asked (:func:`caches.keep_jax_compiles`);
    None if absent."""
    try:
        import jax
    except ImportError:
        return None
    path = caches.jax_compiles_dir()
    if path is not None and not jax.config.jax_compilation_cache_dir:  # asked for, and not chosen already
        path.mkdir(parents=True, exist_ok=True)
        jax.config.update("jax_compilation_cache_dir", str(path))
        # dlpy35's compiles are small and many (one per network, population and batch size);
        # JAX's defaults keep only those that took over a second.
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
        jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return jax


def cuda_devices() -> list:
    """The GPU devices JAX can see (empty without JAX or without a GPU)."""
    jax = _jax()
    if jax is None:
        return []
    try:
        return jax.devices("gpu")
    except RuntimeError:  # no GPU backend initialised
        return []


# NUMBA must beat JAX per step by at least this fraction to be the float32 default
# (see cpu_default for why).
NUMBA_MARGIN = 0.10
CALIBRATE_HINT = "run `dlpy35 calibrate` to measure JAX against NUMBA on this machine"


def cpu_default(dtype: str) -> tuple[str, str]:
    """The CPU mode used when none is named, and a short reason for it.

    The rule:

    * float64: ``NUMBA``, always.  PyTensor's JAX backend switches
      ``jax_enable_x64`` on for the whole process at its first float64
      compile, which would change every later float32 JAX function.
    * float32 without JAX installed: ``NUMBA``.
    * float32 with JAX, calibrated: this machine's calibration for the current
      :func:`dlpy35.storage.caches.fingerprint` (CPU, package versions, BLAS and
      thread settings) decides; ``NUMBA`` only when its measured seconds per
      step are at least :data:`NUMBA_MARGIN` (10%) below JAX's, else ``JAX``.
      Which one wins varies between machines (OpenBLAS's kernel choice moves
      Numba's speed; JAX does not use OpenBLAS).  Asking for a calibration is
      taken as consent to Numba's one-time cost: the calibration's own Numba
      compile does not carry over to a network's functions (Numba caches whole
      compiled functions), so the first run of each network on NUMBA still
      compiles for about a minute; later runs load it from PyTensor's compile
      cache in a second or two, a little slower than JAX's.  The 10% margin
      keeps JAX when the difference is within measurement noise or would
      hardly repay that slower load.
    * float32 with JAX, not calibrated (or the calibration is for another
      fingerprint, or its file is damaged): ``JAX``.  It compiles in about a
      second, while an uncalibrated ``NUMBA`` could spend a minute or more
      compiling before its first epoch -- longer than the book's whole
      30-epoch run takes on JAX.  The reason says how to calibrate.

    Nothing is measured here: calibrating costs a Numba compile and runs only
    when asked (:func:`dlpy35.engine.calibrate.calibrate`).

    Parameters
    ----------
    dtype : {"float32", "float64"}

    Returns
    -------
    mode, reason : str
        The PyTensor mode and why, in a few words (for :attr:`Device.note`).
    """
    if dtype == "float64":
        return "NUMBA", "float64 runs on NUMBA: JAX would switch jax_enable_x64 on for the whole process"
    return choose_float32(*caches.cached())


def choose_float32(calibration, why: str = "") -> tuple[str, str]:
    """The float32 CPU mode: NUMBA without JAX, else from a calibration or its absence.

    Parameters
    ----------
    calibration : dlpy35.storage.caches.Calibration or None
        The calibration for the current fingerprint, if any.
    why : str
        Why there is none (from :func:`dlpy35.storage.caches.cached`).

    Returns
    -------
    mode, reason : str
        See :func:`cpu_default` for the rule.
    """
    if _jax() is None:
        return "NUMBA", "JAX is not installed"
    if calibration is None:
        return "JAX", f"{why or 'no CPU calibration'}; JAX compiles in about a second -- {CALIBRATE_HINT}"
    times = calibration.seconds_per_step
    if "JAX" not in times or "NUMBA" not in times:
        return "JAX", f"the calibration timed only {', '.join(sorted(times))}; {CALIBRATE_HINT} (--force)"
    jax_s, numba_s = times["JAX"], times["NUMBA"]
    measured = (f"calibrated {calibration.created}: NUMBA {numba_s * 1e6:.1f} us/step, "
                f"JAX {jax_s * 1e6:.1f} us/step")
    if numba_s <= (1 - NUMBA_MARGIN) * jax_s:
        return "NUMBA", (f"{measured}; NUMBA is {1 - numba_s / jax_s:.0%} faster per step (a network's "
                         "first NUMBA run compiles for about a minute, later runs load it from the cache)")
    return "JAX", f"{measured}; NUMBA is not at least {NUMBA_MARGIN:.0%} faster per step"


@dataclass(frozen=True)
class Device:
    """Where a network lives and which PyTensor mode compiles it.

    Parameters
    ----------
    kind : {"cuda", "cpu"}
        The hardware.
    mode : str
        The PyTensor mode (``"JAX"`` on CUDA).
    dtype : {"float32", "float64"}
        floatX of every graph built for this device.
    note : str
        How the choice was made (printed by the scripts).
    """

    kind: str
    mode: str
    dtype: str = "float32"
    note: str = ""

    @property
    def uses_jax(self) -> bool:
        return self.mode.upper() == "JAX"

    def compile_cache(self) -> Path | None:
        """Where this device's compiled functions are kept between runs (None: not kept).

        JAX's cache is the one its configuration names (dlpy35's when the program asked,
        :func:`dlpy35.storage.caches.keep_jax_compiles`); Numba's is PyTensor's.
        """
        if not self.uses_jax:
            return Path(pytensor.config.base_compiledir) / "numba"
        where = _jax().config.jax_compilation_cache_dir
        return Path(where) if where else None

    @property
    def jax_device(self):
        """The ``jax.Device`` arrays are placed on (JAX path only)."""
        jax = _jax()
        return jax.devices("gpu")[0] if self.kind == "cuda" else jax.devices("cpu")[0]

    def describe(self) -> str:
        where = str(self.jax_device) if self.uses_jax else "host CPU"
        return f"device={self.kind} ({where}), mode={self.mode}, dtype={self.dtype}"

    def memory_bytes(self) -> int:
        """Bytes of memory the device can give a run: the GPU's limit, or the host's available memory."""
        if self.kind == "cuda":
            stats = self.jax_device.memory_stats() or {}
            if "bytes_limit" in stats:
                return int(stats["bytes_limit"]) - int(stats.get("bytes_in_use", 0))
        try:
            with open("/proc/meminfo") as f:
                info = dict(line.split(":", 1) for line in f)
            return int(info["MemAvailable"].split()[0]) * 1024
        except (OSError, KeyError, ValueError):
            return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")

    # -- data movement ------------------------------------------------------
    def put(self, array, dtype=None):
        """Place `array` on the device (explicitly) and return the device array.

        On the JAX path this is a ``jax.device_put`` -- an explicit transfer that
        ``jax.transfer_guard("disallow")`` permits; elsewhere a C-contiguous
        numpy array of the right dtype (what ``trust_input`` functions expect).
        """
        array = np.asarray(array, dtype=dtype, order="C")  # keeps 0-d scalars 0-d
        if self.uses_jax:
            if array.dtype == np.int64 and self.dtype == "float32":
                array = array.astype(np.int32)  # JAX without x64 indexes in int32
            return _jax().device_put(array, self.jax_device)
        return array

    def get(self, value) -> np.ndarray:
        """A host numpy copy of a device value (explicit transfer)."""
        if self.uses_jax:
            return np.array(_jax().device_get(value))
        return np.array(value)

    def shared(self, array, name: str, static: bool = False):
        """A shared variable whose storage lives on this device (of fixed shape if `static`)."""
        array = np.asarray(array)
        var = pytensor.shared(array, name=name, borrow=False, shape=array.shape if static else None)
        self.assign(var, array)
        return var

    def assign(self, var, array) -> None:
        """Replace a shared variable's value with `array`, placed on the device.

        ``set_value`` would turn a ``jax.Array`` back into numpy, so the JAX
        path writes the container directly.
        """
        if self.uses_jax:
            var.container.storage[0] = self.put(array, dtype=var.type.dtype)
        else:
            var.set_value(np.array(array, dtype=var.type.dtype), borrow=True)

    def read(self, var) -> np.ndarray:
        """A host numpy copy of a shared variable's current value."""
        return self.get(var.container.storage[0])

    def sync(self, var) -> None:
        """Wait until the device has finished writing `var` (JAX dispatch is asynchronous)."""
        self.wait(self.handle(var))

    @staticmethod
    def handle(var):
        """The value `var` holds now, to :meth:`wait` for later while the device goes on with more work."""
        return var.container.storage[0]

    def wait(self, value) -> None:
        """Wait until the device has computed `value` (a :meth:`handle`)."""
        if self.uses_jax:
            value.block_until_ready()

    # -- compilation ----------------------------------------------------------
    def function(self, inputs, outputs, updates=None, name=None):
        """Compile a PyTensor function for this device, ``trust_input`` on (for JAX, a :class:`JaxFunction`).

        Callers pass arrays made by :meth:`put`, so input validation and the
        implicit host copies it would cause are skipped.  The mode includes
        dlpy35's own rewrite (:func:`dlpy35.engine.rewrites.mode`), which no other
        code's compiles apply.

        Raises
        ------
        DeviceError
            A float32 function for JAX in a process where JAX already runs in
            64-bit mode: PyTensor switches ``jax_enable_x64`` on at its first
            float64 JAX compile, after which its JAX reductions return float64
            and a float32 training scan fails to trace.
        """
        if self.uses_jax and self.dtype == "float32" and _jax().config.jax_enable_x64:
            raise DeviceError("JAX runs in 64-bit mode in this process (jax_enable_x64 is on: a float64 "
                              "function was compiled for JAX earlier), where PyTensor's float32 graphs fail; "
                              "train float32 with mode='NUMBA', or in a new process")
        flags = pytensor.config.change_flags(floatX=self.dtype, generated_src_dir=str(generated_src_dir()))
        with flags, (jax_quiet() if self.uses_jax else contextlib.nullcontext()):
            fn = pytensor.function(
                inputs, outputs, updates=updates, mode=rewrites.mode(self.mode), name=name,
                on_unused_input="ignore",
            )
        fn.trust_input = True
        return JaxFunction(fn) if self.uses_jax else fn


#: What JAX says of PyTensor's float32 graphs, with nothing to act on: PyTensor asks for float64
#: accumulators and int64 indices, which JAX without 64-bit mode computes in 32 bits (the intended
#: float32 behaviour on the device), and JAX drops the shape assertions it cannot trace (the data and
#: the layers fix the shapes).
JAX_NOISE = ("Explicitly requested dtype .* is not available", "Skipping Assert")


@contextlib.contextmanager
def jax_quiet():
    """Ignore :data:`JAX_NOISE` inside the block only: the program's own warnings filters stay as they are."""
    with warnings.catch_warnings():
        for message in JAX_NOISE:
            warnings.filterwarnings("ignore", message=message, category=UserWarning)
        yield


class JaxFunction:
    """A compiled PyTensor function for JAX whose calls that trace the graph are :func:`jax_quiet`.

    JAX traces at the first call with each set of argument shapes (an epoch's
    last, shorter chunk of mini-batches is another); later calls skip the quiet,
    which costs about 5 us a call.  Every attribute but the call is the
    function's own (``maker``, ``vm``...).
    """

    def __init__(self, fn):
        self.fn = fn
        self._traced = set()  # the argument shapes JAX has traced the function for

    def __call__(self, *args):
        shapes = tuple(np.shape(a) for a in args)
        if shapes in self._traced:
            return self.fn(*args)
        with jax_quiet():
            out = self.fn(*args)
        self._traced.add(shapes)
        return out

    def __getattr__(self, name):
        return getattr(self.fn, name)


def resolve(device: str = "auto", mode: str | None = None, dtype: str = "float32") -> Device:
    """Choose where and how to run.

    Parameters
    ----------
    device : {"auto", "cuda", "cpu"}
        ``auto`` picks CUDA when JAX sees a GPU, else the CPU; ``cuda`` fails
        with :class:`DeviceError` when there is no GPU.
    mode : str, optional
        A PyTensor mode for the CPU (default: :func:`cpu_default`, whose reason
        is added to the device's ``note``).
        On CUDA only ``JAX`` is possible.
    dtype : {"float32", "float64"}
        floatX for the network.

    Returns
    -------
    Device
    """
    if device not in DEVICES:
        raise ValueError(f"device must be one of {DEVICES}, got {device!r}")
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {DTYPES}, got {dtype!r}")
    if mode is not None and not isinstance(mode, str):
        raise ValueError(f"mode must be a PyTensor mode name such as 'NUMBA', 'JAX' or 'CVM', got {mode!r}")
    mode = mode.upper() if mode else None
    if mode is not None and mode not in predefined_modes:
        known = ", ".join(sorted(predefined_modes))
        raise ValueError(f"mode {mode!r} is not a PyTensor mode; use one of {known}")
    if device in ("auto", "cuda") and mode in (None, "JAX"):
        if cuda_devices():
            return Device("cuda", "JAX", dtype, note=f"{device}: JAX sees a GPU")
        if device == "cuda":
            why = "JAX is not installed" if _jax() is None else "JAX sees no GPU"
            raise DeviceError(
                f'device="cuda": {why}; install the CUDA build (pip install \'dlpy35[cuda]\') '
                'on a machine with an NVIDIA GPU, or use device="cpu"'
            )
        note = "auto: no GPU visible to JAX, falling back to the CPU"
    elif device == "cuda":
        raise DeviceError(f'device="cuda" runs only with mode="JAX", got mode="{mode}"')
    else:
        note = f"{device}: CPU requested" if device == "cpu" else f"auto: mode {mode} runs on the CPU"
    if mode is None:
        mode, reason = cpu_default(dtype)
        note = f"{note}; {mode}: {reason}"
    if mode == "JAX" and _jax() is None:
        raise DeviceError("mode JAX needs JAX: pip install jax (or 'dlpy35[cuda]' for GPUs)")
    return Device("cpu", mode, dtype, note=note)
