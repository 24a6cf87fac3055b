"""The book's results table, row by row: each row rerun with the book's hyperparameters, and compared.

:data:`ROWS` holds the twelve results of chapters 1, 3 and 6 that the book reports,
each with the settings the book trained it with.  :func:`run_row` trains one through
the book's classes (:mod:`dlpy35.network2` for chapters 1 and 3, :mod:`dlpy35.network3`
or a :class:`dlpy35.engine.population.LayerPopulation` for chapter 6), keeps the run in a
directory of its own (:class:`dlpy35.storage.rundir.RunDir`), checkpointing there after every
epoch, so that a row interrupted (Ctrl-C, a lost machine) resumes from its last checkpoint when it
is run again, and takes its figure from the epochs it trained; :func:`markdown` lays the results
out beside the book's.  A row is
reproduced when dlpy35's figure is within :data:`TOLERANCE` points of the book's.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

from dlpy35.chapter6 import DROPOUT_PRESET, PRESETS
from dlpy35.engine.callbacks import Callback
from dlpy35.storage import tables
from dlpy35.storage.rundir import RunDir

__all__ = ["Row", "ROWS", "TOLERANCE", "HISTORY", "RowError", "find", "row_dir", "row_files", "made_by",
           "run_row", "run_row_away", "named", "status_of", "markdown", "read_results", "test_of_pick"]

#: Points of accuracy within which a row counts as reproduced.
TOLERANCE = 0.3
#: Examples per mini-batch in every row, as in the book.
MINI_BATCH_SIZE = 10


@dataclass(frozen=True)
class Row:
    """One result of the book, and the settings that rerun it.

    ``settings`` are those of the book's run: for chapters 1 and 3, ``sizes``, ``cost``,
    ``eta``, ``lmbda``, ``epochs``, ``then`` (more ``(epochs, eta)`` stages),
    ``evaluation`` (``test`` or ``validation``) and ``n_train`` (None: all the images);
    for chapter 6, ``net`` (a :data:`dlpy35.chapter6.PRESETS` name), ``expanded``,
    ``extra_fc``, ``dropout``, ``ensemble`` (networks that vote), ``eta``, ``lmbda``,
    ``epochs`` and ``n_train``.  ``quick`` holds those its smoke run changes (one epoch on
    a slice).

    ``metric`` says which figure of the run is compared: ``best`` (the best evaluation
    accuracy, chapters 1 and 3), ``test_at_best_validation`` (chapter 6: the test
    accuracy at the epoch of best validation accuracy, as the book's network3 reports
    it) or ``vote`` (the ensemble's plurality vote on the test images).
    """

    name: str
    chapter: int
    network: str
    book: float
    settings: dict = field(hash=False)
    quick: dict = field(hash=False)

    @property
    def metric(self) -> str:
        if self.chapter != 6:
            return "best"
        return "vote" if self.settings["ensemble"] > 1 else "test_at_best_validation"

    def run_settings(self, quick=False) -> dict:
        """The settings of the book's run, or (`quick`) of its smoke run."""
        return {**self.settings, **(self.quick if quick else {})}


_CH1 = {"sizes": (784, 30, 10), "cost": "quadratic", "eta": 3.0, "lmbda": 0.0, "epochs": 30, "then": (),
        "evaluation": "test", "n_train": None}
_CH3 = {**_CH1, "cost": "cross-entropy", "eta": 0.5, "lmbda": 5.0, "evaluation": "validation"}
_QUICK = {1: {"epochs": 1, "n_train": 1000}, 3: {"epochs": 1, "n_train": 1000},
          6: {"epochs": 1, "n_train": 200}}


def _row(name, chapter, network, book, base, quick=None, **settings):
    """A :class:`Row`: `base` with `settings`; its smoke run one epoch on a slice, and then `quick`."""
    return Row(name, chapter, network, book, {**base, **settings}, {**_QUICK[chapter], **(quick or {})})


def _conv(name, network, book, net, dropout=False, **settings):
    """A chapter-6 :class:`Row`: the book's network `net` with its preset's eta, lmbda and epochs."""
    base = {"net": net, "expanded": False, "extra_fc": False, "dropout": dropout, "ensemble": 1,
            "n_train": None, **(DROPOUT_PRESET if dropout else PRESETS[net])}
    return _row(name, 6, network, book, base, **settings)


ROWS = (
    _row("ch1-30", 1, "[784,30,10], quadratic, eta 3.0, 30 epochs", 95.42, _CH1),
    _row("ch1-100", 1, "[784,100,10], quadratic, eta 3.0, 30 epochs", 96.59, _CH1, sizes=(784, 100, 10)),
    _row("ch3-30", 3, "[784,30,10], cross-entropy, eta 0.5, lambda 5, 30 epochs (validation)", 96.49, _CH3),
    _row("ch3-100", 3, "[784,100,10], cross-entropy, lambda 5, 30 epochs at eta 0.5, 60 at 0.1 (validation)",
         98.04, _CH3, sizes=(784, 100, 10), then=((60, 0.1),), quick={"then": ((1, 0.1),)}),
    _conv("ch6-fc", "FC 100 -> softmax, sigmoid, eta 0.1, 60 epochs", 97.80, "fc"),
    _conv("ch6-conv1", "conv 20x5x5 + pool -> FC 100 -> softmax, sigmoid, eta 0.1, 60 epochs", 98.78,
          "conv1"),
    _conv("ch6-conv2", "two conv-pool (20, 40) -> FC 100 -> softmax, sigmoid, eta 0.1, 60 epochs", 99.06,
          "conv2"),
    _conv("ch6-conv2-relu", "the same with ReLU, eta 0.03, lambda 0.1, 60 epochs", 99.23, "conv2-relu"),
    _conv("ch6-expanded", "+ the expanded training set (250,000 images)", 99.37, "conv2-relu", expanded=True),
    _conv("ch6-extra-fc", "+ a second FC-100 layer", 99.43, "conv2-relu", expanded=True, extra_fc=True),
    _conv("ch6-dropout", "two FC-1000 layers with dropout 0.5 instead, eta 0.03, 40 epochs", 99.60,
          "conv2-relu", dropout=True, expanded=True),
    _conv("ch6-vote", "the plurality vote of five such networks", 99.67, "conv2-relu", dropout=True,
          expanded=True, ensemble=5),
)


def find(names) -> list[Row]:
    """The rows called `names` (all of them for none); ValueError naming an unknown one."""
    by_name = {r.name: r for r in ROWS}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise ValueError(f"unknown row {unknown[0]!r}; the rows are {', '.join(by_name)}")
    return [by_name[n] for n in names] if names else list(ROWS)


#: The file beside the run directory's own where a chapter-6 row keeps every network's epochs.
HISTORY = RunDir.HISTORY


def row_dir(row, path, replacing=False):
    """The :class:`dlpy35.storage.rundir.RunDir` of `row` at `path`: its network file is the row's kind;
    `replacing` a run there (``--overwrite``)."""
    return RunDir(path, "network.npz" if row.chapter == 6 else "network.json", replacing=replacing)


def row_files(run):
    """The files a row's run writes into its directory `run` (a :class:`dlpy35.storage.rundir.RunDir`):
    the run directory's own, :data:`HISTORY` and the checkpoint."""
    from dlpy35.storage.checkpoint import FILENAME

    return (*run.names, HISTORY, FILENAME)


def _checkpointing(run, overwrite, log):
    """How a row checkpoints into its directory `run` (``SGD``'s keywords): resuming the checkpoint an
    interrupted run of it left there, unless `overwrite` starts over."""
    from dlpy35.storage import checkpoint

    resume = not overwrite and checkpoint.path_in(run.path).exists()
    if resume:
        log(f"  resuming from {checkpoint.path_in(run.path)}")
    return {"checkpoint_dir": run.path, "resume": resume, "overwrite": overwrite, "verbose": False}


def made_by(row) -> str:
    """What a row's ``args.json`` says made it (the ``command``), so that a rerun knows its own directory."""
    return f"dlpy35.studies.reproduce {row.name}"


def run_row(row, run_dir, quick=False, *, epochs=None, seed=0, device="auto", mode=None, data_dir=None,
            log=print, overwrite=False):
    """Rerun `row` into `run_dir`; its result (a dict).

    Parameters
    ----------
    row : Row
    run_dir : path-like
        Where the run is kept: ``args.json`` (its settings), ``epochs.csv`` (after every
        epoch), the trained network, ``curves.png`` (with matplotlib) and, in chapter 6,
        ``history.json`` (every network's epochs, and the vote).
    quick : bool
        The smoke run: one epoch on a slice; never compared with the book.
    epochs : int, optional
        Train that many epochs instead of the row's first stage's: a partial run, never
        compared with the book.
    seed : int
        The seed of the (first) network's weights and shuffles.
    device, mode
        Where the networks run, as :func:`dlpy35.engine.device.resolve` takes them.
    data_dir : path-like, optional
        MNIST's directory (:func:`dlpy35.data.load_data`).
    log : callable
        Told a line after every epoch.
    overwrite : bool
        Start over where a checkpoint of an interrupted run of the row is (which is otherwise
        resumed: a checkpoint of another run is then refused, CheckpointError).

    Returns
    -------
    dict
        The row, dlpy35's figure compared (``dlpy35``), the book's, the difference and the
        status; the seconds, the epochs, the evaluated set's accuracy after each epoch
        (``curve``), the median seconds per epoch and, for a row that picks its epoch on
        validation data, the test accuracy of that epoch (``test_of_pick``, :func:`test_of_pick`).
    """
    from dlpy35.data import load_data

    s = {**row.run_settings(quick), **({} if epochs is None else {"epochs": epochs}), "seed": seed,
         "device": device, "mode": mode, "data_dir": data_dir}
    run = row_dir(row, run_dir, replacing=overwrite)
    data = load_data(data_dir)
    run.start(made_by(row), SimpleNamespace(**s))
    keep = _checkpointing(run, overwrite, log)
    start = time.perf_counter()
    got, records = (_run_ch6 if row.chapter == 6 else _run_ch1_ch3)(s, data, run, log, keep)
    seconds = time.perf_counter() - start
    per_epoch = sorted(r.seconds for r in records)
    curve = [round(100 * _evaluated(r).accuracy, 2) for r in records]
    return {"row": row.name, "chapter": row.chapter, "network": row.network, "dlpy35": round(got, 2),
            "book": row.book, "difference": round(got - row.book, 2), "quick": quick,
            "status": status_of(got, row.book, quick, epochs is not None), "seconds": round(seconds, 1),
            "epochs": len(records), "curve": curve,
            "test_of_pick": None if row.metric == "vote" else test_of_pick(records),
            "seconds_per_epoch": round(per_epoch[len(per_epoch) // 2], 2) if records else None}


class RowError(ValueError):
    """A row that cannot run with what it was given, in one line: ``ROW: what is wrong``."""


@contextlib.contextmanager
def named(name):
    """Within the block, a row's error for what it was given -- bad data, a device that is not there, a
    network that diverged, a bad setting -- is a :class:`RowError` that names row `name`."""
    from dlpy35.data import DataError
    from dlpy35.engine.device import DeviceError
    from dlpy35.engine.records import TrainingDiverged

    try:
        yield
    except RowError:
        raise
    except (DataError, DeviceError, TrainingDiverged, ValueError) as exc:
        raise RowError(f"{name}: {exc}") from exc


def run_row_away(task):
    """:func:`run_row` as a worker of a cluster runs it: into a temporary directory of the worker's
    machine, whose files go back with the result (the machine that asked keeps the run).

    Parameters
    ----------
    task : tuple
        ``(the row's name, quick, run_row's keywords)``.

    Returns
    -------
    tuple
        ``(the result, the device it trained on described, {file name: bytes} of its run directory's
        files, :func:`row_files`)``;
        a :class:`RowError` for a row that cannot run.
    """
    from dlpy35.engine.device import resolve

    name, quick, options = task
    with named(name), tempfile.TemporaryDirectory(prefix="dlpy35-row-") as tmp:
        path = Path(tmp) / name
        (row,) = find([name])
        result = run_row(row, path, quick, log=lambda line: None, **options)
        # the files the asking machine checked against its output policy (row_files), no others
        files = {f: (path / f).read_bytes() for f in row_files(row_dir(row, path)) if (path / f).is_file()}
        return result, resolve(options["device"], options["mode"]).describe(), files


def status_of(got, book, quick=False, partial=False) -> str:
    """``reproduced`` within :data:`TOLERANCE` points of the book, else ``not reproduced``; quick runs
    (a smoke test: one epoch on a slice) and partial ones (fewer epochs than the book's) are never
    compared."""
    if quick or partial:
        return "quick run" if quick else "partial run"
    return "reproduced" if abs(got - book) <= TOLERANCE else "not reproduced"


#: What a result of ``results.json`` holds, and which of it must be a number (the table formats it).
RESULT_FIELDS = ("row", "network", "dlpy35", "book", "difference", "status", "epochs", "seconds_per_epoch",
                 "seconds", "device", "command")
RESULT_NUMBERS = ("dlpy35", "book", "difference", "seconds")


def read_results(path) -> dict:
    """The results kept in `path` (a ``results.json`` of :func:`markdown`'s results), by row name: {}
    when there is no file; ValueError in one line, naming the file and what is wrong, when it holds no
    such results (a table built from them would fail half-way)."""
    from dlpy35.storage.bounded import read_json

    try:
        doc = read_json(path)
        results = doc["results"]
        if not isinstance(results, list):
            raise TypeError("'results' is not a list")
        for r in results:
            if not isinstance(r, dict):
                raise TypeError("a result is not an object")
            missing = [k for k in RESULT_FIELDS if k not in r]
            if missing:
                raise KeyError(", ".join(missing))
            if not all(isinstance(r[k], (int, float)) and not isinstance(r[k], bool) for k in RESULT_NUMBERS):
                raise TypeError(f"{', '.join(RESULT_NUMBERS)} must be numbers")
        return {str(r["row"]): r for r in results}
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ValueError(f"{path}: cannot be read ({exc.strerror})") from None
    except (ValueError, KeyError, TypeError) as exc:
        why = f"missing {exc.args[0]}" if isinstance(exc, KeyError) else str(exc).splitlines()[0]
        raise ValueError(f"{path}: not a results file of dlpy35 reproduce ({why})") from None


def markdown(results) -> str:
    """The results as a markdown table, one line per row (rows may come from different devices)."""
    columns = ("row", "network", "dlpy35", "book", "difference", "test of pick", "status", "epochs",
               "s/epoch", "seconds", "device", "command")
    lines = ["| " + " | ".join(columns) + " |", "|" + " --- |" * len(columns)]
    for r in results:
        pick = r.get("test_of_pick")  # absent from results of before; None: nothing picked on validation
        lines.append(f"| {r['row']} | {r['network']} | {r['dlpy35']:.2f}% | {r['book']:.2f}% | "
                     f"{r['difference']:+.2f} | {'-' if pick is None else f'{pick:.2f}%'} | {r['status']} | "
                     f"{r['epochs']} | {r['seconds_per_epoch']} | "
                     f"{r['seconds']:.0f} | {r['device']} | `{r['command']}` |")
    return "\n".join(lines) + "\n"


def _evaluated(record):
    """The :class:`dlpy35.engine.records.Evaluation` a row's epoch is judged by: chapter 6's validation
    set, or the one set chapters 1 and 3 evaluate."""
    return record.evaluations.get("validation") or record.evaluations["evaluation"]


class RowProgress(Callback):
    """The first network's epochs, as they end: a line to `log`, and the run directory's ``epochs.csv``.

    Parameters
    ----------
    s : dict
        The row's run settings (``seed``, ``eta``, ``lmbda``).
    sizes : list
        What ``epochs.csv``'s ``sizes`` column says of the network.
    run_dir : dlpy35.storage.rundir.RunDir
    log : callable
    """

    def __init__(self, s, sizes, run_dir, log):
        self.s, self.sizes, self.run_dir, self.log = s, sizes, run_dir, log
        self.records = []  # the first network's, so far

    def on_epoch(self, trainer, run, record):
        self.records = mine = first_network(run.records)
        if mine and mine[-1].epoch == record.epoch:  # a first network that diverged says no more
            ev = _evaluated(mine[-1])
            self.log(f"  epoch {record.epoch}: {100 * ev.accuracy:.2f}% ({record.seconds:.1f} s)")
        judged = "validation" if mine and "validation" in mine[0].evaluations else "evaluation"
        test = "test" if mine and "test" in mine[0].evaluations else "evaluation"  # chapter 1: the same set
        s = self.s
        self.run_dir.epochs(tables.epoch_rows(0, s["seed"], s["eta"], s["lmbda"], self.sizes, mine, judged,
                                              test))


def first_network(records):
    """The first network's :class:`dlpy35.engine.records.EpochRecord` list, from a run's records (one
    network's, or a population's, where it stops at the epoch it diverged in)."""
    return [r for r in (rec.per_network()[0][1] for rec in records) if r is not None]


def at_best_validation(records):
    """Chapter 6's figure: the test accuracy at the epoch of best validation accuracy, the later of
    equally good ones (the book's network3 keeps a new best on ``>=``); 0.0 without epochs."""
    best = max(reversed(records), key=lambda r: r.evaluations["validation"].correct, default=None)
    return 0.0 if best is None else best.evaluations["test"].accuracy


def test_of_pick(records):
    """The test accuracy in percent of the epoch picked on validation data: chapter 6's
    (:func:`at_best_validation`), or a chapter-3 row's best validation epoch
    (:func:`dlpy35.storage.tables.best_epoch`); None for a row that evaluates the test set
    alone (chapter 1's, as the book does), which picks nothing on validation data."""
    if not records or "test" not in records[0].evaluations:
        return None
    if "validation" in records[0].evaluations:
        return round(100 * at_best_validation(records), 2)
    return round(100 * tables.best_epoch(records).evaluations["test"].accuracy, 2)


def _curves(records):
    """``draw(path)`` for :meth:`dlpy35.storage.rundir.RunDir.finish`: evaluated accuracy, training cost."""
    from dlpy35.studies.plots import plot_history

    curves = {"training_cost": [r.cost for r in records],
              "evaluation_accuracy": [_evaluated(r).correct for r in records]}
    return lambda path: records and plot_history(curves, path, n_eval=_evaluated(records[0]).total)


def _record(s, data, records, names=None):
    """What a row's saved network records (:mod:`dlpy35.storage.metadata`): `data`, the row's settings `s`
    and its (first network's) `records`."""
    from dlpy35.storage.metadata import Metadata, run_results

    return Metadata.of(data, {"command": "dlpy35 reproduce", "args": s}, run_results(records, names))


def _run_ch1_ch3(s, data, run, log, keep):
    """Train a chapter-1 or -3 row with :class:`dlpy35.network2.Network`, its stages in one run,
    checkpointing as `keep` says.

    Returns
    -------
    tuple
        ``(the best evaluation accuracy in percent, the epochs' records)``.
    """
    from dlpy35.network2 import Network

    init = "large" if s["cost"] == "quadratic" else "default"  # the book's, for each cost
    on_test = s["evaluation"] == "test"
    net = Network(list(s["sizes"]), cost=s["cost"], seed=s["seed"], mode=s["mode"], device=s["device"],
                  weight_init=init)
    progress = RowProgress(s, net.sizes, run, log)
    net.SGD(tuple(a[: s["n_train"]] for a in data.training), s["epochs"], MINI_BATCH_SIZE, s["eta"],
            lmbda=s["lmbda"], then=s["then"], monitor_evaluation_accuracy=True,
            evaluation_data=data.test if on_test else data.validation, callbacks=[progress],
            test_data=None if on_test else data.test, **keep)  # a validation row: what it picks, on test data
    records = progress.records
    net.metadata = _record(s, data, records, {"evaluation": s["evaluation"]})
    run.finish(net, _curves(records))
    return 100 * max((_evaluated(r).accuracy for r in records), default=0.0), records


def _run_ch6(s, data, run, log, keep):
    """Train a chapter-6 row: one :class:`dlpy35.network3.Network`, or an ensemble as one population,
    checkpointing as `keep` says.

    Returns
    -------
    tuple
        ``(the figure compared in percent, the first network's records)``.
    """
    from dlpy35.data.expand import load_expanded
    from dlpy35.storage.atomic import atomic_write

    if s["expanded"]:
        data = data._replace(training=load_expanded(s["data_dir"], verbose=True))
    training = tuple(a[: s["n_train"]] for a in data.training)
    net, networks, vote = _train_ch6(s, training, data, run, log, keep)
    first = networks[0]
    net.metadata = _record(s, data, first)
    run.finish(net, _curves(first))
    with atomic_write(run.path / HISTORY, "w") as f:
        json.dump({"args": {k: v for k, v in s.items() if k != "data_dir"},
                   "runs": [{"seed": s["seed"] + k, "history": [r.flat() for r in mine]}
                            for k, mine in enumerate(networks)],
                   "vote_test_accuracy": vote}, f, indent=1, default=str)
    return 100 * (at_best_validation(first) if vote is None else vote), first


def _train_ch6(s, training, data, run, log, keep):
    """Train `s`'s chapter-6 network, or its ensemble as one population; the first network's epochs go to
    `run` and `log` as they end.

    Returns
    -------
    tuple
        ``(the first network, each network's records, the vote's test accuracy or None)``.
    """
    import numpy as np

    from dlpy35 import network3
    from dlpy35.chapter6 import book_layers
    from dlpy35.engine.population import LayerPopulation

    val, test = data.validation, data.test
    layers = book_layers(s["net"], MINI_BATCH_SIZE, s["dropout"], data.n_classes, s["extra_fc"])
    progress = RowProgress(s, [s["net"]], run, log)
    if s["ensemble"] == 1:
        net = network3.Network(layers, MINI_BATCH_SIZE, seed=s["seed"], mode=s["mode"], device=s["device"])
        net.SGD(training, s["epochs"], MINI_BATCH_SIZE, s["eta"], val, test, s["lmbda"], callbacks=[progress],
                **keep)
        return net, [net.records], None
    seeds = list(range(s["seed"], s["seed"] + s["ensemble"]))
    pop = LayerPopulation(layers, MINI_BATCH_SIZE, seeds, s["eta"], s["lmbda"], mode=s["mode"],
                          device=s["device"])
    pop.SGD(training, s["epochs"], val, test, callbacks=[progress], **keep)
    return pop.network(0), pop.records, float(np.mean(pop.vote(test[0]) == test[1]))
