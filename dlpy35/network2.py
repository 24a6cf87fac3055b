"""``network2``: the book's chapter-3 network -- cross-entropy, regularisation, monitoring.

The API is the book's ``network2.py``: ``Network(sizes, cost=CrossEntropyCost)``
with N(0, 1/n_in) weights, ``SGD(training_data, epochs, mini_batch_size, eta,
lmbda, evaluation_data, monitor_*..., early_stopping_n)`` returning the four
per-epoch lists, ``accuracy``, ``total_cost``, ``save`` and ``load``.  It trains
on the same symbolic, device-resident path as :class:`dlpy35.network.Network`;
the costs and accuracies it monitors are computed in the graph, on the device.

Fixed from the Python 3 port (``shared/REFERENCE.md``): ``total_cost`` adds the
regularisation term once, not once per example; early stopping reads the
evaluation accuracy explicitly, never whichever accuracy was computed last.
Added: L1 regularisation (``reg="l1"``), the learning-rate schedule of the
chapter's exercise (``lr_schedule_n``), checkpoints with exact resume, and a
clean Ctrl-C.
"""

from __future__ import annotations

import copy
import json
from numbers import Integral

import numpy as np

from dlpy35 import checkpoint, costs, inputs
from dlpy35.atomic import atomic_write
from dlpy35.costs import CrossEntropyCost, QuadraticCost
from dlpy35.network import Network as _Base
from dlpy35.network import TrainingDiverged

__all__ = ["Network", "load", "NetworkFileError", "CrossEntropyCost", "QuadraticCost", "TrainingDiverged"]

SCHEDULE_FLOOR = 128  # the schedule stops when eta has fallen to eta0 / 128


class NetworkFileError(ValueError):
    """A saved-network file that is not a network this code can load."""


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

    def SGD(self, training_data, epochs, mini_batch_size, eta, lmbda=0.0, evaluation_data=None,
            monitor_evaluation_cost=False, monitor_evaluation_accuracy=False,
            monitor_training_cost=False, monitor_training_accuracy=False, early_stopping_n=0, *,
            reg="l2", lr_schedule_n=0, checkpoint_dir=None, resume=False, progress=None, on_epoch=None,
            verbose=True):
        """Mini-batch SGD with regularisation, monitoring, early stopping and a schedule.

        Parameters
        ----------
        training_data, epochs, mini_batch_size, eta
            As for :meth:`dlpy35.network.Network.SGD`.
        lmbda : float
            Regularisation parameter (>= 0); weights decay by ``1 - eta lmbda / n``
            each step (L2, eq. 93) or move ``eta lmbda / n`` towards 0 (L1, eq. 97).
        evaluation_data : list of (x, label) pairs or (X, labels), optional
            Monitored with ``monitor_evaluation_*``; needed by early stopping and
            the schedule.
        monitor_evaluation_cost, monitor_evaluation_accuracy, monitor_training_cost, monitor_training_accuracy : bool
            Which per-epoch figures to compute (in the graph) and print.
        early_stopping_n : int
            Stop when the evaluation accuracy has not improved for this many
            epochs (0: never).
        reg : {"l2", "l1"}
            The regulariser that `lmbda` weighs.
        lr_schedule_n : int
            Halve eta whenever the evaluation accuracy has not improved for this
            many epochs; stop when eta reaches eta/128 (0: constant eta).
        checkpoint_dir : path, optional
            Save a checkpoint there (atomically) after every epoch.
        resume : bool
            Continue from the checkpoint in `checkpoint_dir`, if there is one.
            A run resumed on the same backend ends with the same weights as an
            uninterrupted one.
        progress, on_epoch, verbose
            As for :meth:`dlpy35.network.Network.SGD`; `on_epoch` receives a dict
            with this epoch's figures.

        Returns
        -------
        evaluation_cost, evaluation_accuracy, training_cost, training_accuracy : lists
            Per epoch, as the book returns them (empty when not monitored).
            ``self.history`` holds them too, with the seconds and eta of each epoch.

        Raises
        ------
        KeyboardInterrupt
            After putting back the weights of the last completed epoch and saving
            a checkpoint, when `checkpoint_dir` is set.
        """
        watch_eval = bool(early_stopping_n or lr_schedule_n or monitor_evaluation_cost
                          or monitor_evaluation_accuracy)
        if watch_eval and evaluation_data is None:
            raise ValueError("early stopping, the learning-rate schedule and monitor_evaluation_* need "
                             "evaluation_data (e.g. validation_data); pass it or turn them off")
        early_stopping_n = inputs.check_count(early_stopping_n, "early_stopping_n", 0)
        lr_schedule_n = inputs.check_count(lr_schedule_n, "lr_schedule_n", 0)
        if resume and checkpoint_dir is None:
            raise ValueError("resume=True needs checkpoint_dir (the directory holding checkpoint.npz)")
        run = self._begin(training_data, epochs, mini_batch_size, eta, lmbda, reg,
                          evaluation_data if watch_eval else None)
        h = {"evaluation_cost": [], "evaluation_accuracy": [], "training_cost": [], "training_accuracy": [],
             "seconds": [], "eta": [], "epoch": 0, "next_eta": run.eta, "best_accuracy": None, "since_best": 0,
             "since_change": 0, "stopped": None}
        settings = {"sizes": self.sizes, "cost": self.cost.name, "dtype": self.dtype,
                    "mini_batch_size": run.m, "lmbda": run.lmbda, "reg": reg, "eta0": run.eta,
                    "n_train": run.n, "early_stopping_n": early_stopping_n, "lr_schedule_n": lr_schedule_n}
        if resume:
            h = self._resume(checkpoint_dir, settings, run, h, verbose)
        monitored = {
            "training": (monitor_training_cost, monitor_training_accuracy,
                         monitor_training_cost or monitor_training_accuracy),
            "evaluation": (monitor_evaluation_cost, monitor_evaluation_accuracy, watch_eval),
        }
        # What a checkpoint holds: the state between two epochs, never one half-way.
        committed = (run.snapshot, self.rng.bit_generator.state, copy.deepcopy(h))
        self.history = h
        try:
            while h["epoch"] < run.epochs and not h["stopped"]:
                j = h["epoch"]
                record = self._run_epoch(run, j, progress)
                record["eta"] = run.eta
                h["seconds"].append(record["seconds"])
                h["eta"].append(run.eta)
                if verbose:
                    print(f"Epoch {j} training complete", flush=True)
                self._monitor(run, record, h, monitored, verbose)
                if watch_eval:
                    h["stopped"] = self._schedule(run, record["evaluation_accuracy"], h, early_stopping_n,
                                                  lr_schedule_n)
                h["epoch"], h["next_eta"] = j + 1, run.eta
                committed = (run.snapshot, self.rng.bit_generator.state, copy.deepcopy(h))
                if checkpoint_dir is not None:
                    self._save_checkpoint(checkpoint_dir, settings, h)
                if h["stopped"] and verbose:
                    print(h["stopped"], flush=True)
                if on_epoch:
                    on_epoch(record)
        except KeyboardInterrupt:
            weights, self.rng.bit_generator.state, self.history = committed
            self._restore(weights)
            if checkpoint_dir is not None:
                self._save_checkpoint(checkpoint_dir, settings, self.history)
            raise
        return h["evaluation_cost"], h["evaluation_accuracy"], h["training_cost"], h["training_accuracy"]

    # -- the parts of SGD -------------------------------------------------------
    def _monitor(self, run, record, h, monitored, verbose):
        """Compute the figures needed, in the graph; record them, list and print the monitored ones.

        `monitored` maps ``"training"``/``"evaluation"`` to ``(cost?, accuracy?, needed?)``;
        the evaluation accuracy is needed by early stopping and the schedule even
        when it is not monitored.
        """
        penalty = None  # the regulariser on this epoch's weights, computed at most once
        for which, metrics, n in (("training", self._training_metrics, run.n),
                                  ("evaluation", self._evaluation_metrics, run.n_eval)):
            want_cost, want_accuracy, needed = monitored[which]
            if not needed:
                continue
            correct, summed = metrics()
            record[f"{which}_accuracy"], record[f"n_{which}"] = correct, n
            if want_cost:
                if penalty is None:
                    penalty = self._penalty(run.lmbda, run.reg)
                record[f"{which}_cost"] = c = summed / n + run.lmbda / n * penalty
                h[f"{which}_cost"].append(c)
                if verbose:
                    print(f"Cost on {which} data: {c}")
            if want_accuracy:
                h[f"{which}_accuracy"].append(correct)
                if verbose:
                    print(f"Accuracy on {which} data: {correct} / {n}")

    def _penalty(self, lmbda, reg):
        """The regulariser (``sum w^2 / 2`` or ``sum |w|``) on the current weights; 0 without `lmbda`.

        The book's ``total_cost`` is the mean cost plus ``lmbda / n`` times this, added once.
        """
        return float(self.device.get(self._fn("penalty", reg)())) if lmbda else 0.0

    def _schedule(self, run, accuracy, h, early_stopping_n, lr_schedule_n):
        """Early stopping and the halving schedule, on the evaluation accuracy; a reason to stop or None."""
        if h["best_accuracy"] is None or accuracy > h["best_accuracy"]:
            h["best_accuracy"], h["since_best"], h["since_change"] = accuracy, 0, 0
        else:
            h["since_best"] += 1
            h["since_change"] += 1
        if early_stopping_n and h["since_best"] >= early_stopping_n:
            return f"Early stopping: no improvement in evaluation accuracy for {early_stopping_n} epochs"
        if lr_schedule_n and h["since_change"] >= lr_schedule_n:
            h["since_change"] = 0
            eta0 = h["eta"][0]
            if run.eta / 2 <= eta0 / SCHEDULE_FLOOR * (1 + 1e-9):
                return f"Learning-rate schedule: eta has fallen to eta0/{SCHEDULE_FLOOR}; stopping"
            self._set_eta(run, run.eta / 2)
        return None

    def _save_checkpoint(self, directory, settings, h):
        meta = {**settings, "history": h, "rng": self.rng.bit_generator.state}
        checkpoint.save(directory, self.weights, self.biases, meta)

    def _resume(self, directory, settings, run, h, verbose):
        found = checkpoint.load(directory)
        if found is None:
            if verbose:
                print(f"no checkpoint in {directory}; starting from epoch 0", flush=True)
            return h
        weights, biases, meta = found
        path = checkpoint.path_in(directory)
        checkpoint.check_compatible(meta, settings, path)
        try:  # check everything before changing anything
            history = meta["history"]
            rng = np.random.default_rng()
            rng.bit_generator.state = meta["rng"]
            next_eta = inputs.check_eta(history["next_eta"], self.dtype)
            missing = {"epoch", "eta", "seconds", "stopped", "best_accuracy"} - history.keys()
            if missing:
                raise KeyError(", ".join(sorted(missing)))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise checkpoint.CheckpointError(f"{path}: incomplete checkpoint ({exc}); delete it to start afresh") from None
        self.weights, self.biases = weights, biases
        self.rng.bit_generator.state = meta["rng"]
        self._set_eta(run, next_eta)
        run.snapshot = self._snapshot()
        if verbose:
            print(f"resuming from {checkpoint.path_in(directory)} at epoch {meta['history']['epoch']}", flush=True)
        return history

    # -- the book's other methods -----------------------------------------------
    def update_mini_batch(self, mini_batch, eta, lmbda=0.0, n=None, reg="l2"):
        """One gradient step for `mini_batch` with L2 (or L1) weight decay ``eta lmbda / n``."""
        self._update_mini_batch(mini_batch, eta, lmbda, n, reg)

    def accuracy(self, data, convert=False):
        """Correctly classified inputs in `data` (one-hot or integer targets; `convert` is not needed)."""
        return self._metrics_of(data)[0]

    def total_cost(self, data, lmbda, convert=False, reg="l2"):
        """Mean cost over `data` plus ``lmbda/len(data)`` times the regulariser, added once."""
        lmbda = inputs.check_lmbda(lmbda)
        _, summed, n = self._metrics_of(data)
        return summed / n + lmbda / n * self._penalty(lmbda, reg)

    def save(self, filename):
        """Save to the book's JSON format (sizes, weights, biases, cost), atomically."""
        data = {"sizes": self.sizes,
                "weights": [w.tolist() for w in self.weights],
                "biases": [b.tolist() for b in self.biases],
                "cost": self.cost.name}
        with atomic_write(filename, "w") as f:
            json.dump(data, f)


def load(filename, **kwargs):
    """Load a network saved by :meth:`Network.save` or by the book's ``network2.py``.

    Keyword arguments (``device``, ``mode``, ``dtype``...) go to :class:`Network`.

    Raises
    ------
    NetworkFileError
        One line naming the file and what is wrong with it.
    """
    try:
        with open(filename) as f:
            data = json.load(f)
    except OSError as exc:
        raise NetworkFileError(f"{filename}: cannot read it ({exc.strerror})") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise NetworkFileError(f"{filename}: not a JSON network file ({exc})") from None
    if not isinstance(data, dict) or not {"sizes", "weights", "biases", "cost"} <= data.keys():
        raise NetworkFileError(f"{filename}: not a saved network: needs the keys sizes, weights, biases and cost")
    sizes = data["sizes"]
    if (not isinstance(sizes, list) or len(sizes) < 2
            or not all(isinstance(s, Integral) and not isinstance(s, bool) and s > 0 for s in sizes)):
        raise NetworkFileError(f"{filename}: sizes must be a list of at least two positive integers, got {sizes!r}")
    try:
        cost = costs.get(data["cost"]) if isinstance(data["cost"], str) else None
    except ValueError:
        cost = None
    if cost is None:
        raise NetworkFileError(f"{filename}: unknown cost {data['cost']!r}; expected one of {sorted(costs.COSTS)}")
    try:
        weights = [np.asarray(w, dtype=np.float64) for w in data["weights"]]
        biases = [np.asarray(b, dtype=np.float64) for b in data["biases"]]
    except (TypeError, ValueError):
        raise NetworkFileError(f"{filename}: weights and biases must be nested lists of numbers") from None
    want_w = [(y, x) for x, y in zip(sizes[:-1], sizes[1:])]
    want_b = [(y, 1) for y in sizes[1:]]
    if [w.shape for w in weights] != want_w or [b.shape for b in biases] != want_b:
        raise NetworkFileError(
            f"{filename}: shapes do not match sizes {sizes}: weights {[w.shape for w in weights]} "
            f"(expected {want_w}), biases {[b.shape for b in biases]} (expected {want_b})"
        )
    if not all(np.all(np.isfinite(a)) for a in (*weights, *biases)):
        raise NetworkFileError(f"{filename}: weights and biases must be finite numbers")
    net = Network(sizes, cost=cost, **kwargs)
    net.weights, net.biases = weights, biases
    return net
