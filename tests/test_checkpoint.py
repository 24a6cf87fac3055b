"""Tests for checkpoints (dlpy35.storage.checkpoint) and exact resume in network2.Network.SGD.

An interrupted run -- by Ctrl-C after an epoch, or in the middle of one -- resumed
into a new network ends with weights bit-identical to an uninterrupted run.  A
checkpoint of another network or run (any setting of the run's identity changed),
none at all, or a corrupt one, is refused with CheckpointError, and a process killed while saving leaves the
previous checkpoint loadable.  Float32 on JAX's CPU device, ~400 synthetic rows.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from dlpy35 import network2
from dlpy35.storage import checkpoint
from dlpy35.storage.checkpoint import CheckpointError

REPO = Path(__file__).resolve().parents[1]
SIZES = [12, 8, 4]
EPOCHS = 4
SEED = 3


def _data():
    rng = np.random.default_rng(0)
    x = rng.random((505, SIZES[0])).astype(np.float32)
    w = np.random.default_rng(99).normal(size=(SIZES[0], SIZES[-1]))
    labels = np.argmax((x - 0.5) @ w, axis=1).astype(np.int64)
    # 405 training rows: 40 mini-batches of 10 and a short one of 5
    return (x[:405], labels[:405]), (x[405:], labels[405:])


TRAIN, VAL = _data()
SETTINGS = dict(
    mini_batch_size=10, eta=0.5, lmbda=1.0, evaluation_data=VAL,
    monitor_evaluation_cost=True, monitor_evaluation_accuracy=True,
    monitor_training_cost=True, monitor_training_accuracy=True, verbose=False,
)


def _params(net):
    return [p.copy() for p in net.weights + net.biases]


def _assert_same_params(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert x.dtype == y.dtype
        assert np.array_equal(x, y), "parameters differ"


def _history_without_seconds(h):
    return {k: v for k, v in h.items() if k != "seconds"}


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """A 4-epoch run with a checkpoint dir: final params, params after each epoch, lists, history."""
    ckpt = tmp_path_factory.mktemp("uninterrupted")
    net = network2.Network(SIZES, seed=SEED)
    per_epoch = []
    lists = net.SGD(TRAIN, EPOCHS, checkpoint_dir=ckpt, on_epoch=lambda r: per_epoch.append(_params(net)),
                    **SETTINGS)
    return {"params": _params(net), "per_epoch": per_epoch, "lists": lists, "history": net.history,
            "dir": ckpt}


def test_uninterrupted_run_is_reproducible_and_checkpointed(uninterrupted, tmp_path):
    assert [len(v) for v in uninterrupted["lists"]] == [EPOCHS] * 4
    weights, biases, meta = checkpoint.load(uninterrupted["dir"])
    _assert_same_params(weights + biases, uninterrupted["params"])
    assert meta["sizes"] == SIZES and meta["history"]["epoch"] == EPOCHS
    # the weights moved: the test below is not comparing untrained networks
    assert not np.array_equal(uninterrupted["per_epoch"][0][0], uninterrupted["params"][0])


def test_resume_with_nothing_to_resume_is_refused(tmp_path):
    """resume=True on a directory without a checkpoint is a mistake, not a fresh start: nothing trains."""
    net = network2.Network(SIZES, seed=SEED)
    before = _params(net)
    with pytest.raises(CheckpointError, match="no checkpoint to resume") as info:
        net.SGD(TRAIN, EPOCHS, checkpoint_dir=tmp_path, resume=True, **SETTINGS)
    assert str(tmp_path) in str(info.value) and "\n" not in str(info.value)
    _assert_same_params(_params(net), before)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("same_net", [False, True], ids=["new-network", "same-network"])
def test_interrupt_after_epoch_then_resume_is_bit_identical(uninterrupted, tmp_path, same_net):
    net = network2.Network(SIZES, seed=SEED)

    def stop_after_epoch_1(record):
        if record["epoch"] == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        net.SGD(TRAIN, EPOCHS, checkpoint_dir=tmp_path, on_epoch=stop_after_epoch_1, **SETTINGS)
    # the checkpoint holds the end of epoch 1
    weights, biases, meta = checkpoint.load(tmp_path)
    assert meta["history"]["epoch"] == 2
    _assert_same_params(weights + biases, uninterrupted["per_epoch"][1])
    _assert_same_params(_params(net), uninterrupted["per_epoch"][1])

    resumed = net if same_net else network2.Network(SIZES, seed=SEED)
    if not same_net:
        assert not np.array_equal(resumed.weights[0], uninterrupted["per_epoch"][1][0])
    epochs_seen = []
    lists = resumed.SGD(TRAIN, EPOCHS, checkpoint_dir=tmp_path, resume=True,
                        on_epoch=lambda r: epochs_seen.append(r["epoch"]), **SETTINGS)
    assert epochs_seen == [2, 3]  # only the remaining epochs ran
    _assert_same_params(_params(resumed), uninterrupted["params"])
    assert lists == uninterrupted["lists"]
    assert _history_without_seconds(resumed.history) == _history_without_seconds(uninterrupted["history"])


def test_interrupt_inside_an_epoch_then_resume_is_bit_identical(uninterrupted, tmp_path, monkeypatch):
    net = network2.Network(SIZES, seed=SEED)
    original = net.trainer._train_epoch
    calls = []

    def interrupted_third_epoch(*args, **kwargs):
        calls.append(1)
        original(*args, **kwargs)  # epoch 2 trains (weights and generator move) ...
        if len(calls) == 3:
            raise KeyboardInterrupt  # ... and Ctrl-C arrives before it completes

    monkeypatch.setattr(net.trainer, "_train_epoch", interrupted_third_epoch)
    with pytest.raises(KeyboardInterrupt):
        net.SGD(TRAIN, EPOCHS, checkpoint_dir=tmp_path, **SETTINGS)
    assert len(calls) == 3
    # the network and the checkpoint are back at the end of the last completed epoch (1)
    weights, biases, meta = checkpoint.load(tmp_path)
    assert meta["history"]["epoch"] == 2
    assert len(meta["history"]["evaluation_accuracy"]) == 2
    _assert_same_params(weights + biases, uninterrupted["per_epoch"][1])
    _assert_same_params(_params(net), uninterrupted["per_epoch"][1])
    assert net.history["epoch"] == 2 and len(net.history["training_cost"]) == 2
    assert net.rng.bit_generator.state == meta["rng"]
    assert os.listdir(tmp_path) == [checkpoint.FILENAME]

    resumed = network2.Network(SIZES, seed=SEED)
    lists = resumed.SGD(TRAIN, EPOCHS, checkpoint_dir=tmp_path, resume=True, **SETTINGS)
    _assert_same_params(_params(resumed), uninterrupted["params"])
    assert lists == uninterrupted["lists"]


def test_resume_a_finished_run_trains_no_more(uninterrupted, tmp_path):
    found = checkpoint.load(uninterrupted["dir"])
    checkpoint.save(tmp_path, *found)
    net = network2.Network(SIZES, seed=SEED)
    lists = net.SGD(TRAIN, EPOCHS, checkpoint_dir=tmp_path, resume=True,
                    on_epoch=lambda r: pytest.fail("no epoch should run"), **SETTINGS)
    _assert_same_params(_params(net), uninterrupted["params"])
    assert lists == uninterrupted["lists"]


def test_extend_a_finished_run_with_more_epochs(uninterrupted, tmp_path, capsys):
    """2 epochs to completion, then resume=True with epochs=4: the same as 4 epochs at once (and, not
    verbose, silently)."""
    net = network2.Network(SIZES, seed=SEED)
    net.SGD(TRAIN, 2, checkpoint_dir=tmp_path, **SETTINGS)
    _assert_same_params(_params(net), uninterrupted["per_epoch"][1])
    resumed = network2.Network(SIZES, seed=SEED)
    lists = resumed.SGD(TRAIN, EPOCHS, checkpoint_dir=tmp_path, resume=True, **SETTINGS)
    _assert_same_params(_params(resumed), uninterrupted["params"])
    assert lists == uninterrupted["lists"]
    assert capsys.readouterr().out == ""


def test_resume_needs_checkpoint_dir():
    net = network2.Network(SIZES, seed=0)
    with pytest.raises(ValueError, match="checkpoint_dir"):
        net.SGD(TRAIN, 1, resume=True, **SETTINGS)


def _other(data, seed):
    """Data of the same shapes and kinds as `data`, other values."""
    rng = np.random.default_rng(seed)
    return rng.random(data[0].shape).astype(np.float32), rng.permutation(data[1])


# Each setting of the run's identity changed in turn: (the setting named, Network's arguments, SGD's).
CHANGED = [
    ("sizes", {"sizes": [12, 9, 4]}, {}),
    ("cost", {"cost": "QuadraticCost"}, {}),
    ("seed", {"seed": SEED + 1}, {}),
    ("init", {"weight_init": "large"}, {}),
    ("lmbda", {}, {"lmbda": 2.0}),
    ("reg", {}, {"reg": "l1"}),
    ("early_stopping_n", {}, {"early_stopping_n": 3}),
    ("lr_schedule_n", {}, {"lr_schedule_n": 3}),
    ("learning_speed", {}, {"monitor_learning_speed": 100}),
    ("stages", {}, {"then": [(2, 0.1)]}),
    ("monitor", {}, {"monitor_training_cost": False}),
    ("dtype", {"dtype": "float64", "mode": "NUMBA"}, {}),
    ("mini_batch_size", {}, {"mini_batch_size": 5}),
    ("eta0", {}, {"eta": 0.25}),
    ("n_train", {}, {"training_data": (TRAIN[0][:400], TRAIN[1][:400])}),
    ("data_digest", {}, {"training_data": _other(TRAIN, 1)}),
    ("data_digest", {}, {"evaluation_data": _other(VAL, 2)}),
]


@pytest.mark.parametrize("key, net_change, sgd_change", CHANGED,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CHANGED)])
def test_resume_refuses_another_run_naming_the_setting(uninterrupted, tmp_path, key, net_change, sgd_change):
    checkpoint.save(tmp_path, *checkpoint.load(uninterrupted["dir"]))
    before_file = checkpoint.path_in(tmp_path).read_bytes()
    recorded = checkpoint.load(tmp_path)[2]["identity"]
    net = network2.Network(**{"sizes": SIZES, "seed": SEED, **net_change})
    before = _params(net)
    sgd = {"training_data": TRAIN, "epochs": EPOCHS, **SETTINGS, **sgd_change}
    with pytest.raises(CheckpointError) as info:
        net.SGD(checkpoint_dir=tmp_path, resume=True, **sgd)
    msg = str(info.value)
    assert msg.startswith(f"{checkpoint.path_in(tmp_path)}: cannot resume: the checkpoint has {key}=")
    assert f"{key}={recorded[key]!r} but this run has {key}=" in msg and "\n" not in msg
    _assert_same_params(_params(net), before)  # nothing loaded, nothing trained
    assert checkpoint.path_in(tmp_path).read_bytes() == before_file


def test_a_stage_moved_is_another_run_and_a_longer_last_stage_the_same(tmp_path):
    """``then``: when each later stage starts is the run's; how long the last one lasts is not."""
    net = network2.Network(SIZES, seed=SEED)
    net.SGD(TRAIN, 1, then=[(2, 0.1)], checkpoint_dir=tmp_path, **SETTINGS)
    moved = r"has stages=\[\[1, 0.1\]\] but this run has stages=\[\[2, 0.1\]\]"
    with pytest.raises(CheckpointError, match=moved):
        network2.Network(SIZES, seed=SEED).SGD(TRAIN, 2, then=[(1, 0.1)], checkpoint_dir=tmp_path,
                                               resume=True, **SETTINGS)
    resumed = network2.Network(SIZES, seed=SEED)
    resumed.SGD(TRAIN, 1, then=[(4, 0.1)], checkpoint_dir=tmp_path, resume=True, **SETTINGS)
    assert resumed.history["epoch"] == 5 and resumed.history["eta"] == [0.5] + [0.1] * 4


def test_what_is_not_the_runs_identity_may_change_on_resume(uninterrupted, tmp_path):
    """More epochs, and the epoch mode (how the same arithmetic is called), are not part of the run."""
    net = network2.Network(SIZES, seed=SEED)
    net.SGD(TRAIN, 2, checkpoint_dir=tmp_path, **SETTINGS)
    resumed = network2.Network(SIZES, seed=SEED, epoch_mode="step")
    resumed.SGD(TRAIN, EPOCHS, checkpoint_dir=tmp_path, resume=True, **SETTINGS)
    assert resumed.history["epoch"] == EPOCHS


def test_different_architecture_message_names_sizes(uninterrupted):
    net = network2.Network([12, 9, 4], seed=0)
    with pytest.raises(CheckpointError) as info:
        net.SGD(TRAIN, EPOCHS, checkpoint_dir=uninterrupted["dir"], resume=True, **SETTINGS)
    msg = str(info.value)
    assert "sizes" in msg and "[12, 8, 4]" in msg and "[12, 9, 4]" in msg


# -- corrupt checkpoints ---------------------------------------------------------------------


def _write_npz(directory, **arrays):
    with open(checkpoint.path_in(directory), "wb") as f:
        np.savez(f, **arrays)


@pytest.mark.parametrize("kind", ["garbage", "empty", "truncated", "no meta", "meta not json", "meta a list",
                                  "meta without sizes", "missing weights", "other format"])
def test_corrupt_checkpoint_raises_checkpoint_error(uninterrupted, tmp_path, kind):
    path = checkpoint.path_in(tmp_path)
    good = checkpoint.path_in(uninterrupted["dir"]).read_bytes()
    meta = {"format": checkpoint.FORMAT, "sizes": [2, 1]}
    if kind == "garbage":
        path.write_bytes(b"\x00this is not a zip file" * 50)
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "truncated":
        path.write_bytes(good[: len(good) // 2])
    elif kind == "no meta":
        _write_npz(tmp_path, w0=np.zeros((1, 2)), b0=np.zeros((1, 1)))
    elif kind == "meta not json":
        _write_npz(tmp_path, w0=np.zeros((1, 2)), b0=np.zeros((1, 1)), meta=np.array("{not json"))
    elif kind == "meta a list":
        _write_npz(tmp_path, w0=np.zeros((1, 2)), b0=np.zeros((1, 1)), meta=np.array("[1, 2]"))
    elif kind == "meta without sizes":
        _write_npz(tmp_path, w0=np.zeros((1, 2)), b0=np.zeros((1, 1)),
                   meta=np.array(json.dumps({"format": 1})))
    elif kind == "missing weights":
        _write_npz(tmp_path, b0=np.zeros((1, 1)), meta=np.array(json.dumps(meta)))
    elif kind == "other format":
        _write_npz(tmp_path, w0=np.zeros((1, 2)), b0=np.zeros((1, 1)),
                   meta=np.array(json.dumps({**meta, "format": 99})))
    with pytest.raises(CheckpointError) as info:
        checkpoint.load(tmp_path)
    assert str(path) in str(info.value)
    # SGD refuses it the same way, and trains nothing
    net = network2.Network(SIZES, seed=0)
    before = _params(net)
    with pytest.raises(CheckpointError):
        net.SGD(TRAIN, EPOCHS, checkpoint_dir=tmp_path, resume=True, **SETTINGS)
    _assert_same_params(_params(net), before)


@pytest.mark.parametrize("kind", ["arrays do not match sizes", "no history", "an eta float32 cannot hold"])
def test_resume_from_inconsistent_checkpoint_raises_checkpoint_error(uninterrupted, tmp_path, kind):
    """A readable file whose settings match but whose contents are not a usable checkpoint (the network
    computes in float32, whose largest value is about 3.4e38)."""
    weights, biases, meta = checkpoint.load(uninterrupted["dir"])
    meta = {k: v for k, v in meta.items() if k != "format"}
    if kind == "arrays do not match sizes":
        weights = [w.T for w in weights]
    elif kind == "no history":
        del meta["history"]
    else:
        meta["history"]["next_eta"] = 1e39
    checkpoint.save(tmp_path, weights, biases, meta)
    net = network2.Network(SIZES, seed=SEED)  # the checkpoint's run: refused for its contents, not its seed
    with pytest.raises(CheckpointError) as info:
        net.SGD(TRAIN, EPOCHS, checkpoint_dir=tmp_path, resume=True, **SETTINGS)
    assert str(checkpoint.path_in(tmp_path)) in str(info.value) and "incomplete checkpoint" in str(info.value)


def test_load_returns_none_without_a_checkpoint(tmp_path):
    assert checkpoint.load(tmp_path) is None
    assert checkpoint.load(tmp_path / "does-not-exist") is None


def test_save_load_round_trip(tmp_path):
    rng = np.random.default_rng(5)
    weights = [rng.standard_normal((3, 2)).astype(np.float32), rng.standard_normal((1, 3)).astype(np.float32)]
    biases = [rng.standard_normal((3, 1)), rng.standard_normal((1, 1))]
    meta = {"sizes": [2, 3, 1], "history": {"epoch": 3, "eta": [0.5, 0.25]},
            "rng": np.random.default_rng(1).bit_generator.state}
    path = checkpoint.save(tmp_path / "sub", weights, biases, meta)
    assert path == checkpoint.path_in(tmp_path / "sub") and path.exists()
    got_w, got_b, got_meta = checkpoint.load(tmp_path / "sub")
    _assert_same_params(got_w + got_b, weights + biases)
    assert got_meta == {"format": checkpoint.FORMAT, **meta}
    assert os.listdir(tmp_path / "sub") == [checkpoint.FILENAME]


def test_an_interrupted_run_is_said_as_the_disk_holds_it(uninterrupted, tmp_path, capsys):
    """The line after Ctrl-C (dlpy35.cli.common.interrupted) says only what the disk holds."""
    from dlpy35.cli.common import interrupted

    def said(directory):
        assert interrupted("prog", "interrupted", directory) == 130
        return capsys.readouterr().err.strip()

    assert said(None) == "prog: interrupted; no network saved (use --checkpoint-dir to keep progress)"
    assert checkpoint.completed_epochs(tmp_path) is None
    assert said(tmp_path) == f"prog: interrupted; no checkpoint was written in {tmp_path}"
    checkpoint.save(tmp_path / "c", *checkpoint.load(uninterrupted["dir"]))
    assert checkpoint.completed_epochs(tmp_path / "c") == EPOCHS
    assert said(tmp_path / "c") == (f"prog: interrupted; the checkpoint in {tmp_path / 'c'} holds {EPOCHS} "
                                    "completed epochs; run the same command with --resume to continue")
    checkpoint.path_in(tmp_path / "c").write_bytes(b"not a checkpoint")
    assert said(tmp_path / "c") == f"prog: interrupted; no checkpoint was written in {tmp_path / 'c'}"


# -- killed while saving ---------------------------------------------------------------------

_SAVER = textwrap.dedent("""
    import os, signal, sys
    import numpy as np
    from dlpy35.storage import checkpoint

    directory, where = sys.argv[1], sys.argv[2]
    real_fdopen, real_fsync, real_replace = os.fdopen, os.fsync, os.replace


    def save(k):
        checkpoint.save(directory, [np.full((300, 300), k, np.float32)], [np.zeros((300, 1))],
                        {"sizes": [300, 300], "k": k})


    def die(*args):
        os.kill(os.getpid(), signal.SIGKILL)


    class HalfWritten:
        \"\"\"A file that kills the process once 100 kB of the 360 kB have gone through it.\"\"\"

        def __init__(self, f):
            self.f, self.written = f, 0

        def __getattr__(self, name):
            return getattr(self.f, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return self.f.__exit__(*exc)

        def write(self, b):
            if self.written > 100_000:
                self.f.flush()
                die()
            self.written += len(b)
            return self.f.write(b)


    save(0)
    if where == "mid-write":
        os.fdopen = lambda fd, mode: HalfWritten(real_fdopen(fd, mode))
    elif where == "before-fsync":
        os.fsync = die
    elif where == "before-rename":
        os.replace = die
    elif where == "after-rename":
        os.replace = lambda a, b: (real_replace(a, b), die())
    save(1)
    print("not killed")
""")


@pytest.mark.parametrize("where, kept", [("mid-write", 0), ("before-fsync", 0), ("before-rename", 0),
                                         ("after-rename", 1)])
def test_kill_during_save_leaves_a_consistent_checkpoint(tmp_path, where, kept):
    """SIGKILL at each step of the second save: the first checkpoint whole, or the second, never a mix."""
    env = {**os.environ,
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    child = subprocess.run([sys.executable, "-c", _SAVER, str(tmp_path), where], env=env, cwd=REPO,
                           capture_output=True, text=True, timeout=120)
    assert child.returncode == -signal.SIGKILL, child.stdout + child.stderr
    weights, biases, meta = checkpoint.load(tmp_path)
    assert meta["k"] == kept and meta["sizes"] == [300, 300]
    assert weights[0].shape == (300, 300) and weights[0].dtype == np.float32
    assert weights[0].min() == weights[0].max() == kept  # every value from the same save as the meta
    assert biases[0].shape == (300, 1) and not biases[0].any()
    # the killed save's temporary file is left behind (for the next save to remove), and nothing else
    leftovers = [p for p in os.listdir(tmp_path) if p != checkpoint.FILENAME]
    assert len(leftovers) == 1 - kept and all(p.endswith(".tmp") for p in leftovers)
    if where == "mid-write":
        assert 0 < (tmp_path / leftovers[0]).stat().st_size < checkpoint.path_in(tmp_path).stat().st_size


# -- one run per directory, no silent overwrite, only stale temp files removed ------------------------


def test_an_existing_checkpoint_is_refused_without_resume_or_overwrite(uninterrupted, tmp_path):
    checkpoint.save(tmp_path, *checkpoint.load(uninterrupted["dir"]))
    before = checkpoint.path_in(tmp_path).read_bytes()
    net = network2.Network(SIZES, seed=SEED)
    start = _params(net)
    with pytest.raises(CheckpointError, match="a checkpoint of an earlier run is there; continue it with"):
        net.SGD(TRAIN, 1, checkpoint_dir=tmp_path, **SETTINGS)
    assert checkpoint.path_in(tmp_path).read_bytes() == before  # untouched
    _assert_same_params(_params(net), start)  # nothing trained
    with pytest.raises(ValueError, match="resume and overwrite exclude each other"):
        net.SGD(TRAIN, 1, checkpoint_dir=tmp_path, resume=True, overwrite=True, **SETTINGS)


def test_overwrite_starts_over(uninterrupted, tmp_path):
    checkpoint.save(tmp_path, *checkpoint.load(uninterrupted["dir"]))
    net = network2.Network(SIZES, seed=SEED)
    net.SGD(TRAIN, 2, checkpoint_dir=tmp_path, overwrite=True, **SETTINGS)
    _assert_same_params(_params(net), uninterrupted["per_epoch"][1])
    assert checkpoint.load(tmp_path)[2]["history"]["epoch"] == 2


def test_a_second_run_into_the_same_directory_fails_at_once(tmp_path):
    net = network2.Network(SIZES, seed=SEED)
    start = _params(net)
    with checkpoint.claim(tmp_path):  # the first run holds the directory
        with pytest.raises(CheckpointError, match="another run is training into this checkpoint directory"):
            net.SGD(TRAIN, 1, checkpoint_dir=tmp_path, **SETTINGS)
    _assert_same_params(_params(net), start)
    net.SGD(TRAIN, 1, checkpoint_dir=tmp_path, **SETTINGS)  # released: the next run may use it
    assert checkpoint.load(tmp_path)[2]["history"]["epoch"] == 1


def test_a_save_removes_only_temp_files_of_dead_processes_and_its_own(tmp_path):
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)
    try:
        names = {who: f".{checkpoint.FILENAME}.{pid}.abc.tmp" for who, pid in
                 (("alive", sleeper.pid), ("dead", int(dead.stdout)), ("own", os.getpid()))}
        for name in names.values():
            (tmp_path / name).write_bytes(b"partial")
        checkpoint.save(tmp_path, [np.zeros((1, 2))], [np.zeros((1, 1))], {"sizes": [2, 1]})
        assert sorted(os.listdir(tmp_path)) == sorted([checkpoint.FILENAME, names["alive"]])
    finally:
        sleeper.kill()
        sleeper.wait()


def test_a_save_tolerates_a_stale_file_another_save_removed_first(tmp_path, monkeypatch):
    """Two saves clearing the same dead process's file: the one that finds it gone goes on."""
    gone = tmp_path / f".{checkpoint.FILENAME}.1.abc.tmp"  # listed as stale, then removed by the other
    monkeypatch.setattr(checkpoint, "stale_temp_files", lambda path: [gone])
    checkpoint.save(tmp_path, [np.zeros((1, 2))], [np.zeros((1, 1))], {"sizes": [2, 1]})
    assert os.listdir(tmp_path) == [checkpoint.FILENAME]
