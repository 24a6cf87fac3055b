"""The book's own examples, written out from its text, run through dlpy35 with only their imports changed.

Each chapter-6 example of the book trains its network for one epoch on a slice (the book's
runs are 40-60 epochs on all 50,000 images); chapters 1 and 3 likewise.  The scripts are
the book's words: ``load_data_shared()``, keyword arguments, ``net.SGD(...)`` with the
book's positional order.
"""

from __future__ import annotations

import gzip
import pickle
import re
import textwrap

import numpy as np
import pytest

# The book's chapter-6 session, as its text gives it, with `import network3` pointed at dlpy35 and
# the three sets cut to a slice after loading. {epochs} stands for the book's 60 (or 40).
CHAPTER6 = """
from dlpy35 import network3
from dlpy35.network3 import Network
from dlpy35.network3 import ConvPoolLayer, FullyConnectedLayer, SoftmaxLayer
training_data, validation_data, test_data = network3.load_data_shared()
training_data, validation_data, test_data = ((x[:{n}], y[:{n}]) for x, y in (training_data, validation_data,
                                                                            test_data))
mini_batch_size = 10
"""

NETWORKS = {
    "fc": """
net = Network([
    FullyConnectedLayer(n_in=784, n_out=100),
    SoftmaxLayer(n_in=100, n_out=10)], mini_batch_size)
net.SGD(training_data, {epochs}, mini_batch_size, 0.1, validation_data, test_data)
""",
    "conv1": """
net = Network([
    ConvPoolLayer(image_shape=(mini_batch_size, 1, 28, 28),
                  filter_shape=(20, 1, 5, 5),
                  poolsize=(2, 2)),
    FullyConnectedLayer(n_in=20*12*12, n_out=100),
    SoftmaxLayer(n_in=100, n_out=10)], mini_batch_size)
net.SGD(training_data, {epochs}, mini_batch_size, 0.1, validation_data, test_data)
""",
    "conv2-relu": """
from dlpy35.network3 import ReLU
net = Network([
    ConvPoolLayer(image_shape=(mini_batch_size, 1, 28, 28),
                  filter_shape=(20, 1, 5, 5),
                  poolsize=(2, 2),
                  activation_fn=ReLU),
    ConvPoolLayer(image_shape=(mini_batch_size, 20, 12, 12),
                  filter_shape=(40, 20, 5, 5),
                  poolsize=(2, 2),
                  activation_fn=ReLU),
    FullyConnectedLayer(n_in=40*4*4, n_out=100, activation_fn=ReLU),
    SoftmaxLayer(n_in=100, n_out=10)], mini_batch_size)
net.SGD(training_data, {epochs}, mini_batch_size, 0.03, validation_data, test_data, lmbda=0.1)
""",
    "dropout": """
from dlpy35.network3 import ReLU
net = Network([
    ConvPoolLayer(image_shape=(mini_batch_size, 1, 28, 28),
                  filter_shape=(20, 1, 5, 5),
                  poolsize=(2, 2),
                  activation_fn=ReLU),
    ConvPoolLayer(image_shape=(mini_batch_size, 20, 12, 12),
                  filter_shape=(40, 20, 5, 5),
                  poolsize=(2, 2),
                  activation_fn=ReLU),
    FullyConnectedLayer(
        n_in=40*4*4, n_out=1000, activation_fn=ReLU, p_dropout=0.5),
    FullyConnectedLayer(
        n_in=1000, n_out=1000, activation_fn=ReLU, p_dropout=0.5),
    SoftmaxLayer(n_in=1000, n_out=10, p_dropout=0.5)],
    mini_batch_size)
net.SGD(training_data, {epochs}, mini_batch_size, 0.03, validation_data, test_data)
""",
}


def run_script(text, capsys):
    """Execute a script of the book's; ``(its variables, what it printed)``."""
    variables = {}
    exec(compile(textwrap.dedent(text), "<the book's script>", "exec"), variables)  # noqa: S102
    return variables, capsys.readouterr().out


@pytest.mark.parametrize("name", list(NETWORKS))
def test_chapter6_examples_run_as_the_book_writes_them(name, capsys, mnist_dir):
    variables, out = run_script(CHAPTER6.format(n=300) + NETWORKS[name].format(epochs=1), capsys)
    net, (tx, ty) = variables["net"], variables["test_data"]
    # The book's lines, and the test accuracy it prints is the network's own on the test images.
    assert "Training mini-batch number 0" in out and "Finished training network." in out
    printed = float(re.search(r"The corresponding test accuracy is ([\d.]+)%", out)[1])
    assert printed == pytest.approx(100 * net.accuracy((tx, ty)), abs=0.005)
    assert variables["network3"].size(variables["training_data"]) == 300


def test_load_data_shared_reads_the_book_s_expanded_pickle(tmp_path, mnist, capsys):
    """The book's ``expand_mnist.py`` writes ``../data/mnist_expanded.pkl.gz``, a pickle of three sets."""
    (tx, ty), validation, test = mnist
    expanded = ((np.concatenate([tx[:40]] * 5), np.concatenate([ty[:40]] * 5)), validation, test)
    with gzip.open(tmp_path / "mnist_expanded.pkl.gz", "wb") as f:
        pickle.dump(expanded, f, protocol=2)
    script = CHAPTER6.format(n=50000) + f"""
expanded_training_data, _, _ = network3.load_data_shared("{tmp_path / 'mnist_expanded.pkl.gz'}")
"""
    variables, _ = run_script(script, capsys)
    x, y = variables["expanded_training_data"]
    assert variables["network3"].size(variables["test_data"]) == 10000
    assert variables["network3"].size(variables["expanded_training_data"]) == 200
    assert np.array_equal(x[40:80], tx[:40]) and np.array_equal(y, np.tile(ty[:40], 5))


CHAPTER1_AND_3 = """
from dlpy35 import mnist_loader
training_data, validation_data, test_data = mnist_loader.load_data_wrapper()
training_data = training_data[:{n}]
from dlpy35 import network
net = network.Network([784, 30, 10])
net.SGD(training_data, 1, 10, 3.0, test_data=test_data)
from dlpy35 import network2
net2 = network2.Network([784, 30, 10], cost=network2.CrossEntropyCost)
net2.large_weight_initializer()
evaluation_cost, evaluation_accuracy, training_cost, training_accuracy = net2.SGD(
    training_data, 1, 10, 0.5, evaluation_data=test_data, lmbda=0.1,
    monitor_evaluation_cost=True, monitor_evaluation_accuracy=True,
    monitor_training_cost=True, monitor_training_accuracy=True)
"""


def test_chapter1_and_3_examples_run_as_the_book_writes_them(capsys, mnist_dir):
    variables, out = run_script(CHAPTER1_AND_3.format(n=1000), capsys)
    net, net2, test = variables["net"], variables["net2"], variables["test_data"]
    first = re.search(r"Epoch 0 : (\d+) / 10000", out)
    assert first and int(first[1]) == net.evaluate(test)
    assert variables["evaluation_accuracy"] == [net2.accuracy(test)]
    assert len(variables["training_cost"]) == 1 and variables["training_accuracy"][0] <= 1000


def test_the_book_s_module_functions_and_cost_classes_are_there_with_the_book_s_formulas():
    from dlpy35 import network, network2, network3

    z = np.array([[-2.0], [0.0], [3.0]])
    a, y = np.array([[0.2], [0.7], [0.9]]), np.array([[0.0], [1.0], [0.0]])
    s = 1 / (1 + np.exp(-z))
    for module in (network, network2):
        np.testing.assert_allclose(module.sigmoid(z), s, rtol=1e-15)
        np.testing.assert_allclose(module.sigmoid_prime(z), s * (1 - s), rtol=1e-15)
    assert network2.vectorized_result(7).shape == (10, 1) and network2.vectorized_result(7)[7, 0] == 1.0
    assert network2.vectorized_result(7).sum() == 1.0
    np.testing.assert_allclose(network2.QuadraticCost.fn(a, y), 0.5 * np.sum((a - y) ** 2), rtol=1e-15)
    np.testing.assert_allclose(network2.QuadraticCost.delta(z, a, y), (a - y) * s * (1 - s), rtol=1e-15)
    np.testing.assert_allclose(network2.CrossEntropyCost.fn(a, y),
                               np.sum(-y * np.log(a) - (1 - y) * np.log(1 - a)), rtol=1e-15)
    np.testing.assert_allclose(network2.CrossEntropyCost.delta(z, a, y), a - y, rtol=1e-15)
    for name in ("sigmoid", "tanh", "ReLU", "linear", "ConvPoolLayer", "FullyConnectedLayer", "SoftmaxLayer",
                 "Network", "load_data_shared", "size"):
        assert hasattr(network3, name), name
