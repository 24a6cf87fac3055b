"""``network2``: the book's chapter-3 network -- cross-entropy, regularisation, monitoring.

The API is the book's ``network2.py``: ``Network(sizes, cost=CrossEntropyCost)``
with N(0, 1/n_in) weights, ``SGD(training_data, epochs, mini_batch_size, eta,
lmbda, evaluation_data, monitor_*..., early_stopping_n)`` returning the four
per-epoch lists, ``accuracy``, ``total_cost``, ``save`` and ``load``.  It trains
on the same symbolic, device-resident path as :class:`dlpy35.network.Network`;
the costs and accuracies it monitors are computed in the graph, on the device.
Chapter 5's speed of learning, ``||delta^l|| = ||dC/db^l||`` of each hidden layer,
is ``learning_speed`` and, per epoch, ``SGD(..., monitor_learning_speed=True)``.

The README's "Differences from the book" lists where it departs from the book's code.
"""

from __future__ import annotations

import pytensor
import pytensor.tensor as pt

from dlpy35.engine import arguments, graph
from dlpy35.engine.backprop import sigmoid, sigmoid_prime  # noqa: F401 (the book's module functions)
from dlpy35.engine.callbacks import (  # noqa: F401 (SCHEDULE_FLOOR: public here)
    SCHEDULE_FLOOR,
    Callback,
    EarlyStopping,
    EtaSchedule,
    OnEpoch,
    Stages,
)
from dlpy35.engine.costs import CrossEntropyCost, QuadraticCost
from dlpy35.engine.trainer import TrainingDiverged
from dlpy35.mnist_loader import vectorized_result  # noqa: F401 (the book's network2 has its own copy)
from dlpy35.network import Network as _Base
from dlpy35.network import load_as
from dlpy35.storage import checkpoint
from dlpy35.storage.checkpoint import Checkpoint
from dlpy35.storage.saved_files import SavedFileError

__all__ = ["Network", "load", "NetworkFileError", "CrossEntropyCost", "QuadraticCost", "TrainingDiverged",
           "vectorized_result", "sigmoid", "sigmoid_prime"]

MONITORED = ("evaluation_cost", "evaluation_accuracy", "training_cost", "training_accuracy")  # SGD's order
SPEED_EXAMPLES = 1000  # the book measures the speed of learning on the first 1,000 training images


NetworkFileError = SavedFileError  # the name saved-network code reads best


class Network(_Base):
    """The chapter-3 network.

    Parameters
    ----------
    sizes : list of int
    cost : CrossEntropyCost (default), QuadraticCost, or a name
    seed, dtype, mode, device, epoch_mode
        As for :class:`dlpy35.network.Network`.
    weight_init : {"default", "large"}
        ``default``: N(0, 1/n_in) weights, the book's ``default_weight_initializer``.
    """

    def __init__(self, sizes, cost=CrossEntropyCost, seed=None, dtype="float32", mode=None, device="auto",
                 epoch_mode="scan", weight_init="default"):
        super().__init__(sizes, seed=seed, dtype=dtype, mode=mode, device=device, epoch_mode=epoch_mode,
                         cost=cost, weight_init=weight_init)
        self.history = None

    def SGD(self, training_data, epochs, mini_batch_size, eta, lmbda=0.0, evaluation_data=None,  # noqa: N802
            monitor_evaluation_cost=False, monitor_evaluation_accuracy=False, monitor_training_cost=False,
            monitor_training_accuracy=False, early_stopping_n=0, *, reg="l2", lr_schedule_n=0, test_data=None,
            monitor_learning_speed=False, checkpoint_dir=None, resume=False, then=(), overwrite=False,
            progress=None, on_epoch=None, callbacks=(), verbose=True):
        """Mini-batch SGD with regularisation, monitoring, early stopping and a schedule.

        Parameters
        ----------
        training_data, epochs, mini_batch_size, eta, progress, verbose
            As for :meth:`dlpy35.network.Network.SGD`; `then`: ``(epochs, eta)`` stages after
            the first, in the same run (:class:`dlpy35.engine.callbacks.Stages`).
        lmbda : float
            Weights decay by ``1 - eta lmbda / n`` a step (L2, eq. 93) or move by it to 0 (L1, eq. 97).
        evaluation_data, test_data : (X, labels) or list of (x, label) pairs, optional
            What ``monitor_evaluation_*``, early stopping and the schedule watch; `test_data`: scored only.
        monitor_evaluation_cost, monitor_evaluation_accuracy, monitor_training_cost, \
monitor_training_accuracy : bool
            Which per-epoch figures to compute (in the graph) and print.
        early_stopping_n, lr_schedule_n : int
            After this many epochs without a better evaluation accuracy, stop
            (:class:`dlpy35.engine.callbacks.EarlyStopping`), or halve eta, stopping at eta/128
            (:class:`dlpy35.engine.callbacks.EtaSchedule`); 0: never.
        monitor_learning_speed : bool or int
            Chapter 5: record :meth:`learning_speed` of the first 1,000 training
            examples (True) or that many, before training and after every epoch.
        checkpoint_dir, resume, overwrite
            Checkpoint after every epoch; continue the checkpoint there (of a run of the same settings,
            :mod:`dlpy35.storage.identity`, exactly), or start over in its place.
        on_epoch, callbacks
            ``on_epoch(figures)`` after each epoch (a dict of its figures); more policies
            (:class:`dlpy35.engine.callbacks.Callback`), consulted after the book's.

        Returns
        -------
        evaluation_cost, evaluation_accuracy, training_cost, training_accuracy : lists
            Per epoch, as the book returns them (empty when not monitored);
            ``self.history`` holds them too, with each epoch's seconds and eta and
            the ``learning_speed`` (one list per hidden layer, before training first).
        """
        wanted, patience, watch_eval = _watching(
            evaluation_data, monitor_training_cost, monitor_training_accuracy, monitor_evaluation_cost,
            monitor_evaluation_accuracy, early_stopping_n=early_stopping_n, lr_schedule_n=lr_schedule_n)
        training_data, speed_n = self._speed_rows(training_data, monitor_learning_speed)
        stages = Stages([(epochs, eta), *then])
        with checkpoint.claim(checkpoint_dir, resume, overwrite):
            run = self._begin(training_data, stages.epochs, mini_batch_size, stages.first_eta, lmbda, reg,
                              sets=_sets(evaluation_data if watch_eval else None, test_data),
                              monitor_training=wanted["training_cost"] or wanted["training_accuracy"])
            lmbda = arguments.check_lmbda(lmbda)
            saver = self._resumable(run, checkpoint_dir, resume, verbose,
                                    self._identity(lmbda, reg, patience, speed_n, stages, wanted))
            monitor = Monitor(self, wanted, lmbda, reg, verbose)
            speed = self._speed_monitor(run.state, training_data, speed_n, verbose)
            book = on_epoch and OnEpoch(lambda r: on_epoch(monitor.figures_with(run.state, speed)))
            policies = self._policies(monitor, speed, *_patience_policies(patience), stages, saver, book,
                                      *callbacks)
            if self.trainer.train(run, policies, progress=progress) and verbose and run.state["stopped"]:
                print(run.state["stopped"], flush=True)
            return tuple(run.state[k] for k in MONITORED)

    # -- the parts of SGD -------------------------------------------------------
    def _speed_rows(self, training_data, monitor_learning_speed):
        """``(training data, n)``: the first n rows are measured by the speed-of-learning monitor (0: off).

        With a monitor the data is converted to arrays here, once: the first rows
        are measured, the rest only trained on.
        """
        n = _speed_examples(monitor_learning_speed)
        if not n:
            return training_data, 0
        training_data = arguments.training_arrays(training_data, self.sizes[0], self.sizes[-1], self.dtype)
        return training_data, min(n, len(training_data[0]))

    def _identity(self, lmbda, reg, patience, speed_n, stages, wanted):
        """What defines this network's run beyond what every run has (:func:`dlpy35.storage.checkpoint.
        run_identity`): the network, its initial weights, the regulariser, the policies, the later
        stages (the epoch each starts at and its eta: the first's is ``eta0``, and the last stage's
        length is not one, since a resumed run may train further) and which figures are monitored
        (the history keeps a list of each, one entry per epoch)."""
        return {"sizes": self.sizes, "cost": self.cost.name, "seed": self.seed, "init": self.weight_init,
                "lmbda": lmbda, "reg": reg, **patience, "learning_speed": speed_n,
                "stages": sorted([start, eta] for start, eta in stages.starts.items() if start),
                "monitor": sorted(name for name, on in wanted.items() if on)}

    def _resumable(self, run, directory, resume, verbose, settings):
        """Start the run's state (``self.history``) and identity (the network's `settings` and the run's),
        and resume it from `directory` with `resume`; the run's
        :class:`dlpy35.storage.checkpoint.Checkpoint` (None without a directory)."""
        run.identity = checkpoint.run_identity(self.trainer, run, settings)
        speed_n = settings["learning_speed"]
        run.state.update({k: [] for k in MONITORED}, best_accuracy=None, since_best=0, since_change=0,
                         learning_speed=[])
        saver = Checkpoint.of_run(self.trainer, run, directory, resume, verbose,
                                  required=("best_accuracy", "since_best", "since_change",
                                            *(("learning_speed",) if speed_n else ())))
        self.history = run.state
        return saver

    def _speed_monitor(self, state, training_data, n, verbose):
        """The :class:`LearningSpeed` policy of the first `n` training rows, or None when `n` is 0.

        It records the speed before training, unless `state` is a resumed run's,
        which holds it already.
        """
        state.setdefault("learning_speed", [])  # a checkpoint written before the speed was recorded
        if not n:
            return None
        speed = LearningSpeed(self._speed_probe(*(a[:n] for a in training_data)), verbose)
        if not state["learning_speed"]:
            speed.record(state, "Before training: ")
        return speed

    def _penalty(self, lmbda, reg):
        """The regulariser (``sum w^2 / 2`` or ``sum |w|``) on the current weights; 0 without `lmbda`.

        The book's ``total_cost`` is the mean cost plus ``lmbda / n`` times this, added once.
        """
        if not lmbda:
            return 0.0
        weights = self.model.split(self.trainer.params)[0]
        fn = self.trainer.compiled(("penalty", reg),
                                   lambda: self.device.function([], graph.regularizer(weights, reg)))
        return float(self.device.get(fn()))

    # -- chapter 5: the speed of learning ---------------------------------------
    def learning_speed(self, data):
        """The speed of learning of each hidden layer: ``||delta^l|| = ||dC/db^l||``, l = 1..L-1.

        C is the mean cost over `data` (the book's ``total_cost``, whose
        regularisation term does not depend on the biases), so ``dC/db^l`` is
        the average over the examples of BP3's ``delta^l``.  The gradient is
        ``pytensor.grad`` of the cost, compiled once and evaluated on the device.

        Parameters
        ----------
        data : list of (x, y) pairs, or a tuple (X, Y) of arrays
            As ``training_data`` (one-hot or integer targets); the book uses the
            first 1,000 training images.

        Returns
        -------
        list of float
            One norm per hidden layer, the first hidden layer first.
        """
        x, y = arguments.training_arrays(data, self.sizes[0], self.sizes[-1], self.dtype, "data")
        return self._speed_probe(x, y)()

    def _speed_probe(self, x, y):
        """A callable giving :meth:`learning_speed` of the rows (x, y), which it puts on the device once."""
        if self.num_layers < 3:  # no hidden layer
            return lambda: []
        fn = self.trainer.compiled("learning_speed", self._build_learning_speed)
        xd, yd = self.device.put(x), self.device.put(y)
        return lambda: [float(v) for v in self.device.get(fn(xd, yd))]

    def _build_learning_speed(self):
        """The compiled ``(X, Y) -> [||dC/db^l|| for each hidden layer l]``, C the mean cost over the rows."""
        x, y = pt.matrix("x", dtype=self.dtype), pt.matrix("y", dtype=self.dtype)
        mean_cost = self.model.objective(x, y, self.trainer.params, None, None)[1]
        hidden = self.model.split(self.trainer.params)[1][:-1]
        norms = [pt.sqrt(pt.sum(pt.sqr(g))) for g in pytensor.grad(mean_cost, hidden)]
        return self.device.function([x, y], pt.stack(norms), name="learning_speed")

    # -- the book's other methods -----------------------------------------------
    def update_mini_batch(self, mini_batch, eta, lmbda=0.0, n=None, reg="l2"):
        """One gradient step for `mini_batch` with L2 (or L1) weight decay ``eta lmbda / n``."""
        self._update_mini_batch(mini_batch, eta, lmbda, n, reg)

    def accuracy(self, data, convert=False):
        """Correctly classified inputs in `data` (one-hot or integer targets; `convert` is not needed)."""
        return self._evaluation(data).correct

    def total_cost(self, data, lmbda, convert=False, reg="l2"):
        """Mean cost over `data` plus ``lmbda/len(data)`` times the regulariser, added once."""
        lmbda = arguments.check_lmbda(lmbda)
        ev = self._evaluation(data)
        return ev.cost / ev.total + lmbda / ev.total * self._penalty(lmbda, reg)


def _watching(evaluation_data, training_cost, training_accuracy, evaluation_cost, evaluation_accuracy,
              **patience):
    """What ``SGD`` watches: ``(the figures asked for, by name; the patience of early stopping and of
    the schedule, checked; whether the evaluation data is evaluated every epoch)``."""
    wanted = {"training_cost": training_cost, "training_accuracy": training_accuracy,
              "evaluation_cost": evaluation_cost, "evaluation_accuracy": evaluation_accuracy}
    patience = {name: arguments.check_count(n, name, 0) for name, n in patience.items()}
    return wanted, patience, _watches_evaluation(evaluation_data, wanted, patience)


def _sets(evaluation_data, test_data):
    """The labelled sets ``SGD`` evaluates after every epoch, by name: those given."""
    return {name: d for name, d in (("evaluation", evaluation_data), ("test", test_data)) if d is not None}


class Monitor(Callback):
    """The book's per-epoch figures: each evaluated set's accuracy and, when asked, its ``total_cost``;
    the wanted ones are appended to ``run.state``'s lists (``SGD``'s return values) and printed.

    Costs are the book's ``total_cost``: the mean cost plus ``lmbda / n`` times
    the regulariser on the current weights (computed at most once an epoch).
    """

    def __init__(self, net, wanted, lmbda, reg, verbose):
        self.net, self.wanted, self.lmbda, self.reg, self.verbose = net, wanted, lmbda, reg, verbose
        self.figures = {}

    def after_epoch(self, trainer, run, record):
        self._say(f"Epoch {record.epoch} training complete")
        figures = {"epoch": record.epoch, "cost": record.cost, "seconds": record.seconds, "eta": record.eta}
        penalty = None
        for which, ev in record.evaluations.items():
            figures[f"{which}_accuracy"], figures[f"n_{which}"] = ev.correct, ev.total
            if self.wanted.get(f"{which}_cost"):  # a set only recorded (test_data) is not monitored
                if penalty is None:
                    penalty = self.net._penalty(self.lmbda, self.reg)
                figures[f"{which}_cost"] = c = ev.cost / ev.total + self.lmbda / ev.total * penalty
                run.state[f"{which}_cost"].append(c)
                self._say(f"Cost on {which} data: {c}")
            if self.wanted.get(f"{which}_accuracy"):
                run.state[f"{which}_accuracy"].append(ev.correct)
                self._say(f"Accuracy on {which} data: {ev.correct} / {ev.total}")
        self.figures = figures
        return None

    def figures_with(self, state, speed):
        """This epoch's figures, with its speed of learning when `speed` records it (``on_epoch``'s dict)."""
        return {**self.figures, **({"learning_speed": state["learning_speed"][-1]} if speed else {})}

    def _say(self, line):
        if self.verbose:
            print(line, flush=True)


class LearningSpeed(Callback):
    """Chapter 5: appends the speed of learning ``probe()`` (one ``||dC/db^l||`` per hidden layer) to
    ``run.state["learning_speed"]`` after every epoch, printing it when `verbose`."""

    def __init__(self, probe, verbose):
        self.probe, self.verbose = probe, verbose

    def record(self, state, when=""):
        state["learning_speed"].append(speeds := self.probe())
        if self.verbose:
            print(f"{when}{speed_text(speeds)}", flush=True)

    def after_epoch(self, trainer, run, record):
        self.record(run.state)


def _watches_evaluation(evaluation_data, wanted, patience):
    """Whether the run evaluates `evaluation_data` after every epoch; ValueError when it must and there is
    none."""
    watch = bool(any(patience.values()) or wanted["evaluation_cost"] or wanted["evaluation_accuracy"])
    if watch and evaluation_data is None:
        raise ValueError("early stopping, the learning-rate schedule and monitor_evaluation_* need "
                         "evaluation_data (e.g. validation_data); pass it or turn them off")
    return watch


def _patience_policies(patience):
    """The policies that watch for epochs without a better evaluation accuracy, those asked for."""
    policies = {"early_stopping_n": EarlyStopping, "lr_schedule_n": EtaSchedule}
    return [policies[name](n) for name, n in patience.items() if n]


def _speed_examples(monitor):
    """How many training examples ``monitor_learning_speed`` asks for: 0 (off), or a count >= 1."""
    if monitor is True:
        return SPEED_EXAMPLES
    if monitor is False or monitor is None:
        return 0
    return arguments.check_count(monitor, "monitor_learning_speed (True, False or a number of examples)", 1)


def speed_text(speeds):
    """One line: ``speed of learning ||dC/db^l||, hidden layers 1-4: 0.003117 0.01705 0.07022 0.2851``."""
    values = " ".join(f"{s:.4g}" for s in speeds)
    return f"speed of learning ||dC/db^l||, hidden layers 1-{len(speeds)}: {values}"


def load(filename, **kwargs):
    """Load a network saved by :meth:`Network.save` or by the book's ``network2.py``, as a :class:`Network`.

    Keyword arguments (``device``, ``mode``, ``dtype``...) go to :class:`Network`.

    Raises
    ------
    NetworkFileError
        One line naming the file and what is wrong with it.
    """
    return load_as(Network, filename, **kwargs)
