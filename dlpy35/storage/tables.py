"""Training results as CSV tables: one row per network per epoch, and one row per network.

A sweep (``python -m dlpy35 sweep``) writes both for all its networks; a single run
(``scripts/train_gpu.py --run-dir``) writes the same ``epochs.csv`` for its one
network, so that a network of a sweep can be compared line by line with its solo run.
"""

from __future__ import annotations

import csv
import io

from dlpy35.storage.atomic import atomic_write
from dlpy35.storage.bounded import read_bounded

#: ``evaluation_*``: the set a run is judged by (validation or test); ``test_*``: the test set, when the
#: run evaluated it (empty otherwise), so that what validation picks is reported on unseen images.
EPOCH_COLUMNS = ("net", "seed", "eta", "lmbda", "sizes", "epoch", "seconds", "training_cost",
                 "evaluation_correct", "evaluation_total", "test_correct", "test_total")
#: ``best_*``: the epoch of best evaluation accuracy; ``test_*``: the test set's figures at that epoch.
SUMMARY_COLUMNS = ("net", "seed", "eta", "lmbda", "sizes", "best_epoch", "best_correct", "evaluation_total",
                   "test_correct", "test_total", "diverged")


def sizes_text(sizes):
    """``784-30-10``: a network's sizes in one CSV field."""
    return "-".join(str(s) for s in sizes)


def _test(record, test):
    """``{"test_correct", "test_total"}`` of `record`'s set named `test`; empty when it has none."""
    ev = record.evaluations.get(test) if record else None
    return {"test_correct": ev.correct if ev else "", "test_total": ev.total if ev else ""}


def epoch_rows(net, seed, eta, lmbda, sizes, records, evaluated="evaluation", test="test"):
    """The ``epochs.csv`` rows of one network from its :class:`dlpy35.engine.records.EpochRecord` list; the
    ``evaluation_*`` columns hold the set named `evaluated`, the ``test_*`` ones the set named `test`
    (the same name when the evaluated set is the test set)."""
    head = {"net": net, "seed": seed, "eta": eta, "lmbda": lmbda, "sizes": sizes_text(sizes)}
    return [{**head, "epoch": r.epoch, "seconds": r.seconds, "training_cost": r.cost,
             "evaluation_correct": r.evaluations[evaluated].correct,
             "evaluation_total": r.evaluations[evaluated].total, **_test(r, test)} for r in records]


def best_epoch(records, evaluated="evaluation"):
    """The record of best accuracy on the set `evaluated` (the first of equal ones), or None: the one
    place where an epoch is picked from a network's records."""
    return max(records, key=lambda r: (r.evaluations[evaluated].correct, -r.epoch), default=None)


def summary_row(net, seed, eta, lmbda, sizes, records, diverged, evaluated="evaluation", test="test"):
    """The ``summary.csv`` row of one network from its records: its best epoch on the set `evaluated`
    (:func:`best_epoch`), the set `test`'s figures at that epoch, and whether it diverged (the epoch it
    diverged in, or empty)."""
    best = best_epoch(records, evaluated)
    ev = best.evaluations[evaluated] if best else None
    return {"net": net, "seed": seed, "eta": eta, "lmbda": lmbda, "sizes": sizes_text(sizes),
            "best_epoch": best.epoch if best else "", "best_correct": ev.correct if ev else "",
            "evaluation_total": ev.total if ev else "", **_test(best, test),
            "diverged": "" if diverged is None else diverged}


def csv_text(columns, rows):
    out = io.StringIO()
    writer = csv.DictWriter(out, columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def write_csv(path, columns, rows):
    """Write `rows` (dicts) under `columns` to `path`, atomically."""
    with atomic_write(path, "w") as f:
        f.write(csv_text(columns, rows))


#: The most a CSV file read back (a run's ``epochs.csv``) may hold.
CSV_BYTES = 1 << 26


def read_csv(path, limit=CSV_BYTES):
    """The rows of a CSV file written by :func:`write_csv`, as dicts of strings; at most `limit` bytes
    are read (ValueError past them, or for what is not UTF-8 text, OSError when it cannot be read)."""
    text = read_bounded(path, limit).decode("utf-8")
    try:
        return list(csv.DictReader(io.StringIO(text, newline="")))
    except csv.Error as exc:  # a field over csv's limit, a NUL: not a table dlpy35 wrote
        raise ValueError(f"{path}: not a CSV table ({exc})") from None
