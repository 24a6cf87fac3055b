"""Benchmark dlpy35 against its peers on the book's chapter-1 network.

One run, one data set (the first ``--n-train`` MNIST training images), one seed
and one set of hyperparameters (``--sizes``, ``--mini-batch-size``, ``--eta``).
Every implementation starts from the same initial weights
(``np.random.default_rng(seed)``, biases then weights, N(0, 1), as
:class:`dlpy35.network.Network` draws them) and follows the same per-epoch
permutations (the next draws of that generator, as ``Network.SGD`` makes them).
For each it reports the median seconds per epoch over ``--epochs`` epochs, timed
after a warm-up/compile that is reported separately, and the test accuracy
afterwards as a sanity check:

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

    python scripts/bench.py --quick                      # a few seconds, a smoke test
    python scripts/bench.py --torch-python /tmp/torchvenv/bin/python
    python scripts/bench.py --sizes 784 100 10 --n-train 10000 --modes JAX NUMBA
    python scripts/bench.py --network conv --help        # the conv nets' benchmark
    python scripts/bench.py --profile --help             # one SGD step, operation by operation
"""

from __future__ import annotations

import math
import statistics
import tempfile
import time

import numpy as np

from dlpy35.text import plural

from . import cli, results
from .peers import numpy_peer, torch_peer
from .peers.base import elapsed, failed, result, run_peer, timed

DEFAULT_MODES = ["NUMBA", "JAX", "CVM"]
QUICK_N, QUICK_BOOK_N = 1000, 200
TORCH_NAMES = ("PyTorch manual backprop (e)", "PyTorch autograd (e)")


# -- arguments ------------------------------------------------------------------------------------
def parser():
    """The command line (see ``--help``)."""
    p = cli.Parser(__doc__)
    cli.add(p, "sizes", [784, 30, 10])
    cli.add(p, "n_train", None, f"training images to use (default all 50,000; {QUICK_N} with --quick)")
    cli.add(p, "epochs", 3, "timed epochs per implementation (default %(default)s)")
    cli.add(p, "mini_batch_size", 10)
    cli.add(p, "eta", 3.0)
    cli.add(p, "seed", 0)
    cli.add(p, "modes", DEFAULT_MODES)
    cli.add(p, "data_dir")
    cli.add(p, "torch_python")
    cli.add(p, "json", "runs/bench.json")
    p.add_argument("--quick", action="store_true",
                   help=f"smoke run: {QUICK_N} images, the book on {QUICK_BOOK_N} of them (time scaled up)")
    p.add_argument("--book-n-train", type=cli.positive_int, default=None, metavar="N",
                   help=f"training images for the slow book reference (default --n-train; {QUICK_BOOK_N} "
                        "with --quick); its time is scaled to --n-train")
    p.add_argument("--skip-book", action="store_true", help="leave out (a); speed-ups are then not shown")
    return p


def parse_args(p, argv=None):
    """The checked arguments; MNIST's input and output widths bound ``--sizes``."""
    args = cli.parse(p, argv)
    if args.sizes[0] != 784 or args.sizes[-1] < 10:
        p.error(f"--sizes {' '.join(map(str, args.sizes))}: MNIST needs 784 inputs and at least 10 outputs")
    if args.n_train is None and args.quick:
        args.n_train = QUICK_N
    return args


# -- the shared problem ---------------------------------------------------------------------------
def initial_state(sizes, seed, n, epochs):
    """``(weights, biases, perms)`` exactly as ``Network(sizes, seed)`` and its ``SGD`` draw them."""
    rng = np.random.default_rng(seed)
    biases = [rng.standard_normal((y, 1)) for y in sizes[1:]]
    weights = [rng.standard_normal((y, x)) for x, y in zip(sizes[:-1], sizes[1:], strict=True)]
    perms = np.stack([rng.permutation(n) for _ in range(epochs)])
    return weights, biases, perms


def one_hot(labels, width):
    """(n, width) float32 rows with a 1 in each label's column."""
    out = np.zeros((len(labels), width), np.float32)
    out[np.arange(len(labels)), labels] = 1.0
    return out


def flops_per_epoch(sizes, n, m):
    """FLOP of one epoch's matrix products and updates (formula in the module docstring)."""
    pairs = list(zip(sizes[:-1], sizes[1:], strict=True))
    macs = sum(i * o for i, o in pairs)
    back = sum(i * o for i, o in pairs[1:])
    params = sum(i * o + o for i, o in pairs)
    return 4 * n * macs + 2 * n * back + 2 * math.ceil(n / m) * params


def matmul_peak(size=2048, repeats=10):
    """Best GFLOP/s of a float32 ``size``-square numpy matmul over `repeats` tries."""
    rng = np.random.default_rng(1)
    a, b = (rng.standard_normal((size, size), dtype=np.float32) for _ in range(2))
    a @ b  # warm the BLAS threads
    best = min(elapsed(lambda: a @ b) for _ in range(repeats))
    return 2 * size**3 / best / 1e9


# -- running the implementations -------------------------------------------------------------------
def _importable(module):
    try:
        __import__(module)
    except ImportError:
        return False
    return True


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
    res["note"] = (f"trained on {book_n} examples, time scaled x{n / book_n:g} to {n}; "
                   "accuracy of that shorter run")
    return res


def run_dlpy35(problem, sizes, seed, mode, epoch_mode, train_y):
    """(c)/(d): ``Network.SGD`` history seconds and ``compile_seconds``."""
    from dlpy35.network import Network

    label = {"step": "dlpy35 per mini-batch (c)", "scan": "dlpy35 whole epoch, scan (d)"}[epoch_mode]
    if mode == "JAX" and not _importable("jax"):
        return result(label, mode, note="skipped: jax not importable")
    try:
        net = Network(sizes, seed=seed, mode=mode, device="cpu", epoch_mode=epoch_mode)
        same = all(np.array_equal(a, b.astype(np.float32))
                   for a, b in zip(net.weights, problem["weights"], strict=True))
        history = net.SGD((problem["train_x"], train_y), len(problem["perms"]), problem["m"], problem["eta"],
                          verbose=False)
        correct = net.evaluate((problem["test_x"], problem["test_y"]))
    except Exception as exc:
        return failed(label, mode, exc)
    note = "" if same else "initial weights differ from the shared ones"
    return result(label, f"{mode} ({net.device.kind})", [h["seconds"] for h in history], net.compile_seconds,
                  correct, len(problem["test_y"]), note)


def run_torch(problem, torch_python):
    """(e) in this interpreter, or in `torch_python` through :mod:`bench.peers.torch_peer`."""
    if torch_python:
        try:
            with tempfile.TemporaryDirectory(prefix="bench-torch-") as tmp:
                torch_peer.save_problem(tmp, **problem)
                rows = run_peer(torch_python, "torch_peer", tmp)
        except Exception as exc:
            return [failed(n, "torch (subprocess)", exc) for n in TORCH_NAMES]
        for r in rows:
            r["note"] = f"subprocess: {torch_python}"
        return rows
    if not _importable("torch"):
        note = "skipped: torch not importable here (try --torch-python)"
        return [result(n, "torch", note=note) for n in TORCH_NAMES]
    try:
        return torch_peer.train_torch(**problem)
    except Exception as exc:
        return [failed(n, "torch", exc) for n in TORCH_NAMES]


def run_jax(problem):
    """(f), or a skip note without JAX."""
    name = "JAX jit + lax.scan (f)"
    if not _importable("jax"):
        return result(name, "jax", note="skipped: jax not importable")
    from .peers import jax_peer

    try:
        return jax_peer.train_jax(**problem)
    except Exception as exc:
        return failed(name, "jax", exc)


def run_all(args, problem, train_y):
    """Every implementation in turn, logging one line each; returns the result rows."""

    def book():
        return [run_book(problem, args.sizes, args.book_n_train, args.seed, args.epochs)]

    def dlpy35(mode, epoch_mode):
        return lambda: [run_dlpy35(problem, args.sizes, args.seed, mode, epoch_mode, train_y)]

    jobs = [] if args.skip_book else [("book", book)]
    jobs.append(("numpy", lambda: [numpy_peer.train_batched(**problem)]))
    jobs += [(f"dlpy35 {mode} {em}", dlpy35(mode, em)) for mode in args.modes for em in ("step", "scan")]
    jobs += [("torch", lambda: run_torch(problem, args.torch_python)), ("jax", lambda: [run_jax(problem)])]
    rows = []
    for label, job in jobs:
        got, seconds = timed(job)
        rows.extend(got)
        results.log(f"  {label:<22} done in {seconds:6.1f} s")
    return rows


# -- report ---------------------------------------------------------------------------------------
def summarise(rows, flops, peak):
    """Add ``median_seconds``, ``speedup``, ``gflops`` and ``peak_fraction`` to each row."""
    ref = next((r for r in rows if r["name"].startswith("book") and r["epoch_seconds"]), None)
    ref_s = statistics.median(ref["epoch_seconds"]) if ref else None
    for r in rows:
        s = statistics.median(r["epoch_seconds"]) if r["epoch_seconds"] else None
        r["median_seconds"] = s
        r["speedup"] = ref_s / s if s and ref_s else None
        r["gflops"] = flops / s / 1e9 if s else None
        r["peak_fraction"] = r["gflops"] / peak if s else None
    return rows


def _fmt(value, spec, empty="-"):
    return empty if value is None else format(value, spec)


def table(rows):
    """The rows as a Markdown table, with numbered notes below it."""
    head = ["implementation", "backend", "median s/epoch", "speed-up vs (a)", "GFLOP/s", "% of peak",
            "compile/warm-up s", "test accuracy"]
    cells, notes = [], []
    for r in rows:
        mark = ""
        if r["note"]:
            if r["note"] not in notes:
                notes.append(r["note"])
            mark = f" [{notes.index(r['note']) + 1}]"
        acc = f"{100 * r['correct'] / r['n_test']:.2f} %" if r["correct"] is not None else "-"
        cells.append([r["name"] + mark, r["backend"], _fmt(r["median_seconds"], ".3f", "n/a"),
                      _fmt(r["speedup"], ".1f"), _fmt(r["gflops"], ".2f"),
                      _fmt(r["peak_fraction"] and 100 * r["peak_fraction"], ".1f"),
                      _fmt(r["compile_seconds"], ".2f"), acc])
    return results.markdown(head, cells, [f"[{i}] {note}" for i, note in enumerate(notes, 1)])


def main(argv=None):
    """Run the benchmark, print the machine and the table, write the JSON; returns 0."""
    p = parser()
    args = parse_args(p, argv)
    start = time.perf_counter()
    (train_x, train_y), _, (test_x, test_y) = cli.load_mnist(p, args.data_dir, args.n_train)
    n = len(train_x)
    args.book_n_train = min(n, args.book_n_train or (QUICK_BOOK_N if args.quick else n))
    weights, biases, perms = initial_state(args.sizes, args.seed, n, args.epochs)
    m = args.mini_batch_size
    problem = {"train_x": train_x, "train_y1h": one_hot(train_y, args.sizes[-1]), "test_x": test_x,
               "test_y": test_y, "weights": weights, "biases": biases, "perms": perms, "m": m,
               "eta": args.eta}
    info = results.machine_info()
    peak = matmul_peak()
    flops = flops_per_epoch(args.sizes, n, m)
    results.print_machine(info)
    print(f"float32 matmul peak (numpy, 2048x2048, best of 10): {peak:.1f} GFLOP/s")
    print(f"problem: sizes {args.sizes}, n={n}, mini-batch {m}, eta {args.eta}, seed {args.seed}, "
          f"{plural(args.epochs, 'timed epoch')}; work per epoch {flops / 1e9:.3f} GFLOP", flush=True)
    rows = summarise(run_all(args, problem, train_y), flops, peak)
    print()
    print(table(rows))
    wall = time.perf_counter() - start
    print(f"\nmedian of {plural(args.epochs, 'epoch')} each (training only, after the warm-up/compile "
          f"in its own column); wall time {wall:.1f} s")
    results.write(args.json, {"args": {"network": "mlp", **vars(args)}, "machine": info, "peak_gflops": peak,
                              "flops_per_epoch": flops, "n": n, "wall_seconds": wall, "results": rows})
    return 0
