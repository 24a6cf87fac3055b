"""dlpy35.storage.tables: epochs.csv and summary.csv rows from the trainer's records, and their files."""

from __future__ import annotations

import pytest

from dlpy35.engine.records import EpochRecord, Evaluation
from dlpy35.storage import tables


def record(epoch, correct, name="evaluation", total=100):
    return EpochRecord(epoch, 0.5 + epoch, 3.0, 1.0 / (epoch + 1), {name: Evaluation(correct, total, 9.0)})


def test_epoch_rows_hold_the_named_set_and_the_networks_settings():
    rows = tables.epoch_rows(2, 7, 0.5, 5.0, [784, 30, 10], [record(0, 80, "validation"),
                                                             record(1, 85, "validation")], "validation")
    assert rows == [{"net": 2, "seed": 7, "eta": 0.5, "lmbda": 5.0, "sizes": "784-30-10", "epoch": e,
                     "seconds": 0.5 + e, "training_cost": 1.0 / (e + 1), "evaluation_correct": c,
                     "evaluation_total": 100, "test_correct": "", "test_total": ""}
                    for e, c in ((0, 80), (1, 85))]
    assert list(rows[0]) == list(tables.EPOCH_COLUMNS)


def scripted(pairs):
    """Records whose validation and test counts (of 100 and 1000) are `pairs`, one per epoch."""
    return [EpochRecord(e, 1.0, 0.5, 0.5, {"evaluation": Evaluation(v, 100, 1.0),
                                           "test": Evaluation(t, 1000, 1.0)})
            for e, (v, t) in enumerate(pairs)]


# validation and test disagree about the best epoch: the pick is validation's, its test figure reported
@pytest.mark.parametrize("pairs, epoch, best, test", [
    ([(80, 900), (85, 850), (84, 990)], 1, 85, 850),  # test's best (990, epoch 2) is not picked
    ([(90, 700), (90, 980), (70, 999)], 0, 90, 700),  # equal validation: the first; its test, not epoch 1's
    ([(50, 100)], 0, 50, 100),
])
def test_the_best_epoch_is_picked_on_validation_and_reported_with_its_test_count(pairs, epoch, best, test):
    records = scripted(pairs)
    assert tables.best_epoch(records).epoch == epoch
    row = tables.summary_row(0, 0, 0.5, 0.0, [784, 10], records, diverged=None)
    assert (row["best_epoch"], row["best_correct"], row["test_correct"], row["test_total"]) == (epoch, best,
                                                                                              test, 1000)
    rows = tables.epoch_rows(0, 0, 0.5, 0.0, [784, 10], records)
    assert [(r["evaluation_correct"], r["test_correct"]) for r in rows] == pairs


def test_the_test_columns_can_name_the_evaluated_set_itself():
    records = [record(0, 70), record(1, 90)]
    row = tables.summary_row(0, 0, 3.0, 0.0, [784, 10], records, None, test="evaluation")
    assert (row["best_correct"], row["test_correct"], row["test_total"]) == (90, 90, 100)


def test_a_summary_of_no_epochs_is_empty_and_says_where_the_network_diverged():
    empty = tables.summary_row(3, 3, 0.5, 0.0, ["conv1"], [], diverged=0)
    assert {k: empty[k] for k in ("sizes", "best_epoch", "best_correct", "evaluation_total", "diverged")} == {
        "sizes": "conv1", "best_epoch": "", "best_correct": "", "evaluation_total": "", "diverged": 0}
    row = tables.summary_row(0, 0, 0.5, 0.0, [784, 10], [record(0, 70), record(1, 90)], diverged=None)
    best = (row["best_epoch"], row["best_correct"], row["evaluation_total"], row["diverged"])
    assert best == (1, 90, 100, "")
    assert list(row) == list(tables.SUMMARY_COLUMNS)


def test_csv_files_have_unix_lines_and_read_back_as_written(tmp_path):
    rows = tables.epoch_rows(0, 0, 3.0, 0.0, [784, 30, 10], [record(0, 90), record(1, 91)])
    path = tmp_path / "epochs.csv"
    tables.write_csv(path, tables.EPOCH_COLUMNS, rows)
    text = path.read_bytes()
    assert b"\r" not in text and text.count(b"\n") == 3 and text.startswith(b"net,seed,eta,lmbda,sizes,")
    back = tables.read_csv(path)
    assert [r["evaluation_correct"] for r in back] == ["90", "91"] and back[0]["sizes"] == "784-30-10"


def test_a_csv_file_reads_back_every_field_as_written_even_with_line_breaks_and_commas(tmp_path):
    """Fields are strings once read; a quoted field keeps its comma, quote and line break (``\\r\\n`` too)."""
    rows = [{"net": 0, "sizes": "conv1,\"big\"", "eta": "line\r\nbreak"},
            {"net": 1, "sizes": "784-10", "eta": 0.5}]
    path = tmp_path / "t.csv"
    tables.write_csv(path, ("net", "sizes", "eta"), rows)
    assert path.read_bytes().startswith(b"net,sizes,eta\n0,")
    assert tables.read_csv(path) == [{"net": "0", "sizes": "conv1,\"big\"", "eta": "line\r\nbreak"},
                                     {"net": "1", "sizes": "784-10", "eta": "0.5"}]


def test_a_csv_file_is_read_within_its_bound_and_what_is_not_a_table_is_a_valueerror(tmp_path):
    path = tmp_path / "t.csv"
    tables.write_csv(path, ("net", "eta"), [{"net": 0, "eta": 0.5}])
    size = path.stat().st_size
    assert tables.read_csv(path, limit=size) == [{"net": "0", "eta": "0.5"}]
    with pytest.raises(ValueError, match="larger than"):
        tables.read_csv(path, limit=size - 1)
    path.write_text("net,eta\n" + "9" * 200_000 + ",1\n")  # a field over csv's own limit
    with pytest.raises(ValueError, match=rf"^{path}: not a CSV table \(field larger than field limit"):
        tables.read_csv(path)
    path.write_bytes(b"net,eta\n\xff,1\n")
    with pytest.raises(ValueError):  # not UTF-8
        tables.read_csv(path)


def test_a_summary_picks_on_the_set_it_is_told_to():
    """Records of a run that evaluated "validation": the pick and its counts are that set's."""
    records = [EpochRecord(e, 1.0, 0.5, 0.5, {"validation": Evaluation(v, 50, 1.0),
                                              "test": Evaluation(t, 80, 1.0)})
               for e, (v, t) in enumerate([(40, 70), (45, 60), (44, 79)])]
    row = tables.summary_row(1, 2, 0.5, 0.0, [4, 3], records, None, evaluated="validation")
    assert (row["best_epoch"], row["best_correct"], row["evaluation_total"], row["test_correct"],
            row["test_total"]) == (1, 45, 50, 60, 80)
