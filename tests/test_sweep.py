"""Sweeps: the plan, the command, its files, the skip of finished chunks, and the same results on Ray."""

from __future__ import annotations

import json

import numpy as np
import pytest
from command_helpers import run_main, script

from dlpy35.cli import main as cli
from dlpy35.cli.common import in_flags
from dlpy35.engine.records import EpochRecord, Evaluation
from dlpy35.storage import tables
from dlpy35.studies import sweep

SMALL = ["--n-train", "300", "--epochs", "2", "--sizes", "784", "12", "10", "--mode", "JAX",
         "--device", "cpu", "--no-plot"]


def run(argv, capsys):
    return run_main(cli.main, argv, capsys)


def assert_counts_close(got, want):
    """Each epoch's evaluation count within one image: float32 kernels that round differently."""
    assert len(got) == len(want) and all(abs(a - b) <= 1 for a, b in zip(got, want)), (got, want)


@pytest.mark.parametrize("tokens, seeds", [(["0-3"], [0, 1, 2, 3]), (["1", "2", "5"], [1, 2, 5]),
                                           (["7"], [7]), (["0-1", "4-5"], [0, 1, 4, 5])])
def test_parse_seeds(tokens, seeds):
    assert sweep.parse_seeds(tokens) == seeds


@pytest.mark.parametrize("tokens, message", [
    (["5-2"], "^seeds: '5-2' is an empty or negative range"),
    (["-1"], "is not a seed"),
    (["x"], "'x' is not a seed"),
    (["0-2", "2"], "^seeds: 2 is given twice; each network needs its own$"),
])
def test_parse_seeds_refuses(tokens, message):
    with pytest.raises(ValueError, match=message):
        sweep.parse_seeds(tokens)


def test_plan_groups_by_architecture_and_regularisation_and_splits_populations():
    chunks = sweep.plan([[784, 30, 10], [784, 100, 10]], [0, 1, 2], [0.5, 3.0], [0.0, 5.0], sweep.settings(),
                        population_size=4)
    nets = [n for c in chunks for n in c.nets]
    assert sorted(n.net for n in nets) == list(range(24))  # every combination once
    for c in chunks:
        assert len({(n.sizes, n.lmbda > 0) for n in c.nets}) == 1 and len(c.nets) <= 4
    assert [len(c.nets) for c in chunks] == [4, 2, 4, 2, 4, 2, 4, 2]
    assert len({c.key for c in chunks}) == len(chunks)


def test_a_chunks_key_is_the_same_as_before_so_that_an_out_directory_keeps_its_chunks():
    # the default evaluation is validation now; a sweep evaluated on the test set keeps its old chunks
    settings = sweep.settings(epochs=2, n_train=300, device="cpu", mode="JAX", evaluation="test")
    (chunk,) = sweep.plan([[784, 12, 10]], [0, 1], [3.0], [0.0], settings)
    assert chunk.key == "0449f88d737afde8"  # dlpy35 sweep --seeds 0-1 ... --evaluation test


def test_sweep_writes_its_tables_and_a_net_equals_its_solo_run(tmp_path, capsys, mnist_dir):
    out = tmp_path / "sweep"
    status, stdout, err = run(["sweep", "--seeds", "0-2", "--eta", "0.5", "3.0", "--out", str(out), *SMALL],
                              capsys)
    assert status == 0, err
    rows = tables.read_csv(out / "epochs.csv")
    summary = tables.read_csv(out / "summary.csv")
    assert list(rows[0]) == list(tables.EPOCH_COLUMNS) and list(summary[0]) == list(tables.SUMMARY_COLUMNS)
    assert len(rows) == 6 * 2 and len(summary) == 6
    ranked = [int(line.split()[0]) for line in stdout.splitlines() if line.strip()[:1].isdigit()][:6]
    best = {int(r["net"]): int(r["best_correct"]) for r in summary}
    assert [best[n] for n in ranked] == sorted(best.values(), reverse=True)  # printed best first
    # ranked on validation (the default), the pick named with the test accuracy of its best epoch
    header = next(line for line in stdout.splitlines() if line.split()[:1] == ["net"])
    assert header.split()[5:] == ["validation", "epoch", "test"] and "validation data evaluated" in stdout
    top = next(r for r in summary if int(r["net"]) == ranked[0])
    test_there = next(r["test_correct"] for r in rows
                      if r["net"] == top["net"] and r["epoch"] == top["best_epoch"])
    assert top["test_correct"] == test_there and top["test_total"] == "10000"
    assert (f"picked on validation data: net {ranked[0]} " in stdout
            and f"test accuracy there {int(test_there) / 100:.2f}%" in stdout)

    # net 4 is seed 1 at eta 3.0: the same run alone, through train_gpu.py --run-dir, gives the same rows
    train_gpu = script("train_gpu")
    solo_dir = tmp_path / "solo"
    assert train_gpu.main(["--seed", "1", "--eta", "3.0", "--run-dir", str(solo_dir), "--no-progress",
                           *SMALL[:-1]]) == 0
    solo = tables.read_csv(solo_dir / "epochs.csv")
    net4 = [r for r in rows if r["net"] == "4"]
    skip = {"net", "seconds", "training_cost", "evaluation_correct", "evaluation_total", "test_correct"}
    assert [{k: v for k, v in r.items() if k not in skip} for r in solo] == \
        [{k: v for k, v in r.items() if k not in skip} for r in net4]
    # the solo run evaluates the test set as the book's chapter 1 does; the sweep, its test columns
    assert [r["test_correct"] for r in solo] == [r["evaluation_correct"] for r in solo]
    # Float32, the population's batched kernels against one network's: counts and costs measured
    # equal here (AMD EPYC, AVX-512, and XLA_FLAGS=--xla_cpu_max_isa=AVX2 or SSE4_2), but other
    # CPUs round those kernels differently (weights 1.8e-6 apart in tests/test_population.py),
    # which may flip an image near a tie: one count either way; the cost to 1e-5 relative.
    assert_counts_close([int(r["test_correct"]) for r in net4], [int(r["evaluation_correct"]) for r in solo])
    for a, b in zip(solo, net4):
        assert float(a["training_cost"]) == pytest.approx(float(b["training_cost"]), rel=1e-5)


def test_rerun_skips_finished_chunks(tmp_path, capsys, mnist_dir):
    out = tmp_path / "sweep"
    argv = ["sweep", "--seeds", "0-1", "--eta", "0.5", "--lmbda", "0", "1", "--out", str(out), *SMALL]
    assert run(argv, capsys)[0] == 0
    first = (out / "summary.csv").read_text()
    chunk_files = sorted((out / "chunks").glob("*.json"))
    assert len(chunk_files) == 2
    chunk_files[0].unlink()  # as if its node had died
    status, stdout, _ = run(argv, capsys)
    assert status == 0 and "1 of 2 chunks already trained" in stdout
    assert (out / "summary.csv").read_text() == first
    assert json.loads(chunk_files[0].read_text())["key"] == chunk_files[0].stem


def test_a_shared_order_sweep_follows_each_populations_first_network(tmp_path, capsys, mnist_dir):
    """``--order shared``: network 0 trains as in the own-order sweep, network 1 on network 0's shuffles.

    The order is part of a sweep's identity: each sweep has its own ``--out`` (the
    same one is refused, see the tests of reruns below).
    """
    argv = ["sweep", "--seeds", "0-1", "--eta", "3.0", *SMALL]
    assert run([*argv, "--out", str(tmp_path / "own")], capsys)[0] == 0
    own = tables.read_csv(tmp_path / "own" / "epochs.csv")
    status, stdout, err = run([*argv, "--order", "shared", "--out", str(tmp_path / "shared")], capsys)
    assert status == 0 and "already trained" not in stdout, err
    shared = tables.read_csv(tmp_path / "shared" / "epochs.csv")

    def correct(rows, net):
        return [int(r["evaluation_correct"]) for r in rows if r["net"] == net]

    # Network 0 through a shared order's wide matmul against an own order's batched one, in
    # float32: equal counts here, but another CPU's rounding may flip an image near a tie.
    assert_counts_close(correct(shared, "0"), correct(own, "0"))
    assert correct(shared, "1") != correct(own, "1")


@pytest.mark.parametrize("argv, message", [
    (["--seeds", "5-2"], "--seeds: '5-2' is an empty or negative range"),
    (["--seeds", "0", "--eta", "0"], "eta (the learning rate) must be a finite number > 0"),
    (["--seeds", "0", "--eta", "nan"], "argument --eta: expected a finite number"),
    (["--seeds", "0", "--lmbda", "-1"], "lmbda (the regularisation parameter) must be a finite number >= 0"),
    (["--seeds", "0", "--sizes", "784"], "sizes needs at least two layers"),
    (["--seeds", "0", "--population-size", "0"], "argument --population-size: expected an integer >= 1"),
    (["--seeds"], "argument --seeds: expected at least one argument"),
    (["--seeds", "0", "--order", "mine"], "argument --order: invalid choice: 'mine'"),
    # a configuration given twice would train the same networks twice, as a seed given twice would
    (["--seeds", "0", "0"], "--seeds: 0 is given twice; each network needs its own"),
    (["--seeds", "0", "--eta", "3", "0.5", "3.0"], "--eta: 3 is given twice; each network needs its own"),
    (["--seeds", "0", "--lmbda", "0", "0.0"], "--lmbda: 0 is given twice; each network needs its own"),
    (["--seeds", "0", "--sizes", "784", "30", "10", "--sizes", "784", "20", "10", "--sizes", "784", "30",
      "10"], "--sizes: 784 30 10 is given twice; each network needs its own"),
    (["--seeds", "0", "--ray", "127.0.0.1:{port}"],
     "--ray 127.0.0.1:{port}: no Ray cluster answers at 127.0.0.1:{port} (Connection refused)"),
    (["--seeds", "0", "--ray", "ray://head:x"], "--ray ray://head:x: not a Ray address"),
])
def test_bad_sweeps_are_refused_in_one_line_before_training(argv, message, tmp_path, capsys, closed_port):
    argv, message = [a.format(port=closed_port) for a in argv], message.format(port=closed_port)
    status, out, err = run(["sweep", "--out", str(tmp_path / "o"), *argv], capsys)
    assert status == 2 and message in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "o" / "chunks").exists()


def test_a_population_too_large_is_refused_before_training(tmp_path, capsys, monkeypatch, mnist_dir):
    from dlpy35.engine.device import Device

    monkeypatch.setattr(Device, "memory_bytes", lambda self: 1 << 20)
    status, _, err = run(["sweep", "--seeds", "0-63", "--out", str(tmp_path / "o"), *SMALL], capsys)
    assert status == 2 and "a population of 64 networks needs about" in err
    assert not (tmp_path / "o" / "chunks").exists()


def test_a_sweep_on_a_local_ray_cluster_equals_the_local_run(tmp_path, capsys, mnist_dir, local_ray):
    argv = ["--seeds", "0-1", "--eta", "0.5", "--lmbda", "0", "1", *SMALL]
    assert run(["sweep", "--out", str(tmp_path / "here"), *argv], capsys)[0] == 0
    status, stdout, err = run(["sweep", "--out", str(tmp_path / "ray"), "--ray", "auto", *argv], capsys)
    assert status == 0, err
    assert "chunk 2/2" in stdout
    for name in ("epochs.csv", "summary.csv"):
        here = tables.read_csv(tmp_path / "here" / name)
        there = tables.read_csv(tmp_path / "ray" / name)
        drop = {"seconds"}
        assert [{k: v for k, v in r.items() if k not in drop} for r in here] == \
            [{k: v for k, v in r.items() if k not in drop} for r in there]


def test_a_chunk_of_several_lambdas_trains_each_network_with_its_own(monkeypatch, mnist):
    """One chunk mixing lambdas 0.5, 2.0 and 5.0 (and two seeds): network k ends as it does alone.

    Each network is compared with ``network2.Network`` trained alone with the seed, eta
    and lambda the plan gave it, so a chunk that trains every network with one lambda,
    or with its neighbour's, fails: lambdas this far apart move the weights by far more
    than :data:`ACROSS_KERNELS` (float32 JAX, the population's batched kernels).
    """
    from test_population import ACROSS_KERNELS

    from dlpy35 import network2

    settings = {"epochs": 2, "mini_batch_size": 10, "n_train": 300, "cost": "cross-entropy",
                "init": "default", "dtype": "float32", "device": "cpu", "mode": "JAX",
                "evaluation": "validation", "order": "own", "data_dir": None, "dataset": None}
    seeds, lmbdas = [3, 4], [0.5, 2.0, 5.0]
    (chunk,) = sweep.plan([[784, 20, 10]], seeds, [1.0], lmbdas, settings)
    assert sorted((n.seed, n.lmbda) for n in chunk.nets) == sorted((s, m) for s in seeds for m in lmbdas)
    trained = []
    original = sweep.population

    def keep(c):
        trained.append(original(c))
        return trained[-1]

    monkeypatch.setattr(sweep, "population", keep)
    result = sweep.train_chunk(chunk)
    (pop,) = trained
    (tx, ty), (vx, vy), _ = mnist
    counts = {}
    for k, n in enumerate(chunk.nets):
        net = network2.Network([784, 20, 10], seed=n.seed, mode="JAX", device="cpu")
        net.SGD((tx[:300], ty[:300]), 2, 10, 1.0, lmbda=n.lmbda, evaluation_data=(vx, vy),
                monitor_evaluation_accuracy=True, verbose=False)
        for a, b in zip(net.trainer.values(), pop.trainer.net_values(k)):
            np.testing.assert_allclose(b, a, **ACROSS_KERNELS)
        counts[n.net] = (n.seed, n.lmbda, net.history["evaluation_accuracy"])
    # The tables name each network with its own seed and lambda, beside its own results.
    for row in result["summary"]:
        seed, lmbda, history = counts[row["net"]]
        assert (row["seed"], row["lmbda"]) == (seed, lmbda)
        got = [r["evaluation_correct"] for r in result["epochs"] if r["net"] == row["net"]]
        assert_counts_close(got, history)
    assert len({tuple(h) for _, _, h in counts.values()}) == len(counts)  # six different networks


def test_ties_the_first_best_epoch_and_the_lower_network_number_first():
    """tables.summary_row takes the first of equal epochs; report ranks equal networks by number (as both
    docstrings say)."""
    def history(counts):
        return [EpochRecord(e, 1.0, 0.5, 0.5, {"evaluation": Evaluation(c, 100, 1.0)})
                for e, c in enumerate(counts)]

    row = tables.summary_row(0, 0, 0.5, 0.0, (784, 30, 10), history([70, 90, 85, 90, 90]), None)
    assert (row["best_epoch"], row["best_correct"]) == (1, 90)
    nets = [tables.summary_row(n, n, 0.5, 0.0, (784, 30, 10), history(c), d) for n, c, d in
            [(0, [80], None), (1, [91], None), (2, [], 0), (3, [91], None), (4, [80], None), (5, [91], None)]]
    *lines, pick = sweep.report(nets[::-1]).splitlines()[1:]
    assert [int(line.split()[0]) for line in lines] == [1, 3, 5, 0, 4, 2]  # 91 by number, 80, never evaluated
    assert pick.startswith("picked on validation data: net 1 (seed 1,")


def test_the_sweep_picks_on_validation_and_reports_the_test_accuracy_of_what_it_picked():
    """Scripted records where validation and test disagree: net 1 is best on validation (92, test 800 at
    its epoch 0), net 0 on test (990): the pick is net 1, reported with 800 (80.00%), not 990."""
    def history(pairs):
        return [EpochRecord(e, 1.0, 0.5, 0.5, {"evaluation": Evaluation(v, 100, 1.0),
                                               "test": Evaluation(t, 1000, 1.0)})
                for e, (v, t) in enumerate(pairs)]

    chunk = sweep.Chunk([sweep.Net(0, 0, 0.5, 0.0, (784, 10)), sweep.Net(1, 1, 0.5, 0.0, (784, 10))])
    _, summary = sweep.chunk_rows(chunk, [history([(90, 990), (91, 900)]), history([(92, 800), (50, 999)])],
                                  [None, None])
    assert [(r["best_epoch"], r["best_correct"], r["test_correct"]) for r in summary] == [(1, 91, 900),
                                                                                         (0, 92, 800)]
    assert sweep.ranked(summary)[0]["net"] == 1
    line = ("picked on validation data: net 1 (seed 1, eta 0.5, lmbda 0, sizes 784-10), epoch 0: 92.00%; "
            "test accuracy there 80.00%")
    assert sweep.report(summary).splitlines()[-1] == line
    assert sweep.picked(sweep.ranked(summary)[0]) == line  # picked on validation unless told otherwise


# -- a rerun into --out reuses chunks of the same sweep only ------------------------------------------
@pytest.fixture(scope="module")
def two_sets(tmp_path_factory):
    """Two data sets of MNIST's layout, of one name and the same shapes, other contents: 4x4 images."""
    from data_helpers import synthetic_mnist, write_dir

    root = tmp_path_factory.mktemp("sets")
    return [write_dir(root / where / "set", synthetic_mnist(seed, n_train=10_050, n_test=40, side=4)[0])
            for where, seed in (("one", 1), ("other", 2))]


TINY = ["--seeds", "0-1", "--sizes", "16", "8", "10", "--n-train", "50", "--epochs", "1", "--mode", "JAX",
        "--no-plot", "--quiet"]


@pytest.fixture(scope="module")
def swept(two_sets, tmp_path_factory):
    """The --out directory of a tiny sweep on the first set."""
    out = tmp_path_factory.mktemp("swept") / "sweep"
    argv = ["sweep", *TINY, "--device", "cpu", "--dataset", str(two_sets[0]), "--out", str(out)]
    assert cli.main(argv) == 0
    return out


@pytest.mark.parametrize("key, flags", [
    ("epochs", ["--epochs", "2"]),
    ("mini_batch_size", ["--mini-batch-size", "5"]),
    ("n_train", ["--n-train", "40"]),
    ("cost", ["--cost", "cross-entropy"]),
    ("init", ["--init", "default"]),
    ("evaluation", ["--evaluation", "test"]),
    ("dtype", ["--dtype", "float64", "--mode", "NUMBA"]),
    ("order", ["--order", "shared"]),
    ("data_digest", "the other data set"),
])
def test_a_rerun_of_other_settings_into_the_same_out_is_refused_naming_the_setting(swept, two_sets, tmp_path,
                                                                                   capsys, key, flags):
    import shutil

    out = shutil.copytree(swept, tmp_path / "sweep")
    (chunk,) = (out / "chunks").glob("*.json")
    recorded = json.loads(chunk.read_text())["identity"]
    dataset = two_sets[1] if flags == "the other data set" else two_sets[0]
    flags = [] if flags == "the other data set" else flags
    status, _, err = run(["sweep", *TINY, "--device", "cpu", "--dataset", str(dataset), *flags, "--out",
                          str(out)], capsys)
    assert status == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    want = f"{chunk}: cannot reuse the chunks of {out}: this one has {key}={recorded[key]!r} but this sweep"
    assert f"{want} has {key}=" in err, err
    assert [p.name for p in (out / "chunks").iterdir()] == [chunk.name]  # nothing trained


def test_overwrite_replaces_a_sweep_of_other_settings_and_its_chunks(swept, two_sets, tmp_path, capsys):
    """``--overwrite`` is the one flag that lets a sweep of other settings into an ``--out``: the old
    chunks go (they would be refused by the new sweep's identity), the new ones are the only ones."""
    import shutil

    out = shutil.copytree(swept, tmp_path / "sweep")
    (old,) = (out / "chunks").glob("*.json")
    argv = ["sweep", *TINY, "--device", "cpu", "--dataset", str(two_sets[0]), "--epochs", "2",
            "--out", str(out)]
    status, _, err = run([*argv, "--overwrite"], capsys)
    assert status == 0, err
    (new,) = (out / "chunks").glob("*.json")
    assert new != old and json.loads(new.read_text())["identity"]["epochs"] == 2
    assert {int(r["epoch"]) for r in tables.read_csv(out / "epochs.csv")} == {0, 1}
    assert run(argv, capsys)[0] == 0  # the same sweep again: continued, not refused


def test_a_chunk_records_the_sweeps_identity_and_another_device_is_not_another(swept, two_sets, tmp_path,
                                                                                capsys):
    import shutil

    from dlpy35.data import load_data

    out = shutil.copytree(swept, tmp_path / "sweep")
    (chunk,) = (out / "chunks").glob("*.json")
    recorded = json.loads(chunk.read_text())["identity"]
    assert recorded["data_name"] == "set" and recorded["data_digest"] == load_data(dataset=two_sets[0]).digest
    assert not {"device", "mode", "data_dir", "dataset"} & recorded.keys()
    status, _, err = run(["sweep", *TINY, "--device", "auto", "--dataset", str(two_sets[0]), "--out",
                          str(out)], capsys)
    assert status == 0, err


def test_clearing_the_chunks_forgives_one_that_another_process_removed_since_the_listing(tmp_path):
    from types import SimpleNamespace

    store = sweep.Store(tmp_path)
    store.save({"key": "kept", "epochs": [], "summary": []})
    listed = [store.dir / "kept.json", store.dir / "gone.json"]  # gone.json went between listing and unlink
    store.dir = SimpleNamespace(glob=lambda pattern: iter(listed) if pattern == "*.json" else iter(()))
    store.clear()
    assert not listed[0].exists()


class StopError(Exception):
    """Raised by a scripted step to end a chunk's training where a test has seen what it needs."""


@pytest.mark.parametrize("given, digest, outcome", [
    ({"data_dir": "/d/mnist", "dataset": None}, None, "trains"),  # no digest recorded: any data
    ({"data_dir": None, "dataset": "/d/set"}, "abc", "trains"),
    ({"data_dir": None, "dataset": "/d/set"}, "xyz",
     "/d/set: these data differ from the sweep's (digest abc, not xyz); give every node the same data"),
    ({"data_dir": "/d/mnist", "dataset": None}, "xyz", "/d/mnist: these data differ"),
    ({"data_dir": None, "dataset": None}, "xyz", "MNIST: these data differ"),
])
def test_a_chunk_loads_the_data_its_settings_name_and_refuses_other_data(given, digest, outcome, monkeypatch):
    from types import SimpleNamespace

    import dlpy35.data

    loaded = []

    def load_data(data_dir, dataset=None):
        loaded.append((data_dir, dataset))
        return SimpleNamespace(digest="abc", training=(None, None), validation=None, test=None)

    def population(chunk):
        raise StopError

    monkeypatch.setattr(dlpy35.data, "load_data", load_data)
    monkeypatch.setattr(sweep, "population", population)
    settings = {**sweep.settings(epochs=1), **given, **({"data_digest": digest} if digest else {})}
    (chunk,) = sweep.plan([[784, 10]], [0], [3.0], [0.0], settings)
    with pytest.raises(StopError if outcome == "trains" else ValueError) as exc:
        sweep.train_chunk(chunk)
    assert loaded == [(given["data_dir"], given["dataset"])]
    assert outcome == "trains" or str(exc.value).startswith(outcome)


class ScriptedPopulation:
    """A population that records how it is trained and gives each network one epoch's record: 7 of 10
    right on the set evaluated, 15 of 20 on the test data when given some; all but the first diverge."""

    trainer = type("Trainer", (), {"compile_seconds": 2.5})()
    device = type("Device", (), {"describe": lambda self: "a scripted device"})()

    def __init__(self, chunk):
        self.chunk, self.calls = chunk, []

    def SGD(self, training, epochs, mini_batch_size, evaluation, test_data=None, progress=None):  # noqa: N802
        self.calls.append((training, epochs, mini_batch_size, evaluation, test_data, progress))
        sets = {"evaluation": Evaluation(7, 10, 1.0)}
        if test_data is not None:
            sets["test"] = Evaluation(15, 20, 1.0)
        self.records = [[EpochRecord(0, 1.0, 0.5, 0.25, sets)] for _ in self.chunk.nets]
        self.diverged = [None] + [1] * (len(self.chunk.nets) - 1)  # the second network diverged in epoch 1


@pytest.mark.parametrize("evaluation, evaluated, test_data, test", [
    ("validation", "the validation set", "the test set", (15, 20)),  # picked on validation, reported on test
    ("test", "the test set", None, (7, 10)),  # the evaluated set is the test set: its own figures
])
def test_a_chunk_trains_its_population_as_its_settings_say(evaluation, evaluated, test_data, test,
                                                           monkeypatch):
    from types import SimpleNamespace

    import dlpy35.data

    images, labels = np.arange(8), np.arange(8) % 3
    data = SimpleNamespace(digest="abc", training=(images, labels), validation="the validation set",
                           test="the test set")
    monkeypatch.setattr(dlpy35.data, "load_data", lambda data_dir, dataset=None: data)
    made = []
    monkeypatch.setattr(sweep, "population", lambda chunk: made.append(ScriptedPopulation(chunk)) or made[-1])
    settings = sweep.settings(epochs=3, mini_batch_size=4, n_train=5, evaluation=evaluation)
    (chunk,) = sweep.plan([[784, 10]], [0, 1], [3.0], [0.0], settings)
    bar = object()
    result = sweep.train_chunk(chunk, bar)
    ((training, epochs, size, got_evaluated, got_test, progress),) = made[0].calls
    np.testing.assert_array_equal(training[0], images[:5])
    np.testing.assert_array_equal(training[1], labels[:5])
    assert (epochs, size, got_evaluated, got_test, progress) == (3, 4, evaluated, test_data, bar)
    assert [(r["net"], r["evaluation_correct"], r["evaluation_total"], r["test_correct"], r["test_total"])
            for r in result["epochs"]] == [(0, 7, 10, *test), (1, 7, 10, *test)]
    assert [(r["net"], r["best_correct"], r["test_correct"], r["diverged"]) for r in result["summary"]] == [
        (0, 7, test[0], ""), (1, 7, test[0], 1)]
    assert (result["key"], result["identity"]) == (chunk.key, sweep.identity(settings))
    assert (result["compile_seconds"], result["device"]) == (2.5, "a scripted device")
    assert 0 <= result["seconds"] < 60


# -- the plan, unit by unit -------------------------------------------------------------------------------
@pytest.mark.parametrize("values, name, message", [
    ([[784, 30, 10], [784, 20, 10], [784, 30, 10]], "sizes_list", "sizes_list: 784 30 10 is given twice"),
    ([(784, 10), [784, 10]], "sizes", "sizes: 784 10 is given twice"),  # a tuple and a list of one shape
    ([3, 0.5, 3.0], "etas", "etas: 3 is given twice"),
    ([0.25, 1e-05, 1e-5], "lmbdas", "lmbdas: 1e-05 is given twice"),
])
def test_a_value_given_twice_is_named_as_the_user_wrote_it(values, name, message):
    with pytest.raises(ValueError, match=f"^{message}; each network needs its own$"):
        sweep.distinct(values, name)
    assert sweep.distinct(values[:-1], name) is not None  # each once: accepted


@pytest.mark.parametrize("repeated", ["sizes_list", "seeds", "etas", "lmbdas"])
def test_the_plan_refuses_a_repeated_setting_naming_it(repeated):
    grid = {"sizes_list": [[4, 3], [4, 2]], "seeds": [0, 1], "etas": [0.5, 3.0], "lmbdas": [0.0, 5.0]}
    grid[repeated] = [*grid[repeated], grid[repeated][0]]
    with pytest.raises(ValueError, match=f"^{repeated}: "):
        sweep.check_grid(**grid)
    with pytest.raises(ValueError, match=f"^{repeated}: "):
        sweep.plan(grid["sizes_list"], grid["seeds"], grid["etas"], grid["lmbdas"], {})


def test_the_settings_a_sweep_keeps_by_default_and_as_given(tmp_path):
    from types import SimpleNamespace

    assert sweep.settings() == {
        "epochs": 30, "mini_batch_size": 10, "n_train": None, "cost": "quadratic", "init": "large",
        "dtype": "float32", "device": "auto", "mode": None, "evaluation": "validation", "order": "own",
        "data_dir": None, "dataset": None}
    data = SimpleNamespace(name="letters", digest="d1g35t")
    given = sweep.settings(2, 5, 300, "cross-entropy", "default", "float64", "cpu", "NUMBA", "test", "shared",
                           tmp_path / "mnist", tmp_path / "letters", data)
    assert given == {
        "epochs": 2, "mini_batch_size": 5, "n_train": 300, "cost": "cross-entropy", "init": "default",
        "dtype": "float64", "device": "cpu", "mode": "NUMBA", "evaluation": "test", "order": "shared",
        "data_dir": str(tmp_path / "mnist"), "dataset": str(tmp_path / "letters"), "data_name": "letters",
        "data_digest": "d1g35t"}
    assert json.loads(json.dumps(given)) == given  # JSON-ready, as a chunk keeps them


def test_a_sweeps_identity_leaves_out_where_and_how_it_runs():
    settings = sweep.settings(epochs=2, device="cpu", mode="JAX", data_dir="/d", dataset="/s")
    identity = sweep.identity(settings)
    assert identity["epochs"] == 2 and identity["order"] == "own" and identity["evaluation"] == "validation"
    assert not {"device", "mode", "data_dir", "dataset"} & identity.keys()
    assert sweep.identity({**settings, "device": "cuda", "mode": "NUMBA"}) == identity


def test_the_plan_numbers_every_network_and_groups_them_by_architecture_and_regularisation():
    settings = {"epochs": 1}
    chunks = sweep.plan([(2, 4), [2, 3]], [5, 6], [1], [0, 1], settings)
    from dlpy35.studies.sweep import Net

    assert [c.nets for c in chunks] == [
        [Net(0, 5, 1.0, 0.0, (2, 4)), Net(1, 6, 1.0, 0.0, (2, 4))],  # the first architecture, lambda 0
        [Net(2, 5, 1.0, 1.0, (2, 4)), Net(3, 6, 1.0, 1.0, (2, 4))],  # regularised (lambda 1 > 0)
        [Net(4, 5, 1.0, 0.0, (2, 3)), Net(5, 6, 1.0, 0.0, (2, 3))],
        [Net(6, 5, 1.0, 1.0, (2, 3)), Net(7, 6, 1.0, 1.0, (2, 3))]]
    assert all(c.settings is settings for c in chunks)
    assert all(isinstance(n.eta, float) and isinstance(n.lmbda, float) for c in chunks for n in c.nets)
    three = sweep.plan([[2, 4]], [0, 1, 2, 3, 4], [1.0], [0.0], settings, population_size=2)
    assert [[n.net for n in c.nets] for c in three] == [[0, 1], [2, 3], [4]]


def test_a_chunks_population_holds_its_networks_and_settings(monkeypatch):
    import dlpy35.engine.population

    made = []
    monkeypatch.setattr(dlpy35.engine.population, "Population",
                        lambda *args, **kwargs: made.append((args, kwargs)) or "a population")
    settings = sweep.settings(cost="cross-entropy", init="default", dtype="float64", device="cpu",
                              mode="NUMBA", order="shared")
    (chunk,) = sweep.plan([[4, 3, 2]], [7, 8], [0.5], [2.0], settings)
    assert sweep.population(chunk) == "a population"
    assert made == [(([4, 3, 2], [7, 8], [0.5, 0.5], [2.0, 2.0]),
                     {"cost": "cross-entropy", "weight_init": "default", "dtype": "float64", "mode": "NUMBA",
                      "device": "cpu", "order": "shared"})]
    (single,) = sweep.plan([[4, 3, 2]], [9], [0.5], [2.0], settings)  # a chunk of one network
    sweep.population(single)
    assert made[-1][0] == ([4, 3, 2], [9], [0.5], [2.0])


# -- the chunks' store, the manifest and the run --------------------------------------------------------
def _result(chunk):
    """A saved result of `chunk`: its key, one epoch row and one summary row per network."""
    nets = [n.net for n in chunk.nets]
    return {"key": chunk.key, "identity": sweep.identity(chunk.settings),
            "epochs": [{"net": n, "epoch": 0} for n in nets], "summary": [{"net": n} for n in nets],
            "seconds": 1.25, "device": "a scripted device"}


@pytest.fixture
def two_chunks():
    return sweep.plan([[4, 3]], [0, 1, 2], [3.0], [0.0], sweep.settings(epochs=1), population_size=2)


def test_the_store_saves_a_chunk_where_its_out_is_made_and_loads_only_a_whole_result_of_it(tmp_path,
                                                                                           two_chunks):
    first, second = two_chunks
    store = sweep.Store(tmp_path / "new" / "sweep")  # neither directory is there yet
    assert store.dir == tmp_path / "new" / "sweep" / "chunks" and store.load(first) is None
    store.save(_result(first))
    store.save(_result(second))  # the directory is there now
    assert store.path(first) == store.dir / f"{first.key}.json"
    assert store.load(first) == _result(first) and store.load(second) == _result(second)
    for text in ("[1, 2]", "{not json", json.dumps({"key": first.key, "epochs": []}),
                 json.dumps(_result(second))):  # not a dict, torn, incomplete, another chunk's
        store.path(first).write_text(text)
        assert store.load(first) is None
    bare = {"key": first.key, "epochs": [], "summary": []}  # exactly the keys a result needs
    store.path(first).write_text(json.dumps(bare))
    assert store.load(first) == bare


def test_a_chunk_file_too_large_or_too_deep_to_read_is_trained_again(tmp_path, two_chunks, monkeypatch):
    first, _ = two_chunks
    store = sweep.Store(tmp_path)
    store.save(_result(first))
    size = store.path(first).stat().st_size
    monkeypatch.setattr(sweep, "JSON_BYTES", size)
    assert store.load(first) == _result(first)  # the most it may hold
    monkeypatch.setattr(sweep, "JSON_BYTES", size - 1)
    assert store.load(first) is None
    store.check({**first.settings, "epochs": 2})  # unreadable: skipped, not compared
    monkeypatch.undo()
    store.path(first).write_text("[" * 100_000 + "]" * 100_000)  # deeper than the parser recurses
    assert store.load(first) is None
    store.check(first.settings)


def test_a_population_keeping_more_epochs_than_a_chunk_file_holds_is_refused_in_the_plan(monkeypatch):
    monkeypatch.setattr(sweep, "CHUNK_ROWS", 12)
    assert len(sweep.plan([[4, 3]], [0, 1, 2], [3.0], [0.0], sweep.settings(epochs=4))) == 1  # 12 rows
    with pytest.raises(ValueError) as exc:
        sweep.plan([[4, 3]], [0, 1, 2], [3.0], [0.0], sweep.settings(epochs=5))
    assert str(exc.value) == ("a population of 3 networks for 5 epochs keeps 15 epochs' results, more than a "
                              "chunk's file holds (12); give population_size=2 or fewer")
    assert in_flags(exc.value).endswith("give --population-size 2 or fewer")
    assert len(sweep.plan([[4, 3]], [0, 1, 2], [3.0], [0.0], sweep.settings(epochs=5), 2)) == 2


def test_the_store_refuses_chunks_of_another_identity_past_unreadable_ones(tmp_path, two_chunks):
    first, second = two_chunks
    store = sweep.Store(tmp_path)
    store.save(_result(first))
    store.check(first.settings)  # the same sweep: nothing to say
    store.dir.joinpath("0-torn.json").write_text("{not json")  # read first, skipped, and the check goes on
    store.dir.joinpath("1-part.json").write_text(json.dumps({"key": "x"}))  # incomplete: trained again
    store.check(first.settings)
    other = {**first.settings, "epochs": 2}
    with pytest.raises(ValueError) as exc:
        store.check(other)
    assert str(exc.value) == (f"{store.path(first)}: cannot reuse the chunks of {tmp_path}: this one has "
                              "epochs=1 but this sweep has epochs=2; give another output directory, the "
                              "settings they were trained with, or overwrite=True to replace them")
    assert sweep.identity(other)["epochs"] == 2
    store.path(first).write_text(json.dumps({"key": first.key, "epochs": [], "summary": []}))  # no identity
    with pytest.raises(ValueError, match="records no settings"):
        store.check(first.settings)


def test_an_out_holds_the_sweep_its_manifest_or_its_chunks_name(tmp_path, two_chunks):
    out = tmp_path / "sweep"
    assert not sweep.holds(out, two_chunks)  # nothing there
    out.mkdir()
    assert not sweep.holds(out, two_chunks)  # an empty directory: no sweep's
    store = sweep.Store(out)
    for chunk in two_chunks:
        store.save(_result(chunk))
    assert sweep.holds(out, two_chunks)  # from before sweep.json: all its chunks are this sweep's
    more = sweep.plan([[4, 2]], [0], [3.0], [0.0], sweep.settings(epochs=1))
    assert sweep.holds(out, [*two_chunks, *more])  # some of them
    assert not sweep.holds(out, two_chunks[:1])  # a chunk that is not this sweep's
    sweep.write_manifest(out, two_chunks[::-1])
    assert json.loads((out / "sweep.json").read_text()) == {"chunks": [c.networks for c in two_chunks[::-1]]}
    assert sweep.holds(out, two_chunks)  # the manifest's chunks, in any order
    assert not sweep.holds(out, two_chunks[:1])
    (out / "sweep.json").write_text(json.dumps({"networks": []}))
    assert not sweep.holds(out, two_chunks)  # not a sweep's manifest


def test_a_run_trains_the_chunks_not_saved_and_returns_every_result_in_plan_order(tmp_path, two_chunks,
                                                                                 monkeypatch):
    trained, lines = [], []

    def train_chunk(chunk, progress=None):
        trained.append((chunk.key, progress))
        return _result(chunk)

    monkeypatch.setattr(sweep, "train_chunk", train_chunk)
    first, second = two_chunks
    assert sweep.run(two_chunks, tmp_path, log=lines.append, progress="a bar") == [_result(first),
                                                                                   _result(second)]
    assert trained == [(first.key, "a bar"), (second.key, "a bar")]
    assert lines == ["chunk 1/2: 2 networks in 1.2 s (a scripted device)",
                     "chunk 2/2: 1 network in 1.2 s (a scripted device)"]
    assert json.loads(sweep.Store(tmp_path).path(second).read_text()) == _result(second)
    sweep.Store(tmp_path).path(first).unlink()  # as if its node had died
    trained.clear(), lines.clear()
    assert sweep.run(two_chunks, tmp_path, log=lines.append) == [_result(first), _result(second)]
    assert trained == [(first.key, None)]
    assert lines == [f"1 of 2 chunks already trained in {tmp_path / 'chunks'}; training the other 1",
                     "chunk 2/2: 2 networks in 1.2 s (a scripted device)"]
    assert sweep.run([], tmp_path, log=lines.append) == []


def test_a_run_on_ray_hands_ray_the_chunks_not_saved_and_saves_each_as_it_ends(tmp_path, two_chunks,
                                                                              monkeypatch):
    first, second = two_chunks
    sweep.Store(tmp_path).save(_result(second))
    asked = []

    def run_tasks(function, chunks, address, finished):
        asked.append((function, [c.key for c in chunks], address))
        finished(_result(chunks[0]))

    monkeypatch.setattr(sweep.cluster, "run_tasks", run_tasks)
    assert sweep.run(two_chunks, tmp_path, "auto", log=lambda line: None) == [_result(first), _result(second)]
    assert asked == [(sweep.train_chunk, [first.key], "auto")]
    assert sweep.Store(tmp_path).load(first) == _result(first)
    with pytest.raises(ValueError, match="this one has epochs=1 but this sweep has epochs=3"):
        sweep.run(sweep.plan([[4, 3]], [0], [3.0], [0.0], sweep.settings(epochs=3)), tmp_path)


def test_the_tables_gather_every_chunks_rows_by_network_and_epoch(tmp_path):
    results = [{"epochs": [{"net": 2, "epoch": 1}, {"net": 2, "epoch": 0}], "summary": [{"net": 2}]},
               {"epochs": [{"net": 0, "epoch": 1}, {"net": 1, "epoch": 0}, {"net": 0, "epoch": 0}],
                "summary": [{"net": 1}, {"net": 0}]}]
    rows, summary = sweep.gather(results)
    assert [(r["net"], r["epoch"]) for r in rows] == [(0, 0), (0, 1), (1, 0), (2, 0), (2, 1)]
    assert [r["net"] for r in summary] == [0, 1, 2]
    epoch_row = dict.fromkeys(tables.EPOCH_COLUMNS, 1)
    summary_row = dict.fromkeys(tables.SUMMARY_COLUMNS, 2)
    sweep.write(tmp_path, [epoch_row], [summary_row])
    assert tables.read_csv(tmp_path / "epochs.csv") == [dict.fromkeys(tables.EPOCH_COLUMNS, "1")]
    assert tables.read_csv(tmp_path / "summary.csv") == [dict.fromkeys(tables.SUMMARY_COLUMNS, "2")]


def test_the_report_ranks_marks_what_diverged_and_warns_of_a_pick_on_the_test_data():
    def row(net, seed, eta, lmbda, sizes, epoch, correct, total, test, test_total, diverged):
        return {"net": net, "seed": seed, "eta": eta, "lmbda": lmbda, "sizes": sizes, "best_epoch": epoch,
                "best_correct": correct, "evaluation_total": total, "test_correct": test,
                "test_total": test_total, "diverged": diverged}

    summary = [row(0, 3, 0.5, 0.0, "784-30-10", 1, 90, 100, 950, 1000, ""),
               row(1, 4, 3.0, 5.0, "784-10", "", "", "", "", "", 0),  # diverged before any evaluation
               row(2, 5, 0.25, 0.0, "784-10", 0, 95, 100, "", "", 2)]
    header = " net  seed      eta    lmbda          sizes          test epoch          test"
    assert sweep.report(summary, "test").splitlines() == [
        header,
        "   2     5     0.25        0         784-10        95/100     0             -  diverged in epoch 2",
        "   0     3      0.5        0      784-30-10        90/100     1      950/1000",
        "   1     4        3        5         784-10             -                   -  diverged in epoch 0",
        "picked on test data: net 2 (seed 5, eta 0.25, lmbda 0, sizes 784-10), epoch 0: 95.00% (picked on "
        "the test data itself, its accuracy flatters it: use --evaluation validation)"]
    assert sweep.report([], "test") == header  # nothing trained: nothing picked
    assert sweep.report(summary[1:2], "test").splitlines()[1:] == [
        "   1     4        3        5         784-10             -                   -  diverged in epoch 0"]
    assert sweep.report(summary[:1]).splitlines()[0] == header.replace("          test epoch",
                                                                       "    validation epoch")
