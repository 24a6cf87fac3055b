"""``--tensorboard DIR``: each network's per-epoch scalars in TensorBoard's event files, read back here.

tensorboardX writes and has no reader; the files are read by their format -- TFRecord
framing (length, its masked CRC, the record, its masked CRC) around ``Event`` protocol
buffers -- with tensorboardX's own generated ``event_pb2``.
"""

from __future__ import annotations

import re
import struct
import sys

import pytest
from command_helpers import run_main

from dlpy35.cli import main as cli
from dlpy35.engine.records import EpochRecord, Evaluation, PopulationRecord
from dlpy35.storage import tables
from dlpy35.storage.tensorboard import MISSING, Scalars, TensorBoard, event_files

TRAIN = ["train", "--n-train", "300", "--sizes", "784", "20", "10", "--mode", "JAX", "--device", "cpu",
         "--quiet"]


def read_scalars(directory):
    """``{tag: [(step, value), ...]}`` of every event file in `directory`, in the order written."""
    from tensorboardX.proto.event_pb2 import Event

    found = {}
    for path in event_files(directory):
        data, at = path.read_bytes(), 0
        while at < len(data):
            (length,) = struct.unpack_from("<Q", data, at)
            record = data[at + 12: at + 12 + length]  # past the length and its CRC
            at += 12 + length + 4  # and the record's CRC
            event = Event.FromString(record)
            for value in event.summary.value:
                found.setdefault(value.tag, []).append((event.step, value.simple_value))
    return found


def run(argv, capsys):
    return run_main(cli.main, argv, capsys)


def test_train_writes_each_epochs_scalars_tagged_by_network(tmp_path, capsys, mnist_dir):
    board = tmp_path / "tb"
    status, out, err = run([*TRAIN, "--epochs", "3", "--tensorboard", str(board)], capsys)
    assert status == 0, err
    scalars = read_scalars(board)
    assert sorted(scalars) == ["net0/eta", "net0/evaluation_accuracy", "net0/evaluation_cost",
                               "net0/minibatch_cost"]  # the --evaluation set (test) is "evaluation"
    printed = [int(c) / 10000 for c in re.findall(r"^Epoch \d+ : (\d+) / 10000", out, flags=re.M)]
    assert [step for step, _ in scalars["net0/evaluation_accuracy"]] == [0, 1, 2]
    accuracies = [v for _, v in scalars["net0/evaluation_accuracy"]]
    assert accuracies == pytest.approx(printed, abs=1e-6)  # stored as float32
    assert [v for _, v in scalars["net0/eta"]] == [3.0, 3.0, 3.0]
    costs = [v for _, v in scalars["net0/minibatch_cost"]]
    assert costs[-1] < costs[0]  # the quadratic cost falls over three epochs at eta 3 here


def test_a_directory_with_another_runs_events_is_refused_before_training_unless_overwrite(tmp_path, capsys,
                                                                                          mnist_dir):
    board = tmp_path / "tb"
    board.mkdir()
    old = Scalars(board)
    old.write("net0", 0, {"old_accuracy": 0.5})
    old.close()
    (before,) = event_files(board)
    status, out, err = run([*TRAIN, "--epochs", "1", "--tensorboard", str(board)], capsys)
    assert status == 2 and len(err.strip().splitlines()) == 1, err
    assert f"--tensorboard {board} holds another run ({before.name})" in err and "--overwrite" in err
    assert "Epoch" not in out and event_files(board) == [before]  # nothing trained, nothing written
    status, out, err = run([*TRAIN, "--epochs", "1", "--tensorboard", str(board), "--overwrite"], capsys)
    assert status == 0, err
    scalars = read_scalars(board)  # the new file may have the old one's name: named to the second
    assert "net0/old_accuracy" not in scalars and [s for s, _ in scalars["net0/evaluation_accuracy"]] == [0]


def test_without_tensorboardx_the_flag_is_one_line_saying_how_to_install_it(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboardX", None)  # as if not installed: importing it fails
    status, out, err = run([*TRAIN, "--epochs", "1", "--tensorboard", str(tmp_path / "tb")], capsys)
    assert status == 2 and len(err.strip().splitlines()) == 1 and MISSING in err, err
    assert not (tmp_path / "tb").exists()


def test_a_sweep_writes_every_networks_epochs_as_its_tables_hold_them(tmp_path, capsys, mnist_dir):
    out, board = tmp_path / "sweep", tmp_path / "tb"
    status, _, err = run(["sweep", "--seeds", "0-1", "--eta", "0.5", "3.0", "--out", str(out), "--n-train",
                          "300", "--epochs", "2", "--sizes", "784", "12", "10", "--mode", "JAX", "--device",
                          "cpu", "--no-plot", "--quiet", "--tensorboard", str(board)], capsys)
    assert status == 0, err
    scalars = read_scalars(board)
    rows = tables.read_csv(out / "epochs.csv")
    assert len(rows) == 4 * 2
    for row in rows:
        tag, step = f"net{row['net']}", int(row["epoch"])
        accuracy = int(row["evaluation_correct"]) / int(row["evaluation_total"])
        assert dict(scalars[f"{tag}/evaluation_accuracy"])[step] == pytest.approx(accuracy, abs=1e-7)
        assert dict(scalars[f"{tag}/minibatch_cost"])[step] == pytest.approx(float(row["training_cost"]),
                                                                            rel=1e-6)


@pytest.mark.filterwarnings("ignore::dlpy35.engine.records.SaturationWarning")  # 5 mini-batches of training
def test_train_conv_writes_each_network_of_its_ensemble(tmp_path, capsys, mnist_dir):
    board = tmp_path / "tb"
    status, out, err = run(["train-conv", "--net", "fc", "--n-train", "50", "--epochs", "2", "--ensemble",
                            "2", "--mode", "JAX", "--device", "cpu", "--quiet", "--tensorboard", str(board)],
                           capsys)
    assert status == 0, err
    scalars = read_scalars(board)
    printed = [[float(a.rstrip("%")) / 100 for a in line.split()]  # per epoch: "80.03% 79.95%"
               for line in re.findall(r"^  epoch \d+: .* validation accuracy (.*)$", out, flags=re.M)]
    assert len(printed) == 2
    for k in (0, 1):
        assert [s for s, _ in scalars[f"net{k}/validation_accuracy"]] == [0, 1]
        assert [v for _, v in scalars[f"net{k}/validation_accuracy"]] == pytest.approx(
            [epoch[k] for epoch in printed], abs=5e-5)  # printed to 0.01%
        assert f"net{k}/test_accuracy" in scalars


class Run:
    """What the callback reads of a run: its state and epochs."""

    def __init__(self, epoch, epochs):
        self.state, self.epochs = {"epoch": epoch, "stopped": None}, epochs


def test_a_diverged_network_of_a_population_has_no_more_scalars_and_the_file_closes_with_the_run(tmp_path):
    ev = {"validation": Evaluation(correct=30, total=40, cost=8.0)}
    callback = TensorBoard(Scalars(tmp_path))
    for epoch, records in enumerate([[EpochRecord(0, 0.1, 0.5, 2.0, ev), EpochRecord(0, 0.1, 0.2, 1.0, ev)],
                                     [EpochRecord(1, 0.1, 0.5, 1.5, ev), None]]):
        callback.on_epoch(None, Run(epoch + 1, 2), PopulationRecord(epoch, 0.1, [0.5, 0.2], records))
    assert callback.scalars._writer is None  # closed after the last epoch
    scalars = read_scalars(tmp_path)
    assert scalars["net0/minibatch_cost"] == [(0, 2.0), (1, 1.5)]
    assert scalars["net1/minibatch_cost"] == [(0, 1.0)]
    assert scalars["net1/eta"] == [(0, pytest.approx(0.2))]
    assert scalars["net0/validation_accuracy"] == [(0, 0.75), (1, 0.75)]
    assert scalars["net0/validation_cost"] == [(0, pytest.approx(0.2)), (1, pytest.approx(0.2))]  # 8 / 40
