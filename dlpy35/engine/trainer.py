"""The training engine: the one device-resident SGD loop under every network of the book.

A *model* (:class:`dlpy35.engine.model.Model`: :class:`dlpy35.engine.graph.SigmoidNet` for
chapters 1 and 3, :class:`dlpy35.engine.layers.LayerStack` for chapter 6) describes a
network symbolically.  The :class:`Trainer` runs it: the parameters and the data
live in shared variables on the device (:mod:`dlpy35.engine.device`), compiled functions
are cached by a key, an epoch is a few ``scan`` calls over a permutation gathered
on the device (or one call per mini-batch), one divergence guard checks every
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
import pytensor
import pytensor.tensor as pt

from dlpy35.engine import arguments, graph
from dlpy35.engine.callbacks import SaturationCheck
from dlpy35.engine.evaluation import padded_chunks, set_metrics
from dlpy35.engine.layers import noise_table
from dlpy35.engine.records import (  # noqa: F401 (TrainingSaturated, SaturationWarning: public here too)
    EpochRecord,
    Evaluation,
    SaturationWarning,
    TrainingDiverged,
    TrainingSaturated,
)

EPOCH_MODES = ("scan", "step")


def check_epoch_mode(value):
    """`value` when it is one of :data:`EPOCH_MODES`; ValueError otherwise."""
    if value not in EPOCH_MODES:
        raise ValueError(f"epoch_mode must be one of {EPOCH_MODES}, got {value!r}")
    return value


def epoch_chunks(full, most=10):
    """Calls per scan epoch of `full` mini-batches: the largest divisor of `full` up to `most`.

    Equal chunks keep one compiled shape (JAX compiles per shape) and let a
    progress bar move; ten calls instead of one cost microseconds.
    """
    return next(c for c in range(min(most, full), 0, -1) if full % c == 0)


@dataclass
class Run:
    """One ``SGD`` call: sizes, hyperparameters (on the device too), evaluated sets and resumable state.

    ``state`` is JSON-ready and is what a checkpoint keeps beside ``records``
    (every epoch's :class:`EpochRecord`, resumed ones included): ``epoch`` (the
    next to train), ``next_eta``, ``stopped`` (a reason, or None), the per-epoch
    ``seconds`` and ``eta``, and whatever the network adds.
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


class Trainer:
    """Trains one model on one device.

    Parameters
    ----------
    model : dlpy35.engine.model.Model
        The network's symbolic description.
    device : dlpy35.engine.device.Device
    values : list of arrays
        Initial parameters, in the order of ``model.param_names``.
    order : dlpy35.engine.order.OneOrder or dlpy35.engine.order.OwnOrders
        Shuffles every epoch (and draws the dropout keys); its state is checkpointed.
    epoch_mode : {"scan", "step"}
        ``scan``: a chunk of mini-batches per compiled call; ``step``: one call per mini-batch.
    drop_last : bool
        Leave out the last ``n % m`` examples of each epoch's permutation (chapter 6),
        or train them as a shorter last mini-batch (chapters 1 and 3).
    eval_chunk : int, optional
        Rows per evaluation chunk (im2col patches of a whole test set would not
        fit); None evaluates a set in one chunk.
    """

    net_shape = ()  # the shape of per-network figures: a scalar for one network

    def __init__(self, model, device, values, order, epoch_mode="scan", drop_last=False, eval_chunk=None):
        self.model, self.device, self.order = model, device, order
        self.epoch_mode, self.drop_last, self.eval_chunk = check_epoch_mode(epoch_mode), drop_last, eval_chunk
        self.dtype = device.dtype
        # A population's graphs are vectorized with parameters of fixed shapes.
        self.params = [device.shared(v, name, static=bool(self.net_shape))
                       for v, name in zip(values, model.param_names)]
        self._train = None  # (x, y) shared, made by the first load_training
        self._sets = {}  # name -> (chunks of x, of labels, chunk indices) on the device
        self._cost_sum = device.shared(np.zeros(self.net_shape, self.dtype), "cost_sum")
        self._noise = device.shared(noise_table().astype(self.dtype), "noise") if model.stochastic else None
        self._fns = {}
        self.compile_seconds = None  # of the last run: compiling, or loading from the caches

    # -- parameters ------------------------------------------------------------------
    def values(self):
        """Host copies of the parameters."""
        return [self.device.read(p) for p in self.params]

    def assign(self, values):
        for p, v in zip(self.params, values):
            self.device.assign(p, v)

    # -- compiled functions ----------------------------------------------------------------
    def compiled(self, key, build):
        """The function `build()` compiled once for this trainer and cached under `key`."""
        if key not in self._fns:
            self._fns[key] = build()
        return self._fns[key]

    def _train_fn(self, kind, option, m):
        """The compiled SGD update of a chunk of mini-batches (``scan``) or of one (``step``).

        Keyed (stochastic) models compile for their static mini-batch size `m`, and so do
        populations of one shared order: their rows are not lifted, so nothing else gives
        them a static size, which JAX needs for the reshapes of the shared convolution.
        """
        keyed = self.model.stochastic
        m = m if keyed or (self.net_shape and not self.order.shape) else None

        def build():
            hyper = {name: pt.tensor(name, dtype=self.dtype, shape=self.net_shape)
                     for name in self.model.hyper_names}

            def step(rows, params, key):
                return self._step(rows, params, key, hyper, option)

            # Rows of indices (a leading axis per order in a population), each with a key when keyed.
            width = None if m is None else m + (1 if keyed else 0)  # the key column
            shape = (None, *self.order.shape, width)[kind == "step":]
            batches = pt.tensor("batches", dtype="int64", shape=shape)
            if kind == "scan":
                new, c = graph.scan_sgd(step, batches, self.params, m if keyed else None)
            else:
                rows, key = graph.split_key(batches, m) if keyed else (batches, None)
                new, c = step(rows, self.params, key)
            updates = [*zip(self.params, new), (self._cost_sum, self._cost_sum + c)]
            return self.device.function([batches, *hyper.values()], [], updates=updates, name=f"sgd_{kind}")

        return self.compiled(("train", kind, option, m), build)

    def _step(self, rows, params, key, hyper, option):
        """The model's SGD step on the training rows `rows`: ``(new params, mean cost)``."""
        objective, cost = self._objective(rows, params, key, hyper, option)
        grads = pytensor.grad(objective, params)
        return self.model.update(params, grads, hyper, option, rows.shape[-1]), cost

    def _objective(self, rows, params, key, hyper, option):
        x, y = self._train
        noise = (self._noise, key) if self.model.stochastic else None
        return self.model.objective(x[rows], y[rows], params, hyper, option, noise)

    def _status_fn(self):
        """(epoch's cost sum, parameters usable): finite and below ``sqrt(max float)``.

        Bounded outputs (sigmoid, softmax) let a runaway eta show first as
        weights growing towards overflow; past ``sqrt(max)`` a product can overflow.
        """
        def build():
            limit = pt.constant(np.sqrt(np.finfo(self.dtype).max).astype(self.dtype))
            lead = len(self.net_shape)  # all of one network's entries, each network's in a population
            per_net = [pt.all(pt.isfinite(p) & (pt.abs(p) < limit), axis=tuple(range(lead, p.ndim)))
                       for p in self.params]
            usable = pt.all(pt.stack(per_net), axis=0)
            return self.device.function([], [self._cost_sum, usable], name="status")

        return self.compiled("status", build)

    def _metrics_fn(self):
        """The compiled (correct, summed cost, most common answer's count) of a :meth:`load_set` set."""
        return self.compiled("metrics", lambda: self.device.function(
            *set_metrics(self._example_metrics, self.model.n_out, self.dtype), name="metrics"))

    def _example_metrics(self, x, labels):
        return self.model.example_metrics(x, labels, self.params)

    def update(self, x, y, eta, hyper, option=None):
        """One SGD step on all the rows of (x, y): the book's ``update_mini_batch``."""
        run = Run(n=len(x), m=len(x), epochs=1, drop_last=False, hyper=hyper, option=option)
        self.load_training(x, y)
        self.set_eta(run, eta)
        rows = self._batches(self.order.identity(len(x)), 0, len(x), len(x))[0]
        self._train_fn("step", option, len(x))(self.device.put(rows), *run.hyper_d)

    def forward(self, x):
        """Output activations for the rows of `x`, in chunks of ``eval_chunk`` rows."""
        rows = pt.matrix("x", dtype=self.dtype)
        fn = self.compiled("forward", lambda: self.device.function([rows], self._forward(rows),
                                                                   name="forward"))
        step = self.eval_chunk or max(len(x), 1)
        return np.concatenate([self.device.get(fn(self.device.put(x[i:i + step])))
                               for i in range(0, len(x), step)], axis=-2)

    def _forward(self, x):
        return self.model.forward(x, self.params)

    # -- data on the device --------------------------------------------------------------------
    def load_training(self, x, y):
        """Put the training inputs and targets on the device (once per run, never per mini-batch)."""
        if self._train is None:
            self._train = (self.device.shared(x, "train_x"), self.device.shared(y, "train_y"))
        else:
            self.device.assign(self._train[0], x)
            self.device.assign(self._train[1], y)

    def load_set(self, name, x, labels):
        """Put a labelled set on the device in padded chunks (:func:`dlpy35.engine.evaluation.padded_chunks`);
        its size."""
        chunks = padded_chunks(x, labels, self.eval_chunk, self.dtype)
        self._sets[name] = tuple(self.device.put(a) for a in chunks)
        return len(x)

    def evaluate(self, name, n):
        """:class:`Evaluation` of the loaded set `name` of `n` rows."""
        correct, cost, most = (self.device.get(v) for v in self._metrics_fn()(*self._sets[name]))
        return Evaluation(int(correct), n, float(cost), int(most))

    def evaluate_data(self, x, labels):
        """:class:`Evaluation` of the rows `x` with `labels`, leaving the run's sets in place."""
        return self.evaluate("other", self.load_set("other", x, labels))

    # -- a run ------------------------------------------------------------------------------------------
    def begin(self, x, y, epochs, m, eta, hyper, option=None, sets=None):
        """Put the data on the device, set eta, compile; return the :class:`Run`.

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
            raise ValueError(f"SGD: {run.n} training examples make no full mini-batch of {m}")
        self.load_training(x, y)
        run.sets = tuple((name, self.load_set(name, *data)) for name, data in (sets or {}).items())
        self.set_eta(run, eta)
        run.state = {"epoch": 0, "next_eta": run.eta, "stopped": None, "seconds": [], "eta": []}
        run.snapshot = self.values()
        if epochs:
            self.compile_seconds = self._warm_up(run)
        return run

    def set_eta(self, run, eta):
        """Set the learning rate and the hyperparameters that follow from it, on the device."""
        run.eta = arguments.check_eta(eta, self.dtype)
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

    def _train_epoch(self, run, perm, epoch, progress):
        """One pass over the loaded data in the order `perm`."""
        dev, m, full = self.device, run.m, run.full
        batches = self._batches(perm, 0, full * m, m)
        done = 0
        if self.epoch_mode == "scan" and full:
            fn = self._train_fn("scan", run.option, m)
            for part in np.split(batches, epoch_chunks(full)):
                fn(dev.put(part), *run.hyper_d)
                done += len(part)
                if progress:
                    progress(epoch, done, run.n_batches)
        rest = list(batches[done:])
        if run.n_batches > full:  # the short last mini-batch
            rest.append(self._batches(perm, full * m, run.n, run.n - full * m)[0])
        for k, rows in enumerate(rest, done + 1):
            size = len(rows) - (1 if self.model.stochastic else 0)  # a key takes the last column
            self._train_fn("step", run.option, size)(dev.put(rows), *run.hyper_d)
            if progress and (k % max(1, run.n_batches // 10) == 0 or k == run.n_batches):
                progress(epoch, k, run.n_batches)

    def epoch(self, run, j, progress=None):
        """Train epoch `j` on a fresh shuffle, evaluate the run's sets; the :class:`EpochRecord`.

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
        self._train_epoch(run, self.order.permutation(run.n), j, progress)
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
        """Train the run's remaining epochs; the records of the epochs trained now.

        Parameters
        ----------
        run : Run
        callbacks : list of dlpy35.engine.callbacks.Callback
            The policies between epochs, consulted in this order; the first reason
            to stop that one returns ends the run (the later ones are not asked).
        progress : callable, optional
            ``progress(epoch, batches_done, n_batches)`` during each epoch.

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
        committed = Committed.of(self, run)
        try:
            while state["epoch"] < run.epochs and not state["stopped"]:
                record = self.epoch(run, state["epoch"], progress)
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

    def restore(self, run, values, order_state, state, records):
        """Continue `run` from a checkpoint's parameters, order, state and records (all checked)."""
        self.assign(values)
        self.order.state = order_state
        self.set_eta(run, state["next_eta"])
        run.snapshot = self.values()
        run.state, run.records = state, records


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
