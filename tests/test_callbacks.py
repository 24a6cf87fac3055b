"""The policies between epochs, each alone: saturation, early stopping, the eta schedule, the caller's hook.

The policies run on scripted records where that is enough (no training), and in a
trainer (JAX on the CPU, float32) where they act on its weights or its eta.
"""

from __future__ import annotations

import numpy as np
import pytest

from dlpy35.engine import records
from dlpy35.engine.callbacks import (
    Callback,
    EarlyStopping,
    EtaSchedule,
    OnEpoch,
    Progress,
    SaturationCheck,
    Stages,
    improved,
)
from dlpy35.engine.device import Device
from dlpy35.engine.records import (
    EpochRecord,
    Evaluation,
    PopulationRecord,
    SaturationWarning,
    TrainingSaturated,
)
from dlpy35.engine.trainer import Run
from tests.test_trainer import data, no_decay, sigmoid_trainer


def run_with(*records, state=None):
    """A run whose records are `records` (the last one the epoch just trained, as the trainer has it)."""
    run = Run(n=200, m=10, epochs=10, drop_last=False, hyper=no_decay, eta=3.0)
    run.records, run.state = list(records), {"eta": [3.0], **(state or {})}
    return run


def flat_record(epoch, cost=100.0, most=200, correct=20):
    return EpochRecord(epoch, 0.1, 3.0, 0.5, {"test": Evaluation(correct, 200, cost, most_common=most)})


def saturation_warnings(recwarn):
    return [str(w.message) for w in recwarn if issubclass(w.category, SaturationWarning)]


# -- saturation ----------------------------------------------------------------------------------
def _saturating_run(stop):
    trainer, _ = sigmoid_trainer()
    x, labels = data(200)
    run = trainer.begin(x, np.eye(3, dtype=np.float32)[labels], 2, 10, 1e6, hyper=no_decay,
                        sets={"test": data(150, seed=4)})
    return trainer, run, [SaturationCheck(stop=stop)]


def test_saturation_is_a_warning_naming_eta():
    """eta 1e6 pins every sigmoid: finite weights, one answer for everything."""
    trainer, run, policies = _saturating_run(stop=False)
    want = r"epoch \d: the network gives the same answer to 100\.0% of the test data .* eta \(1e\+06\) is too"
    with pytest.warns(SaturationWarning, match=want):
        records = trainer.train(run, policies)
    assert len(records) == 2 and records[0].evaluations["test"].most_common == 150
    assert records[1].cost >= (1 - 1e-3) * records[0].cost  # flat: the gradients vanished


def test_stop_on_saturation_stops_and_keeps_the_previous_weights():
    """Epoch 0 saturates; epoch 1 finds the cost flat, stops, and puts back the end of epoch 0."""
    trainer, run, policies = _saturating_run(stop=True)
    after_epoch_0 = []
    with pytest.raises(TrainingSaturated, match="epoch 1: .*keeps the weights from the end of the previous"):
        trainer.train(run, [*policies, OnEpoch(lambda record: after_epoch_0.append(trainer.values()))])
    assert len(after_epoch_0) == 1
    for a, b in zip(trainer.values(), after_epoch_0[0]):
        np.testing.assert_array_equal(a, b)
    assert run.state["epoch"] == 1 and len(run.records) == 1  # the stopped epoch is not committed


def test_a_network_that_learns_does_not_warn(recwarn):
    trainer, _ = sigmoid_trainer()
    x, labels = data(300)
    run = trainer.begin(x, np.eye(3, dtype=np.float32)[labels], 2, 10, 0.5, hyper=no_decay,
                        sets={"test": data(150, seed=4)})
    records = trainer.train(run, [SaturationCheck()])
    assert records[-1].evaluations["test"].most_common < 150
    assert not saturation_warnings(recwarn)


def test_one_answer_counts_as_saturation_only_once_its_cost_stops_falling(recwarn):
    """Early in training a network may give one answer to everything while its cost still falls."""
    check = SaturationCheck()
    check.after_epoch(None, run_with(flat_record(0, 100.0), now := flat_record(1, 99.8)), now)  # fell 0.2%
    assert not saturation_warnings(recwarn)
    with pytest.warns(SaturationWarning, match="epoch 1: .* 100.0% of the test data"):
        check.after_epoch(None, run_with(flat_record(0, 100.0), now := flat_record(1, 99.95)), now)  # 0.05%


def test_saturation_is_said_once_per_run(recwarn):
    """A network that stays flat for many epochs gets one warning, not one per epoch."""
    check, run = SaturationCheck(), run_with(flat_record(0))
    for epoch in range(1, 5):
        run.records.append(flat_record(epoch))
        check.after_epoch(None, run, run.records[-1])
    said = saturation_warnings(recwarn)
    assert len(said) == 1 and said[0].startswith("epoch 1:") and "not repeated" in said[0]


def test_saturation_names_each_network_of_a_population_once(recwarn):
    """Network 1 saturates, network 0 learns, network 2 diverged (no record): one warning, for network 1."""
    check = SaturationCheck()

    def epoch(j):
        return PopulationRecord(j, 0.1, [3.0] * 3, [flat_record(j, cost=100.0 - 10 * j, most=50),
                                                     flat_record(j), None])

    run = run_with(epoch(0))
    for j in range(1, 4):
        run.records.append(epoch(j))
        check.after_epoch(None, run, run.records[-1])
    said = saturation_warnings(recwarn)
    assert len(said) == 1 and said[0].startswith("network 1: epoch 1:")
    assert run.state["saturation_warned"] == [1]


def test_saturation_at_its_boundaries_and_in_any_evaluated_set():
    """A set of exactly 100 rows counts, 99% of one answer counts, a cost that fell by exactly FLAT has
    stopped falling; and a saturated set is found after one whose single answer still lowers its cost."""
    def pair(name, most, cost_now, total=100):
        before = EpochRecord(0, 0.1, 3.0, 0.5, {"learning": Evaluation(20, 200, 10.0, most_common=200),
                                                 name: Evaluation(10, total, 1000.0, most_common=most)})
        now = EpochRecord(1, 0.1, 3.0, 0.5, {"learning": Evaluation(20, 200, 5.0, most_common=200),
                                              name: Evaluation(10, total, cost_now, most_common=most)})
        return before, now

    flat = (1 - records.FLAT) * 1000.0
    for before, now in (pair("test", 99, flat), pair("test", 100, 999.95)):
        assert "of the test data" in records.saturation(now, before)
    for before, now in (pair("test", 98, flat), pair("test", 99, flat - 0.01),
                        pair("test", 99, flat, total=99)):
        assert records.saturation(now, before) is None


@pytest.mark.parametrize("first", [Evaluation(50, 100, 10.0, most_common=60),  # many answers
                                   Evaluation(5, 50, 10.0, most_common=50)])  # one answer, too few rows
def test_a_set_without_saturation_before_a_saturated_one_does_not_hide_it(first):
    """The sets are read in turn: one that shows no saturation passes on to the next, which does."""
    sets = {"learning": first, "test": Evaluation(10, 100, 7.0, most_common=100)}
    assert "of the test data" in records.saturation(EpochRecord(1, 0.1, 3.0, 0.5, sets),
                                                    EpochRecord(0, 0.1, 3.0, 0.5, dict(sets)))


def test_a_diverged_network_before_a_saturated_one_does_not_hide_it(recwarn):
    def epoch(j):
        return PopulationRecord(j, 0.1, [3.0] * 2, [None, flat_record(j)])

    run = run_with(epoch(0), epoch(1))
    SaturationCheck().after_epoch(None, run, run.records[-1])
    assert [m.startswith("network 1: epoch 1:") for m in saturation_warnings(recwarn)] == [True]


# -- early stopping and the schedule -------------------------------------------------------------------
def scripted(policy, accuracies, eta=3.0):
    """Feed `policy` one record per accuracy (on "evaluation"); the epoch of the first reason to stop and
    that reason, or (None, None), and the etas it set (a stand-in trainer records them)."""
    etas = []

    class Trainer:
        def set_eta(self, run, value):
            run.eta = value
            etas.append(value)

    run = run_with(state={"eta": [eta]})
    run.eta = eta
    for epoch, acc in enumerate(accuracies):
        record = EpochRecord(epoch, 0.1, run.eta, 0.5, {"evaluation": Evaluation(acc, 100, 1.0)})
        run.records.append(record)
        reason = policy.after_epoch(Trainer(), run, record)
        if reason:
            return epoch, reason, etas
    return None, None, etas


def test_improved_is_the_same_answer_for_every_policy_that_asks_in_one_epoch():
    state = {}
    assert improved(state, 50, 0) and improved(state, 50, 0)  # asked twice in epoch 0
    assert not improved(state, 50, 1) and not improved(state, 49, 1)  # a tie is no improvement
    assert improved(state, 51, 2) and state == {"best_accuracy": 51, "best_epoch": 2}


def test_improved_reads_a_state_without_the_epoch_of_the_best():
    """A checkpoint written before ``best_epoch`` was kept: only a better accuracy counts."""
    assert not improved({"best_accuracy": 60}, 60, 5)
    assert improved({"best_accuracy": 60}, 61, 5)


@pytest.mark.parametrize("patience, accuracies, stop_epoch, waited", [
    (2, [50, 60, 60, 59, 70], 3, "2 epochs"),  # epochs 2 and 3 bring nothing: stop after epoch 3
    (2, [50, 60, 55, 61, 61, 61], 5, "2 epochs"),  # the count starts again at each improvement
    (1, [50, 50], 1, "1 epoch"),
    (3, [10, 20, 30, 40, 50], None, None),
])
def test_early_stopping_stops_after_patience_epochs_without_improvement(patience, accuracies, stop_epoch,
                                                                        waited):
    epoch, reason, etas = scripted(EarlyStopping(patience), accuracies)
    assert epoch == stop_epoch and etas == []
    if stop_epoch is not None:
        assert reason == f"Early stopping: no improvement in evaluation accuracy for {waited}"


def test_the_schedule_halves_eta_after_patience_epochs_without_improvement_and_stops_at_the_floor():
    epoch, reason, etas = scripted(EtaSchedule(2, floor=8), [50, 50, 50, 60, 60, 60, 60, 60, 60, 60])
    # halved after epochs 2 and 5 (to 3/2, 3/4); after epoch 7 a halving would reach 3/8 = eta0/8: stop
    assert etas == [1.5, 0.75]
    assert epoch == 7 and reason == "Learning-rate schedule: eta has fallen to eta0/8; stopping"


def test_the_schedule_stops_where_one_more_halving_would_reach_the_floor_and_not_before():
    """floor 3: after the first flat epoch, eta0 / 2 is still above eta0 / 3, so eta halves; after the next,
    eta0 / 4 is below it: stop.  (Halving by another factor, or stopping a halving early, fails here.)"""
    epoch, reason, etas = scripted(EtaSchedule(1, floor=3), [50, 50, 50])
    assert etas == [1.5] and epoch == 2 and reason.endswith("eta0/3; stopping")


def test_a_state_with_a_best_but_no_counts_counts_from_zero():
    """A checkpoint's state from before the counts were kept: the first epoch without improvement is 1."""
    for policy, count in ((EarlyStopping(5), "since_best"), (EtaSchedule(5), "since_change")):
        run = run_with(state={"eta": [3.0], "best_accuracy": 60})
        record = EpochRecord(0, 0.1, 3.0, 0.5, {"evaluation": Evaluation(60, 100, 1.0)})
        assert policy.after_epoch(None, run, record) is None and run.state[count] == 1


def test_stages_set_each_stages_eta_as_it_starts_and_not_after_the_last():
    """Stages of 2, 0, 2 and 1 epochs: eta 3.0 from epoch 0, the empty stage gives way, 0.5 from epoch 2,
    0.1 from epoch 4; nothing after the last epoch (a trailing empty stage changes nothing)."""
    stages = Stages([(2, 3.0), (0, 1.0), (2, 0.5), (1, 0.1), (0, 7.0)])
    assert stages.epochs == 5 and stages.first_eta == 3.0
    run, set_at = run_with(), []

    class Trainer:
        def set_eta(self, run_given, value):
            assert run_given is run
            set_at.append((epoch + 1, value))

    for epoch in range(5):
        assert stages.after_epoch(Trainer(), run, EpochRecord(epoch, 0.1, 3.0, 0.5)) is None
    assert set_at == [(2, 0.5), (4, 0.1)]
    assert Stages([(0, 3.0), (2, 0.5)]).first_eta == 0.5  # an empty first stage gives way too
    with pytest.raises(ValueError, match="a stage's epochs"):
        Stages([(2, 3.0), (-1, 0.5)])
    with pytest.raises(ValueError, match="eta"):
        Stages([(2, 3.0), (1, 0.0)])


def test_early_stopping_and_the_schedule_share_one_best():
    """Both ask whether the epoch improved; the second asking sees the same answer, not a tie."""
    stopping, schedule = EarlyStopping(3), EtaSchedule(1)
    run = run_with(state={"eta": [3.0]})
    record = EpochRecord(0, 0.1, 3.0, 0.5, {"evaluation": Evaluation(40, 100, 1.0)})
    assert stopping.after_epoch(None, run, record) is None
    assert schedule.after_epoch(None, run, record) is None  # improved: no halving, no trainer needed
    assert run.state["since_best"] == 0 and run.state["since_change"] == 0


# -- the trainer's side of the contract ------------------------------------------------------------------
def test_ctrl_c_tells_the_callbacks_after_putting_back_the_last_epoch():
    trainer, _ = sigmoid_trainer()
    x, labels = data(40)
    run = trainer.begin(x, np.eye(3, dtype=np.float32)[labels], 3, 10, 0.5, hyper=no_decay)
    seen = []

    class Interrupt(Callback):
        def after_epoch(self, trainer, run, record):
            if record.epoch == 1:
                raise KeyboardInterrupt

        def on_interrupt(self, trainer, run):
            seen.append((run.state["epoch"], len(run.records), [v.copy() for v in trainer.values()]))

    after_0 = []
    with pytest.raises(KeyboardInterrupt):
        trainer.train(run, [Interrupt(), OnEpoch(lambda r: after_0.append(trainer.values()))])
    (epoch, n_records, values), = seen
    assert epoch == 1 and n_records == 1
    for a, b in zip(values, after_0[0]):
        np.testing.assert_array_equal(a, b)


def test_the_callbacks_hear_of_every_chunk_of_mini_batches_and_the_progress_callable_too():
    """40 rows, mini-batch 10: a scan epoch of four chunks of one mini-batch each; a step epoch of 25 rows
    is told of each of its three mini-batches (every tenth of three is each one); both of none at the
    start."""
    heard = []

    class Listen(Callback):
        def on_batches(self, trainer, run, epoch, done, total):
            heard.append((epoch, done, total))

    for mode, n, want in (("scan", 40, [(e, d, 4) for e in (0, 1) for d in (0, 1, 2, 3, 4)]),
                          ("step", 25, [(e, d, 3) for e in (0, 1) for d in (0, 1, 2, 3)])):
        heard.clear()
        trainer, _ = sigmoid_trainer(epoch_mode=mode)
        x, labels = data(n)
        run = trainer.begin(x, np.eye(3, dtype=np.float32)[labels], 2, 10, 0.5, hyper=no_decay)
        called = []
        trainer.train(run, [Listen()], progress=lambda *args, called=called: called.append(args))
        assert heard == want and called == want, mode


class Bar:
    """A progress callable like :class:`dlpy35.cli.progress.EpochBar`: `enabled` says whether it shows."""

    def __init__(self, enabled):
        self.enabled, self.calls = enabled, []

    def __call__(self, epoch, done, total):
        self.calls.append(done)


@pytest.mark.parametrize("enabled", [True, False])
def test_a_shown_bar_hears_of_each_chunk_once_the_device_has_computed_it(enabled, monkeypatch):
    """A bar that shows (`enabled`) is told of chunk k once the device has computed chunk k's result
    (chunk k + 1 already sent, so that the device does not wait for the bar); for one that shows nothing
    (--quiet, a log) the trainer never waits."""
    trainer, _ = sigmoid_trainer()
    x, labels = data(400)
    run = trainer.begin(x, np.eye(3, dtype=np.float32)[labels], 1, 10, 0.5, hyper=no_decay)
    trainer._warm_up(run)  # compiled before the events are kept
    events, wait, train_fn = [], Device.wait, trainer._train_fn

    def waiting(device, value):
        wait(device, value)
        events.append(("waited", value, value.is_ready()))  # JAX's arrays say whether they are computed

    def sending(*key):
        def call(*args):
            train_fn(*key)(*args)
            events.append(("sent", Device.handle(trainer._cost_sum), None))  # the chunk's result, to come
        return call

    monkeypatch.setattr(Device, "wait", waiting)
    monkeypatch.setattr(trainer, "_train_fn", sending)
    bar = Bar(enabled)
    trainer.epoch(run, 0, [Progress(bar)])
    monkeypatch.undo()
    assert bar.calls == [0, *range(4, 41, 4)]  # ten chunks of four mini-batches
    sent = [value for kind, value, _ in events if kind == "sent"]
    waited = [(value, ready) for kind, value, ready in events if kind == "waited"]
    if not enabled:
        assert waited == []
        return
    assert len(sent) == 10 and len(waited) == 11  # the start, then each chunk
    assert all(value is chunk and ready for (value, ready), chunk in zip(waited[1:], sent))
    kinds = [kind for kind, _, _ in events]
    assert kinds[1:4] == ["sent", "sent", "waited"]  # chunk 2 is sent before the wait for chunk 1
