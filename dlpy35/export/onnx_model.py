"""A trained network as an ONNX model: :func:`to_onnx` builds it, :func:`write_onnx` saves it.

The input is :func:`dlpy35.export.plain_layers.portable_layers`' list of
:class:`~dlpy35.export.plain_layers.Dense` and :class:`~dlpy35.export.plain_layers.ConvPool` records, so
every dlpy35 network exports alike.  The graph takes ``pixels``, float32
``[N, n_in]`` flat rows in the networks' own (y, x, channel) order, and returns
``activations``, float32 ``[N, n_out]``; ``N`` is symbolic, so any batch size runs.

Layouts.  ONNX's ``Conv`` and ``MaxPool`` work on NCHW images while dlpy35 keeps
images channels-last, so each convolution reshapes its flat input to NHWC and
transposes it to NCHW, and transposes its pooled maps back to NHWC before
flattening them: the next layer then reads the (y, x, map) order it was trained on.

The ``onnx`` package is needed only to build a model (``pip install 'dlpy35[onnx]'``);
importing this module works without it.
"""

from __future__ import annotations

import numpy as np

from dlpy35.export.plain_layers import Dense, check_layers
from dlpy35.storage.atomic import atomic_write

__all__ = ["OPSET", "IR_VERSION", "to_onnx", "write_onnx"]

#: The ONNX operator set the graph uses: 17 (every op here has had its current form since 13),
#: old enough for runtimes of recent years, and Softmax normalises over one axis since 13.
OPSET = 17
#: The IR version that goes with :data:`OPSET` (onnx's own default is often newer than
#: the onnxruntime at hand accepts).
IR_VERSION = 8

_ACTIVATION_OPS = {"sigmoid": "Sigmoid", "tanh": "Tanh", "relu": "Relu", "linear": "Identity",
                   "softmax": "Softmax"}
_TO_NCHW, _TO_NHWC = [0, 3, 1, 2], [0, 2, 3, 1]


def _onnx():
    """The ``onnx`` package, or the ImportError that says how to install it."""
    try:
        import onnx
        import onnx.checker
        import onnx.helper
        import onnx.numpy_helper
    except ImportError:
        raise ImportError("ONNX export needs the onnx package: pip install 'dlpy35[onnx]'") from None
    return onnx


# -- the graph ------------------------------------------------------------------------------------
class _Graph:
    """Nodes and initializers collected in order; tensors are named by layer (``layer1.conv``)."""

    def __init__(self, onnx):
        self.onnx, self.nodes, self.initializers = onnx, [], []

    def const(self, name, array, dtype=np.float32):
        self.initializers.append(self.onnx.numpy_helper.from_array(np.ascontiguousarray(array, dtype), name))
        return name

    def op(self, op_type, inputs, out, **attrs):
        self.nodes.append(self.onnx.helper.make_node(op_type, inputs, [out], name=out, **attrs))
        return out


def _activate(g, z, activation, out):
    attrs = {"axis": -1} if activation == "softmax" else {}
    return g.op(_ACTIVATION_OPS[activation], [z], out, **attrs)


def _dense(g, x, layer, p, out):
    z = g.op("MatMul", [x, g.const(f"{p}.w", layer.w)], f"{p}.xw")
    if layer.scale != 1.0:  # scaled after the product, as the network computes it
        z = g.op("Mul", [z, g.const(f"{p}.scale", layer.scale)], f"{p}.scaled")
    z = g.op("Add", [z, g.const(f"{p}.b", layer.b)], f"{p}.z")
    return _activate(g, z, layer.activation, out)


def _conv_pool(g, x, layer, p, out):
    c, h, w = layer.image
    shape = g.const(f"{p}.nhwc_shape", [-1, h, w, c], np.int64)
    images = g.op("Transpose", [g.op("Reshape", [x, shape], f"{p}.nhwc")], f"{p}.nchw", perm=_TO_NCHW)
    # No bias in the Conv: the network adds it after pooling, and so does this graph.
    kernel = list(np.shape(layer.w)[2:])
    conv = g.op("Conv", [images, g.const(f"{p}.w", layer.w)], f"{p}.conv", kernel_shape=kernel)
    pooled = g.op("MaxPool", [conv], f"{p}.pool", kernel_shape=list(layer.pool), strides=list(layer.pool))
    z = g.op("Add", [pooled, g.const(f"{p}.b", np.reshape(layer.b, (1, -1, 1, 1)))], f"{p}.z")
    maps = g.op("Transpose", [_activate(g, z, layer.activation, f"{p}.a")], f"{p}.maps_nhwc", perm=_TO_NHWC)
    return g.op("Flatten", [maps], out, axis=1)  # (y, x, map) order, as the network flattens


def to_onnx(layers, name="dlpy35", metadata=None):
    """An ONNX model computing the network that `layers` describe.

    Parameters
    ----------
    layers : list of dlpy35.export.plain_layers.Dense or ConvPool
        What :func:`dlpy35.export.plain_layers.portable_layers` returns.
    name : str
        The graph's name.
    metadata : dlpy35.storage.metadata.Metadata, optional
        What the network was trained on, written to the model's ``metadata_props``
        (:meth:`~dlpy35.storage.metadata.Metadata.props`: one entry per field).

    Returns
    -------
    onnx.ModelProto
        Input ``pixels`` float32 ``[N, n_in]``, output ``activations`` float32
        ``[N, n_out]``; opset :data:`OPSET`, IR version :data:`IR_VERSION`; checked
        with ``onnx.checker``.

    Raises
    ------
    TypeError, ValueError
        `layers` is not a non-empty list of portable layers that chain.
    ImportError
        The ``onnx`` package is not installed.
    """
    n_in, n_out = check_layers(layers)
    onnx = _onnx()
    g, x = _Graph(onnx), "pixels"
    for i, layer in enumerate(layers):
        out = "activations" if i == len(layers) - 1 else f"layer{i}.out"
        x = (_dense if isinstance(layer, Dense) else _conv_pool)(g, x, layer, f"layer{i}", out)
    graph = onnx.helper.make_graph(
        g.nodes, name,
        [onnx.helper.make_tensor_value_info("pixels", onnx.TensorProto.FLOAT, ["N", n_in])],
        [onnx.helper.make_tensor_value_info("activations", onnx.TensorProto.FLOAT, ["N", n_out])],
        initializer=g.initializers)
    model = onnx.helper.make_model(graph, producer_name="dlpy35",
                                   opset_imports=[onnx.helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION  # make_model stamps onnx's newest, which runtimes may refuse
    if metadata is not None:
        metadata.check_network(n_in, n_out)
        onnx.helper.set_model_props(model, metadata.props())
    onnx.checker.check_model(model, full_check=True)
    return model


def write_onnx(layers, path, metadata=None):
    """Save :func:`to_onnx` of `layers` (with `metadata`) at `path`, atomically (missing directories are
    created).

    The model is built before the file is opened, so bad `layers` leave nothing behind,
    and a failed write leaves any earlier file at `path` as it was.
    """
    model = to_onnx(layers, metadata=metadata)
    with atomic_write(path, "wb") as f:
        f.write(model.SerializeToString())
