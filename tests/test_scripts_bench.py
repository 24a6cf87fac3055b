"""``scripts/bench.py``: each benchmark end to end on a tiny slice, its JSON file, and its flag errors.

Nothing here is timed: the runs only have to finish and write positive numbers.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "scripts" / "bench.py"
MLP_ROWS = ["book per-example (a)", "numpy whole mini-batch (b)", "dlpy35 per mini-batch (c)",
            "dlpy35 whole epoch, scan (d)", "PyTorch manual backprop (e)", "PyTorch autograd (e)",
            "JAX jit + lax.scan (f)"]


def bench(*args, timeout=600):
    """``python scripts/bench.py ARGS`` from the repository root; the finished process."""
    return subprocess.run([sys.executable, str(BENCH), *map(str, args)], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout, check=False)


def written(proc, path):
    """The JSON `path` of a run that succeeded, after checking the atomic write left nothing beside it."""
    assert proc.returncode == 0, proc.stderr
    assert f"wrote {path}" in proc.stdout
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]
    return json.loads(path.read_text())


@pytest.fixture
def bench_modules(monkeypatch):
    """The ``bench`` package of ``scripts/``, importable for the duration of a test."""
    monkeypatch.syspath_prepend(str(ROOT / "scripts"))
    import bench.mlp
    import bench.peers.torch_peer
    import bench.results

    return bench


@pytest.mark.slow
def test_quick_mlp_bench_writes_every_row(tmp_path, mnist_dir):
    out = tmp_path / "bench.json"
    # This interpreter as the PyTorch one exercises the subprocess protocol, with or without torch.
    proc = bench("--quick", "--n-train", 200, "--book-n-train", 100, "--epochs", 1, "--modes", "JAX",
                 "--torch-python", sys.executable, "--data-dir", mnist_dir, "--json", out)
    data = written(proc, out)
    assert list(data) == ["args", "machine", "peak_gflops", "flops_per_epoch", "n", "wall_seconds", "results"]
    assert data["n"] == 200 and data["args"]["n_train"] == 200 and data["args"]["mini_batch_size"] == 10
    assert data["args"]["sizes"] == [784, 30, 10] and data["args"]["network"] == "mlp"
    assert data["peak_gflops"] > 0 and data["flops_per_epoch"] > 0 and data["wall_seconds"] > 0
    rows = {r["name"]: r for r in data["results"]}
    assert list(rows) == MLP_ROWS
    fields = ["name", "backend", "epoch_seconds", "compile_seconds", "correct", "n_test", "note",
              "median_seconds", "speedup", "gflops", "peak_fraction"]
    ran = [r for r in rows.values() if r["epoch_seconds"]]
    without_torch = [n for n in MLP_ROWS if "PyTorch" not in n]
    assert [r["name"] for r in ran if r["name"] in without_torch] == without_torch
    for r in rows.values():
        assert list(r) == fields
    for r in ran:
        assert len(r["epoch_seconds"]) == 1 and r["epoch_seconds"][0] > 0, r
        assert r["median_seconds"] > 0 and r["speedup"] > 0 and r["gflops"] > 0 and r["peak_fraction"] > 0, r
        assert r["compile_seconds"] > 0 and r["n_test"] == 10_000 and 0 < r["correct"] <= 10_000, r
    assert rows["book per-example (a)"]["note"].startswith("trained on 100 examples, time scaled x2 to 200")
    for name in ("dlpy35 per mini-batch (c)", "dlpy35 whole epoch, scan (d)"):
        # An empty note says dlpy35 drew the same initial weights as the peers.
        assert rows[name]["backend"].startswith("JAX") and rows[name]["note"] == ""
    for name in ("PyTorch manual backprop (e)", "PyTorch autograd (e)"):
        assert rows[name]["epoch_seconds"] or "No module named 'torch'" in rows[name]["note"], rows[name]


@pytest.mark.slow
def test_profile_writes_its_microseconds(tmp_path, mnist_dir):
    out = tmp_path / "profile.json"
    proc = bench("--profile", "--repeat", 10, "--modes", "JAX", "--n-train", 200, "--epochs", 1,
                 "--data-dir", mnist_dir, "--json", out)
    data = written(proc, out)
    assert list(data) == ["args", "machine", "numpy_us", "numpy_sum_us", "dlpy35_us"]
    assert len(data["numpy_us"]) == 7 and all(us > 0 for us in data["numpy_us"].values())
    assert data["numpy_sum_us"] > 0 and list(data["dlpy35_us"]) == ["JAX"] and data["dlpy35_us"]["JAX"] > 0


@pytest.mark.slow
def test_population_bench_writes_a_row_per_order_and_k(tmp_path, mnist_dir):
    out = tmp_path / "population.json"
    proc = bench("--population", "--ks", 1, 3, "--epochs", 1, "--n-train", 100, "--sizes", 784, 10, 10,
                 "--data-dir", mnist_dir, "--json", out)
    data = written(proc, out)
    rows = data["rows"]
    assert [(r["mode"], r["order"], r["k"]) for r in rows] == [("JAX", "own", 1), ("JAX", "own", 3),
                                                              ("JAX", "shared", 1), ("JAX", "shared", 3)]
    for r in rows:
        assert r["population_epoch_s"] > 0 and r["compile_s"] > 0 and r["vmap_epoch_s"] > 0, r
        assert r["separate_epoch_s"] == pytest.approx(r["k"] / r["separate_net_epochs_per_s"])
        assert r["net_epochs_per_s"] == pytest.approx(r["k"] / r["population_epoch_s"])
        assert r["speedup"] == pytest.approx(r["separate_epoch_s"] / r["population_epoch_s"])
    table = [line.split("|")[1:4] for line in proc.stdout.splitlines() if line.startswith("| JAX")]
    assert [[c.strip() for c in cells] for cells in table] == [["JAX", o, k] for o in ("own", "shared")
                                                               for k in ("1", "3")]


@pytest.mark.slow
def test_population_bench_of_a_chapter6_net_times_its_ensemble_against_network3_alone(tmp_path, mnist_dir):
    """``--net``: train-conv's ``--ensemble K --order shared`` against one network3 run; no vmap peer."""
    out = tmp_path / "population.json"
    proc = bench("--population", "--net", "fc", "--ks", 2, "--orders", "shared", "--epochs", 1,
                 "--n-train", 100, "--data-dir", mnist_dir, "--json", out)
    (row,) = written(proc, out)["rows"]
    assert (row["order"], row["k"], row["vmap_epoch_s"]) == ("shared", 2, None)
    assert row["speedup"] == pytest.approx(row["separate_epoch_s"] / row["population_epoch_s"])
    assert "fc, mini-batch 10, 100 images per epoch" in proc.stdout


@pytest.mark.slow
def test_conv_bench_reports_a_failing_implementation_as_a_row(tmp_path, mnist_dir):
    out = tmp_path / "conv.json"
    proc = bench("--network", "conv", "--modes", "NO_SUCH_MODE", "--batches", 1, "--epochs", 1,
                 "--data-dir", mnist_dir, "--json", out)
    data = written(proc, out)
    assert list(data) == ["args", "machine", "results"] and data["args"]["network"] == "conv"
    assert [r["net"] for r in data["results"]] == ["conv1", "conv2-relu"]
    for r in data["results"]:
        assert r["epoch_seconds"] is None and "NO_SUCH_MODE" in r["note"], r


@pytest.mark.parametrize("args", [
    ["--mini-batch-size", "0"],
    ["--sizes", "784"],
    ["--sizes", "784,30,10"],
    ["--sizes", "100", "30", "10"],
    ["--epochs", "0"],
    ["--mini-batch", "10"],
    ["--n", "200"],
    ["--network", "rnn"],
    ["--network", "conv", "--batches", "0"],
    ["--network", "conv", "--mini-batch-size", "10"],
    ["--profile", "--repeat", "2"],
    ["--population", "--network", "conv"],
    ["--profile", "--network", "conv", "--repeats", "0"],
    ["--profile", "--network", "conv", "--nets", "conv3"],
])
def test_bad_flags_exit_2_with_one_line(args):
    proc = bench(*args, timeout=120)
    assert proc.returncode == 2
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("bench.py: error: "), proc.stderr
    assert proc.stdout == ""


@pytest.mark.parametrize(("args", "flags"), [
    ([], ["--sizes", "--n-train", "--epochs", "--mini-batch-size", "--eta", "--seed", "--modes", "--data-dir",
          "--quick", "--book-n-train", "--torch-python", "--json"]),
    (["--network", "conv"], ["--modes", "--epochs", "--batches", "--data-dir", "--torch-python", "--json"]),
    (["--profile"], ["--modes", "--repeat", "--epochs", "--n-train", "--seed", "--data-dir", "--json"]),
    (["--profile", "--network", "conv"],
     ["--nets", "--batches", "--repeats", "--ensemble", "--order", "--dropout", "--top", "--data-dir",
      "--json"]),
])
def test_help_lists_the_shared_flags(args, flags):
    proc = bench(*args, "--help", timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert all(f in proc.stdout for f in flags)


@pytest.mark.slow
def test_conv_profile_writes_each_nets_ops(tmp_path, mnist_dir):
    out = tmp_path / "profile_conv.json"
    proc = bench("--profile", "--network", "conv", "--nets", "conv1", "--batches", 4, "--repeats", 1,
                 "--top", 3, "--data-dir", mnist_dir, "--json", out)
    data = written(proc, out)
    [profile] = data["profiles"]
    assert profile["net"] == "conv1" and profile["epoch_seconds"] > 0
    assert profile["cores"] == 1  # one core, as PyTorch's one thread: XLA's pool would take them all
    ops = profile["ops"]
    assert [op["us"] for op in ops] == sorted((op["us"] for op in ops), reverse=True)
    # conv1's step has the convolution's matrix product (5760 rows x 20 filters) and the FC layer's
    assert {"f32[5760,20]", "f32[10,100]"} <= {op["shape"] for op in ops if op["what"] == "dot_general"}
    assert f"{len(ops) - 3} others" in proc.stdout and "conv1: the ops sum to" in proc.stdout


@pytest.mark.slow
def test_conv_profile_of_a_population_profiles_its_batched_step(tmp_path, mnist_dir):
    out = tmp_path / "profile_conv.json"
    proc = bench("--profile", "--network", "conv", "--nets", "conv1", "--ensemble", 3, "--order", "own",
                 "--batches", 4, "--repeats", 1, "--data-dir", mnist_dir, "--json", out)
    [profile] = written(proc, out)["profiles"]
    assert profile["net"] == "conv1, a population of 3 (own order)" and profile["cores"] == 1
    # each network's own images: the convolution's product is batched over the 3 (one network: f32[5760,20])
    assert "f32[3,5760,20]" in {op["shape"] for op in profile["ops"] if op["what"] == "dot_general"}
    assert "conv1, a population of 3 (own order): the ops sum to" in proc.stdout


@pytest.fixture
def jax_ops(bench_modules):
    pytest.importorskip("jax")
    import bench.peers.jax_ops

    return bench.peers.jax_ops


def test_jax_ops_names_each_instruction_by_its_shape_and_primitive(jax_ops):
    import jax
    import jax.numpy as jnp

    f = jax.jit(lambda a, b: jnp.tanh(a @ b))
    text = f.lower(jnp.ones((3, 4), jnp.float32), jnp.ones((4, 5), jnp.float32)).compile().as_text()
    got = jax_ops.instructions(text)
    assert ("f32[3,5]", "dot_general") in got.values() or ("f32[3,5]", "tanh") in got.values()
    assert all(shape.startswith(("f32[", "s32[", "pred[")) for shape, _ in got.values())
    hand = ('  %fusion.3 = f32[10,2880]{1,0} fusion(%a, %b), kind=kCustom, '
            'metadata={op_name="jit(f)/while/body/dot_general"}\n')
    assert jax_ops.instructions(hand) == {"fusion.3": ("f32[10,2880]", "dot_general")}
    copy = "  %copy.16 = f32[2880,100]{1,0} copy(%p)\n"
    assert jax_ops.instructions(copy) == {"copy.16": ("f32[2880,100]", "copy")}


def test_jax_ops_profile_times_each_op_per_execution_and_leaves_out_the_loop(jax_ops):
    import jax
    import jax.numpy as jnp

    steps = 20
    xs = jnp.asarray(np.random.default_rng(0).random((steps, 64, 64), dtype=np.float32))

    def body(c, x):
        return c + jnp.sum(jnp.tanh(x @ x)), None

    f = jax.jit(lambda xs: jax.lax.scan(body, jnp.float32(0), xs)[0])
    text = f.lower(xs).compile().as_text()
    rows = jax_ops.profile(lambda: f(xs).block_until_ready(), text, repeats=2, per_step_at_least=steps)
    names = jax_ops.instructions(text)
    assert rows and all(r["op"] in names and not r["op"].startswith("while") for r in rows)
    assert [r["us"] for r in rows] == sorted((r["us"] for r in rows), reverse=True)
    assert all(r["us"] > 0 for r in rows)
    # each step slices its 64x64 matrix out of xs once: that op is there, timed per execution
    assert any(r["shape"] == "f32[1,64,64]" and r["what"] == "dynamic_slice" for r in rows)
    once = jax_ops.profile(lambda: f(xs).block_until_ready(), text, repeats=1, per_step_at_least=steps + 1)
    assert once == []  # nothing runs more often than once a step


def test_flops_per_epoch_of_the_book_network(bench_modules):
    assert bench_modules.mlp.flops_per_epoch([784, 30, 10], 50_000, 10) == pytest.approx(5.03e9, rel=1e-3)


def test_markdown_pads_columns_and_keeps_the_footer(bench_modules):
    table = bench_modules.results.markdown(["a", "bb"], [["xyz", "1"]], ["[1] a note"])
    assert table.splitlines() == ["| a   | bb |", "|-----|----|", "| xyz | 1  |", "[1] a note"]


def test_write_is_atomic_and_writes_paths_as_strings(tmp_path, bench_modules, capsys):
    out = tmp_path / "sub" / "r.json"
    bench_modules.results.write(out, {"data_dir": tmp_path})
    assert json.loads(out.read_text()) == {"data_dir": str(tmp_path)}
    assert sorted(p.name for p in out.parent.iterdir()) == ["r.json"]
    assert capsys.readouterr().out == f"wrote {out}\n"


def test_the_results_file_replaces_only_a_benchmarks_earlier_results(tmp_path, bench_modules, capsys):
    results = bench_modules.results
    out = tmp_path / "r.json"
    assert results.check_path(out) == out  # nothing there
    results.write(out, {"machine": {"cpu": "x"}, "results": []})
    assert results.check_path(out) == out  # a benchmark's results: replaced
    for text in ('{"results": []}', "notes of mine", "[1, 2]"):
        out.write_text(text)
        with pytest.raises(ValueError) as exc:
            results.check_path(out)
        why = "holds a file that is not a benchmark's results; give another path"
        assert str(exc.value) == f"--json {out}: {why}"
    with pytest.raises(ValueError, match="is a directory"):
        results.check_path(tmp_path)
    (tmp_path / "mnist").mkdir()
    (tmp_path / "mnist" / "train-images-idx3-ubyte.gz").write_bytes(b"\x1f\x8b")
    with pytest.raises(ValueError, match="--data-dir"):  # an input of the benchmark
        results.check_path(tmp_path / "mnist" / "train-images-idx3-ubyte.gz", tmp_path / "mnist")


def test_a_benchmark_refuses_a_results_file_it_would_wrongly_replace_before_any_work(tmp_path):
    mine = tmp_path / "mine.json"
    mine.write_text("notes of mine")
    proc = bench("--profile", "--json", mine)
    assert proc.returncode == 2 and mine.read_text() == "notes of mine"
    assert proc.stderr.strip().splitlines() == [f"bench.py: error: --json {mine}: holds a file that is not a "
                                                "benchmark's results; give another path (see --help)"]


def test_torch_problem_survives_the_trip_to_the_subprocess(tmp_path, bench_modules):
    rng = np.random.default_rng(0)
    problem = {"train_x": rng.random((20, 784), dtype=np.float32),
               "train_y1h": np.eye(10)[rng.integers(0, 10, 20)],
               "test_x": rng.random((5, 784), dtype=np.float32), "test_y": rng.integers(0, 10, 5),
               "weights": [rng.standard_normal((30, 784)), rng.standard_normal((10, 30))],
               "biases": [rng.standard_normal((30, 1)), rng.standard_normal((10, 1))],
               "perms": np.stack([rng.permutation(20)]), "m": 10, "eta": 3.0}
    bench_modules.peers.torch_peer.save_problem(tmp_path, **problem)
    back = bench_modules.peers.torch_peer.load_problem(tmp_path)
    assert sorted(back) == sorted(problem)
    for key, value in problem.items():
        if isinstance(value, list):
            assert all(np.array_equal(a, b) for a, b in zip(back[key], value, strict=True))
        else:
            assert np.array_equal(back[key], value), key
