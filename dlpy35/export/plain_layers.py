"""Any trained dlpy35 network as a plain list of layers: what the exporters translate.

:func:`portable_layers` turns a chapter-1/3 network (:mod:`dlpy35.network`,
:mod:`dlpy35.network2`) or a chapter-6 layer stack (:mod:`dlpy35.network3`) into
:class:`Dense` and :class:`ConvPool` records of float32 numpy arrays, with the
inference-time arithmetic spelled out, so that an exporter (ONNX, the HTML page)
needs to know nothing about PyTensor or the book's three classes; :func:`check_layers`
is the one check of such a list that both exporters make before writing anything.

Conventions, the ones the networks themselves compute with:

* an input row is flat, in (y, x, channel) order (MNIST's order for one channel);
* :class:`Dense`: ``a = f(scale (x @ w) + b)``, ``w`` (n_in, n_out); ``scale`` is
  ``1 - p_dropout`` (the book's dropout at inference), else 1;
* :class:`ConvPool`: valid cross-correlation of the (C, H, W) image with
  ``w`` (F, C, kh, kw), then non-overlapping max-pooling, then ``f(. + b)``; its
  output flattened in (y, x, map) order;
* activations: ``sigmoid``, ``tanh``, ``relu``, ``linear`` and ``softmax``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["Dense", "ConvPool", "ACTIVATIONS", "portable_layers", "input_shape", "check_layers"]

#: The activation names a portable layer may carry.
ACTIVATIONS = ("sigmoid", "tanh", "relu", "linear", "softmax")
_LAYER_ACTIVATIONS = {"sigmoid": "sigmoid", "tanh": "tanh", "ReLU": "relu", "linear": "linear"}


@dataclass(frozen=True)
class Dense:
    """``a = activation(scale * (x @ w) + b)``; `w` (n_in, n_out), `b` (n_out,)."""

    w: np.ndarray
    b: np.ndarray
    activation: str
    scale: float = 1.0


@dataclass(frozen=True)
class ConvPool:
    """``activation(maxpool(xcorr(x, w)) + b)`` on (C, H, W) images; `w` (F, C, kh, kw), `b` (F,)."""

    w: np.ndarray
    b: np.ndarray
    image: tuple[int, int, int]
    pool: tuple[int, int]
    activation: str

    @property
    def out_image(self) -> tuple[int, int, int]:
        """The output's (H, W, F), in the order it is flattened."""
        _, h, w = self.image
        f, _, kh, kw = self.w.shape
        return ((h - kh + 1) // self.pool[0], (w - kw + 1) // self.pool[1], f)


def _f32(a) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.float32)


def portable_layers(net) -> list[Dense | ConvPool]:
    """The layers of `net`, a trained :mod:`dlpy35.network`, ``network2`` or ``network3`` network.

    Raises
    ------
    TypeError
        `net` is none of these.
    """
    from dlpy35.engine.graph import SigmoidNet
    from dlpy35.engine.layers import ConvPoolLayer, LayerStack, SoftmaxLayer

    model, values = net.trainer.model, net.trainer.values()
    if isinstance(model, SigmoidNet):
        weights, biases = model.split(values)
        return [Dense(_f32(w.T), _f32(b), "sigmoid") for w, b in zip(weights, biases)]
    if isinstance(model, LayerStack):
        out = []
        for i, layer in enumerate(model.layers):
            w, b = values[2 * i], values[2 * i + 1]
            if isinstance(layer, ConvPoolLayer):
                out.append(ConvPool(_f32(w), _f32(b), layer.image_shape, layer.poolsize,
                                    _LAYER_ACTIVATIONS[layer.activation]))
            else:
                act = "softmax" if isinstance(layer, SoftmaxLayer) else _LAYER_ACTIVATIONS[layer.activation]
                out.append(Dense(_f32(w), _f32(b), act, 1.0 - layer.p_dropout))
        return out
    raise TypeError(f"not a dlpy35 network: {type(net).__name__}")


def input_shape(layers) -> tuple[int, int, int]:
    """The (C, H, W) of the network's input: the first convolution's image, else (1, 1, n_in) for a
    flat input of a fully connected first layer whose width is not a square (28 x 28 for 784)."""
    first = layers[0]
    if isinstance(first, ConvPool):
        return first.image
    n = first.w.shape[0]
    side = int(round(n ** 0.5))
    return (1, side, side) if side * side == n else (1, 1, n)


def _widths(layer, i):
    """``(n_in, n_out)`` of one layer; TypeError/ValueError when it is no sound portable layer."""
    if not isinstance(layer, (Dense, ConvPool)):
        raise TypeError(f"layer {i}: expected a dlpy35.export.plain_layers Dense or ConvPool, "
                        f"got {type(layer).__name__}")
    if layer.activation not in ACTIVATIONS:
        raise ValueError(f"layer {i}: unknown activation {layer.activation!r}; "
                         f"known: {', '.join(ACTIVATIONS)}")
    if not (np.all(np.isfinite(layer.w)) and np.all(np.isfinite(layer.b))):
        raise ValueError(f"layer {i}: the weights are not all finite (a diverged training?)")
    w, b = np.shape(layer.w), np.shape(layer.b)
    if isinstance(layer, Dense):
        if len(w) != 2 or b != w[1:]:
            raise ValueError(f"layer {i} (Dense): w {w} and b {b} are not (n_in, n_out) and (n_out,)")
        return w[0], w[1]
    return _conv_widths(layer, i, w, b)


def _conv_widths(layer, i, w, b):
    c, h, wd = layer.image
    ph, pw = layer.pool
    if len(w) != 4 or w[1] != c or b != w[:1]:
        raise ValueError(f"layer {i} (ConvPool): w {w} and b {b} do not fit {c}-channel images")
    if (h - w[2] + 1) % ph or (wd - w[3] + 1) % pw:
        raise ValueError(f"layer {i} (ConvPool): pool {ph}x{pw} does not divide the feature map "
                         f"of {h}x{wd} images and {w[2]}x{w[3]} filters")
    if layer.activation == "softmax":  # "the last axis" of a map stack means nothing
        raise ValueError(f"layer {i} (ConvPool): softmax is for Dense layers only")
    return c * h * wd, math.prod(layer.out_image)


def check_layers(layers):
    """``(n_in, n_out)`` of the network `layers`; TypeError or ValueError, in one line, when they are
    not sound portable layers (types, activations, shapes, finite weights) or do not chain."""
    if not isinstance(layers, (list, tuple)):
        raise TypeError(f"expected a list of dlpy35.export.plain_layers layers, got {type(layers).__name__}; "
                        "for a network pass dlpy35.export.plain_layers.portable_layers(net)")
    if not layers:
        raise ValueError("no layers: the list is empty; give portable_layers(net) of a trained network")
    widths = [_widths(layer, i) for i, layer in enumerate(layers)]
    for i, ((n, _), (_, given)) in enumerate(zip(widths[1:], widths), start=1):
        if n != given:
            kind = type(layers[i]).__name__
            raise ValueError(f"layer {i} ({kind}) takes {n} values but layer {i - 1} gives {given}")
    return widths[0][0], widths[-1][1]
