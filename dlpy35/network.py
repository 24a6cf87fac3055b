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

import numpy as np
import pytensor.tensor as pt

from dlpy35 import backprop as bp
from dlpy35 import graph, inputs
from dlpy35.device import resolve

EPOCH_MODES = ("scan", "step")


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

    Attributes
    ----------
    num_layers, sizes : as in the book
    device : dlpy35.device.Device
    """

    def __init__(self, sizes, seed=None, dtype="float32", mode=None, device="auto", epoch_mode="scan"):
        self.sizes = inputs.check_sizes(sizes)
        self.num_layers = len(self.sizes)
        if epoch_mode not in EPOCH_MODES:
            raise ValueError(f"epoch_mode must be one of {EPOCH_MODES}, got {epoch_mode!r}")
        self.epoch_mode = epoch_mode
        self.device = resolve(device, mode, dtype)
        self.dtype = dtype
        self.rng = np.random.default_rng(seed)
        # The book draws biases first, then weights, both N(0, 1).
        biases = [self.rng.standard_normal((y, 1)) for y in self.sizes[1:]]
        weights = [self.rng.standard_normal((y, x)) for x, y in zip(self.sizes[:-1], self.sizes[1:])]
        dev = self.device
        self._w = [dev.shared(w.astype(dtype), f"w{l + 1}") for l, w in enumerate(weights)]
        self._b = [dev.shared(b.ravel().astype(dtype), f"b{l + 1}") for l, b in enumerate(biases)]
        n_in, n_out = self.sizes[0], self.sizes[-1]
        self._data_x = dev.shared(np.zeros((0, n_in), dtype), "data_x")
        self._data_y = dev.shared(np.zeros((0, n_out), dtype), "data_y")
        self._eval_x = dev.shared(np.zeros((0, n_in), dtype), "eval_x")
        self._eval_y = dev.shared(np.zeros(0, np.int64), "eval_y")
        self._cost_sum = dev.shared(np.zeros((), dtype), "cost_sum")
        self._fns = {}
        self.compile_seconds = None  # of the last SGD call: compiling or loading from the cache

    def __repr__(self):
        return f"Network({self.sizes}, {self.device.describe()})"

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
        for var, v in zip(shared, values):
            self.device.assign(var, v.reshape(-1) if var.type.ndim == 1 else v)

    # -- compiled functions, built on first use ---------------------------------
    def _fn(self, name):
        if name not in self._fns:
            self._fns[name] = getattr(self, f"_build_{name}")()
        return self._fns[name]

    def _param_updates(self, new_w, new_b):
        return list(zip(self._w, new_w)) + list(zip(self._b, new_b))

    def _build_step(self):
        rows = pt.vector("rows", dtype="int64")
        eta = pt.scalar("eta", dtype=self.dtype)
        new_w, new_b, cost = graph.sgd_step(self._data_x[rows], self._data_y[rows], eta, self._w, self._b)
        updates = self._param_updates(new_w, new_b) + [(self._cost_sum, self._cost_sum + cost)]
        return self.device.function([rows, eta], [], updates=updates, name="sgd_step")

    def _build_epoch(self):
        batches = pt.matrix("batches", dtype="int64")
        eta = pt.scalar("eta", dtype=self.dtype)
        new_w, new_b, cost = graph.sgd_epoch(batches, self._data_x, self._data_y, eta, self._w, self._b)
        updates = self._param_updates(new_w, new_b) + [(self._cost_sum, self._cost_sum + cost)]
        return self.device.function([batches, eta], [], updates=updates, name="sgd_epoch")

    def _build_status(self):
        return self.device.function([], [self._cost_sum, graph.all_finite([*self._w, *self._b])])

    def _build_count(self):
        return self.device.function([], graph.correct_count(self._eval_x, self._eval_y, self._w, self._b))

    def _build_forward(self):
        x = pt.matrix("x", dtype=self.dtype)
        return self.device.function([x], graph.feedforward(x, self._w, self._b))

    def _build_gradients(self):
        x = pt.matrix("x", dtype=self.dtype)
        y = pt.matrix("y", dtype=self.dtype)
        nabla_b, nabla_w, _ = graph.gradients(x, y, self._w, self._b)
        return self.device.function([x, y], [*nabla_b, *nabla_w])

    def compile(self):
        """Compile (or load from the backend's disk cache) every training function now."""
        for name in ("step", "epoch", "status", "count"):
            self._fn(name)

    # -- the book's API ---------------------------------------------------------
    def feedforward(self, a):
        """Output ``a^L`` for input column(s) `a` (n_in, k), computed by the graph."""
        a = np.asarray(a, dtype=self.dtype)
        cols = a.reshape(self.sizes[0], -1) if a.ndim == 1 else a
        inputs._check_width(cols.T, self.sizes[0], "feedforward input")
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
            One per epoch: ``epoch``, ``cost`` (mean quadratic cost per mini-batch,
            summed over the epoch / number of mini-batches), ``correct`` and
            ``n_test`` (None without test data), ``seconds`` (training only).

        Raises
        ------
        TrainingDiverged
            The cost or weights stopped being finite; the network keeps the
            weights from the end of the last finite epoch.
        """
        x, y = inputs.training_arrays(training_data, self.sizes[0], self.sizes[-1], self.dtype)
        n = len(x)
        epochs = inputs.check_count(epochs, "epochs", 0)
        m = inputs.check_count(mini_batch_size, "mini_batch_size", 1, n)
        eta = inputs.check_eta(eta)
        dev = self.device
        dev.assign(self._data_x, x)  # once per SGD call, never per mini-batch
        dev.assign(self._data_y, y)
        del x, y
        n_test = self._load_eval(test_data) if test_data is not None else None
        eta_d = dev.put(np.asarray(eta, dtype=self.dtype))
        n_batches = -(-n // m)
        snapshot = self._snapshot()
        if epochs:
            self.compile_seconds = self._warm_up(n, m, eta_d, snapshot, n_test is not None)
        history = []
        for j in range(epochs):
            start = time.perf_counter()
            # Reset from the host: a constant computed on the device would come back
            # weakly typed from JAX and make the next call recompile.
            dev.assign(self._cost_sum, 0)
            self._train_epoch(self.rng.permutation(n), m, eta_d, j, n_batches, progress)
            cost_sum, finite = (dev.get(v) for v in self._fn("status")())
            seconds = time.perf_counter() - start
            if not (finite and np.isfinite(cost_sum)):
                self._restore(snapshot)
                raise TrainingDiverged(
                    f"epoch {j}: the cost or the weights became NaN/infinite with eta={eta}; "
                    f"the network keeps the weights from the end of epoch {j - 1}. Lower eta and train again"
                )
            snapshot = self._snapshot()
            record = {"epoch": j, "cost": float(cost_sum) / n_batches, "seconds": seconds,
                      "correct": None, "n_test": n_test}
            if n_test is not None:
                record["correct"] = self._count_correct()
                if verbose:
                    print(f"Epoch {j} : {record['correct']} / {n_test}", flush=True)
            elif verbose:
                print(f"Epoch {j} complete", flush=True)
            history.append(record)
            if on_epoch:
                on_epoch(record)
        return history

    def _snapshot(self):
        return [self.device.get(p.container.storage[0]) for p in (*self._w, *self._b)]

    def _restore(self, snapshot):
        for p, v in zip((*self._w, *self._b), snapshot):
            self.device.assign(p, v)

    @staticmethod
    def _chunks(full, most=10):
        """Calls per scan epoch: the largest divisor of `full` up to `most`.

        Equal chunks keep one compiled shape (JAX compiles per shape) and let a
        progress bar move; ten calls instead of one cost microseconds.
        """
        return next(c for c in range(min(most, full), 0, -1) if full % c == 0)

    def _warm_up(self, n, m, eta_d, snapshot, evaluating):
        """Compile every function this SGD call needs, on its real shapes; return the seconds.

        Runs each once -- one chunk of the epoch, the short last mini-batch --
        then puts the weights back, so training starts from the same state and
        the epoch timings exclude compilation (a cached start is fast).
        """
        start = time.perf_counter()
        dev = self.device
        full = n // m
        if self.epoch_mode == "scan" and full:
            rows = dev.put(np.arange(full // self._chunks(full) * m).reshape(-1, m))
            for _ in range(2):  # JAX's first run of an executable is slower than the rest
                self._fn("epoch")(rows, eta_d)
        if self.epoch_mode == "step" or n % m:
            self._fn("step")(dev.put(np.arange(m if self.epoch_mode == "step" else n % m)), eta_d)
        self._fn("status")()
        if evaluating:
            self._fn("count")()
        self._restore(snapshot)
        dev.sync(self._w[0])
        return time.perf_counter() - start

    def _train_epoch(self, perm, m, eta_d, epoch, n_batches, progress):
        """One pass over the loaded data in the order `perm`, mini-batches of `m`."""
        dev = self.device
        full = len(perm) // m
        done = 0
        if self.epoch_mode == "scan" and full:
            batches = perm[: full * m].reshape(full, m)
            for part in np.split(batches, self._chunks(full)):
                self._fn("epoch")(dev.put(part), eta_d)
                done += len(part)
                if progress:
                    progress(epoch, done, n_batches)
        step = self._fn("step")
        for k in range(done, n_batches):
            step(dev.put(perm[k * m : (k + 1) * m]), eta_d)
            if progress and ((k + 1) % max(1, n_batches // 10) == 0 or k + 1 == n_batches):
                progress(epoch, k + 1, n_batches)

    def update_mini_batch(self, mini_batch, eta):
        """Apply one gradient-descent step for `mini_batch` (eqs. 20-21), in the graph.

        `mini_batch` is a list of (x, y) pairs or a tuple (X, Y), as for ``SGD``.
        """
        x, y = inputs.training_arrays(mini_batch, self.sizes[0], self.sizes[-1], self.dtype, "mini_batch")
        eta = inputs.check_eta(eta)
        self.device.assign(self._data_x, x)
        self.device.assign(self._data_y, y)
        self._fn("step")(self.device.put(np.arange(len(x))), self.device.put(np.asarray(eta, dtype=self.dtype)))

    def backprop(self, x, y):
        """``(nabla_b, nabla_w)`` for input column(s) `x` and targets `y`: BP1-BP4 by hand.

        Summed over the columns when `x` is (n_in, m).  See :mod:`dlpy35.backprop`.
        """
        x, y = self._columns(x, y)
        return bp.backprop(self.weights, self.biases, x, y)

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
        inputs._check_width(x.T, self.sizes[0], "x")
        if y.shape != (self.sizes[-1], x.shape[1]):
            raise ValueError(f"y: expected shape {(self.sizes[-1], x.shape[1])} to match x's columns, got {y.shape}")
        return x, y

    def evaluate(self, test_data):
        """Number of test inputs for which the output neuron with the highest activation is the label."""
        self._load_eval(test_data)
        return self._count_correct()

    def _load_eval(self, data):
        x, labels = inputs.labelled_arrays(data, self.sizes[0], self.sizes[-1], self.dtype)
        self.device.assign(self._eval_x, x)
        self.device.assign(self._eval_y, labels)
        return len(x)

    def _count_correct(self):
        return int(self.device.get(self._fn("count")()))

    def cost_derivative(self, output_activations, y):
        """``dC_x/da`` for the quadratic cost: ``a - y``."""
        return bp.cost_derivative(output_activations, y)
