"""What an epoch of training yields: its record, or the exception that says why there is none.

One record shape flows from the trainer to every output: an :class:`EpochRecord`
per epoch of one network (a :class:`PopulationRecord` holds one per network of a
population).  :func:`saturation` reads two consecutive records of one network.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

SATURATION_SHARE = 0.99  # one answer to this share of an evaluated set counts as saturation...
SATURATION_ROWS = 100  # ...in a set of at least this many rows (a tiny set says too little)
FLAT = 1e-3  # a cost that fell by less than this fraction over an epoch has stopped falling


class TrainingDiverged(FloatingPointError):  # noqa: N818 (a public name since chapter 1)
    """The cost or the weights became NaN, infinite or too large to compute with during an epoch."""


class TrainingSaturated(TrainingDiverged):  # noqa: N818 (named as its parent)
    """The network gives one answer to nearly everything, and ``stop_on_saturation`` was asked for."""


class SaturationWarning(UserWarning):
    """The network gives one answer to nearly everything after an epoch: eta is probably too large."""


@dataclass
class Evaluation:
    """How a network did on one labelled set: ``correct`` of ``total``, the summed ``cost``, and
    ``most_common``: how many rows got the answer the network gave most often."""

    correct: int
    total: int
    cost: float
    most_common: int = 0

    @property
    def accuracy(self):
        return self.correct / self.total


@dataclass
class EpochRecord:
    """One epoch of training.

    Attributes
    ----------
    epoch : int
    seconds : float
        Training time of the epoch (evaluation and compilation excluded).
    eta : float
        The learning rate the epoch trained with.
    cost : float
        Mean over the epoch's mini-batches of each mini-batch's mean cost.
    evaluations : dict of str to Evaluation
        The sets evaluated after the epoch, by name (``"test"``, ``"validation"``...).
    """

    epoch: int
    seconds: float
    eta: float
    cost: float
    evaluations: dict = field(default_factory=dict)

    def to_json(self):
        return asdict(self)

    def flat(self):
        """A flat dict: ``epoch``, ``seconds``, ``eta``, ``training_cost`` and, for each evaluated set,
        ``<set>_correct`` and ``<set>_total`` (the fields of a sweep's ``epochs.csv``)."""
        return {"epoch": self.epoch, "seconds": self.seconds, "eta": self.eta, "training_cost": self.cost,
                **{f"{name}_{what}": getattr(ev, what) for name, ev in self.evaluations.items()
                   for what in ("correct", "total")}}

    def per_network(self):
        """``[("", self)]``: the one network's record, with no name to prefix its messages."""
        return [("", self)]

    @classmethod
    def from_json(cls, d):
        return cls(**{**d, "evaluations": {k: Evaluation(**v) for k, v in d["evaluations"].items()}})


@dataclass
class PopulationRecord:
    """One epoch of a population: its seconds (for all K together) and each network's :class:`EpochRecord`.

    ``records[k]`` is None for a network that diverged in this epoch or before.
    """

    epoch: int
    seconds: float
    eta: list
    records: list = field(default_factory=list)

    def per_network(self):
        """``(f"network {k}: ", record)`` for each network: its record and the prefix of its messages."""
        return [(f"network {k}: ", r) for k, r in enumerate(self.records)]

    def to_json(self):
        return asdict(self)

    @classmethod
    def from_json(cls, d):
        records = [None if r is None else EpochRecord.from_json(r) for r in d["records"]]
        return cls(**{**d, "records": records})


def saturation(record, before):
    """The warning when the network gives one answer to nearly all of a set and its cost there has stopped
    falling since `before` (the previous :class:`EpochRecord`, or None): saturated units; else None.

    A sigmoid or softmax pushed far into saturation (eta much too large) stays
    finite, so the divergence guard cannot see it; its gradients vanish, the cost
    stays flat and the accuracy sits at one class's share.  (One answer alone is
    no sign: a network early in training may give one, while its cost still falls.)
    """
    earlier = before.evaluations if before else {}
    for name, ev in record.evaluations.items():
        if ev.total < SATURATION_ROWS or ev.most_common < SATURATION_SHARE * ev.total:
            continue
        if name not in earlier or ev.cost < (1 - FLAT) * earlier[name].cost:
            continue
        share = ev.most_common / ev.total
        return (f"epoch {record.epoch}: the network gives the same answer to {share:.1%} of the {name} data "
                f"(accuracy {ev.accuracy:.2%}) and its cost there stopped falling: its units look saturated, "
                f"most often because eta ({record.eta:g}) is too large (lower it), else too small for a deep "
                f"network to move (this warning is not repeated)")
    return None
