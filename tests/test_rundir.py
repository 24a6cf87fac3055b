"""A run directory's network file (``RUN_DIR/network.json`` or ``.npz``): the checks on writing it
(:class:`dlpy35.storage.rundir.RunDir` and the output policy) and on reading it back (``evaluate``,
``predict``, ``export``).

Each bad path gives its own one-line error; a good one works.  Networks are untrained and tiny:
only the paths are under test.
"""

from __future__ import annotations

import errno

import numpy as np
import pytest
from command_helpers import run_main
from PIL import Image

from dlpy35 import network
from dlpy35.cli import main as cli
from dlpy35.network3 import FullyConnectedLayer, Network, SoftmaxLayer
from dlpy35.storage import saved_networks
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
