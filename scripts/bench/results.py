"""What every benchmark reports: the machine, a Markdown table, progress lines and the JSON results file."""

from __future__ import annotations

import json
import os
import platform
import sys
from pathlib import Path

import numpy as np

from dlpy35.storage.atomic import atomic_write

#: Environment variables that change which BLAS kernels and how many threads numpy uses.
BLAS_ENV = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")


# -- machine ------------------------------------------------------------------------------------
def _cpu_model():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _blas():
    """numpy's BLAS: threadpoolctl's view if installed, else numpy's build config."""
    try:
        from threadpoolctl import threadpool_info

        libs = [i for i in threadpool_info() if i.get("user_api") == "blas"]
        if libs:
            return "; ".join(f"{i.get('internal_api')} {i.get('version')} kernel={i.get('architecture')} "
                             f"threads={i.get('num_threads')}" for i in libs)
    except ImportError:
        pass
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return f"{blas.get('name')} {blas.get('version')} ({blas.get('openblas configuration', '')})"
    except Exception as exc:  # numpy < 1.26 has no mode="dicts"
        return f"unknown ({exc})"


def _version(module):
    try:
        return __import__(module).__version__
    except Exception:
        return None


def machine_info():
    """CPU, cores, BLAS, BLAS environment and library versions, as a JSON-ready dict."""
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return {"cpu": _cpu_model(), "cores": os.cpu_count(), "usable_cores": affinity,
            "python": platform.python_version(), "blas": _blas(),
            "env": {k: os.environ.get(k) for k in BLAS_ENV},
            "versions": {m: _version(m) for m in ("numpy", "pytensor", "numba", "jax", "torch")}}


def print_machine(info):
    """Print :func:`machine_info` as four lines."""
    print(f"machine: {info['cpu']}, {info['cores']} cores ({info['usable_cores']} usable), "
          f"Python {info['python']}")
    print(f"BLAS: {info['blas']}")
    print("env: " + ", ".join(f"{k}={v if v is not None else '(unset)'}" for k, v in info["env"].items()))
    print("versions: " + ", ".join(f"{k} {v}" for k, v in info["versions"].items() if v), flush=True)


# -- output -------------------------------------------------------------------------------------
def log(message):
    """A progress line on stderr, so that stdout holds only the report."""
    print(message, file=sys.stderr, flush=True)


def markdown(head, rows, footer=()):
    """A Markdown table of string cells, columns padded to their widest cell, then the `footer` lines."""
    widths = [max([len(h), *(len(row[i]) for row in rows)]) for i, h in enumerate(head)]

    def line(cells):
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(head), rule, *map(line, rows), *footer])


def check_path(path, data_dir=None):
    """The results file `path` checked before any work, as dlpy35's commands check theirs: not a
    directory nor a file of MNIST's `data_dir`, and, where a file is there, a benchmark's earlier
    results (replaced) and nothing else; ValueError in one line otherwise."""
    from types import SimpleNamespace

    from dlpy35.cli.common import data_inputs
    from dlpy35.storage.outputs import Outputs

    path = Path(path)
    Outputs(data_inputs(SimpleNamespace(data_dir=data_dir)), replace=True).file(path, "--json", "path")
    if (path.exists() or path.is_symlink()) and not _is_results(path):
        raise ValueError(f"--json {path}: holds a file that is not a benchmark's results; give another path")
    return path


def _is_results(path):
    """Whether `path` holds a benchmark's results (:func:`write`'s JSON object, which names the machine)."""
    from dlpy35.storage.bounded import read_json

    try:
        doc = read_json(path, 1 << 26)
    except (OSError, ValueError):
        return False
    return isinstance(doc, dict) and "machine" in doc


def write(path, payload):
    """Write `payload` as indented JSON to `path` through a temporary file and a rename, and say so.

    A run killed while writing leaves the previous results, not half a file.
    Values JSON has no type for (paths) are written as strings.
    """
    with atomic_write(path, "w") as f:
        json.dump(payload, f, indent=2, default=str)
        f.write("\n")
    print(f"wrote {path}")
