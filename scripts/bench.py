"""Benchmark dlpy35 against its peers on the book's chapter-1 network.

One run, one data set (the MNIST training images, ``--n`` of them), one seed and
one set of hyperparameters (``--sizes``, mini-batch 10, eta 3.0).  Every
implementation starts from the same initial weights (``np.random.default_rng(seed)``,
biases then weights, N(0, 1), as :class:`dlpy35.network.Network` draws them) and
follows the same per-epoch permutations (the next draws of that generator, as
``Network.SGD`` makes them).  For each it reports the median seconds per epoch
over ``--epochs`` epochs, timed after a warm-up/compile that is reported
separately, and the test accuracy afterwards as a sanity check:

(a) the book's per-example numpy ``network.py`` (the reference),
(b) numpy on whole mini-batches,
(c) dlpy35, one compiled call per mini-batch (``epoch_mode="step"``),
(d) dlpy35, whole epochs in one scan (``epoch_mode="scan"``), for each ``--modes``,
(e) PyTorch, manual backprop and autograd (in this interpreter, or ``--torch-python``),
(f) JAX, ``jit`` of a ``lax.scan`` over the epoch.

Work per epoch (FLOP, counted for the matrix products and the update)::

    4 n sum(n_in n_out)            forward z = w a + b, and dC/dw = delta a^T
  + 2 n sum(n_in n_out, l >= 2)    delta^{l-1} = w^T delta^l (none for the input)
  + 2 ceil(n/m) (#weights + #biases)   w -= (eta/m) dC/dw

For [784, 30, 10] and n = 50,000 that is 5.03 GFLOP (6 n sum(n_in n_out) would
be 7.15).  GFLOP/s are compared with the best float32 2048x2048 numpy matmul.

Usage::

    python scripts/bench.py --quick                      # a few seconds, CI smoke
    python scripts/bench.py --torch-python /tmp/torchvenv/bin/python
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

import numpy as np

SCRIPTS = Path(__file__).resolve().parent
ROOT = SCRIPTS.parent
for _p in (str(SCRIPTS), str(ROOT)):
    if _p not in sys.path:
        sys.path.insert(0, _p)

from peers import numpy_peer, torch_peer  # noqa: E402

DEFAULT_MODES = ("NUMBA", "JAX", "CVM")
QUICK_N, QUICK_BOOK_N = 1000, 200
BLAS_ENV = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")


# -- arguments --------------------------------------------------------------------
def parse_args(argv=None):
    """The command line (see ``--help``)."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="784,30,10", help="layer sizes, comma-separated (default 784,30,10)")
    p.add_argument("--n", type=int, default=None,
                   help=f"training images to use (default all 50,000; {QUICK_N} with --quick)")
    p.add_argument("--epochs", type=int, default=3, help="timed epochs per implementation (default 3)")
    p.add_argument("--mini-batch", type=int, default=10, help="mini-batch size (default 10)")
    p.add_argument("--eta", type=float, default=3.0, help="learning rate (default 3.0)")
    p.add_argument("--seed", type=int, default=0, help="initial weights and permutations (default 0)")
    p.add_argument("--modes", default=",".join(DEFAULT_MODES),
                   help="dlpy35 PyTensor modes, comma-separated (default NUMBA,JAX,CVM; '' for none)")
    p.add_argument("--quick", action="store_true",
                   help=f"smoke run: n={QUICK_N}, the book on {QUICK_BOOK_N} examples, time scaled to n")
    p.add_argument("--book-n", type=int, default=None,
                   help="examples for the slow book reference (default n; "
                        f"{QUICK_BOOK_N} with --quick); its time is scaled to n")
    p.add_argument("--skip-book", action="store_true", help="leave out (a); speed-ups are then not shown")
    p.add_argument("--torch-python", default=None, metavar="PATH",
                   help="run the PyTorch peer in this interpreter (needs numpy and torch)")
    p.add_argument("--json", default="runs/bench.json", metavar="PATH", help="results file (default runs/bench.json)")
    p.add_argument("--network", choices=("mlp", "conv"), default="mlp",
                   help="conv: the chapter-6 conv nets against PyTorch (scripts/peers/conv_peers.py)")
    p.add_argument("--conv-batches", type=int, default=300, help="timed mini-batches per pass with --network conv")
    args = p.parse_args(argv)
    try:
        args.sizes = [int(s) for s in args.sizes.split(",")]
    except ValueError:
        p.error(f"--sizes: expected integers separated by commas, got {args.sizes!r}")
    if len(args.sizes) < 2 or min(args.sizes) < 1:
        p.error("--sizes: give at least two positive layer sizes")
    args.modes = [m.strip().upper() for m in args.modes.split(",") if m.strip()]
    if args.n is None:
        args.n = QUICK_N if args.quick else None
    if args.epochs < 1 or args.mini_batch < 1 or (args.n is not None and args.n < 1):
        p.error("--epochs, --mini-batch and --n must be positive")
    return args


# -- the shared problem -------------------------------------------------------------
def initial_state(sizes, seed, n, epochs):
    """``(weights, biases, perms)`` exactly as ``Network(sizes, seed)`` and its ``SGD`` draw them."""
    rng = np.random.default_rng(seed)
    biases = [rng.standard_normal((y, 1)) for y in sizes[1:]]
    weights = [rng.standard_normal((y, x)) for x, y in zip(sizes[:-1], sizes[1:])]
    perms = np.stack([rng.permutation(n) for _ in range(epochs)])
    return weights, biases, perms


def one_hot(labels, width):
    """(n, width) float32 rows with a 1 in each label's column."""
    out = np.zeros((len(labels), width), np.float32)
    out[np.arange(len(labels)), labels] = 1.0
    return out


def load_data(sizes, n):
    """``(train_x, train_y, test_x, test_y)``: the first `n` MNIST training images and the test set."""
    from dlpy35.data import load_mnist

    if sizes[0] != 784 or sizes[-1] < 10:
        raise SystemExit(f"--sizes {sizes}: MNIST needs 784 inputs and at least 10 outputs")
    (tx, ty), _, (sx, sy) = load_mnist()
    n = len(tx) if n is None else n
    if n > len(tx):
        raise SystemExit(f"--n {n}: only {len(tx)} training images")
    return tx[:n], ty[:n], sx, sy


def flops_per_epoch(sizes, n, m):
    """FLOP of one epoch's matrix products and updates (formula in the module docstring)."""
    pairs = list(zip(sizes[:-1], sizes[1:]))
    macs = sum(i * o for i, o in pairs)
    back = sum(i * o for i, o in pairs[1:])
    params = sum(i * o + o for i, o in pairs)
    return 4 * n * macs + 2 * n * back + 2 * math.ceil(n / m) * params


# -- machine ------------------------------------------------------------------------
def matmul_peak(size=2048, repeats=10):
    """Best GFLOP/s of a float32 ``size``-square numpy matmul over `repeats` tries."""
    rng = np.random.default_rng(1)
    a, b = (rng.standard_normal((size, size), dtype=np.float32) for _ in range(2))
    a @ b  # warm the BLAS threads
    best = min(_timed(lambda: a @ b) for _ in range(repeats))
    return 2 * size**3 / best / 1e9


def _timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


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


def _importable(module):
    try:
        __import__(module)
    except ImportError:
        return False
    return True


def _version(module):
    try:
        return __import__(module).__version__
    except Exception:
        return None


def machine_info():
    """CPU, cores, BLAS, BLAS environment and library versions."""
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return {"cpu": _cpu_model(), "cores": os.cpu_count(), "usable_cores": affinity,
            "python": platform.python_version(), "blas": _blas(),
            "env": {k: os.environ.get(k) for k in BLAS_ENV},
            "versions": {m: _version(m) for m in ("numpy", "pytensor", "numba", "jax", "torch")}}


# -- running the implementations ------------------------------------------------------
def result(name, backend, epoch_seconds=(), compile_seconds=None, correct=None, n_test=None, note=""):
    """A result dict in the peers' format (an empty `epoch_seconds` marks a skip or error)."""
    return {"name": name, "backend": backend, "epoch_seconds": list(epoch_seconds),
            "compile_seconds": compile_seconds, "correct": correct, "n_test": n_test, "note": note}


def _error(name, backend, exc):
    """A result for `exc` (call inside its ``except``); the traceback goes to stderr."""
    print(f"{name} [{backend}] failed:\n{traceback.format_exc()}", file=sys.stderr, flush=True)
    return result(name, backend, note=f"error: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")


def run_book(problem, sizes, book_n, seed, epochs):
    """(a) on the first `book_n` examples; the epoch time is scaled to the full n."""
    n = len(problem["train_x"])
    if book_n >= n:
        return numpy_peer.train_book(**problem)
    weights, biases, perms = initial_state(sizes, seed, book_n, epochs)
    sub = dict(problem, train_x=problem["train_x"][:book_n], train_y1h=problem["train_y1h"][:book_n],
               weights=weights, biases=biases, perms=perms)
    res = numpy_peer.train_book(**sub)
    res["epoch_seconds"] = [s * n / book_n for s in res["epoch_seconds"]]
    res["note"] = f"trained on {book_n} examples, time scaled x{n / book_n:g} to {n}; accuracy of that shorter run"
    return res


def run_dlpy35(problem, sizes, seed, mode, epoch_mode, train_y):
    """(c)/(d): ``Network.SGD`` history seconds and ``compile_seconds``."""
    from dlpy35.network import Network

    label = {"step": "dlpy35 per mini-batch (c)", "scan": "dlpy35 whole epoch, scan (d)"}[epoch_mode]
    if mode == "JAX" and not _importable("jax"):
        return result(label, mode, note="skipped: jax not importable")
    try:
        net = Network(sizes, seed=seed, mode=mode, device="cpu", epoch_mode=epoch_mode)
        same = all(np.array_equal(a, b.astype(np.float32)) for a, b in zip(net.weights, problem["weights"]))
        history = net.SGD((problem["train_x"], train_y), len(problem["perms"]), problem["m"], problem["eta"],
                          verbose=False)
        correct = net.evaluate((problem["test_x"], problem["test_y"]))
    except Exception as exc:
        return _error(label, mode, exc)
    note = "" if same else "initial weights differ from the shared ones"
    return result(label, f"{mode} ({net.device.kind})", [h["seconds"] for h in history], net.compile_seconds,
                  correct, len(problem["test_y"]), note)


def run_torch(problem, torch_python):
    """(e) in this interpreter, or in `torch_python` through ``peers/torch_peer.py``."""
    names = ("PyTorch manual backprop (e)", "PyTorch autograd (e)")
    if torch_python:
        try:
            with tempfile.TemporaryDirectory(prefix="bench-torch-") as tmp:
                torch_peer.save_problem(tmp, **problem)
                proc = subprocess.run([torch_python, str(SCRIPTS / "peers" / "torch_peer.py"), tmp],
                                      capture_output=True, text=True, check=False)
            if proc.returncode:
                tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
                raise RuntimeError(f"{torch_python} exited {proc.returncode}: {tail}")
            results = json.loads(proc.stdout.strip().splitlines()[-1])
        except Exception as exc:
            return [_error(n, "torch (subprocess)", exc) for n in names]
        for r in results:
            r["note"] = f"subprocess: {torch_python}"
        return results
    if not _importable("torch"):
        return [result(n, "torch", note="skipped: torch not importable here (try --torch-python)") for n in names]
    try:
        return torch_peer.train_torch(**problem)
    except Exception as exc:
        return [_error(n, "torch", exc) for n in names]


def run_jax(problem):
    """(f), or a skip note without JAX."""
    name = "JAX jit + lax.scan (f)"
    if not _importable("jax"):
        return result(name, "jax", note="skipped: jax not importable")
    from peers import jax_peer

    try:
        return jax_peer.train_jax(**problem)
    except Exception as exc:
        return _error(name, "jax", exc)


def run_all(args, problem, train_y, log):
    """Every implementation in turn, logging one line each; returns the result dicts."""
    jobs = []
    if not args.skip_book:
        jobs.append(("book", lambda: [run_book(problem, args.sizes, args.book_n, args.seed, args.epochs)]))
    jobs.append(("numpy", lambda: [numpy_peer.train_batched(**problem)]))
    for mode in args.modes:
        for epoch_mode in ("step", "scan"):
            jobs.append((f"dlpy35 {mode} {epoch_mode}",
                         lambda mode=mode, em=epoch_mode: [run_dlpy35(problem, args.sizes, args.seed, mode, em, train_y)]))
    jobs.append(("torch", lambda: run_torch(problem, args.torch_python)))
    jobs.append(("jax", lambda: [run_jax(problem)]))
    results = []
    for label, job in jobs:
        start = time.perf_counter()
        got = job()
        log(f"  {label:<22} done in {time.perf_counter() - start:6.1f} s")
        results.extend(got)
    return results


# -- report ---------------------------------------------------------------------------
def summarise(results, flops, peak):
    """Add ``median_seconds``, ``speedup``, ``gflops`` and ``peak_fraction`` to each result."""
    ref = next((r for r in results if r["name"].startswith("book") and r["epoch_seconds"]), None)
    ref_s = statistics.median(ref["epoch_seconds"]) if ref else None
    for r in results:
        s = statistics.median(r["epoch_seconds"]) if r["epoch_seconds"] else None
        r["median_seconds"] = s
        r["speedup"] = ref_s / s if s and ref_s else None
        r["gflops"] = flops / s / 1e9 if s else None
        r["peak_fraction"] = r["gflops"] / peak if s else None
    return results


def _fmt(value, spec, empty="-"):
    return empty if value is None else format(value, spec)


def table(results):
    """The results as a Markdown table, with numbered notes below it."""
    head = ["implementation", "backend", "median s/epoch", "speed-up vs (a)", "GFLOP/s", "% of peak",
            "compile/warm-up s", "test accuracy"]
    rows, notes = [], []
    for r in results:
        mark = ""
        if r["note"]:
            if r["note"] not in notes:
                notes.append(r["note"])
            mark = f" [{notes.index(r['note']) + 1}]"
        acc = f"{100 * r['correct'] / r['n_test']:.2f} %" if r["correct"] is not None else "-"
        rows.append([r["name"] + mark, r["backend"], _fmt(r["median_seconds"], ".3f", "n/a"),
                     _fmt(r["speedup"], ".1f"), _fmt(r["gflops"], ".2f"),
                     _fmt(r["peak_fraction"] and 100 * r["peak_fraction"], ".1f"),
                     _fmt(r["compile_seconds"], ".2f"), acc])
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(head)]
    line = lambda cells: "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"  # noqa: E731
    out = [line(head), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, rows)]
    out += [f"[{i}] {note}" for i, note in enumerate(notes, 1)]
    return "\n".join(out)


def write_json(path, payload):
    """Write `payload` to `path` atomically (temp file in the same folder, then ``os.replace``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(payload, f, indent=2)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def main(argv=None):
    """Run the benchmark, print the machine and the table, write the JSON; returns 0."""
    args = parse_args(argv)
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    if args.network == "conv":
        return main_conv(args, log)
    start = time.perf_counter()
    train_x, train_y, test_x, test_y = load_data(args.sizes, args.n)
    n = len(train_x)
    args.book_n = min(n, args.book_n or (QUICK_BOOK_N if args.quick else n))
    weights, biases, perms = initial_state(args.sizes, args.seed, n, args.epochs)
    problem = {"train_x": train_x, "train_y1h": one_hot(train_y, args.sizes[-1]), "test_x": test_x,
               "test_y": test_y, "weights": weights, "biases": biases, "perms": perms,
               "m": args.mini_batch, "eta": args.eta}
    info = machine_info()
    peak = matmul_peak()
    flops = flops_per_epoch(args.sizes, n, args.mini_batch)
    print(f"machine: {info['cpu']}, {info['cores']} cores ({info['usable_cores']} usable), Python {info['python']}")
    print(f"BLAS: {info['blas']}")
    print("env: " + ", ".join(f"{k}={v if v is not None else '(unset)'}" for k, v in info["env"].items()))
    print("versions: " + ", ".join(f"{k} {v}" for k, v in info["versions"].items() if v))
    print(f"float32 matmul peak (numpy, 2048x2048, best of 10): {peak:.1f} GFLOP/s")
    print(f"problem: sizes {args.sizes}, n={n}, mini-batch {args.mini_batch}, eta {args.eta}, seed {args.seed}, "
          f"{args.epochs} timed epochs; work per epoch {flops / 1e9:.3f} GFLOP", flush=True)
    results = summarise(run_all(args, problem, train_y, log), flops, peak)
    print()
    print(table(results))
    wall = time.perf_counter() - start
    print(f"\nmedian of {args.epochs} epochs each (training only, after the warm-up/compile in its own column); "
          f"wall time {wall:.1f} s")
    payload = {"args": {k: v for k, v in vars(args).items()}, "machine": info, "peak_gflops": peak,
               "flops_per_epoch": flops, "n": n, "wall_seconds": wall, "results": results}
    write_json(args.json, payload)
    print(f"wrote {args.json}")
    return 0


def main_conv(args, log):
    """``--network conv``: seconds per epoch of conv1 and conv2-relu, dlpy35 vs PyTorch (conv_peers)."""
    from peers import conv_peers

    modes = ["JAX", "NUMBA"] if args.modes == list(DEFAULT_MODES) else args.modes
    info = machine_info()
    print(f"machine: {info['cpu']}, {info['cores']} cores ({info['usable_cores']} usable), Python {info['python']}")
    results = conv_peers.run_conv_bench(modes=modes, torch_python=args.torch_python, batches=args.conv_batches,
                                        passes=args.epochs, log=log)  # the best of --epochs timed passes
    print(conv_peers.table(results, args.conv_batches))
    write_json(args.json, {"args": vars(args), "machine": info, "results": results})
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
