"""The portable layers (:mod:`dlpy35.export.plain_layers`): what :func:`portable_layers` reads off each kind
of network, the input :func:`input_shape` infers, and :func:`check_layers`' widths and refusals, against
values worked out by hand.

The networks are float64 ones in PyTensor's FAST_COMPILE mode, untrained: nothing is compiled, and a
float64 network shows that the layers are float32 copies whatever the network computes in.
"""

from __future__ import annotations

import numpy as np
import pytest

from dlpy35 import network, network2
from dlpy35.export.plain_layers import ConvPool, Dense, check_layers, input_shape, portable_layers
from dlpy35.network3 import ConvPoolLayer, FullyConnectedLayer, Network, ReLU, SoftmaxLayer, tanh


def assert_float32_copy(got, want):
    """`got` is `want` in float32, C-contiguous."""
    assert got.dtype == np.float32 and got.flags.c_contiguous
    np.testing.assert_array_equal(got, np.asarray(want, np.float32))


@pytest.mark.parametrize("module", [network, network2], ids=["network", "network2"])
def test_a_sigmoid_network_gives_one_dense_sigmoid_layer_per_weight_matrix(module):
    """The book's ``w`` is (n_out, n_in) and ``b`` a column: a Dense layer holds ``w.T`` and ``b`` flat."""
    net = module.Network([4, 3, 2], seed=0, dtype="float64", mode="FAST_COMPILE", device="cpu")
    layers = portable_layers(net)
    assert [(type(layer), layer.activation, layer.scale) for layer in layers] == [(Dense, "sigmoid", 1.0)] * 2
    for layer, w, b in zip(layers, net.weights, net.biases):
        assert layer.w.shape == w.T.shape and layer.b.shape == (len(b),)
        assert_float32_copy(layer.w, w.T)
        assert_float32_copy(layer.b, b.ravel())


def test_a_layer_stack_gives_its_layers_with_their_activations_and_inference_scales():
    layers_in = [ConvPoolLayer((2, 1, 3, 3), (1, 6, 6), (2, 2), ReLU),
                 FullyConnectedLayer(8, 5, tanh, p_dropout=0.25),
                 SoftmaxLayer(5, 3, p_dropout=0.2)]
    net = Network(layers_in, 2, seed=0, dtype="float64", mode="FAST_COMPILE", device="cpu")
    conv, hidden, top = portable_layers(net)
    assert type(conv) is ConvPool and (conv.image, conv.pool, conv.activation) == ((1, 6, 6), (2, 2), "relu")
    assert (type(hidden), hidden.activation, hidden.scale) == (Dense, "tanh", 0.75)
    assert (type(top), top.activation, top.scale) == (Dense, "softmax", 0.8)
    values = net.trainer.values()  # w, b of each layer in turn
    assert [v.dtype for v in values] == [np.float64] * 6
    for i, layer in enumerate((conv, hidden, top)):
        assert_float32_copy(layer.w, values[2 * i])
        assert_float32_copy(layer.b, values[2 * i + 1])
    assert conv.w.shape == (2, 1, 3, 3) and hidden.w.shape == (8, 5) and top.b.shape == (3,)


def dense(n_in, n_out, activation="sigmoid", **arrays):
    w = arrays.get("w", np.zeros((n_in, n_out), np.float32))
    return Dense(w, arrays.get("b", np.zeros(n_out, np.float32)), activation)


def conv_pool(filters, image, pool, activation="relu", b=None):
    return ConvPool(np.zeros(filters, np.float32), np.zeros(filters[0], np.float32) if b is None else b,
                    image, pool, activation)


#: 9 x 10 images, 4 x 3 filters, 3 x 4 pools: a 6 x 8 map into 2 x 2 pools.  Each of h - kh + 1,
#: w - kw + 1 divides by its pool, but neither h + kh + 1, h - kh - 1, h - kh + 2, nor h - kw + 1
#: (and the same for the width), so a wrong geometry rule refuses this sound layer.
ODD = conv_pool((2, 1, 4, 3), (1, 9, 10), (3, 4))


@pytest.mark.parametrize("layers, shape", [
    ([dense(784, 10)], (1, 28, 28)),
    ([dense(100, 3), dense(3, 784)], (1, 10, 10)),       # the first layer's n_in, not the last's
    ([dense(784, 30), dense(30, 10)], (1, 28, 28)),
    ([dense(30, 784)], (1, 1, 30)),                       # not a square: one row
    ([dense(2, 1)], (1, 1, 2)),
    ([dense(1, 4)], (1, 1, 1)),
    ([ODD, dense(8, 3)], (1, 9, 10)),                     # a convolution's own image
    ([conv_pool((2, 3, 3, 2), (3, 8, 11), (2, 5))], (3, 8, 11)),
])
def test_input_shape_is_the_first_layers_image_or_a_square_or_one_row(layers, shape):
    assert input_shape(layers) == shape


@pytest.mark.parametrize("layers, widths", [
    ([dense(784, 30), dense(30, 10)], (784, 10)),
    ((dense(5, 2),), (5, 2)),                                            # a tuple will do
    ([ODD], (90, 8)),                                                    # 2 x 2 x 2 out
    ([ODD, dense(8, 5, "softmax")], (90, 5)),
    ([conv_pool((5, 3, 3, 2), (3, 8, 11), (2, 5), "tanh"), conv_pool((4, 5, 2, 1), (5, 3, 2), (1, 2)),
      dense(8, 7, "linear")], (264, 7)),
])
def test_check_layers_gives_the_networks_input_and_output_widths(layers, widths):
    assert ODD.out_image == (2, 2, 2)
    assert check_layers(layers) == widths


NAN_B = np.array([0.0, np.nan], np.float32)


@pytest.mark.parametrize("layers, match", [
    ([dense(3, 2, b=NAN_B)], r"layer 0: the weights are not all finite"),
    ([dense(3, 2), dense(2, 2, w=np.full((2, 2), np.inf, np.float32))], r"layer 1: the weights are not all"),
    ([conv_pool((2, 1, 3, 3), (1, 6, 6), (2, 2), b=NAN_B)], r"layer 0: the weights are not all finite"),
    ([dense(4, 3, b=np.zeros(2, np.float32))], r"layer 0 \(Dense\): w \(4, 3\) and b \(2,\)"),
    ([dense(4, 3, w=np.zeros((4, 3, 2), np.float32), b=np.zeros((3, 2), np.float32))],
     r"layer 0 \(Dense\): w \(4, 3, 2\) and b \(3, 2\) are not"),
    ([conv_pool((2, 1, 3, 3), (1, 6, 6), (2, 2), b=np.zeros(3, np.float32))],
     r"layer 0 \(ConvPool\): w \(2, 1, 3, 3\) and b \(3,\) do not fit 1-channel images"),
    ([ConvPool(np.zeros((2, 1, 3), np.float32), np.zeros(2, np.float32), (1, 6, 6), (2, 2), "relu")],
     r"layer 0 \(ConvPool\): w \(2, 1, 3\) and b \(2,\) do not fit"),
    ([conv_pool((2, 1, 3, 3), (1, 6, 7), (2, 2))],                   # only the width's map is odd
     r"layer 0 \(ConvPool\): pool 2x2 does not divide the feature map of 6x7 images"),
    ([dense(4, 42), conv_pool((2, 1, 3, 3), (1, 7, 6), (2, 2))],     # only the height's
     r"layer 1 \(ConvPool\): pool 2x2 does not divide the feature map of 7x6 images"),
    ([conv_pool((2, 1, 4, 3), (1, 9, 10), (3, 3))], r"pool 3x3 does not divide .* and 4x3 filters"),
    ([ODD, dense(9, 2)], r"layer 1 \(Dense\) takes 9 values but layer 0 gives 8"),
    ([dense(8, 9), dense(9, 4), dense(5, 2)], r"layer 2 \(Dense\) takes 5 values but layer 1 gives 4"),
    ([dense(3, 54), conv_pool((2, 1, 3, 3), (1, 6, 6), (2, 2))], r"layer 1 \(ConvPool\) takes 36 values"),
])
def test_check_layers_refuses_unsound_layers_in_one_line(layers, match):
    with pytest.raises(ValueError, match=match) as raised:
        check_layers(layers)
    assert "\n" not in str(raised.value)
