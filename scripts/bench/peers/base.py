"""What every peer shares: the result row, the warm-up length, the timer and the subprocess protocol.

numpy and the standard library only, so that a peer runs in an interpreter that
has no dlpy35 (``PYTHONPATH=scripts python -m bench.peers.torch_peer DIR``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import traceback
from pathlib import Path

import numpy as np

#: Mini-batches trained before the timed epochs, so that first-call costs are not timed.
WARM_UP_BATCHES = 20
SCRIPTS = Path(__file__).resolve().parents[2]


def result(name, backend, epoch_seconds=(), compile_seconds=None, correct=None, n_test=None, note=""):
    """One implementation's row.

    Parameters
    ----------
    name, backend : str
        What ran, and on what (library, version, device, precision).
    epoch_seconds : sequence of float
        Training seconds of each timed epoch; empty marks a skip or an error.
    compile_seconds : float, optional
        The warm-up or compile before the timed epochs.
    correct, n_test : int, optional
        Test images classified correctly after the last epoch, out of `n_test`.
    note : str
        Shown under the table (a skip's reason, a scaled time).

    Returns
    -------
    dict
    """
    return {"name": name, "backend": backend, "epoch_seconds": list(epoch_seconds),
            "compile_seconds": compile_seconds, "correct": correct, "n_test": n_test, "note": note}


def failed(name, backend, exc):
    """The row of an implementation that raised `exc`; call inside the ``except``.

    The traceback goes to stderr so that one failing peer does not end the benchmark.
    """
    print(f"{name} [{backend}] failed:\n{traceback.format_exc()}", file=sys.stderr, flush=True)
    first = str(exc).splitlines()[0] if str(exc) else ""
    return result(name, backend, note=f"error: {type(exc).__name__}: {first}")


def warm_up_size(n, m):
    """Examples in the warm-up before the timed epochs: :data:`WARM_UP_BATCHES` mini-batches, at most `n`."""
    return min(n, WARM_UP_BATCHES * m)


def timed(fn, *args):
    """``(fn(*args), the wall-clock seconds it took)``."""
    start = time.perf_counter()
    value = fn(*args)
    return value, time.perf_counter() - start


def elapsed(fn, *args):
    """Wall-clock seconds of ``fn(*args)``."""
    return timed(fn, *args)[1]


def seconds_per_call(fn, calls):
    """Mean wall-clock seconds of ``fn()`` over `calls` calls in a row."""

    def loop():
        for _ in range(calls):
            fn()

    return elapsed(loop) / calls


def write_problem(directory, config, arrays):
    """Write `arrays` as ``NAME.npy`` and `config` as ``config.json`` in `directory`, for a subprocess."""
    directory = Path(directory)
    for name, array in arrays.items():
        np.save(directory / f"{name}.npy", np.asarray(array))
    (directory / "config.json").write_text(json.dumps(config))


def read_problem(directory):
    """``(config, arrays)``: what :func:`write_problem` wrote in `directory`, arrays by name."""
    directory = Path(directory)
    arrays = {path.stem: np.load(path) for path in directory.glob("*.npy")}
    return json.loads((directory / "config.json").read_text()), arrays


def pin_to_one_core():
    """Keep this process, and the threads it starts, on the first core it may use.

    One thread per library is not one core: XLA's CPU client sizes its thread pool by the
    cores it may use, and ran conv1's step on two threads (about 1.8 cores busy) with
    ``--xla_cpu_multi_thread_eigen=false``; pinned, it uses one, as PyTorch with one thread does.
    """
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


def run_peer(python, module, *args, env=None, one_core=False):
    """Run ``python -m bench.peers.<module> ARGS`` and return the JSON on its last line of stdout.

    The child finds this package (and dlpy35, for peers that train it) through
    ``PYTHONPATH``, whatever its working directory; `env` adds variables.  With
    `one_core`, the child runs on one CPU core (:func:`pin_to_one_core`).

    Raises
    ------
    RuntimeError
        When the child exits non-zero; the message ends with its last line of stderr.
    """
    path = [str(SCRIPTS), str(SCRIPTS.parent), os.environ.get("PYTHONPATH", "")]
    child_env = {**os.environ, **(env or {}), "PYTHONPATH": os.pathsep.join(filter(None, path))}
    cmd = [str(python), "-m", f"bench.peers.{module}", *map(str, args)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=child_env, check=False,
                          preexec_fn=pin_to_one_core if one_core else None)
    if proc.returncode:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"{python} -m bench.peers.{module} exited {proc.returncode}: {tail}")
    return json.loads(proc.stdout.strip().splitlines()[-1])
