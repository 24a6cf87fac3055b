"""ONNX export: onnxruntime must compute what the trained networks compute, on all of MNIST's test set.

onnx and onnxruntime are imported plainly: a broken install fails here instead of skipping.
Networks train briefly with JAX on the CPU, seeded, so their weights are not the initial ones.
"""

from __future__ import annotations

import dataclasses
import importlib
import sys

import numpy as np
import onnx
import onnxruntime as ort
import pytest

import dlpy35.export
from dlpy35 import network, network2
from dlpy35.export import onnx_model
from dlpy35.export.onnx_model import IR_VERSION, OPSET, to_onnx, write_onnx
from dlpy35.export.plain_layers import ConvPool, Dense, portable_layers
from dlpy35.network3 import ConvPoolLayer, FullyConnectedLayer, Network, ReLU, SoftmaxLayer
from dlpy35.storage.atomic import stale_temp_files
from dlpy35.storage.metadata import Metadata

# Absolute, on float32 outputs in [0, 1]: onnxruntime's kernels against JAX's.  Measured at most
# 1.52e-6 (the chapter-1 network; AMD EPYC, AVX-512, and with OPENBLAS_CORETYPE=Sandybridge or
# XLA_FLAGS=--xla_cpu_max_isa=AVX2 or SSE4_2); 10x margin, rounded up.
TOL = 2e-5


def run_onnx(model, x):
    """`model`'s ``activations`` for the rows `x`, by onnxruntime on the CPU."""
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(["activations"], {"pixels": np.ascontiguousarray(x, np.float32)})[0]


def assert_matches(net, x):
    """Export `net`; onnxruntime's outputs on `x` equal its own within :data:`TOL`, same argmax."""
    expected = net.trainer.forward(x)
    got = run_onnx(to_onnx(portable_layers(net)), x)
    assert got.dtype == np.float32 and got.shape == expected.shape
    np.testing.assert_array_equal(got.argmax(axis=1), expected.argmax(axis=1))
    np.testing.assert_allclose(got, expected, rtol=0, atol=TOL)
    assert len(np.unique(expected.argmax(axis=1))) > 5  # a trained network, not a constant one


# -- the book's networks ------------------------------------------------------------------------
@pytest.mark.parametrize("module, eta", [(network, 3.0), (network2, 0.5)], ids=["network", "network2"])
def test_sigmoid_networks_match_onnxruntime(mnist, module, eta):
    (train_x, train_y), _, (test_x, _) = mnist
    net = module.Network([784, 30, 10], seed=0, mode="JAX", device="cpu")
    net.SGD((train_x[:5000], train_y[:5000]), 1, 10, eta, verbose=False)
    assert_matches(net, test_x)


@pytest.fixture(scope="module")
def conv_net(mnist):
    """Two ReLU conv-pool layers (4, then 6 maps from 4 channels), FC with dropout, softmax with dropout."""
    (train_x, train_y), _, _ = mnist
    layers = [ConvPoolLayer((4, 1, 5, 5), (1, 28, 28), (2, 2), ReLU),
              ConvPoolLayer((6, 4, 5, 5), (4, 12, 12), (2, 2), ReLU),
              FullyConnectedLayer(6 * 4 * 4, 30, ReLU, p_dropout=0.5),
              SoftmaxLayer(30, 10, p_dropout=0.5)]
    net = Network(layers, 10, seed=0, mode="JAX", device="cpu")
    # eta 0.3, not the book's 0.03: one short epoch at 0.03 leaves near-uniform outputs whose top two
    # differ by ~1e-8 on some images, where the argmax comparison would hinge on rounding.
    net.SGD((train_x[:1000], train_y[:1000]), 1, 10, 0.3, lmbda=0.1, verbose=False)
    return net


def test_conv_net_with_dropout_matches_onnxruntime(mnist, conv_net):
    _, _, (test_x, _) = mnist
    layers = portable_layers(conv_net)
    assert [type(layer) for layer in layers] == [ConvPool, ConvPool, Dense, Dense]
    assert layers[1].image[0] == 4 and [layer.scale for layer in layers[2:]] == [0.5, 0.5]
    assert np.any(layers[-1].w != 0)  # the softmax layer starts at zero: trained, it is not
    assert_matches(conv_net, test_x)


def test_a_network_itself_is_refused_with_a_hint(conv_net):
    with pytest.raises(TypeError, match=r"portable_layers\(net\)"):
        to_onnx(conv_net)


# -- the documented arithmetic, on shapes the book's networks do not have -------------------------
ACT = {"sigmoid": lambda z: 1 / (1 + np.exp(-z)), "tanh": np.tanh, "relu": lambda z: np.maximum(z, 0),
       "linear": lambda z: z,
       "softmax": lambda z: np.exp(z - z.max(-1, keepdims=True)) / np.exp(z - z.max(-1, keepdims=True)).sum(
           -1, keepdims=True)}


def reference(layers, x):
    """dlpy35.export.plain_layers' definitions in float64 numpy: channels-last images, (y, x, map) order."""
    x = x.astype(np.float64)
    for layer in layers:
        if isinstance(layer, Dense):
            x = ACT[layer.activation](layer.scale * (x @ layer.w) + layer.b)
            continue
        (c, h, w), (f, _, kh, kw), (ph, pw) = layer.image, layer.w.shape, layer.pool
        oh, ow = h - kh + 1, w - kw + 1
        images = x.reshape(-1, h, w, c)
        conv = sum(np.einsum("nyxc,fc->nyxf", images[:, i:i + oh, j:j + ow], layer.w[:, :, i, j])
                   for i in range(kh) for j in range(kw))
        pooled = conv.reshape(-1, oh // ph, ph, ow // pw, pw, f).max(axis=(2, 4))
        x = ACT[layer.activation](pooled + layer.b).reshape(len(x), -1)
    return x


def random_layers(seed=0):
    """Non-square images and pools, three input channels, every activation, a non-trivial scale."""
    rng = np.random.default_rng(seed)

    def arr(*shape):
        return rng.normal(0, 0.5, shape).astype(np.float32)

    return [ConvPool(arr(5, 3, 3, 2), arr(5), (3, 8, 11), (2, 5), "tanh"),      # -> 3 x 2 x 5
            ConvPool(arr(4, 5, 2, 1), arr(4), (5, 3, 2), (1, 2), "sigmoid"),    # -> 2 x 1 x 4
            Dense(arr(8, 7), arr(7), "relu", 0.8),
            Dense(arr(7, 6), arr(6), "linear", 0.25),
            Dense(arr(6, 4), arr(4), "softmax")]


def test_random_layers_compute_the_documented_arithmetic():
    layers = random_layers()
    x = np.random.default_rng(1).random((257, 3 * 8 * 11), dtype=np.float32)
    np.testing.assert_allclose(run_onnx(to_onnx(layers), x), reference(layers, x), rtol=0, atol=TOL)


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu", "linear"])
def test_a_conv_layer_alone_flattens_its_maps_channels_last(activation):
    layers = [dataclasses.replace(random_layers()[0], activation=activation)]
    x = np.random.default_rng(2).random((3, 3 * 8 * 11), dtype=np.float32)
    got = run_onnx(to_onnx(layers), x)
    assert got.shape == (3, 3 * 2 * 5)
    np.testing.assert_allclose(got, reference(layers, x), rtol=0, atol=TOL)


def test_the_model_declares_its_interface():
    layers = random_layers()
    model = to_onnx(layers, name="tiny")
    assert model.ir_version == IR_VERSION
    assert [(o.domain, o.version) for o in model.opset_import] == [("", OPSET)]
    assert model.graph.name == "tiny"
    (inp,), (out,) = model.graph.input, model.graph.output
    assert inp.name == "pixels" and out.name == "activations"
    for value, width in ((inp, 3 * 8 * 11), (out, 4)):
        assert value.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
        dims = value.type.tensor_type.shape.dim
        assert [(d.dim_param, d.dim_value) for d in dims] == [("N", 0), ("", width)]
    assert len(model.graph.initializer) == 2 * len(layers) + 2 + 2  # w, b each; 2 NHWC shapes; 2 scales
    one = np.zeros((1, 3 * 8 * 11), np.float32)
    assert run_onnx(model, one).shape == (1, 4)


def test_the_model_is_named_for_dlpy35_and_each_node_for_its_layer_and_step():
    model = to_onnx(random_layers()[:2])  # the two convolutions
    assert model.graph.name == "dlpy35" and model.producer_name == "dlpy35"
    steps = ["nhwc", "nchw", "conv", "pool", "z", "a", "maps_nhwc"]
    assert [n.name for n in model.graph.node] == [f"layer0.{s}" for s in steps] + ["layer0.out"] + [
        f"layer1.{s}" for s in steps] + ["activations"]
    assert all(list(n.output) == [n.name] for n in model.graph.node)


def test_a_pool_that_is_not_square_over_a_filter_that_is_not_square_computes_the_arithmetic():
    """9 x 10 images, 4 x 3 filters, 3 x 4 pools, then a softmax: 2 x 2 x 2 maps into 5 classes."""
    rng = np.random.default_rng(3)
    layers = [ConvPool(rng.normal(0, 0.5, (2, 1, 4, 3)).astype(np.float32), np.float32([0.1, -0.2]),
                       (1, 9, 10), (3, 4), "sigmoid"),
              Dense(rng.normal(0, 0.5, (8, 5)).astype(np.float32), np.zeros(5, np.float32), "softmax", 0.5)]
    x = rng.random((7, 90), dtype=np.float32)
    np.testing.assert_allclose(run_onnx(to_onnx(layers), x), reference(layers, x), rtol=0, atol=TOL)


def test_the_model_is_checked_with_shape_inference(monkeypatch):
    """onnx.checker's full check infers each tensor's shape: an interface that disagrees with the graph
    (here a wrong output width, as a faulty layer check would declare) is refused, not written."""
    monkeypatch.setattr(onnx_model, "check_layers", lambda layers: (6, 5))
    layers = [Dense(np.ones((6, 4), np.float32), np.zeros(4, np.float32), "relu")]
    with pytest.raises(onnx.shape_inference.InferenceError, match=r"\(4\) vs \(5\)"):
        to_onnx(layers)


def test_the_model_carries_what_the_network_was_trained_on_in_its_metadata_props(tmp_path):
    """random_layers read 3 x 8 x 11 images into 4 classes: a record of such a data set goes along."""
    meta = Metadata(dataset="shapes", classes=("circle", "square", "star", "moon"), image_shape=(8, 33),
                    training={"command": "dlpy35 train", "args": {"eta": 0.5}},
                    results={"final": {"test": 0.875}}, dlpy35="0.1.0")
    write_onnx(random_layers(), tmp_path / "net.onnx", meta)
    props = {p.key: p.value for p in onnx.load(tmp_path / "net.onnx").metadata_props}
    assert props == {"format": "dlpy35.metadata", "version": "1", "dlpy35": "0.1.0", "dataset": "shapes",
                     "classes": '["circle", "square", "star", "moon"]', "image_shape": "[8, 33]",
                     "training": '{"command": "dlpy35 train", "args": {"eta": 0.5}}',
                     "results": '{"final": {"test": 0.875}}'}  # no preparation: None is left out
    assert Metadata.from_props(props) == meta
    assert not to_onnx(random_layers()).metadata_props  # none given, none written
    with pytest.raises(ValueError, match="2 classes for a network of 4 outputs"):
        to_onnx(random_layers(), metadata=Metadata(dataset="x", classes=("a", "b")))


# -- refusals -----------------------------------------------------------------------------------
def dense(n_in, n_out, activation="sigmoid"):
    return Dense(np.zeros((n_in, n_out), np.float32), np.zeros(n_out, np.float32), activation)


@pytest.mark.parametrize("layers, error, match", [
    ([], ValueError, "empty"),
    ("layers", TypeError, "expected a list"),
    ({"w": 1}, TypeError, "expected a list"),
    ([dense(4, 3), object()], TypeError,
     "layer 1: expected a dlpy35.export.plain_layers Dense or ConvPool, got object"),
    ([dense(4, 3), dense(2, 1)], ValueError, r"layer 1 \(Dense\) takes 2 values but layer 0 gives 3"),
    ([dense(4, 3, "ReLU")], ValueError, "unknown activation 'ReLU'"),
    ([Dense(np.zeros((4, 3)), np.zeros(2), "relu")], ValueError, r"w \(4, 3\) and b \(2,\)"),
    ([ConvPool(np.zeros((2, 1, 3, 3)), np.zeros(2), (2, 6, 6), (2, 2), "relu")], ValueError,
     "do not fit 2-channel images"),
    ([ConvPool(np.zeros((2, 1, 3, 3)), np.zeros(2), (1, 6, 6), (3, 3), "relu")], ValueError,
     "pool 3x3 does not divide"),
    ([ConvPool(np.zeros((2, 1, 3, 3)), np.zeros(2), (1, 6, 6), (2, 2), "softmax")], ValueError,
     "softmax is for Dense layers only"),
])
def test_bad_layers_raise_clearly(layers, error, match):
    with pytest.raises(error, match=match):
        to_onnx(layers)


def test_without_onnx_the_module_imports_and_export_says_how_to_install(monkeypatch):
    monkeypatch.setattr(dlpy35.export, "onnx_model", onnx_model)  # restored with sys.modules below
    monkeypatch.delitem(sys.modules, "dlpy35.export.onnx_model")
    for name in [m for m in sys.modules if m == "onnx" or m.startswith("onnx.")]:
        monkeypatch.setitem(sys.modules, name, None)  # None: "import onnx" raises ImportError
    fresh = importlib.import_module("dlpy35.export.onnx_model")
    assert fresh is not onnx_model
    with pytest.raises(ImportError) as raised:
        fresh.to_onnx([dense(4, 3)])
    assert str(raised.value) == "ONNX export needs the onnx package: pip install 'dlpy35[onnx]'"


# -- writing ------------------------------------------------------------------------------------
def test_write_onnx_creates_missing_directories_and_leaves_no_temp_file(tmp_path):
    path = tmp_path / "new" / "deeper" / "net.onnx"
    layers = random_layers()
    write_onnx(layers, path)
    assert sorted(p.name for p in path.parent.iterdir()) == ["net.onnx"]
    assert onnx.load(path).SerializeToString() == to_onnx(layers).SerializeToString()


def test_failed_writes_leave_no_partial_file(tmp_path, monkeypatch):
    path = tmp_path / "out" / "net.onnx"
    with pytest.raises(ValueError, match="empty"):  # checked before anything is opened
        write_onnx([], path)
    assert not path.parent.exists()

    path.parent.mkdir()
    path.write_bytes(b"the earlier model")

    class Unserializable:
        def SerializeToString(self):  # noqa: N802 (protobuf's name)
            raise RuntimeError("disk full")

    monkeypatch.setattr(onnx_model, "to_onnx", lambda layers, **_: Unserializable())
    with pytest.raises(RuntimeError, match="disk full"):
        write_onnx(random_layers(), path)
    assert path.read_bytes() == b"the earlier model" and stale_temp_files(path) == []
    assert sorted(p.name for p in path.parent.iterdir()) == ["net.onnx"]


def test_write_onnx_under_a_file_fails_and_writes_nothing(tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_bytes(b"")
    with pytest.raises(OSError):
        write_onnx(random_layers(), blocker / "net.onnx")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blocker"] and blocker.read_bytes() == b""


# -- dropout other than 0.5, through the saved file and the command ---------------------------------
@pytest.mark.parametrize("p", [0.2, 0.0, 0.5])
def test_a_saved_dropout_network_exports_with_its_own_inference_scale(mnist, tmp_path, capsys, p):
    """network3 scales a dropout layer's weights by ``1 - p`` at inference: the ONNX model written by
    ``dlpy35 export`` from the saved ``.npz`` computes the network's own outputs for p = 0.2, 0 and
    0.5, so a scale fixed at 0.5 (or ``p`` for ``1 - p``) fails at 0.2 and 0."""
    from command_helpers import run_main

    from dlpy35.cli import main as cli

    (train_x, train_y), _, (test_x, _) = mnist
    layers = [FullyConnectedLayer(784, 30, ReLU, p_dropout=p), SoftmaxLayer(30, 10, p_dropout=p)]
    net = Network(layers, 10, seed=1, mode="JAX", device="cpu")
    net.SGD((train_x[:500], train_y[:500]), 1, 10, 0.1, verbose=False)
    assert [layer.scale for layer in portable_layers(net)] == [1 - p, 1 - p]
    net.save(tmp_path / "network.npz")
    status, _, err = run_main(cli.main, ["export", str(tmp_path / "network.npz"), "-o",
                                         str(tmp_path / "net.onnx")], capsys)
    assert status == 0, err
    x = test_x[:1000]
    expected = net.trainer.forward(x)
    got = run_onnx(onnx.load(tmp_path / "net.onnx"), x)
    np.testing.assert_allclose(got, expected, rtol=0, atol=TOL)
    np.testing.assert_array_equal(got.argmax(axis=1), expected.argmax(axis=1))
    # What "1 - p" means, in numpy from the trained weights: the hidden layer's weights times 1 - p.
    (w1, b1, w2, b2) = (np.asarray(v, np.float64) for v in net.trainer.values())
    hidden = np.maximum((1 - p) * (x @ w1) + b1, 0)
    z = (1 - p) * (hidden @ w2) + b2
    np.testing.assert_allclose(got, np.exp(z - z.max(1, keepdims=True)) / np.exp(z - z.max(1, keepdims=True))
                               .sum(1, keepdims=True), rtol=0, atol=TOL)
