"""The book's results table, row by row: each row rerun with the book's hyperparameters, and compared.

:data:`ROWS` holds the twelve results of chapters 1, 3 and 6 that the book reports,
each with the ``dlpy35`` command that reruns it.  :func:`run_row` runs one through
that command (in this process, into a run directory of its own) and reads its
figure back from the files the command wrote; :func:`table` and :func:`markdown`
lay the results out beside the book's.  A row is reproduced when dlpy35's figure is
within :data:`TOLERANCE` points of the book's.
"""

from __future__ import annotations

import csv
import json
import shlex
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Row", "ROWS", "TOLERANCE", "find", "run_row", "status_of", "markdown"]

#: Points of accuracy within which a row counts as reproduced.
TOLERANCE = 0.3


@dataclass(frozen=True)
class Row:
    """One result of the book.

    ``metric`` says which figure of the run is compared: ``best`` (the best evaluation
    accuracy of ``dlpy35 train``), ``test_at_best_validation`` (``train-conv``: the
    test accuracy at the epoch of best validation accuracy, as the book's network3
    reports it) or ``vote`` (the ensemble's plurality vote on the test images).
    """

    name: str
    chapter: int
    network: str
    book: float
    command: str
    argv: tuple[str, ...]
    quick: tuple[str, ...]
    metric: str

    def flags(self, quick=False, extra=()) -> list[str]:
        """The flags of the row's command: the book's run, or (`quick`) its smoke run; then `extra`."""
        return [*(self.quick if quick else self.argv), *extra]

    def shell(self, quick=False, extra=()) -> str:
        """The command line that reruns the row."""
        return shlex.join(["dlpy35", self.command, *self.flags(quick, extra)])


_CH3 = ("--cost", "cross-entropy", "--eta", "0.5", "--lmbda", "5", "--evaluation", "validation")
_QUICK = {"train": ("--epochs", "1", "--n-train", "1000"),
          "train-conv": ("--epochs", "1", "--n-train", "200")}
_CONV2_RELU_EXPANDED = ("--net", "conv2-relu", "--expanded")


def _row(name, chapter, network, book, command, argv=(), metric=None, quick=None):
    """A :class:`Row`; its smoke run is `argv` for one epoch on a slice unless `quick` says otherwise."""
    metric = metric or ("best" if command == "train" else "test_at_best_validation")
    return Row(name, chapter, network, book, command, tuple(argv),
               tuple(quick if quick is not None else (*argv, *_QUICK[command])), metric)


ROWS = (
    _row("ch1-30", 1, "[784,30,10], quadratic, eta 3.0, 30 epochs", 95.42, "train"),
    _row("ch1-100", 1, "[784,100,10], quadratic, eta 3.0, 30 epochs", 96.59, "train",
         ("--sizes", "784", "100", "10")),
    _row("ch3-30", 3, "[784,30,10], cross-entropy, eta 0.5, lambda 5, 30 epochs (validation)", 96.49,
         "train", _CH3),
    _row("ch3-100", 3, "[784,100,10], cross-entropy, lambda 5, 30 epochs at eta 0.5, 60 at 0.1 (validation)",
         98.04, "train", ("--sizes", "784", "100", "10", *_CH3, "--then", "60", "0.1"),
         quick=("--sizes", "784", "100", "10", *_CH3, *_QUICK["train"], "--then", "1", "0.1")),
    _row("ch6-fc", 6, "FC 100 -> softmax, sigmoid, eta 0.1, 60 epochs", 97.80, "train-conv", ("--net", "fc")),
    _row("ch6-conv1", 6, "conv 20x5x5 + pool -> FC 100 -> softmax, sigmoid, eta 0.1, 60 epochs", 98.78,
         "train-conv", ("--net", "conv1")),
    _row("ch6-conv2", 6, "two conv-pool (20, 40) -> FC 100 -> softmax, sigmoid, eta 0.1, 60 epochs", 99.06,
         "train-conv", ("--net", "conv2")),
    _row("ch6-conv2-relu", 6, "the same with ReLU, eta 0.03, lambda 0.1, 60 epochs", 99.23, "train-conv",
         ("--net", "conv2-relu")),
    _row("ch6-expanded", 6, "+ the expanded training set (250,000 images)", 99.37, "train-conv",
         _CONV2_RELU_EXPANDED),
    _row("ch6-extra-fc", 6, "+ a second FC-100 layer", 99.43, "train-conv",
         (*_CONV2_RELU_EXPANDED, "--extra-fc")),
    _row("ch6-dropout", 6, "two FC-1000 layers with dropout 0.5 instead, eta 0.03, 40 epochs", 99.60,
         "train-conv", (*_CONV2_RELU_EXPANDED, "--dropout")),
    _row("ch6-vote", 6, "the plurality vote of five such networks", 99.67, "train-conv",
         (*_CONV2_RELU_EXPANDED, "--dropout", "--ensemble", "5"), metric="vote"),
)


def find(names) -> list[Row]:
    """The rows called `names` (all of them for none); ValueError naming an unknown one."""
    by_name = {r.name: r for r in ROWS}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise ValueError(f"unknown row {unknown[0]!r}; the rows are {', '.join(by_name)} (see --list)")
    return [by_name[n] for n in names] if names else list(ROWS)


def _epochs(run_dir: Path) -> list[dict]:
    """The ``epochs.csv`` rows of the run directory (for an ensemble, its first network's)."""
    with open(run_dir / "epochs.csv") as f:
        return [r for r in csv.DictReader(f) if r["net"] == "0"]


def _figure(row, run_dir: Path) -> float:
    """dlpy35's accuracy (percent) for `row`, read from the files its command wrote into `run_dir`."""
    if row.command == "train":
        return max(100 * int(r["evaluation_correct"]) / int(r["evaluation_total"]) for r in _epochs(run_dir))
    saved = json.loads((run_dir / "history.json").read_text())
    if row.metric == "vote":
        return 100 * saved["vote_test_accuracy"]
    history = saved["runs"][0]["history"]
    # The book's network3 keeps the later of equally good validation epochs (>=).
    best = max(reversed(range(len(history))), key=lambda i: history[i]["validation_correct"])
    return 100 * history[best]["test_correct"] / history[best]["test_total"]


def run_row(row, run_dir, quick=False, extra=(), partial=False):
    """Rerun `row` into `run_dir` through its ``dlpy35`` command; its result (a dict), or raise.

    `extra` flags go after the row's own (``--epochs N`` there makes a `partial` run, never
    compared with the book). The result holds the figure compared, the evaluated set's
    accuracy after each epoch (the curve) and the median seconds per epoch.

    Raises
    ------
    RuntimeError
        The command failed (its own message is printed already).
    """
    from dlpy35.cli import command_main

    run_dir = Path(run_dir)
    own = ["--run-dir", str(run_dir), "--quiet"]
    if row.command == "train-conv":
        own += ["--history", str(run_dir / "history.json")]
    flags = row.flags(quick, extra)
    start = time.perf_counter()
    status = command_main(row.command, [*flags, *own], prog=f"dlpy35 {row.command}")
    seconds = time.perf_counter() - start
    if status:
        raise RuntimeError(f"{row.name}: dlpy35 {row.command} exited {status}")
    got, epochs = _figure(row, run_dir), _epochs(run_dir)
    per_epoch = sorted(float(r["seconds"]) for r in epochs)
    curve = [round(100 * int(r["evaluation_correct"]) / int(r["evaluation_total"]), 2) for r in epochs]
    return {"row": row.name, "chapter": row.chapter, "network": row.network, "dlpy35": round(got, 2),
            "book": row.book, "difference": round(got - row.book, 2), "quick": quick,
            "status": status_of(got, row.book, quick, partial), "seconds": round(seconds, 1),
            "epochs": len(epochs), "curve": curve,
            "seconds_per_epoch": round(per_epoch[len(per_epoch) // 2], 2) if epochs else None,
            "command": row.shell(quick, extra)}


def status_of(got, book, quick=False, partial=False) -> str:
    """``reproduced`` within :data:`TOLERANCE` points of the book, else ``not reproduced``; quick runs
    (a smoke test: one epoch on a slice) and partial ones (fewer epochs than the book's) are never
    compared."""
    if quick or partial:
        return "quick run" if quick else "partial run"
    return "reproduced" if abs(got - book) <= TOLERANCE else "not reproduced"


def markdown(results) -> str:
    """The results as a markdown table, one line per row (rows may come from different devices)."""
    columns = ("row", "network", "dlpy35", "book", "difference", "status", "epochs", "s/epoch", "seconds",
               "device", "command")
    lines = ["| " + " | ".join(columns) + " |", "|" + " --- |" * len(columns)]
    for r in results:
        lines.append(f"| {r['row']} | {r['network']} | {r['dlpy35']:.2f}% | {r['book']:.2f}% | "
                     f"{r['difference']:+.2f} | {r['status']} | {r['epochs']} | {r['seconds_per_epoch']} | "
                     f"{r['seconds']:.0f} | {r['device']} | `{r['command']}` |")
    return "\n".join(lines) + "\n"
