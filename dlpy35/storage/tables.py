"""Training results as CSV tables: one row per network per epoch, and one row per network.

A sweep (``python -m dlpy35 sweep``) writes both for all its networks; a single run
(``scripts/train_gpu.py --run-dir``) writes the same ``epochs.csv`` for its one
network, so that a network of a sweep can be compared line by line with its solo run.
"""

from __future__ import annotations

import csv
import io

from dlpy35.storage.atomic import atomic_write

EPOCH_COLUMNS = ("net", "seed", "eta", "lmbda", "sizes", "epoch", "seconds", "training_cost",
                 "evaluation_correct", "evaluation_total")
SUMMARY_COLUMNS = ("net", "seed", "eta", "lmbda", "sizes", "best_epoch", "best_correct", "evaluation_total",
                   "diverged")


def sizes_text(sizes):
    """``784-30-10``: a network's sizes in one CSV field."""
    return "-".join(str(s) for s in sizes)


def epoch_rows(net, seed, eta, lmbda, sizes, records, evaluated="evaluation"):
    """The ``epochs.csv`` rows of one network from its :class:`dlpy35.engine.records.EpochRecord` list; the
    ``evaluation_*`` columns hold the set named `evaluated`."""
    head = {"net": net, "seed": seed, "eta": eta, "lmbda": lmbda, "sizes": sizes_text(sizes)}
    return [{**head, "epoch": r.epoch, "seconds": r.seconds, "training_cost": r.cost,
             "evaluation_correct": r.evaluations[evaluated].correct,
             "evaluation_total": r.evaluations[evaluated].total} for r in records]


def summary_row(net, seed, eta, lmbda, sizes, records, diverged, evaluated="evaluation"):
    """The ``summary.csv`` row of one network from its records: its best epoch on the set `evaluated`
    (the first of equal ones) and whether it diverged (the epoch it diverged in, or empty)."""
    best = max(records, key=lambda r: (r.evaluations[evaluated].correct, -r.epoch), default=None)
    ev = best.evaluations[evaluated] if best else None
    return {"net": net, "seed": seed, "eta": eta, "lmbda": lmbda, "sizes": sizes_text(sizes),
            "best_epoch": best.epoch if best else "", "best_correct": ev.correct if ev else "",
            "evaluation_total": ev.total if ev else "", "diverged": "" if diverged is None else diverged}


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


def read_csv(path):
    """The rows of a CSV file written by :func:`write_csv`, as dicts of strings."""
    with open(path, newline="") as f:
        return list(csv.DictReader(f))
