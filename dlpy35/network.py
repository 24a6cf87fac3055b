"""``Network``: the book's ``network.py`` (chapter 1) with a symbolic PyTensor core.

The API is the book's -- ``Network(sizes)``, ``feedforward``, ``SGD``,
``update_mini_batch``, ``backprop``, ``evaluate``, ``cost_derivative`` -- and so
is the behaviour: N(0, 1) initialisation, the quadratic cost, a shuffle every
epoch, ``Epoch j : correct / n`` lines.  The network is a
:class:`dlpy35.engine.graph.SigmoidNet` trained by :class:`dlpy35.engine.trainer.Trainer`:
weights and data in shared variables on the device, gradients from
``pytensor.grad``.  ``backprop`` keeps its meaning through the hand-written
BP1-BP4 of :mod:`dlpy35.engine.backprop`, which the tests check the graph against.
"""

from __future__ import annotations

import json

import numpy as np
import pytensor.tensor as pt

from dlpy35.engine import arguments, costs, graph
from dlpy35.engine import backprop as bp
from dlpy35.engine.backprop import sigmoid, sigmoid_prime  # noqa: F401 (the book's module functions)
from dlpy35.engine.callbacks import Callback, OnEpoch
from dlpy35.engine.costs import QuadraticCost
from dlpy35.engine.device import DTYPES, resolve
from dlpy35.engine.order import OneOrder
from dlpy35.engine.predictor import Predictor, normalised_rows
from dlpy35.engine.trainer import TrainedNetwork, Trainer, TrainingDiverged  # noqa: F401 (TrainingDiverged: public here)
from dlpy35.storage import metadata as meta
from dlpy35.storage.atomic import atomic_write
from dlpy35.storage.bounded import read_json
from dlpy35.storage.metadata import Metadata
from dlpy35.storage.saved_files import SavedFileError

WEIGHT_INITS = ("large", "default")
REGULARIZERS = (None, "l2", "l1")
#: The most a JSON network file may hold: what :func:`load` reads, and so what :meth:`Network.save` writes.
#: Parsing it holds about three times as much (the text, and a Python float per number).
JSON_BYTES = 1 << 30
#: A float64's longest text (``-2.2250738585072014e-308``) and its separator: each number's most.
JSON_CHARS_PER_NUMBER = 26


class Network(Predictor, TrainedNetwork):
    """A fully connected sigmoid network trained by mini-batch SGD.

    Besides the book's methods, a trained network answers as scikit-learn's classifiers do:
    ``predict(X)``, ``predict_proba(X)``, ``score(X, y)`` and ``predict_files(paths)``
    (:class:`dlpy35.engine.predictor.Predictor`).

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
        :func:`dlpy35.engine.device.resolve`.
    device : {"auto", "cuda", "cpu"}
        Where to run; ``auto`` takes a GPU when JAX sees one.
    epoch_mode : {"scan", "step"}
        ``scan`` runs a whole epoch's mini-batches in a few compiled calls,
        ``step`` calls the compiled SGD step once per mini-batch.  Both give
        the same weights.
    cost : QuadraticCost, CrossEntropyCost or a name
        The cost (:mod:`dlpy35.engine.costs`); chapter 1 uses the quadratic cost.
    weight_init : {"large", "default"}
        ``large``: N(0, 1) weights (chapter 1); ``default``: N(0, 1/n_in) (chapter 3).

    Attributes
    ----------
    num_layers, sizes : as in the book
    n_in, n_out : int
        ``sizes[0]`` and ``sizes[-1]``.
    seed, weight_init : as given (part of a checkpointed run's identity)
    metadata : dlpy35.storage.metadata.Metadata
        What the network was trained on, as :meth:`save` records it (a loaded network's, as its file
        recorded it; unrecorded for a new one until ``save`` is given its data set).
    device : dlpy35.engine.device.Device
    trainer : dlpy35.engine.trainer.Trainer
    """

    def __init__(self, sizes, seed=None, dtype="float32", mode=None, device="auto", epoch_mode="scan",
                 cost=QuadraticCost, weight_init="large"):
        self.sizes = arguments.check_sizes(sizes)
        self.num_layers = len(self.sizes)
        if weight_init not in WEIGHT_INITS:
            raise ValueError(f"weight_init must be one of {WEIGHT_INITS}, got {weight_init!r}")
        self.cost = costs.get(cost)
        self.device = resolve(device, mode, dtype)
        self.dtype, self.seed, self.weight_init = dtype, seed, weight_init
        self.rng = np.random.default_rng(seed)
        self.model = graph.SigmoidNet(self.sizes, self.cost)
        zeros = [np.zeros(shape, dtype) for shape in self.model.param_shapes]
        self.trainer = Trainer(self.model, self.device, zeros, OneOrder(self.rng), epoch_mode=epoch_mode)
        getattr(self, f"{weight_init}_weight_initializer")()

    def __repr__(self):
        return f"{type(self).__name__}({self.sizes}, cost={self.cost.name}, {self.device.describe()})"

    @property
    def n_in(self):
        return self.sizes[0]

    @property
    def n_out(self):
        return self.sizes[-1]

    def _probabilities(self, outputs):
        """The sigmoid outputs, scaled to sum 1 per example (not calibrated: see ``predict_proba``)."""
        return normalised_rows(outputs)

    # -- initial weights ---------------------------------------------------------
    def default_weight_initializer(self):
        """Weights N(0, 1/n_in), biases N(0, 1): chapter 3's default."""
        self.trainer.assign(self.model.init_params(self.rng, self.dtype, "default"))

    def large_weight_initializer(self):
        """Weights and biases N(0, 1): chapter 1's initialisation."""
        self.trainer.assign(self.model.init_params(self.rng, self.dtype, "large"))

    # -- parameters, in the book's shapes ---------------------------------------
    @property
    def weights(self):
        """``weights[l]``: (n_out, n_in) numpy copies of the device weights."""
        return self.model.checkpoint_arrays(self.trainer.values())[0]

    @weights.setter
    def weights(self, values):
        self._set_params(values, 0)

    @property
    def biases(self):
        """``biases[l]``: (n_out, 1) numpy copies of the device biases."""
        return self.model.checkpoint_arrays(self.trainer.values())[1]

    @biases.setter
    def biases(self, values):
        self._set_params(values, 1)

    def _set_params(self, values, part):
        """Replace the weights (`part` 0) or the biases (1), given in the book's shapes."""
        current = list(self.model.checkpoint_arrays(self.trainer.values()))
        current[part] = [np.asarray(v) for v in values]
        self.trainer.assign(self.model.from_checkpoint(*current))

    # -- the book's API ---------------------------------------------------------
    def feedforward(self, a):
        """Output ``a^L`` for input column(s) `a` (n_in, k), computed by the graph."""
        a = arguments.finite_inputs(a, self.dtype, "feedforward input")
        cols = a.reshape(self.sizes[0], -1) if a.ndim == 1 else a
        arguments.check_width(cols.T, self.sizes[0], "feedforward input")
        out = self.trainer.forward(cols.T)
        return out.T.reshape((-1,)) if a.ndim == 1 else out.T

    def SGD(self, training_data, epochs, mini_batch_size, eta, test_data=None, *,  # noqa: N802 (the book's name)
            progress=None, on_epoch=None, callbacks=(), verbose=True):
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
        callbacks : list of dlpy35.engine.callbacks.Callback
            More policies, consulted after the book's, with every epoch's
            :class:`dlpy35.engine.records.EpochRecord`.
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
        run = self._begin(training_data, epochs, mini_batch_size, eta,
                          sets={} if test_data is None else {"test": test_data})
        policies = self._policies(EpochLines() if verbose else None,
                                  on_epoch and OnEpoch(lambda r: on_epoch(_as_dict(r))), *callbacks)
        return [_as_dict(r) for r in self.trainer.train(run, policies, progress=progress)]

    def _begin(self, training_data, epochs, mini_batch_size, eta, lmbda=0.0, reg=None, sets=None,
               monitor_training=False):
        """Check the arguments, put the data on the device once, compile; the trainer's :class:`Run`.

        `sets` maps names to labelled data evaluated after every epoch; with
        `monitor_training` the training data is evaluated too, as ``"training"``.
        """
        x, y = arguments.training_arrays(training_data, self.sizes[0], self.sizes[-1], self.dtype)
        n = len(x)
        epochs = arguments.check_count(epochs, "epochs", 0)
        m = arguments.check_count(mini_batch_size, "mini_batch_size", 1, n)
        lmbda = arguments.check_lmbda(lmbda)
        if reg not in REGULARIZERS:
            raise ValueError(f"reg must be one of {REGULARIZERS}, got {reg!r}")
        labelled = {name: arguments.labelled_arrays(data, self.sizes[0], self.sizes[-1], self.dtype)
                    for name, data in (sets or {}).items()}
        if monitor_training:
            labelled["training"] = (x, np.argmax(y, axis=1))
        return self.trainer.begin(x, y, epochs, m, eta, hyper=lambda e: {"eta": e, "decay": e * lmbda / n},
                                  option=reg if lmbda else None, sets=labelled)

    def update_mini_batch(self, mini_batch, eta):
        """Apply one gradient-descent step for `mini_batch` (eqs. 20-21), in the graph.

        `mini_batch` is a list of (x, y) pairs or a tuple (X, Y), as for ``SGD``.
        """
        self._update_mini_batch(mini_batch, eta)

    def _update_mini_batch(self, mini_batch, eta, lmbda=0.0, n=None, reg=None):
        x, y = arguments.training_arrays(mini_batch, self.sizes[0], self.sizes[-1], self.dtype, "mini_batch")
        lmbda, n = arguments.check_lmbda(lmbda), n or len(x)
        self.trainer.update(x, y, eta, lambda e: {"eta": e, "decay": e * lmbda / n}, reg if lmbda else None)

    def backprop(self, x, y):
        """``(nabla_b, nabla_w)`` for input column(s) `x` and targets `y`: BP1-BP4 by hand.

        Summed over the columns when `x` is (n_in, m).  See :mod:`dlpy35.engine.backprop`.
        """
        x, y = arguments.columns(x, y, self.sizes[0], self.sizes[-1], self.dtype)
        return bp.backprop(self.weights, self.biases, x, y, self.cost.delta)

    def symbolic_gradients(self, x, y):
        """``(nabla_b, nabla_w)`` from ``pytensor.grad``, in the shapes ``backprop`` returns."""
        x, y = arguments.columns(x, y, self.sizes[0], self.sizes[-1], self.dtype)

        def build():
            xs, ys = pt.matrix("x", dtype=self.dtype), pt.matrix("y", dtype=self.dtype)
            return self.device.function([xs, ys], self.model.gradients(xs, ys, self.trainer.params))

        grads = [self.device.get(g) for g in self.trainer.compiled("gradients", build)(self.device.put(x.T),
                                                                                         self.device.put(y.T))]
        return [g[:, None] for g in grads[: self.num_layers - 1]], grads[self.num_layers - 1:]

    def evaluate(self, test_data):
        """Number of test inputs for which the output neuron with the highest activation is the label."""
        return self._evaluation(test_data).correct

    def _evaluation(self, data):
        """The :class:`dlpy35.engine.records.Evaluation` of `data`; a run's own sets stay loaded."""
        arrays = arguments.labelled_arrays(data, self.sizes[0], self.sizes[-1], self.dtype)
        return self.trainer.evaluate_data(*arrays)

    metadata = Metadata()

    def save(self, filename, metadata=None):
        """Save to the book's JSON format (sizes, weights, biases, cost), atomically, with a ``metadata`` key
        (:mod:`dlpy35.storage.metadata`) that the book's ``network2.load`` ignores.

        `metadata` is what the network was trained on: a :class:`dlpy35.data.Dataset` or a
        :class:`~dlpy35.storage.metadata.Metadata`, which becomes the network's ``metadata``;
        by default the network's own.  ValueError when it does not fit the network's sizes, or
        when the file would be larger than :func:`load` reads (:data:`JSON_BYTES`).
        """
        record = meta.chosen(metadata, self.metadata)
        record.check_network(self.sizes[0], self.sizes[-1])
        self.metadata = record
        data = {"sizes": self.sizes,
                "weights": [w.tolist() for w in self.weights],
                "biases": [b.tolist() for b in self.biases],
                "cost": self.cost.name,
                "metadata": record.to_dict()}
        text = json.dumps(data)  # ASCII: as many bytes as characters
        if len(text) > JSON_BYTES:  # what load would refuse: refused here, before the file is replaced
            raise ValueError(f"cannot save {filename}: {len(text):,} bytes of JSON, more than a JSON network "
                             f"file holds ({JSON_BYTES:,}); give smaller hidden layers")
        with atomic_write(filename, "w") as f:
            f.write(text)

    def cost_derivative(self, output_activations, y):
        """``dC_x/da`` for the quadratic cost: ``a - y``."""
        return bp.cost_derivative(output_activations, y)


class EpochLines(Callback):
    """The book's chapter-1 line after every epoch: ``Epoch j : correct / n`` (or ``Epoch j complete``
    without test data)."""

    def after_epoch(self, trainer, run, record):
        test = record.evaluations.get("test")
        print(f"Epoch {record.epoch} : {test.correct} / {test.total}" if test else
              f"Epoch {record.epoch} complete", flush=True)


def _as_dict(record):
    """The per-epoch dict ``SGD`` returns, from the trainer's record."""
    test = record.evaluations.get("test")
    return {"epoch": record.epoch, "cost": record.cost, "seconds": record.seconds,
            "correct": test.correct if test else None, "n_test": test.total if test else None}


def load(filename, **kwargs):
    """Load a network saved by :meth:`Network.save` (or by the book's ``network2.py``) as a :class:`Network`.

    Keyword arguments (``device``, ``mode``, ``dtype``...) go to :class:`Network`.

    Raises
    ------
    SavedFileError
        One line naming the file and what is wrong with it.
    """
    return load_as(Network, filename, **kwargs)


def load_as(network_class, filename, **kwargs):
    """A `network_class` (:class:`Network` or ``network2.Network``) from the book's JSON format.

    Keyword arguments (``device``, ``mode``, ``dtype``...) go to `network_class`.

    Raises
    ------
    SavedFileError
        One line naming the file and what is wrong with it.
    """
    data = _read_json(filename)
    sizes, cost = _saved_sizes(data, filename), _saved_cost(data["cost"], filename)
    weights, biases = _saved_parameters(data, sizes, cost, filename)
    _check_dtype_range(weights + biases, kwargs.get("dtype", "float32"), filename)
    try:
        record = meta.read(data.get("metadata"), sizes[0], sizes[-1])
    except ValueError as exc:
        raise SavedFileError(f"{filename}: its metadata: {exc}") from None
    net = network_class(sizes, cost=cost, **kwargs)
    _set_parameters(net, weights, biases, filename)
    net.metadata = record
    return net


def check_json_size(sizes):
    """ValueError when a network of `sizes` has more weights and biases than a JSON file of
    :data:`JSON_BYTES` holds at the longest: a command's check before it trains one to save."""
    numbers = sum(n_in * n_out + n_out for n_in, n_out in zip(sizes[:-1], sizes[1:]))
    most = JSON_BYTES // JSON_CHARS_PER_NUMBER
    if numbers > most:
        raise ValueError(f"a network of sizes {list(sizes)} has {numbers:,} weights and biases, more than a "
                         f"JSON network file holds ({most:,}); give smaller hidden layers")


def _read_json(filename):
    """The JSON document in `filename`, read within :data:`JSON_BYTES`; a :class:`SavedFileError` when it
    cannot be read, is larger or does not parse."""
    try:
        return read_json(filename, JSON_BYTES)
    except OSError as exc:
        raise SavedFileError(f"{filename}: cannot read it ({exc.strerror})") from None
    except ValueError as exc:  # too large, not a file, not JSON, nested too deeply, an integer too long
        raise SavedFileError(f"{filename}: not a JSON network file ({exc})") from None


def _saved_sizes(data, filename):
    """The layer sizes of the saved network `data`, once it has all four keys of the format."""
    if not isinstance(data, dict) or not {"sizes", "weights", "biases", "cost"} <= data.keys():
        raise SavedFileError(f"{filename}: not a saved network: "
                               "needs the keys sizes, weights, biases and cost")
    sizes = data["sizes"]
    if (not isinstance(sizes, list) or len(sizes) < 2
            or not all(arguments.is_count(s) for s in sizes)):
        raise SavedFileError(f"{filename}: sizes must be a list of at least two positive integers, "
                               f"got {sizes!r}")
    return sizes


def _saved_cost(name, filename):
    """The cost class saved as `name`; a :class:`SavedFileError` for anything but a known cost's name."""
    try:
        cost = costs.get(name) if isinstance(name, str) else None
    except ValueError:
        cost = None
    if cost is None:
        raise SavedFileError(f"{filename}: unknown cost {name!r}; "
                               f"expected one of {sorted(costs.COSTS)}")
    return cost


def _saved_parameters(data, sizes, cost, filename):
    """``(weights, biases)`` of the saved network `data` as float64 arrays, checked against `sizes`."""
    try:
        weights = [np.asarray(w, dtype=np.float64) for w in data["weights"]]
        biases = [np.asarray(b, dtype=np.float64) for b in data["biases"]]
    except (TypeError, ValueError, OverflowError):  # OverflowError: an integer beyond float64
        raise SavedFileError(f"{filename}: weights and biases must be nested lists of numbers") from None
    try:
        graph.SigmoidNet(sizes, cost).from_checkpoint(weights, biases)
    except ValueError as exc:
        raise SavedFileError(f"{filename}: does not match sizes {sizes}: {exc}") from None
    return weights, biases


def _all_finite(arrays):
    """Whether every value of every array is finite."""
    return all(np.all(np.isfinite(a)) for a in arrays)


def _largest(arrays):
    """The largest magnitude among the arrays' values, for messages."""
    return max(float(np.max(np.abs(a), initial=0.0)) for a in arrays)


def _check_dtype_range(arrays, dtype, filename):
    """A :class:`SavedFileError` when the float64 `arrays` overflow `dtype`, the dtype asked for."""
    if not (isinstance(dtype, str) and dtype in DTYPES):  # another dtype is Network's to refuse
        return
    # Finite in float64 (checked on reading) may still overflow to inf in float32.
    with np.errstate(over="ignore"):
        finite = _all_finite(a.astype(dtype) for a in arrays)
    if not finite:
        raise SavedFileError(f"{filename}: values as large as {_largest(arrays):.4g} overflow {dtype}; "
                               "load it with dtype=\"float64\"")


def _set_parameters(net, weights, biases, filename):
    """Give `net` the saved `weights` and `biases`; :class:`SavedFileError` when its device cannot.

    The device may hold less than the dtype asked for (JAX without x64 keeps float32), and
    overflow there: the second assignment refuses the first's inf (ValueError), or the values
    read back are not finite.
    """
    try:
        with np.errstate(over="ignore"):  # checked just below
            net.weights, net.biases = weights, biases
        held = net.weights + net.biases
    except ValueError:
        held = None
    if held is None or not _all_finite(held):
        largest = _largest(weights + biases)
        raise SavedFileError(f"{filename}: values as large as {largest:.4g} are not finite on the device "
                               f"({net.device.describe()}); load it with dtype=\"float64\" and "
                               "mode=\"NUMBA\"")
