"""Policies a trainer consults between epochs, each a small object (as Keras' callbacks are).

:meth:`dlpy35.engine.trainer.Trainer.train` calls each callback's :meth:`Callback.on_start`
before the first epoch it trains (a resumed run's state in place), then, for every epoch,
:meth:`Callback.after_epoch` once the epoch is trained and evaluated (it may
print, change eta or return a reason to stop), then, once the epoch is committed,
:meth:`Callback.on_epoch`; on Ctrl-C, after the state of the last completed epoch
is put back, :meth:`Callback.on_interrupt`; during an epoch, as its mini-batches are done,
:meth:`Callback.on_batches` (a progress bar).  A policy that needs memory across
epochs keeps it in ``run.state``, which a checkpoint saves and a resume restores.
"""

from __future__ import annotations

import warnings

from dlpy35.engine.arguments import check_count, check_eta
from dlpy35.engine.records import SaturationWarning, TrainingSaturated, saturation
from dlpy35.text import plural

SCHEDULE_FLOOR = 128  # the schedule stops when eta has fallen to eta0 / 128


class Callback:
    """A policy's moments; each does nothing unless a subclass says otherwise.

    Attributes
    ----------
    shows_batches : bool
        :meth:`on_batches` shows the work done to someone (a bar drawn, a line printed): the trainer
        then waits for the device to finish each chunk of mini-batches before telling it, so that
        what is shown is done, not merely dispatched (JAX runs asynchronously).  Otherwise the
        trainer does not wait, and the device runs ahead.
    """

    shows_batches = False

    def on_start(self, trainer, run):
        """Before the first epoch this call trains (``run.state`` and ``run.records`` hold a resumed
        run's), once any checkpoint to resume has been checked and restored."""

    def after_epoch(self, trainer, run, record):
        """After epoch ``record.epoch`` is trained and evaluated, before it is committed: a reason to stop,
        or None.  Raising :class:`dlpy35.engine.records.TrainingDiverged` puts back the last committed
        epoch."""
        return None

    def on_epoch(self, trainer, run, record):
        """After the epoch is committed (``run.state`` and ``run.records`` hold it)."""

    def on_interrupt(self, trainer, run):
        """After Ctrl-C, once the last completed epoch's state is back."""

    def on_batches(self, trainer, run, epoch, done, total):
        """During epoch `epoch`: `done` of its `total` mini-batches are trained (0 as the epoch starts,
        then after every chunk of a scan epoch, every tenth mini-batch of a step epoch, and the last)."""


class Progress(Callback):
    """Calls ``fn(epoch, batches_done, n_batches)`` as an epoch's mini-batches are done: a progress bar's
    callable (:class:`dlpy35.cli.progress.EpochBar`), the book's ``Training mini-batch number`` lines."""

    def __init__(self, fn):
        self.fn = fn
        # A bar that draws nothing (--quiet, a log) says so; any other callable is taken to show.
        self.shows_batches = bool(getattr(fn, "enabled", True))

    def on_batches(self, trainer, run, epoch, done, total):
        self.fn(epoch, done, total)


class OnEpoch(Callback):
    """Calls ``fn(record)`` after every committed epoch: a caller's own hook (printing, files)."""

    def __init__(self, fn):
        self.fn = fn

    def on_epoch(self, trainer, run, record):
        self.fn(record)


class SaturationCheck(Callback):
    """Warn once per network when :func:`dlpy35.engine.records.saturation` finds it saturated; or stop.

    Parameters
    ----------
    stop : bool
        Raise :class:`dlpy35.engine.records.TrainingSaturated` instead of warning (the
        trainer then puts back the weights of the previous epoch).
    """

    def __init__(self, stop=False):
        self.stop = stop

    def after_epoch(self, trainer, run, record):
        warned = run.state.setdefault("saturation_warned", [])
        before = run.records[-2].per_network() if len(run.records) > 1 else None
        for k, (name, now) in enumerate(record.per_network()):
            if now is None or (k in warned and not self.stop):
                continue  # once per network: a slow one stays flat for many epochs, and one line says it
            msg = saturation(now, before[k][1] if before else None)
            if msg and self.stop:
                raise TrainingSaturated(f"{name}{msg}. The network keeps the weights from the end of the "
                                        "previous epoch")
            if msg:
                warnings.warn(f"{name}{msg}", SaturationWarning, stacklevel=2)
                warned.append(k)
        return None


def improved(state, accuracy, epoch):
    """Whether epoch `epoch`'s `accuracy` is the best so far, kept in `state` (``best_accuracy``,
    ``best_epoch``); asking twice for one epoch gives the same answer, so several policies can ask."""
    if state.get("best_accuracy") is None or accuracy > state["best_accuracy"]:
        state["best_accuracy"], state["best_epoch"] = accuracy, epoch
    return state.get("best_epoch") == epoch


class EarlyStopping(Callback):
    """Stop when the accuracy on `which` has not improved for `patience` epochs (the book's
    ``early_stopping_n``)."""

    def __init__(self, patience, which="evaluation"):
        self.patience, self.which = patience, which

    def after_epoch(self, trainer, run, record):
        state = run.state
        better = improved(state, record.evaluations[self.which].correct, record.epoch)
        state["since_best"] = 0 if better else state.get("since_best", 0) + 1
        if state["since_best"] >= self.patience:
            return (f"Early stopping: no improvement in {self.which} accuracy for "
                    f"{plural(self.patience, 'epoch')}")
        return None


class EtaSchedule(Callback):
    """Halve eta whenever the accuracy on `which` has not improved for `patience` epochs; stop once eta
    would fall to ``eta0 / SCHEDULE_FLOOR`` (chapter 3's schedule)."""

    def __init__(self, patience, which="evaluation", floor=SCHEDULE_FLOOR):
        self.patience, self.which, self.floor = patience, which, floor

    def after_epoch(self, trainer, run, record):
        state = run.state
        better = improved(state, record.evaluations[self.which].correct, record.epoch)
        state["since_change"] = 0 if better else state.get("since_change", 0) + 1
        if state["since_change"] < self.patience:
            return None
        state["since_change"] = 0
        if run.eta / 2 <= state["eta"][0] / self.floor * (1 + 1e-9):
            return f"Learning-rate schedule: eta has fallen to eta0/{self.floor}; stopping"
        trainer.set_eta(run, run.eta / 2)
        return None


class Stages(Callback):
    """Train in stages of ``(epochs, eta)``, one run: each stage starts with its eta (chapter 3's run of
    30 epochs at eta 0.5, then 60 at eta 0.1).

    Attributes
    ----------
    epochs : int
        The epochs of all the stages.
    first_eta : float
        The eta the run starts with: that of the first stage with epochs.
    """

    def __init__(self, stages):
        stages = [(check_count(e, "a stage's epochs", 0), check_eta(eta)) for e, eta in stages]
        self.epochs = sum(e for e, _ in stages)
        self.starts = {}  # epoch -> the eta from that epoch on; a stage of 0 epochs gives way to the next
        start = 0
        for epochs, eta in stages:
            self.starts[start] = eta
            start += epochs
        self.first_eta = self.starts[0]

    def after_epoch(self, trainer, run, record):
        eta = self.starts.get(record.epoch + 1)
        if eta is not None and record.epoch + 1 < self.epochs:
            trainer.set_eta(run, eta)
        return None
