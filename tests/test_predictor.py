"""``predict``, ``predict_proba``, ``score`` and ``predict_files`` of the three network kinds
(dlpy35.engine.predictor), checked against the book's own ``evaluate`` and ``accuracy``, and
``dlpy35.load`` of each saved kind.

The networks train one epoch on 3,000 MNIST images (JAX on the CPU), once per module.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image

import dlpy35
from dlpy35 import network, network2, network3
from dlpy35.data.digit_images import ImageError, prepare_file
from dlpy35.engine.predictor import normalised_rows
from dlpy35.network3 import FullyConnectedLayer, SoftmaxLayer

N_TRAIN, N_EVAL = 3000, 1000
KINDS = ("network", "network2", "network3")
SUM_TOLERANCE = 1e-6  # measured: rows of float32 probabilities sum to 1 within 2.4e-7 (see test)


@pytest.fixture(scope="module")
def nets(mnist):
    """Each kind trained one epoch on the first 3,000 training images: name -> network."""
    (x, y), _, _ = mnist
    train = (x[:N_TRAIN], y[:N_TRAIN])
    found = {"network": network.Network([784, 20, 10], seed=0, mode="JAX", device="cpu"),
             "network2": network2.Network([784, 20, 10], seed=0, mode="JAX", device="cpu"),
             "network3": network3.Network([FullyConnectedLayer(784, 20), SoftmaxLayer(20, 10)], 10, seed=0,
                                          mode="JAX", device="cpu")}
    found["network"].SGD(train, 1, 10, 3.0, verbose=False)
    found["network2"].SGD(train, 1, 10, 0.5, verbose=False)
    found["network3"].SGD(train, 1, 10, 0.1, verbose=False)
    return found


@pytest.fixture(scope="module")
def evaluation(mnist):
    """The first 1,000 validation images and labels."""
    _, (x, y), _ = mnist
    return x[:N_EVAL], y[:N_EVAL]


def book_count(net, x, y):
    """How many of `x` the network classifies as `y`, by the book's own method of its kind."""
    if isinstance(net, network3.Network):
        return round(net.accuracy((x, y)) * len(y))  # network3's accuracy is a fraction
    return net.evaluate((x, y))  # network and network2: a count


@pytest.mark.parametrize("kind", KINDS)
def test_predict_and_score_count_as_the_books_evaluate_does(nets, evaluation, kind):
    net, (x, y) = nets[kind], evaluation
    predicted = net.predict(x)
    assert predicted.dtype == np.int64 and predicted.shape == (N_EVAL,)
    correct = book_count(net, x, y)
    assert 300 < correct < N_EVAL  # trained (chance is 100), not perfect: a real comparison
    assert int(np.sum(predicted == y)) == correct
    assert net.score(x, y) == correct / N_EVAL


@pytest.mark.parametrize("kind", KINDS)
def test_predict_proba_rows_sum_to_one_and_rank_the_labels_as_predict(nets, evaluation, kind):
    net, (x, _) = nets[kind], evaluation
    proba = net.predict_proba(x)
    assert proba.shape == (N_EVAL, 10) and proba.min() >= 0
    assert np.abs(proba.sum(axis=1) - 1).max() < SUM_TOLERANCE
    assert np.all(proba[np.arange(N_EVAL), net.predict(x)] == proba.max(axis=1))
    activations = net.outputs(x)
    if kind == "network3":  # softmax outputs are the probabilities
        np.testing.assert_array_equal(proba, activations)
    else:  # the sigmoid activations, scaled per row (the book's networks are not calibrated)
        np.testing.assert_allclose(proba * activations.sum(axis=1, keepdims=True), activations, rtol=1e-6)
        np.testing.assert_allclose(activations[:5], net.feedforward(x[:5].T).T, rtol=1e-6)


def test_the_sigmoid_networks_outputs_are_not_probabilities_until_normalised(nets, evaluation):
    """Why predict_proba normalises: the chapter-1 network's outputs do not sum to 1."""
    sums = nets["network"].outputs(evaluation[0]).sum(axis=1)
    assert np.abs(sums - 1).max() > 0.05


@given(arrays(np.float32, st.tuples(st.integers(1, 5), st.integers(1, 12)),
              elements=st.floats(0, 1, width=32)))
@settings(max_examples=200, deadline=None)
def test_normalised_rows_sum_to_one_and_keep_the_largest_output_largest(a):
    p = normalised_rows(a)
    assert p.dtype == np.float32 and np.all((p >= 0) & (p <= 1))
    assert np.abs(p.sum(axis=1) - 1).max() < SUM_TOLERANCE * a.shape[1]
    assert np.all(p[np.arange(len(a)), np.argmax(a, axis=1)] == p.max(axis=1))
    zero = ~a.any(axis=1)  # every sigmoid underflowed: no preference, a uniform row
    assert np.all(p[zero] == np.float32(1 / a.shape[1]))


# -- the inputs accepted, and the one-line errors ---------------------------------------------------------

SHAPES = {  # the same 7 examples given in each shape a user may have
    "rows (n, 784)": lambda x: x,
    "images (n, 28, 28)": lambda x: x.reshape(-1, 28, 28),
    "the book's columns (n, 784, 1)": lambda x: x.reshape(-1, 784, 1),
    "float64": lambda x: x.astype(np.float64),
    "nested lists": lambda x: x.tolist(),
}


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("kind", KINDS)
def test_every_shape_of_the_same_examples_gets_the_same_answer(nets, evaluation, kind, shape):
    net, x = nets[kind], evaluation[0][:7]
    np.testing.assert_array_equal(net.predict(SHAPES[shape](x)), net.predict(x))
    np.testing.assert_array_equal(net.predict_proba(SHAPES[shape](x)), net.predict_proba(x))


def _pixels(change):
    def make(x):
        x = x.copy()
        change(x)
        return x
    return make


BAD_X = {  # X -> the start of the one-line ValueError
    "one example, not a batch": (lambda x: x[0], r"X has shape \(784,\); .*X.reshape\(1, -1\)"),
    "no examples": (lambda x: x[:0], r"X is empty; give at least one example"),
    "783 values each": (lambda x: x[:, :783], r"inputs have 783 values each, .* give inputs of width 784"),
    "colour images": (lambda x: np.repeat(x.reshape(-1, 28, 28, 1), 3, axis=3),
                      r"each example of X \(7, 28, 28, 3\) holds 2352 values, .* takes 784"),
    "pixels 0..255": (lambda x: x * 255, r"divide pixels 0..255 by 255"),
    "a NaN": (_pixels(lambda x: x.__setitem__((2, 100), np.nan)), r"inputs contain NaN or infinity"),
    "negative values": (lambda x: x - 0.5, r"rescale them to \[0, 1\]"),
    "words": (lambda x: [["a", "b"]], r"expected an array of numbers"),
    "paths mixed with arrays": (lambda x: ["seven.png", x[0]], r"expected an array of numbers"),
}


@pytest.mark.parametrize("case", BAD_X)
@pytest.mark.parametrize("method", ["predict", "predict_proba"])
def test_inputs_it_cannot_classify_are_refused_in_one_line(nets, evaluation, case, method):
    make, message = BAD_X[case]
    with pytest.raises(ValueError, match=rf"^{method} input: .*{message}") as caught:
        getattr(nets["network2"], method)(make(evaluation[0][:7]))
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("kind", KINDS)
def test_score_takes_labels_one_hot_rows_and_the_books_one_hot_columns(nets, evaluation, kind):
    net, (x, y) = nets[kind], evaluation
    one_hot = np.eye(10)[y]
    expected = net.score(x, y)
    for targets in (one_hot, one_hot[:, :, None], y.astype(np.float64), list(y)):
        assert net.score(x, targets) == expected


BAD_Y = {  # y for 5 examples -> the one-line ValueError
    "fewer labels": (np.arange(4), r"4 targets for 5 examples; give one label"),
    "a single label": (np.int64(3), r"a single target for 5 examples"),
    "a label out of range": (np.array([0, 1, 2, 3, 10]), r"label 10 is outside the output range"),
    "a fractional label": (np.array([0, 1, 2, 3, 3.5]), r"label 3.5 is not a whole number"),
    "one-hot rows of 9": (np.eye(9)[:5], r"targets have 9 values each but the output layer has 10"),
    "not one-hot": (np.full((5, 10), 0.1), r"target row 0 is .* not one-hot"),
    "words": (np.array(list("abcde")), r"labels must be integers in 0..9"),
}


@pytest.mark.parametrize("case", BAD_Y)
def test_targets_that_are_not_labels_are_refused_in_one_line(nets, evaluation, case):
    y, message = BAD_Y[case]
    with pytest.raises(ValueError, match=rf"^score y: {message}") as caught:
        nets["network"].score(evaluation[0][:5], y)
    assert "\n" not in str(caught.value)


# -- image files --------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def digit_files(tmp_path_factory, evaluation):
    """Five validation digits as grey PNGs, dark ink on white paper, four times MNIST's size."""
    folder = tmp_path_factory.mktemp("digits")
    paths = []
    for i, pixels in enumerate(evaluation[0][:5]):
        levels = 255 - np.round(pixels.reshape(28, 28) * 256).astype(np.uint8)
        paths.append(folder / f"{i}.png")
        Image.fromarray(np.kron(levels, np.ones((4, 4), np.uint8))).save(paths[-1])
    return paths


@pytest.mark.parametrize("kind", KINDS)
def test_image_files_are_prepared_as_dlpy35_predict_prepares_them(nets, evaluation, digit_files, kind):
    net = nets[kind]
    prepared = np.stack([prepare_file(p) for p in digit_files])
    expected = net.predict(prepared)
    np.testing.assert_array_equal(net.predict_files(digit_files), expected)
    np.testing.assert_array_equal(net.predict([str(p) for p in digit_files]), expected)  # paths as X
    np.testing.assert_array_equal(net.predict_files(digit_files[0]), expected[:1])  # one path
    np.testing.assert_array_equal(net.predict_proba(digit_files), net.predict_proba(prepared))
    assert net.score(digit_files, evaluation[1][:5]) == net.score(prepared, evaluation[1][:5])


def test_image_files_are_refused_in_one_line_when_they_cannot_be_read_or_the_network_takes_other_images(
        nets, digit_files, tmp_path):
    (tmp_path / "notes.png").write_text("a shopping list")
    with pytest.raises(ImageError, match=r"notes.png: not an image"):
        nets["network"].predict_files([digit_files[0], tmp_path / "notes.png"])
    with pytest.raises(ImageError, match=r"missing.png: cannot read it"):
        nets["network"].predict_files(tmp_path / "missing.png")
    small = network.Network([64, 5, 10], seed=0, mode="JAX", device="cpu")
    with pytest.raises(ValueError, match=r"^predict input: this network does not take 28x28 images, .*"
                                         r"its input layer has 64 neurons$"):
        small.predict_files(digit_files)
    with pytest.raises(ValueError, match=r"^predict_files: give image files \(paths\), got ndarray"):
        nets["network"].predict_files(np.zeros((2, 784)))


# -- dlpy35.load --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", KINDS)
def test_load_gives_back_each_saved_kind_with_the_same_answers(nets, evaluation, kind, tmp_path):
    net, (x, y) = nets[kind], evaluation
    path = tmp_path / ("network.npz" if kind == "network3" else "network.json")
    net.save(path)
    again = dlpy35.load(path, device="cpu", mode="JAX")
    assert type(again) is (network3.Network if kind == "network3" else network.Network)
    np.testing.assert_array_equal(again.predict(x), net.predict(x))
    np.testing.assert_allclose(again.predict_proba(x), net.predict_proba(x), rtol=1e-6)
    assert again.score(x, y) == net.score(x, y)


def test_load_refuses_what_is_not_a_saved_network_in_one_line(tmp_path):
    (tmp_path / "notes.txt").write_text("a shopping list")
    for name, words in (("missing.json", "no such file"), ("notes.txt", "not a saved dlpy35 network")):
        with pytest.raises(dlpy35.ModelError, match=words) as caught:
            dlpy35.load(tmp_path / name)
        assert "\n" not in str(caught.value)
