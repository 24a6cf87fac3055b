"""``dlpy35 train`` (``scripts/train_gpu.py``) end to end: each flag against the library run it stands for.

Every run trains on a slice of the real MNIST with JAX on the CPU and saves its network;
the reference is ``network2.Network.SGD`` called directly with the same settings, so a
flag that is parsed but not passed on (or passed on wrongly) shows as different weights.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from command_helpers import run_main, script
from PIL import Image

from dlpy35 import network2
from dlpy35.cli import progress

N_TRAIN = 300
BASE = ["--n-train", str(N_TRAIN), "--sizes", "784", "20", "10", "--mode", "JAX", "--device", "cpu",
        "--quiet"]


@pytest.fixture(scope="module")
def train_gpu():
    return script("train_gpu")


def train(train_gpu, capsys, tmp_path, *flags, name="net.json"):
    """Run the script with `flags` and ``--save``; ``(status, stdout, stderr, saved network or None)``."""
    path = tmp_path / name
    status, out, err = run_main(train_gpu.main, [*BASE, *flags, "--save", str(path)], capsys)
    return status, out, err, network2.load(path, mode="JAX", device="cpu") if path.exists() else None


def library_run(mnist, *stages, **options):
    """The same [784, 20, 10] quadratic-cost net trained by ``SGD`` calls, one per ``(epochs, eta)`` stage."""
    (x, y), _, test = mnist
    net = network2.Network([784, 20, 10], cost="quadratic", seed=0, mode="JAX", device="cpu",
                           weight_init="large")
    accuracies = []
    for epochs, eta in stages:
        _, acc, _, _ = net.SGD((x[:N_TRAIN], y[:N_TRAIN]), epochs, 10, eta, evaluation_data=test,
                               monitor_evaluation_accuracy=True, verbose=False, **options)
        accuracies += acc
        if net.history["stopped"]:
            break
    return net, accuracies


def printed_accuracies(out):
    return [int(a) for a in re.findall(r"^Epoch \d+ : (\d+) / 10000", out, flags=re.M)]


def same_weights(a, b):
    return all(np.array_equal(p, q) for p, q in zip([*a.weights, *a.biases], [*b.weights, *b.biases]))


@pytest.mark.parametrize("flags, stages, options", [
    (["--epochs", "2", "--eta", "3.0", "--then", "2", "0.5"], [(2, 3.0), (2, 0.5)], {}),
    (["--epochs", "10", "--eta", "3.0", "--early-stopping", "1"], [(10, 3.0)], {"early_stopping_n": 1}),
    (["--epochs", "10", "--eta", "3.0", "--lr-schedule", "1"], [(10, 3.0)], {"lr_schedule_n": 1}),
], ids=["then", "early-stopping", "lr-schedule"])
def test_a_flag_gives_the_network_of_the_library_call_it_stands_for(train_gpu, capsys, tmp_path, mnist, flags,
                                                                     stages, options):
    status, out, err, saved = train(train_gpu, capsys, tmp_path, *flags)
    assert status == 0, err
    want, accuracies = library_run(mnist, *stages, **options)
    assert same_weights(saved, want)
    assert printed_accuracies(out) == accuracies
    plain, plain_acc = library_run(mnist, (sum(e for e, _ in stages), stages[0][1]))
    assert not same_weights(want, plain), "the flag changed nothing here: the test would be vacuous"
    if options:  # the book's rule with n = 1 acts after the first epoch that does not improve on the best
        flat = next(i for i in range(1, len(plain_acc)) if plain_acc[i] <= max(plain_acc[:i]))
        assert accuracies[:flat + 1] == plain_acc[:flat + 1]
    if options.get("early_stopping_n"):  # ... stopping there
        assert len(accuracies) == flat + 1 and "Early stopping: no improvement" in out
    if options.get("lr_schedule_n"):  # ... halving eta for the epochs after it
        assert len(accuracies) == 10 and accuracies[flat + 1:] != plain_acc[flat + 1:]


class InterruptInEpoch1(progress.EpochBar):
    """The epoch bar, raising KeyboardInterrupt (as Ctrl-C would) once, part-way through epoch 1."""

    fired = False

    def __call__(self, epoch, done, total):
        if epoch == 1 and done > 0 and not InterruptInEpoch1.fired:
            InterruptInEpoch1.fired = True
            raise KeyboardInterrupt
        super().__call__(epoch, done, total)


def test_ctrl_c_then_resume_ends_bit_identical_to_an_uninterrupted_run(train_gpu, capsys, tmp_path,
                                                                        monkeypatch):
    flags = ["--epochs", "3", "--eta", "3.0", "--lmbda", "0.5", "--cost", "cross-entropy"]
    status, out, err, whole = train(train_gpu, capsys, tmp_path, *flags, "--checkpoint-dir",
                                    str(tmp_path / "a"), name="whole.json")
    assert status == 0, err
    with monkeypatch.context() as mp:
        mp.setattr(progress, "EpochBar", InterruptInEpoch1)
        status, first, err, _ = train(train_gpu, capsys, tmp_path, *flags, "--checkpoint-dir",
                                      str(tmp_path / "b"), name="never.json")
    assert status == 130 and "interrupted after 1 epochs" in err and "--resume" in err, err
    assert not (tmp_path / "never.json").exists()
    status, rest, err, resumed = train(train_gpu, capsys, tmp_path, *flags, "--checkpoint-dir",
                                       str(tmp_path / "b"), "--resume", name="resumed.json")
    assert status == 0, err
    assert same_weights(resumed, whole)
    assert printed_accuracies(first) + printed_accuracies(rest) == printed_accuracies(out)
    assert len(printed_accuracies(out)) == 3


def test_plot_is_a_png_with_the_curves_drawn(train_gpu, capsys, tmp_path):
    png = tmp_path / "curves.png"
    status, out, err, _ = train(train_gpu, capsys, tmp_path, "--epochs", "3", "--eta", "3.0", "--monitor",
                                "--plot", str(png))
    assert status == 0, err
    assert f"plot: {png}" in out
    with Image.open(png) as im:
        assert im.format == "PNG"
        width, height = im.size
        pixels = np.asarray(im.convert("RGB")).astype(int)
    assert 600 <= width <= 3000 and 300 <= height <= 2000
    # Curves are drawn in colour: count the pixels whose channels differ (grey axes, text and white do not).
    coloured = (pixels.max(axis=2) - pixels.min(axis=2)) > 60
    assert coloured.sum() > 500, "no curve drawn"
    # ... and they span the plot left to right, not one dot.
    columns = np.flatnonzero(coloured.any(axis=0))
    assert columns.max() - columns.min() > width // 4
