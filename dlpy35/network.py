"""``Network``: the book's ``network.py`` (chapter 1) with a symbolic PyTensor core.

The API is the book's -- ``Network(sizes)``, ``feedforward``, ``SGD``,
``update_mini_batch``, ``backprop``, ``evaluate``, ``cost_derivative`` -- and so
is the behaviour: N(0, 1) initialisation, the quadratic cost, a shuffle every
epoch, ``Epoch j : correct / n`` lines.  Inside, the weights live in PyTensor
shared variables on the device (:mod:`dlpy35.device`); the training data is put
there once per ``SGD`` call; each step's gradients come from ``pytensor.grad``
(:mod:`dlpy35.graph`).  ``backprop`` keeps its meaning through the hand-written
BP1-BP4 of :mod:`dlpy35.backprop`, which the tests check the graph against.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pytensor.tensor as pt

from dlpy35 import backprop as bp
from dlpy35 import costs, graph, inputs
from dlpy35.costs import QuadraticCost
from dlpy35.device import resolve

EPOCH_MODES = ("scan", "step")
WEIGHT_INITS = ("large", "default")
REGULARIZERS = (None, "l2", "l1")


def epoch_chunks(full, most=10):
    """Calls per scan epoch of `full` mini-batches: the largest divisor of `full` up to `most`.

    Equal chunks keep one compiled shape (JAX compiles per shape) and let a
    progress bar move; ten calls instead of one cost microseconds.
    """
    return next(c for c in range(min(most, full), 0, -1) if full % c == 0)


class TrainingDiverged(FloatingPointError):
    """The cost or the weights became NaN or infinite during an epoch."""


class Network:
    """A fully connected sigmoid network trained by mini-batch SGD.

    Parameters
    ----------
    sizes : list of int
        Neurons per layer, input first: ``[784, 30, 10]`` in the book.
    seed : int, optional
        Seeds the initial weights and every epoch's shuffle; the same seed
        gives the same run on the same backend.  None draws fresh entropy, as
        the book's ``np.random`` does.
    dtype : {"float32", "float64"}
        Training precision; float64 for exact work such as gradient checks.
    mode : str, optional
        PyTensor mode (``NUMBA``, ``JAX``, ``CVM``...); the default is chosen by
        :func:`dlpy35.device.resolve`.
    device : {"auto", "cuda", "cpu"}
        Where to run; ``auto`` takes a GPU when JAX sees one.
    epoch_mode : {"scan", "step"}
        ``scan`` runs a whole epoch's mini-batches in one compiled call,
        ``step`` calls the compiled SGD step once per mini-batch.  Both give
        the same weights.
    cost : QuadraticCost, CrossEntropyCost or a name
        The cost (:mod:`dlpy35.costs`); chapter 1 uses the quadratic cost.
    weight_init : {"large", "default"}
        ``large``: N(0, 1) weights (chapter 1); ``default``: N(0, 1/n_in) (chapter 3).

    Attributes
    ----------
    num_layers, sizes : as in the book
    device : dlpy35.device.Device
    """

    def __init__(self, sizes, seed=None, dtype="float32", mode=None, device="auto", epoch_mode="scan",
                 cost=QuadraticCost, weight_init="large"):
        self.sizes = inputs.check_sizes(sizes)
        self.num_layers = len(self.sizes)
        if epoch_mode not in EPOCH_MODES:
            raise ValueError(f"epoch_mode must be one of {EPOCH_MODES}, got {epoch_mode!r}")
        if weight_init not in WEIGHT_INITS:
            raise ValueError(f"weight_init must be one of {WEIGHT_INITS}, got {weight_init!r}")
        self.epoch_mode = epoch_mode
        self.cost = costs.get(cost)
        self.device = resolve(device, mode, dtype)
        self.dtype = dtype
        self.rng = np.random.default_rng(seed)
        dev = self.device
        self._w = [dev.shared(np.zeros((y, x), dtype), f"w{l + 1}")
                   for l, (x, y) in enumerate(zip(self.sizes[:-1], self.sizes[1:]))]
        self._b = [dev.shared(np.zeros(y, dtype), f"b{l + 1}") for l, y in enumerate(self.sizes[1:])]
        getattr(self, f"{weight_init}_weight_initializer")()
        n_in, n_out = self.sizes[0], self.sizes[-1]
        self._data_x = dev.shared(np.zeros((0, n_in), dtype), "data_x")
        self._data_y = dev.shared(np.zeros((0, n_out), dtype), "data_y")
        self._eval_x = dev.shared(np.zeros((0, n_in), dtype), "eval_x")
        self._eval_y = dev.shared(np.zeros(0, np.int64), "eval_y")
        self._cost_sum = dev.shared(np.zeros((), dtype), "cost_sum")
        self._fns = {}
        self.compile_seconds = None  # of the last SGD call: compiling or loading from the cache

    def __repr__(self):
        return f"{type(self).__name__}({self.sizes}, cost={self.cost.name}, {self.device.describe()})"

    # -- initial weights (the book draws biases first, then weights) --------------
    def default_weight_initializer(self):
        """Weights N(0, 1/n_in), biases N(0, 1): chapter 3's default."""
        self.biases = [self.rng.standard_normal((y, 1)) for y in self.sizes[1:]]
        self.weights = [self.rng.standard_normal((y, x)) / np.sqrt(x)
                        for x, y in zip(self.sizes[:-1], self.sizes[1:])]

    def large_weight_initializer(self):
        """Weights and biases N(0, 1): chapter 1's initialisation."""
        self.biases = [self.rng.standard_normal((y, 1)) for y in self.sizes[1:]]
        self.weights = [self.rng.standard_normal((y, x)) for x, y in zip(self.sizes[:-1], self.sizes[1:])]

    # -- parameters, in the book's shapes ---------------------------------------
    @property
    def weights(self):
        """``weights[l]``: (n_out, n_in) numpy copies of the device weights."""
        return [self.device.read(w) for w in self._w]

    @weights.setter
    def weights(self, values):
        self._set_params(self._w, values, [(y, x) for x, y in zip(self.sizes[:-1], self.sizes[1:])], "weights")

    @property
    def biases(self):
        """``biases[l]``: (n_out, 1) numpy copies of the device biases."""
        return [self.device.read(b)[:, None] for b in self._b]

    @biases.setter
    def biases(self, values):
        self._set_params(self._b, values, [(y, 1) for y in self.sizes[1:]], "biases")

    def _set_params(self, shared, values, shapes, name):
        values = [np.asarray(v) for v in values]
        got = [v.shape for v in values]
        if got != shapes:
            raise ValueError(f"{name}: expected arrays of shapes {shapes}, got {got}")
        if not all(np.all(np.isfinite(v)) for v in values):
            raise ValueError(f"{name}: values must be finite numbers")
        for var, v in zip(shared, values):
            self.device.assign(var, v.reshape(-1) if var.type.ndim == 1 else v)

    # -- compiled functions, built on first use ---------------------------------
    def _fn(self, name, reg=None):
        key = (name, reg)
        if key not in self._fns:
            self._fns[key] = getattr(self, f"_build_{name}")(reg)
        return self._fns[key]

    def _training_function(self, reg, batches, x, y, name):
        """Compile an SGD update of the shared parameters; `batches` selects rows of the data."""
        eta = pt.scalar("eta", dtype=self.dtype)
        decay = pt.scalar("decay", dtype=self.dtype)  # eta * lmbda / n; unused without reg
        if name == "sgd_epoch":
            new_w, new_b, c = graph.sgd_epoch(batches, x, y, eta, self._w, self._b, self.cost, reg, decay)
        else:
            new_w, new_b, c = graph.sgd_step(x[batches], y[batches], eta, self._w, self._b, self.cost, reg, decay)
        updates = [*zip(self._w, new_w), *zip(self._b, new_b), (self._cost_sum, self._cost_sum + c)]
        return self.device.function([batches, eta, decay], [], updates=updates, name=name)

    def _build_step(self, reg):
        rows = pt.vector("rows", dtype="int64")
        return self._training_function(reg, rows, self._data_x, self._data_y, "sgd_step")

    def _build_epoch(self, reg):
        batches = pt.matrix("batches", dtype="int64")
        return self._training_function(reg, batches, self._data_x, self._data_y, "sgd_epoch")

    def _build_status(self, reg):
        """(epoch's cost sum, parameters usable): finite and below ``sqrt(max float)``.

        A sigmoid output is bounded, so a runaway eta shows first as weights
        growing towards overflow; past ``sqrt(max)`` a product can overflow.
        """
        limit = pt.constant(np.sqrt(np.finfo(self.dtype).max).astype(self.dtype))
        params = [*self._w, *self._b]
        usable = pt.and_(graph.all_finite(params), pt.all(pt.stack([pt.max(pt.abs(p)) for p in params]) < limit))
        return self.device.function([], [self._cost_sum, usable])

    def _build_eval_metrics(self, reg):
        """(correct, summed cost) on the evaluation data; targets one-hot from the labels."""
        y = graph.one_hot(self._eval_y, self.sizes[-1], self.dtype)
        return self.device.function([], [
            graph.correct_count(self._eval_x, self._eval_y, self._w, self._b),
            graph.total_cost(self._eval_x, y, self._w, self._b, self.cost),
        ])

    def _build_train_metrics(self, reg):
        """(correct, summed cost) on the training data; labels are the argmax of the targets."""
        labels = pt.argmax(self._data_y, axis=1)
        return self.device.function([], [
            graph.correct_count(self._data_x, labels, self._w, self._b),
            graph.total_cost(self._data_x, self._data_y, self._w, self._b, self.cost),
        ])

    def _build_penalty(self, reg):
        return self.device.function([], graph.regularizer(self._w, reg))

    def _build_forward(self, reg):
        x = pt.matrix("x", dtype=self.dtype)
        return self.device.function([x], graph.feedforward(x, self._w, self._b))

    def _build_gradients(self, reg):
        x = pt.matrix("x", dtype=self.dtype)
        y = pt.matrix("y", dtype=self.dtype)
        nabla_b, nabla_w, _ = graph.gradients(x, y, self._w, self._b, self.cost)
        return self.device.function([x, y], [*nabla_b, *nabla_w])

    # -- the book's API ---------------------------------------------------------
    def feedforward(self, a):
        """Output ``a^L`` for input column(s) `a` (n_in, k), computed by the graph."""
        a = np.asarray(a, dtype=self.dtype)
        cols = a.reshape(self.sizes[0], -1) if a.ndim == 1 else a
        inputs.check_width(cols.T, self.sizes[0], "feedforward input")
        out = self.device.get(self._fn("forward")(self.device.put(cols.T)))
        return out.T.reshape((-1,)) if a.ndim == 1 else out.T

    def SGD(self, training_data, epochs, mini_batch_size, eta, test_data=None, *, progress=None, on_epoch=None,
            verbose=True):
        """Train by mini-batch stochastic gradient descent (the book's ``SGD``).

        Parameters
        ----------
        training_data : list of (x, y) pairs, or a tuple (X, Y) of arrays
            ``x`` (n_in, 1) columns and ``y`` (n_out, 1) one-hot columns, or X
            (n, n_in) rows with Y (n, n_out) one-hot rows or (n,) integer labels.
        epochs : int
        mini_batch_size : int
            1..n; when it does not divide n the last mini-batch is shorter.
        eta : float
            The learning rate (> 0).
        test_data : list of (x, label) pairs or (X, labels), optional
            Evaluated after every epoch, printing ``Epoch j : correct / n``.
        progress : callable, optional
            ``progress(epoch, batches_done, n_batches)`` during each epoch.
        on_epoch : callable, optional
            ``on_epoch(record)`` after each epoch, with that epoch's history record.
        verbose : bool
            Print the book's per-epoch lines.

        Returns
        -------
        list of dict
            One per epoch: ``epoch``, ``cost`` (the mean over mini-batches of the
            mini-batch's mean cost), ``correct`` and ``n_test`` (None without test
            data), ``seconds`` (training only, compilation excluded).

        Raises
        ------
        TrainingDiverged
            The cost or weights stopped being finite; the network keeps the
            weights from the end of the last finite epoch.
        """
        run = self._begin(training_data, epochs, mini_batch_size, eta, evaluation_data=test_data)
        history = []
        for j in range(run.epochs):
            record = self._run_epoch(run, j, progress)
            record.update(correct=None, n_test=run.n_eval)
            if run.n_eval is not None:
                record["correct"] = self._evaluation_metrics()[0]
                if verbose:
                    print(f"Epoch {j} : {record['correct']} / {run.n_eval}", flush=True)
            elif verbose:
                print(f"Epoch {j} complete", flush=True)
            history.append(record)
            if on_epoch:
                on_epoch(record)
        return history

    # -- the training loop's parts (shared with dlpy35.network2) ------------------
    def _begin(self, training_data, epochs, mini_batch_size, eta, lmbda=0.0, reg=None, evaluation_data=None):
        """Check the arguments, put the data on the device once, compile; return the run's state."""
        x, y = inputs.training_arrays(training_data, self.sizes[0], self.sizes[-1], self.dtype)
        n = len(x)
        run = _Run(
            n=n,
            epochs=inputs.check_count(epochs, "epochs", 0),
            m=inputs.check_count(mini_batch_size, "mini_batch_size", 1, n),
            lmbda=inputs.check_lmbda(lmbda),
            reg=reg if lmbda else None,
        )
        if reg not in REGULARIZERS:
            raise ValueError(f"reg must be one of {REGULARIZERS}, got {reg!r}")
        self._set_eta(run, eta)
        dev = self.device
        dev.assign(self._data_x, x)  # once per SGD call, never per mini-batch
        dev.assign(self._data_y, y)
        del x, y
        if evaluation_data is not None:
            run.n_eval = self._load_eval(evaluation_data)
        run.snapshot = self._snapshot()
        if run.epochs:
            self.compile_seconds = self._warm_up(run)
        return run

    def _set_eta(self, run, eta):
        """Set the learning rate (and the weight decay ``eta lambda / n`` that follows it)."""
        run.eta = inputs.check_eta(eta, self.dtype)
        run.eta_d = self.device.put(np.asarray(run.eta, dtype=self.dtype))
        run.decay_d = self.device.put(np.asarray(run.eta * run.lmbda / run.n, dtype=self.dtype))

    def _run_epoch(self, run, j, progress=None):
        """Train one epoch on a fresh shuffle; return ``{"epoch", "cost", "seconds"}``.

        Raises :class:`TrainingDiverged` (weights restored) when the cost or the
        weights are no longer finite.
        """
        dev = self.device
        start = time.perf_counter()
        # Reset from the host: a constant computed on the device would come back
        # weakly typed from JAX and make the next call recompile.
        dev.assign(self._cost_sum, 0)
        self._train_epoch(run, self.rng.permutation(run.n), j, progress)
        cost_sum, finite = (dev.get(v) for v in self._fn("status")())
        seconds = time.perf_counter() - start
        if not (finite and np.isfinite(cost_sum)):
            self._restore(run.snapshot)
            raise TrainingDiverged(
                f"epoch {j}: the cost or the weights became NaN, infinite or too large to compute with "
                f"(eta={run.eta}); the network keeps the weights from the end of the previous epoch. "
                f"Lower eta and train again"
            )
        run.snapshot = self._snapshot()
        return {"epoch": j, "cost": float(cost_sum) / run.n_batches, "seconds": seconds}

    def _snapshot(self):
        return [self.device.read(p) for p in (*self._w, *self._b)]

    def _restore(self, snapshot):
        for p, v in zip((*self._w, *self._b), snapshot):
            self.device.assign(p, v)

    def _warm_up(self, run):
        """Compile every function this run needs, on its real shapes; return the seconds.

        Runs each once -- one chunk of the epoch, the short last mini-batch --
        then puts the weights back, so training starts from the same state and
        the epoch timings exclude compilation (a cached start is fast).
        """
        start = time.perf_counter()
        dev = self.device
        full = run.n // run.m
        if self.epoch_mode == "scan" and full:
            rows = dev.put(np.arange(full // epoch_chunks(full) * run.m).reshape(-1, run.m))
            for _ in range(2):  # JAX's first run of an executable is slower than the rest
                self._fn("epoch", run.reg)(rows, run.eta_d, run.decay_d)
        if self.epoch_mode == "step" or run.n % run.m:
            size = run.m if self.epoch_mode == "step" else run.n % run.m
            self._fn("step", run.reg)(dev.put(np.arange(size)), run.eta_d, run.decay_d)
        for value in self._fn("status")():  # wait for the results: JAX dispatches asynchronously
            dev.get(value)
        if run.n_eval is not None:
            for value in self._fn("eval_metrics")():
                dev.get(value)
        self._restore(run.snapshot)
        dev.sync(self._w[0])
        return time.perf_counter() - start

    def _train_epoch(self, run, perm, epoch, progress):
        """One pass over the loaded data in the order `perm`."""
        dev, m = self.device, run.m
        full = run.n // m
        done = 0
        if self.epoch_mode == "scan" and full:
            epoch_fn = self._fn("epoch", run.reg)
            for part in np.split(perm[: full * m].reshape(full, m), epoch_chunks(full)):
                epoch_fn(dev.put(part), run.eta_d, run.decay_d)
                done += len(part)
                if progress:
                    progress(epoch, done, run.n_batches)
        step = self._fn("step", run.reg)
        for k in range(done, run.n_batches):
            step(dev.put(perm[k * m : (k + 1) * m]), run.eta_d, run.decay_d)
            if progress and ((k + 1) % max(1, run.n_batches // 10) == 0 or k + 1 == run.n_batches):
                progress(epoch, k + 1, run.n_batches)

    def _evaluation_metrics(self):
        """``(correct, summed cost)`` on the loaded evaluation data."""
        correct, cost = (self.device.get(v) for v in self._fn("eval_metrics")())
        return int(correct), float(cost)

    def _training_metrics(self):
        """``(correct, summed cost)`` on the loaded training data."""
        correct, cost = (self.device.get(v) for v in self._fn("train_metrics")())
        return int(correct), float(cost)

    def update_mini_batch(self, mini_batch, eta):
        """Apply one gradient-descent step for `mini_batch` (eqs. 20-21), in the graph.

        `mini_batch` is a list of (x, y) pairs or a tuple (X, Y), as for ``SGD``.
        """
        self._update_mini_batch(mini_batch, eta)

    def _update_mini_batch(self, mini_batch, eta, lmbda=0.0, n=None, reg=None):
        x, y = inputs.training_arrays(mini_batch, self.sizes[0], self.sizes[-1], self.dtype, "mini_batch")
        run = _Run(n=n or len(x), epochs=1, m=len(x), lmbda=inputs.check_lmbda(lmbda), reg=reg if lmbda else None)
        self._set_eta(run, eta)
        self.device.assign(self._data_x, x)
        self.device.assign(self._data_y, y)
        self._fn("step", run.reg)(self.device.put(np.arange(len(x))), run.eta_d, run.decay_d)

    def backprop(self, x, y):
        """``(nabla_b, nabla_w)`` for input column(s) `x` and targets `y`: BP1-BP4 by hand.

        Summed over the columns when `x` is (n_in, m).  See :mod:`dlpy35.backprop`.
        """
        x, y = self._columns(x, y)
        return bp.backprop(self.weights, self.biases, x, y, self.cost.delta)

    def symbolic_gradients(self, x, y):
        """``(nabla_b, nabla_w)`` from ``pytensor.grad``, in the shapes ``backprop`` returns."""
        x, y = self._columns(x, y)
        grads = [self.device.get(g) for g in self._fn("gradients")(self.device.put(x.T), self.device.put(y.T))]
        n = len(self._b)
        return [g[:, None] for g in grads[:n]], grads[n:]

    def _columns(self, x, y):
        x = np.asarray(x, dtype=self.dtype)
        y = np.asarray(y, dtype=self.dtype)
        x = x.reshape(-1, 1) if x.ndim == 1 else x
        y = y.reshape(-1, 1) if y.ndim == 1 else y
        inputs.check_width(x.T, self.sizes[0], "x")
        if y.shape != (self.sizes[-1], x.shape[1]):
            raise ValueError(f"y: expected shape {(self.sizes[-1], x.shape[1])} to match x's columns, got {y.shape}")
        return x, y

    def evaluate(self, test_data):
        """Number of test inputs for which the output neuron with the highest activation is the label."""
        return self._metrics_of(test_data)[0]

    def _metrics_of(self, data):
        """``(correct, summed cost, n)`` on `data`, leaving the evaluation data of a run in place.

        A callback may call ``evaluate`` during ``SGD``; the run's evaluation set
        is put back afterwards (the storage objects only: no copy).
        """
        saved = [v.container.storage[0] for v in (self._eval_x, self._eval_y)]
        try:
            n = self._load_eval(data)
            return (*self._evaluation_metrics(), n)
        finally:
            for v, value in zip((self._eval_x, self._eval_y), saved):
                v.container.storage[0] = value

    def _load_eval(self, data):
        x, labels = inputs.labelled_arrays(data, self.sizes[0], self.sizes[-1], self.dtype)
        self.device.assign(self._eval_x, x)
        self.device.assign(self._eval_y, labels)
        return len(x)

    def cost_derivative(self, output_activations, y):
        """``dC_x/da`` for the quadratic cost: ``a - y``."""
        return bp.cost_derivative(output_activations, y)


@dataclass
class _Run:
    """The state of one training run: sizes, hyperparameters on the device, last good weights."""

    n: int
    epochs: int
    m: int
    lmbda: float = 0.0
    reg: str | None = None
    n_eval: int | None = None
    eta: float = 0.0
    eta_d: object = None
    decay_d: object = None
    snapshot: list = field(default_factory=list)

    @property
    def n_batches(self):
        return -(-self.n // self.m)
