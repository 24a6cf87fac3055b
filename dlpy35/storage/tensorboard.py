"""TensorBoard's event files of a run's per-epoch figures (``--tensorboard DIR``), written by tensorboardX.

Each network's scalars are tagged by network -- ``net0/minibatch_cost`` (the epoch's
mean of its mini-batches' costs), ``net0/eta``, ``net0/evaluation_accuracy``,
``net3/validation_cost`` (each evaluated set's accuracy and mean cost) -- and stepped
by epoch, so ``tensorboard --logdir DIR`` draws one curve per network.  tensorboardX (the
``tensorboard`` extra) writes the files; it is imported only when asked for, and its
absence is one line before any work (:func:`check`).

An event file is a log appended to as the run goes (flushed after every epoch), not a
file written whole: a run that ends abruptly leaves its last record cut short, which
TensorBoard's reader ignores.  A directory holding event files is an earlier run's:
the output policy refuses it unless ``--overwrite`` (which removes those files first)
or ``--resume`` (which adds the resumed epochs in a file of its own beside them).
"""

from __future__ import annotations

from pathlib import Path

from dlpy35.engine.callbacks import Callback

__all__ = ["EVENTS", "MISSING", "check", "Scalars", "TensorBoard", "record_scalars", "row_scalars",
           "write_rows"]

#: The names tensorboardX gives its event files.
EVENTS = "events.out.tfevents.*"
MISSING = "--tensorboard needs tensorboardX: pip install 'dlpy35[tensorboard]'"


def event_files(directory) -> list[Path]:
    """The event files in `directory` (none when it is not a directory)."""
    directory = Path(directory)
    return sorted(directory.glob(EVENTS)) if directory.is_dir() else []


def check(outputs, directory, flag="--tensorboard") -> Path:
    """`directory` checked before any work: tensorboardX there (ValueError :data:`MISSING` otherwise),
    and the directory through the output policy (:meth:`dlpy35.storage.outputs.Outputs.directory`:
    refused, in one line, when it holds event files and `outputs` may not replace them)."""
    try:
        import tensorboardX  # noqa: F401 (only asked whether it is there)
    except ImportError:
        raise ValueError(MISSING) from None
    return outputs.directory(directory, flag, [path.name for path in event_files(directory)])


class Scalars:
    """A writer of per-epoch scalars into `directory`, opened at the first write.

    Parameters
    ----------
    directory : path-like
        Checked by :func:`check` already.
    replace : bool
        Remove the event files there before the first write (``--overwrite``); otherwise they stay
        and this writer's file goes beside them (``--resume``).
    """

    def __init__(self, directory, replace=False):
        self.directory, self.replace = Path(directory), replace
        self._writer = None

    def write(self, name, step, values) -> None:
        """Add `values` (``{key: number}``) as ``name/key`` at `step`."""
        if self._writer is None:
            from tensorboardX import SummaryWriter

            for path in event_files(self.directory) if self.replace else ():
                path.unlink()
            self.replace = False  # the files from now on are this run's
            self._writer = SummaryWriter(str(self.directory))
        for key, value in values.items():
            self._writer.add_scalar(f"{name}/{key}", value, step)

    def flush(self) -> None:
        """Put what was written on disk (an epoch's scalars, so that TensorBoard sees them now)."""
        if self._writer is not None:
            self._writer.flush()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def record_scalars(record) -> dict:
    """One network's scalars of one epoch, from its :class:`dlpy35.engine.records.EpochRecord`:
    ``minibatch_cost`` (the mean of the epoch's mini-batches' costs), ``eta``, and each evaluated set's
    ``<set>_accuracy`` and ``<set>_cost`` (the mean over its examples; ``training_cost`` is the
    training set's, evaluated after the epoch)."""
    values = {"minibatch_cost": record.cost, "eta": record.eta}
    for name, ev in record.evaluations.items():
        values[f"{name}_accuracy"] = ev.accuracy
        values[f"{name}_cost"] = ev.cost / ev.total
    return values


def row_scalars(row) -> dict:
    """One network's scalars of one epoch from its row of a sweep's ``epochs.csv``
    (:func:`dlpy35.storage.tables.epoch_rows`)."""
    return {"minibatch_cost": row["training_cost"],
            "evaluation_accuracy": row["evaluation_correct"] / row["evaluation_total"]}


def write_rows(directory, rows, replace=False) -> None:
    """Write a sweep's ``epochs.csv`` `rows` as every network's scalars, tagged ``net{net}``: when the sweep
    ends, its chunks trained by earlier runs of it included (a sweep on Ray trains them elsewhere)."""
    scalars = Scalars(directory, replace)
    for row in rows:
        scalars.write(f"net{row['net']}", row["epoch"], row_scalars(row))
    scalars.close()


class TensorBoard(Callback):
    """Writes every committed epoch's scalars of each network (``net{k}/...``), flushed per epoch; closes
    the writer once the run ends (or is interrupted).

    Parameters
    ----------
    scalars : Scalars
    """

    def __init__(self, scalars):
        self.scalars = scalars

    def on_epoch(self, trainer, run, record):
        for k, (_, mine) in enumerate(record.per_network()):
            if mine is not None:  # a population's network that diverged has no record from then on
                self.scalars.write(f"net{k}", record.epoch, record_scalars(mine))
        self.scalars.flush()
        if run.state["epoch"] >= run.epochs or run.state["stopped"]:
            self.scalars.close()

    def on_interrupt(self, trainer, run):
        self.scalars.close()
