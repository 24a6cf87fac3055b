"""``network3``: the book's chapter-6 network of layers -- convolutions, softmax, dropout.

The API is the book's ``network3.py``: ``load_data_shared()``, ``Network(layers, mini_batch_size)``
and ``SGD(training_data, epochs, mini_batch_size, eta, validation_data,
test_data, lmbda=0.0)``, printing the book's lines and reporting the test
accuracy at the epoch of best validation accuracy.  The layers live in
:mod:`dlpy35.engine.layers`.  Training is device-resident like
:class:`dlpy35.network.Network`: the data and the parameters are put on the
device once, each epoch's permutation is gathered there, and an epoch runs in a
few ``pytensor.scan`` calls; validation and test accuracies are computed on the
device too.  The network is a :class:`dlpy35.engine.layers.LayerStack` trained by
:class:`dlpy35.engine.trainer.Trainer`, with checkpoints and exact resume.

As in the book, an epoch is ``n // mini_batch_size`` full mini-batches of a
fresh permutation (the remainder is left out of that epoch), the cost is the
mean log-likelihood of the mini-batch plus ``0.5 lmbda sum(w^2) /
num_training_batches``, and the update is ``p -> p - eta dC/dp``.
"""

from __future__ import annotations

import io
import json

import numpy as np

from dlpy35.chapter6 import DROPOUT_PRESET, PRESETS, book_layers  # noqa: F401 (the module's public API)
from dlpy35.engine import arguments
from dlpy35.engine.callbacks import Callback, OnEpoch
from dlpy35.engine.device import DTYPES, resolve
from dlpy35.engine.ensemble import ensemble_accuracy, ensemble_predict  # noqa: F401
from dlpy35.engine.layers import (  # noqa: F401
    ConvPoolLayer,
    FullyConnectedLayer,
    LayerStack,
    ReLU,
    SoftmaxLayer,
    from_spec,
    linear,
    sigmoid,
    tanh,
)
from dlpy35.engine.order import OneOrder
from dlpy35.engine.predictor import Predictor
from dlpy35.engine.trainer import TrainedNetwork, Trainer, TrainingDiverged
from dlpy35.storage import checkpoint
from dlpy35.storage import metadata as meta
from dlpy35.storage.atomic import atomic_write
from dlpy35.storage.checkpoint import Checkpoint
from dlpy35.storage.metadata import Metadata
from dlpy35.storage.saved_files import (
    NPZ_ERRORS,
    SavedFileError,
    check_values,
    open_npz,
    read_npz_array,
    read_npz_text,
)

__all__ = ["Network", "load", "load_data_shared", "size", "ensemble_predict", "ensemble_accuracy",
           "book_layers", "PRESETS",
           "ConvPoolLayer", "FullyConnectedLayer", "SoftmaxLayer", "sigmoid", "tanh", "ReLU", "linear",
           "TrainingDiverged"]

EVAL_BATCH = 500  # rows per evaluation chunk (im2col patches of 500 images fit comfortably)
FORMAT = "dlpy35.network3"


class Network(Predictor, TrainedNetwork):
    """A stack of layers trained by mini-batch SGD on the log-likelihood cost.

    A trained network answers as scikit-learn's classifiers do: ``predict(X)`` (the labels),
    ``predict_proba(X)`` (the softmax outputs), ``score(X, y)`` and ``predict_files(paths)``
    (:class:`dlpy35.engine.predictor.Predictor`).

    Parameters
    ----------
    layers : list of Layer
        From :mod:`dlpy35.engine.layers`, ending with a ``SoftmaxLayer``; checked to chain.
    mini_batch_size : int
    seed : int, optional
        Seeds the initial weights, every epoch's shuffle and the dropout masks:
        the same seed and mode give the same trained weights.
    dtype : {"float32", "float64"}
    mode : str, optional
        PyTensor mode (``JAX``, ``NUMBA``...); default from :func:`dlpy35.engine.device.resolve`.
    device : {"auto", "cuda", "cpu"}
    epoch_mode : {"scan", "step"}
        ``scan``: a chunk of mini-batches per compiled call; ``step``: one call per mini-batch.

    Attributes
    ----------
    layers, mini_batch_size, params (shared variables, ``[w0, b0, w1, b1, ...]``), device, trainer,
    seed, compile_seconds, best (after ``SGD``: best validation accuracy, its iteration and test accuracy),
    records (after ``SGD``: its :class:`dlpy35.engine.records.EpochRecord` list)
    """

    def __init__(self, layers, mini_batch_size, seed=None, dtype="float32", mode=None, device="auto",
                 epoch_mode="scan"):
        self.mini_batch_size = arguments.check_count(mini_batch_size, "mini_batch_size", 1)
        self.model = LayerStack(layers, self.mini_batch_size)
        self.layers = self.model.layers
        self.device = resolve(device, mode, dtype)
        self.dtype, self.seed = dtype, seed
        self.rng = np.random.default_rng(seed)
        self.trainer = Trainer(self.model, self.device, self.model.init_params(self.rng, dtype),
                               OneOrder(self.rng), epoch_mode=epoch_mode, drop_last=True,
                               eval_chunk=EVAL_BATCH)
        self.params = self.trainer.params
        self.best = self.records = None

    def __repr__(self):
        return f"Network({self.layers}, mini_batch_size={self.mini_batch_size}, {self.device.describe()})"

    @property
    def n_in(self):
        return self.layers[0].n_in

    @property
    def n_out(self):
        return self.layers[-1].n_out

    def _labelled(self, data, name):
        return arguments.labelled_arrays(data, self.n_in, self.n_out, self.dtype, name)

    # -- the book's API -------------------------------------------------------------------
    def SGD(self, training_data, epochs, mini_batch_size, eta, validation_data=None, test_data=None,  # noqa: N802
            lmbda=0.0, *, checkpoint_dir=None, resume=False, overwrite=False, progress=None, on_epoch=None,
            callbacks=(), verbose=True):
        """Train by mini-batch SGD, reporting as the book does.

        Parameters
        ----------
        training_data : (X (n, n_in), labels (n,)) or the book's list of pairs
        epochs, eta
        mini_batch_size : int
            Must equal the network's ``mini_batch_size`` (ValueError otherwise).
        validation_data, test_data : (X, labels) or lists of (x, label) pairs, optional
            Accuracies after every epoch; the test accuracy reported at the end
            is the one at the epoch of best validation accuracy (the later epoch
            on a tie, as the book's ``>=``).
        lmbda : float
            L2 regularisation: ``0.5 lmbda sum(w^2) / num_training_batches`` is added to the cost.
        checkpoint_dir, resume, overwrite
            Checkpoint after every epoch and on Ctrl-C; continue the checkpoint there
            (the weights of an uninterrupted run), or start over in its place.
        progress, on_epoch, callbacks, verbose
            As for :meth:`dlpy35.network2.Network.SGD`; `on_epoch` receives the dict
            this method returns for the epoch.

        Returns
        -------
        list of dict
            Per epoch (resumed ones included): ``epoch``, ``validation_accuracy``
            and ``test_accuracy`` (fractions, None without the data), ``seconds``
            (training only), ``cost`` (mean regularised mini-batch cost).
            ``self.records`` holds the same epochs as :class:`dlpy35.engine.records.EpochRecord`.
        """
        m = arguments.check_count(mini_batch_size, "mini_batch_size", 1)
        if m != self.mini_batch_size:
            raise ValueError(f"SGD: mini_batch_size {m} differs from the network's mini_batch_size "
                             f"{self.mini_batch_size}; build the Network with the size you train with")
        epochs, eta = arguments.check_count(epochs, "epochs", 0), arguments.check_eta(eta)
        lmbda = arguments.check_lmbda(lmbda)
        with checkpoint.claim(checkpoint_dir, resume, overwrite):
            run = self._begin(training_data, validation_data, test_data, epochs, m, eta, lmbda)
            run.identity = checkpoint.run_identity(self.trainer, run, {
                "sizes": [self.n_in, *(layer.n_out for layer in self.layers)],
                "layers": [layer.spec() for layer in self.layers], "seed": self.seed, "lmbda": lmbda})
            saver = Checkpoint.of_run(self.trainer, run, checkpoint_dir, resume, verbose, required=("best",))
            book = on_epoch and OnEpoch(lambda r: on_epoch(_as_dict(r)))
            policies = self._policies(BestValidation(verbose), saver, book, *callbacks)
            self.trainer.train(run, policies, progress=_book_progress(progress) if verbose else progress)
            self.best, self.records = run.state["best"], run.records
            if verbose:
                self._report_end()
            return [_as_dict(r) for r in run.records]

    def _begin(self, training_data, validation_data, test_data, epochs, m, eta, lmbda):
        """Put the data on the device and compile; the trainer's run, with no best epoch yet."""
        x, y = self._labelled(training_data, "training_data")
        sets = {k: self._labelled(d, f"{k}_data")
                for k, d in (("validation", validation_data), ("test", test_data)) if d is not None}
        n_batches = len(x) // m
        run = self.trainer.begin(x, y, epochs, m, eta, sets=sets,
                                 hyper=lambda e: {"eta": e, "l2": lmbda / max(n_batches, 1)})
        run.state["best"] = {"validation_accuracy": None, "iteration": None, "test_accuracy": None}
        return run

    def _report_end(self):
        print("Finished training network.")
        if self.best["iteration"] is not None:
            print(f"Best validation accuracy of {self.best['validation_accuracy']:.2%} obtained at iteration "
                  f"{self.best['iteration']}")
            if self.best["test_accuracy"] is not None:
                print(f"Corresponding test accuracy of {self.best['test_accuracy']:.2%}")

    # -- using a trained network (predict, predict_proba, score: Predictor's, in chunks of EVAL_BATCH) ------
    def _probabilities(self, outputs):
        """The softmax layer's outputs, probabilities already."""
        return outputs

    def accuracy(self, data):
        """Fraction of `data` ((X, labels) or pairs) classified correctly."""
        return self.trainer.evaluate_data(*self._labelled(data, "data")).accuracy

    @property
    def weights(self):
        """Host copies of the parameters, ``[w0, b0, w1, b1, ...]``."""
        return self.trainer.values()

    # -- save / load ----------------------------------------------------------------------------
    metadata = Metadata()

    def save(self, filename, metadata=None):
        """Write the layer description, the weights and the ``metadata`` text (:mod:`dlpy35.storage.metadata`,
        JSON) to `filename` (npz), atomically.

        `metadata` is what the network was trained on: a :class:`dlpy35.data.Dataset` or a
        :class:`~dlpy35.storage.metadata.Metadata`, which becomes the network's ``metadata``;
        by default the network's own.  ValueError when it does not fit the network's sizes.
        """
        record = meta.chosen(metadata, self.metadata)
        record.check_network(self.n_in, self.n_out)
        self.metadata = record
        spec = {"format": FORMAT, "version": 1, "mini_batch_size": self.mini_batch_size, "dtype": self.dtype,
                "layers": [layer.spec() for layer in self.layers]}
        buf = io.BytesIO()
        np.savez(buf, spec=np.array(json.dumps(spec)), metadata=np.array(json.dumps(record.to_dict())),
                 **{f"p{i}": p for i, p in enumerate(self.weights)})
        with atomic_write(filename, "wb") as f:
            f.write(buf.getvalue())


def _book_progress(progress):
    """`progress` that also prints the book's ``Training mini-batch number N`` every 1,000 mini-batches.

    The trainer reports its progress after each chunk of mini-batches it runs on the device, so
    the lines of a chunk appear when the chunk ends, in the book's order.
    """
    state = {"next": None}

    def report(epoch, done, total):
        trained = total * epoch + done  # mini-batches trained, counting from the first epoch
        if state["next"] is None:  # a resumed run starts counting where it resumed
            state["next"] = -(-(trained - done) // 1000) * 1000
        while state["next"] < trained:
            print(f"Training mini-batch number {state['next']}", flush=True)
            state["next"] += 1000
        if progress:
            progress(epoch, done, total)

    return report


class BestValidation(Callback):
    """Keeps the epoch of best validation accuracy in ``run.state["best"]`` (the later epoch on a tie, as
    the book's ``>=``), printing the book's lines when `verbose`."""

    def __init__(self, verbose=True):
        self.verbose = verbose

    def after_epoch(self, trainer, run, record):
        best, ev = run.state["best"], record.evaluations
        test = ev["test"].accuracy if "test" in ev else None
        if "validation" not in ev:
            self._say(f"Epoch {record.epoch}: trained in {record.seconds:.1f} s")
            return None
        acc = ev["validation"].accuracy
        self._say(f"Epoch {record.epoch}: validation accuracy {acc:.2%}")
        if best["validation_accuracy"] is None or acc >= best["validation_accuracy"]:
            best.update(validation_accuracy=acc, iteration=run.n_batches * (record.epoch + 1) - 1,
                        test_accuracy=test)
            self._say("This is the best validation accuracy to date.")
            if test is not None:
                self._say(f"The corresponding test accuracy is {test:.2%}")
        return None

    def _say(self, line):
        if self.verbose:
            print(line, flush=True)


def _as_dict(record):
    """The per-epoch dict ``SGD`` returns, from the trainer's record."""
    d = {"epoch": record.epoch, "validation_accuracy": None, "test_accuracy": None, "seconds": record.seconds,
         "cost": record.cost}
    for name, ev in record.evaluations.items():
        d[f"{name}_accuracy"] = ev.accuracy
    return d


def load(filename, seed=None, mode=None, device="auto", epoch_mode="scan"):
    """The network saved by :meth:`Network.save`.

    Raises
    ------
    SavedFileError
        One line naming the file and what is wrong with it: not an npz, a damaged
        archive or spec, parameters missing, of other shapes, not real numbers, not
        finite in the spec's dtype, or not finite once on the device.
    FileNotFoundError
        No such file: a missing file is not a corrupt one.
    """
    try:
        f, file_size = open_npz(filename)
        with f:
            spec = json.loads(read_npz_text(f, "spec", file_size))
            params = [read_npz_array(f, f"p{i}", file_size) for i in range(2 * len(spec["layers"]))]
            recorded = json.loads(read_npz_text(f, "metadata", file_size)) if "metadata" in f.files else None
        if spec.get("format") != FORMAT:
            raise ValueError(f"format is {spec.get('format')!r}, not {FORMAT!r}")
        layers = [from_spec(s) for s in spec["layers"]]
        mini_batch_size, dtype = spec["mini_batch_size"], spec["dtype"]
        # Checked here, not left to Network: its ValueError would not name the file.
        if not arguments.is_count(mini_batch_size):
            raise ValueError(f"mini_batch_size must be a positive integer, got {mini_batch_size!r}")
        if not isinstance(dtype, str) or dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {DTYPES}, got {dtype!r}")
        check_values([(f"p{i}", p) for i, p in enumerate(params)], dtype)
        LayerStack(layers, mini_batch_size).check_values(params)
        record = _metadata(recorded, layers)
    except FileNotFoundError:
        raise
    except NPZ_ERRORS as exc:
        msg = " ".join(str(exc).split()) or type(exc).__name__  # numpy's messages span lines
        raise SavedFileError(f"{filename}: not a dlpy35 network3 file ({msg}); save the network again "
                             "with Network.save, or load another file") from None
    net = Network(layers, mini_batch_size, seed=seed, dtype=dtype, mode=mode, device=device,
                  epoch_mode=epoch_mode)
    # The device may hold less than the dtype (JAX without x64 keeps float32) and overflow there.
    with np.errstate(over="ignore"):  # checked just below
        net.trainer.assign(params)
    if not all(np.all(np.isfinite(v)) for v in net.trainer.values()):
        largest = max(float(np.max(np.abs(p), initial=0.0)) for p in params)
        raise SavedFileError(f"{filename}: values as large as {largest:.4g} are not finite on the device "
                             f"({net.device.describe()}); load it with mode=\"NUMBA\"")
    net.metadata = record
    return net


def _metadata(recorded, layers):
    """The :class:`~dlpy35.storage.metadata.Metadata` of a file's `recorded` JSON (None: an older file)."""
    try:
        return meta.read(recorded, layers[0].n_in, layers[-1].n_out)
    except ValueError as exc:
        raise ValueError(f"its metadata: {exc}") from None


def load_data_shared(filename=None):
    """The book's ``load_data_shared``: ``[training_data, validation_data, test_data]``.

    Each set is ``(X, y)`` -- float32 images (n, 784) in [0, 1) and int64 labels --
    the form :meth:`Network.SGD` takes.  The book wraps them in Theano shared variables
    so that training never copies them again; here ``SGD`` puts them into PyTensor
    shared variables on the device once, when a run starts, for the same reason.

    Parameters
    ----------
    filename : path-like, optional
        None: the verified MNIST (:func:`dlpy35.data.load_mnist`, fetched on first
        use).  A path: that pickle -- the book's ``mnist.pkl.gz``, or the
        ``mnist_expanded.pkl.gz`` its ``expand_mnist.py`` writes (250,000 training images).

    Raises
    ------
    dlpy35.data.DataError
        One line naming the file and what is wrong with it.
    """
    from dlpy35.data import load_mnist, load_pickle

    return [tuple(s) for s in (load_mnist() if filename is None else load_pickle(filename))]


def size(data):
    """The book's ``size``: the number of examples in `data` ((X, y) or a list of pairs)."""
    if isinstance(data, tuple) and len(data) == 2 and hasattr(data[0], "shape"):
        return len(data[0])
    return len(data)
