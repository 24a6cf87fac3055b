"""The training scripts given bad flags: exit 0 or exit 2 with a line naming the problem, never a traceback.

The scripts' ``main(argv)`` runs in this process on a slice of the real MNIST (JAX on the
CPU), so each case costs little; a flag that argparse or the checks refuse exits 2 before
any data is loaded.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
from command_helpers import run_main, script

BAD = ["0", "-1", "nan", "inf", "word"]


@pytest.fixture(scope="module")
def train_gpu():
    return script("train_gpu")


@pytest.fixture(scope="module")
def train_conv():
    return script("train_conv")


def run(module, argv, capsys):
    return run_main(module.main, argv, capsys)


def assert_clean(status, err):
    assert status in (0, 2), err
    assert "Traceback" not in err
    if status == 2:
        lines = err.strip().splitlines()
        assert len(lines) == 1 and ": " in lines[0] and len(lines[0]) > 20, err  # one line naming the problem
        assert "usage:" not in err


GPU_FLAGS = ["--epochs", "--mini-batch-size", "--eta", "--seed", "--n-train", "--lmbda", "--early-stopping",
             "--lr-schedule"]


@pytest.mark.parametrize("value", BAD)
@pytest.mark.parametrize("flag", GPU_FLAGS)
def test_train_gpu_numeric_flags(train_gpu, capsys, flag, value, mnist_dir):
    base = {"--epochs": "1", "--n-train": "50", "--mini-batch-size": "10"}
    argv = [arg for k, v in {**base, flag: value}.items() for arg in (k, v)]
    status, _, err = run(train_gpu, [*argv, "--no-progress", "--mode", "JAX", "--device", "cpu"], capsys)
    assert_clean(status, err)
    if flag in ("--eta", "--n-train", "--mini-batch-size", "--lmbda") and value in ("0", "-1", "nan", "inf"):
        assert status == 2 or (flag == "--lmbda" and value == "0"), err


CONV_FLAGS = ["--epochs", "--mini-batch-size", "--eta", "--lmbda", "--n-train", "--ensemble"]


@pytest.mark.parametrize("value", BAD)
@pytest.mark.parametrize("flag", CONV_FLAGS)
def test_train_conv_numeric_flags(train_conv, capsys, flag, value, mnist_dir):
    base = {"--epochs": "0", "--n-train": "20", "--mini-batch-size": "10"}
    argv = [arg for k, v in {**base, flag: value}.items() for arg in (k, v)]
    status, _, err = run(train_conv, [*argv, "--mode", "JAX", "--device", "cpu"], capsys)
    assert_clean(status, err)


@pytest.mark.parametrize("flags, message", [
    (["--save", "{tmp}"], "--save {tmp}: is a directory"),
    (["--plot", "{tmp}"], "--plot {tmp}: is a directory"),
    (["--then", "1", "nan"], "--then EPOCHS ETA: expected a finite number, got nan"),
    (["--then", "1", "0"], "eta (the learning rate) must be a finite number > 0, got 0.0"),
    (["--then", "-1", "0.5"], "--then EPOCHS ETA: expected an integer >= 0, got -1"),
    (["--sizes", "784"], "--sizes: give at least two layer sizes"),
    (["--checkpoint-dir", "{tmp}/afile"], "{tmp}/afile: is a file, not a directory"),
    (["--resume", "--overwrite", "--checkpoint-dir", "{tmp}"], "give one of them"),
    (["--run-dir", "{tmp}/afile"], "--run-dir {tmp}/afile: is a file; give a directory"),
    (["--run-dir", "{tmp}/afile/run"], "--run-dir {tmp}/afile/run/args.json"),
    (["--dataset", "{tmp}/afile"], "{tmp}/afile: not a directory"),
    (["--sizes", "784", "2000000", "10"], "a network of sizes [784, 2000000, 10] has 1,590,000,010 weights "
                                          "and biases, more than a JSON network file holds (41,297,762)"),
])
def test_train_gpu_refuses_bad_paths_and_stages_before_training(train_gpu, capsys, tmp_path, flags, message,
                                                                mnist_dir):
    (tmp_path / "afile").write_text("x")
    argv = [f.format(tmp=tmp_path) for f in flags]
    status, out, err = run(train_gpu, ["--epochs", "3", "--n-train", "50", "--no-progress", *argv], capsys)
    assert status == 2 and message.format(tmp=tmp_path) in err
    assert "Epoch" not in out  # nothing trained


@pytest.mark.parametrize("flags, message", [
    (["--save", "{tmp}"], "--save {tmp}: is a directory"),
    (["--history", "{tmp}"], "--history {tmp}: is a directory"),
    (["--plot", "{tmp}"], "--plot {tmp}: is a directory"),
    (["--eta", "0"], "eta (the learning rate) must be a finite number > 0, got 0.0"),
    (["--lmbda", "-1"], "lmbda (the regularisation parameter) must be a finite number >= 0, got -1.0"),
    (["--resume"], "--resume needs --checkpoint-dir"),
    (["--order", "shared"], "--order shared: one network has one order; give --ensemble K (K > 1)"),
    (["--run-dir", "{tmp}/afile"], "--run-dir {tmp}/afile: is a file; give a directory"),
    (["--expanded", "--dataset", "{tmp}"], "--expanded shifts MNIST's images"),
])
def test_train_conv_refuses_bad_paths_before_training(train_conv, capsys, tmp_path, flags, message,
                                                      mnist_dir):
    (tmp_path / "afile").write_text("x")
    argv = [f.format(tmp=tmp_path) for f in flags]
    status, out, err = run(train_conv, ["--epochs", "1", "--n-train", "20", *argv], capsys)
    assert status == 2 and message.format(tmp=tmp_path) in err
    assert_clean(status, err)
    assert "epoch" not in out


@pytest.mark.parametrize("name", ["train_gpu", "train_conv"])
def test_a_directory_where_a_data_file_should_be(name, capsys, tmp_path, mnist_dir):
    """The data layer's error reaches the user as one line, before any network is built."""
    for f in Path(mnist_dir).iterdir():
        (tmp_path / f.name).symlink_to(f)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    (tmp_path / "t10k-labels-idx1-ubyte.gz").mkdir()
    status, out, err = run(script(name), ["--epochs", "1", "--n-train", "20", "--data-dir", str(tmp_path),
                                          "--mode", "JAX", "--device", "cpu"], capsys)
    assert status == 2 and "t10k-labels-idx1-ubyte" in err, err
    assert_clean(status, err)


@pytest.mark.parametrize("module, argv", [
    ("dlpy35.cli.gradcheck", ["--batch", "0"]),
    ("dlpy35.cli.gradcheck", ["--max-entries", "word"]),
    ("dlpy35.cli.calibrate", ["--steps", "-1"]),
    ("dlpy35.cli.calibrate", ["--repeats", "nan"]),
    ("dlpy35.cli.data", ["--timeout", "inf"]),
    ("dlpy35.cli.data", ["--timeout", "0"]),
    ("dlpy35.cli.data", ["--no-such-flag"]),
])
def test_library_commands_refuse_bad_flags_in_one_line(module, argv, capsys):
    status, _, err = run(importlib.import_module(module), argv, capsys)
    assert status == 2
    assert_clean(status, err)


@pytest.mark.parametrize("order", ["own", "shared"])
def test_train_conv_ensemble_trains_one_population_and_votes(train_conv, capsys, tmp_path, mnist_dir, order):
    history = tmp_path / "h.json"
    argv = ["--epochs", "1", "--n-train", "100", "--ensemble", "2", "--mode", "JAX", "--device", "cpu",
            "--history", str(history), "--order", order]
    status, out, err = run(train_conv, argv, capsys)
    assert status == 0, err
    assert f"2 networks as one population ({order} order)" in out and "Ensemble of 2: test accuracy" in out
    import json

    runs = json.loads(history.read_text())["runs"]
    assert [r["seed"] for r in runs] == [0, 1] and all(len(r["history"]) == 1 for r in runs)
    assert runs[0]["history"][0]["training_cost"] != runs[1]["history"][0]["training_cost"]  # two networks


def test_train_conv_run_dir_holds_args_epochs_the_network_and_curves(train_conv, capsys, tmp_path, mnist_dir):
    import csv
    import json

    from dlpy35 import network3
    from dlpy35.storage.tables import EPOCH_COLUMNS

    run_dir = tmp_path / "run"
    argv = ["--epochs", "2", "--n-train", "100", "--mode", "JAX", "--device", "cpu", "--quiet",
            "--run-dir", str(run_dir)]
    status, out, err = run(train_conv, argv, capsys)
    assert status == 0, err
    assert json.loads((run_dir / "args.json").read_text())["args"]["epochs"] == 2
    with open(run_dir / "epochs.csv") as f:
        rows = list(csv.DictReader(f))
    assert tuple(rows[0]) == EPOCH_COLUMNS and [r["epoch"] for r in rows] == ["0", "1"]
    assert {r["sizes"] for r in rows} == {"conv1"} and {r["evaluation_total"] for r in rows} == {"10000"}
    net = network3.load(run_dir / "network.npz", mode="JAX", device="cpu")
    _, validation, _ = __import__("dlpy35.data", fromlist=["load_mnist"]).load_mnist(mnist_dir)
    assert round(net.accuracy(validation) * 10000) == int(rows[-1]["evaluation_correct"])  # the saved net
    assert (run_dir / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert err == ""  # --quiet: no bar
