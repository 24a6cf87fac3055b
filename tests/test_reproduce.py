"""``dlpy35 reproduce``: the book's twelve rows, each rerun through the library as its command would."""

from __future__ import annotations

import json

import numpy as np
import pytest
from command_helpers import run_main

from dlpy35 import network, network3
from dlpy35.cli import main as cli
from dlpy35.engine.records import EpochRecord, Evaluation, PopulationRecord
from dlpy35.storage import tables
from dlpy35.studies import reproduce


def test_the_twelve_rows_of_the_books_results_with_the_books_figures(capsys):
    assert [r.book for r in reproduce.ROWS] == [95.42, 96.59, 96.49, 98.04, 97.80, 98.78, 99.06, 99.23, 99.37,
                                                99.43, 99.60, 99.67]
    status, out, _ = run_main(cli.main, ["reproduce", "--list"], capsys)
    assert status == 0
    assert [line.split()[0] for line in out.splitlines()[::2]] == [r.name for r in reproduce.ROWS]
    assert "dlpy35 train-conv --net conv2-relu --expanded --dropout --ensemble 5" in out


def _ch13(sizes, cost, eta, lmbda, evaluation, then=()):
    return {"sizes": sizes, "cost": cost, "eta": eta, "lmbda": lmbda, "epochs": 30, "then": then,
            "evaluation": evaluation, "n_train": None}


def _ch6(net, eta, lmbda, epochs, expanded=False, extra_fc=False, dropout=False, ensemble=1):
    return {"net": net, "expanded": expanded, "extra_fc": extra_fc, "dropout": dropout, "ensemble": ensemble,
            "eta": eta, "lmbda": lmbda, "epochs": epochs, "n_train": None}


#: Each row's settings, as the book trained it (chapters 1, 3 and 6), and its metric.
BOOK = {
    "ch1-30": (1, _ch13((784, 30, 10), "quadratic", 3.0, 0.0, "test"), "best"),
    "ch1-100": (1, _ch13((784, 100, 10), "quadratic", 3.0, 0.0, "test"), "best"),
    "ch3-30": (3, _ch13((784, 30, 10), "cross-entropy", 0.5, 5.0, "validation"), "best"),
    "ch3-100": (3, _ch13((784, 100, 10), "cross-entropy", 0.5, 5.0, "validation", ((60, 0.1),)), "best"),
    "ch6-fc": (6, _ch6("fc", 0.1, 0.0, 60), "test_at_best_validation"),
    "ch6-conv1": (6, _ch6("conv1", 0.1, 0.0, 60), "test_at_best_validation"),
    "ch6-conv2": (6, _ch6("conv2", 0.1, 0.0, 60), "test_at_best_validation"),
    "ch6-conv2-relu": (6, _ch6("conv2-relu", 0.03, 0.1, 60), "test_at_best_validation"),
    "ch6-expanded": (6, _ch6("conv2-relu", 0.03, 0.1, 60, expanded=True), "test_at_best_validation"),
    "ch6-extra-fc": (6, _ch6("conv2-relu", 0.03, 0.1, 60, expanded=True, extra_fc=True),
                     "test_at_best_validation"),
    "ch6-dropout": (6, _ch6("conv2-relu", 0.03, 0.0, 40, expanded=True, dropout=True),
                    "test_at_best_validation"),
    "ch6-vote": (6, _ch6("conv2-relu", 0.03, 0.0, 40, expanded=True, dropout=True, ensemble=5), "vote"),
}


def test_each_row_holds_the_books_settings_and_a_quick_run_of_one_epoch_on_a_slice():
    assert {r.name: (r.chapter, r.settings, r.metric) for r in reproduce.ROWS} == BOOK
    for row in reproduce.ROWS:
        quick = {"epochs": 1, "n_train": 200 if row.chapter == 6 else 1000}
        quick |= {"then": ((1, 0.1),)} if row.name == "ch3-100" else {}
        assert row.quick == quick, row.name
        assert row.run_settings() == row.settings
        assert row.run_settings(quick=True) == {**row.settings, **quick}


@pytest.mark.parametrize("name, book, make", [
    ("ch6-fc", 97.80, lambda: reproduce._conv("ch6-fc", "n", 97.80, "fc")),
    ("ch6-dropout", 99.60,
     lambda: reproduce._conv("ch6-dropout", "n", 99.60, "conv2-relu", dropout=True, expanded=True)),
    ("ch1-30", 95.42, lambda: reproduce._row("ch1-30", 1, "n", 95.42, reproduce._CH1)),
    ("ch3-100", 98.04, lambda: reproduce._row("ch3-100", 3, "n", 98.04, reproduce._CH3, sizes=(784, 100, 10),
                                              then=((60, 0.1),), quick={"then": ((1, 0.1),)})),
])
def test_a_row_made_now_takes_the_books_defaults_for_what_it_does_not_say(name, book, make):
    """(ROWS is made when the module is imported: these make rows as a test runs.)"""
    row = make()
    quick = {"epochs": 1, "n_train": 200 if row.chapter == 6 else 1000}
    quick |= {"then": ((1, 0.1),)} if name == "ch3-100" else {}
    assert (row.name, row.chapter, row.network, row.book) == (name, BOOK[name][0], "n", book)
    assert (row.settings, row.quick) == (BOOK[name][1], quick)


def test_each_rows_command_line_parses_to_the_rows_settings():
    """The command shown for a row trains as the row: its flags parse, with the command's defaults and
    presets, to the settings that :func:`reproduce.run_row` trains with."""
    from dlpy35.cli import reproduce as command
    from dlpy35.cli import train_conv

    for row in reproduce.ROWS:
        for quick in (False, True):
            name = command.COMMANDS[row.chapter]
            args = cli.command_parser(name, "dlpy35").parse_args(command.flags(row, quick))
            s = row.run_settings(quick)
            keys = ["eta", "lmbda", "epochs", "n_train"]
            if row.chapter == 6:
                train_conv.check(None, args)  # fills in the preset
                keys += ["net", "expanded", "extra_fc", "dropout", "ensemble"]
            else:
                keys += ["cost", "evaluation"]
                assert tuple(args.sizes or (784, 30, 10)) == s["sizes"]
                assert [(int(e), float(eta)) for e, eta in args.then] == list(s["then"])
            assert {k: getattr(args, k) for k in keys} == {k: s[k] for k in keys}, row.name
            assert (args.epochs == 1) == quick  # a quick run is one epoch; the book's are 30, 40 or 60


def test_quick_rows_run_and_keep_their_figures_in_their_run_directories(capsys, tmp_path, mnist_dir):
    argv = ["reproduce", "ch1-30", "ch6-fc", "--quick", "--out", str(tmp_path), "--mode", "JAX",
            "--device", "cpu"]
    status, out, err = run_main(cli.main, argv, capsys)
    assert status == 0, err
    saved = json.loads((tmp_path / "results.json").read_text())["results"]
    assert [r["row"] for r in saved] == ["ch1-30", "ch6-fc"] and {r["status"] for r in saved} == {"quick run"}
    epochs = (tmp_path / "ch1-30" / "epochs.csv").read_text().splitlines()[1].split(",")
    (first,) = tables.read_csv(tmp_path / "ch1-30" / "epochs.csv")  # chapter 1: its one set is the test set
    assert first["test_correct"] == first["evaluation_correct"] and first["test_total"] == "10000"
    assert saved[0]["dlpy35"] == pytest.approx(100 * int(epochs[8]) / int(epochs[9]), abs=0.005)
    epoch = json.loads((tmp_path / "ch6-fc" / "history.json").read_text())["runs"][0]["history"][0]
    assert saved[1]["dlpy35"] == pytest.approx(100 * epoch["test_correct"] / epoch["test_total"], abs=0.005)
    (told,) = tables.read_csv(tmp_path / "ch6-fc" / "epochs.csv")  # one network's epoch, told as it ended
    assert (int(told["evaluation_correct"]), int(told["test_correct"])) == (epoch["validation_correct"],
                                                                          epoch["test_correct"])
    assert f"  epoch 0: {100 * epoch['validation_correct'] / epoch['validation_total']:.2f}% (" in out
    for row, module, final in (("ch1-30", network, {"test"}), ("ch6-fc", network3, {"validation", "test"})):
        path = tmp_path / row / ("network.json" if module is network else "network.npz")
        meta = module.load(path, mode="JAX", device="cpu").metadata
        assert meta.dataset == "MNIST" and meta.training["command"] == "dlpy35 reproduce"  # what it learnt
        assert set(meta.results["final"]) == final
        args = meta.training["args"]  # the row's own settings: the quick run's epochs and slice
        assert (args["epochs"], args["n_train"]) == ((1, 1000) if module is network else (1, 200))
    assert network.load(tmp_path / "ch1-30" / "network.json", mode="JAX", device="cpu").metadata.training[
        "args"]["eta"] == 3.0 and network3.load(tmp_path / "ch6-fc" / "network.npz", mode="JAX",
                                                device="cpu").metadata.training["args"]["net"] == "fc"
    first = network.load(tmp_path / "ch1-30" / "network.json", mode="JAX", device="cpu").weights[0]
    assert np.std(first) > 0.5  # chapter 1's "large" N(0, 1) weights, not N(0, 1/784) (std 0.036)
    table = (tmp_path / "results.md").read_text()
    assert "| ch1-30 |" in table
    assert "`dlpy35 train --epochs 1 --n-train 1000 --device cpu --mode JAX`" in table
    # The same command again: the rows are kept, not rerun.
    status, out, _ = run_main(cli.main, argv, capsys)
    assert status == 0 and out.count("kept from") == 2


def test_the_markdown_table_has_a_header_a_rule_and_a_line_per_result():
    result = {"row": "ch1-30", "network": "n", "dlpy35": 95.456, "book": 95.42, "difference": 0.036,
              "test_of_pick": None, "status": "reproduced", "epochs": 30, "seconds_per_epoch": 1.5,
              "seconds": 45.4, "device": "cpu", "command": "dlpy35 train"}
    picked = {**result, "row": "ch3-30", "test_of_pick": 96.456, "difference": -0.5}
    before = {k: v for k, v in result.items() if k != "test_of_pick"}  # a result of before: no pick kept
    header, rule, *lines = reproduce.markdown([result, picked, before]).splitlines()
    assert header == ("| row | network | dlpy35 | book | difference | test of pick | status | epochs | "
                      "s/epoch | seconds | device | command |")
    assert rule == "|" + " --- |" * 12
    assert lines == ["| ch1-30 | n | 95.46% | 95.42% | +0.04 | - | reproduced | 30 | 1.5 | 45 | cpu | "
                     "`dlpy35 train` |",
                     "| ch3-30 | n | 95.46% | 95.42% | -0.50 | 96.46% | reproduced | 30 | 1.5 | 45 | cpu | "
                     "`dlpy35 train` |",
                     "| ch1-30 | n | 95.46% | 95.42% | +0.04 | - | reproduced | 30 | 1.5 | 45 | cpu | "
                     "`dlpy35 train` |"]
    assert reproduce.markdown([]).splitlines() == [header, rule]


def test_status_is_reproduced_within_three_tenths_of_a_point():
    assert reproduce.status_of(95.15, 95.42) == "reproduced"
    assert reproduce.status_of(95.11, 95.42) == "not reproduced"
    assert reproduce.status_of(50.0, 95.42, quick=True) == "quick run"
    assert 0.5 - 0.2 == reproduce.TOLERANCE  # exactly, in binary floating point: the boundary itself
    assert reproduce.status_of(0.5, 0.2) == reproduce.status_of(0.2, 0.5) == "reproduced"


@pytest.mark.parametrize("argv, words", [(["ch9-nope"], "unknown row 'ch9-nope'"),
                                         (["--dataset", "x"], "--dataset")])
def test_bad_rows_and_flags_are_one_line(argv, words, capsys, tmp_path):
    status, out, err = run_main(cli.main, ["reproduce", *argv, "--out", str(tmp_path)], capsys)
    assert status == 2 and len(err.strip().splitlines()) == 1 and words in err


def test_a_partial_run_keeps_its_curve_and_seconds_per_epoch_and_is_not_compared(capsys, tmp_path, mnist_dir):
    argv = ["reproduce", "ch1-30", "--epochs", "2", "--seed", "3", "--out", str(tmp_path), "--mode", "JAX",
            "--device", "cpu"]
    status, out, err = run_main(cli.main, argv, capsys)
    assert status == 0, err
    (result,) = json.loads((tmp_path / "results.json").read_text())["results"]
    assert result["status"] == "partial run" and result["epochs"] == 2 and len(result["curve"]) == 2
    assert result["dlpy35"] == max(result["curve"]) and result["seconds_per_epoch"] > 0
    assert result["command"] == "dlpy35 train --device cpu --epochs 2 --seed 3 --mode JAX"
    assert json.loads((tmp_path / "ch1-30" / "args.json").read_text())["args"]["seed"] == 3


def test_a_tie_in_validation_accuracy_takes_the_later_epochs_test_accuracy():
    """As the book's network3 (``>=``): of equally good validation epochs the later one counts.

    The test accuracies at the tied epochs (85%, 88%) differ from each other and from the best test
    accuracy of the run (99%), so taking the first tie, or the best test epoch, gives another figure.
    """
    records = [EpochRecord(e, 1.0, 0.1, 0.5, {"validation": Evaluation(v, 100, 1.0),
                                              "test": Evaluation(t, 100, 1.0)})
               for e, (v, t) in enumerate([(90, 80), (95, 85), (94, 99), (95, 88), (93, 70)])]
    (row,) = reproduce.find(["ch6-fc"])
    assert row.metric == "test_at_best_validation"
    assert reproduce.at_best_validation(records) == pytest.approx(0.88)
    assert reproduce.at_best_validation([]) == 0.0


def test_the_first_network_of_a_population_stops_at_the_epoch_it_diverged_in():
    def epoch(j, first):
        return PopulationRecord(j, 1.0, [0.1, 0.1], [first, EpochRecord(j, 1.0, 0.1, 0.5)])

    alone = [EpochRecord(j, 1.0, 0.1, 0.5) for j in range(3)]
    assert reproduce.first_network(alone) == alone
    population = [epoch(0, alone[0]), epoch(1, alone[1]), epoch(2, None)]
    assert reproduce.first_network(population) == alone[:2]


def test_a_rows_progress_tells_and_keeps_the_first_networks_epochs_until_it_diverges():
    """A population's first network diverges in epoch 1: epoch 0 is told and kept, epoch 1 told of no
    network (the others go on), and ``epochs.csv`` still holds epoch 0 alone."""
    from types import SimpleNamespace

    def evaluations(validation):
        return {"validation": Evaluation(validation, 100, 1.0), "test": Evaluation(validation - 1, 100, 1.0)}

    first = EpochRecord(0, 2.0, 0.1, 0.5, evaluations(90))
    others = [EpochRecord(j, 2.0, 0.1, 0.5, evaluations(80 + j)) for j in range(2)]
    records = [PopulationRecord(0, 2.0, [0.1, 0.1], [first, others[0]]),
               PopulationRecord(1, 2.0, [0.1, 0.1], [None, others[1]])]
    lines, written = [], []
    progress = reproduce.RowProgress({"seed": 4, "eta": 0.1, "lmbda": 0.0}, ["fc"],
                                     SimpleNamespace(epochs=written.append), lines.append)
    for j, record in enumerate(records):
        progress.on_epoch(None, SimpleNamespace(records=records[: j + 1]), record)
    assert lines == ["  epoch 0: 90.00% (2.0 s)"] and progress.records == [first]
    assert [[(r["epoch"], r["seed"], r["sizes"]) for r in rows] for rows in written] == [[(0, 4, "fc")]] * 2
    assert (written[-1][0]["evaluation_correct"], written[-1][0]["test_correct"]) == (90, 89)


@pytest.mark.parametrize("text", [
    "{not json",
    '{"rows": []}',
    '{"results": {"ch1-30": 1}}',
    '{"results": [3]}',
    '{"results": [{"row": "ch1-30", "dlpy35": 95.1}]}',  # a table built from it would fail after the row
])
def test_a_damaged_results_file_is_one_line_before_any_row_trains(text, capsys, tmp_path):
    """Refused before training (no row directory is made), named, with a fix that keeps the file."""
    (tmp_path / "results.json").write_text(text)
    status, out, err = run_main(cli.main, ["reproduce", "ch1-30", "--out", str(tmp_path)], capsys)
    assert status == 2 and out == "" and len(err.splitlines()) == 1, err
    assert f"--out {tmp_path} holds another run (results.json); give --overwrite to replace it" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.json"]
    assert (tmp_path / "results.json").read_text() == text


@pytest.mark.parametrize("text", ["[" * 100_000 + "]" * 100_000, "{}", "{not json"])
def test_a_rows_directory_whose_args_json_is_no_rows_is_another_run_refused_in_one_line(text, capsys,
                                                                                       tmp_path):
    """Lists nested beyond the parser's recursion, too, are one line, not a traceback."""
    (tmp_path / "ch1-30").mkdir()
    (tmp_path / "ch1-30" / "args.json").write_text(text)
    status, out, err = run_main(cli.main, ["reproduce", "ch1-30", "--out", str(tmp_path)], capsys)
    assert status == 2 and out == "" and len(err.splitlines()) == 1, err
    assert f"--out {tmp_path / 'ch1-30'} holds another run (args.json); give --overwrite to replace it" in err


@pytest.mark.parametrize("text, why", [
    ("{not json", "Expecting property name"),
    ('{"rows": []}', "missing results"),
    ('{"results": {"ch1-30": 1}}', "'results' is not a list"),
    ('{"results": [3]}', "a result is not an object"),
    ('{"results": [{"row": "ch1-30", "dlpy35": 95.1}]}', "missing network, book, difference"),
    ('{"results": [{"row": "ch1-30", "network": "n", "dlpy35": "95", "book": 95, "difference": 0, '
     '"status": "s", "epochs": 1, "seconds_per_epoch": 1, "seconds": 1, "device": "d", "command": "c"}]}',
     "dlpy35, book, difference, seconds must be numbers"),
])
def test_read_results_names_the_file_and_what_is_wrong(text, why, tmp_path):
    (tmp_path / "results.json").write_text(text)
    with pytest.raises(ValueError, match=r"^\S+results.json: not a results file of dlpy35 reproduce") as exc:
        reproduce.read_results(tmp_path / "results.json")
    assert f"({why}" in str(exc.value)  # "missing" only for what is missing


def test_read_results_keeps_a_good_file_by_row_and_finds_none_missing(tmp_path):
    result = {k: 1.0 for k in reproduce.RESULT_FIELDS} | {"row": "ch1-30"}
    (tmp_path / "results.json").write_text(json.dumps({"results": [result]}))
    assert reproduce.read_results(tmp_path / "results.json") == {"ch1-30": result}
    assert reproduce.read_results(tmp_path / "absent.json") == {}


def test_a_validation_row_reports_the_test_accuracy_of_the_epoch_it_picked():
    """Chapter 3's rows pick on validation data: scripted records where validation's best epoch (1) is not
    test's (2) give epoch 1's test figure; chapter 1's rows, which evaluate the test set alone, pick
    nothing on validation data."""
    records = [EpochRecord(e, 1.0, 0.5, 0.5, {"evaluation": Evaluation(v, 100, 1.0),
                                              "test": Evaluation(t, 1000, 1.0)})
               for e, (v, t) in enumerate([(90, 800), (96, 851), (95, 990), (96, 700)])]
    assert reproduce.test_of_pick(records) == 85.1  # the first of equal validation epochs, as a sweep's
    chapter1 = [EpochRecord(0, 1.0, 3.0, 0.5, {"evaluation": Evaluation(95, 100, 1.0)})]
    assert reproduce.test_of_pick(chapter1) is None and reproduce.test_of_pick([]) is None


def test_a_quick_chapter3_row_reports_the_test_accuracy_at_its_best_validation_epoch(tmp_path, mnist,
                                                                                      monkeypatch):
    """A quick chapter-3 row with a second stage (an epoch at eta 0.5, then one at 0.1): its figure is the
    best validation epoch's (the saved network's counts on the validation and test sets are its last
    epoch's), its test_of_pick that epoch's test accuracy; its network is built with the
    row's cost, the book's initialisation for that cost, and the seed, mode and device it was given.

    A pixel blank in all 1000 training images gets no gradient, so its weights only decay by
    ``1 - eta * lmbda / n`` each mini-batch: 100 mini-batches of 10 at eta 0.5, then 100 at 0.1, from the
    seed's initial weights -- which checks the row's lambda, stages, slice, mini-batch size and seed.
    Its seconds per epoch are the median of the trainer's epochs (the upper one of two)."""
    import itertools
    from types import SimpleNamespace

    from dlpy35 import network2
    from dlpy35.engine import trainer

    ticks = itertools.count()  # a clock whose every interval is longer than the one before
    monkeypatch.setattr(trainer, "time", SimpleNamespace(perf_counter=lambda: 0.1 * next(ticks) ** 2))
    start = network2.Network([784, 30, 10], seed=5, mode="JAX", device="cpu").weights[0]
    built, init = [], network2.Network.__init__
    monkeypatch.setattr(network2.Network, "__init__",
                        lambda net, *a, **kw: built.append((a, kw)) or init(net, *a, **kw))
    row = reproduce._row("ch3-then", 3, "n", 96.49, reproduce._CH3, then=((1, 0.1),))
    lines = []
    result = reproduce.run_row(row, tmp_path, quick=True, seed=5, device="cpu", mode="JAX", log=lines.append)
    assert built == [(([784, 30, 10],), {"cost": "cross-entropy", "seed": 5, "mode": "JAX", "device": "cpu",
                                         "weight_init": "default"})]
    rows = tables.read_csv(tmp_path / "epochs.csv")
    assert [(r["evaluation_total"], r["test_total"]) for r in rows] == [("10000", "10000")] * 2
    assert [(r["net"], r["seed"], r["eta"], r["lmbda"], r["sizes"], r["epoch"]) for r in rows] == [
        ("0", "5", "0.5", "5.0", "784-30-10", "0"), ("0", "5", "0.5", "5.0", "784-30-10", "1")]
    best = max(rows, key=lambda r: (int(r["evaluation_correct"]), -int(r["epoch"])))
    assert result["dlpy35"] == pytest.approx(int(best["evaluation_correct"]) / 100, abs=0.005)
    assert result["test_of_pick"] == pytest.approx(int(best["test_correct"]) / 100, abs=0.005)
    assert result["quick"] is True and result["status"] == "quick run" and result["chapter"] == 3
    short, long = sorted(round(float(r["seconds"]), 2) for r in rows)
    assert short < long and result["seconds_per_epoch"] == long  # the median of two: the upper one
    assert [line.split(":")[0] for line in lines] == ["  epoch 0", "  epoch 1"]
    assert lines[1].split(": ")[1].startswith(f"{result['curve'][1]:.2f}% (")
    first = network.load(tmp_path / "network.json", mode="JAX", device="cpu").weights[0]
    assert np.std(first) < 0.1  # chapter 3's N(0, 1/784) weights (std 0.036), shrunk; not chapter 1's N(0, 1)
    saved = network.load(tmp_path / "network.json", mode="JAX", device="cpu")  # its last epoch's weights
    assert (saved.evaluate(mnist[1]), saved.evaluate(mnist[2])) == (int(rows[-1]["evaluation_correct"]),
                                                                   int(rows[-1]["test_correct"]))
    blank = (mnist[0][0][:1000] == 0).all(axis=0)
    assert blank.sum() > 50
    decay = (1 - 0.5 * 5.0 / 1000) ** 100 * (1 - 0.1 * 5.0 / 1000) ** 100
    np.testing.assert_allclose(first[:, blank], decay * start[:, blank], rtol=1e-4, atol=1e-7)


def test_a_row_run_in_full_is_compared_with_the_book(tmp_path, mnist, monkeypatch):
    """A chapter-1 row of one epoch on 1000 images, run as the book's (not quick, not partial): its figure
    is the test accuracy of the network it saved, compared with the book's; its seconds are the clock's,
    to a tenth, its seconds per epoch the trainer's, to a hundredth."""
    import itertools
    from types import SimpleNamespace

    from dlpy35.engine import trainer

    clock, ticks = iter([100.0, 112.3456]), itertools.count()
    monkeypatch.setattr(reproduce, "time", SimpleNamespace(perf_counter=lambda: next(clock)))
    monkeypatch.setattr(trainer, "time", SimpleNamespace(perf_counter=lambda: 1.23456 * next(ticks)))
    row = reproduce._row("ch1-tiny", 1, "n", 95.42, reproduce._CH1, epochs=1, n_train=1000)
    result = reproduce.run_row(row, tmp_path, seed=2, device="cpu", mode="JAX", log=lambda _: None)
    correct = network.load(tmp_path / "network.json", mode="JAX", device="cpu").evaluate(mnist[2])
    assert result["dlpy35"] == round(correct / 100, 2) and abs(result["dlpy35"] - 95.42) > 1
    assert result["status"] == "not reproduced" and result["quick"] is False
    assert result["difference"] == pytest.approx(result["dlpy35"] - 95.42, abs=0.011)
    assert (result["seconds"], result["epochs"], result["test_of_pick"]) == (12.3, 1, None)
    (epoch,) = tables.read_csv(tmp_path / "epochs.csv")
    assert float(epoch["seconds"]) == pytest.approx(1.23456) and result["seconds_per_epoch"] == 1.23
    assert (result["row"], result["network"], result["book"]) == ("ch1-tiny", "n", 95.42)


def test_a_row_of_no_epochs_has_no_figure_and_no_seconds_per_epoch(tmp_path, mnist_dir):
    """(With run_row's defaults but the mode: device auto, seed 0.)"""
    row = reproduce._row("ch1-none", 1, "n", 95.42, reproduce._CH1, n_train=1000)
    result = reproduce.run_row(row, tmp_path, epochs=0, mode="JAX", log=lambda _: None)
    args = json.loads((tmp_path / "args.json").read_text())["args"]
    assert (args["device"], args["seed"], args["epochs"]) == ("auto", 0, 0)
    assert (result["dlpy35"], result["epochs"], result["curve"]) == (0.0, 0, [])
    assert result["seconds_per_epoch"] is None
    assert result["status"] == "partial run"


@pytest.mark.parametrize("judged", ["validation", "evaluation"])  # chapter 6's, chapter 3's
def test_the_test_accuracy_of_the_pick_is_rounded_to_hundredths_of_a_point(judged):
    evaluations = {judged: Evaluation(2, 3, 1.0), "test": Evaluation(1, 3, 1.0)}
    records = [EpochRecord(0, 1.0, 0.1, 0.5, evaluations)]
    assert reproduce.test_of_pick(records) == 33.33


def test_a_rows_curves_plot_the_evaluated_accuracy_in_percent_and_the_cost():
    records = [EpochRecord(e, 1.0, 0.1, cost, {"evaluation": Evaluation(correct, 200, 1.0)})
               for e, (correct, cost) in enumerate([(150, 0.9), (171, 0.5)])]
    accuracy, cost = reproduce._curves(records)(None).axes
    assert list(accuracy.lines[0].get_ydata()) == [75.0, 85.5]
    assert list(cost.lines[0].get_ydata()) == [0.9, 0.5]
    assert reproduce._curves([])(None) == []  # no epochs: nothing drawn


def test_quick_rows_on_a_local_ray_cluster_give_the_figures_they_give_here(capsys, tmp_path, mnist_dir,
                                                                            local_ray):
    """Each row a Ray task: the same figures and run directories as the rows run here, one after another,
    the table written as rows end, and a rerun keeps them."""
    rows = ["reproduce", "ch1-30", "ch6-fc", "--quick", "--mode", "JAX", "--device", "cpu"]
    for out, more in (("here", []), ("ray", ["--ray", "auto"])):
        status, stdout, err = run_main(cli.main, [*rows, "--out", str(tmp_path / out), *more], capsys)
        assert status == 0, err
    here, there = (json.loads((tmp_path / out / "results.json").read_text())["results"]
                   for out in ("here", "ray"))
    by_row = {r["row"]: r for r in there}
    assert [r["row"] for r in here] == ["ch1-30", "ch6-fc"] and by_row.keys() == {"ch1-30", "ch6-fc"}
    for mine in here:
        theirs = by_row[mine["row"]]
        assert (theirs["curve"], theirs["dlpy35"], theirs["command"], theirs["device"]) == \
            (mine["curve"], mine["dlpy35"], mine["command"], mine["device"])
        files = sorted(p.name for p in (tmp_path / "here" / mine["row"]).iterdir())
        assert sorted(p.name for p in (tmp_path / "ray" / mine["row"]).iterdir()) == files
    for row in ("ch1-30", "ch6-fc"):  # every epoch's cost and counts, the same; only the seconds differ
        local, remote = (tables.read_csv(tmp_path / o / row / "epochs.csv") for o in ("here", "ray"))
        assert [{**e, "seconds": None} for e in remote] == [{**e, "seconds": None} for e in local]
    status, stdout, _ = run_main(cli.main, [*rows, "--out", str(tmp_path / "ray"), "--ray", "auto"], capsys)
    assert status == 0 and stdout.count("kept from") == 2


def test_a_row_that_cannot_run_on_a_ray_worker_is_one_line_naming_it(capsys, tmp_path, local_ray):
    argv = ["reproduce", "ch1-30", "--quick", "--device", "cuda", "--out", str(tmp_path), "--ray", "auto"]
    status, _, err = run_main(cli.main, argv, capsys)
    assert status == 2 and len(err.strip().splitlines()) == 1
    assert err.startswith("dlpy35 reproduce: ch1-30: ") and "cuda" in err
    assert not (tmp_path / "results.json").exists()


def test_an_interrupted_ensemble_row_resumes_from_its_last_checkpoint(tmp_path, mnist, monkeypatch):
    """A quick two-network row of the fc net (the ensemble rows' path, without the expanded set), two
    epochs: Ctrl-C after the first, then the row run again, ends as the row run straight.

    The row run straight scores the plurality vote of its two networks' test labels (where they differ,
    the lower label), saves the first network and keeps each network's seed."""
    import numpy as np

    from dlpy35.engine.population import LayerPopulation
    from dlpy35.storage import checkpoint

    row = reproduce._conv("ch6-pair", "two fc networks that vote", 97.80, "fc", ensemble=2)
    options = {"quick": True, "epochs": 2, "device": "cpu", "mode": "JAX"}
    labels, predict = {}, LayerPopulation.predict
    monkeypatch.setattr(LayerPopulation, "predict", lambda p, x: labels.setdefault("votes", predict(p, x)))
    straight = reproduce.run_row(row, tmp_path / "straight", **options, log=lambda _: None)
    monkeypatch.undo()
    x, y = mnist[2]
    votes = labels["votes"]
    assert votes.shape == (2, len(y))
    vote = np.mean(np.where(votes[0] == votes[1], votes[0], np.minimum(votes[0], votes[1])) == y)
    text = (tmp_path / "straight" / reproduce.HISTORY).read_text()
    assert text.startswith('{\n "args": {\n  "')  # indented one space a level: a file to read
    kept = json.loads(text)
    assert kept["vote_test_accuracy"] == pytest.approx(vote) and straight["dlpy35"] == round(100 * vote, 2)
    assert [r["seed"] for r in kept["runs"]] == [0, 1] and "data_dir" not in kept["args"]
    rows = tables.read_csv(tmp_path / "straight" / "epochs.csv")  # the first network's epochs
    assert [(r["net"], r["seed"], r["eta"], r["lmbda"], r["sizes"], r["epoch"]) for r in rows] == [
        ("0", "0", "0.1", "0.0", "fc", "0"), ("0", "0", "0.1", "0.0", "fc", "1")]
    judged = [(e["validation_correct"], e["test_correct"]) for e in kept["runs"][0]["history"]]
    assert [(int(r["evaluation_correct"]), int(r["test_correct"])) for r in rows] == judged
    assert straight["test_of_pick"] is None and straight["status"] == "quick run" and straight["chapter"] == 6
    saved = network3.load(tmp_path / "straight" / "network.npz", mode="JAX", device="cpu")
    assert saved.accuracy((x, y)) == pytest.approx(np.mean(votes[0] == y))  # the first network's
    said = []

    def stop_after_epoch_0(line):
        said.append(line)
        if line.startswith("  epoch 0:"):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        reproduce.run_row(row, tmp_path / "row", **options, log=stop_after_epoch_0)
    assert checkpoint.completed_epochs(tmp_path / "row") == 1
    resumed = reproduce.run_row(row, tmp_path / "row", **options, log=said.append)
    assert said[1:] == [f"  resuming from {tmp_path / 'row' / 'checkpoint.npz'}", said[2]]
    assert said[2].startswith("  epoch 1:")
    assert {k: resumed[k] for k in ("dlpy35", "curve", "epochs")} == {k: straight[k] for k in
                                                                        ("dlpy35", "curve", "epochs")}
    got, want = checkpoint.load(tmp_path / "row"), checkpoint.load(tmp_path / "straight")
    assert all(np.array_equal(a, b) for a, b in zip([*got[0], *got[1]], [*want[0], *want[1]]))

    def histories(directory):
        runs = json.loads((directory / reproduce.HISTORY).read_text())["runs"]
        return [[{k: v for k, v in epoch.items() if k != "seconds"} for epoch in r["history"]] for r in runs]

    assert histories(tmp_path / "row") == histories(tmp_path / "straight")
    assert [len(h) for h in histories(tmp_path / "row")] == [2, 2]


def test_a_row_run_away_sends_back_its_run_directorys_files_and_leaves_no_temporary_directory(
        tmp_path, monkeypatch, mnist_dir, capsys):
    """:func:`reproduce.run_row_away` in this process (as a Ray worker runs it): the row trains with the
    task's keywords in a temporary directory of its own, named for the row, which is gone afterwards; what
    comes back is the result, the device and the bytes of the row's files (:func:`reproduce.row_files`, no
    others), as they were in that directory; it prints nothing, and describes the device of the mode it
    was given, not the machine's default one."""
    import tempfile

    from dlpy35.engine import device as devices

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where the worker's temporary directory goes
    monkeypatch.setattr(devices, "cpu_default", lambda dtype: ("NUMBA", "this test's default"))
    seen = {}
    real = reproduce.run_row

    def spy(row, path, quick, **options):
        result = real(row, path, quick, **options)
        seen.update(path=path, files={p.name: p.read_bytes() for p in path.iterdir()})
        (path / "stray.txt").write_text("not the row's")  # a file no row writes: it stays on the worker
        return result

    monkeypatch.setattr(reproduce, "run_row", spy)
    options = {"epochs": None, "seed": 3, "device": "cpu", "mode": "JAX", "data_dir": None,
               "overwrite": False}
    result, device, files = reproduce.run_row_away(("ch1-30", True, options))
    assert seen["path"].name == "ch1-30" and seen["path"].parent.name.startswith("dlpy35-row-")
    assert seen["path"].parent.parent == tmp_path and list(tmp_path.iterdir()) == []  # removed when done
    assert (result["row"], result["status"], result["epochs"]) == ("ch1-30", "quick run", 1)
    assert device.startswith("device=cpu (") and device.endswith(", mode=JAX, dtype=float32")
    assert capsys.readouterr().out == ""  # a worker's epochs are not told: its result goes back
    assert sorted(files) == ["args.json", "checkpoint.npz", "curves.png", "epochs.csv", "network.json"]
    assert files == seen["files"]
    args = json.loads(files["args.json"])
    assert args["command"] == reproduce.made_by(reproduce.find(["ch1-30"])[0]) and args["args"]["seed"] == 3


@pytest.mark.parametrize("name, options, words", [
    ("ch1-30", {"device": "tpu"}, "tpu"),  # a device no machine has: any machine refuses it
    ("ch9-nope", {}, "unknown row 'ch9-nope'"),
])
def test_a_row_that_cannot_run_away_is_a_row_error_naming_it(name, options, words, tmp_path, monkeypatch,
                                                             mnist_dir):
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    options = {"epochs": None, "seed": 0, "device": "cpu", "mode": "JAX", "data_dir": None,
               "overwrite": False, **options}
    with pytest.raises(reproduce.RowError, match=rf"^{name}: .*{words}"):
        reproduce.run_row_away((name, True, options))
    assert list(tmp_path.iterdir()) == []


class _TrainedError(Exception):
    """Raised by a spy in place of training: the test has seen what it wanted."""


@pytest.mark.parametrize("ensemble, dropout, extra_fc, expanded",
                         [(1, False, True, False), (3, True, False, True)])
def test_a_chapter6_row_builds_and_trains_its_networks_with_the_rows_settings(
        ensemble, dropout, extra_fc, expanded, tmp_path, mnist, mnist_dir, monkeypatch):
    """What a chapter-6 row asks of the library, up to its training (which a spy stops): the book's layers
    for the row's net, dropout and extra layer; one network3 network, or a population of consecutive
    seeds from the one given; the row's eta and lambda, its slice of training images (of the expanded set,
    loaded from the data directory with its progress told, where the row says so), one epoch, the
    validation and test sets, and the mode and device given."""
    from dlpy35 import chapter6
    from dlpy35.data import expand
    from dlpy35.engine.population import LayerPopulation

    seen = {}
    book_layers = chapter6.book_layers
    monkeypatch.setattr(chapter6, "book_layers",
                        lambda *a: seen.setdefault("layers", (a, book_layers(*a)))[1])

    def spy(name):
        def record(_, *a, **kw):
            seen[name] = (a, kw)
            if name.endswith("SGD"):
                raise _TrainedError
        return record

    monkeypatch.setattr(network3.Network, "__init__", spy("Network"))
    monkeypatch.setattr(network3.Network, "SGD", spy("Network.SGD"))
    monkeypatch.setattr(LayerPopulation, "__init__", spy("LayerPopulation"))
    monkeypatch.setattr(LayerPopulation, "SGD", spy("LayerPopulation.SGD"))
    (x, y), (val_x, val_y), (test_x, test_y) = mnist
    if expanded:  # the expanded set of the data directory, told as it loads (a stand-in: 250,000 images)
        x, y = x[1000:1300], y[1000:1300]
        monkeypatch.setattr(expand, "load_expanded",
                            lambda *a, **kw: seen.setdefault("expanded", (a, kw)) and (x, y))
    row = reproduce._conv("ch6-x", "n", 99.0, "conv2-relu", dropout=dropout, extra_fc=extra_fc,
                          ensemble=ensemble, expanded=expanded)
    with pytest.raises(_TrainedError):
        reproduce.run_row(row, tmp_path, quick=True, seed=7, device="cpu", mode="JAX", data_dir=mnist_dir,
                          log=lambda _: None)
    assert seen.get("expanded") == (((mnist_dir,), {"verbose": True}) if expanded else None)
    assert seen["layers"][0] == ("conv2-relu", 10, dropout, 10, extra_fc)
    eta, lmbda = (0.03, 0.0) if dropout else (0.03, 0.1)  # the book's presets
    where = {"mode": "JAX", "device": "cpu"}
    if ensemble == 1:
        assert seen["Network"] == ((seen["layers"][1], 10), {"seed": 7, **where})
        (training, epochs, size, got_eta, val, test, got_lmbda), keep = seen["Network.SGD"]
        assert (epochs, size, got_eta, got_lmbda) == (1, 10, eta, lmbda) and "LayerPopulation" not in seen
    else:
        assert seen["LayerPopulation"] == ((seen["layers"][1], 10, [7, 8, 9], eta, lmbda), where)
        (training, epochs, val, test), keep = seen["LayerPopulation.SGD"]
        assert epochs == 1 and "Network" not in seen
    # the first 200 images of MNIST's training set, or of the expanded set
    assert np.array_equal(training[0], x[:200]) and np.array_equal(training[1], y[:200])
    assert np.array_equal(val[1], val_y) and np.array_equal(test[1], test_y)
    assert keep["checkpoint_dir"] == tmp_path and keep["resume"] is False and keep["overwrite"] is False


def test_a_row_reads_the_data_directory_given_and_rounds_its_figures_to_two_decimals(tmp_path, monkeypatch,
                                                                                      mnist):
    import dlpy35.data
    from dlpy35.data.dataset import Dataset

    (tx, ty), (vx, vy), (sx, sy) = mnist
    asked = []

    def seven_test_images(data_dir=None):  # 100 k / 7 has no end of decimals: rounding shows
        asked.append(data_dir)
        return Dataset((tx[:1000], ty[:1000]), (vx[:7], vy[:7]), (sx[:7], sy[:7]), 10, (28, 28), "MNIST")

    monkeypatch.setattr(dlpy35.data, "load_data", seven_test_images)
    [row] = reproduce.find(["ch1-30"])
    got = reproduce.run_row(row, tmp_path / "out", quick=True, device="cpu", mode="JAX",
                            data_dir=tmp_path / "given", log=lambda *a: None)
    assert asked == [tmp_path / "given"]
    # neither none nor all of the seven right (one quick epoch gets 3 of them, on JAX and on Numba alike)
    assert got["dlpy35"] in {round(100 * k / 7, 2) for k in range(1, 7)}
    assert got["curve"] == [got["dlpy35"]]  # one epoch, on the test set (chapter 1)
    assert got["difference"] == round(100 * round(got["dlpy35"] * 7 / 100) / 7 - 95.42, 2)
