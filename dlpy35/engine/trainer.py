"""The training engine: the one device-resident SGD loop under every network of the book.

A *model* (:class:`dlpy35.engine.model.Model`: :class:`dlpy35.engine.graph.SigmoidNet` for
chapters 1 and 3, :class:`dlpy35.engine.layers.LayerStack` for chapter 6) describes a
network symbolically.  The :class:`Trainer` runs it: the parameters and the data
live in shared variables on the device, with the functions compiled from them
(:class:`dlpy35.engine.device_network.DeviceNetwork`, the trainer's base); an epoch
is a few ``scan`` calls over a permutation gathered on the device (or one call per
mini-batch), one divergence guard checks every
epoch and keeps the weights of the last good one, and Ctrl-C puts back the state
of the last completed epoch.  Every epoch yields one
:class:`dlpy35.engine.records.EpochRecord`.

Two small objects tell a trainer what differs between runs: an *order*
(:mod:`dlpy35.engine.order`: where the shuffles and dropout keys come from) and the
*callbacks* (:mod:`dlpy35.engine.callbacks`: what to do between epochs -- monitoring,
schedules, early stopping, saturation checks, checkpoints).  The book's classes
(:mod:`dlpy35.network`, :mod:`dlpy35.network2`, :mod:`dlpy35.network3`) only
translate their APIs into these.  :class:`dlpy35.engine.population.PopulationTrainer`
is this trainer for K networks at once: it overrides the hooks that know of one
network (the step's graph, the guard, the records).
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field

import numpy as np

from dlpy35.engine import arguments
from dlpy35.engine.callbacks import Progress, SaturationCheck
from dlpy35.engine.device_network import DeviceNetwork
from dlpy35.engine.records import (  # noqa: F401 (TrainingSaturated, SaturationWarning: public here too)
    EpochRecord,
    SaturationWarning,
    TrainingDiverged,
    TrainingSaturated,
)
from dlpy35.text import plural

EPOCH_MODES = ("scan", "step")


def check_epoch_mode(value):
    """`value` when it is one of :data:`EPOCH_MODES`; ValueError otherwise."""
    if value not in EPOCH_MODES:
        raise ValueError(f"epoch_mode must be one of {EPOCH_MODES}, got {value!r}")
    return value


def epoch_chunks(full, most=10):
    """Calls per scan epoch of `full` mini-batches: the largest divisor of `full` up to `most`, or,
    when that is below ``most // 2``, the smallest from ``most + 1`` to ``2 * most`` if there is one.

    Equal chunks keep one compiled shape (JAX compiles per shape) and let a progress bar move
    with the work done; the fallback moves it for counts such as 781 (50,000 images in
    mini-batches of 64: 11 chunks of 71, where the largest divisor up to 10 is 1).  A few
    calls instead of one cost microseconds; what a bar that waits for each costs is measured
    by ``scripts/bench_progress.py`` (the README's paragraph on the progress bar).
    """
    low = next(c for c in range(min(most, full), 0, -1) if full % c == 0)
    if low >= most // 2:
        return low
    return next((c for c in range(most + 1, min(2 * most, full) + 1) if full % c == 0), low)


@dataclass
class Run:
    """One ``SGD`` call: sizes, hyperparameters (on the device too), evaluated sets and resumable state.

    ``state`` is JSON-ready and is what a checkpoint keeps beside ``records``
    (every epoch's :class:`EpochRecord`, resumed ones included): ``epoch`` (the
    next to train), ``next_eta``, ``stopped`` (a reason, or None), the per-epoch
    ``seconds`` and ``eta``, and whatever the network adds.  ``data`` holds the host arrays
    trained on and evaluated, by name (what a run's data digest is taken of), and ``identity``
    the settings that define the run (:mod:`dlpy35.storage.identity`), where the network sets them.
    """

    n: int
    m: int
    epochs: int
    drop_last: bool
    hyper: object  # eta -> {name: value}, in the model's hyper_names order
    option: object = None
    sets: tuple = ()
    eta: float = 0.0
    hyper_d: tuple = ()
    snapshot: list = field(default_factory=list)
    state: dict = field(default_factory=dict)
    records: list = field(default_factory=list)
    data: dict = field(default_factory=dict)
    identity: dict = field(default_factory=dict)

    @property
    def full(self):
        return self.n // self.m

    @property
    def n_batches(self):
        return self.full if self.drop_last else -(-self.n // self.m)


@dataclass
class Committed:
    """What a checkpoint holds: the state between two epochs, never one half-way; what Ctrl-C and a
    diverged epoch put back."""

    snapshot: list
    order_state: object
    eta: object
    state: dict
    n_records: int

    @classmethod
    def of(cls, trainer, run):
        return cls(run.snapshot, trainer.order.state, run.eta, copy.deepcopy(run.state), len(run.records))

    def restore(self, trainer, run):
        trainer.order.state = self.order_state
        trainer.assign(self.snapshot)
        run.snapshot = self.snapshot
        run.state.clear()
        run.state.update(self.state)
        del run.records[self.n_records:]
        trainer.set_eta(run, self.eta)


class Trainer(DeviceNetwork):
    """Trains one model on one device by mini-batch SGD: runs, epochs, the guard, the callbacks.

    Parameters
    ----------
    model, device, values, order, eval_chunk
        As for :class:`dlpy35.engine.device_network.DeviceNetwork`; the order also
        shuffles every epoch (and draws the dropout keys), and its state is checkpointed.
    epoch_mode : {"scan", "step"}
        ``scan``: a chunk of mini-batches per compiled call; ``step``: one call per mini-batch.
    drop_last : bool
        Leave out the last ``n % m`` examples of each epoch's permutation (chapter 6),
        or train them as a shorter last mini-batch (chapters 1 and 3).
    """

    def __init__(self, model, device, values, order, epoch_mode="scan", drop_last=False, eval_chunk=None):
        super().__init__(model, device, values, order, eval_chunk)
        self.epoch_mode, self.drop_last = check_epoch_mode(epoch_mode), drop_last
        self.compile_seconds = None  # of the last run: compiling, or loading from the caches


    # -- a run ------------------------------------------------------------------------------------------
    def begin(self, x, y, epochs, m, eta, hyper, option=None, sets=None):
        """Put the data on the device and set eta; return the :class:`Run`.

        Compiling waits for :meth:`train`, so that what is checked between the two (a
        checkpoint to resume) is checked before that work.

        Parameters
        ----------
        x, y : arrays
            Training inputs (n, n_in) and targets in the form the model's step takes.
        epochs, m : int
            Epochs and mini-batch size (checked by the caller).
        eta : float
        hyper : callable
            ``hyper(eta) -> {name: value}`` for the model's ``hyper_names``.
        option : hashable
            The model's variant for this run (for instance the regulariser).
        sets : dict, optional
            Name to ``(X, labels)``: evaluated after every epoch.
        """
        run = Run(n=len(x), m=m, epochs=epochs, drop_last=self.drop_last, hyper=hyper, option=option)
        if run.n_batches == 0:
            raise ValueError(f"SGD: {plural(run.n, 'training example')}, not one full mini-batch of {m}")
        self.load_training(x, y)
        run.sets = tuple((name, self.load_set(name, *data)) for name, data in (sets or {}).items())
        run.data = {**(sets or {}), "training": (x, y)}  # a monitored "training" set is x itself
        self.set_eta(run, eta)
        run.state = {"epoch": 0, "next_eta": run.eta, "stopped": None, "seconds": [], "eta": []}
        run.snapshot = self.values()
        self.compile_seconds = None  # until train() compiles
        return run

    def checked_eta(self, eta):
        """`eta` when it is a usable learning rate in the trainer's dtype; ValueError otherwise."""
        return arguments.check_eta(eta, self.dtype)

    def set_eta(self, run, eta):
        """Set the learning rate and the hyperparameters that follow from it, on the device."""
        run.eta = self.checked_eta(eta)
        run.hyper_d = tuple(self.device.put(np.asarray(v, self.dtype)) for v in run.hyper(run.eta).values())

    def _warm_up(self, run):
        """Compile every function the run needs, on its real shapes; return the seconds.

        Runs each once -- one chunk of the epoch, the short last mini-batch --
        then puts the weights back, so training starts from the same state and
        the epoch timings exclude compilation (a cached start is fast).
        """
        start = time.perf_counter()
        dev, m, full = self.device, run.m, run.full
        order = self.order.identity(run.n)
        if self.epoch_mode == "scan" and full:
            rows = self._batches(order, 0, full // epoch_chunks(full) * m, m, draw=False)
            for _ in range(2):  # JAX's first run of an executable is slower than the rest
                self._train_fn("scan", run.option, m)(dev.put(rows), *run.hyper_d)
        if self.epoch_mode == "step" or (run.n % m and not run.drop_last):
            size = m if self.epoch_mode == "step" else run.n % m
            rows = self._batches(order, 0, size, size, draw=False)[0]
            self._train_fn("step", run.option, size)(dev.put(rows), *run.hyper_d)
        for value in self._status_fn()():  # wait for the results: JAX dispatches asynchronously
            dev.get(value)
        for name, _ in run.sets:
            for value in self._metrics_fn()(*self._sets[name]):
                dev.get(value)
        self.assign(run.snapshot)
        dev.sync(self.params[0])
        return time.perf_counter() - start

    # -- an epoch ----------------------------------------------------------------------------------
    def _batches(self, perm, start, stop, m, draw=True):
        """Mini-batches of `m` rows of ``perm[start:stop]`` from the order, each with a last column of
        dropout keys when the model needs them: drawn from the order (`draw`), else zeros (warm-up)."""
        rows = self.order.rows(perm, start, stop, m)
        if not self.model.stochastic:
            return rows
        keys = self.order.keys(len(rows)) if draw else np.zeros(rows.shape[:-1], np.int64)
        return np.concatenate([rows, np.asarray(keys, np.int64)[..., None]], axis=-1)

    def _train_epoch(self, run, perm, epoch, callbacks):
        """One pass over the loaded data in the order `perm`, telling `callbacks` of the mini-batches done:
        none at the start, then after each chunk (scan) or every tenth mini-batch (step), and the last."""

        shown = any(getattr(c, "shows_batches", False) for c in callbacks)
        dev, m, full = self.device, run.m, run.full

        def progress(done, finished=None):
            """Tell `callbacks` of `done` mini-batches, once the device has computed `finished` (a
            :meth:`dlpy35.engine.device.Device.handle` of their cost) when something shows them: JAX
            returns before the device finishes, and what is shown must be done."""
            if shown:
                dev.wait(dev.handle(self._cost_sum) if finished is None else finished)
            for c in callbacks:
                c.on_batches(self, run, epoch, done, run.n_batches)

        batches = self._batches(perm, 0, full * m, m)
        # All chunks sent first: the device never waits for a transfer between two chunks.
        scan = self.epoch_mode == "scan" and full
        parts = [dev.put(p) for p in np.split(batches, epoch_chunks(full))] if scan else []
        done, in_flight = 0, None
        progress(done)  # a bar starts its clock with the epoch: its rate and time left are the epoch's
        for part in parts:
            # The next chunk is sent before the wait for the last one: the device always has work.
            self._train_fn("scan", run.option, m)(part, *run.hyper_d)
            if in_flight:
                progress(*in_flight)
            done += len(part)
            in_flight = (done, dev.handle(self._cost_sum))
        if in_flight:
            progress(*in_flight)
        rest = list(batches[done:])
        if run.n_batches > full:  # the short last mini-batch
            rest.append(self._batches(perm, full * m, run.n, run.n - full * m)[0])
        for k, rows in enumerate(rest, done + 1):
            size = len(rows) - (1 if self.model.stochastic else 0)  # a key takes the last column
            self._train_fn("step", run.option, size)(dev.put(rows), *run.hyper_d)
            if k % max(1, run.n_batches // 10) == 0 or k == run.n_batches:
                progress(k)

    def epoch(self, run, j, callbacks=()):
        """Train epoch `j` on a fresh shuffle, evaluate the run's sets; the :class:`EpochRecord`.

        `callbacks` are told of the mini-batches done as the epoch goes
        (:meth:`dlpy35.engine.callbacks.Callback.on_batches`).

        Raises
        ------
        TrainingDiverged
            The cost or the weights are no longer usable; the weights of the
            last good epoch are put back.
        """
        dev = self.device
        start = time.perf_counter()
        # Reset from the host: a constant computed on the device would come back
        # weakly typed from JAX and make the next call recompile.
        dev.assign(self._cost_sum, np.zeros(self.net_shape))
        self._train_epoch(run, self.order.permutation(run.n), j, callbacks)
        cost_sum, usable = (dev.get(v) for v in self._status_fn()())
        seconds = time.perf_counter() - start
        self._guard(run, j, cost_sum, usable)
        run.snapshot = self.values()
        return self._record(run, j, seconds, cost_sum / run.n_batches,
                            {name: self.evaluate(name, n) for name, n in run.sets})

    def _guard(self, run, j, cost_sum, usable):
        """Raise :class:`TrainingDiverged`, with the last good weights put back, unless all is usable."""
        if not (usable and np.isfinite(cost_sum)):
            self.assign(run.snapshot)
            raise TrainingDiverged(
                f"epoch {j}: the cost or the weights became NaN, infinite or too large to compute with "
                f"(eta={run.eta}); the network keeps the weights from the end of the previous epoch. "
                f"Lower eta and train again")

    def _record(self, run, j, seconds, cost, evaluations):
        """The epoch's :class:`dlpy35.engine.records.EpochRecord`."""
        return EpochRecord(epoch=j, seconds=seconds, eta=run.eta, cost=float(cost), evaluations=evaluations)

    def train(self, run, callbacks=(), progress=None):
        """Compile (when an epoch is left to train) and train the run's remaining epochs; the records of
        the epochs trained now.

        Parameters
        ----------
        run : Run
        callbacks : list of dlpy35.engine.callbacks.Callback
            The policies between epochs, consulted in this order; the first reason
            to stop that one returns ends the run (the later ones are not asked).
        progress : callable, optional
            ``progress(epoch, batches_done, n_batches)`` during each epoch: a
            :class:`dlpy35.engine.callbacks.Progress` after the `callbacks`.

        Raises
        ------
        TrainingDiverged
            From the guard or a callback, after putting back the state of the last
            completed epoch.
        KeyboardInterrupt
            After putting back the state of the last completed epoch (and telling
            the callbacks, a checkpoint among them).
        """
        state, done = run.state, []
        callbacks = [*callbacks, *([Progress(progress)] if progress else [])]
        committed = Committed.of(self, run)
        try:
            if state["epoch"] < run.epochs and not state["stopped"]:
                self.compile_seconds = self._warm_up(run)  # Ctrl-C here too puts the weights back
            for c in callbacks:
                c.on_start(self, run)
            while state["epoch"] < run.epochs and not state["stopped"]:
                record = self.epoch(run, state["epoch"], callbacks)
                state["seconds"].append(record.seconds)
                state["eta"].append(record.eta)
                run.records.append(record)
                stopped = next(filter(None, (c.after_epoch(self, run, record) for c in callbacks)), None)
                state.update(epoch=record.epoch + 1, next_eta=run.eta, stopped=stopped)
                committed = Committed.of(self, run)
                done.append(record)
                for c in callbacks:
                    c.on_epoch(self, run, record)
        except (KeyboardInterrupt, TrainingDiverged) as exc:
            committed.restore(self, run)
            for c in callbacks if isinstance(exc, KeyboardInterrupt) else ():
                c.on_interrupt(self, run)
            raise
        return done

    # -- checkpoints (dlpy35.storage.checkpoint) ---------------------------------------------------
    record_type = EpochRecord  # what run.records hold, as a checkpoint reads them back

    def checkpoint_arrays(self, values):
        """The parameters `values` as a checkpoint keeps them: ``(weights, biases)``, the model's layout."""
        return self.model.checkpoint_arrays(values)

    def from_checkpoint(self, weights, biases):
        """The parameter list from a checkpoint's ``(weights, biases)``; ValueError naming what does not
        fit."""
        return self.model.from_checkpoint(weights, biases)

    def checked_state(self, state):
        """A checkpoint's run `state`, its values checked (ValueError) before any is used."""
        state["next_eta"] = self.checked_eta(state["next_eta"])
        return state

    def restore(self, run, values, order_state, state, records):
        """Continue `run` from a checkpoint's parameters, order, state and records (all checked)."""
        self.assign(values)
        self.order.state = order_state
        self.set_eta(run, state["next_eta"])
        run.snapshot = self.values()
        run.state, run.records = state, records

    def update(self, x, y, eta, hyper, option=None):
        """One SGD step on all the rows of (x, y): the book's ``update_mini_batch``."""
        run = Run(n=len(x), m=len(x), epochs=1, drop_last=False, hyper=hyper, option=option)
        self.load_training(x, y)
        self.set_eta(run, eta)
        rows = self._batches(self.order.identity(len(x)), 0, len(x), len(x))[0]
        self._train_fn("step", option, len(x))(self.device.put(rows), *run.hyper_d)


class TrainedNetwork:
    """What every network of the book has through its ``trainer``: the epoch mode and compile time."""

    trainer: Trainer
    stop_on_saturation = False  # stop (TrainingSaturated) instead of warning: see SaturationCheck

    @property
    def epoch_mode(self):
        """``scan`` or ``step`` (see :class:`Trainer`); may be changed between ``SGD`` calls."""
        return self.trainer.epoch_mode

    @epoch_mode.setter
    def epoch_mode(self, value):
        self.trainer.epoch_mode = check_epoch_mode(value)

    @property
    def compile_seconds(self):
        """Seconds the last ``SGD`` call spent compiling (or loading from the caches) and warming up."""
        return self.trainer.compile_seconds

    def _policies(self, *more):
        """The policies every ``SGD`` of the book's networks runs with: the saturation check, then `more`."""
        return [SaturationCheck(stop=self.stop_on_saturation), *(c for c in more if c)]
