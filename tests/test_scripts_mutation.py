"""``scripts/mutation.py``: reading mutmut's results, the accepted list, the seeded sample and the score."""

from __future__ import annotations

import json

import pytest
from command_helpers import script


@pytest.fixture(scope="module")
def mutation():
    return script("mutation")


def write_meta(root, module, codes):
    path = root / f"{module}.meta"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"exit_code_by_key": codes, "durations_by_key": {}}))


@pytest.fixture()
def results(tmp_path, mutation):
    """Two modules' results as mutmut leaves them, and an accepted list naming one survivor."""
    root = tmp_path / "mutants"
    a = {f"pkg.a.x_f__mutmut_{i}": 1 for i in range(8)}
    a |= {"pkg.a.x_f__mutmut_8": -24, "pkg.a.x_f__mutmut_9": 0}  # a timeout (SIGXCPU), a survivor
    b = {f"pkg.b.x_g__mutmut_{i}": 1 for i in range(3)}
    b |= {"pkg.b.x_g__mutmut_3": 0, "pkg.b.x_g__mutmut_4": 33}  # a survivor, one no test reaches
    b |= {f"pkg.b.x_g__mutmut_{i}": None for i in range(5, 10)}  # not run (a sample)
    write_meta(root, "pkg/a.py", a)
    write_meta(root, "pkg/b.py", b)
    listed = tmp_path / "accepted.txt"
    listed.write_text("# name  reason\n\npkg.a.x_f__mutmut_9  equivalent: x * 1.0 for x\n")
    return mutation.mutants(root), mutation.accepted(listed)


def test_statuses_are_read_from_mutmuts_exit_codes(results):
    found, ok = results
    assert sorted(found) == ["pkg/a.py", "pkg/b.py"]
    a, b = found["pkg/a.py"], found["pkg/b.py"]
    assert [a[f"pkg.a.x_f__mutmut_{i}"] for i in (0, 8, 9)] == ["killed", "timeout", "survived"]
    assert [b[f"pkg.b.x_g__mutmut_{i}"] for i in (3, 4, 5)] == ["survived", "no tests", "not run"]
    assert ok == {"pkg.a.x_f__mutmut_9": "equivalent: x * 1.0 for x"}


def test_the_score_counts_timeouts_as_killed_and_leaves_out_accepted_and_unrun_mutants(mutation, results):
    text, data, value = mutation.report(*results)
    a, b = data["rows"]
    assert (a["killed"], a["timeout"], a["survived"], a["accepted"], a["score"]) == (8, 1, 0, 1, 1.0)
    assert (b["run"], b["killed"], b["survived"], b["no tests"], b["score"]) == (5, 3, 1, 1, 3 / 5)
    assert value == 12 / 14 and data["core"]["run"] == 15 and data["core"]["mutants"] == 20
    assert data["unexplained"] == [("pkg.b.x_g__mutmut_3", "survived"), ("pkg.b.x_g__mutmut_4", "no tests")]
    assert "| pkg/b.py | 10 | 5 | 3 | 0 | 1 | 1 | 0 | 60.0% |" in text
    assert "| **core** | 20 | 15 | 11 | 1 | 1 | 1 | 1 | 85.7% |" in text
    low, high = data["interval"]
    assert low < 12 / 14 < high and "Sampled: 15 of 20 mutants run" in text


def test_wilson_interval_of_known_values(mutation):
    low, high = mutation.interval(90, 100)
    assert low == pytest.approx(0.8256, abs=1e-4) and high == pytest.approx(0.9448, abs=1e-4)
    assert mutation.interval(0, 0) is None


def test_the_sample_is_seeded_and_takes_at_most_n_per_module(mutation, results):
    found, _ = results
    first = mutation.sample(found, 4, seed=1)
    assert first == mutation.sample(found, 4, seed=1)
    assert first != mutation.sample(found, 4, seed=2)
    assert sum(n.startswith("pkg.a.") for n in first) == 4 and sum(n.startswith("pkg.b.") for n in first) == 4
    assert len(mutation.sample(found, 50, seed=1)) == 20  # a small module gives all it has


def test_bad_flags_and_a_missing_mutmut_are_one_line_and_exit_2(mutation, monkeypatch, capsys):
    with pytest.raises(SystemExit) as e:
        mutation.main(["--sample", "0"])
    assert e.value.code == 2 and capsys.readouterr().err.strip().endswith("got 0 (see --help)")
    monkeypatch.setattr(mutation.importlib.util, "find_spec", lambda name: None)
    assert mutation.main(["--sample", "3"]) == 2
    err = capsys.readouterr().err
    assert err == "scripts/mutation.py: mutmut is not installed; pip install -e '.[mutation]'\n"


def test_report_only_without_results_is_one_line_and_exit_2(mutation, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(mutation, "mutants", lambda: {})
    assert mutation.main(["--report-only", "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "no mutants yet" in err
    assert not (tmp_path / "r").exists()


def test_a_samples_report_counts_the_draw_alone(mutation, results, tmp_path, monkeypatch, capsys):
    """Results mutmut holds for mutants outside the draw (an earlier run's, a rerun by name) stay out."""
    found, _ = results
    monkeypatch.setattr(mutation, "mutants", lambda: found)
    names = set(mutation.sample(found, 3, seed=1))
    mutation.main(["--report-only", "--sample", "3", "--seed", "1", "--out", str(tmp_path / "r")])
    data = json.loads((tmp_path / "r" / "report.json").read_text())
    core = data["core"]
    assert core["mutants"] == 6 and core["run"] == sum(found[m][n] != "not run" for m in found
                                                       for n in found[m] if n in names)
    assert {n for n, _ in data["unexplained"]} <= names
    assert f"Sampled: {core['run']} of 6 drawn mutants run" in capsys.readouterr().out


def test_out_replaces_an_earlier_report_and_nothing_else_before_any_mutant_runs(mutation, results, tmp_path,
                                                                                  monkeypatch, capsys):
    found, _ = results
    monkeypatch.setattr(mutation, "mutants", lambda: found)
    out = tmp_path / "r"
    assert mutation.main(["--report-only", "--out", str(out), "--target", "0"]) == 0
    first = (out / "report.md").read_text()
    assert first.startswith(mutation.REPORT_HEAD)
    # its own report: replaced
    assert mutation.main(["--report-only", "--out", str(out), "--target", "0"]) == 0
    assert (out / "report.md").read_text() == first
    capsys.readouterr()

    ran = []
    monkeypatch.setattr(mutation, "mutmut", lambda *a: ran.append(a) or 0)
    for i, (name, text) in enumerate((("report.md", "my notes\n"), ("report.json", '{"mine": 1}'),
                                      ("report.json", "["))):
        theirs = tmp_path / f"theirs-{i}"
        theirs.mkdir()
        (theirs / name).write_text(text)
        assert mutation.main(["--out", str(theirs)]) == 2
        err = capsys.readouterr().err
        assert err == (f"scripts/mutation.py: error: --out {theirs}: its {name} is not a mutation report; "
                       "give another directory\n")
        assert (theirs / name).read_text() == text
    file_out = tmp_path / "a-file"
    file_out.write_text("x")
    assert mutation.main(["--out", str(file_out)]) == 2
    err = capsys.readouterr().err
    assert err == f"scripts/mutation.py: error: --out {file_out}: is a file; give a directory\n"
    assert ran == []  # refused before mutmut ran
