"""The output policy (:mod:`dlpy35.storage.outputs`): what a command may write, for every command and path.

Each refusal is one line and exit status 2 before any work, naming the path and the flag that would allow
it; the files that were there are unchanged.  The library's cases come first, then every command's.
"""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pytest
from command_helpers import run_main, script

from dlpy35 import network, network2
from dlpy35.cli import main as cli
from dlpy35.cli.common import run
from dlpy35.storage import outputs
from dlpy35.storage.outputs import Finisher, OutputError, Outputs, given
from dlpy35.studies import reproduce

# -- the policy: files ---------------------------------------------------------------------------------


def _make(tmp_path, layout):
    """Files (text), directories (a trailing /) and links (``name -> target``) under `tmp_path`."""
    for entry in layout:
        name, _, target = entry.partition(" -> ")
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if target:
            path.symlink_to(tmp_path / target)
        elif name.endswith("/"):
            path.mkdir(exist_ok=True)
        else:
            path.write_text(f"the user's {name}")


FILES = [  # (what is there, the output, --overwrite, the message or None when allowed)
    ([], "new/deeper/net.json", False, None),
    (["net.json"], "net.json", False, "--save {p}/net.json: a file is already there; give --overwrite to "
                                      "replace it, or another name"),
    (["net.json"], "net.json", True, None),
    (["dangling -> gone"], "dangling", False, "--save {p}/dangling: a file is already there"),
    (["net.json/"], "net.json", True, "--save {p}/net.json: is a directory; give a file name"),
    (["afile"], "afile/net.json", True, "--save {p}/afile/net.json: cannot write into {p}/afile; choose "
                                        "another place"),
    (["m.json"], "m.json", True, "--save {p}/m.json: is MODEL {p}/m.json, which this command reads; give "
                                 "another name"),
    (["m.json"], "./m.json", True, "is MODEL {p}/m.json, which this command reads"),
    (["m.json", "link.json -> m.json"], "link.json", True, "--save {p}/link.json: is MODEL {p}/m.json"),
    (["data/train.gz"], "data/train.gz", True, "--save {p}/data/train.gz: is in --data-dir {p}/data, "
                                               "which this command reads"),
    (["data/train/7/a.png"], "data/train/7/net.json", True, "--save {p}/data/train/7/net.json: is in "
                                                            "--data-dir {p}/data, which this command reads"),
]


@pytest.mark.parametrize("layout, output, replace, message", FILES,
                         ids=["new", "existing", "existing+overwrite", "dangling link", "a directory",
                              "under a file", "the model", "./the model", "a link to the model",
                              "a data file", "inside the data directory"])
def test_a_file_is_written_only_when_nothing_of_the_users_or_an_input_is_there(tmp_path, monkeypatch, layout,
                                                                               output, replace, message):
    _make(tmp_path, layout)
    monkeypatch.chdir(tmp_path)
    policy = Outputs([given("MODEL", tmp_path / "m.json"), *outputs.directory_inputs("--data-dir",
                                                                                     tmp_path / "data")],
                     replace=replace)
    path = tmp_path / output if not output.startswith("./") else Path(output)
    if message is None:
        assert policy.file(path, "--save") == path
        return
    with pytest.raises(OutputError) as raised:
        policy.file(path, "--save")
    shown = str(raised.value).replace(f"--save {output}", f"--save {tmp_path / output}")
    assert message.format(p=tmp_path) in shown
    assert "\n" not in str(raised.value)


def test_two_outputs_of_one_command_may_not_be_one_file(tmp_path):
    (tmp_path / "alias").symlink_to(tmp_path)
    policy = Outputs()
    policy.file(tmp_path / "a.png", "--plot")
    with pytest.raises(OutputError, match=r"^--save .*/alias/a\.png and --plot .*/a\.png are the same file; "
                                          r"give each its own$"):
        policy.file(tmp_path / "alias" / "a.png", "--save")


def test_a_hard_link_to_an_input_is_that_input(tmp_path):
    (tmp_path / "photo.png").write_bytes(b"the user's photo")
    os.link(tmp_path / "photo.png", tmp_path / "same.png")
    with pytest.raises(OutputError, match="is IMAGE .*photo.png, which this command reads; give another "
                                          "directory$"):
        Outputs([given("IMAGE", tmp_path / "photo.png")], replace=True).file(tmp_path / "same.png", "--show",
                                                                            "directory")


# -- the policy: run directories -------------------------------------------------------------------------

NAMES = ("args.json", "epochs.csv", "curves.png", "network.json")
DIRECTORIES = [  # (what is there, resume flag, --overwrite, continues, the message or None)
    ([], None, False, False, None),
    (["run/notes.txt"], None, False, False, None),  # a file of the user's that the run does not write
    (["run/args.json", "run/epochs.csv"], "--resume", False, False,
     "--run-dir {p}/run holds another run (args.json, epochs.csv); give --resume to continue it, or "
     "--overwrite to replace it"),
    (["run/args.json", "run/epochs.csv"], None, False, False,
     "--run-dir {p}/run holds another run (args.json, epochs.csv); give --overwrite to replace it, or "
     "another directory"),
    (["run/summary.csv", "run/chunks/"], None, False, False, "holds another run (chunks, summary.csv)"),
    (["run/args.json"], "--resume", True, False, None),
    (["run/chunks/"], None, False, True, None),
    (["run"], None, True, False, "--run-dir {p}/run: is a file; give a directory"),
]


@pytest.mark.parametrize("layout, resume, replace, continues, message", DIRECTORIES,
                         ids=["new", "a user's other file", "another run", "another run, no resume",
                              "a sweep", "--overwrite", "this same run", "a file"])
def test_a_directory_holding_another_run_needs_resume_or_overwrite(tmp_path, layout, resume, replace,
                                                                  continues, message):
    _make(tmp_path, layout)
    policy = Outputs(replace=replace, resume=resume)
    if message is None:
        policy.directory(tmp_path / "run", "--run-dir", NAMES, continues)
        return
    with pytest.raises(OutputError) as raised:
        policy.directory(tmp_path / "run", "--run-dir", NAMES, continues)
    assert message.format(p=tmp_path) in str(raised.value)


# -- a write that fails after training ---------------------------------------------------------------------


class Net:
    """A network whose ``save`` writes its name, and fails (disk full) in the directories of `full`."""

    def __init__(self, full=()):
        self.full = [Path(f) for f in full]

    def save(self, path):
        if Path(path).parent in self.full:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        Path(path).write_text("the trained network")


@pytest.fixture
def rescue(tmp_path, monkeypatch):
    where = tmp_path / "user-data" / "rescued"
    monkeypatch.setattr(outputs, "rescue_dir", lambda: where)
    return where


def test_a_failed_save_keeps_the_network_beside_the_path_asked_for(tmp_path, rescue):
    with pytest.raises(OutputError) as raised:  # the plot fails; the network, not saved yet, goes beside it
        Finisher(Net(), ".json").write(tmp_path / "a.png", "--plot", Net([tmp_path]).save)
    (kept,) = tmp_path.glob("network-rescued-*.json")
    assert str(raised.value) == (f"--plot {tmp_path / 'a.png'}: could not write it (No space left on "
                                 f"device); the trained network is saved in {kept}")
    assert kept.read_text() == "the trained network"


def test_a_failed_save_where_the_directory_is_full_goes_to_the_users_data_directory(tmp_path, rescue):
    keep = Finisher(Net([tmp_path / "full"]), ".npz")
    with pytest.raises(OutputError) as raised:
        keep.network(tmp_path / "full" / "net.npz", "--save")
    (kept,) = rescue.glob("network-rescued-*.npz")
    assert str(raised.value).endswith(f"could not write it (No space left on device); the trained network is "
                                      f"saved in {kept}")
    assert keep.saved == kept


def test_after_the_network_is_saved_a_failed_plot_says_where_it_is(tmp_path, rescue):
    keep = Finisher(Net([tmp_path / "full"]), ".json")
    keep.network(tmp_path / "net.json", "--save")
    with pytest.raises(OutputError) as raised:
        keep.write(tmp_path / "full" / "curves.png", "--plot", keep.net.save)
    assert str(raised.value).endswith(f"the trained network is saved in {tmp_path / 'net.json'}")
    assert not rescue.exists()


def test_a_table_written_after_its_network_was_saved_names_that_network(tmp_path, rescue):
    """reproduce's results table, after a row's network is in the row's directory: no copy is made."""
    saved = tmp_path / "ch6-fc" / "network.npz"
    with pytest.raises(OutputError) as raised:
        Finisher(None, ".npz", saved=saved).write(tmp_path / "results.json", "--out", Net([tmp_path]).save)
    assert str(raised.value) == (f"--out {tmp_path / 'results.json'}: could not write it (No space left on "
                                 f"device); the trained network is saved in {saved}")
    assert not rescue.exists() and not list(tmp_path.glob("network-rescued-*"))


def test_when_no_place_takes_the_network_the_message_says_so(tmp_path, rescue):
    keep = Finisher(Net([tmp_path / "full", rescue]), ".json")
    with pytest.raises(OutputError, match=r"the trained network could not be saved anywhere \(.*full: No "
                                          r"space left on device; .*rescued: No space left on device\)$"):
        keep.network(tmp_path / "full" / "net.json", "--save")


# -- every command ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """A tiny untrained network saved as JSON: only the paths are under test."""
    path = tmp_path_factory.mktemp("model") / "m.json"
    network.Network([784, 10, 10], seed=0, mode="JAX", device="cpu").save(path)
    return path


def earlier_run(directory):
    """What an earlier ``train --run-dir`` left: its args and its epochs."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "args.json").write_text('{"command": "dlpy35 train"}')
    (directory / "epochs.csv").write_text("net,epoch\n0,1\n")
    return directory


TINY = ["--epochs", "1", "--n-train", "100", "--mode", "JAX", "--device", "cpu", "--quiet"]

# (the command line, what to make first, the words of the one-line refusal); {p} is the test's directory,
# {m} the model.  Each refused before any work: nothing written, nothing changed.
COMMANDS = {
    "evaluate --plot the model": (["evaluate", "{m}", "--plot", "{m}"], [], "--plot {m}: is MODEL {m}"),
    "evaluate --plot ./the model": (["evaluate", "{m}", "--plot", "./m.json"], ["cd model"],
                                    "--plot m.json: is MODEL {m}"),
    "evaluate --plot a user's file": (["evaluate", "{m}", "--plot", "{p}/c.png"], ["c.png"],
                                      "--plot {p}/c.png: a file is already there; give --overwrite"),
    "export -o the model": (["export", "{m}", "--format", "html", "-o", "{m}"], [], "-o {m}: is MODEL {m}"),
    "export -o a user's file": (["export", "{m}", "-o", "{p}/d.onnx"], ["d.onnx"],
                                "-o {p}/d.onnx: a file is already there; give --overwrite"),
    "predict --show . (the photo)": (["predict", "{m}", "photo.png", "--show", "."], ["cd", "photo.png"],
                                     "--show photo.png: is IMAGE photo.png, which this command reads; give "
                                     "another directory"),
    "predict --show a prepared image": (["predict", "{m}", "{p}/photo.png", "--show", "{p}/shown"],
                                        ["photo.png", "shown/photo.png"],
                                        "--show {p}/shown/photo.png: a file is already there; give "
                                        "--overwrite"),
    "train --save a user's file": (["train", *TINY, "--save", "{p}/n.json"], ["n.json"],
                                   "--save {p}/n.json: a file is already there; give --overwrite"),
    "train --save a data file": (["train", *TINY, "--data-dir", "{p}/data", "--save", "{p}/data/x.gz"],
                                 ["data/x.gz"], "--save {p}/data/x.gz: is in --data-dir {p}/data"),
    "train --run-dir an earlier run": (["train", *TINY, "--run-dir", "{p}/runs/a"], ["run runs/a"],
                                       "--run-dir {p}/runs/a holds another run (args.json, epochs.csv); give "
                                       "--resume to continue it, or --overwrite to replace it"),
    "train --plot = --save": (["train", *TINY, "--save", "{p}/x", "--plot", "{p}/x"], [],
                              "--plot {p}/x and --save {p}/x are the same file"),
    "train-conv --run-dir an earlier run": (["train-conv", *TINY, "--run-dir", "{p}/runs/a"], ["run runs/a"],
                                            "--run-dir {p}/runs/a holds another run (args.json, epochs.csv)"),
    "train-conv --history a user's file": (["train-conv", *TINY, "--history", "{p}/h.json"], ["h.json"],
                                           "--history {p}/h.json: a file is already there"),
    "figure -o: the PNG there": (["figure", "overfitting", "--quick", "-o", "{p}/f.png"], ["f.png"],
                                 "-o {p}/f.png: a file is already there"),
    "figure -o: the CSV beside it there": (["figure", "overfitting", "--quick", "-o", "{p}/f.png"], ["f.csv"],
                                           "-o (the CSV beside it) {p}/f.csv: a file is already there"),
    "sweep --out a train run": (["sweep", "--seeds", "0", "--out", "{p}/runs/a", *TINY], ["run runs/a"],
                                "--out {p}/runs/a holds another run (args.json, epochs.csv); give "
                                "--overwrite to replace it, or another directory"),
    "sweep --out another sweep": (["sweep", "--seeds", "0", "--out", "{p}/runs/s", *TINY], ["sweep runs/s"],
                                  "--out {p}/runs/s holds another sweep (chunks, epochs.csv, sweep.json); "
                                  "give that sweep's own flags to continue it, or --overwrite to replace it"),
    "reproduce a row of another command": (["reproduce", "ch1-30", "--quick", "--out", "{p}/runs/r"],
                                           ["table runs/r"], "--out {p}/runs/r/ch1-30 holds another run "
                                                             "(args.json, epochs.csv); give --overwrite"),
    "reproduce --out a train run": (["reproduce", "ch1-30", "--quick", "--out", "{p}/runs/a"], ["run runs/a"],
                                    "--out {p}/runs/a holds another run (args.json, epochs.csv); give "
                                    "--overwrite to replace it, or another directory"),
}


def another_sweep(directory):
    """What a sweep of other networks left: its manifest, a chunk and its table."""
    earlier_run(directory).joinpath("args.json").unlink()
    (directory / "chunks").mkdir()
    (directory / "chunks" / "0123456789abcdef.json").write_text('{"key": "0123456789abcdef"}')
    (directory / "sweep.json").write_text('{"chunks": ["0123456789abcdef"]}')


def another_table(directory):
    """A reproduce table whose row ch1-30 came from another command, and that row's run directory."""
    earlier_run(directory / "ch1-30").joinpath("args.json").write_text(
        json.dumps({"command": "dlpy35.studies.reproduce ch1-30"}))
    result = {key: 1.0 for key in reproduce.RESULT_FIELDS}  # whole: a damaged table is refused as such
    result.update(row="ch1-30", dlpy35=90.0, command="dlpy35 train --other")
    (directory / "results.json").write_text(json.dumps({"results": [result]}))


def _prepare(tmp_path, model, monkeypatch, made):
    """Make `made` (files; ``run DIR``, ``sweep DIR``, ``table DIR``: what an earlier run, sweep or reproduce
    left; ``cd [model]``: work there) and return the files made, with their content, to check that they are
    left alone."""
    before = {}
    kinds = {"run": earlier_run, "sweep": another_sweep, "table": another_table}
    for entry in made:
        kind, _, where = entry.partition(" ")
        if entry.startswith("cd"):
            monkeypatch.chdir(model.parent if entry == "cd model" else tmp_path)
        elif kind in kinds:
            kinds[kind](tmp_path / where)
        else:
            (tmp_path / entry).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / entry).write_bytes(f"the user's {entry}".encode())
    for path in [*tmp_path.rglob("*"), model]:
        if path.is_file():
            before[path] = path.read_bytes()
    return before


@pytest.mark.parametrize("case", list(COMMANDS))
def test_every_command_refuses_its_outputs_in_one_line_before_any_work(case, model, tmp_path, capsys,
                                                                       monkeypatch):
    argv, made, words = COMMANDS[case]
    before = _prepare(tmp_path, model, monkeypatch, made)
    fill = {"p": tmp_path, "m": model}
    status, out, err = run_main(cli.main, [a.format(**fill) for a in argv], capsys)
    assert status == 2 and out == "" and len(err.strip().splitlines()) == 1, (status, out, err)
    assert words.format(**fill) in err, err
    assert "Traceback" not in err and "delete" not in err and "remove" not in err
    after = {path: path.read_bytes() for path in [*tmp_path.rglob("*"), model] if path.is_file()}
    assert after == before  # nothing written, nothing replaced


def test_a_disk_that_fills_up_while_training_is_one_line_and_the_checkpoint_kept(tmp_path, capsys, mnist_dir,
                                                                                 monkeypatch):
    """epochs.csv cannot be written after epoch 1 of 2 (no check before training could know): status 1, one
    line naming the file, and the checkpoint of epoch 1 still whole."""
    from dlpy35.storage.checkpoint import completed_epochs
    from dlpy35.storage.rundir import RunDir

    def full(self, rows):
        if len(rows) > 1:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self.path / "epochs.csv"))

    monkeypatch.setattr(RunDir, "epochs", full)
    run_dir, ck = tmp_path / "run", tmp_path / "ck"
    argv = ["train", *TINY, "--epochs", "2", "--sizes", "784", "10", "10", "--run-dir", str(run_dir),
            "--checkpoint-dir", str(ck)]
    status = run(cli.main, "dlpy35", argv)  # as the console script runs it
    err = capsys.readouterr().err
    assert status == 1 and err.strip() == (f"dlpy35: {run_dir / 'epochs.csv'}: No space left on device; "
                                           "what was written before is kept"), err
    assert completed_epochs(ck) >= 1


def test_export_with_overwrite_replaces_the_users_file(model, tmp_path, capsys):
    (tmp_path / "d.html").write_text("the user's page")
    argv = ["export", str(model), "-o", str(tmp_path / "d.html"), "--overwrite"]
    status, out, err = run_main(cli.main, argv, capsys)
    assert status == 0, err
    assert (tmp_path / "d.html").read_text().startswith("<!DOCTYPE html>")


def test_train_with_overwrite_replaces_an_earlier_run_and_its_save(tmp_path, capsys, mnist_dir):
    run_dir = earlier_run(tmp_path / "runs" / "a")
    (tmp_path / "n.json").write_text("the user's file")
    argv = ["train", *TINY, "--sizes", "784", "10", "10", "--run-dir", str(run_dir), "--save",
            str(tmp_path / "n.json"), "--overwrite"]
    status, out, err = run_main(cli.main, argv, capsys)
    assert status == 0, err
    assert json.loads((run_dir / "args.json").read_text())["args"]["overwrite"] is True
    assert (run_dir / "epochs.csv").read_text().count("\n") == 2  # the header and the one epoch
    net = network2.load(tmp_path / "n.json", mode="JAX", device="cpu")
    assert net.sizes == [784, 10, 10]


def test_train_whose_save_fails_after_training_keeps_the_network_and_says_where(tmp_path, capsys, rescue,
                                                                                monkeypatch, mnist_dir):
    """The disk fills up during training: --save fails, and the network goes to the user's data directory."""
    full = tmp_path / "full"
    save = network.Network.save

    def failing(self, path):
        if Path(path).parent == full:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        save(self, path)

    monkeypatch.setattr(network.Network, "save", failing)
    argv = ["train", *TINY, "--sizes", "784", "10", "10", "--save", str(full / "n.json")]
    status, out, err = run_main(cli.main, argv, capsys)
    (kept,) = rescue.glob("network-rescued-*.json")
    assert status == 2 and err == (f"dlpy35 train: --save {full / 'n.json'}: could not write it (No space "
                                   f"left on device); the trained network is saved in {kept}\n")
    assert network2.load(kept, mode="JAX", device="cpu").sizes == [784, 10, 10]


def test_the_seed_study_refuses_an_out_holding_another_run(tmp_path, capsys):
    out = earlier_run(tmp_path / "study")
    status, stdout, err = run_main(script("seed_study").main, ["--out", str(out), *TINY[:-1]], capsys)
    assert status == 2, err
    assert f"--out {out} holds another run (args.json, epochs.csv); give --overwrite" in err


# -- a sweep's --out: its own sweep continues, another is refused -------------------------------------------


def test_a_sweeps_out_holds_the_sweep_its_manifest_names_or_its_chunks_all_belong_to(tmp_path):
    from dlpy35.studies import sweep

    def chunks(seeds):
        return sweep.plan([[784, 10, 10]], seeds, [3.0], [0.0, 1.0], sweep.settings())

    mine, other = chunks([0, 1]), chunks([0, 1, 2])
    out = tmp_path / "out"
    assert not sweep.holds(out, mine)  # nothing there
    (out / "chunks").mkdir(parents=True)
    (out / "chunks" / f"{mine[0].key}.json").write_text("{}")
    assert sweep.holds(out, mine) and not sweep.holds(out, other)  # a sweep's from before sweep.json
    sweep.write_manifest(out, other)  # --overwrite: the other sweep now, whatever chunks are left
    assert sweep.holds(out, other) and not sweep.holds(out, mine)
    (out / "sweep.json").write_text("not json")
    assert not sweep.holds(out, other) and not sweep.holds(out, mine)


def test_train_resume_continues_its_own_run_directory_and_save(tmp_path, capsys, mnist_dir):
    """A finished run with a checkpoint: the same command is refused; with --resume it continues (no epoch
    left: its outputs are written again)."""
    argv = ["train", *TINY, "--sizes", "784", "10", "10", "--checkpoint-dir", str(tmp_path / "ck"),
            "--run-dir", str(tmp_path / "run"), "--save", str(tmp_path / "n.json")]
    assert run_main(cli.main, argv, capsys)[0] == 0
    status, out, err = run_main(cli.main, argv, capsys)
    assert status == 2 and f"--save {tmp_path / 'n.json'}: a file is already there; give --overwrite" in err
    status, out, err = run_main(cli.main, [*argv, "--resume"], capsys)
    assert status == 0, err
    assert "saved the network to" in out and (tmp_path / "run" / "epochs.csv").read_text().count("\n") == 2


def test_reproduce_starts_again_a_row_it_left_unfinished_then_keeps_it(tmp_path, capsys, mnist_dir):
    """A row interrupted in its first epoch left args.json and no result: the same command reruns it."""
    out = tmp_path / "r"
    earlier_run(out / "ch1-30").joinpath("args.json").write_text(
        json.dumps({"command": "dlpy35.studies.reproduce ch1-30"}))
    argv = ["reproduce", "ch1-30", "--quick", "--out", str(out), "--device", "cpu", "--mode", "JAX"]
    status, stdout, err = run_main(cli.main, argv, capsys)
    assert status == 0, err
    assert (out / "ch1-30" / "network.json").is_file()
    status, stdout, err = run_main(cli.main, argv, capsys)
    assert status == 0 and "ch1-30: kept from" in stdout, err


# -- where a rescued network goes ---------------------------------------------------------------------------


def test_the_rescue_directory_is_rescued_in_the_users_data_directory_on_linux(tmp_path, monkeypatch):
    import platformdirs
    import platformdirs.unix

    monkeypatch.setattr(platformdirs, "PlatformDirs", platformdirs.unix.Unix)  # Linux's rules, wherever run
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "share"))
    assert outputs.rescue_dir() == tmp_path / "share" / "dlpy35" / "rescued"


def test_the_rescue_directory_on_windows_has_no_author_folder(monkeypatch):
    r"""``%LOCALAPPDATA%\dlpy35\rescued`` (not ``dlpy35\dlpy35``): platformdirs' Windows rules, its folder
    lookup faked (this is not Windows)."""
    import platformdirs
    import platformdirs.windows

    local = os.path.join(os.sep, "Users", "u", "AppData", "Local")
    monkeypatch.setattr(platformdirs, "PlatformDirs", platformdirs.windows.Windows)
    monkeypatch.setattr(platformdirs.windows, "get_win_folder",
                        lambda csidl: local if csidl == "CSIDL_LOCAL_APPDATA" else "elsewhere")
    assert outputs.rescue_dir() == Path(local) / "dlpy35" / "rescued"


@pytest.fixture
def second(monkeypatch):
    """The rescued networks' clock stopped at 2023-11-14 22:13:20 UTC; the stem of their names then."""
    import time
    from types import SimpleNamespace

    frozen = time.gmtime(1_700_000_000)
    monkeypatch.setattr(outputs, "time", SimpleNamespace(strftime=lambda fmt: time.strftime(fmt, frozen)))
    return f"network-rescued-20231114-221320-{os.getpid()}"


def test_rescued_networks_of_one_second_are_numbered_from_1(tmp_path, rescue, second):
    names = []
    for _ in range(3):
        with pytest.raises(OutputError):
            Finisher(Net([tmp_path]), ".json").write(tmp_path / "a.png", "--plot", Net([tmp_path]).save)
        names.append({p.name for p in rescue.iterdir()})
    assert names == [{f"{second}.json"}, {f"{second}.json", f"{second}-1.json"},
                     {f"{second}.json", f"{second}-1.json", f"{second}-2.json"}]


def test_when_the_1000_names_of_a_second_are_taken_the_next_place_is_tried(tmp_path, rescue, second):
    for n in range(1000):
        (tmp_path / f"{second}{f'-{n}' if n else ''}.npz").write_text("an earlier rescue")
    keep = Finisher(Net(), ".npz")
    with pytest.raises(OutputError) as raised:
        keep.write(tmp_path / "a.png", "--plot", Net([tmp_path]).save)
    assert keep.saved == rescue / f"{second}.npz" and keep.saved.read_text() == "the trained network"
    assert str(raised.value).endswith(f"the trained network is saved in {rescue / f'{second}.npz'}")
    assert len(list(tmp_path.glob("network-rescued-*"))) == 1000  # the earlier ones, untouched


def test_a_run_directory_that_cannot_take_its_network_rescues_it_with_its_suffix(tmp_path, rescue, second):
    """RunDir.finish: the message names the directory by its flag; the copy keeps the network's format."""
    from dlpy35.storage.rundir import RunDir

    (tmp_path / "run").mkdir()
    run = RunDir(tmp_path / "run", "network.npz", what="--run-dir")
    with pytest.raises(OutputError) as raised:
        run.finish(Net([tmp_path / "run"]), lambda path: None)
    kept = tmp_path / "user-data" / "rescued" / f"{second}.npz"
    assert str(raised.value) == (f"--run-dir {tmp_path / 'run' / 'network.npz'}: could not write it (No "
                                 f"space left on device); the trained network is saved in {kept}")


def test_a_run_directory_whose_file_is_an_input_asks_for_another_directory(tmp_path):
    model = tmp_path / "run" / "network.json"
    _make(tmp_path, ["run/network.json"])
    with pytest.raises(OutputError) as raised:
        Outputs([given("MODEL", model)], replace=True).directory(tmp_path / "run", "--run-dir", NAMES)
    assert str(raised.value) == (f"--run-dir {model}: is MODEL {model}, which this command reads; give "
                                 "another directory")


@pytest.mark.parametrize("layout, output", [(["locked/"], "locked/net.json"), (["afile"], "afile/net.json"),
                                            (["locked/"], "locked/new/deeper/net.json")])
def test_a_place_this_process_cannot_write_into_is_refused(tmp_path, monkeypatch, layout, output):
    """``locked`` is a folder without write permission, ``afile`` a file (executable, so access() would let
    it be written): faked, since the tests may run as root, whom permissions do not stop."""
    _make(tmp_path, layout)
    real = os.access

    def access(path, mode):
        return {"locked": not mode & os.W_OK, "afile": True}.get(Path(path).name, real(path, mode))

    monkeypatch.setattr(os, "access", access)
    existing = tmp_path / output.split("/")[0]
    with pytest.raises(OutputError) as raised:
        Outputs().file(tmp_path / output, "--save")
    assert str(raised.value) == (f"--save {tmp_path / output}: cannot write into {existing}; choose another "
                                 "place")


def test_outputs_replace_nothing_unless_told_and_a_data_directory_is_an_input_only_when_there(tmp_path):
    (tmp_path / "n.json").write_text("the user's file")
    with pytest.raises(OutputError, match="a file is already there; give --overwrite"):
        Outputs().file(tmp_path / "n.json", "--save")
    assert outputs.directory_inputs("--data-dir", tmp_path / "none") == []
    assert outputs.directory_inputs("--data-dir", tmp_path) == [(f"in --data-dir {tmp_path}", tmp_path)]
