"""Runs kept by default, ``--no-save``, and ``--config ARGS_JSON`` (:mod:`dlpy35.cli.config`): a run's
``args.json`` reruns it, to the same counts, and a file that is not one is refused in one line."""

from __future__ import annotations

import json

import pytest
from command_helpers import run_main

from dlpy35.cli.main import command_main
from dlpy35.storage import tables

TINY = ["--n-train", "100", "--sizes", "784", "10", "10", "--epochs", "2", "--device", "cpu", "--mode", "JAX",
        "--quiet"]


@pytest.fixture
def runs(tmp_path, monkeypatch):
    """The folder of the runs kept by default, empty, with the current directory beside it."""
    monkeypatch.setenv("DLPY35_RUNS", str(tmp_path / "runs"))
    monkeypatch.chdir(tmp_path)
    return tmp_path / "runs"


def train(argv, capsys, name="train"):
    return run_main(lambda a: command_main(name, a), argv, capsys)


def test_plain_train_keeps_its_run_in_a_new_directory_and_says_where(runs, capsys, mnist_dir):
    status, out, err = train(TINY, capsys)
    assert status == 0, err
    (made,) = runs.iterdir()
    assert made.name.startswith("train-") and out.splitlines()[0] == (
        f"run directory: {made} (kept by default; --no-save keeps nothing)")
    assert {p.name for p in made.iterdir()} >= {"args.json", "epochs.csv", "network.json"}
    doc = json.loads((made / "args.json").read_text())
    assert doc["command"] == "dlpy35 train" and doc["device"] == {"kind": "cpu", "mode": "JAX",
                                                                   "dtype": "float32"}
    assert {"dlpy35", "pytensor", "jax", "numpy", "python"} <= doc["versions"].keys()
    # the same command in the same second (or not) gets a directory of its own
    assert train(TINY, capsys)[0] == 0 and len(list(runs.iterdir())) == 2


def test_no_save_keeps_nothing(runs, capsys, mnist_dir, tmp_path):
    before = sorted(tmp_path.iterdir())
    status, out, err = train([*TINY, "--no-save"], capsys)
    assert status == 0 and "run directory" not in out, err
    assert sorted(tmp_path.iterdir()) == before and not runs.exists()


@pytest.mark.parametrize("flags", [["--save", "n.json"], ["--run-dir", "r"]])
def test_no_save_with_a_place_to_keep_the_network_is_one_line(runs, capsys, flags):
    status, out, err = train([*TINY, "--no-save", *flags], capsys)
    assert status == 2 and out == "" and len(err.splitlines()) == 1 and "--no-save keeps nothing" in err


def test_a_run_reruns_from_its_args_json_to_the_same_counts_and_flags_given_override(runs, capsys, mnist_dir,
                                                                                       tmp_path):
    first = tmp_path / "first"
    assert train([*TINY, "--eta", "2.0", "--seed", "4", "--run-dir", str(first)], capsys)[0] == 0
    status, out, err = train(["--config", str(first / "args.json"), "--run-dir", str(tmp_path / "again")],
                             capsys)
    assert status == 0, err
    columns = ("epoch", "evaluation_correct", "test_correct", "training_cost", "eta", "seed", "sizes")

    def rows(d):
        return [tuple(r[c] for c in columns) for r in tables.read_csv(d / "epochs.csv")]

    assert len(rows(first)) == 2 and rows(tmp_path / "again") == rows(first)  # JAX on this CPU: exactly
    # a flag given with --config overrides its value; the directory alone names its args.json too
    status, _, err = train(["--config", str(first), "--epochs", "1", "--run-dir", str(tmp_path / "one")],
                           capsys)
    assert status == 0, err
    assert rows(tmp_path / "one") == rows(first)[:1]
    assert json.loads((tmp_path / "one" / "args.json").read_text())["args"]["seed"] == 4


def test_then_given_with_config_replaces_the_recorded_stages():
    from dlpy35.cli import config
    from dlpy35.cli.main import command_parser

    p = command_parser("train", "dlpy35 train")
    recorded = {"then": [[1, 0.5], [2, 0.1]], "epochs": 3, "sizes": [784, 10, 10], "run_dir": "old",
                "quiet": True, "init": None}
    assert config.recorded_defaults(p, recorded, "a.json") == {
        "then": [["1", "0.5"], ["2", "0.1"]], "epochs": 3, "sizes": [784, 10, 10], "quiet": True,
        "init": None}
    assert "then" not in config.recorded_defaults(p, recorded, "a.json", ["--then", "4", "0.2"])


@pytest.mark.parametrize("doc, why", [
    ({"command": "dlpy35 sweep", "args": {}}, "records a run of 'dlpy35 sweep', not of 'dlpy35 train'"),
    ({"command": "dlpy35 train-conv", "args": {}}, "records a run of 'dlpy35 train-conv'"),
    ({"command": "dlpy35 train", "args": {"eta": "fast"}}, "--eta: expected a number, got 'fast'"),
    ({"command": "dlpy35 train", "args": {"eta": "nan"}}, "--eta: expected a finite number, got nan"),
    ({"command": "dlpy35 train", "args": {"eta": [1, 2]}}, "--eta: expected a number or a text"),
    ({"command": "dlpy35 train", "args": {"sizes": 30}}, "--sizes: expected a list of values"),
    ({"command": "dlpy35 train", "args": {"epochs": None}}, "--epochs: null, but the flag has a value"),
    ({"command": "dlpy35 train", "args": {"monitor": "yes"}}, "--monitor: expected true or false"),
    ({"command": "dlpy35 train", "args": {"cost": "hinge"}}, "--cost: 'hinge' is not one of"),
    ({"command": "dlpy35 train", "args": {"then": [[1]]}}, "--then: expected a list of 2-item lists"),
    ({"command": "dlpy35 train", "args": {"rm_rf": True}}, "records 'rm_rf', which dlpy35 train has no flag"),
    ({"command": "dlpy35 train"}, "holds no command and args"),
    ("{", "not JSON"),
])
def test_a_bad_config_is_one_line_before_any_work(runs, capsys, tmp_path, doc, why):
    path = tmp_path / "args.json"
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    status, out, err = train(["--config", str(path)], capsys)
    assert status == 2 and out == "" and len(err.splitlines()) == 1, err
    assert err.startswith(f"dlpy35 train: error: --config {path}: ") and why in err, err
    assert not runs.exists()


def test_train_conv_keeps_its_run_by_default_too(runs, capsys, mnist_dir):
    argv = ["--net", "fc", "--n-train", "100", "--epochs", "1", "--device", "cpu", "--mode", "JAX", "--quiet"]
    status, out, err = train(argv, capsys, "train-conv")
    assert status == 0, err
    (made,) = runs.iterdir()
    assert made.name.startswith("train-conv-") and f"run directory: {made} (kept by default" in out
    assert (made / "network.npz").is_file()
    doc = json.loads((made / "args.json").read_text())
    assert doc["device"]["mode"] == "JAX" and doc["command"] == "dlpy35 train-conv"
    rows = tables.read_csv(made / "epochs.csv")  # picked on validation, its test figure beside it
    assert [(r["evaluation_total"], r["test_total"]) for r in rows] == [("10000", "10000")]


def test_a_run_refused_when_it_starts_leaves_no_empty_directory(runs, capsys, mnist_dir, tmp_path):
    """A resume of another run's checkpoint is refused once the checkpoint is read: the directory made
    for the run is removed again, as nothing was written in it."""
    ck = str(tmp_path / "ck")
    assert train([*TINY, "--checkpoint-dir", ck], capsys)[0] == 0
    (first,) = runs.iterdir()
    status, out, err = train([*TINY, "--checkpoint-dir", ck, "--resume", "--seed", "1"], capsys)
    assert status == 2 and "seed=0" in err and len(err.splitlines()) == 1, err
    assert list(runs.iterdir()) == [first]
