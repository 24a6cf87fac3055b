"""Train every combination of seeds, etas and lambdas, as populations (many networks per compiled call).

``--seeds 0-3 --eta 0.5 3.0`` is eight networks; several ``--sizes`` make one
population each.  ``--out DIR`` receives ``epochs.csv`` (one row per network and
epoch), ``summary.csv`` (one row per network) and ``sweep.png``; the summary is
printed ranked by best validation accuracy, each network's test accuracy at its
best validation epoch beside it, and the pick named last (``--evaluation test``
ranks on the test set itself, as the book's chapter 1 does, which flatters the pick).
``--ray auto|ADDRESS`` runs each population as a task on a Ray cluster;
rerunning into the same ``--out`` trains only the populations not yet finished.

Examples::

    dlpy35 sweep --seeds 0-31 --eta 3.0 --sizes 784 100 10 --out runs/seeds
    dlpy35 sweep --seeds 0-3 --eta 0.5 3.0 --lmbda 0 5 --cost cross-entropy --out runs/ch3
    dlpy35 sweep --seeds 0-63 --eta 3.0 --ray auto --out runs/cluster   # on a Ray cluster
"""

from __future__ import annotations

import sys
from pathlib import Path

from dlpy35.cli import signals
from dlpy35.cli.common import (
    INTERRUPTED,
    add_order_flag,
    add_overwrite_flag,
    add_quiet_flag,
    add_tensorboard_flag,
    add_training_flags,
    data_inputs,
    fail,
    finite_float,
    network_sizes,
    positive_int,
    weight_init,
)
from dlpy35.text import plural


def configure(s):
    s.add_argument("--seeds", nargs="+", required=True, metavar="SEEDS",
                   help="seeds or inclusive ranges: 0-31, or 1 2 5 (each network's weights and shuffles)")
    s.add_argument("--eta", type=finite_float, nargs="+", default=[3.0], metavar="ETA", help="learning rates")
    s.add_argument("--lmbda", type=finite_float, nargs="+", default=[0.0], metavar="LMBDA",
                   help="regularisation parameters")
    s.add_argument("--sizes", type=positive_int, nargs="+", action="append", metavar="N",
                   help="layer sizes (repeat for several architectures; default 784 30 10, or with "
                        "--dataset its pixels and classes around 30)")
    add_training_flags(s)
    s.set_defaults(evaluation="validation")  # a sweep picks: on validation data, reported on test data
    s.add_argument("--population-size", type=positive_int, default=None, metavar="K",
                   help="networks per population at most (default: all of one architecture together)")
    add_order_flag(s)
    s.add_argument("--out", type=Path, required=True, metavar="DIR", help="where the results go")
    s.add_argument("--ray", default=None, metavar="ADDRESS",
                   help="run each population as a task on a Ray cluster: auto, or the cluster's address")
    s.add_argument("--no-plot", action="store_true", help="write no PNG")
    add_overwrite_flag(s, "what --out holds, when it is not this sweep's (another sweep, a training run)")
    add_quiet_flag(s)
    add_tensorboard_flag(s)


def settings_of(args, data=None) -> dict:
    """:func:`dlpy35.studies.sweep.settings` from the training flags (``add_training_flags``, ``--order``)
    and the `data` loaded (:class:`dlpy35.data.Dataset`)."""
    from dlpy35.studies import sweep

    return sweep.settings(args.epochs, args.mini_batch_size, args.n_train, args.cost, weight_init(args),
                          args.dtype, args.device, args.mode, args.evaluation, args.order, args.data_dir,
                          args.dataset, data)


def _check(p, args):
    """Every value of the sweep and --out's files checked before any data loads: ``(seeds, etas, lmbdas,
    outputs)``, or exit 2; whether --out holds this sweep is asked once it is planned (:func:`_check_out`)."""
    from dlpy35.engine.arguments import check_eta, check_lmbda, check_sizes
    from dlpy35.storage.outputs import Outputs
    from dlpy35.studies import cluster, sweep

    try:
        seeds = sweep.parse_seeds(args.seeds)
        for sizes in args.sizes or []:
            check_sizes(sizes)
        etas = [check_eta(e, args.dtype) for e in args.eta]
        lmbdas = [check_lmbda(x) for x in args.lmbda]
        sweep.check_grid(args.sizes or [], seeds, etas, lmbdas)
        if args.ray:  # an address nobody answers at: now, not after Ray's minutes of retries
            cluster.check_ray_address(args.ray)
        outputs = Outputs(data_inputs(args), replace=args.overwrite)
        outputs.directory(args.out, "--out", sweep.FILES, continues=True)
        if args.tensorboard is not None:
            from dlpy35.storage import tensorboard

            tensorboard.check(outputs, args.tensorboard)
    except ValueError as exc:
        p.error(str(exc))
    return seeds, etas, lmbdas, outputs


def _check_out(args, outputs, chunks):
    """--out refused (ValueError) when it holds something other than this sweep, unless --overwrite: chunks
    of other settings (the first one named) or other networks; a rerun of the same sweep continues it.
    With --overwrite the chunks there are removed, as the sweep they made is replaced.  Then ``sweep.json``
    names this sweep's chunks."""
    from dlpy35.studies import sweep

    store = sweep.Store(args.out)
    if args.overwrite:
        store.clear()
    elif any((args.out / name).exists() for name in (sweep.MANIFEST, "chunks")):
        store.check(chunks[0].settings)
        outputs.check_held(args.out, "--out", sweep.FILES, sweep.holds(args.out, chunks), "another sweep",
                           "give that sweep's own flags")
    else:
        outputs.check_held(args.out, "--out", sweep.FILES)
    sweep.write_manifest(args.out, chunks)


def execute(p, args) -> int:
    from dlpy35.cli.progress import EpochBar
    from dlpy35.data import DataError, load_data
    from dlpy35.engine.device import DeviceError
    from dlpy35.engine.population import PopulationError
    from dlpy35.studies import sweep

    prog = p.prog
    seeds, etas, lmbdas, outputs = _check(p, args)
    try:
        data = load_data(args.data_dir, args.dataset)  # fetched and verified once, before any training
        sizes = [network_sizes(s, data) for s in (args.sizes or [None])]
        chunks = sweep.plan(sizes, seeds, etas, lmbdas, settings_of(args, data), args.population_size)
        if not args.ray:  # the device and its memory are known here; on Ray each task checks its own
            for chunk in chunks:
                sweep.population(chunk).check_fits(args.mini_batch_size)
        if args.n_train and args.n_train > len(data.training[0]):
            raise ValueError(f"--n-train {args.n_train}: only "
                             f"{plural(len(data.training[0]), 'training image')}")
        _check_out(args, outputs, chunks)
    except (DataError, DeviceError, PopulationError, ValueError) as exc:
        return fail(prog, exc)
    n_nets = sum(len(c.nets) for c in chunks)
    print(f"sweep: {plural(n_nets, 'network')} in {plural(len(chunks), 'population')}, "
          f"{plural(args.epochs, 'epoch')} each, "
          f"{args.evaluation} data evaluated; results in {args.out}", flush=True)
    bar = EpochBar(args.quiet)

    def log(line):
        bar.close()  # the finished population's bar, before its line
        print(line, flush=True)

    stopped = (f"{prog}: interrupted; the finished populations are kept in {args.out / 'chunks'}, and the "
               "same command trains only the others")
    try:
        with signals.saying(lambda: stopped):
            found = sweep.run(chunks, args.out, args.ray, log=log, progress=bar)
    except (DataError, DeviceError, PopulationError, ValueError) as exc:
        return fail(prog, exc)
    except KeyboardInterrupt:
        print(stopped, file=sys.stderr)
        return INTERRUPTED
    with signals.saying(lambda: signals.while_writing(prog)):
        return _write(prog, args, found, n_nets)


def _write(prog, args, found, n_nets) -> int:
    """Write the sweep's tables and plot into ``--out`` and print its report; the exit status."""
    from dlpy35.studies import sweep

    rows, summary = sweep.gather(found)
    sweep.write(args.out, rows, summary)
    if args.tensorboard is not None:
        from dlpy35.storage.tensorboard import write_rows

        write_rows(args.tensorboard, rows, replace=args.overwrite)
    print(sweep.report(summary, args.evaluation))
    if not args.no_plot:
        try:
            from dlpy35.studies.plots import plot_sweep
        except ImportError as exc:
            return fail(prog, exc)
        title = (f"{plural(n_nets, 'network')}, {args.cost} cost, {plural(args.epochs, 'epoch')}, "
                 f"m = {args.mini_batch_size}")
        plot_sweep(rows, summary, args.out / "sweep.png", title)
    print(f"wrote {args.out / 'epochs.csv'}, {args.out / 'summary.csv'}"
          f"{'' if args.no_plot else ', ' + str(args.out / 'sweep.png')}")
    return 0
