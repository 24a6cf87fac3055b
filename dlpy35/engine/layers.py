"""The layers of the book's chapter-6 ``network3.py``, as small symbolic objects.

A layer knows its shapes, draws its initial parameters from a numpy
``Generator`` (the book's initialisation) and builds PyTensor expressions for a
mini-batch; it owns no shared variables and compiles nothing.  A
:class:`LayerStack` chains layers into the model that
:class:`dlpy35.engine.trainer.Trainer` trains, with the log-likelihood cost of the
softmax output.  Mini-batches are row-wise.

Layouts.  Images travel channels-last, ``(m, height, width, channels)``: a
flat MNIST row reshapes to ``(m, 28, 28, 1)`` for free, the im2col patches are
contiguous, and pooling is a reshape and a max.  Filters keep the book's shape
``(n_filters, channels, kh, kw)``.  The convolution is a cross-correlation (as in
PyTorch; Theano's ``conv2d`` flipped the filter, which for randomly initialised
filters is the same model).  A conv layer's flattened output is in (y, x,
filter) order, the book's in (filter, y, x): a fixed permutation of the next
layer's input rows, so the same network.

Dropout is the book's: on a layer's input during training (a Bernoulli mask
keeping each unit with probability ``1 - p_dropout``), and weights scaled by
``1 - p_dropout`` at inference.  The masks come from a fixed table of uniforms
on the device, read at a random offset and stride per mini-batch and layer
(:func:`dropout`): the same on every backend, and resumable from the host's
random state alone.
"""

from __future__ import annotations

import functools
import math
from numbers import Real

import numpy as np
import pytensor.tensor as pt
from pytensor.tensor.special import log_softmax, softmax

from dlpy35.engine.arguments import is_count
from dlpy35.engine.graph import one_hot
from dlpy35.engine.model import Model


# -- activations (symbolic) -------------------------------------------------------
def sigmoid(z):
    """The logistic function."""
    return pt.sigmoid(z)


def tanh(z):
    """The hyperbolic tangent."""
    return pt.tanh(z)


def ReLU(z):  # noqa: N802  (the book's name)
    """``max(0, z)``."""
    return pt.maximum(z, 0)


def linear(z):
    """The identity."""
    return z


ACTIVATIONS = {"sigmoid": sigmoid, "tanh": tanh, "ReLU": ReLU, "linear": linear}


def activation_name(fn) -> str:
    """The name under which `fn` is saved; ValueError for functions not in :data:`ACTIVATIONS`."""
    for name, known in ACTIVATIONS.items():
        if fn is known:
            return name
    raise ValueError(f"activation_fn must be one of dlpy35.engine.layers.{', '.join(ACTIVATIONS)}, "
                     f"got {fn!r}")


# -- the graph's building blocks ----------------------------------------------------
def _rows(x):
    """`x`'s static row count, or -1 (what a reshape infers) when the graph does not fix it.

    A population of one shared order vectorizes the images' reshape of a second conv layer:
    with -1 there, the shape PyTensor derives for its gradient is left to JAX to compute, which
    cannot trace it; the static count (the mini-batch size, in a step) keeps every shape a constant.
    """
    return -1 if x.type.shape[0] is None else x.type.shape[0]


def conv2d_valid(x, w, in_hw, filter_shape):
    """Valid 2-D cross-correlation of channels-last images by im2col and one matmul.

    Parameters
    ----------
    x : tensor (m, H, W, C)
    w : tensor (F, C, kh, kw)
    in_hw : (int, int)
        ``(H, W)``, static (the graph uses static slices only: JAX needs them).
    filter_shape : (F, C, kh, kw), static

    Returns
    -------
    tensor (m, H - kh + 1, W - kw + 1, F)

    Notes
    -----
    The patches (m, oh, ow, kh, kw, C) hold ``x[:, y+i, x+j, :]`` at ``[:, y, x, i, j, :]``:
    their rows line up with ``w.transpose(0, 2, 3, 1).reshape(F, kh kw C)``.  They are made
    in two steps, the ``kw`` horizontal shifts of the whole images and then the ``kh``
    vertical shifts of those: ``kh + kw`` slices rather than one per tap.  Each slice is an
    op of its own on XLA's CPU, and so is its gradient's add (conv1 on JAX, one core: 850
    -> 780 us a step; conv2-relu 1,800 -> 1,680 us).  Taps before channels: each shifted
    view is copied as whole channel vectors, not as one value every ``kh kw`` places, and so
    is its gradient (conv2-relu's second layer: the patches 185 -> 45 us a step, their
    gradient 308 -> 140 us).  Measured faster than PyTensor's own
    ``pytensor.tensor.signal.convolve2d`` (see ``scripts/bench/peers/conv_peers.py``).
    """
    n_f, c, kh, kw = filter_shape
    oh, ow = in_hw[0] - kh + 1, in_hw[1] - kw + 1
    shifted = pt.stack([x[:, :, j:j + ow, :] for j in range(kw)], axis=-2)  # (m, H, ow, kw, C)
    patches = pt.stack([shifted[:, i:i + oh] for i in range(kh)], axis=-3)  # (m, oh, ow, kh, kw, C)
    rows = patches.reshape((-1, kh * kw * c))
    return (rows @ w.transpose(0, 2, 3, 1).reshape((n_f, kh * kw * c)).T).reshape((-1, oh, ow, n_f))


def max_pool(x, poolsize, hwc):
    """Non-overlapping max-pooling of channels-last ``x`` (m, H, W, C); the pool divides H and W.

    `hwc` is the static ``(H, W, C)``.
    """
    h, w, c = hwc
    ph, pw = poolsize
    return pt.max(x.reshape((-1, h // ph, ph, w // pw, pw, c)), axis=(2, 4))


NOISE_SIZE = 1 << 20  # uniforms in the dropout table
NOISE_SEED = 20150101  # fixed: a run's randomness is in its keys, so a resumed run may be a new network


@functools.cache
def noise_table():
    """The dropout table: :data:`NOISE_SIZE` uniforms in [0, 1), the same for every network."""
    return np.random.default_rng(NOISE_SEED).random(NOISE_SIZE)


def dropout(x, p, noise, salt, width):
    """`x` (m, `width`) times a Bernoulli(1 - p) mask read from the noise table.

    Parameters
    ----------
    x : tensor (m, width)
    p : float
        The probability of dropping a unit.
    noise : (table, key, rows)
        ``table``: :func:`noise_table` on the device (N = :data:`NOISE_SIZE`, a power of two);
        ``key``: this mini-batch's random integer in [0, 2^30); ``rows``: the static
        mini-batch size (JAX needs the mask's size as a constant).
    salt : int
        Distinguishes the layers of one step (below 64).
    width : int
        Static, as `rows`: the mask covers ``rows * width`` entries.

    Notes
    -----
    Entry ``i`` of the flattened mask reads ``table[(offset + i stride) mod N]``
    with ``offset`` and the odd ``stride`` taken from ``key + salt``: a stride
    coprime to N visits ``N`` distinct entries before repeating.  Every
    intermediate stays below 2^31, so the index is exact in int32 (JAX) and
    int64 alike.
    """
    table, key, rows = noise
    size = NOISE_SIZE
    key = key + salt * 16_777_259  # a prime: the layers' offsets and strides differ
    offset = key % size
    stride = 2 * ((key // size) % 32) + 1
    i = pt.constant(np.arange(rows * width) % size)
    u = table[(offset + i * stride) % size].reshape((rows, width))
    return x * pt.cast(pt.ge(u, p), x.dtype)


# -- argument checks ----------------------------------------------------------------------
def _positive_ints(value, n, name, layer):
    ok = isinstance(value, (tuple, list)) and len(value) == n and all(is_count(v) for v in value)
    if not ok:
        raise ValueError(f"{layer}: {name} must be {n} positive integers, got {value!r}")
    return tuple(int(v) for v in value)


def _p_dropout(p, layer):
    if isinstance(p, bool) or not isinstance(p, Real) or not 0 <= p < 1:
        raise ValueError(f"{layer}: p_dropout must be a number in [0, 1), got {p!r}")
    return float(p)


def _count(value, name, layer):
    if not is_count(value):
        raise ValueError(f"{layer}: {name} must be a positive integer, got {value!r}")
    return int(value)


# -- layers -----------------------------------------------------------------------------
class Layer:
    """What the network needs of a layer.

    Attributes
    ----------
    n_in, n_out : int
        Width of the flattened input and output.
    param_shapes : list of tuple
        ``[weight shape, bias shape]``.
    p_dropout : float
    """

    p_dropout = 0.0
    kind = "Layer"

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.spec().items() if k != "type")
        return f"{self.kind}({args})"

    def init_params(self, rng, dtype):
        """``[w, b]`` drawn from `rng` (numpy ``Generator``), as the book initialises."""
        raise NotImplementedError

    def output(self, x, params):
        """Inference output for the flat (m, n_in) batch `x`."""
        raise NotImplementedError

    def output_dropout(self, x, params, noise, salt):
        """Training output: inputs dropped out with ``noise`` (None when ``p_dropout`` is 0)."""
        return self.output(x, params)

    def widths(self):
        """Values per row that the layer's forward pass holds: its input."""
        return [self.n_in]

    def spec(self) -> dict:
        """The constructor's arguments, JSON-ready (for save/load)."""
        raise NotImplementedError


class FullyConnectedLayer(Layer):
    """``a = f((1 - p) x w + b)`` (inference); training drops inputs instead.

    Parameters
    ----------
    n_in, n_out : int
    activation_fn : one of :data:`ACTIVATIONS`' functions
    p_dropout : float in [0, 1)

    Weights (n_in, n_out) ~ N(0, 1/n_out), biases ~ N(0, 1), as in the book.
    """

    kind = "FullyConnectedLayer"

    def __init__(self, n_in, n_out, activation_fn=sigmoid, p_dropout=0.0):
        self.n_in = _count(n_in, "n_in", self.kind)
        self.n_out = _count(n_out, "n_out", self.kind)
        self.activation_fn = activation_fn
        self.activation = activation_name(activation_fn)
        self.p_dropout = _p_dropout(p_dropout, self.kind)
        self.param_shapes = [(self.n_in, self.n_out), (self.n_out,)]

    def init_params(self, rng, dtype):
        w = rng.normal(0.0, np.sqrt(1.0 / self.n_out), size=(self.n_in, self.n_out))
        b = rng.normal(0.0, 1.0, size=(self.n_out,))
        return [w.astype(dtype), b.astype(dtype)]

    def _z(self, x, params, scale=1.0):
        w, b = params
        return scale * (x @ w) + b if scale != 1.0 else x @ w + b

    def output(self, x, params):
        return self.activation_fn(self._z(x, params, 1.0 - self.p_dropout))

    def _dropped(self, x, noise, salt):
        return dropout(x, self.p_dropout, noise, salt, self.n_in) if self.p_dropout else x

    def output_dropout(self, x, params, noise, salt):
        return self.activation_fn(self._z(self._dropped(x, noise, salt), params))

    def spec(self):
        return {"type": self.kind, "n_in": self.n_in, "n_out": self.n_out, "activation_fn": self.activation,
                "p_dropout": self.p_dropout}


class SoftmaxLayer(FullyConnectedLayer):
    """The softmax output layer with the log-likelihood cost; parameters start at zero."""

    kind = "SoftmaxLayer"

    def __init__(self, n_in, n_out, p_dropout=0.0):
        super().__init__(n_in, n_out, linear, p_dropout)

    def init_params(self, rng, dtype):
        return [np.zeros(self.param_shapes[0], dtype), np.zeros(self.param_shapes[1], dtype)]

    def output(self, x, params):
        return softmax(self._z(x, params, 1.0 - self.p_dropout), axis=-1)

    def output_dropout(self, x, params, noise, salt):
        return softmax(self._z(self._dropped(x, noise, salt), params), axis=-1)

    def log_likelihood(self, x, params, labels, noise=None, salt=0):
        """``-log a_y`` of each row: the book's log-likelihood cost (training path with `noise`)."""
        if noise is None:  # inference: weights scaled by 1 - p_dropout
            z = self._z(x, params, 1.0 - self.p_dropout)
        else:
            z = self._z(self._dropped(x, noise, salt), params)
        # A one-hot product, not log_softmax(z)[arange(m), labels]: inside the scan the
        # mini-batch size is not a constant, and JAX needs arange's length to be one.
        return -pt.sum(log_softmax(z, axis=-1) * one_hot(labels, self.n_out, z.dtype), axis=-1)

    def spec(self):
        return {"type": self.kind, "n_in": self.n_in, "n_out": self.n_out, "p_dropout": self.p_dropout}


class ConvPoolLayer(Layer):
    """A valid convolution, then non-overlapping max-pooling, then the activation.

    Parameters
    ----------
    filter_shape : (n_filters, channels, kh, kw)
    image_shape : (mini_batch_size, channels, height, width), the book's form, or
        (channels, height, width)
    poolsize : (ph, pw)
        Must divide the feature map ``(height - kh + 1, width - kw + 1)``.
    activation_fn : one of :data:`ACTIVATIONS`' functions

    As in the book, ``f(pool(conv(x, w)) + b)``, weights ~ N(0, 1/n_out) with
    ``n_out = n_filters kh kw / (ph pw)``, biases ~ N(0, 1); no dropout.
    """

    kind = "ConvPoolLayer"

    def __init__(self, filter_shape, image_shape, poolsize=(2, 2), activation_fn=sigmoid):
        self.filter_shape = _positive_ints(filter_shape, 4, "filter_shape", self.kind)
        if isinstance(image_shape, (tuple, list)) and len(image_shape) == 4:
            self.mini_batch_size = _count(image_shape[0], "image_shape[0] (the mini-batch size)", self.kind)
            image_shape = tuple(image_shape[1:])
        else:
            self.mini_batch_size = None
        self.image_shape = _positive_ints(image_shape, 3, "image_shape (channels, height, width)", self.kind)
        self.poolsize = _positive_ints(poolsize, 2, "poolsize", self.kind)
        self.activation_fn = activation_fn
        self.activation = activation_name(activation_fn)
        n_f, c, kh, kw = self.filter_shape
        c_in, h, w = self.image_shape
        if c != c_in:
            raise ValueError(f"{self.kind}: the filters have {c} channels (filter_shape[1]) "
                             f"but the images have {c_in} (image_shape channels); they must match")
        if kh > h or kw > w:
            raise ValueError(f"{self.kind}: filter {kh}x{kw} is larger than the {h}x{w} image")
        self.conv_hw = (h - kh + 1, w - kw + 1)
        ph, pw = self.poolsize
        if self.conv_hw[0] % ph or self.conv_hw[1] % pw:
            raise ValueError(f"{self.kind}: poolsize {ph}x{pw} does not divide the {self.conv_hw[0]}x"
                             f"{self.conv_hw[1]} feature map of a {h}x{w} image and {kh}x{kw} filters")
        self.out_image = (self.conv_hw[0] // ph, self.conv_hw[1] // pw, n_f)  # (H, W, C) of the output
        self.n_in = c_in * h * w
        self.n_out = math.prod(self.out_image)
        self.param_shapes = [self.filter_shape, (n_f,)]

    def init_params(self, rng, dtype):
        n_out = self.filter_shape[0] * math.prod(self.filter_shape[2:]) / math.prod(self.poolsize)
        w = rng.normal(0.0, np.sqrt(1.0 / n_out), size=self.filter_shape)
        b = rng.normal(0.0, 1.0, size=(self.filter_shape[0],))
        return [w.astype(dtype), b.astype(dtype)]

    def output(self, x, params):
        w, b = params
        c, h, wd = self.image_shape
        # A flat row is (y, x, channel): MNIST's order when c == 1.
        images = x.reshape((_rows(x), h, wd, c))
        pooled = max_pool(conv2d_valid(images, w, (h, wd), self.filter_shape), self.poolsize,
                          (*self.conv_hw, self.filter_shape[0]))
        # The bias and activation on flat rows (y, x, filter), the bias repeated per pixel: XLA's
        # CPU code for conv1's sigmoid took 116 us a step over the (m, 12, 12, 20) map, 32 over (m, 2880).
        pixels = math.prod(self.out_image[:2])
        return self.activation_fn(pooled.reshape((-1, self.n_out)) + pt.tile(b, pixels))

    def widths(self):
        """The im2col patches and the feature map before pooling (both larger than the input)."""
        area = math.prod(self.conv_hw)
        return [area * math.prod(self.filter_shape[1:]), area * self.filter_shape[0]]

    def spec(self):
        return {"type": self.kind, "filter_shape": list(self.filter_shape),
                "image_shape": list(self.image_shape), "poolsize": list(self.poolsize),
                "activation_fn": self.activation}


LAYER_TYPES = {cls.kind: cls for cls in (FullyConnectedLayer, ConvPoolLayer, SoftmaxLayer)}


def from_spec(spec) -> Layer:
    """The layer that :meth:`Layer.spec` described (ValueError when it can't be built)."""
    if not isinstance(spec, dict) or spec.get("type") not in LAYER_TYPES:
        raise ValueError(f"not a layer description: {spec!r}")
    args = {k: v for k, v in spec.items() if k != "type"}
    if "activation_fn" in args:
        if args["activation_fn"] not in ACTIVATIONS:
            raise ValueError(f"unknown activation {args['activation_fn']!r}; known: {', '.join(ACTIVATIONS)}")
        args["activation_fn"] = ACTIVATIONS[args["activation_fn"]]
    for key in ("filter_shape", "image_shape", "poolsize"):
        if key in args and isinstance(args[key], list):
            args[key] = tuple(args[key])
    try:
        return LAYER_TYPES[spec["type"]](**args)
    except TypeError as exc:
        raise ValueError(f"bad {spec['type']} description {spec!r}: {exc}") from None


def check_chain(layers, mini_batch_size):
    """ValueError unless each layer takes what the previous one gives."""
    if not isinstance(layers, (list, tuple)) or not layers:
        raise ValueError(f"layers must be a non-empty list of layers, got {layers!r}")
    for i, layer in enumerate(layers):
        if not isinstance(layer, (ConvPoolLayer, FullyConnectedLayer)):
            raise ValueError(f"layer {i}: expected a ConvPoolLayer, FullyConnectedLayer or SoftmaxLayer, "
                             f"got {layer!r}")
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
                raise ValueError(f"layer {i} ({layer.kind}): image_shape (channels, height, width) = "
                                 f"{(c, h, w)} but layer {i - 1} outputs {pc} feature maps of {ph}x{pw}")
        elif layer.n_in != prev.n_out:
            raise ValueError(f"layer {i} ({layer.kind}): n_in = {layer.n_in} but layer {i - 1} ({prev.kind}) "
                             f"outputs {prev.n_out} values")
    if not isinstance(layers[-1], SoftmaxLayer):
        raise ValueError("the last layer must be a SoftmaxLayer (it defines the cost), "
                         f"got {layers[-1].kind}")


class LayerStack(Model):
    """Chapter 6's network of layers (a :class:`dlpy35.engine.model.Model`).

    Parameters are ``[w0, b0, w1, b1, ...]``; a step is ``p -> p - eta dC/dp`` with
    ``C`` the mean log-likelihood of the mini-batch plus ``0.5 l2 sum(w^2)``
    (hyperparameters ``eta`` and ``l2 = lmbda / num_training_batches``).

    Parameters
    ----------
    layers : list of Layer
        Ending with a :class:`SoftmaxLayer`; ValueError unless they chain.
    mini_batch_size : int
        Conv layers built for a mini-batch size must be built for this one.
    """

    hyper_names = ("eta", "l2")

    def __init__(self, layers, mini_batch_size):
        check_chain(layers, mini_batch_size)
        self.layers, self.mini_batch_size = list(layers), mini_batch_size
        self.n_in, self.n_out = self.layers[0].n_in, self.layers[-1].n_out
        self.stochastic = any(layer.p_dropout for layer in self.layers)
        self.param_names = [f"{kind}{i}" for i in range(len(self.layers)) for kind in "wb"]
        self.param_shapes = [tuple(s) for layer in self.layers for s in layer.param_shapes]

    def init_params(self, rng, dtype):
        """The book's initial parameters, layer by layer, drawn from `rng`."""
        return [p for layer in self.layers for p in layer.init_params(rng, dtype)]

    def widths(self):
        return [*(w for layer in self.layers for w in layer.widths()), self.n_out]

    def _pairs(self, params):
        return [params[2 * i: 2 * i + 2] for i in range(len(self.layers))]

    def forward(self, x, params):
        return self.layers[-1].output(self._inference_input(x, params), self._pairs(params)[-1])

    def _inference_input(self, x, params):
        """What the softmax layer receives at inference."""
        for layer, p in zip(self.layers[:-1], self._pairs(params)):
            x = layer.output(x, p)
        return x

    def cost(self, x, labels, params, noise):
        """Mean log-likelihood of the training path on (x, labels), dropout drawn from `noise`."""
        pairs = self._pairs(params)
        noise = None if noise is None else (*noise, self.mini_batch_size)
        for salt, (layer, p) in enumerate(zip(self.layers[:-1], pairs)):
            x = layer.output_dropout(x, p, noise, salt)
        return pt.mean(self.layers[-1].log_likelihood(x, pairs[-1], labels, noise, len(self.layers) - 1))

    def objective(self, x, y, params, hyper, option, noise=None):
        """``(C, C)``: the mean log-likelihood plus the L2 term, differentiated and reported alike."""
        c = self.cost(x, y, params, noise) + 0.5 * hyper["l2"] * sum(pt.sum(pt.sqr(w)) for w in params[0::2])
        return c, c

    def update(self, params, grads, hyper, option, m):
        return [p - hyper["eta"] * g for p, g in zip(params, grads)]

    def example_metrics(self, x, labels, params):
        hidden = self._inference_input(x, params)
        last = self._pairs(params)[-1]
        guesses = pt.argmax(self.layers[-1].output(hidden, last), axis=1)
        return guesses, self.layers[-1].log_likelihood(hidden, last, labels)

    def checkpoint_arrays(self, values):
        """``(weights, biases)``: every layer's weight, every layer's bias."""
        return list(values[0::2]), list(values[1::2])

    def from_checkpoint(self, weights, biases):
        """The flat parameter list; ValueError when they are not this stack's."""
        if len(weights) != len(biases):
            raise ValueError(f"{len(weights)} weights but {len(biases)} biases")
        return self.check_values([a for pair in zip(weights, biases) for a in pair])

    def check_values(self, values):
        """`values` when they are finite parameters of this stack's shapes; ValueError otherwise."""
        got = [tuple(np.shape(v)) for v in values]
        if got != self.param_shapes:
            raise ValueError(f"parameters of shapes {got} do not match the layers' {self.param_shapes}")
        if not all(np.all(np.isfinite(v)) for v in values):
            raise ValueError("parameters must be finite numbers")
        return values
