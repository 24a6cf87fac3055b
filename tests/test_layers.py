"""Layers: construction checks, the book's initialisation, the conv forward pass, and gradients.

Gradients of every layer type are checked against central finite differences in
float64, NUMBA mode.  All cases share one compiled function (one Numba compile):
the parameters and the conv input are slices of one vector ``theta`` and the
cost is the sum of the cases' costs, so ``dC/dtheta`` restricted to a case's
slice is that case's gradient.
"""

from __future__ import annotations

import math

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from dlpy35.engine.layers import (
    ACTIVATIONS,
    NOISE_SIZE,
    ConvPoolLayer,
    FullyConnectedLayer,
    LayerStack,
    ReLU,
    SoftmaxLayer,
    activation_name,
    from_spec,
    linear,
    noise_table,
    sigmoid,
    tanh,
)

M = 3  # examples per batch in the gradient checks


def _cases():
    """``(name, layer, input width)`` for every layer type (FC with each activation)."""
    cases = [(f"fc-{name}", FullyConnectedLayer(5, 4, fn), 5) for name, fn in ACTIVATIONS.items()]
    cases.append(("conv-pool", ConvPoolLayer((3, 2, 3, 3), (2, 6, 6), (2, 2), tanh), 2 * 6 * 6))
    cases.append(("conv-pool-relu", ConvPoolLayer((2, 1, 3, 3), (1, 7, 7), (5, 5), ReLU), 49))
    cases.append(("softmax", SoftmaxLayer(6, 4), 6))
    return cases


CASES = _cases()


def _layout():
    """Slices of theta for each case: ``[x, w, b]``."""
    out, start = {}, 0
    for name, layer, n_in in CASES:
        shapes = [(M, n_in), *layer.param_shapes]
        parts = []
        for shape in shapes:
            size = math.prod(shape)
            parts.append((slice(start, start + size), shape))
            start += size
        out[name] = parts
    return out, start


@pytest.fixture(scope="module")
def graded():
    """``(f, theta0, layout)`` with ``f(theta) -> (cost, dcost/dtheta, conv outputs...)``, float64."""
    layout, size = _layout()
    rng = np.random.default_rng(0)
    theta = pt.vector("theta", dtype="float64")
    labels = pt.constant(np.array([0, 3, 1]), dtype="int64")
    total, conv_outs = 0, []
    for name, layer, _ in CASES:
        (sx, shx), (sw, shw), (sb, shb) = layout[name]
        x, w, b = theta[sx].reshape(shx), theta[sw].reshape(shw), theta[sb].reshape(shb)
        if isinstance(layer, SoftmaxLayer):
            c = pt.mean(layer.log_likelihood(x, [w, b], labels))
        else:
            out = layer.output(x, [w, b])
            c = pt.sum(pt.constant(rng.standard_normal((M, layer.n_out))) * out)  # a random linear read-out
            if isinstance(layer, ConvPoolLayer):
                conv_outs.append(out)
        total = total + c
    with pytensor.config.change_flags(floatX="float64"):
        # FAST_COMPILE: numpy kernels, compiled in seconds (Numba takes two minutes cold for this graph).
        f = pytensor.function([theta], [total, pytensor.grad(total, theta), *conv_outs], mode="FAST_COMPILE")
    # Away from ReLU's kink and from max-pool ties, where the derivative jumps.
    theta0 = rng.uniform(0.2, 1.0, size) * rng.choice([-1, 1], size)
    return f, theta0, layout


@pytest.mark.parametrize("name", [c[0] for c in CASES])
def test_gradient_matches_central_differences(graded, name):
    f, theta0, layout = graded
    grad = f(theta0)[1]
    h = 1e-6
    for part, (sl, _) in zip(("x", "w", "b"), layout[name]):
        if name.startswith(("fc", "softmax")) and part == "x":
            continue  # the input gradient matters where a layer feeds a conv layer only
        idx = np.arange(sl.start, sl.stop)
        fd = np.empty(len(idx))
        for k, i in enumerate(idx):
            e = np.zeros_like(theta0)
            e[i] = h
            fd[k] = (f(theta0 + e)[0] - f(theta0 - e)[0]) / (2 * h)
        g = grad[idx]
        rel = np.linalg.norm(g - fd) / max(np.linalg.norm(g), np.linalg.norm(fd), 1e-12)
        assert rel < 1e-5, f"{name} d/d{part}: relative error {rel:.2e}"
        assert np.linalg.norm(g) > 0, f"{name} d/d{part} is zero: the check would be vacuous"


def _numpy_conv_pool(x, w, b, layer):
    """Reference: direct loops, cross-correlation, max-pool, activation (channels-last flatten)."""
    c, h, wd = layer.image_shape
    n_f, _, kh, kw = layer.filter_shape
    img = x.reshape(-1, h, wd, c)
    oh, ow = h - kh + 1, wd - kw + 1
    conv = np.zeros((len(x), oh, ow, n_f))
    for i in range(oh):
        for j in range(ow):
            patch = img[:, i:i + kh, j:j + kw, :]  # (m, kh, kw, c)
            conv[:, i, j, :] = np.einsum("mhwc,fchw->mf", patch, w)
    ph, pw = layer.poolsize
    pooled = conv.reshape(len(x), oh // ph, ph, ow // pw, pw, n_f).max(axis=(2, 4))
    return layer.activation_fn(pt.constant(pooled + b)).eval().reshape(len(x), -1)


def test_conv_pool_forward_matches_direct_loops(graded):
    f, theta0, layout = graded
    outs = f(theta0)[2:]
    convs = [(name, layer) for name, layer, _ in CASES if isinstance(layer, ConvPoolLayer)]
    for (name, layer), got in zip(convs, outs):
        (sx, shx), (sw, shw), (sb, _) = layout[name]
        want = _numpy_conv_pool(theta0[sx].reshape(shx), theta0[sw].reshape(shw), theta0[sb], layer)
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("p", [0.0, 0.25, 0.5])
def test_dropout_layers_at_inference_scale_the_weights_by_one_minus_p(p):
    """The book's inference pass: ``f((1 - p) x w + b)``, for the FC layer, the softmax and its cost."""
    rng = np.random.default_rng(11)
    x, w, b = rng.random((4, 6)), rng.standard_normal((6, 3)), rng.standard_normal(3)
    labels = np.array([2, 0, 1, 2])
    params = [pt.constant(w), pt.constant(b)]
    z = (1 - p) * (x @ w) + b
    fc = FullyConnectedLayer(6, 3, sigmoid, p_dropout=p).output(pt.constant(x), params).eval()
    np.testing.assert_allclose(fc, 1 / (1 + np.exp(-z)), rtol=1e-12)
    softmax = SoftmaxLayer(6, 3, p_dropout=p)
    want = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(softmax.output(pt.constant(x), params).eval(), want, rtol=1e-12)
    cost = softmax.log_likelihood(pt.constant(x), params, pt.constant(labels)).eval()
    np.testing.assert_allclose(cost, -np.log(want[np.arange(4), labels]), rtol=1e-12)


def _mask(rows, width, p, key, salt):
    """The mask (True: kept) read from the noise table as dropout's Notes say."""
    k = key + salt * 16_777_259
    i = np.arange(rows * width) % NOISE_SIZE
    offset, stride = k % NOISE_SIZE, 2 * ((k // NOISE_SIZE) % 32) + 1
    return noise_table()[(offset + i * stride) % NOISE_SIZE].reshape(rows, width) >= p


@pytest.mark.parametrize("salt", [0, 2])
def test_training_outputs_drop_the_units_the_noise_table_names(salt):
    """The training path: ``f((mask * x) w + b)``, the mask read from the table as dropout's Notes say."""
    rng = np.random.default_rng(12)
    rows, width, p, key = 4, 6, 0.5, 123_456_789
    x, w, b = rng.random((rows, width)), rng.standard_normal((width, 3)), rng.standard_normal(3)
    table = noise_table()
    mask = _mask(rows, width, p, key, salt)
    assert 0 < mask.sum() < mask.size  # some units dropped, some kept
    z = (mask * x) @ w + b
    noise = (pt.constant(table), pt.constant(key), rows)
    params = [pt.constant(w), pt.constant(b)]
    fc = FullyConnectedLayer(width, 3, sigmoid, p_dropout=p)
    np.testing.assert_allclose(fc.output_dropout(pt.constant(x), params, noise, salt).eval(),
                               1 / (1 + np.exp(-z)), rtol=1e-12)
    softmax = SoftmaxLayer(width, 3, p_dropout=p).output_dropout(pt.constant(x), params, noise, salt)
    np.testing.assert_allclose(softmax.eval(), np.exp(z) / np.exp(z).sum(axis=1, keepdims=True), rtol=1e-12)


def test_a_stacks_training_cost_drops_each_layers_inputs_with_its_own_salt():
    """Layer i of a stack reads the noise table with salt i, the softmax layer too: no two share a mask."""
    rng = np.random.default_rng(13)
    rows, p, key = 4, 0.5, 987_654_321
    x, labels = rng.random((rows, 6)), np.array([2, 0, 1, 2])
    w0, b0, w1, b1 = rng.standard_normal((6, 5)), rng.standard_normal(5), rng.standard_normal((5, 3)), \
        rng.standard_normal(3)
    assert (_mask(rows, 5, p, key, 0) != _mask(rows, 5, p, key, 1)).any()
    h = 1 / (1 + np.exp(-((_mask(rows, 6, p, key, 0) * x) @ w0 + b0)))
    z = (_mask(rows, 5, p, key, 1) * h) @ w1 + b1
    want = np.mean(np.log(np.exp(z).sum(axis=1)) - z[np.arange(rows), labels])
    stack = LayerStack([FullyConnectedLayer(6, 5, sigmoid, p), SoftmaxLayer(5, 3, p)], rows)
    got = stack.cost(pt.constant(x), pt.constant(labels), [pt.constant(a) for a in (w0, b0, w1, b1)],
                     (pt.constant(noise_table()), pt.constant(key))).eval()
    assert got == pytest.approx(want, rel=1e-12)


# -- initialisation ----------------------------------------------------------------------------
def test_book_initialisation():
    rng = np.random.default_rng(5)
    conv = ConvPoolLayer((20, 1, 5, 5), (10, 1, 28, 28), (2, 2))
    w, b = conv.init_params(np.random.default_rng(5), "float64")
    n_out = 20 * 25 / 4  # the book's n_out for a conv layer
    np.testing.assert_array_equal(w, rng.normal(0, np.sqrt(1 / n_out), (20, 1, 5, 5)))
    np.testing.assert_array_equal(b, rng.normal(0, 1, (20,)))
    fc = FullyConnectedLayer(2880, 100)
    w, b = fc.init_params(np.random.default_rng(1), "float32")
    assert w.shape == (2880, 100) and w.dtype == np.float32 and abs(w.std() - 0.1) < 0.002
    assert abs(b.std() - 1) < 0.2
    w, b = SoftmaxLayer(100, 10).init_params(rng, "float32")
    assert not w.any() and not b.any()


def test_shapes_and_specs_round_trip():
    conv = ConvPoolLayer((40, 20, 5, 5), (20, 12, 12), (2, 2), ReLU)
    assert conv.out_image == (4, 4, 40) and conv.n_in == 20 * 144 and conv.n_out == 640
    for layer in (conv, FullyConnectedLayer(640, 100, ReLU, 0.5), SoftmaxLayer(100, 10, 0.25)):
        again = from_spec(layer.spec())
        assert again.spec() == layer.spec() and type(again) is type(layer)
    assert [activation_name(f) for f in (sigmoid, tanh, ReLU, linear)] == list(ACTIVATIONS)


# -- bad construction ----------------------------------------------------------------------------
@pytest.mark.parametrize("make, match", [
    (lambda: ConvPoolLayer((20, 1, 30, 5), (10, 1, 28, 28)),
     r"ConvPoolLayer: filter 30x5 is larger than the 28x28"),
    (lambda: ConvPoolLayer((20, 3, 5, 5), (10, 1, 28, 28)),
     r"ConvPoolLayer: the filters have 3 channels .* images have 1"),
    (lambda: ConvPoolLayer((20, 1, 5, 5), (1, 28, 28), (5, 5)),
     r"poolsize 5x5 does not divide the 24x24 feature map"),
    (lambda: ConvPoolLayer((20, 1, 5), (1, 28, 28)),
     r"ConvPoolLayer: filter_shape must be 4 positive integers"),
    (lambda: ConvPoolLayer((20, 1, 5, 5), (1, 28, 28), (0, 2)),
     r"ConvPoolLayer: poolsize must be 2 positive"),
    (lambda: FullyConnectedLayer(10, 5, p_dropout=1.0),
     r"FullyConnectedLayer: p_dropout must be a number in \[0, 1\), got 1.0"),
    (lambda: FullyConnectedLayer(10, 5, p_dropout=-0.1),
     r"p_dropout must be .* got -0.1"),
    (lambda: SoftmaxLayer(10, 5, p_dropout=1.5),
     r"SoftmaxLayer: p_dropout .* got 1.5"),
    (lambda: FullyConnectedLayer(0, 5),
     r"FullyConnectedLayer: n_in must be a positive integer, got 0"),
    (lambda: FullyConnectedLayer(10, 5, activation_fn=np.tanh),
     r"activation_fn must be one of"),
    (lambda: from_spec(["SoftmaxLayer", 10, 5]), r"not a layer description"),
    (lambda: from_spec({"type": "DenseLayer", "n_in": 10, "n_out": 5}), r"not a layer description"),
])
def test_bad_layers_raise_value_errors(make, match):
    with pytest.raises(ValueError, match=match):
        make()
