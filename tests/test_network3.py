"""network3: chaining checks, the SGD loop, device residency, dropout streams, save/load, ensembles.

Training tests run with JAX on the CPU (compiles in about a second); the real-data
conv run is marked slow.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import jax
import numpy as np
import pytensor.tensor as pt
import pytest

from dlpy35 import network3 as n3
from dlpy35.engine.ensemble import ensemble_accuracy
from dlpy35.engine.layers import (
    ConvPoolLayer,
    FullyConnectedLayer,
    ReLU,
    SoftmaxLayer,
    dropout,
    noise_table,
    sigmoid,
)
from dlpy35.engine.trainer import TrainingDiverged
from dlpy35.storage import checkpoint
from dlpy35.storage.saved_files import SavedFileError

MB = 10
REPO = Path(__file__).resolve().parents[1]


def small_net(seed=0, p=0.0, epoch_mode="scan", mode="JAX", mb=MB):
    """conv 4x5x5 + pool -> FC 20 (dropout p) -> softmax (dropout p), on 28x28 images."""
    return n3.Network([ConvPoolLayer((4, 1, 5, 5), (mb, 1, 28, 28), (2, 2)),
                       FullyConnectedLayer(4 * 12 * 12, 20, ReLU, p_dropout=p),
                       SoftmaxLayer(20, 10, p_dropout=p)], mb, seed=seed, mode=mode, device="cpu",
                      epoch_mode=epoch_mode)


def synthetic(n, seed=0):
    """Images whose label is written as a bright column block: learnable in one epoch."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 10, n)
    x = rng.random((n, 28, 28), dtype=np.float32) * 0.2
    for k in range(10):
        x[y == k, 4:24, 2 + 2 * k : 4 + 2 * k] += 0.8
    return x.reshape(n, 784), y


@pytest.fixture(scope="module")
def data():
    return synthetic(400), synthetic(100, 1), synthetic(100, 2)


# -- construction ------------------------------------------------------------------------------
@pytest.mark.parametrize("layers, mb, match", [
    ([FullyConnectedLayer(784, 30), SoftmaxLayer(20, 10)], 10,
     r"layer 1 \(SoftmaxLayer\): n_in = 20 but layer 0 \(FullyConnectedLayer\) outputs 30 values"),
    ([ConvPoolLayer((20, 1, 5, 5), (1, 28, 28)), ConvPoolLayer((40, 10, 5, 5), (10, 12, 12)),
      SoftmaxLayer(640, 10)], 10,
     r"layer 1 \(ConvPoolLayer\): image_shape .* = \(10, 12, 12\) "
     r"but layer 0 outputs 20 feature maps of 12x12"),
    ([ConvPoolLayer((20, 1, 5, 5), (1, 28, 28)), FullyConnectedLayer(2000, 100), SoftmaxLayer(100, 10)], 10,
     r"n_in = 2000 but layer 0 \(ConvPoolLayer\) outputs 2880"),
    ([ConvPoolLayer((20, 1, 5, 5), (32, 1, 28, 28)), SoftmaxLayer(2880, 10)], 10,
     r"image_shape\[0\] is 32 but the network's mini_batch_size is 10"),
    ([FullyConnectedLayer(784, 10)], 10, r"the last layer must be a SoftmaxLayer"),
    ([], 10, r"layers must be a non-empty list"),
    ([SoftmaxLayer(784, 10)], 0, r"mini_batch_size must be an integer in >= 1, got 0"),
])
def test_layers_that_do_not_chain_raise(layers, mb, match):
    with pytest.raises(ValueError, match=match):
        n3.Network(layers, mb, device="cpu", mode="JAX")


def test_sgd_mini_batch_size_must_match_the_network(data):
    net = n3.Network([SoftmaxLayer(784, 10)], MB, seed=0, mode="JAX", device="cpu")
    with pytest.raises(ValueError, match="mini_batch_size 20 differs from the network's mini_batch_size 10"):
        net.SGD(data[0], 1, 20, 0.1)


# -- training ------------------------------------------------------------------------------------
def best_iteration(history, n_batches):
    """The book's report: the last mini-batch of the last epoch of highest validation accuracy (its `>=`)."""
    top = max(r["validation_accuracy"] for r in history)
    best = [r["epoch"] for r in history if r["validation_accuracy"] == top][-1]
    return n_batches * (best + 1) - 1


def test_sgd_learns_and_reports_like_the_book(data, capsys):
    train, val, (tx, ty) = data
    test = tx, np.where(np.arange(len(ty)) < 30, (ty + 1) % 10, ty)  # 30 labels wrong: another accuracy
    net = small_net(seed=1)
    history = net.SGD(train, 3, MB, 0.1, val, test)
    out = capsys.readouterr().out
    assert "Epoch 0: validation accuracy" in out and "This is the best validation accuracy to date." in out
    assert "The corresponding test accuracy is" in out and "Finished training network." in out
    assert ([sorted(r) for r in history]
            == [["cost", "epoch", "seconds", "test_accuracy", "validation_accuracy"]] * 3)
    assert history[-1]["validation_accuracy"] > 0.4  # chance is 0.1; measured 0.62
    # The reported accuracies are accuracy() of each set, computed apart (the weights are the last epoch's).
    assert history[-1]["validation_accuracy"] == net.accuracy(val)
    assert history[-1]["test_accuracy"] == net.accuracy(test)
    assert net.accuracy(val) != net.accuracy(test), "equal sets' accuracies would not tell them apart"
    iteration = best_iteration(history, 40)
    best = history[(iteration + 1) // 40 - 1]
    assert net.best == {"validation_accuracy": best["validation_accuracy"], "iteration": iteration,
                        "test_accuracy": best["test_accuracy"]}
    assert f"obtained at iteration {iteration}" in out
    assert f"Corresponding test accuracy of {best['test_accuracy']:.2%}" in out


def test_a_tie_in_validation_accuracy_keeps_the_later_epoch(data):
    """The book's `>=`: of equal validation accuracies, the last epoch's is reported."""
    train, val, test = data
    net = small_net(seed=1)
    net.SGD(train, 1, MB, 0.1, verbose=False)
    history = net.SGD(train, 3, MB, 1e-9, val, test, verbose=False)  # weights barely move: accuracies tie
    assert len({r["validation_accuracy"] for r in history}) == 1
    assert net.best["iteration"] == 3 * 40 - 1


def test_accepts_the_books_list_of_pairs(data):
    """Training pairs (784x1 image, 10x1 one-hot), validation pairs (784x1 image, label).

    As the book's loader gives them.
    """
    (x, y), (vx, vy), _ = data
    one_hot = np.eye(10, dtype=np.float32)[y][:, :, None]
    pairs = list(zip(x[:, :, None], one_hot))
    val_pairs = list(zip(vx[:, :, None], vy))
    nets = [small_net(seed=9) for _ in range(2)]
    h_pairs = nets[0].SGD(pairs, 1, MB, 0.1, val_pairs, verbose=False)
    h_arrays = nets[1].SGD((x, y), 1, MB, 0.1, (vx, vy), verbose=False)
    assert h_pairs[0]["validation_accuracy"] == h_arrays[0]["validation_accuracy"]
    assert n3.size(val_pairs) == n3.size((vx, vy)) == 100


def test_test_accuracy_is_defined_without_validation_or_epochs(data):
    train, val, test = data
    net = small_net()
    history = net.SGD(train, 1, MB, 0.1, test_data=test, verbose=False)
    assert history[0]["validation_accuracy"] is None and history[0]["test_accuracy"] == net.accuracy(test)
    assert net.best == {"validation_accuracy": None, "iteration": None, "test_accuracy": None}
    assert net.SGD(train, 0, MB, 0.1, val, test, verbose=False) == []


def test_cost_includes_the_books_l2_term():
    """Cost = mean log-likelihood + 0.5 lmbda sum(w^2) / num_training_batches (eta tiny: weights fixed)."""
    rng = np.random.default_rng(3)
    x, y = rng.random((2 * MB, 6), dtype=np.float32), rng.integers(0, 3, 2 * MB)
    net = n3.Network([FullyConnectedLayer(6, 5), SoftmaxLayer(5, 3)], MB, seed=4, mode="JAX", device="cpu")
    w0, b0, w1, b1 = net.weights
    w1 = rng.standard_normal(w1.shape).astype(np.float32)  # softmax starts at zero: make its weights count
    net.device.assign(net.params[2], w1)
    history = net.SGD((x, y), 1, MB, 1e-12, lmbda=2.0, verbose=False)
    z = 1 / (1 + np.exp(-(x @ w0 + b0))) @ w1 + b1
    logp = z - z.max(1, keepdims=True)
    logp -= np.log(np.exp(logp).sum(1, keepdims=True))
    want = -logp[np.arange(len(y)), y].mean() + 0.5 * 2.0 * ((w0**2).sum() + (w1**2).sum()) / 2
    assert history[0]["cost"] == pytest.approx(want, rel=1e-5)


def test_scan_and_step_epochs_agree(data):
    train = data[0]
    nets = [small_net(seed=2, epoch_mode=m) for m in ("scan", "step")]
    start = nets[0].weights
    for net in nets:
        net.SGD(train, 1, MB, 0.1, verbose=False)
    for a, b, a0 in zip(*(net.weights for net in nets), start):
        # the same update, in a scan or alone: measured bit-identical (AMD EPYC, AVX-512, and with
        # XLA_FLAGS=--xla_cpu_max_isa=AVX2 or SSE4_2)
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
        assert np.abs(a - a0).max() > 1e-3, "a parameter did not move: equality would be vacuous"


def test_divergence_restores_the_last_good_weights(data):
    net = small_net(seed=3)
    before = net.weights
    with pytest.raises(TrainingDiverged, match="epoch 0"):
        net.SGD(data[0], 1, MB, 1e30, verbose=False)
    for a, b in zip(before, net.weights):
        np.testing.assert_array_equal(a, b)


# -- device residency and dropout ------------------------------------------------------------------------
def test_sgd_copies_nothing_implicitly(data):
    """A whole SGD call, dropout included, runs under jax.transfer_guard("disallow") once compiled."""
    train, val, test = data
    net = small_net(seed=4, p=0.5)
    net.SGD(train, 1, MB, 0.1, val, test, verbose=False)
    with jax.transfer_guard("disallow"):
        history = net.SGD(train, 2, MB, 0.1, val, test, lmbda=0.1, verbose=False)
    assert len(history) == 2
    for var in (*net.params, *net.trainer._train):
        assert isinstance(var.container.storage[0], jax.Array), var.name
    for array in (*net.trainer._sets["validation"], *net.trainer._sets["test"]):
        assert isinstance(array, jax.Array)


def test_dropout_is_reproducible_per_seed(data):
    train = data[0]

    def trained(seed):
        net = small_net(seed=seed, p=0.5)
        net.SGD(train, 1, MB, 0.1, verbose=False)
        return net.weights

    a, b, c = trained(7), trained(7), trained(8)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c))


def _mask(key, salt, p=0.5, rows=MB, width=20):
    noise = (pt.constant(noise_table()), pt.constant(np.int64(key)), rows)
    return dropout(pt.ones((rows, width)), p, noise, salt, width).eval()


def test_each_dropout_layer_has_its_own_stream():
    """Layers of one step (salts 1 and 2) and successive mini-batches (keys) draw different masks."""
    assert small_net(seed=5, p=0.5).model.stochastic and not small_net(seed=5).model.stochastic
    first = _mask(12345, 1)
    assert not np.array_equal(first, _mask(12345, 2))
    assert not np.array_equal(first, _mask(12346, 1))
    np.testing.assert_array_equal(first, _mask(12345, 1))  # a key and a salt fix the mask


@pytest.mark.parametrize("p", [0.2, 0.5, 0.8])
def test_dropout_keeps_each_unit_with_probability_one_minus_p(p):
    """20,000 units of one mask: the kept fraction is within 4 standard deviations of 1 - p."""
    kept = _mask(987654, 3, p, rows=20, width=1000)
    assert set(np.unique(kept)) <= {0.0, 1.0}
    assert abs(kept.mean() - (1 - p)) < 4 * np.sqrt(p * (1 - p) / kept.size)


def test_dropout_changes_training_but_not_the_initial_weights(data):
    plain, dropped = small_net(seed=6), small_net(seed=6, p=0.5)
    assert all(np.array_equal(x, y) for x, y in zip(plain.weights, dropped.weights))
    for net in (plain, dropped):
        net.SGD(data[0], 1, MB, 0.1, verbose=False)
    assert not np.array_equal(plain.weights[2], dropped.weights[2])


@pytest.mark.parametrize("bad, message", [(np.nan, "inputs contain NaN or infinity"),
                                            (255.0, "divide pixels 0..255 by 255")])
def test_predict_refuses_inputs_it_cannot_classify(data, bad, message):
    """NaN or 0..255 pixels would come back as confident wrong labels; they are refused instead."""
    net = small_net(seed=8)
    x = data[1][0][:5].copy()
    x[2, 100] = bad
    with pytest.raises(ValueError, match=f"^predict input: .*{message}"):
        net.predict(x)
    assert net.predict(np.clip(x, 0, 1) if bad == 255.0 else data[1][0][:5]).shape == (5,)


def test_predict_refuses_inputs_of_another_width_naming_them():
    with pytest.raises(ValueError, match=r"^predict input: inputs have 783 values each, but the network's "
                                         r"input layer sizes\[0\] is 784"):
        small_net(seed=8).predict(np.zeros((3, 783), np.float32))


def test_book_progress_prints_every_thousandth_mini_batch_once_and_passes_progress_on(capsys):
    """Epochs of 2,500 mini-batches reported in chunks: lines 0, 1000, ... each once, in order."""
    seen = []
    report = n3._book_progress(lambda *a: seen.append(a))
    for epoch in range(2):
        for done in (500, 1250, 2500):
            report(epoch, done, 2500)
    lines = capsys.readouterr().out.splitlines()
    assert lines == [f"Training mini-batch number {n}" for n in range(0, 5000, 1000)]
    assert seen == [(e, d, 2500) for e in range(2) for d in (500, 1250, 2500)]


def test_book_progress_of_a_resumed_run_counts_on_from_where_it_resumed(capsys):
    report = n3._book_progress(None)
    report(1, 1000, 2500)  # resumed at epoch 1: 2,500 mini-batches were trained before this run
    report(1, 2500, 2500)
    assert capsys.readouterr().out.splitlines() == ["Training mini-batch number 3000",
                                                     "Training mini-batch number 4000"]


# -- save / load -------------------------------------------------------------------------------
def test_save_load_round_trip(tmp_path, data):
    train, val, _ = data
    net = small_net(seed=8, p=0.25)
    net.SGD(train, 1, MB, 0.1, verbose=False)
    path = tmp_path / "net.npz"
    net.save(path)
    again = n3.load(path, mode="JAX", device="cpu")
    assert [layer.spec() for layer in again.layers] == [layer.spec() for layer in net.layers]
    assert again.mini_batch_size == MB and again.layers[1].activation_fn is ReLU
    for a, b in zip(net.weights, again.weights):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(again.predict(val[0]), net.predict(val[0]))
    assert not list(tmp_path.glob(".*tmp"))


def test_a_weight_beyond_the_files_dtype_is_refused_naming_it(tmp_path):
    """A float32 network whose file holds a float64 weight of 1e39: it would load as inf."""
    path = tmp_path / "net.npz"
    small_net(seed=8).save(path)
    with np.load(path) as f:
        arrays = dict(f)
    arrays["p2"] = arrays["p2"].astype(np.float64)
    arrays["p2"][0, 0] = 1e39
    np.savez(path, **arrays)
    with pytest.raises(SavedFileError, match="p2 holds values that are not finite in float32"):
        n3.load(path, mode="JAX", device="cpu")


@pytest.mark.parametrize("content", [b"not a zip", b"PK\x03\x04 truncated", '{"format": "other"}', "[1, 2]",
                                     '{"format": "dlpy35.network3", "layers": [{"type": "Nope"}]}'])
def test_bad_files_raise_one_line_value_errors(tmp_path, content):
    path = tmp_path / "bad.npz"
    if isinstance(content, str):  # a valid npz that isn't a network
        np.savez(path, spec=np.array(content))
    else:
        path.write_bytes(content)
    with pytest.raises(ValueError, match=r"bad\.npz: not a dlpy35 network3 file") as info:
        n3.load(path, mode="JAX", device="cpu")
    assert "\n" not in str(info.value)


# -- ensembles -------------------------------------------------------------------------------------------
class Voter:
    def __init__(self, labels):
        self.labels = np.asarray(labels)

    def predict(self, x):
        return self.labels


def test_ensemble_plurality_vote_breaks_ties_to_the_lowest_label():
    nets = [Voter([1, 2, 3, 9, 0]), Voter([1, 5, 3, 8, 4]), Voter([2, 5, 4, 7, 6])]
    x = np.zeros((5, 784))
    np.testing.assert_array_equal(n3.ensemble_predict(nets, x), [1, 5, 3, 7, 0])
    assert n3.ensemble_accuracy(nets, (x, np.array([1, 5, 4, 7, 6]))) == pytest.approx(0.6)
    with pytest.raises(ValueError, match="at least one network"):
        n3.ensemble_predict([], x)


def test_ensemble_accuracy_is_the_share_of_labels_the_vote_gets_right():
    class Voter:
        def __init__(self, labels):
            self.labels = np.array(labels)

        def predict(self, x):
            assert len(x) == 4  # the data's inputs reach every voter
            return self.labels

    voters = [Voter([0, 1, 2, 3]), Voter([0, 1, 1, 3]), Voter([1, 1, 2, 0])]  # the vote: 0, 1, 2, 3
    assert ensemble_accuracy(voters, (np.zeros((4, 784)), [0, 1, 1, 3])) == 0.75
    voters.append(Voter([3.0, 1.0, 1.0, 3.0]))  # labels as floats count as the integers they are
    np.testing.assert_array_equal(n3.ensemble_predict(voters, np.zeros((4, 784))), [0, 1, 1, 3])


def test_ensemble_of_real_networks(data):
    train, val, _ = data
    nets = [small_net(seed=s) for s in (10, 11, 12)]
    for net in nets:
        net.SGD(train, 1, MB, 0.1, verbose=False)
    votes = n3.ensemble_predict(nets, val[0])
    preds = np.stack([net.predict(val[0]) for net in nets])
    for k in range(len(votes)):
        counts = np.bincount(preds[:, k], minlength=10)
        assert votes[k] == np.argmax(counts)


# -- real data ----------------------------------------------------------------------------------------
@pytest.mark.slow
def test_conv1_learns_real_mnist(mnist):
    """The book's conv1 net, 2,000 training images, six epochs, JAX on the CPU (about 5 s).

    Sigmoid conv1 at eta 0.1 needs a few epochs to leave the plateau: one epoch gave
    15% on the validation set, six gave 86% (seed 0).
    """
    (tx, ty), (vx, vy), _ = mnist
    net = n3.Network([ConvPoolLayer((20, 1, 5, 5), (MB, 1, 28, 28), (2, 2), sigmoid),
                      FullyConnectedLayer(20 * 12 * 12, 100, sigmoid), SoftmaxLayer(100, 10)], MB, seed=0,
                     mode="JAX", device="cpu")
    history = net.SGD((tx[:2000], ty[:2000]), 6, MB, 0.1, (vx, vy), verbose=False)
    assert history[-1]["validation_accuracy"] > 0.75, history


# -- checkpoints and resume ------------------------------------------------------------------------------
EPOCHS = 3


def _trained(tmp, seed=4, epochs=EPOCHS, resume=False, on_epoch=None, p=0.5):
    net = small_net(seed=seed, p=p)
    history = net.SGD(CKPT_DATA[0], epochs, MB, 0.1, CKPT_DATA[1], lmbda=0.1, checkpoint_dir=tmp,
                      resume=resume, on_epoch=on_epoch, verbose=False)
    return net, history


CKPT_DATA = synthetic(200, 3), synthetic(60, 4)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    net, history = _trained(tmp_path_factory.mktemp("n3_uninterrupted"))
    return net.weights, history


def _same(a, b):
    assert len(a) == len(b) and all(x.dtype == y.dtype and np.array_equal(x, y) for x, y in zip(a, b))


def _without_seconds(history):
    return [{k: v for k, v in r.items() if k != "seconds"} for r in history]


def test_ctrl_c_then_resume_in_a_new_network_is_bit_identical(uninterrupted, tmp_path):
    """Dropout on: the masks of the resumed epochs come from the checkpointed generator alone."""
    def stop_after_epoch_0(record):
        if record["epoch"] == 0:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _trained(tmp_path, on_epoch=stop_after_epoch_0)
    net, history = _trained(tmp_path, resume=True)  # a new network: its weights are the untrained ones
    _same(net.weights, uninterrupted[0])
    assert _without_seconds(history) == _without_seconds(uninterrupted[1])  # resumed epochs included
    assert net.best["iteration"] == best_iteration(history, 200 // MB)


_KILLER = textwrap.dedent("""
    import os, signal, sys
    sys.path.insert(0, sys.argv[2])
    from test_network3 import _trained

    def die(record):
        if record["epoch"] == 1:
            os.kill(os.getpid(), signal.SIGKILL)  # after epoch 1's checkpoint, before epoch 2

    _trained(sys.argv[1], on_epoch=die)
""")


def test_kill_9_then_resume_is_bit_identical(uninterrupted, tmp_path):
    env = {**os.environ,
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    child = subprocess.run([sys.executable, "-c", _KILLER, str(tmp_path), str(REPO / "tests")], env=env,
                           capture_output=True, text=True, timeout=300)
    assert child.returncode == -signal.SIGKILL, child.stderr
    assert checkpoint.load(tmp_path)[2]["history"]["epoch"] == 2
    net, history = _trained(tmp_path, resume=True)
    _same(net.weights, uninterrupted[0])
    assert [r["epoch"] for r in history] == list(range(EPOCHS))


def test_a_verbose_resume_says_where_it_resumes(tmp_path, capsys):
    _trained(tmp_path, epochs=1)
    small_net(seed=4, p=0.5).SGD(CKPT_DATA[0], 2, MB, 0.1, CKPT_DATA[1], lmbda=0.1, checkpoint_dir=tmp_path,
                                  resume=True, verbose=True)
    assert f"resuming from {checkpoint.path_in(tmp_path)} at epoch 1" in capsys.readouterr().out


def test_a_checkpoint_without_the_best_epoch_is_incomplete(tmp_path):
    _trained(tmp_path, epochs=1)
    weights, biases, meta = checkpoint.load(tmp_path)
    del meta["history"]["best"]  # what network3 adds to the trainer's state
    checkpoint.save(tmp_path, weights, biases, meta)
    with pytest.raises(checkpoint.CheckpointError, match=r"incomplete checkpoint \('best'\)"):
        _trained(tmp_path, resume=True)


@pytest.mark.parametrize("key, seed, p, data, lmbda", [
    ("seed", 5, 0.5, CKPT_DATA[0], 0.1),
    ("layers", 4, 0.25, CKPT_DATA[0], 0.1),
    ("lmbda", 4, 0.5, CKPT_DATA[0], 0.2),
    ("n_train", 4, 0.5, (CKPT_DATA[0][0][:150], CKPT_DATA[0][1][:150]), 0.1),
    ("data_digest", 4, 0.5, (CKPT_DATA[0][0][::-1], CKPT_DATA[0][1][::-1]), 0.1),  # same shape, reordered
])
def test_resume_refuses_another_run_naming_the_setting(tmp_path, key, seed, p, data, lmbda):
    _trained(tmp_path, epochs=1)
    net = small_net(seed=seed, p=p)
    with pytest.raises(SavedFileError, match=f"cannot resume: the checkpoint has {key}=.* but this run has "
                                             f"{key}="):
        net.SGD(data, EPOCHS, MB, 0.1, CKPT_DATA[1], lmbda=lmbda, checkpoint_dir=tmp_path, resume=True,
                verbose=False)


def test_resume_refuses_another_networks_checkpoint(uninterrupted, tmp_path):
    _trained(tmp_path, epochs=1)
    other = n3.Network([FullyConnectedLayer(784, 20), SoftmaxLayer(20, 10)], MB, seed=0, mode="JAX",
                       device="cpu")
    before = other.weights
    with pytest.raises(SavedFileError, match="cannot resume: the checkpoint has sizes"):
        other.SGD(CKPT_DATA[0], EPOCHS, MB, 0.1, CKPT_DATA[1], lmbda=0.1, checkpoint_dir=tmp_path,
                  resume=True, verbose=False)
    _same(other.weights, before)


def test_train_conv_picks_the_best_validation_epoch_and_reports_the_test_accuracy_there():
    """Scripted epochs where validation and test disagree: validation's best is epoch 1 (tied by
    epoch 3, the later counts, as the book's ``>=``); test's best is epoch 2 (0.99), never reported."""
    from types import SimpleNamespace

    from dlpy35.engine.records import EpochRecord, Evaluation
    from dlpy35.network3 import BestValidation

    run = SimpleNamespace(n_batches=40, state={"best": {"validation_accuracy": None, "iteration": None,
                                                        "test_accuracy": None}})
    policy = BestValidation(verbose=False)
    for e, (v, t) in enumerate([(90, 80), (95, 85), (94, 99), (95, 88), (93, 70)]):
        policy.after_epoch(None, run, EpochRecord(e, 1.0, 0.1, 0.5, {"validation": Evaluation(v, 100, 1.0),
                                                                      "test": Evaluation(t, 100, 1.0)}))
    assert run.state["best"] == {"validation_accuracy": 0.95, "iteration": 40 * 4 - 1, "test_accuracy": 0.88}
