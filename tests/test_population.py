"""Populations: network k of a population ends where the same network trained alone ends.

Sigmoid populations are compared with ``network2.Network``, layer populations with
``network3.Network``, each trained alone with the same seed, eta and lambda.
JAX compiles in seconds; the float64 Numba comparison (bit for bit) compiles for
about a minute on a cold cache, once.  In float32 a population's batched (or, with
a shared order, wide) kernels round differently from one network's, and differently
on each CPU, so the float32 comparisons allow :data:`ACROSS_KERNELS`.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from dlpy35 import network2
from dlpy35 import network3 as n3
from dlpy35.engine.layers import ConvPoolLayer, FullyConnectedLayer, ReLU, SoftmaxLayer
from dlpy35.engine.population import (
    LayerPopulation,
    Population,
    PopulationError,
    estimate_bytes,
    per_net,
)
from dlpy35.engine.records import SaturationWarning
from dlpy35.storage import checkpoint

# Float32, a population's kernels against one network's, after 2 epochs on 403 images: the
# largest weight difference measured was 1.19e-6 (shared order; AMD EPYC, AVX-512, and with
# XLA_FLAGS=--xla_cpu_max_isa=AVX2 or OPENBLAS_CORETYPE=Sandybridge), 1.46e-6 with
# --xla_cpu_max_isa=SSE4_2, and an Intel Xeon's CI saw 1.8e-6; 10x margin.  A wrong order or
# another network's weights differ by 0.3-0.4 (measured in the sigmoid tests), far above.
ACROSS_KERNELS = dict(rtol=1e-5, atol=2e-5)


def assert_counts_close(got, want):
    """Each epoch's evaluation count within one image of the network alone's.

    Measured equal everywhere above, but in the two sigmoid tests the outputs differ by up to
    1.3e-6 and the smallest top-2 output margin among the 200 images was 4.3e-5: another CPU's
    rounding may flip one.  Their three networks differ from one another by 2 to 40 images per
    epoch (measured), so one network's history given for another's still fails.
    """
    assert len(got) == len(want) and all(abs(a - b) <= 1 for a, b in zip(got, want)), (got, want)


@pytest.fixture(scope="module")
def digits(mnist):
    """A slice of real MNIST: 403 training rows (a short last mini-batch of 3), 200 validation rows."""
    (tx, ty), (vx, vy), _ = mnist
    return (tx[:403], ty[:403]), (vx[:200], vy[:200])


def test_network_k_equals_the_same_network_alone_bit_for_bit_float64_numba(digits):
    """Cross-entropy, L2 with three lambdas, float64 on Numba: the same bits.

    One call per mini-batch (``epoch_mode="step"``) and no evaluation: the fewest
    functions for Numba's cold compile, which takes minutes for a scan.  The
    evaluations are compared in the JAX tests below.
    """
    seeds, etas, lmbdas = [3, 1, 2], [0.5, 1.0, 0.25], [2.0, 5.0, 0.5]
    x, y = digits[0][0][:400], digits[0][1][:400]
    pop = Population([784, 20, 10], seeds, etas, lmbdas, cost="cross-entropy", weight_init="default",
                     dtype="float64", mode="NUMBA", device="cpu", epoch_mode="step")
    pop.SGD((x, y), 2, 10)
    for k in range(3):
        net = network2.Network([784, 20, 10], seed=seeds[k], dtype="float64", mode="NUMBA", device="cpu",
                               epoch_mode="step")
        net.SGD((x, y), 2, 10, etas[k], lmbda=lmbdas[k], verbose=False)
        for a, b in zip(net.trainer.values(), pop.trainer.net_values(k)):
            np.testing.assert_array_equal(a, b)


def test_network_k_equals_the_same_network_alone_float32_jax(digits):
    """Quadratic cost, N(0, 1) weights, one eta, three lambdas (L1): within float32's rounding."""
    seeds, etas, lmbdas = [0, 7, 9], [3.0, 3.0, 3.0], [0.1, 1.0, 3.0]
    pop = Population([784, 20, 10], seeds, etas, lmbdas, reg="l1", mode="JAX", device="cpu")
    histories = pop.SGD(digits[0], 2, 10, digits[1])
    for k in range(3):
        net = network2.Network([784, 20, 10], seed=seeds[k], mode="JAX", device="cpu", weight_init="large",
                               cost="quadratic")
        net.SGD(digits[0], 2, 10, etas[k], lmbda=lmbdas[k], reg="l1", evaluation_data=digits[1],
                monitor_evaluation_accuracy=True, verbose=False)
        for a, b in zip(net.trainer.values(), pop.trainer.net_values(k)):
            np.testing.assert_allclose(b, a, **ACROSS_KERNELS)
        assert_counts_close([h["evaluation_correct"] for h in histories[k]],
                            net.history["evaluation_accuracy"])
    assert len({h[-1]["evaluation_correct"] for h in histories}) > 1  # the nets are different nets


def test_a_shared_order_population_trains_each_network_on_network_0s_order(digits):
    """order="shared": network k starts from seed k's weights and follows network 0's shuffles.

    It ends where the network of seed k ends alone when it shuffles with network
    0's generator (L2, three lambdas, float32 JAX: within float32's rounding).
    """
    seeds, lmbdas = [4, 0, 9], [0.1, 1.0, 3.0]
    pop = Population([784, 20, 10], seeds, 3.0, lmbdas, mode="JAX", device="cpu", order="shared")
    histories = pop.SGD(digits[0], 2, 10, digits[1])
    network0 = network2.Network([784, 20, 10], seed=seeds[0], mode="JAX", device="cpu", cost="quadratic",
                                weight_init="large")
    for k in range(3):
        net = network2.Network([784, 20, 10], seed=seeds[k], mode="JAX", device="cpu", weight_init="large",
                               cost="quadratic")
        net.rng.bit_generator.state = network0.rng.bit_generator.state
        net.SGD(digits[0], 2, 10, 3.0, lmbda=lmbdas[k], evaluation_data=digits[1],
                monitor_evaluation_accuracy=True, verbose=False)
        for a, b in zip(net.trainer.values(), pop.trainer.net_values(k)):
            np.testing.assert_allclose(b, a, **ACROSS_KERNELS)
        assert_counts_close([h["evaluation_correct"] for h in histories[k]],
                            net.history["evaluation_accuracy"])


def test_a_population_refuses_an_unknown_order():
    with pytest.raises(PopulationError, match="order must be one of \\('own', 'shared'\\), got 'mine'"):
        Population([784, 20, 10], [0, 1], 3.0, order="mine", mode="JAX", device="cpu")


def conv_layers(p):
    return [ConvPoolLayer((4, 1, 5, 5), (1, 28, 28), (2, 2), ReLU),
            FullyConnectedLayer(4 * 12 * 12, 20, ReLU, p_dropout=p), SoftmaxLayer(20, 10, p_dropout=p)]


@pytest.mark.parametrize("order, p", [("own", 0.5), ("shared", 0.5), ("shared", 0.0)])
def test_layer_population_equals_each_network_alone(digits, order, p):
    """Conv + pool, dropout `p`, per-network eta and lambda: float32 JAX.

    Own orders: each network's own shuffles and masks.  A shared order: network
    0's, which network k alone follows when it shuffles with network 0's generator
    (without dropout, its compiled step has no key to fix the mini-batch size).
    """
    seeds, etas, lmbdas = [0, 1, 2], [0.1, 0.05, 0.03], [0.0, 0.1, 1.0]
    pop = LayerPopulation(conv_layers(p), 10, seeds, etas, lmbdas, mode="JAX", device="cpu", order=order)
    histories = pop.SGD(digits[0], 2, digits[1])
    network0 = n3.Network(conv_layers(p), 10, seed=seeds[0], mode="JAX", device="cpu")
    for k in range(3):
        net = n3.Network(conv_layers(p), 10, seed=seeds[k], mode="JAX", device="cpu")
        if order == "shared":
            net.rng.bit_generator.state = network0.rng.bit_generator.state
        net.SGD(digits[0], 2, 10, etas[k], digits[1], lmbda=lmbdas[k], verbose=False)
        for a, b in zip(net.trainer.values(), pop.trainer.net_values(k)):
            np.testing.assert_allclose(b, a, **ACROSS_KERNELS)
        assert_counts_close([h["validation_correct"] for h in histories[k]],
                            [r.evaluations["validation"].correct for r in net.records])
    votes = pop.predict(digits[1][0])
    assert votes.shape == (3, 200)
    np.testing.assert_array_equal(pop.vote(digits[1][0]),
                                  n3.ensemble_predict([_Fixed(v) for v in votes], digits[1][0]))


class _Fixed:
    """A voter that answers fixed labels."""

    def __init__(self, labels):
        self.labels = labels

    def predict(self, x):
        return self.labels


def test_one_network_diverging_does_not_stop_the_others(digits):
    """eta 1e30 overflows network 1 in epoch 0; it keeps its initial weights, the others train on."""
    pop = Population([784, 20, 10], [0, 1, 2], [0.5, 1e30, 0.5], mode="JAX", device="cpu")
    pop.SGD(digits[0], 2, 10, digits[1])
    assert pop.diverged == [None, 0, None]
    assert [len(h) for h in pop.histories] == [2, 0, 2]
    initial = Population([784, 20, 10], [1], 0.5, mode="JAX", device="cpu")
    initial.trainer = initial._make_trainer(10)
    for a, b in zip(pop.trainer.net_values(1), initial.trainer.net_values(0)):
        np.testing.assert_array_equal(a, b)
    assert all(np.all(np.isfinite(v)) for v in pop.trainer.values())


def test_a_saturated_network_is_named_once_and_the_others_are_not(digits):
    """eta 1e6 pins network 1's sigmoids (finite, so not diverged): one warning naming it, over 3 epochs."""
    pop = Population([784, 20, 10], [0, 1, 2], [0.5, 1e6, 0.5], mode="JAX", device="cpu")
    with pytest.warns(SaturationWarning) as caught:
        pop.SGD(digits[0], 3, 10, digits[1])
    said = [str(w.message) for w in caught if issubclass(w.category, SaturationWarning)]
    assert len(said) == 1 and said[0].startswith("network 1: epoch ") and "eta (1e+06)" in said[0]
    assert pop.diverged == [None, None, None]


def test_all_networks_diverging_stops_the_run(digits):
    pop = Population([784, 20, 10], [0, 1], 1e30, mode="JAX", device="cpu")
    pop.SGD(digits[0], 3, 10, digits[1])
    assert pop.diverged == [0, 0]
    assert pop.trainer.diverged == [0, 0]


def test_network_k_is_a_network2_network_with_its_weights(digits):
    pop = Population([784, 20, 10], [4, 5], 0.5, cost="cross-entropy", mode="JAX", device="cpu")
    pop.SGD(digits[0], 1, 10)
    net = pop.network(1)
    for a, b in zip(net.trainer.values(), pop.trainer.net_values(1)):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(pop.predict(digits[1][0])[1],
                                  np.argmax(net.feedforward(digits[1][0].T), axis=0))


def test_network_k_of_a_layer_population_is_a_network3_network_with_its_weights(digits):
    pop = LayerPopulation(conv_layers(0.0), 10, [3, 4], [0.1, 0.05], mode="JAX", device="cpu")
    untrained = pop.network(1)
    pop.SGD(digits[0], 1)
    net = pop.network(1)
    assert isinstance(net, n3.Network) and net.mini_batch_size == 10
    for a, b in zip(net.trainer.values(), pop.trainer.net_values(1)):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(untrained.trainer.values()[0], net.trainer.values()[0])  # trained since
    np.testing.assert_array_equal(net.predict(digits[1][0]), pop.predict(digits[1][0])[1])
    again = pop.network(1)  # its seed makes training it further repeatable
    for n in (net, again):
        n.SGD(digits[0], 1, 10, 0.1, verbose=False)
    for a, b in zip(net.trainer.values(), again.trainer.values()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("kwargs, message", [
    ({"seeds": []}, "a population needs at least one network"),
    ({"etas": [0.5, 1.0]}, "etas: 2 values for 3 networks; give one value, or one per network"),
    ({"lmbdas": [0.1, 0.2, 0.3, 0.4]}, "lmbdas: 4 values for 3 networks"),
    ({"etas": -1.0}, "eta (the learning rate) must be a finite number > 0"),
    ({"seeds": [0, -1, 2]}, "seed must be an integer in >= 0, got -1"),
])
def test_bad_populations_are_refused_in_one_line(kwargs, message):
    settings = {"seeds": [0, 1, 2], "etas": 0.5, "lmbdas": 0.0, **kwargs}
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Population([784, 20, 10], settings["seeds"], settings["etas"], settings["lmbdas"], mode="JAX",
                   device="cpu")


@pytest.mark.parametrize("share, fix", [(0.5, "train at most 25 networks per population"),
                                        (0.001, "not one network fits; free memory on the device or train on "
                                                "another")])
def test_a_population_too_large_for_the_device_is_refused_before_allocating(digits, monkeypatch, share, fix):
    pop = Population([784, 20, 10], list(range(64)), 0.5, mode="JAX", device="cpu")
    need = estimate_bytes(pop.model, 64, max(10, pop._eval_chunk()), 4)  # the evaluation chunk's rows
    monkeypatch.setattr(type(pop.device), "memory_bytes", lambda self: int(need * share))
    want = r"a population of 64 networks needs about .* GiB, more than 80% of the .* GiB free on the cpu; "
    with pytest.raises(PopulationError, match=want + fix + "$"):  # 25: 80% of need / 2 in 64ths of need
        pop.SGD(digits[0], 1, 10)
    assert pop.trainer is None


def test_sgd_reports_each_epoch_and_refuses_a_bad_mini_batch_size(digits):
    pop = Population([784, 20, 10], [0, 1], [0.5, 3.0], mode="JAX", device="cpu")
    with pytest.raises(ValueError, match=r"^mini_batch_size must be an integer in 1..403, got 0"):
        pop.SGD(digits[0], 1, 0)
    seen = []
    histories = pop.SGD(digits[0], 2, 10, digits[1], on_epoch=seen.append)
    assert [r.epoch for r in seen] == [0, 1] and [r.eta for r in seen] == [[0.5, 3.0]] * 2
    for k in range(2):
        assert [r.records[k].evaluations["evaluation"].correct for r in seen] == [
            h["evaluation_correct"] for h in histories[k]]


def test_widths_count_each_layers_values_per_row_patches_included():
    """conv 3 maps of 2 channels, 3x3 filters on 6x6 (4x4 outputs), pool 2x2 -> FC 12 -> softmax 5."""
    from dlpy35.engine.layers import LayerStack

    stack = LayerStack([ConvPoolLayer((3, 2, 3, 3), (2, 6, 6), (2, 2)), FullyConnectedLayer(12, 7),
                        SoftmaxLayer(7, 5)], 10)
    assert stack.widths() == [16 * 2 * 9, 16 * 3, 12, 7, 5]  # patches, maps before pooling, inputs, outputs
    assert Population([4, 3, 2], [0], 0.5, mode="JAX", device="cpu").model.widths() == [4, 3, 2]


def test_per_net_broadcasts_one_value_and_checks_lengths():
    assert per_net(0.5, 3, "etas") == [0.5, 0.5, 0.5]
    assert per_net([1, 2], 2, "etas") == [1, 2]
    with pytest.raises(PopulationError):
        per_net([1, 2], 3, "etas")


# -- checkpoints ------------------------------------------------------------------------------------------
def _small_conv(seeds=(0, 1), order="own", etas=(0.1, 0.05)):
    """Two conv networks with dropout: their masks and shuffles come from the checkpointed generators."""
    layers = [ConvPoolLayer((2, 1, 5, 5), (1, 28, 28), (2, 2), ReLU),
              FullyConnectedLayer(2 * 12 * 12, 10, ReLU, p_dropout=0.5), SoftmaxLayer(10, 10, p_dropout=0.5)]
    return LayerPopulation(layers, 10, list(seeds), list(etas), 0.1, mode="JAX", device="cpu",
                           order=order)


def _without_seconds(histories):
    return [[{k: v for k, v in r.items() if k != "seconds"} for r in mine] for mine in histories]


def _assert_resumes_exactly(make, train, tmp_path):
    """`train(population, epochs, **checkpoint)` 2 epochs straight, and 1 epoch, then a new population
    resumed for 1 more: the same bits, the same histories and diverged networks."""
    straight = make()
    want = train(straight, 2)
    train(make(), 1, checkpoint_dir=tmp_path)
    assert checkpoint.load(tmp_path)[2]["history"]["epoch"] == 1
    resumed = make()
    got = train(resumed, 2, checkpoint_dir=tmp_path, resume=True)
    assert len(straight.trainer.values()) == len(resumed.trainer.values())
    for a, b in zip(straight.trainer.values(), resumed.trainer.values()):
        assert np.array_equal(a, b)
    assert _without_seconds(got) == _without_seconds(want)
    assert resumed.diverged == straight.diverged and resumed.trainer.diverged == straight.diverged
    return resumed


def test_a_resumed_conv_population_ends_as_one_trained_straight(digits, tmp_path):
    """A shared order here (one generator for all); own orders in the command's kill -9 test."""
    _assert_resumes_exactly(lambda: _small_conv(order="shared"),
                            lambda pop, epochs, **keep: pop.SGD(digits[0][:200], epochs, digits[1], **keep),
                            tmp_path)


def test_a_network_diverged_before_the_checkpoint_stays_diverged_after_the_resume(digits, tmp_path):
    """eta 1e30 overflows network 1 in epoch 0; the resumed run neither trains it nor records it."""
    def make():
        return Population([784, 20, 10], [0, 1], [0.5, 1e30], mode="JAX", device="cpu")

    def train(pop, epochs, **keep):
        return pop.SGD(digits[0], epochs, 10, digits[1], **keep)

    pop = _assert_resumes_exactly(make, train, tmp_path)
    assert pop.diverged == [None, 0] and [len(h) for h in pop.histories] == [2, 0]


@pytest.fixture(scope="module")
def conv_checkpoint(digits, tmp_path_factory):
    """A conv population's checkpoint after one epoch."""
    directory = tmp_path_factory.mktemp("population_checkpoint")
    _small_conv().SGD(digits[0][:200], 1, digits[1], checkpoint_dir=directory)
    return directory


@pytest.mark.parametrize("setting, value, change", [
    ("networks", 3, {"seeds": (0, 1, 2), "etas": (0.1, 0.05, 0.05)}),
    ("seeds", r"\[0, 2\]", {"seeds": (0, 2)}),
    ("order", "'shared'", {"order": "shared"}),
    ("eta0", r"\[0.1, 0.1\]", {"etas": (0.1, 0.1)}),
])
def test_a_resume_refuses_a_checkpoint_of_another_population(digits, conv_checkpoint, tmp_path, setting,
                                                             value, change):
    shutil.copytree(conv_checkpoint, tmp_path, dirs_exist_ok=True)
    pop = _small_conv(**change)
    refusal = f"cannot resume: the checkpoint has {setting}=.* but this run has {setting}={value};"
    with pytest.raises(checkpoint.CheckpointError, match=refusal) as caught:
        pop.SGD(digits[0][:200], 2, digits[1], checkpoint_dir=tmp_path, resume=True)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("edit, problem", [
    (lambda meta: meta["history"].pop("diverged"), r"incomplete checkpoint \('diverged'\)"),
    (lambda meta: meta["history"].update(diverged=[None]), r"diverged: expected 2 epochs or nulls"),
])
def test_a_population_checkpoint_without_its_diverged_networks_is_refused(digits, conv_checkpoint, tmp_path,
                                                                          edit, problem):
    weights, biases, meta = checkpoint.load(conv_checkpoint)
    edit(meta)
    checkpoint.save(tmp_path, weights, biases, meta)
    with pytest.raises(checkpoint.CheckpointError, match=problem):
        _small_conv().SGD(digits[0][:200], 2, digits[1], checkpoint_dir=tmp_path, resume=True)


def test_a_population_checkpoint_stacks_every_networks_arrays(digits, conv_checkpoint):
    """Network k's weights and biases at index k, as network k alone would checkpoint them."""
    weights, biases, meta = checkpoint.load(conv_checkpoint)
    assert [w.shape for w in weights] == [(2, 2, 1, 5, 5), (2, 288, 10), (2, 10, 10)]
    assert [b.shape for b in biases] == [(2, 2), (2, 10), (2, 10)]
    assert meta["identity"]["seeds"] == [0, 1] and len(meta["rng"]) == 2 and len(meta["records"]) == 1


def test_a_shared_order_population_of_two_conv_layers_trains_as_its_first_network_alone(digits):
    """The second conv layer's input is each network's own: its reshape compiles on JAX (it did not,
    with a reshape of -1 rows), and network 0 ends as alone, up to the kernels' rounding."""
    def layers():
        return [ConvPoolLayer((2, 1, 5, 5), (1, 28, 28), (2, 2), ReLU),
                ConvPoolLayer((3, 2, 5, 5), (2, 12, 12), (2, 2), ReLU), SoftmaxLayer(3 * 4 * 4, 10)]

    pop = LayerPopulation(layers(), 10, [0, 1], 0.1, mode="JAX", device="cpu", order="shared")
    pop.SGD(digits[0][:100], 1)
    net = n3.Network(layers(), 10, seed=0, mode="JAX", device="cpu")
    net.SGD(digits[0][:100], 1, 10, 0.1, verbose=False)
    for a, b in zip(net.trainer.values(), pop.trainer.net_values(0)):
        np.testing.assert_allclose(b, a, **ACROSS_KERNELS)


def test_a_shared_order_population_of_a_fully_connected_first_layer_equals_each_network_alone(digits):
    """Its first layer's K matmuls of the shared input (dlpy35.engine.rewrites), dropout on: network k ends as
    the network of seed k alone on network 0's shuffles and masks, up to the kernels' rounding."""
    def layers():
        return [FullyConnectedLayer(784, 20, ReLU, p_dropout=0.5), SoftmaxLayer(20, 10, p_dropout=0.5)]

    pop = LayerPopulation(layers(), 10, [0, 1], [0.1, 0.05], mode="JAX", device="cpu", order="shared")
    histories = pop.SGD(digits[0], 2, digits[1])
    network0 = n3.Network(layers(), 10, seed=0, mode="JAX", device="cpu")
    for k, eta in enumerate([0.1, 0.05]):
        net = n3.Network(layers(), 10, seed=k, mode="JAX", device="cpu")
        net.rng.bit_generator.state = network0.rng.bit_generator.state
        net.SGD(digits[0], 2, 10, eta, digits[1], verbose=False)
        for a, b in zip(net.trainer.values(), pop.trainer.net_values(k)):
            np.testing.assert_allclose(b, a, **ACROSS_KERNELS)
        assert_counts_close([h["validation_correct"] for h in histories[k]],
                            [r.evaluations["validation"].correct for r in net.records])
