"""``dlpy35 info``: what a saved network is, from its file (and a run directory's args.json and epochs.csv).

The networks are trained by the commands themselves, briefly, so that what their files record
(data set, classes, settings, accuracies) is what ``train`` and ``train-conv`` write.
"""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest
from command_helpers import run_main

from dlpy35 import network, network3
from dlpy35.cli import main as cli
from dlpy35.data.dataset import Dataset
from dlpy35.storage.metadata import Metadata
from dlpy35.storage.tables import read_csv

FAST = ["--quiet", "--mode", "JAX", "--device", "cpu"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, mnist_dir):
    """A run directory of ``dlpy35 train``: one epoch of [784, 10, 10] on 1,000 images."""
    run = tmp_path_factory.mktemp("run") / "ch1"
    status = cli.command_main("train", ["--epochs", "1", "--n-train", "1000", "--sizes", "784", "10", "10",
                                        "--run-dir", str(run), *FAST])
    assert status == 0
    return run


def info(path, capsys):
    status, out, err = run_main(cli.main, ["info", str(path)], capsys)
    assert status == 0 and err == "", err
    return out.splitlines()


def test_info_of_a_trained_network_says_what_it_learnt_how_and_how_well(run_dir, capsys):
    lines = info(run_dir / "network.json", capsys)
    row = read_csv(run_dir / "epochs.csv")[0]
    accuracy = int(row["evaluation_correct"]) / int(row["evaluation_total"])
    assert lines == [f"file: {run_dir / 'network.json'}",
                     "kind: sigmoid network (network.json, chapters 1 and 3)", "sizes: 784 10 10",
                     "cost: QuadraticCost", "data set: MNIST (28x28 images, preparation mnist)",
                     "classes: 0 1 2 3 4 5 6 7 8 9",
                     "trained by: dlpy35 train (epochs 1, mini_batch_size 10, eta 3.0, lmbda 0.0, "
                     "cost quadratic, seed 0)", lines[7], f"accuracy after 1 epoch: test {accuracy:.2%}",
                     f"best epoch 0 (by test accuracy): test {accuracy:.2%}"]
    assert lines[7].startswith("saved by: dlpy35 ")
    saved = json.loads((run_dir / "network.json").read_text())["metadata"]
    assert saved["results"]["final"] == {"test": round(accuracy, 6)}
    assert saved["training"]["args"]["n_train"] == 1000


def test_info_of_a_run_directory_adds_its_command_and_best_epoch(run_dir, capsys):
    lines = info(run_dir, capsys)
    assert lines[:10] == info(run_dir / "network.json", capsys)
    row = read_csv(run_dir / "epochs.csv")[0]
    correct, total = int(row["evaluation_correct"]), int(row["evaluation_total"])
    assert lines[10].startswith("run: dlpy35 train")
    assert lines[11] == f"epochs.csv: 1 epoch; best epoch 0: {correct} / {total} ({correct / total:.2%})"


def test_info_of_a_run_directory_whose_args_and_epochs_cannot_be_read_says_so(run_dir, tmp_path, capsys):
    copy = tmp_path / "run"
    copy.mkdir()
    (copy / "network.json").write_bytes((run_dir / "network.json").read_bytes())
    os.mkfifo(copy / "args.json")  # nothing would ever write to it
    (copy / "epochs.csv").write_text("net,epoch\n" + "0" * 200_000 + ",0\n")
    assert info(copy, capsys)[10:] == ["run: no readable args.json", "epochs.csv: none readable"]


def test_a_conv_run_replacing_a_sigmoid_run_leaves_no_file_of_it_for_info_to_describe(run_dir, tmp_path,
                                                                                        capsys):
    run = tmp_path / "run"
    shutil.copytree(run_dir, run)
    status = cli.command_main("train-conv", ["--net", "fc", "--epochs", "1", "--n-train", "20", "--run-dir",
                                             str(run), "--overwrite", *FAST])
    assert status == 0
    capsys.readouterr()
    assert not (run / "network.json").exists()
    kind = "kind: layer stack (network.npz, chapter 6)"
    assert info(run, capsys)[:2] == [f"file: {run / 'network.npz'}", kind]


def test_info_of_a_layer_stack_names_its_layers_and_classes(tmp_path, capsys):
    layers = [network3.ConvPoolLayer((4, 1, 5, 5), (2, 1, 28, 28), (2, 2)),
              network3.FullyConnectedLayer(4 * 12 * 12, 20, p_dropout=0.5), network3.SoftmaxLayer(20, 3)]
    x, y = np.zeros((6, 784), np.float32), np.arange(6) % 3
    letters = Dataset((x, y), (x, y), (x, y), 3, (28, 28), "letters", ("a", "b", "c"))
    network3.Network(layers, 2, seed=0, mode="JAX", device="cpu").save(tmp_path / "net.npz", letters)
    assert info(tmp_path / "net.npz", capsys)[1:8] == [
        "kind: layer stack (network.npz, chapter 6)",
        "layer 0: convolution 4 maps of 1x5x5 on 28x28 images, max-pool 2x2, sigmoid",
        "layer 1: fully connected 576 -> 20, sigmoid, dropout 0.5", "layer 2: softmax 20 -> 3",
        "data set: letters (28x28 images, preparation mnist)", "classes: a b c",
        f"saved by: dlpy35 {Metadata.of(letters).dlpy35}"]


def test_info_of_a_file_without_a_record_says_so_and_assumes_mnists_digits(tmp_path, capsys):
    network.Network([784, 5, 4], seed=0, mode="JAX", device="cpu").save(tmp_path / "old.json")
    lines = info(tmp_path / "old.json", capsys)
    assert lines[4:6] == ["data set: not recorded (saved by an older dlpy35, or without its data set): "
                          "MNIST's digits assumed", "classes: 0 1 2 3"]


def test_train_conv_records_its_data_set_settings_and_accuracies(tmp_path, mnist_dir, capsys):
    status = cli.command_main("train-conv", ["--net", "fc", "--epochs", "1", "--n-train", "500", "--save",
                                             str(tmp_path / "fc.npz"), *FAST])
    assert status == 0
    meta = network3.load(tmp_path / "fc.npz", mode="JAX", device="cpu").metadata
    assert (meta.dataset, meta.image_shape, meta.preparation) == ("MNIST", (28, 28), "mnist")
    assert meta.training["command"] == "dlpy35 train-conv" and meta.training["args"]["net"] == "fc"
    assert meta.results["epochs"] == 1 and set(meta.results["final"]) == {"validation", "test"}
    assert meta.results["best"]["by"] == "validation"


@pytest.mark.parametrize("make, words", [
    (lambda d: d / "missing.json", ["missing.json", "no such file"]),
    (lambda d: d, ["a directory without network.json or network.npz"]),
])
def test_info_refuses_what_is_not_a_network_in_one_line(make, words, tmp_path, capsys):
    status, out, err = run_main(cli.main, ["info", str(make(tmp_path))], capsys)
    assert status == 2 and out == "" and len(err.splitlines()) == 1, err
    assert all(w in err for w in words), err
