"""``network3``: the book's chapter-6 network of layers -- convolutions, softmax, dropout.

The API is the book's ``network3.py``: ``Network(layers, mini_batch_size)``
and ``SGD(training_data, epochs, mini_batch_size, eta, validation_data,
test_data, lmbda=0.0)``, printing the book's lines and reporting the test
accuracy at the epoch of best validation accuracy.  The layers live in
:mod:`dlpy35.layers`.  Training is device-resident like
:class:`dlpy35.network.Network`: the data and the parameters are put on the
device once, each epoch's permutation is gathered there, and an epoch runs in a
few ``pytensor.scan`` calls; validation and test accuracies are computed on the
device too.

Fixed from the Python 3 port (``shared/REFERENCE.md``): the device comes from
:mod:`dlpy35.device` (no dead ``device`` flag); ``SGD``'s ``mini_batch_size``
must equal the network's (the book passes it twice; a mismatch is a
ValueError, not a silent wrong shape); the test accuracy is always defined;
each dropout layer draws from its own seeded stream.

As in the book, an epoch is ``n // mini_batch_size`` full mini-batches of a
fresh permutation (the remainder is left out of that epoch), the cost is the
mean log-likelihood of the mini-batch plus ``0.5 lmbda sum(w^2) /
num_training_batches``, and the update is ``p -> p - eta dC/dp``.
"""

from __future__ import annotations

import contextlib
import io
import json
import time
import warnings
import zipfile

import numpy as np
import pytensor
import pytensor.tensor as pt

from dlpy35 import inputs
from dlpy35.atomic import atomic_write
from dlpy35.device import resolve
from dlpy35.layers import (ConvPoolLayer, FullyConnectedLayer, ReLU, SoftmaxLayer, from_spec, linear,  # noqa: F401
                           sigmoid, tanh)
from dlpy35.network import EPOCH_MODES, TrainingDiverged, epoch_chunks

__all__ = ["Network", "load", "size", "ensemble_predict", "ensemble_accuracy", "book_layers", "PRESETS",
           "ConvPoolLayer", "FullyConnectedLayer", "SoftmaxLayer", "sigmoid", "tanh", "ReLU", "linear",
           "TrainingDiverged"]



@contextlib.contextmanager
def _quiet():
    """Silence known noise of the JAX backend while compiling and tracing: it copies the
    dropout generators into the compiled graph (we never read them back), and drops shape
    assertions it cannot trace."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The RandomType SharedVariables", category=UserWarning)
        warnings.filterwarnings("ignore", message="Skipping Assert", category=UserWarning)
        yield


EVAL_BATCH = 500  # rows per evaluation chunk (im2col patches of 500 images fit comfortably)
FORMAT = "dlpy35.network3"


def _check_chain(layers, mini_batch_size):
    """ValueError unless each layer takes what the previous one gives."""
    if not isinstance(layers, (list, tuple)) or not layers:
        raise ValueError(f"layers must be a non-empty list of layers, got {layers!r}")
    for i, layer in enumerate(layers):
        if not isinstance(layer, (ConvPoolLayer, FullyConnectedLayer)):
            raise ValueError(f"layer {i}: expected a ConvPoolLayer, FullyConnectedLayer or SoftmaxLayer, got {layer!r}")
        mb = getattr(layer, "mini_batch_size", None)
        if mb is not None and mb != mini_batch_size:
            raise ValueError(f"layer {i} ({layer.kind}): image_shape[0] is {mb} but the network's "
                             f"mini_batch_size is {mini_batch_size}")
        if i == 0:
            continue
        prev = layers[i - 1]
        if isinstance(layer, ConvPoolLayer) and isinstance(prev, ConvPoolLayer):
            c, h, w = layer.image_shape
            ph, pw, pc = prev.out_image
            if (c, h, w) != (pc, ph, pw):
                raise ValueError(f"layer {i} ({layer.kind}): image_shape (channels, height, width) = {(c, h, w)} "
                                 f"but layer {i - 1} outputs {pc} feature maps of {ph}x{pw}")
        elif layer.n_in != prev.n_out:
            raise ValueError(f"layer {i} ({layer.kind}): n_in = {layer.n_in} but layer {i - 1} ({prev.kind}) "
                             f"outputs {prev.n_out} values")
    if not isinstance(layers[-1], SoftmaxLayer):
        raise ValueError(f"the last layer must be a SoftmaxLayer (it defines the cost), got {layers[-1].kind}")


class Network:
    """A stack of layers trained by mini-batch SGD on the log-likelihood cost.

    Parameters
    ----------
    layers : list of Layer
        From :mod:`dlpy35.layers`, ending with a ``SoftmaxLayer``; checked to chain.
    mini_batch_size : int
    seed : int, optional
        Seeds the initial weights, each dropout layer's stream and every epoch's
        shuffle: the same seed and mode give the same trained weights.
    dtype : {"float32", "float64"}
    mode : str, optional
        PyTensor mode (``JAX``, ``NUMBA``...); default from :func:`dlpy35.device.resolve`.
    device : {"auto", "cuda", "cpu"}
    epoch_mode : {"scan", "step"}
        ``scan``: a chunk of mini-batches per compiled call; ``step``: one call per mini-batch.

    Attributes
    ----------
    layers, mini_batch_size, params (shared variables, ``[w0, b0, w1, b1, ...]``), device,
    compile_seconds, best (after ``SGD``: best validation accuracy, its iteration and test accuracy)
    """

    def __init__(self, layers, mini_batch_size, seed=None, dtype="float32", mode=None, device="auto",
                 epoch_mode="scan"):
        self.mini_batch_size = inputs.check_count(mini_batch_size, "mini_batch_size", 1)
        _check_chain(layers, self.mini_batch_size)
        if epoch_mode not in EPOCH_MODES:
            raise ValueError(f"epoch_mode must be one of {EPOCH_MODES}, got {epoch_mode!r}")
        self.layers = list(layers)
        self.epoch_mode = epoch_mode
        self.device = resolve(device, mode, dtype)
        self.dtype = dtype
        self.rng = np.random.default_rng(seed)
        dev = self.device
        self.params = []
        for i, layer in enumerate(self.layers):
            w, b = layer.init_params(self.rng, dtype)
            self.params += [dev.shared(w, f"w{i}"), dev.shared(b, f"b{i}")]
        # One generator per dropout layer, seeded from the network's generator.
        self._rngs = {i: pytensor.shared(np.random.default_rng(self.rng.integers(2**63)), f"dropout_rng{i}")
                      for i, layer in enumerate(self.layers) if layer.p_dropout}
        n_in = self.layers[0].n_in
        self._train_x = dev.shared(np.zeros((0, n_in), dtype), "train_x")
        self._train_y = dev.shared(np.zeros(0, np.int64), "train_y")
        self._eval = {k: (dev.shared(np.zeros((0, 1, n_in), dtype), f"{k}_x"),
                          dev.shared(np.zeros((0, 1), np.int64), f"{k}_y"),
                          dev.shared(np.zeros(0, np.int64), f"{k}_chunks")) for k in ("validation", "test")}
        self._cost_sum = dev.shared(np.zeros((), dtype), "cost_sum")
        self._fns = {}
        self.compile_seconds = None
        self.best = None

    def __repr__(self):
        return f"Network({self.layers}, mini_batch_size={self.mini_batch_size}, {self.device.describe()})"

    @property
    def n_in(self):
        return self.layers[0].n_in

    @property
    def n_out(self):
        return self.layers[-1].n_out

    # -- the graph --------------------------------------------------------------------
    def _pairs(self, params):
        return [params[2 * i : 2 * i + 2] for i in range(len(self.layers))]

    def output(self, x, params=None):
        """Symbolic inference output (m, n_out) for the flat batch `x` (weights scaled for dropout)."""
        for layer, p in zip(self.layers, self._pairs(params or self.params)):
            x = layer.output(x, p)
        return x

    def cost(self, x, y, params, rngs):
        """``(next_rngs, cost)``: the training path's mean log-likelihood on (x, y), dropout applied.

        `rngs` maps dropout-layer index to a random generator variable.
        """
        rngs = dict(rngs)
        pairs = self._pairs(params)
        for i, layer in enumerate(self.layers[:-1]):
            rngs[i], x = layer.output_dropout(x, pairs[i], rngs.get(i))
        last = len(self.layers) - 1
        rngs[last], c = self.layers[-1].cost(x, pairs[-1], y, rngs.get(last))
        return {i: rngs[i] for i in self._rngs}, c

    def _sgd_step(self, rows, params, rngs, eta, l2):
        """New params, next rngs and the regularised cost of the mini-batch `rows`."""
        rngs, c = self.cost(self._train_x[rows], self._train_y[rows], params, rngs)
        c = c + 0.5 * l2 * sum(pt.sum(pt.sqr(w)) for w in params[0::2])
        grads = pytensor.grad(c, params)
        return [p - eta * g for p, g in zip(params, grads)], rngs, c

    def _build_train(self, kind):
        eta = pt.scalar("eta", dtype=self.dtype)
        l2 = pt.scalar("l2", dtype=self.dtype)  # lmbda / num_training_batches
        keys = list(self._rngs)
        n = len(self.params)
        if kind == "step":
            rows = pt.vector("rows", dtype="int64")
            new, rngs, c = self._sgd_step(rows, self.params, self._rngs, eta, l2)
            new_rngs = [rngs[k] for k in keys]
        else:
            rows = pt.matrix("batches", dtype="int64")

            def step(r, *state):
                new, rngs, c = self._sgd_step(r, list(state[:n]), dict(zip(keys, state[n:])), eta, l2)
                return [*new, *(rngs[k] for k in keys), c]

            outs = pytensor.scan(step, sequences=[rows], return_updates=False,
                                 outputs_info=[*self.params, *(self._rngs[k] for k in keys), None])
            # scan returns a random generator's final state, not its history
            new = [o[-1] for o in outs[:n]]
            new_rngs, c = outs[n:-1], pt.sum(outs[-1])
        updates = [*zip(self.params, new), *zip((self._rngs[k] for k in keys), new_rngs),
                   (self._cost_sum, self._cost_sum + c)]
        return self.device.function([rows, eta, l2], [], updates=updates, name=f"network3_{kind}")

    def _build_correct(self, which):
        """Correct classifications on the loaded `which` set, chunk by chunk in a scan."""
        xs, ys, idx = self._eval[which]

        def chunk(i):
            return pt.sum(pt.eq(pt.argmax(self.output(xs[i]), axis=1), ys[i]), dtype="int64")

        # One sequence only: with two, scan slices them to a common length, which JAX can't trace.
        counts = pytensor.scan(chunk, sequences=[idx], return_updates=False)
        return self.device.function([], pt.sum(counts), name=f"correct_{which}")

    def _build_status(self, _):
        finite = pt.all([pt.all(pt.isfinite(p)) for p in self.params])
        return self.device.function([], [self._cost_sum, finite])

    def _build_predict(self, _):
        x = pt.matrix("x", dtype=self.dtype)
        return self.device.function([x], pt.argmax(self.output(x), axis=1))

    def _fn(self, name, arg=None):
        if (name, arg) not in self._fns:
            with _quiet():
                self._fns[(name, arg)] = getattr(self, f"_build_{name}")(arg)
        return self._fns[(name, arg)]

    # -- data ---------------------------------------------------------------------------
    def _load_eval(self, which, data):
        """Put a labelled set on the device as (chunks, EVAL_BATCH, n_in), padded with label -1."""
        x, y = inputs.labelled_arrays(data, self.n_in, self.n_out, self.dtype, f"{which}_data")
        b = min(EVAL_BATCH, len(x))
        k = -(-len(x) // b)
        xp = np.zeros((k * b, self.n_in), self.dtype)
        xp[: len(x)] = x
        yp = np.full(k * b, -1, np.int64)
        yp[: len(y)] = y
        xs, ys, idx = self._eval[which]
        self.device.assign(xs, xp.reshape(k, b, -1))
        self.device.assign(ys, yp.reshape(k, b))
        self.device.assign(idx, np.arange(k))
        return len(x)

    def _accuracy_loaded(self, which, n):
        return int(self.device.get(self._fn("correct", which)())) / n

    # -- the book's API -------------------------------------------------------------------
    def SGD(self, training_data, epochs, mini_batch_size, eta, validation_data=None, test_data=None, lmbda=0.0, *,
            progress=None, on_epoch=None, verbose=True):
        """Train by mini-batch SGD, reporting as the book does.

        Parameters
        ----------
        training_data : (X (n, n_in), labels (n,)) or the book's list of pairs
        epochs : int
        mini_batch_size : int
            Must equal the network's ``mini_batch_size`` (ValueError otherwise).
        eta : float
        validation_data, test_data : (X, labels) or lists of (x, label) pairs, optional
            Accuracies after every epoch; the test accuracy reported at the end
            is the one at the epoch of best validation accuracy.
        lmbda : float
            L2 regularisation: ``0.5 lmbda sum(w^2) / num_training_batches`` is added to the cost.
        progress : callable, optional
            ``progress(epoch, batches_done, n_batches)`` during each epoch.
        on_epoch : callable, optional
            ``on_epoch(record)`` after each epoch.
        verbose : bool
            Print the book's lines.

        Returns
        -------
        list of dict
            Per epoch: ``epoch``, ``validation_accuracy`` and ``test_accuracy``
            (fractions, None without the data), ``seconds`` (training only),
            ``cost`` (mean regularised mini-batch cost).

        Raises
        ------
        TrainingDiverged
            Cost or weights no longer finite; the weights of the last good epoch are kept.
        """
        m = inputs.check_count(mini_batch_size, "mini_batch_size", 1)
        if m != self.mini_batch_size:
            raise ValueError(f"SGD: mini_batch_size {m} differs from the network's mini_batch_size "
                             f"{self.mini_batch_size}; build the Network with the size you train with")
        epochs = inputs.check_count(epochs, "epochs", 0)
        eta = inputs.check_eta(eta)
        lmbda = inputs.check_lmbda(lmbda)
        x, y = inputs.labelled_arrays(training_data, self.n_in, self.n_out, self.dtype, "training_data")
        n = len(x)
        n_batches = n // m
        if n_batches == 0:
            raise ValueError(f"SGD: {len(x)} training examples make no full mini-batch of {m}")
        dev = self.device
        dev.assign(self._train_x, x)
        dev.assign(self._train_y, y)
        del x, y
        n_eval = {k: self._load_eval(k, d) for k, d in (("validation", validation_data), ("test", test_data))
                  if d is not None}
        eta_d = dev.put(np.asarray(eta, self.dtype))
        l2_d = dev.put(np.asarray(lmbda / n_batches, self.dtype))
        snapshot = self._snapshot()
        if epochs:
            self.compile_seconds = self._warm_up(n_batches, eta_d, l2_d, n_eval, snapshot)
        best_val, best_iteration, test_at_best = 0.0, None, None
        history = []
        for epoch in range(epochs):
            start = time.perf_counter()
            dev.assign(self._cost_sum, 0)
            self._train_epoch(self.rng.permutation(n)[: n_batches * m], eta_d, l2_d, epoch, progress)
            cost_sum, finite = (dev.get(v) for v in self._fn("status")())
            seconds = time.perf_counter() - start
            if not (finite and np.isfinite(cost_sum)):
                self._restore(snapshot)
                raise TrainingDiverged(f"epoch {epoch}: the cost or the weights became NaN/infinite with eta={eta}; "
                                       "the network keeps the weights of the previous epoch. Lower eta")
            snapshot = self._snapshot()
            record = {"epoch": epoch, "validation_accuracy": None, "test_accuracy": None, "seconds": seconds,
                      "cost": float(cost_sum) / n_batches}
            if "test" in n_eval:
                record["test_accuracy"] = self._accuracy_loaded("test", n_eval["test"])
            if "validation" in n_eval:
                acc = record["validation_accuracy"] = self._accuracy_loaded("validation", n_eval["validation"])
                if verbose:
                    print(f"Epoch {epoch}: validation accuracy {acc:.2%}", flush=True)
                if acc >= best_val:
                    best_val, best_iteration = acc, n_batches * (epoch + 1) - 1
                    test_at_best = record["test_accuracy"]
                    if verbose:
                        print("This is the best validation accuracy to date.", flush=True)
                        if test_at_best is not None:
                            print(f"The corresponding test accuracy is {test_at_best:.2%}", flush=True)
            elif verbose:
                print(f"Epoch {epoch}: trained in {seconds:.1f} s", flush=True)
            history.append(record)
            if on_epoch:
                on_epoch(record)
        self.best = {"validation_accuracy": best_val if best_iteration is not None else None,
                     "iteration": best_iteration, "test_accuracy": test_at_best}
        if verbose:
            print("Finished training network.")
            if best_iteration is not None:
                print(f"Best validation accuracy of {best_val:.2%} obtained at iteration {best_iteration}")
                if test_at_best is not None:
                    print(f"Corresponding test accuracy of {test_at_best:.2%}")
        return history

    # -- the training loop's parts ----------------------------------------------------------
    def _snapshot(self):
        return [self.device.read(p) for p in self.params]

    def _restore(self, snapshot):
        for p, v in zip(self.params, snapshot):
            self.device.assign(p, v)

    def _warm_up(self, n_batches, eta_d, l2_d, n_eval, snapshot):
        """Compile and run every function once on its real shapes, then restore the weights; the seconds.

        The dropout streams are not rewound: the warm-up's draws are part of the
        seeded sequence, so runs stay reproducible.
        """
        with _quiet():
            return self._warm_up_calls(n_batches, eta_d, l2_d, n_eval, snapshot)

    def _warm_up_calls(self, n_batches, eta_d, l2_d, n_eval, snapshot):
        start = time.perf_counter()
        dev, m = self.device, self.mini_batch_size
        if self.epoch_mode == "scan":
            rows = dev.put(np.arange(n_batches // epoch_chunks(n_batches) * m).reshape(-1, m))
            for _ in range(2):  # JAX's first run of an executable is slower than the rest
                self._fn("train", "scan")(rows, eta_d, l2_d)
        else:
            for _ in range(2):
                self._fn("train", "step")(dev.put(np.arange(m)), eta_d, l2_d)
        self._fn("status")()
        for which in n_eval:
            dev.get(self._fn("correct", which)())  # wait: JAX dispatch is asynchronous
        self._restore(snapshot)
        dev.sync(self.params[0])
        return time.perf_counter() - start

    def _train_epoch(self, perm, eta_d, l2_d, epoch, progress):
        dev, m = self.device, self.mini_batch_size
        batches = perm.reshape(-1, m)
        n_batches = len(batches)
        if self.epoch_mode == "scan":
            fn, done = self._fn("train", "scan"), 0
            for part in np.split(batches, epoch_chunks(n_batches)):
                fn(dev.put(part), eta_d, l2_d)
                done += len(part)
                if progress:
                    progress(epoch, done, n_batches)
            return
        fn = self._fn("train", "step")
        for k, rows in enumerate(batches, 1):
            fn(dev.put(rows), eta_d, l2_d)
            if progress and (k % max(1, n_batches // 10) == 0 or k == n_batches):
                progress(epoch, k, n_batches)

    # -- using a trained network ----------------------------------------------------------------
    def predict(self, x):
        """Predicted labels (n,) for the rows of `x` (n, n_in), in chunks of ``EVAL_BATCH``."""
        x = np.asarray(x, dtype=self.dtype)
        inputs.check_width(x, self.n_in, "predict input")
        fn = self._fn("predict")
        with _quiet():
            return np.concatenate([self.device.get(fn(self.device.put(x[i : i + EVAL_BATCH])))
                                   for i in range(0, len(x), EVAL_BATCH)]).astype(np.int64)

    def accuracy(self, data):
        """Fraction of `data` ((X, labels) or pairs) classified correctly."""
        x, y = inputs.labelled_arrays(data, self.n_in, self.n_out, self.dtype, "data")
        return float(np.mean(self.predict(x) == y))

    def size(self, data):
        """The book's ``size``: the number of examples in `data`."""
        return len(inputs.labelled_arrays(data, self.n_in, self.n_out, self.dtype, "data")[0])

    @property
    def weights(self):
        """Host copies of the parameters, ``[w0, b0, w1, b1, ...]``."""
        return self._snapshot()

    # -- save / load ----------------------------------------------------------------------------
    def save(self, filename):
        """Write the layer description and the weights to `filename` (npz), atomically."""
        spec = {"format": FORMAT, "version": 1, "mini_batch_size": self.mini_batch_size, "dtype": self.dtype,
                "layers": [layer.spec() for layer in self.layers]}
        buf = io.BytesIO()
        np.savez(buf, spec=np.array(json.dumps(spec)), **{f"p{i}": p for i, p in enumerate(self._snapshot())})
        with atomic_write(filename, "wb") as f:
            f.write(buf.getvalue())


def load(filename, seed=None, mode=None, device="auto", epoch_mode="scan"):
    """The network saved by :meth:`Network.save`; ValueError naming the file when it is not one."""
    try:
        with np.load(filename, allow_pickle=False) as f:
            spec = json.loads(str(f["spec"]))
            params = [f[f"p{i}"] for i in range(2 * len(spec["layers"]))]
        if spec.get("format") != FORMAT:
            raise ValueError(f"format is {spec.get('format')!r}, not {FORMAT!r}")
        layers = [from_spec(s) for s in spec["layers"]]
        mini_batch_size, dtype = spec["mini_batch_size"], spec["dtype"]
        _check_chain(layers, mini_batch_size)
        shapes = [tuple(s) for layer in layers for s in layer.param_shapes]
        for p, (value, shape) in enumerate(zip(params, shapes)):
            if value.shape != shape or not np.all(np.isfinite(value)):
                raise ValueError(f"parameter {p} has shape {value.shape}, expected {shape}, or is not finite")
    except FileNotFoundError:
        raise
    except (OSError, ValueError, KeyError, TypeError, AttributeError, zipfile.BadZipFile) as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ValueError(f"{filename}: not a dlpy35 network3 file ({msg})") from None
    net = Network(layers, mini_batch_size, seed=seed, dtype=dtype, mode=mode, device=device, epoch_mode=epoch_mode)
    for var, value in zip(net.params, params):
        net.device.assign(var, value)
    return net


def size(data):
    """The book's ``size``: the number of examples in `data` ((X, y) or a list of pairs)."""
    return len(data[0]) if isinstance(data, tuple) and len(data) == 2 and hasattr(data[0], "shape") else len(data)


# -- ensembles ----------------------------------------------------------------------------------
def ensemble_predict(nets, x):
    """Plurality vote of ``net.predict(x)`` over `nets`; ties go to the lowest label.

    Any objects with a ``predict(x) -> labels`` method can vote.
    """
    if not nets:
        raise ValueError("ensemble_predict: give at least one network")
    votes = np.stack([np.asarray(net.predict(x), dtype=np.int64) for net in nets])  # (n_nets, n)
    counts = np.zeros((votes.shape[1], int(votes.max()) + 1), np.int64)
    for v in votes:
        counts[np.arange(votes.shape[1]), v] += 1
    return np.argmax(counts, axis=1)  # argmax takes the first (lowest) label among equal counts


def ensemble_accuracy(nets, data):
    """Fraction of `data` ((X, labels)) the plurality vote of `nets` classifies correctly."""
    x, y = data
    return float(np.mean(ensemble_predict(nets, np.asarray(x)) == np.asarray(y)))


# -- the book's chapter-6 networks ------------------------------------------------------------------
#: Hyperparameters of the book's runs: eta, lmbda, epochs (mini-batch 10).
PRESETS = {
    "conv1": {"eta": 0.1, "lmbda": 0.0, "epochs": 60},
    "conv2": {"eta": 0.1, "lmbda": 0.0, "epochs": 60},
    "conv2-relu": {"eta": 0.03, "lmbda": 0.1, "epochs": 60},
}
DROPOUT_PRESET = {"eta": 0.03, "lmbda": 0.0, "epochs": 40}


def book_layers(name, mini_batch_size=10, dropout=False):
    """The layers of one of the book's chapter-6 networks.

    Parameters
    ----------
    name : {"conv1", "conv2", "conv2-relu"}
        ``conv1``: conv 20x5x5 + 2x2 max-pool -> FC 100 -> softmax, sigmoid;
        ``conv2``: two conv-pool layers (20 and 40 maps), sigmoid;
        ``conv2-relu``: the same with ReLU.
    mini_batch_size : int
    dropout : bool
        Replace the FC-100 layer by two FC-1000 layers (the activation of `name`)
        with dropout 0.5, and drop out the softmax input too: the book's last
        network (with ``conv2-relu``; hyperparameters :data:`DROPOUT_PRESET`).
    """
    if name not in PRESETS:
        raise ValueError(f"unknown network {name!r}; known: {', '.join(PRESETS)}")
    fn = ReLU if name.endswith("relu") else sigmoid
    layers = [ConvPoolLayer((20, 1, 5, 5), (mini_batch_size, 1, 28, 28), (2, 2), fn)]
    if name.startswith("conv2"):
        layers.append(ConvPoolLayer((40, 20, 5, 5), (mini_batch_size, 20, 12, 12), (2, 2), fn))
    n = layers[-1].n_out
    if dropout:
        layers += [FullyConnectedLayer(n, 1000, fn, p_dropout=0.5), FullyConnectedLayer(1000, 1000, fn, p_dropout=0.5),
                   SoftmaxLayer(1000, 10, p_dropout=0.5)]
    else:
        layers += [FullyConnectedLayer(n, 100, fn), SoftmaxLayer(100, 10)]
    return layers
