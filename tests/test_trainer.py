"""The training engine, used directly: chunks, records, evaluation against numpy, the guard, stopping.

The policies between epochs (saturation, early stopping, the schedule) have their own tests in
``test_callbacks.py``.

JAX on the CPU (float32, compiles in about a second) unless a test says otherwise.
"""

from __future__ import annotations

import numpy as np
import pytest

from dlpy35.engine import graph
from dlpy35.engine.callbacks import Callback
from dlpy35.engine.costs import QuadraticCost
from dlpy35.engine.device import resolve
from dlpy35.engine.layers import FullyConnectedLayer, LayerStack, SoftmaxLayer
from dlpy35.engine.order import OneOrder
from dlpy35.engine.records import EpochRecord, Evaluation, TrainingDiverged
from dlpy35.engine.trainer import Trainer, epoch_chunks

SIZES = [6, 5, 3]


def sigmoid_trainer(seed=0, **kwargs):
    rng = np.random.default_rng(seed)
    model = graph.SigmoidNet(SIZES, QuadraticCost)
    values = [rng.standard_normal(shape).astype(np.float32) for shape in model.param_shapes]
    return Trainer(model, resolve("cpu", "JAX"), values, OneOrder(rng), **kwargs), values


def no_decay(eta):
    return {"eta": eta, "decay": 0.0}


def data(n, seed=1):
    rng = np.random.default_rng(seed)
    x = rng.random((n, SIZES[0]), dtype=np.float32)
    labels = rng.integers(0, SIZES[-1], n)
    return x, labels


def np_forward(values, x):
    """``(z^L, a^L)`` in numpy, float64, from the trainer's parameter layout [w..., b...]."""
    n = len(SIZES) - 1
    a = x.astype(np.float64)
    for w, b in zip(values[:n], values[n:]):
        z = a @ w.T.astype(np.float64) + b
        a = 1 / (1 + np.exp(-z))
    return z, a


@pytest.mark.parametrize("full, chunks", [
    (5000, 10), (12, 6), (7, 7), (1, 1), (20, 10), (9, 9), (5, 5), (15, 5),  # the largest divisor up to 10
    (13, 13), (781, 11), (1562, 11), (4 * 19, 19), (3 * 17, 17),  # below 5: the smallest from 11 to 20
    (4999, 1), (2 * 4999, 2), (4, 4),  # no divisor from 11 to 20: the largest up to 10
])
def test_epoch_chunks_is_a_divisor_near_ten(full, chunks):
    assert epoch_chunks(full) == chunks


def test_epoch_record_json_round_trip():
    record = EpochRecord(epoch=3, seconds=0.25, eta=0.5, cost=1.5,
                         evaluations={"test": Evaluation(7, 10, 2.5), "validation": Evaluation(3, 4, 1.0)})
    again = EpochRecord.from_json(record.to_json())
    assert again == record
    assert again.evaluations["test"].accuracy == 0.7
    assert record.flat() == {"epoch": 3, "seconds": 0.25, "eta": 0.5, "training_cost": 1.5, "test_correct": 7,
                             "test_total": 10, "validation_correct": 3, "validation_total": 4}


@pytest.mark.parametrize("n, chunk", [(510, 500), (500, 500), (7, 500), (510, None)])
def test_evaluation_equals_numpy_whatever_the_chunking(n, chunk):
    """A set whose size is not a multiple of the chunk is padded; the padding counts for nothing."""
    trainer, values = sigmoid_trainer(eval_chunk=chunk)
    x, labels = data(n)
    got = trainer.evaluate_data(x, labels)
    z, a = np_forward(values, x)
    targets = np.eye(SIZES[-1])[labels]
    assert got.total == n
    assert got.correct == int(np.sum(np.argmax(a, axis=1) == labels))
    # float32 against numpy: measured cost 7.3e-8 relative, outputs 1.1e-7 (AMD EPYC, AVX-512, and
    # with XLA_FLAGS=--xla_cpu_max_isa=AVX2 or SSE4_2, or OPENBLAS_CORETYPE=Sandybridge); margins
    # over 80x
    assert got.cost == pytest.approx(0.5 * np.sum((a - targets) ** 2), rel=1e-5)
    np.testing.assert_allclose(trainer.forward(x), a, rtol=1e-5, atol=1e-6)


def test_evaluating_other_data_keeps_the_runs_sets():
    trainer, _ = sigmoid_trainer()
    (x, labels), (tx, tl) = data(40), data(30, seed=2)
    run = trainer.begin(x, np.eye(3, dtype=np.float32)[labels], 0, 10, 0.5, hyper=no_decay,
                        sets={"test": (tx, tl)})
    before = trainer.evaluate("test", 30)
    trainer.evaluate_data(*data(17, seed=3))
    assert trainer.evaluate("test", 30) == before
    assert run.sets == (("test", 30),)


def test_after_epoch_can_stop_the_run_and_the_state_says_why():
    trainer, _ = sigmoid_trainer()
    x, labels = data(40)
    run = trainer.begin(x, np.eye(3, dtype=np.float32)[labels], 5, 10, 0.5, hyper=no_decay)
    seen, later = [], []

    class StopAt1(Callback):
        def after_epoch(self, trainer, run, record):
            seen.append(record.epoch)
            return "enough" if record.epoch == 1 else None

    class Later(Callback):  # after the first reason to stop, the later policies are not asked
        def after_epoch(self, trainer, run, record):
            later.append(record.epoch)

    records = trainer.train(run, [StopAt1(), Later()])
    assert seen == [0, 1] and [r.epoch for r in records] == [0, 1] and later == [0]
    assert run.state["stopped"] == "enough" and run.state["epoch"] == 2
    assert run.state["eta"] == [0.5, 0.5] and len(run.state["seconds"]) == 2
    assert run.records == records


def test_short_last_mini_batch_trains_unless_dropped():
    """n = 25, m = 10: three mini-batches (the last of 5), or two when the last is dropped."""
    for drop_last, batches in ((False, 3), (True, 2)):
        trainer, _ = sigmoid_trainer(drop_last=drop_last)
        x, labels = data(25)
        run = trainer.begin(x, np.eye(3, dtype=np.float32)[labels], 1, 10, 0.5, hyper=no_decay)
        done = []
        trainer.train(run, progress=lambda epoch, k, total, done=done: done.append((k, total)))
        assert run.n_batches == batches and done[-1] == (batches, batches)


def test_guard_catches_finite_weights_too_large_to_compute_with_in_a_layer_stack():
    """One guard for every network: a weight beyond sqrt(max float32) stops network3's kind as well."""
    stack = LayerStack([FullyConnectedLayer(6, 4), SoftmaxLayer(4, 3)], 10)
    rng = np.random.default_rng(0)
    trainer = Trainer(stack, resolve("cpu", "JAX"), stack.init_params(rng, "float32"), OneOrder(rng),
                      drop_last=True)
    x, labels = data(40)
    run = trainer.begin(x, labels, 2, 10, 0.1, hyper=lambda e: {"eta": e, "l2": 0.0})
    good = trainer.values()

    def poison(epoch, done, total):
        if done == total:  # the epoch's training is over; the guard runs next
            w = trainer.values()[0]
            w[0, 0] = 1e20  # finite, but its square overflows float32
            trainer.device.assign(trainer.params[0], w)

    with pytest.raises(TrainingDiverged, match="epoch 0"):
        trainer.train(run, progress=poison)
    for a, b in zip(trainer.values(), good):
        np.testing.assert_array_equal(a, b)
