"""The ``dlpy35`` command (also ``python -m dlpy35``): one subcommand per job.

``sweep`` trains every combination of ``--seeds``, ``--eta`` and ``--lmbda`` for
each ``--sizes``, as populations (many networks per compiled call), here or on a
Ray cluster (``--ray``), and writes ``epochs.csv``, ``summary.csv`` and
``sweep.png`` into ``--out``.

Examples::

    python -m dlpy35 sweep --seeds 0-31 --eta 3.0 --sizes 784 100 10 --out runs/seeds
    python -m dlpy35 sweep --seeds 0-3 --eta 0.5 3.0 --lmbda 0 5 --cost cross-entropy --out runs/ch3
    python -m dlpy35 sweep --seeds 0-63 --eta 3.0 --ray auto --out runs/cluster   # on a Ray cluster
"""

from __future__ import annotations

import sys
from pathlib import Path

from dlpy35.commandline import (
    ArgumentParser,
    add_training_flags,
    fail,
    finite_float,
    positive_int,
    run,
)

PROG = "dlpy35"


def build_parser():
    p = ArgumentParser(__doc__, prog=PROG)
    commands = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    s = commands.add_parser(
        "sweep", help="train every combination of seeds, etas and lambdas, as populations",
        description="Train every combination of --seeds, --eta and --lmbda for each --sizes as populations; "
                    "write epochs.csv, summary.csv and sweep.png to --out.")
    s.add_argument("--seeds", nargs="+", required=True, metavar="SEEDS",
                   help="seeds or inclusive ranges: 0-31, or 1 2 5 (each network's weights and shuffles)")
    s.add_argument("--eta", type=finite_float, nargs="+", default=[3.0], metavar="ETA", help="learning rates")
    s.add_argument("--lmbda", type=finite_float, nargs="+", default=[0.0], metavar="LMBDA",
                   help="regularisation parameters")
    s.add_argument("--sizes", type=positive_int, nargs="+", action="append", metavar="N",
                   help="layer sizes (repeat for several architectures; default 784 30 10)")
    add_training_flags(s)
    s.add_argument("--population-size", type=positive_int, default=None, metavar="K",
                   help="networks per population at most (default: all of one architecture together)")
    s.add_argument("--out", type=Path, required=True, metavar="DIR", help="where the results go")
    s.add_argument("--ray", default=None, metavar="ADDRESS",
                   help="run each population as a task on a Ray cluster: auto, or the cluster's address")
    s.add_argument("--no-plot", action="store_true", help="write no PNG")
    return p


def _check_sweep(p, args):
    """Every value of the sweep checked, before any data is loaded: its chunks, or exit 2 via `p`."""
    from dlpy35 import sweep
    from dlpy35.atomic import check_writable
    from dlpy35.inputs import check_eta, check_lmbda, check_sizes

    try:
        seeds = sweep.parse_seeds(args.seeds)
        sizes = [check_sizes(s) for s in (args.sizes or [[784, 30, 10]])]
        etas = [check_eta(e, args.dtype) for e in args.eta]
        lmbdas = [check_lmbda(x) for x in args.lmbda]
        if args.out.exists() and not args.out.is_dir():
            raise ValueError(f"--out {args.out}: is a file; give a directory")
        for name in ("epochs.csv", "summary.csv", "sweep.png"):
            check_writable(args.out / name, "--out")
    except ValueError as exc:
        p.error(str(exc))
    return sweep.plan(sizes, seeds, etas, lmbdas, sweep.settings_of(args), args.population_size)


def run_sweep(p, args):
    from dlpy35 import sweep
    from dlpy35.data import DataError, load_mnist
    from dlpy35.device import DeviceError
    from dlpy35.population import PopulationError

    chunks = _check_sweep(p, args)
    n_nets = sum(len(c.nets) for c in chunks)
    try:
        if not args.ray:  # the device and its memory are known here; on Ray each task checks its own
            for chunk in chunks:
                sweep.population(chunk).check_fits(args.mini_batch_size)
        (train_x, _), _, _ = load_mnist(args.data_dir)  # fetched and verified once, before any training
    except (DataError, DeviceError, PopulationError, ValueError) as exc:
        return fail(PROG, exc)
    if args.n_train and args.n_train > len(train_x):
        return fail(PROG, f"--n-train {args.n_train}: only {len(train_x)} training images")
    print(f"sweep: {n_nets} networks in {len(chunks)} populations, {args.epochs} epochs each, "
          f"{args.evaluation} data evaluated; results in {args.out}", flush=True)
    try:
        found = sweep.run(chunks, args.out, args.ray)
    except (DataError, DeviceError, PopulationError, ValueError) as exc:
        return fail(PROG, exc)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted; the finished populations are kept in {args.out / 'chunks'}, and the "
              "same command trains only the others", file=sys.stderr)
        return 130
    rows, summary = sweep.gather(found)
    sweep.write(args.out, rows, summary)
    print(sweep.report(summary))
    if not args.no_plot:
        try:
            from dlpy35.plots import plot_sweep
        except ImportError as exc:
            return fail(PROG, exc)
        title = f"{n_nets} networks, {args.cost} cost, {args.epochs} epochs, m = {args.mini_batch_size}"
        plot_sweep(rows, summary, args.out / "sweep.png", title)
    print(f"wrote {args.out / 'epochs.csv'}, {args.out / 'summary.csv'}"
          f"{'' if args.no_plot else ', ' + str(args.out / 'sweep.png')}")
    return 0


def main(argv=None) -> int:
    """``dlpy35 COMMAND ...``: the exit status (0; 2 for a user's mistake; 130 for Ctrl-C)."""
    p = build_parser()
    args = p.parse_args(argv)
    return {"sweep": run_sweep}[args.command](p, args)


def entry() -> None:
    """The console script: :func:`main` with Ctrl-C before training reported in one line."""
    sys.exit(run(main, PROG))
