"""A run directory's network file (``RUN_DIR/network.json`` or ``.npz``): the checks on writing it
(:class:`dlpy35.storage.rundir.RunDir` and the output policy) and on reading it back (``evaluate``,
``predict``, ``export``).

Each bad path gives its own one-line error; a good one works.  Networks are untrained and tiny:
only the paths are under test.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

import numpy as np
import pytest
from command_helpers import run_main
from PIL import Image

from dlpy35 import network
from dlpy35.cli import main as cli
from dlpy35.network3 import FullyConnectedLayer, Network, SoftmaxLayer
from dlpy35.storage import outputs, saved_networks
from dlpy35.storage.metadata import Metadata
from dlpy35.storage.outputs import OutputError, Outputs
from dlpy35.storage.rundir import RunDir


def one_line_error(status, out, err, *words):
    assert status == 2 and out == "" and len(err.strip().splitlines()) == 1, (status, out, err)
    assert "Traceback" not in err
    for word in words:
        assert word in err, err


def save_network(path):
    """An untrained network saved at `path` as one of MNIST: the book's JSON for ``.json``, network3's npz for
    ``.npz``."""
    mnist = Metadata(dataset="MNIST", classes=tuple("0123456789"), image_shape=(28, 28), preparation="mnist")
    if path.suffix == ".json":
        network.Network([784, 10, 10], seed=0, mode="JAX", device="cpu").save(path, mnist)
    else:
        Network([FullyConnectedLayer(784, 10), SoftmaxLayer(10, 10)], 10, seed=0, mode="JAX",
                device="cpu").save(path, mnist)
    return path


# -- writing: RunDir, as the output policy checks it -----------------------------------------------
def check_run_dir(path, name, replace=False):
    """The policy's check of a run directory at `path` whose network file is `name`."""
    Outputs(replace=replace).directory(path, "--run-dir", RunDir(path, name).names)


@pytest.mark.parametrize("name", ["network.json", "network.npz"])
def test_a_directory_where_the_network_file_goes_is_refused_before_training(tmp_path, name):
    (tmp_path / "run" / name).mkdir(parents=True)
    for replace in (False, True):  # --overwrite replaces files, not directories
        with pytest.raises(OutputError) as raised:
            check_run_dir(tmp_path / "run", name, replace)
        assert str(raised.value) == f"--run-dir {tmp_path / 'run' / name}: is a directory; give a file name"


def test_a_link_to_a_directory_outside_is_refused_like_a_directory(tmp_path):
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "network.json").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(OutputError, match=r"network\.json: is a directory; give a file name$"):
        check_run_dir(tmp_path / "run", "network.json", replace=True)


def test_a_link_to_a_file_outside_is_replaced_only_when_told_and_the_file_outside_is_left_alone(tmp_path):
    """The network is written into the run directory: the link is replaced, its target unchanged."""
    outside = tmp_path / "precious.json"
    outside.write_text("not to be overwritten")
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "network.json").symlink_to(outside)
    with pytest.raises(OutputError, match=r"holds another run \(network\.json\); give --overwrite"):
        check_run_dir(tmp_path / "run", "network.json")
    check_run_dir(tmp_path / "run", "network.json", replace=True)
    run = RunDir(tmp_path / "run", "network.json")
    net = network.Network([784, 10, 10], seed=0, mode="JAX", device="cpu")
    assert run.finish(net, lambda path: False) == [tmp_path / "run" / "network.json"]
    assert outside.read_text() == "not to be overwritten"
    saved = tmp_path / "run" / "network.json"
    assert not saved.is_symlink() and saved.read_text().startswith("{")


def test_a_run_replacing_another_removes_that_runs_files_of_either_kind_and_nothing_else(tmp_path,
                                                                                         monkeypatch):
    from types import SimpleNamespace

    monkeypatch.setattr("sys.argv", ["dlpy35", "train-conv", "--overwrite"])
    outside = tmp_path / "precious.png"
    outside.write_text("kept")
    (tmp_path / "mine").mkdir()  # no run wrote it: the user's network.npz there stays
    (tmp_path / "mine" / "network.npz").write_text("the user's")
    RunDir(tmp_path / "mine", "network.json", replacing=True).start("dlpy35 train", SimpleNamespace())
    assert sorted(p.name for p in (tmp_path / "mine").iterdir()) == ["args.json", "network.npz"]
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "curves.png").symlink_to(outside)  # a link: removed, what it points to kept
    for name in {*RunDir.FILES, "notes.txt"} - {"curves.png"}:
        (tmp_path / "run" / name).write_text("the run replaced")
    there = {p.name for p in (tmp_path / "run").iterdir()}
    assert {"learning_speed.csv", "learning_speed.png", "history.json", "curves.png"} < there
    prog, args = "dlpy35 train-conv", SimpleNamespace()
    RunDir(tmp_path / "run", "network.npz").start(prog, args)  # not told to replace it
    assert {p.name for p in (tmp_path / "run").iterdir()} == there
    RunDir(tmp_path / "run", "network.npz", replacing=True).start(prog, args, {}, 3)
    assert {p.name for p in (tmp_path / "run").iterdir()} == there  # a run resumed at epoch 3 removes none
    RunDir(tmp_path / "run", "network.npz", replacing=True).start(prog, args)
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["args.json", "notes.txt"]  # args: its own
    assert outside.read_text() == "kept"


def test_args_json_lists_the_invocations_of_one_run(tmp_path, monkeypatch):
    """A resumed run keeps the invocations of its own args.json; another run's are not carried over."""
    import json
    from types import SimpleNamespace

    run = RunDir(tmp_path / "run", "network.json")
    (tmp_path / "run").mkdir()
    ident, other = {"seed": 0, "data_digest": "ab"}, {"seed": 1, "data_digest": "ab"}

    def started(argv, identity, epoch):
        monkeypatch.setattr("sys.argv", ["dlpy35", *argv])
        run.start("dlpy35 train", SimpleNamespace(epochs=int(argv[-1])), identity, epoch)
        return json.loads((tmp_path / "run" / "args.json").read_text())

    first = started(["--epochs", "3"], ident, 0)
    assert first["invocations"] == [{"argv": ["--epochs", "3"], "from_epoch": 0}]
    resumed = started(["--resume", "--epochs", "5"], ident, 2)
    assert resumed["invocations"] == [{"argv": ["--epochs", "3"], "from_epoch": 0},
                                      {"argv": ["--resume", "--epochs", "5"], "from_epoch": 2}]
    assert resumed["identity"] == ident and resumed["args"] == {"epochs": 5}
    assert resumed["argv"] == ["--resume", "--epochs", "5"]  # the latest invocation's
    # an args.json of another run (or none readable): this invocation alone, which says where it started
    assert started(["--resume", "--epochs", "6"], other, 5)["invocations"] == [
        {"argv": ["--resume", "--epochs", "6"], "from_epoch": 5}]
    (tmp_path / "run" / "args.json").write_text("{not json")
    assert len(started(["--resume", "--epochs", "7"], other, 5)["invocations"]) == 1
    # a run started afresh (epoch 0) lists itself only, whatever was there
    assert len(started(["--epochs", "3"], other, 0)["invocations"]) == 1


def test_runs_kept_by_default_get_a_new_directory_each_even_in_the_same_second(tmp_path, monkeypatch):
    """A directory of the name, made by anyone (another run, the user), is never reused: ``-2``, ``-3``."""
    from dlpy35.storage.rundir import default_path

    monkeypatch.setenv("DLPY35_RUNS", str(tmp_path / "runs"))
    when = 1_700_000_000.0  # one second for all: the clock cannot tell the runs apart
    base = default_path("train", when)
    assert base.parent == tmp_path / "runs" and base.name.startswith("train-20") and len(base.name) == 21
    made = [RunDir(default_path("train", when), "network.json", fresh=True).make() for _ in range(3)]
    assert made == [base, base.with_name(f"{base.name}-2"), base.with_name(f"{base.name}-3")]
    (base.with_name(f"{base.name}-4") / "mine.txt").parent.mkdir()  # the user's folder of that name
    run = RunDir(default_path("train", when), "network.npz", fresh=True)
    assert run.make() == base.with_name(f"{base.name}-5") and run.network == run.path / "network.npz"
    assert all(p.is_dir() and not any(p.iterdir()) for p in made) and not run.fresh
    assert run.make() == run.path  # made once: a second call makes nothing


def test_a_default_run_directory_that_cannot_be_made_is_one_line(tmp_path, monkeypatch):
    (tmp_path / "runs").write_text("a file where the runs folder goes")
    monkeypatch.setenv("DLPY35_RUNS", str(tmp_path / "runs"))
    from dlpy35.storage.rundir import default_path

    with pytest.raises(OutputError, match=r"cannot create the run directory \(.*\); give --run-dir DIR, or "
                                          r"--no-save to keep nothing$"):
        RunDir(default_path("train"), "network.json", fresh=True).make()


def test_args_json_records_the_versions_and_the_device_and_mode_the_run_resolved(tmp_path):
    import json
    import platform
    from importlib import metadata
    from types import SimpleNamespace

    import dlpy35
    from dlpy35.engine.device import resolve

    run = RunDir(tmp_path, "network.json")
    run.start("dlpy35 train", SimpleNamespace(seed=0), device=resolve("cpu", "JAX", "float64"))
    doc = json.loads((tmp_path / "args.json").read_text())
    assert doc["device"] == {"kind": "cpu", "mode": "JAX", "dtype": "float64"}
    v = doc["versions"]
    assert (v["dlpy35"], v["python"]) == (dlpy35.__version__, platform.python_version())
    assert all(v[name] == metadata.version(name) for name in ("pytensor", "jax", "numpy"))


@pytest.mark.parametrize("content, why", [
    (b"{not json", "not JSON"),
    (b"\xff\xfe", "not JSON"),
    (b"[" * 100_000 + b"]" * 100_000, "larger than"),
    (b"[" * 50_000 + b"]" * 50_000, "not JSON"),  # nested beyond Python's recursion limit
    (b'["a list"]', "holds no command and args"),
    (b'{"command": "dlpy35 train", "args": [1]}', "holds no command and args"),
    (b'{"command": 3, "args": {}}', "holds no command and args"),
])
def test_read_args_refuses_what_is_not_an_args_json_in_one_line(tmp_path, content, why):
    from dlpy35.storage.rundir import read_args

    path = tmp_path / "args.json"
    path.write_bytes(content)
    with pytest.raises(ValueError) as raised:
        read_args(path, limit=150_000)
    assert str(raised.value).startswith(f"{path}: {why}") and "\n" not in str(raised.value)
    with pytest.raises(ValueError, match="cannot be read"):
        read_args(tmp_path / "elsewhere")


def test_read_args_reads_a_run_directorys_args_json(tmp_path):
    from dlpy35.storage.rundir import read_args

    doc = {"command": "dlpy35 train", "args": {"seed": 3}, "versions": {}}
    (tmp_path / "args.json").write_text(__import__("json").dumps(doc))
    assert read_args(tmp_path) == read_args(tmp_path / "args.json") == doc


# -- reading: evaluate, predict and export ------------------------------------------------------
@pytest.fixture(scope="module")
def digit(tmp_path_factory):
    """A PNG of a black disc on white paper, for predict."""
    yy, xx = np.mgrid[:60, :60]
    page = np.where((yy - 30) ** 2 + (xx - 30) ** 2 <= 15 ** 2, 0, 255).astype(np.uint8)
    path = tmp_path_factory.mktemp("digit") / "disc.png"
    Image.fromarray(page).save(path)
    return path


def command(name, model, digit, tmp_path):
    """The argv of `name` reading `model`."""
    return {"evaluate": ["evaluate", str(model), "--mode", "JAX", "--device", "cpu"],
            "predict": ["predict", str(model), str(digit), "--mode", "JAX", "--device", "cpu"],
            "export": ["export", str(model), "-o",
                       str(tmp_path / "out" / f"{model.suffix[1:] or 'dir'}.onnx")]}[name]


COMMANDS = ["evaluate", "predict", "export"]


@pytest.mark.parametrize("name", COMMANDS)
def test_a_run_dirs_network_file_is_read_by_each_command(name, digit, tmp_path, capsys, mnist_dir):
    for file in ("network.json", "network.npz"):
        model = save_network(tmp_path / "run" / file)
        status, out, err = run_main(cli.main, command(name, model, digit, tmp_path), capsys)
        assert status == 0 and err == "", err
        assert {"evaluate": "accuracy: ", "predict": f"{digit}: ", "export": "wrote "}[name] in out


@pytest.mark.parametrize("name", COMMANDS)
def test_a_run_dir_without_its_network_file(name, digit, tmp_path, capsys):
    """A run interrupted before the end has args.json and epochs.csv, but no network."""
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "args.json").write_text("{}")
    model = tmp_path / "run" / "network.json"
    one_line_error(*run_main(cli.main, command(name, model, digit, tmp_path), capsys),
                   f"{model}: no such file; give a network.json")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("name", COMMANDS)
@pytest.mark.parametrize("given", ["the run dir", "a directory named network.json"])
def test_a_directory_given_as_the_network_file(name, given, digit, tmp_path, capsys):
    (tmp_path / "run" / "network.json").mkdir(parents=True)
    model = tmp_path / "run" if given == "the run dir" else tmp_path / "run" / "network.json"
    one_line_error(*run_main(cli.main, command(name, model, digit, tmp_path), capsys),
                   f"{model}: is a directory; give a network.json")


@pytest.mark.parametrize("name", COMMANDS)
def test_links_outside_the_run_dir_are_followed_and_a_dangling_one_is_missing(name, digit, tmp_path, capsys,
                                                                             mnist_dir):
    model = tmp_path / "run" / "network.json"
    model.parent.mkdir()
    model.symlink_to(save_network(tmp_path / "kept" / "network.json"))
    status, _, err = run_main(cli.main, command(name, model, digit, tmp_path), capsys)
    assert status == 0, err
    (tmp_path / "kept" / "network.json").unlink()
    again = command(name, model, digit, tmp_path) + (["--overwrite"] if name == "export" else [])  # its -o
    one_line_error(*run_main(cli.main, again, capsys), f"{model}: no such file")


@pytest.mark.parametrize("name", COMMANDS)
def test_an_unreadable_network_file(name, digit, tmp_path, capsys, monkeypatch):
    """Permission denied, as for a file of another user (faked: the tests may run as root, who reads all)."""
    model = save_network(tmp_path / "run" / "network.json")

    def denied(path, *args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", str(path))

    monkeypatch.setattr(saved_networks, "open", denied, raising=False)
    one_line_error(*run_main(cli.main, command(name, model, digit, tmp_path), capsys),
                   f"{model}: cannot read it (Permission denied)")
    assert not (tmp_path / "out").exists()


# -- the default place of a run, args.json's invocations and read_args' bound: the cases in detail ---------
@pytest.fixture
def utc(monkeypatch):
    """The local time zone is UTC for the test (the process's zone is put back after)."""
    import time

    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.parametrize("env, expected", [(None, "runs"), ("", "runs"), ("/data/my-runs", "/data/my-runs")])
def test_runs_root_is_dlpy35_runs_else_runs_in_the_current_directory(monkeypatch, env, expected):
    from dlpy35.storage.rundir import runs_root

    if env is None:
        monkeypatch.delenv("DLPY35_RUNS", raising=False)
    else:
        monkeypatch.setenv("DLPY35_RUNS", env)
    assert runs_root() == Path(expected)


def test_default_path_names_the_command_and_the_local_time_it_started(tmp_path, monkeypatch, utc):
    """1,700,000,000 s after the epoch is 2023-11-14 22:13:20 UTC; no time given is now."""
    import time

    from dlpy35.storage.rundir import default_path

    monkeypatch.setenv("DLPY35_RUNS", str(tmp_path))
    assert default_path("train", 1_700_000_000) == tmp_path / "train-20231114-221320"
    assert default_path("train-conv", 0) == tmp_path / "train-conv-19700101-000000"
    before = time.strftime("%Y%m%d-%H%M%S")
    now = default_path("train").name
    assert now in {f"train-{before}", f"train-{time.strftime('%Y%m%d-%H%M%S')}"}  # a second may turn between


def test_a_default_run_directory_is_made_with_every_missing_folder_above_it(tmp_path, monkeypatch):
    from dlpy35.storage.rundir import default_path

    monkeypatch.setenv("DLPY35_RUNS", str(tmp_path / "a" / "b" / "runs"))
    run = RunDir(default_path("train", 0), "network.json", fresh=True)
    assert run.make().parent == tmp_path / "a" / "b" / "runs" and run.path.is_dir() and run.made


def test_a_file_where_the_runs_folder_goes_is_named_in_the_message(tmp_path, monkeypatch):
    """The message names the run directory and the file in its way (not some other failure further on)."""
    from dlpy35.storage.rundir import default_path

    (tmp_path / "runs").write_text("a file where the runs folder goes")
    monkeypatch.setenv("DLPY35_RUNS", str(tmp_path / "runs"))
    base = default_path("train", 0)
    with pytest.raises(OutputError) as raised:
        RunDir(base, "network.json", fresh=True).make()
    assert str(raised.value) == (f"{base}: cannot create the run directory ({tmp_path / 'runs'} is a file); "
                                 "give --run-dir DIR, or --no-save to keep nothing")


def _resumed(tmp_path, monkeypatch, earlier):
    """The invocations args.json lists after a resume (from epoch 2) of the run ``{"seed": 0}`` whose
    args.json held `earlier` (bytes)."""
    import json
    from types import SimpleNamespace

    (tmp_path / "args.json").write_bytes(earlier)
    monkeypatch.setattr("sys.argv", ["dlpy35", "--resume"])
    RunDir(tmp_path, "network.json").start("dlpy35 train", SimpleNamespace(), {"seed": 0}, 2)
    return json.loads((tmp_path / "args.json").read_text())["invocations"]


@pytest.mark.parametrize("invocations", ["null", '"text"', '{"argv": []}', "absent"])
def test_an_args_json_of_the_run_whose_invocations_are_not_a_list_gives_none(tmp_path, monkeypatch,
                                                                              invocations):
    earlier = '{"identity": {"seed": 0}' + (f', "invocations": {invocations}}}' if invocations != "absent"
                                            else "}")
    assert _resumed(tmp_path, monkeypatch, earlier.encode()) == [{"argv": ["--resume"], "from_epoch": 2}]


def test_args_json_is_read_as_utf8_whatever_the_locale(tmp_path, monkeypatch):
    """An args.json with UTF-8 text in it (edited by hand, written by another tool) keeps its invocations
    under an ASCII locale too."""
    import locale

    earlier = ('{"identity": {"seed": 0}, "note": "données", '
               '"invocations": [{"argv": ["é"], "from_epoch": 0}]}')
    before = locale.setlocale(locale.LC_CTYPE)
    locale.setlocale(locale.LC_CTYPE, "C")  # the locale's encoding is ASCII now
    try:
        found = _resumed(tmp_path, monkeypatch, earlier.encode("utf-8"))
    finally:
        locale.setlocale(locale.LC_CTYPE, before)
    assert found == [{"argv": ["é"], "from_epoch": 0}, {"argv": ["--resume"], "from_epoch": 2}]


def test_read_args_takes_an_args_json_of_exactly_the_limit_and_refuses_one_byte_more(tmp_path):
    from dlpy35.storage.rundir import read_args

    doc = b'{"command": "dlpy35 train", "args": {}}'
    path = tmp_path / "args.json"
    path.write_bytes(doc + b" " * (200 - len(doc)))  # 200 bytes: JSON ignores the trailing spaces
    assert read_args(path, limit=200) == {"command": "dlpy35 train", "args": {}}
    path.write_bytes(doc + b" " * (201 - len(doc)))
    with pytest.raises(ValueError, match=r"larger than 200 bytes"):
        read_args(path, limit=200)


def test_read_args_refuses_a_fifo_or_a_device_before_reading_a_byte(tmp_path):
    """A FIFO or a device (``/dev/zero``) never ends, and opening a FIFO waits for a writer: refused."""
    from dlpy35.storage.rundir import read_args

    os.mkfifo(tmp_path / "args.json")
    for path in (tmp_path / "args.json", "/dev/zero"):
        with pytest.raises(ValueError, match=r"not a regular file, so not a run's args.json"):
            read_args(path)


def test_a_default_run_directory_tries_each_name_of_its_second_once_up_to_9999(tmp_path, monkeypatch):
    """When every name is taken: PATH, PATH-2 ... PATH-9999 tried once each, in order, then one line."""
    from dlpy35.storage import rundir

    tried = []

    def taken(directory, run, **how):
        if not how:  # a run directory's own mkdir (its parent's is made with parents and exist_ok)
            tried.append(directory.name)
        return bool(how)

    monkeypatch.setattr(rundir, "_make", taken)
    base = tmp_path / "train-19700101-000000"
    with pytest.raises(OutputError) as raised:
        RunDir(base, "network.json", fresh=True).make()
    assert tried == [base.name, *(f"{base.name}-{n}" for n in range(2, 10_000))]
    assert str(raised.value) == f"{base}: 9,999 run directories of this second exist; give --run-dir DIR"


def test_a_run_directory_whose_name_cannot_be_made_is_named_in_the_message(tmp_path, monkeypatch):
    """A name longer than the file system takes (255 bytes on Linux): the one line names it and why."""
    from dlpy35.storage.rundir import default_path

    monkeypatch.setenv("DLPY35_RUNS", str(tmp_path))
    base = default_path("x" * 300, 0)
    with pytest.raises(OutputError) as raised:
        RunDir(base, "network.json", fresh=True).make()
    assert str(raised.value) == (f"{base}: cannot create the run directory (File name too long); give "
                                 "--run-dir DIR, or --no-save to keep nothing")


def test_finish_saves_the_network_and_draws_the_curves_into_the_run_directory(tmp_path):
    pytest.importorskip("matplotlib")

    class Net:
        def save(self, path):
            path.write_text("the trained network")

    drawn = []
    run = RunDir(tmp_path, "network.json")
    assert run.finish(Net(), lambda path: drawn.append(path) or True) == [tmp_path / "network.json",
                                                                          tmp_path / "curves.png"]
    assert drawn == [tmp_path / "curves.png"]
    assert (tmp_path / "network.json").read_text() == "the trained network"


def test_curves_that_cannot_be_drawn_are_one_line_naming_them_and_the_saved_network(tmp_path):
    pytest.importorskip("matplotlib")

    class Net:
        def save(self, path):
            path.write_text("the trained network")

    def full(path):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    with pytest.raises(OutputError) as raised:
        RunDir(tmp_path, "network.json", what="--run-dir").finish(Net(), full)
    assert str(raised.value) == (f"--run-dir {tmp_path / 'curves.png'}: could not write it (No space left on "
                                 f"device); the trained network is saved in {tmp_path / 'network.json'}")


def test_args_json_of_a_run_started_afresh_by_default_lists_this_invocation_alone(tmp_path, monkeypatch):
    """``start`` without an epoch starts at 0: an args.json of the same run there is not continued."""
    import json
    from decimal import Decimal
    from types import SimpleNamespace

    (tmp_path / "args.json").write_text(json.dumps({"identity": {"seed": 0}, "invocations": [
        {"argv": ["--epochs", "3"], "from_epoch": 0}]}))
    monkeypatch.setattr("sys.argv", ["dlpy35", "--epochs", "2"])
    # a value JSON has no type for is written as its text
    RunDir(tmp_path, "network.json").start("dlpy35 train", SimpleNamespace(eta=Decimal("0.5")), {"seed": 0})
    text = (tmp_path / "args.json").read_text()
    doc = json.loads(text)
    assert doc["invocations"] == [{"argv": ["--epochs", "2"], "from_epoch": 0}]
    assert doc["args"] == {"eta": "0.5"} and doc["device"] is None
    assert text.startswith('{\n "command": "dlpy35 train",\n "argv": [\n  "--epochs",')  # indented


def test_versions_gives_none_for_a_package_not_installed(monkeypatch):
    from importlib import metadata

    from dlpy35.storage import rundir

    monkeypatch.setattr(rundir, "PACKAGES", ("numpy", "dlpy35-no-such-package"))
    found = rundir.versions()
    assert found["numpy"] == metadata.version("numpy") and found["dlpy35-no-such-package"] is None
    assert list(found) == ["dlpy35", "python", "numpy", "dlpy35-no-such-package"]


def test_plain_args_gives_paths_as_text_and_leaves_the_run_directory_out(tmp_path):
    from types import SimpleNamespace

    from dlpy35.storage.rundir import plain_args

    args = SimpleNamespace(run=RunDir(tmp_path, "network.json"), save=Path("out") / "n.json", seed=3,
                           sizes=[784, 10], plot=None)
    assert plain_args(args) == {"save": "out/n.json", "seed": 3, "sizes": [784, 10], "plot": None}


def test_a_run_directory_given_is_neither_made_nor_removed_and_is_called_the_run_directory(tmp_path):
    """Not ``fresh`` by default: make() creates nothing, discard() leaves even an empty directory alone."""

    class Full:
        def save(self, path):
            raise OSError(errno.ENOSPC, "No space left on device", str(path))

    run = RunDir(tmp_path / "given", "network.json")
    assert run.make() == tmp_path / "given" and not (tmp_path / "given").exists() and not run.made
    (tmp_path / "given").mkdir()
    run.discard()
    assert (tmp_path / "given").is_dir()
    with pytest.raises(OutputError, match=r"^the run directory .*given/network\.json: could not write it"):
        keep = outputs.Finisher(Full(), ".json", saved=tmp_path / "n.json")  # no rescue: saved already
        run.finish(Full(), lambda path: None, keep)


def test_a_fresh_run_directory_left_empty_is_removed_and_one_written_in_is_kept(tmp_path):
    for written in (False, True):
        run = RunDir(tmp_path / f"fresh-{written}", "network.json", fresh=True)
        run.make()
        if written:
            (run.path / "args.json").write_text("{}")
        run.discard()
        assert run.path.exists() == written
