"""The training engine: the one device-resident SGD loop under every network of the book.

A *model* describes a network symbolically -- :class:`dlpy35.graph.SigmoidNet`
for chapters 1 and 3, :class:`dlpy35.layers.LayerStack` for chapter 6.  The
:class:`Trainer` runs it: the parameters and the data live in shared variables
on the device (:mod:`dlpy35.device`), compiled functions are cached by a key, an
epoch is a few ``scan`` calls over a permutation gathered on the device (or one
call per mini-batch), one divergence guard checks every epoch and keeps the
weights of the last good one, checkpoints allow an exact resume, and Ctrl-C
puts back the state of the last completed epoch.  Every epoch yields one
:class:`EpochRecord`.  The book's classes (:mod:`dlpy35.network`,
:mod:`dlpy35.network2`, :mod:`dlpy35.network3`) only translate their APIs into
this one.  :class:`dlpy35.population.PopulationTrainer` is this trainer for K
networks at once: it overrides the few methods that know of one network (the
step's graph, the generator, the guard, the records).

What the trainer needs of a model:

``param_names``, ``hyper_names``
    Names of the parameters (in the order of the arrays the trainer holds) and
    of the scalar hyperparameters of a step (``"eta"`` first).
``stochastic``
    True when a step needs noise (dropout): it then receives ``noise = (table,
    key)``, :func:`dlpy35.layers.noise_table` on the device and a random key
    per mini-batch, drawn from the trainer's generator.
``objective(x, y, params, hyper, option, noise) -> (objective, mean_cost)``
    One mini-batch's objective, which the step differentiates with
    ``pytensor.grad``, and the cost it reports; `hyper` maps names to scalars,
    `option` is the run's hashable variant (the regulariser, for instance).
``update(params, grads, hyper, option, m) -> new_params``
    The SGD update from the gradients of a mini-batch of `m` rows.
``forward(x, params)``
    The output activations for the rows of `x`.
``n_out``, ``example_metrics(x, labels, params) -> (guesses, cost)``
    The number of classes; per row, the class the network answers and the cost.
``checkpoint_arrays(values)`` / ``from_checkpoint(weights, biases)``
    The parameters in the checkpoint file's ``(weights, biases)`` layout, and back.
"""

from __future__ import annotations

import copy
import time
import warnings
from dataclasses import asdict, dataclass, field

import numpy as np
import pytensor
import pytensor.tensor as pt

from dlpy35 import checkpoint, graph, inputs
from dlpy35.layers import noise_table

EPOCH_MODES = ("scan", "step")
SATURATION_SHARE = 0.99  # one answer to this share of an evaluated set counts as saturation...
SATURATION_ROWS = 100  # ...in a set of at least this many rows (a tiny set says too little)
FLAT = 1e-3  # a cost that fell by less than this fraction over an epoch has stopped falling
KEY_LIMIT = 1 << 30  # keys fit int32 with room to add a layer's salt (JAX without x64 indexes in int32)


class TrainingDiverged(FloatingPointError):  # noqa: N818 (a public name since chapter 1)
    """The cost or the weights became NaN, infinite or too large to compute with during an epoch."""


class TrainingSaturated(TrainingDiverged):  # noqa: N818 (named as its parent)
    """The network gives one answer to nearly everything, and ``stop_on_saturation`` was asked for."""


class SaturationWarning(UserWarning):
    """The network gives one answer to nearly everything after an epoch: eta is probably too large."""


def epoch_chunks(full, most=10):
    """Calls per scan epoch of `full` mini-batches: the largest divisor of `full` up to `most`.

    Equal chunks keep one compiled shape (JAX compiles per shape) and let a
    progress bar move; ten calls instead of one cost microseconds.
    """
    return next(c for c in range(min(most, full), 0, -1) if full % c == 0)


@dataclass
class Evaluation:
    """How a network did on one labelled set: ``correct`` of ``total``, the summed ``cost``, and
    ``most_common``: how many rows got the answer the network gave most often."""

    correct: int
    total: int
    cost: float
    most_common: int = 0

    @property
    def accuracy(self):
        return self.correct / self.total


@dataclass
class EpochRecord:
    """One epoch of training.

    Attributes
    ----------
    epoch : int
    seconds : float
        Training time of the epoch (evaluation and compilation excluded).
    eta : float
        The learning rate the epoch trained with.
    cost : float
        Mean over the epoch's mini-batches of each mini-batch's mean cost.
    evaluations : dict of str to Evaluation
        The sets evaluated after the epoch, by name (``"test"``, ``"validation"``...).
    """

    epoch: int
    seconds: float
    eta: float
    cost: float
    evaluations: dict = field(default_factory=dict)

    def to_json(self):
        return asdict(self)

    def flat(self):
        """A flat dict: ``epoch``, ``seconds``, ``eta``, ``training_cost`` and, for each evaluated set,
        ``<set>_correct`` and ``<set>_total`` (the fields of a sweep's ``epochs.csv``)."""
        return {"epoch": self.epoch, "seconds": self.seconds, "eta": self.eta, "training_cost": self.cost,
                **{f"{name}_{what}": getattr(ev, what) for name, ev in self.evaluations.items()
                   for what in ("correct", "total")}}

    @classmethod
    def from_json(cls, d):
        return cls(**{**d, "evaluations": {k: Evaluation(**v) for k, v in d["evaluations"].items()}})


def saturation(record, before):
    """The warning when the network gives one answer to nearly all of a set and its cost there has stopped
    falling since `before` (the previous :class:`EpochRecord`, or None): saturated units; else None.

    A sigmoid or softmax pushed far into saturation (eta much too large) stays
    finite, so the divergence guard cannot see it; its gradients vanish, the cost
    stays flat and the accuracy sits at one class's share.  (One answer alone is
    no sign: a network early in training may give one, while its cost still falls.)
    """
    earlier = before.evaluations if before else {}
    for name, ev in record.evaluations.items():
        if ev.total < SATURATION_ROWS or ev.most_common < SATURATION_SHARE * ev.total:
            continue
        if name not in earlier or ev.cost < (1 - FLAT) * earlier[name].cost:
            continue
        share = ev.most_common / ev.total
        return (f"epoch {record.epoch}: the network gives the same answer to {share:.1%} of the {name} data "
                f"(accuracy {ev.accuracy:.2%}) and its cost there stopped falling: its units look saturated, "
                f"most often because eta ({record.eta:g}) is too large (lower it), else too small for a deep "
                f"network to move (this warning is not repeated)")
    return None


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


class Trainer:
    """Trains one model on one device.

    Parameters
    ----------
    model
        The network's symbolic description (see the module docstring).
    device : dlpy35.device.Device
    values : list of arrays
        Initial parameters, in the order of ``model.param_names``.
    rng : numpy.random.Generator
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
    order_shape = ()  # the leading shape of a mini-batch's rows: one network, one order
    static_params = False  # parameters of fixed shapes (a population's graphs are vectorized with them)
    static_batch = False  # compile for the mini-batch size even without keys (see SharedOrderTrainer)

    def __init__(self, model, device, values, rng, epoch_mode="scan", drop_last=False, eval_chunk=None):
        self.model, self.device, self.rng = model, device, rng
        self.epoch_mode, self.drop_last, self.eval_chunk = epoch_mode, drop_last, eval_chunk
        self.stop_on_saturation = False  # see _check_saturation
        self.dtype = device.dtype
        self.params = [device.shared(v, name, static=self.static_params)
                       for v, name in zip(values, model.param_names)]
        self._train = None  # (x, y) shared, made by the first load_training
        self._sets = {}  # name -> (chunks of x, of labels, chunk indices) on the device
        self._cost_sum = device.shared(np.zeros(self.net_shape, self.dtype), "cost_sum")
        self._noise = device.shared(noise_table().astype(self.dtype), "noise") if model.stochastic else None
        self._fns = {}
        self.compile_seconds = None  # of the last run: compiling, or loading from the caches

    @property
    def epoch_mode(self):
        return self._epoch_mode

    @epoch_mode.setter
    def epoch_mode(self, value):
        if value not in EPOCH_MODES:
            raise ValueError(f"epoch_mode must be one of {EPOCH_MODES}, got {value!r}")
        self._epoch_mode = value

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

        Keyed (stochastic) models, and trainers with ``static_batch``, compile for
        their static mini-batch size `m`.
        """
        m = m if self.model.stochastic or self.static_batch else None
        return self.compiled(("train", kind, option, m), lambda: self._build_train(kind, option, m))

    def _build_train(self, kind, option, m):
        keyed = self.model.stochastic
        hyper = {name: pt.tensor(name, dtype=self.dtype, shape=self.net_shape)
                 for name in self.model.hyper_names}

        def step(rows, params, key):
            return self._step(rows, params, key, hyper, option)

        # Rows of indices (a leading axis per order in a population), each with a key when keyed.
        width = None if m is None else m + (1 if keyed else 0)  # the key column
        batches = pt.tensor("batches", dtype="int64", shape=(None, *self.order_shape, width)[kind == "step":])
        if kind == "scan":
            new, c = graph.scan_sgd(step, batches, self.params, m if keyed else None)
        else:
            rows, key = graph.split_key(batches, m) if keyed else (batches, None)
            new, c = step(rows, self.params, key)
        updates = [*zip(self.params, new), (self._cost_sum, self._cost_sum + c)]
        return self.device.function([batches, *hyper.values()], [], updates=updates, name=f"sgd_{kind}")

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
            per_net = [self._per_net(pt.isfinite(p) & (pt.abs(p) < limit), pt.all) for p in self.params]
            usable = pt.all(pt.stack(per_net), axis=0)
            return self.device.function([], [self._cost_sum, usable], name="status")

        return self.compiled("status", build)

    def _per_net(self, t, reduce):
        """`reduce` of `t` over each network's entries: to a scalar here, to one value per net in a
        population."""
        return reduce(t)

    def _metrics_fn(self):
        """(correct, summed cost) of a set ``(xs, ys, chunks)`` made by :meth:`load_set`, chunk by chunk.

        The set is an input, not a shared variable: one compiled function serves every set.
        """
        def build():
            xs = pt.tensor3("xs", dtype=self.dtype)
            ys = pt.matrix("ys", dtype="int64")
            idx = pt.vector("chunks", dtype="int64")

            def chunk(i):
                labels = ys[i]
                guesses, cost = self._example_metrics(xs[i], labels)  # rows last
                valid = pt.ge(labels, 0)  # padding rows carry the label -1
                answers = graph.one_hot(guesses, self.model.n_out, "int64") * valid[:, None]
                return (pt.sum(pt.and_(pt.eq(guesses, labels), valid), axis=-1, dtype="int64"),
                        pt.sum(cost * valid, axis=-1), pt.sum(answers, axis=-2))

            # One sequence only: with two, scan trims them to a common length, which JAX can't trace.
            counts, costs, answers = pytensor.scan(chunk, sequences=[idx], return_updates=False)
            outputs = [pt.sum(counts, axis=0), pt.sum(costs, axis=0),
                       pt.max(pt.sum(answers, axis=0), axis=-1)]
            return self.device.function([xs, ys, idx], outputs, name="metrics")

        return self.compiled("metrics", build)

    def _example_metrics(self, x, labels):
        return self.model.example_metrics(x, labels, self.params)

    def update(self, x, y, eta, hyper, option=None):
        """One SGD step on all the rows of (x, y): the book's ``update_mini_batch``."""
        run = Run(n=len(x), m=len(x), epochs=1, drop_last=False, hyper=hyper, option=option)
        self.load_training(x, y)
        self.set_eta(run, eta)
        rows = self._keyed(self._rows(self._order(len(x)), 0, len(x), len(x)), self._draw_keys)[0]
        self._train_fn("step", option, len(x))(self.device.put(rows), *run.hyper_d)

    def forward(self, x):
        """Output activations for the rows of `x`, in chunks of ``eval_chunk`` rows."""
        fn = self.compiled("forward", self._build_forward)
        step = self.eval_chunk or max(len(x), 1)
        return np.concatenate([self.device.get(fn(self.device.put(x[i:i + step])))
                               for i in range(0, len(x), step)], axis=-2)

    def _build_forward(self):
        x = pt.matrix("x", dtype=self.dtype)
        return self.device.function([x], self._forward(x), name="forward")

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
        """Put a labelled set on the device as (chunks, rows, n_in), padded with label -1; its size."""
        b = min(self.eval_chunk or len(x), len(x))
        k = -(-len(x) // b)
        xp = np.zeros((k * b, x.shape[1]), self.dtype)
        xp[: len(x)] = x
        yp = np.full(k * b, -1, np.int64)
        yp[: len(labels)] = labels
        chunks = (xp.reshape(k, b, -1), yp.reshape(k, b), np.arange(k))
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
        run.eta = inputs.check_eta(eta, self.dtype)
        run.hyper_d = tuple(self.device.put(np.asarray(v, self.dtype)) for v in run.hyper(run.eta).values())

    def _warm_up(self, run):
        """Compile every function the run needs, on its real shapes; return the seconds.

        Runs each once -- one chunk of the epoch, the short last mini-batch --
        then puts the weights back, so training starts from the same state and
        the epoch timings exclude compilation (a cached start is fast).
        """
        start = time.perf_counter()
        dev, m, full = self.device, run.m, run.full
        order = self._order(run.n)
        if self.epoch_mode == "scan" and full:
            rows = self._keyed(self._rows(order, 0, full // epoch_chunks(full) * m, m), np.zeros)
            for _ in range(2):  # JAX's first run of an executable is slower than the rest
                self._train_fn("scan", run.option, m)(dev.put(rows), *run.hyper_d)
        if self.epoch_mode == "step" or (run.n % m and not run.drop_last):
            size = m if self.epoch_mode == "step" else run.n % m
            rows = self._keyed(self._rows(order, 0, size, size), np.zeros)[0]
            self._train_fn("step", run.option, size)(dev.put(rows), *run.hyper_d)
        for value in self._status_fn()():  # wait for the results: JAX dispatches asynchronously
            dev.get(value)
        for name, _ in run.sets:
            for value in self._metrics_fn()(*self._sets[name]):
                dev.get(value)
        self.assign(run.snapshot)
        dev.sync(self.params[0])
        return time.perf_counter() - start

    # -- the order of an epoch, the one place that knows of one generator -------------------------
    def _order(self, n):
        """The training rows in order, shaped as :meth:`_permutation`'s result."""
        return np.arange(n)

    def _permutation(self, n):
        """This epoch's shuffle of the `n` training rows, from the trainer's generator."""
        return self.rng.permutation(n)

    def _rows(self, perm, start, stop, m):
        """Mini-batches of `m` rows from ``perm[start:stop]``: ``(count, m)``."""
        return perm[start:stop].reshape(-1, m)

    def _draw_keys(self, shape):
        """Random dropout keys, one per mini-batch of `shape` (``batches.shape[:-1]``)."""
        return self.rng.integers(0, KEY_LIMIT, shape)

    def _rng_state(self):
        return self.rng.bit_generator.state

    def _set_rng_state(self, state):
        self.rng.bit_generator.state = state

    def _keyed(self, batches, draw):
        """`batches` with a last column of dropout keys from ``draw(shape)`` when the model needs them."""
        if not self.model.stochastic:
            return batches
        keys = np.asarray(draw(batches.shape[:-1]), np.int64)
        return np.concatenate([batches, keys[..., None]], axis=-1)

    def _train_epoch(self, run, perm, epoch, progress):
        """One pass over the loaded data in the order `perm`."""
        dev, m, full = self.device, run.m, run.full
        batches = self._keyed(self._rows(perm, 0, full * m, m), self._draw_keys)
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
            rest.append(self._keyed(self._rows(perm, full * m, run.n, run.n - full * m), self._draw_keys)[0])
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
        self._train_epoch(run, self._permutation(run.n), j, progress)
        cost_sum, usable = (dev.get(v) for v in self._status_fn()())
        seconds = time.perf_counter() - start
        self._guard(run, j, cost_sum, usable)
        previous, run.snapshot = run.snapshot, self.values()
        return self._record(run, j, seconds, cost_sum / run.n_batches,
                            {name: self.evaluate(name, n) for name, n in run.sets}, previous)

    def _guard(self, run, j, cost_sum, usable):
        """Raise :class:`TrainingDiverged`, with the last good weights put back, unless all is usable."""
        if not (usable and np.isfinite(cost_sum)):
            self.assign(run.snapshot)
            raise TrainingDiverged(
                f"epoch {j}: the cost or the weights became NaN, infinite or too large to compute with "
                f"(eta={run.eta}); the network keeps the weights from the end of the previous epoch. "
                f"Lower eta and train again")

    def _record(self, run, j, seconds, cost, evaluations, previous):
        """The epoch's :class:`EpochRecord`, after the saturation check."""
        record = EpochRecord(epoch=j, seconds=seconds, eta=run.eta, cost=float(cost), evaluations=evaluations)
        self._check_saturation(run, record, previous)
        return record

    def _check_saturation(self, run, record, previous):
        """Warn once per run when :func:`saturation` finds the network saturated after this epoch.

        With ``stop_on_saturation`` the run stops instead (:class:`TrainingSaturated`)
        and `previous` weights are put back.
        """
        if run.state.get("saturation_warned") and not self.stop_on_saturation:
            return  # once per run: a slow network stays flat for many epochs, and one line says it
        msg = saturation(record, run.records[-1] if run.records else None)
        if msg is None:
            return
        if self.stop_on_saturation:
            self.assign(previous)
            run.snapshot = previous
            raise TrainingSaturated(f"{msg}. The network keeps the weights from the end of the previous "
                                    "epoch")
        warnings.warn(msg, SaturationWarning, stacklevel=4)
        run.state["saturation_warned"] = True

    def train(self, run, after_epoch=None, on_epoch=None, progress=None, checkpoint_to=None):
        """Train the run's remaining epochs; the records of the epochs trained now.

        Parameters
        ----------
        run : Run
        after_epoch : callable, optional
            ``after_epoch(record)`` once the epoch is trained and evaluated, before
            it is committed: prints, schedules (it may call :meth:`set_eta`) and
            returns a reason to stop, or None.
        on_epoch : callable, optional
            ``on_epoch(record)`` after the epoch is committed (and checkpointed).
        progress : callable, optional
            ``progress(epoch, batches_done, n_batches)`` during each epoch.
        checkpoint_to : dlpy35.checkpoint.Checkpoint, optional
            Saves the committed state after every epoch, and on Ctrl-C.

        Raises
        ------
        KeyboardInterrupt
            After putting back the state of the last completed epoch (and saving
            it, with `checkpoint_to`).
        """
        state, done = run.state, []
        committed = self._commit(run)
        try:
            while state["epoch"] < run.epochs and not state["stopped"]:
                record = self.epoch(run, state["epoch"], progress)
                state["seconds"].append(record.seconds)
                state["eta"].append(record.eta)
                run.records.append(record)
                stopped = after_epoch(record) if after_epoch else None
                state.update(epoch=record.epoch + 1, next_eta=run.eta, stopped=stopped)
                committed = self._commit(run)
                if checkpoint_to:
                    checkpoint_to.save(self, run)
                done.append(record)
                if on_epoch:
                    on_epoch(record)
        except KeyboardInterrupt:
            self._rollback(run, committed)
            if checkpoint_to:
                checkpoint_to.save(self, run)
            raise
        return done

    def _commit(self, run):
        """What a checkpoint holds: the state between two epochs, never one half-way."""
        return run.snapshot, self._rng_state(), run.eta, copy.deepcopy(run.state), len(run.records)

    def _rollback(self, run, committed):
        snapshot, rng_state, eta, state, n_records = committed
        self._set_rng_state(rng_state)
        self.assign(snapshot)
        run.snapshot = snapshot
        run.state.clear()
        run.state.update(state)
        del run.records[n_records:]
        self.set_eta(run, eta)

    def resume(self, run, found, path, required=()):
        """Continue `run` from a checkpoint's ``(weights, biases, meta)``; checked before anything changes.

        `required` names the keys the network keeps in ``run.state`` beside the trainer's.
        """
        weights, biases, meta = found
        try:
            values = self.model.from_checkpoint(weights, biases)
            state = meta["history"]
            rng = np.random.default_rng()
            rng.bit_generator.state = meta["rng"]
            next_eta = inputs.check_eta(state["next_eta"], self.dtype)
            missing = {"epoch", "eta", "seconds", "stopped", *required} - state.keys()
            if missing:
                raise KeyError(", ".join(sorted(missing)))
            records = [EpochRecord.from_json(r) for r in meta.get("records", [])]
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise checkpoint.CheckpointError(f"{path}: incomplete checkpoint ({exc}); resume from another "
                                             f"checkpoint directory, or train without resuming") from None
        self.assign(values)
        self.rng.bit_generator.state = meta["rng"]
        self.set_eta(run, next_eta)
        run.snapshot = self.values()
        run.state, run.records = state, records


class TrainedNetwork:
    """What every network of the book has through its ``trainer``: the epoch mode and compile time."""

    trainer: Trainer

    @property
    def epoch_mode(self):
        """``scan`` or ``step`` (see :class:`Trainer`); may be changed between ``SGD`` calls."""
        return self.trainer.epoch_mode

    @epoch_mode.setter
    def epoch_mode(self, value):
        self.trainer.epoch_mode = value

    @property
    def compile_seconds(self):
        """Seconds the last ``SGD`` call spent compiling (or loading from the caches) and warming up."""
        return self.trainer.compile_seconds

    @property
    def stop_on_saturation(self):
        """Stop training (:class:`TrainingSaturated`) instead of warning when the network gives one
        answer to 99% of an evaluated set while its cost there stopped falling; False by default."""
        return self.trainer.stop_on_saturation

    @stop_on_saturation.setter
    def stop_on_saturation(self, value):
        self.trainer.stop_on_saturation = bool(value)
