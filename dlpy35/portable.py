"""Any trained dlpy35 network as a plain list of layers: what the exporters translate.

:func:`portable_layers` turns a chapter-1/3 network (:mod:`dlpy35.network`,
:mod:`dlpy35.network2`) or a chapter-6 layer stack (:mod:`dlpy35.network3`) into
:class:`Dense` and :class:`ConvPool` records of float32 numpy arrays, with the
inference-time arithmetic spelled out, so that an exporter (ONNX, the HTML page)
needs to know nothing about PyTensor or the book's three classes.

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

from dataclasses import dataclass

import numpy as np

__all__ = ["Dense", "ConvPool", "ACTIVATIONS", "portable_layers", "input_shape"]

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
    from dlpy35.graph import SigmoidNet
    from dlpy35.layers import ConvPoolLayer, LayerStack, SoftmaxLayer

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
