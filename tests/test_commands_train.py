"""``dlpy35 train`` (``scripts/train_gpu.py``) end to end: each flag against the library run it stands for.

Every run trains on a slice of the real MNIST with JAX on the CPU and saves its network;
the reference is ``network2.Network.SGD`` called directly with the same settings, so a
flag that is parsed but not passed on (or passed on wrongly) shows as different weights.
"""

from __future__ import annotations

import csv
import os
import re
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from command_helpers import ROOT, run_main, script
from PIL import Image

from dlpy35 import network2
from dlpy35.cli import progress
from dlpy35.storage import caches

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
    assert status == 130 and "interrupted after 1 epoch;" in err and "--resume" in err, err
    assert not (tmp_path / "never.json").exists()
    status, rest, err, resumed = train(train_gpu, capsys, tmp_path, *flags, "--checkpoint-dir",
                                       str(tmp_path / "b"), "--resume", name="resumed.json")
    assert status == 0, err
    assert same_weights(resumed, whole)
    assert printed_accuracies(first) + printed_accuracies(rest) == printed_accuracies(out)
    assert len(printed_accuracies(out)) == 3


def test_the_run_names_jax_s_compile_cache_and_what_it_added(train_gpu, capsys, tmp_path):
    status, out, err, _ = train(train_gpu, capsys, tmp_path, "--epochs", "1")
    assert status == 0, err
    assert f"compile cache: {caches.jax_compiles_dir()}\n" in out  # the tests keep compiles, as the command
    state = r"cold: \d+ new cache entries|cached start: nothing recompiled"
    assert re.search(rf"^compile: \d+\.\d\d s \(({state})\)$", out, flags=re.M)


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


# -- --resume continues one run, never a mix of two --------------------------------------------------
def _fake_set(directory, seed):
    """A data set of MNIST's layout: 10,050 training images of 4x4 pixels (the book's split keeps
    10,000 for validation), 40 test images, labels 0-9."""
    from data_helpers import synthetic_mnist, write_dir

    raw, _ = synthetic_mnist(seed, n_train=10_050, n_test=40, side=4)
    return write_dir(directory, raw)


@pytest.fixture(scope="module")
def small_sets(tmp_path_factory):
    """Two data sets of the same shapes and other contents."""
    root = tmp_path_factory.mktemp("sets")
    return _fake_set(root / "a", 1), _fake_set(root / "b", 2)


SMALL = ["--sizes", "16", "8", "10", "--n-train", "50", "--mini-batch-size", "10", "--eta", "1.0", "--seed",
         "0", "--mode", "JAX", "--device", "cpu", "--quiet"]


def command(name, argv, capsys):
    from dlpy35.cli.main import command_main

    return run_main(lambda a: command_main(name, a), argv, capsys)


@pytest.fixture(scope="module")
def checkpointed(small_sets, tmp_path_factory):
    """A checkpoint of one epoch of ``dlpy35 train`` on the first small set."""
    from dlpy35.cli.main import command_main

    directory = tmp_path_factory.mktemp("ck")
    assert command_main("train", [*SMALL, "--dataset", str(small_sets[0]), "--epochs", "1",
                                  "--checkpoint-dir", str(directory)]) == 0
    return directory


# Each setting of the run changed on --resume: (the setting the refusal names, the flags that change it).
RESUME_CHANGES = [
    ("seed", ["--seed", "1"]),
    ("sizes", ["--sizes", "16", "9", "10"]),
    ("cost", ["--cost", "cross-entropy"]),
    ("init", ["--init", "default"]),
    ("eta0", ["--eta", "0.5"]),
    ("lmbda", ["--lmbda", "0.1"]),
    ("reg", ["--reg", "l1"]),
    ("mini_batch_size", ["--mini-batch-size", "5"]),
    ("n_train", ["--n-train", "40"]),
    ("early_stopping_n", ["--early-stopping", "2"]),
    ("lr_schedule_n", ["--lr-schedule", "2"]),
    ("stages", ["--then", "1", "0.1"]),
    ("monitor", ["--monitor"]),
    ("learning_speed", ["--learning-speed", "20"]),
    ("dtype", ["--dtype", "float64", "--mode", "NUMBA"]),
    ("data_digest", ["--evaluation", "validation"]),
    ("data_digest", "the other data set"),
]


@pytest.mark.parametrize("key, flags", RESUME_CHANGES,
                         ids=[f"{k}-{i}" for i, (k, _) in enumerate(RESUME_CHANGES)])
def test_resume_of_another_run_is_refused_naming_the_setting_and_both_values(checkpointed, small_sets, key,
                                                                             flags, capsys, tmp_path):
    from dlpy35.storage import checkpoint

    dataset = small_sets[1] if flags == "the other data set" else small_sets[0]
    flags = [] if flags == "the other data set" else flags
    recorded = checkpoint.load(checkpointed)[2]["identity"][key]
    before = checkpoint.path_in(checkpointed).read_bytes()
    status, out, err = command("train", [*SMALL, "--dataset", str(dataset), "--epochs", "2", *flags,
                                         "--checkpoint-dir", str(checkpointed), "--resume",
                                         "--run-dir", str(tmp_path / "run")], capsys)
    assert status == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert f"cannot resume: the checkpoint has {key}={recorded!r} but this run has {key}=" in err, err
    assert "Epoch" not in out  # nothing trained ...
    assert checkpoint.path_in(checkpointed).read_bytes() == before  # ... nor saved
    assert not (tmp_path / "run" / "args.json").exists()  # and no args.json of a run that did not happen


def test_resume_with_nothing_to_resume_is_refused_before_the_data_loads(tmp_path, capsys):
    for name in ("train", "train-conv"):
        status, out, err = command(name, ["--checkpoint-dir", str(tmp_path / "empty"), "--resume",
                                          "--data-dir", str(tmp_path / "no-data-here")], capsys)
        assert status == 2 and out == "" and len(err.strip().splitlines()) == 1, (name, err)
        assert f"{tmp_path / 'empty'}: no checkpoint to resume (checkpoint.npz is not there)" in err
        assert "--resume" in err and "resume=True" not in err


def test_a_resumed_runs_directory_holds_every_epoch_and_its_best(small_sets, capsys, tmp_path):
    """Ctrl-C after epoch 1 of 3, then --resume: epochs.csv has epochs 0-2, the best line considers all
    three (as the uninterrupted run's), and args.json lists both invocations of the one run."""
    import json

    from dlpy35.storage.tables import read_csv

    run = [*SMALL, "--dataset", str(small_sets[0]), "--epochs", "3", "--eta", "3.0"]
    status, whole, err = command("train", [*run, "--run-dir", str(tmp_path / "whole")], capsys)
    assert status == 0, err
    ck, rd = ["--checkpoint-dir", str(tmp_path / "ck")], ["--run-dir", str(tmp_path / "run")]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(progress, "EpochBar", InterruptInEpoch1)
        InterruptInEpoch1.fired = False
        status, _, err = command("train", [*run, *ck, *rd], capsys)
    assert status == 130, err
    status, rest, err = command("train", [*run, *ck, *rd, "--resume"], capsys)
    assert status == 0, err
    rows, expected = (read_csv(tmp_path / d / "epochs.csv") for d in ("run", "whole"))
    assert [r["epoch"] for r in rows] == ["0", "1", "2"]
    assert [r["evaluation_correct"] for r in rows] == [r["evaluation_correct"] for r in expected]
    best = re.search(r"^best: .*$", whole, flags=re.M)[0]
    assert re.search(r"^best: .*$", rest, flags=re.M)[0] == best
    args = json.loads((tmp_path / "run" / "args.json").read_text())
    assert [i["from_epoch"] for i in args["invocations"]] == [0, 1]
    assert args["identity"]["seed"] == 0 and args["args"]["resume"] is True
    # resuming the finished run trains nothing, and still reports the run's best epoch
    status, again, err = command("train", [*run, *ck, *rd, "--resume"], capsys)
    assert status == 0 and "Epoch" not in again and re.search(r"^best: .*$", again, flags=re.M)[0] == best
    assert read_csv(tmp_path / "run" / "epochs.csv") == rows
    args = json.loads((tmp_path / "run" / "args.json").read_text())
    assert [i["from_epoch"] for i in args["invocations"]] == [0, 1, 3]


CONV = ["--net", "fc", "--n-train", "50", "--seed", "0", "--mode", "JAX", "--device", "cpu", "--quiet"]


@pytest.fixture(scope="module")
def conv_checkpointed(tmp_path_factory, mnist_dir):
    """A checkpoint of one epoch of ``dlpy35 train-conv --net fc`` on MNIST."""
    from dlpy35.cli.main import command_main

    directory = tmp_path_factory.mktemp("conv_ck")
    assert command_main("train-conv", [*CONV, "--epochs", "1", "--checkpoint-dir", str(directory)]) == 0
    return directory


@pytest.mark.parametrize("key, flags", [
    ("seed", ["--seed", "1"]),
    ("sizes", ["--extra-fc"]),
    ("lmbda", ["--lmbda", "0.5"]),
    ("eta0", ["--eta", "0.5"]),
    ("mini_batch_size", ["--mini-batch-size", "5"]),
    ("n_train", ["--n-train", "40"]),
    ("data_digest", "MNIST-shaped other images"),
])
def test_train_conv_resume_of_another_run_is_refused_naming_the_setting(conv_checkpointed, key, flags, capsys,
                                                                         tmp_path):
    from data_helpers import synthetic_mnist, write_dir

    from dlpy35.storage import checkpoint

    if flags == "MNIST-shaped other images":  # 28x28 images, 10 classes, as MNIST's
        flags = ["--dataset", str(write_dir(tmp_path / "other", synthetic_mnist(5, 10_050, 40, 28)[0]))]
    recorded = checkpoint.load(conv_checkpointed)[2]["identity"][key]
    status, out, err = command("train-conv", [*CONV, "--epochs", "2", *flags, "--checkpoint-dir",
                                              str(conv_checkpointed), "--resume"], capsys)
    assert status == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert f"cannot resume: the checkpoint has {key}={recorded!r} but this run has {key}=" in err, err
    assert "epoch 1" not in out


# A train-conv process killed (SIGKILL) once its ensemble's first checkpoint is written.
_KILLED_AFTER_EPOCH_0 = textwrap.dedent("""
    import os, signal, sys
    from dlpy35.cli.main import command_main
    from dlpy35.storage.checkpoint import Checkpoint

    saved = Checkpoint.on_epoch

    def save_then_die(self, trainer, run, record):
        saved(self, trainer, run, record)
        if record.epoch == 0:
            os.kill(os.getpid(), signal.SIGKILL)

    Checkpoint.on_epoch = save_then_die
    command_main("train-conv", sys.argv[1:])
""")


def test_train_conv_ensemble_killed_then_resumed_ends_bit_identical(tmp_path, capsys, mnist_dir):
    """kill -9 after epoch 0 of two networks (own orders), then --resume: every network's weights, the
    histories and the run directory as an uninterrupted run's; a resume as another population is refused."""
    import json

    from dlpy35.storage import checkpoint

    ensemble = [*CONV, "--ensemble", "2", "--epochs", "2"]
    killed, straight = tmp_path / "killed", tmp_path / "straight"
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    child = subprocess.run([sys.executable, "-c", _KILLED_AFTER_EPOCH_0, *ensemble, "--checkpoint-dir",
                            str(killed), "--run-dir", str(killed)], env={**os.environ, "PYTHONPATH": path},
                           capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert child.returncode == -signal.SIGKILL, child.stderr
    assert checkpoint.load(killed)[2]["history"]["epoch"] == 1
    for flags, refusal in ((["--ensemble", "3"], "networks=2 but this run has networks=3"),
                           (["--order", "shared"], "order='own' but this run has order='shared'")):
        argv = [*ensemble, *flags, "--checkpoint-dir", str(killed), "--resume"]
        status, _, err = command("train-conv", argv, capsys)
        assert status == 2 and refusal in err and len(err.strip().splitlines()) == 1, err
    histories, said = {}, {}
    for name, flags in ((killed, ["--resume", "--run-dir", str(killed)]), (straight, [])):
        status, said[name], err = command("train-conv", [*ensemble, "--checkpoint-dir", str(name), *flags,
                                                         "--history", str(name / "h.json")], capsys)
        assert status == 0, err
        runs = json.loads((name / "h.json").read_text())["runs"]
        histories[name] = [[{k: v for k, v in r.items() if k != "seconds"} for r in run["history"]]
                           for run in runs]
    assert f"resuming from {killed / 'checkpoint.npz'} at epoch 1" in said[killed]
    got, want = checkpoint.load(killed), checkpoint.load(straight)
    for a, b in zip([*got[0], *got[1]], [*want[0], *want[1]]):
        assert a.shape[0] == 2 and np.array_equal(a, b)
    assert histories[killed] == histories[straight] and [len(h) for h in histories[killed]] == [2, 2]
    args = json.loads((killed / "args.json").read_text())
    assert [i["from_epoch"] for i in args["invocations"]] == [0, 1] and args["identity"]["seeds"] == [0, 1]
    with open(killed / "epochs.csv") as f:
        rows = sorted((r["net"], r["epoch"]) for r in csv.DictReader(f))
    assert rows == [("0", "0"), ("0", "1"), ("1", "0"), ("1", "1")]  # the epoch before the kill kept
