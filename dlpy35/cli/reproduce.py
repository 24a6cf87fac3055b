"""Rerun the book's results with the book's hyperparameters and compare: the results table.

Each ROW (``--list`` shows the twelve) is rerun with the book's settings, as its own
``dlpy35 train`` or ``dlpy35 train-conv`` command would, into ``--out DIR/ROW``, and
``DIR/results.md`` and ``DIR/results.json`` get dlpy35's figure, the book's, the
difference, the seconds, the device and that command, after every row.  A row whose result is
already in ``--out`` (from the same command) is not run again, and a row interrupted goes on from its
last checkpoint (``--out DIR/ROW/checkpoint.npz``; ``--overwrite`` starts it over).  Within 0.3 points
of the book counts as reproduced.  ``--quick`` runs every row for one epoch on a
slice: a smoke test, not a comparison; ``--epochs N`` a partial run of N epochs, for
rows too long for the machine (their curve and seconds per epoch).  ``--ray auto|ADDRESS``
runs every row at once as a task on a Ray cluster (a GPU each, where the cluster has
them): each row's run directory comes back into ``--out`` and the table is written as
each row finishes, so that a rerun keeps the rows done.

Examples::

    dlpy35 reproduce --list
    dlpy35 reproduce ch1-30 ch3-30               # minutes on a CPU
    dlpy35 reproduce --quick --out runs/smoke     # every row, one epoch each
    dlpy35 reproduce ch6-dropout ch6-vote --device cuda
    dlpy35 reproduce ch6-expanded --epochs 3 --out runs/partial
    dlpy35 reproduce --ray auto --out runs/cluster  # the whole table on a Ray cluster
"""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

from dlpy35.cli import signals
from dlpy35.cli.common import (
    INTERRUPTED,
    add_data_flags,
    add_device_flags,
    add_overwrite_flag,
    data_inputs,
    fail,
    natural_int,
    positive_int,
)


def configure(p):
    p.add_argument("rows", nargs="*", metavar="ROW", help="the rows to rerun (default: all; see --list)")
    p.add_argument("--list", action="store_true", help="list the rows and exit")
    p.add_argument("--quick", action="store_true", help="one epoch on a slice per row: a smoke test")
    p.add_argument("--epochs", type=positive_int, default=None, metavar="N",
                   help="a partial run: N epochs of each row (its curve and seconds per epoch; not compared)")
    p.add_argument("--out", type=Path, default=Path("runs/reproduce"), metavar="DIR",
                   help="where the runs and the results table go")
    p.add_argument("--seed", type=natural_int, default=None,
                   help="every row's seed (default: the commands' own, 0)")
    add_overwrite_flag(p, "what --out holds when it is not this table's: another run, or a row's run by "
                          "another command")
    p.add_argument("--ray", default=None, metavar="ADDRESS",
                   help="run each row as a task on a Ray cluster (on a GPU where it has them): auto, or the "
                        "cluster's address")
    add_device_flags(p)
    add_data_flags(p)


#: The results table's files in --out: the JSON a rerun reads back, and the markdown.
TABLE = ("results.json", "results.md")
#: The command that reruns a row, by chapter.
COMMANDS = {1: "train", 3: "train", 6: "train-conv"}


def _text(value) -> str:
    """A setting as a flag's value: ``5`` for 5.0, as a user writes it."""
    return value if isinstance(value, str) else f"{value:g}"


def _changed(s, defaults):
    """``--key value`` for each of `defaults`' settings whose value in `s` differs."""
    return [arg for key, default in defaults.items() if s[key] != default
            for arg in (f"--{key.replace('_', '-')}", _text(s[key]))]


def _train_defaults() -> dict:
    """``dlpy35 train``'s defaults of the settings a chapter-1 or -3 row gives."""
    from dlpy35.cli import train
    from dlpy35.cli.common import ArgumentParser

    p = ArgumentParser()
    train.configure(p)
    return {key: p.get_default(key) for key in ("cost", "eta", "lmbda", "evaluation", "epochs")}


def flags(row, quick=False) -> list[str]:
    """The flags of the row's command that train as :func:`dlpy35.studies.reproduce.run_row` does: the book's
    run, or (`quick`) its smoke run; the command's defaults left out."""
    from dlpy35.chapter6 import DROPOUT_PRESET, PRESETS

    s = row.run_settings(quick)
    if row.chapter == 6:
        out = ["--net", s["net"], *(f"--{k.replace('_', '-')}" for k in ("expanded", "extra_fc", "dropout")
                                    if s[k])]
        out += _changed(s, {"ensemble": 1, **(DROPOUT_PRESET if s["dropout"] else PRESETS[s["net"]])})
    else:
        out = [] if tuple(s["sizes"]) == (784, 30, 10) else ["--sizes", *map(str, s["sizes"])]  # MNIST's
        out += _changed(s, _train_defaults())
    out += ["--n-train", str(s["n_train"])] if s["n_train"] else []
    return out + [arg for epochs, eta in s.get("then", ()) for arg in ("--then", str(epochs), _text(eta))]


def shell(row, quick=False, extra=()) -> str:
    """The command line that reruns the row: its command, its flags, then `extra`."""
    return shlex.join(["dlpy35", COMMANDS[row.chapter], *flags(row, quick), *extra])


def _listing(rows) -> str:
    width = max(len(r.name) for r in rows)
    return "\n".join(f"{r.name:<{width}}  ch. {r.chapter}  {r.book:.2f}%  {r.network}\n"
                     f"{'':<{width}}  {shell(r)}" for r in rows)


def _extra(args):
    """Flags every row's command gets from this one."""
    extra = ["--device", args.device]
    if args.epochs is not None:  # after the row's own flags: the last --epochs is the one argparse keeps
        extra += ["--epochs", str(args.epochs)]
    for flag, value in (("--seed", args.seed), ("--mode", args.mode), ("--data-dir", args.data_dir)):
        if value is not None:
            extra += [flag, str(value)]
    return extra


def execute(p, args) -> int:
    from dlpy35.studies import reproduce

    try:
        rows = reproduce.find(args.rows)
    except ValueError as exc:
        p.error(f"{exc} (see --list)")
    if args.list:
        print(_listing(rows))
        return 0
    if args.dataset:
        p.error("--dataset: the book's results are on MNIST; reproduce takes no other data set")
    kept = _results(args.out / TABLE[0])
    try:
        _check_out(args, rows, kept)
    except ValueError as exc:
        p.error(str(exc))
    kept = kept or {}
    todo = [row for row in rows if not _kept(args, row, kept)]
    try:
        run = _on_ray if args.ray else _here
        status = run(p.prog, args, todo, lambda *done: _finished(p.prog, args, kept, *done)) if todo else 0
    except ValueError as exc:
        return fail(p.prog, exc)
    if status:
        return status
    print(reproduce.markdown([kept[row.name] for row in rows]), end="")
    return 0


def _kept(args, row, kept) -> bool:
    """Whether `row`'s result is in the table already, from the same command (then it is not run again)."""
    old = kept.get(row.name)
    if old and old.get("command") == shell(row, args.quick, _extra(args)):
        print(f"{row.name}: kept from {args.out / TABLE[0]} ({old['dlpy35']:.2f}%)", flush=True)
        return True
    return False


def _options(args) -> dict:
    """:func:`dlpy35.studies.reproduce.run_row`'s keywords from the flags (a path absolute, for a worker of
    a cluster that runs elsewhere)."""
    return {"epochs": args.epochs, "seed": 0 if args.seed is None else args.seed, "device": args.device,
            "mode": args.mode, "data_dir": args.data_dir and args.data_dir.resolve(),
            "overwrite": args.overwrite}


def _run_row(row, *how, **options):
    """:func:`dlpy35.studies.reproduce.run_row`, its errors naming the row."""
    from dlpy35.studies import reproduce

    with reproduce.named(row.name):
        return reproduce.run_row(row, *how, **options)


def _interruptible(prog, stopped, call, *how, **options):
    """``call(*how, **options)``, its value; an interruption or a row's error
    (:class:`dlpy35.studies.reproduce.RowError`) is one line -- `stopped`, or the error -- and its exit
    status."""
    from dlpy35.studies.reproduce import RowError

    try:
        with signals.saying(lambda: stopped):
            return call(*how, **options)
    except RowError as exc:
        return fail(prog, exc)
    except KeyboardInterrupt:
        print(stopped, file=sys.stderr)
        return INTERRUPTED


def _here(prog, args, rows, finished) -> int:
    """Rerun `rows` one after another on this machine; `finished(row, result, device)` after each: 0,
    or the exit status of the row that failed."""
    from dlpy35.engine.device import DeviceError, resolve

    try:
        device = resolve(args.device, args.mode).describe()
    except DeviceError as exc:
        return fail(prog, exc)
    for row in rows:
        print(f"{row.name}: {shell(row, args.quick, _extra(args))}", flush=True)
        stopped = (f"{prog}: interrupted in {row.name}; the rows finished are in {args.out / TABLE[0]}, and "
                   f"the same command goes on from {row.name}'s last checkpoint")
        result = _interruptible(prog, stopped, _run_row, row, args.out / row.name, args.quick,
                                **_options(args))
        if isinstance(result, int):
            return result
        finished(row, result, device)
    return 0


def _on_ray(prog, args, rows, finished) -> int:
    """Rerun `rows` as tasks on the Ray cluster at ``--ray``, all at once, each on a worker of its own
    (with a GPU where the cluster has them); `finished` as each ends, with the row's files written
    back here into its directory, and the worker's device: 0, or the exit status of a row that failed."""
    from dlpy35.studies import cluster, reproduce

    by_name = {row.name: row for row in rows}
    for row in rows:
        print(f"{row.name}: {shell(row, args.quick, _extra(args))} (a Ray task)", flush=True)

    def done(away):
        result, device, files = away
        _write_row(prog, args.out / result["row"], files)
        finished(by_name[result["row"]], result, device)

    tasks = [(row.name, args.quick, _options(args)) for row in rows]
    stopped = f"{prog}: interrupted; the rows finished are in {args.out / TABLE[0]}"
    return _interruptible(prog, stopped, cluster.run_tasks, reproduce.run_row_away, tasks, args.ray,
                          done) or 0


def _write_row(prog, directory, files):
    """Write a row's run directory, as a worker made it (`files`: name -> bytes), each file atomically."""
    from dlpy35.storage.atomic import atomic_write

    directory.mkdir(parents=True, exist_ok=True)
    with signals.saying(lambda: signals.while_writing(prog)):
        for name, data in files.items():
            with atomic_write(directory / Path(name).name, "wb") as f:
                f.write(data)


def _finished(prog, args, kept, row, result, device):
    """A row's `result` into the table: its line printed, and ``results.json`` and ``results.md``
    written with every row kept so far (ValueError in one line when they cannot be)."""
    from dlpy35.studies import reproduce

    kept[row.name] = {**result, "command": shell(row, args.quick, _extra(args)), "device": device}
    pick = result["test_of_pick"]
    print(f"{row.name}: {result['dlpy35']:.2f}% (book {row.book:.2f}%, {result['difference']:+.2f})"
          f"{'' if pick is None else f', test accuracy of the epoch picked on validation {pick:.2f}%'}: "
          f"{result['status']}, {result['seconds']:.0f} s", flush=True)
    network = reproduce.row_dir(row, args.out / row.name).network
    with signals.saying(lambda: signals.while_writing(prog)):
        _write_table(args.out, list(kept.values()), network)


def _write_table(out, results, network):
    """Write ``results.json`` and ``results.md`` in `out`; OutputError (one line, saying that the row's
    trained `network` is saved) when one cannot be written."""
    from dlpy35.storage.atomic import atomic_write
    from dlpy35.storage.outputs import Finisher
    from dlpy35.studies import reproduce

    def table(path):
        with atomic_write(path, "w") as f:
            if path.suffix == ".json":
                json.dump({"results": results}, f, indent=1)
            else:
                f.write(reproduce.markdown(results))

    keep = Finisher(None, network.suffix, saved=network)
    for name in TABLE:
        keep.write(out / name, "--out", table)


def _results(path):
    """The results the table at `path` keeps, by row: {} when there is no file, None when the file is not a
    results table (then --out holds something else)."""
    from dlpy35.studies import reproduce

    try:
        return reproduce.read_results(path)
    except ValueError:
        return None


def _check_out(args, rows, kept):
    """--out and the directory of each row to run checked against the output policy before any row runs.

    --out may hold this table (a results.json of results), which goes on; a row's directory may hold an
    unfinished run of the same row, which goes on from its checkpoint.  Anything else there needs --overwrite:
    another run, or a row kept in the table from another command.
    """
    from dlpy35.storage.outputs import Outputs
    from dlpy35.studies import cluster, reproduce

    if args.ray:  # an address nobody answers at: now, not after Ray's minutes of retries
        cluster.check_ray_address(args.ray)
    outputs = Outputs(data_inputs(args), replace=args.overwrite)
    table = kept is not None and (args.out / TABLE[0]).exists()  # this table, to go on with
    outputs.directory(args.out, "--out", TABLE, continues=table)
    for row in rows:
        old = (kept or {}).get(row.name)
        if old and old.get("command") == shell(row, args.quick, _extra(args)):
            continue  # kept, not run again
        run = reproduce.row_dir(row, args.out / row.name)
        outputs.directory(run.path, "--out", reproduce.row_files(run),
                          continues=old is None and _made_by(run, reproduce.made_by(row)))


def _made_by(run, command) -> bool:
    """Whether the run directory `run` was made by `command` (its ``args.json`` says so)."""
    from dlpy35.storage.bounded import read_json

    try:
        return read_json(run.path / run.ARGS)["command"] == command
    except (OSError, ValueError, KeyError, TypeError):
        return False
