"""What a saved network was trained on: one :class:`Metadata` record for every saved kind and export.

A network's file says which data set it learnt (its name and class names), the images
it reads (their shape, and the *preparation* that turns a photo into such an image),
how it was trained (the command's settings) and with which dlpy35, and how well it did
when that was measured.  The record is the same everywhere:

* ``network.json`` (:mod:`dlpy35.network`, :mod:`dlpy35.network2`): a ``"metadata"`` key
  beside the book's four, which the book's own ``network2.load`` ignores;
* ``network.npz`` (:mod:`dlpy35.network3`): a ``metadata`` text member (JSON);
* ONNX: the model's ``metadata_props``, one entry per field (:meth:`Metadata.props`);
* the web page: the class names it shows.

A file of an older dlpy35 has none: it loads with a record whose ``dataset`` is None,
and :meth:`Metadata.assumed` reads it as MNIST's digits, which is what those files were
trained on unless their user said otherwise.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace

from dlpy35.storage.caches import dlpy35_version
from dlpy35.text import plural

__all__ = ["FORMAT", "MNIST", "Metadata", "MetadataError", "dlpy35_version", "run_results"]

FORMAT = "dlpy35.metadata"
VERSION = 1

#: MNIST's: what a file without metadata is taken to have been trained on.
MNIST = {"dataset": "MNIST", "image_shape": (28, 28), "preparation": "mnist"}

# The most a name may hold: a record is read from files that may be damaged or hostile.
_MAX_TEXT, _MAX_CLASSES = 1000, 100_000


class MetadataError(ValueError):
    """A metadata record that is not one, or does not fit the network it describes."""


def preparation_of(image_shape) -> str | None:
    """The preparation of a data set of `image_shape` images: MNIST's for 28x28 ones (every 28x28 data set
    dlpy35 reads, an image folder's too, is prepared as or like MNIST), none known for other sizes."""
    return MNIST["preparation"] if tuple(image_shape) == MNIST["image_shape"] else None


@dataclass(frozen=True)
class Metadata:
    """What a saved network was trained on.

    Attributes
    ----------
    dataset : str or None
        The data set's name (``MNIST``, a ``--dataset`` directory's name); None when not recorded.
    classes : tuple of str
        Each output's class name (output ``k`` is ``classes[k]``); empty when not recorded.
    image_shape : tuple of int or None
        ``(rows, columns)`` of the images the network reads.
    preparation : str or None
        The name of what turns an image file into an input: ``mnist`` for
        :func:`dlpy35.data.digit_images.prepare` (light ink on dark, fitted in 20x20 and centred
        by its mass in 28x28, as MNIST's digits), the one ``predict`` knows.
    training : dict
        The training command's settings (JSON-ready): ``command``, ``args``, ``identity``.
    results : dict
        Accuracies measured in training (:func:`run_results`), where recorded.
    dlpy35 : str
        The version of dlpy35 that saved the network.
    """

    dataset: str | None = None
    classes: tuple = ()
    image_shape: tuple | None = None
    preparation: str | None = None
    training: dict = field(default_factory=dict)
    results: dict = field(default_factory=dict)
    dlpy35: str = ""

    @classmethod
    def of(cls, data, training=None, results=None) -> Metadata:
        """The record of a network trained on `data` (a :class:`dlpy35.data.Dataset`)."""
        preparation = getattr(data, "preparation", None) or preparation_of(data.image_shape)
        return cls(dataset=str(data.name), classes=tuple(data.class_names),
                   image_shape=tuple(data.image_shape), preparation=preparation,
                   training=_json_ready(training or {}), results=_json_ready(results or {}),
                   dlpy35=dlpy35_version())

    @property
    def recorded(self) -> bool:
        """Whether the file said what the network was trained on (files of older dlpy35s do not)."""
        return self.dataset is not None

    def assumed(self, n_out) -> Metadata:
        """This record, or for a file that records no data set MNIST's (digits for the `n_out` outputs)."""
        if self.recorded:
            return self
        return replace(self, classes=tuple(str(k) for k in range(n_out)), **MNIST)

    def with_results(self, results) -> Metadata:
        """This record with `results` (:func:`run_results`) as what training measured."""
        return replace(self, results=dict(results))

    def describe(self) -> str:
        """``MNIST (classes 0 1 2 ...; 28x28 images)``: the data set as messages name it."""
        shown = self.classes if len(self.classes) <= 12 else (*self.classes[:10], "...", self.classes[-1])
        shape = "x".join(map(str, self.image_shape)) if self.image_shape else "?"
        return f"{self.dataset} (classes {' '.join(shown)}; {shape} images)"

    # -- checks ---------------------------------------------------------------------------------
    def check_network(self, n_in, n_out):
        """MetadataError unless a recorded data set fits a network of `n_in` inputs and `n_out` outputs."""
        if not self.recorded:
            return
        if len(self.classes) != n_out:
            raise MetadataError(f"it records {plural(len(self.classes), 'class', 'classes')} for a "
                                f"network of {plural(n_out, 'output')}")
        if self.image_shape and math.prod(self.image_shape) != n_in:
            raise MetadataError(f"it records {'x'.join(map(str, self.image_shape))} images for a network of "
                                f"{plural(n_in, 'input')}")

    def mismatch(self, data, n_in, n_out) -> str | None:
        """Why a network of this record (`n_in` inputs, `n_out` outputs) cannot be evaluated on `data` (a
        :class:`dlpy35.data.Dataset`), or None: another data set, other classes or another image size.

        Without a recorded data set only the network's sizes can be compared with the data's.
        """
        if not self.recorded:
            if n_in == data.n_in and n_out == data.n_classes:
                return None
            return (f"it reads {n_in}-pixel images into {plural(n_out, 'class', 'classes')}, but "
                    f"{data.name} has {data.n_in}-pixel images in "
                    f"{plural(data.n_classes, 'class', 'classes')}")
        theirs = Metadata.of(data)
        mine = (self.dataset, self.classes, self.image_shape)
        if mine == (theirs.dataset, theirs.classes, theirs.image_shape):
            return None
        return f"it was trained on {self.describe()}, but the data is {theirs.describe()}"

    # -- as files hold it -----------------------------------------------------------------------
    def to_dict(self) -> dict:
        """The JSON-ready record a saved network holds."""
        return {"format": FORMAT, "version": VERSION, "dlpy35": self.dlpy35 or dlpy35_version(),
                "dataset": self.dataset, "classes": list(self.classes),
                "image_shape": list(self.image_shape) if self.image_shape else None,
                "preparation": self.preparation, "training": self.training, "results": self.results}

    @classmethod
    def from_dict(cls, d) -> Metadata:
        """The record `d` (:meth:`to_dict`'s) read back; MetadataError in one line for anything else."""
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            raise MetadataError(f"not a {FORMAT} record")
        if d.get("version") != VERSION:
            raise MetadataError(f"version {d.get('version')!r}; this dlpy35 reads version {VERSION}: "
                                "upgrade dlpy35")
        classes, shape = d.get("classes"), d.get("image_shape")
        if not (isinstance(classes, list) and len(classes) <= _MAX_CLASSES and all(map(_is_text, classes))):
            raise MetadataError("classes must be a list of names")
        if shape is not None and not (isinstance(shape, list) and len(shape) == 2
                                      and all(isinstance(s, int) and not isinstance(s, bool) and s > 0
                                              for s in shape)):
            raise MetadataError(f"image_shape must be two positive integers, got {shape!r}")
        for key in ("dataset", "preparation", "dlpy35"):
            if d.get(key) is not None and not _is_text(d[key]):
                raise MetadataError(f"{key} must be a text")
        for key in ("training", "results"):
            if not isinstance(d.get(key, {}), dict):
                raise MetadataError(f"{key} must be an object")
        return cls(dataset=d.get("dataset"), classes=tuple(classes), image_shape=shape and tuple(shape),
                   preparation=d.get("preparation"), training=d.get("training", {}),
                   results=d.get("results", {}), dlpy35=d.get("dlpy35") or "")

    def props(self) -> dict:
        """The record as ONNX's ``metadata_props`` hold it: text values, JSON for all but texts."""
        return {key: value if isinstance(value, str) else json.dumps(value)
                for key, value in self.to_dict().items() if value is not None}

    @classmethod
    def from_props(cls, props) -> Metadata:
        """:meth:`props` read back (a dict of texts: a field left out is None); a model without them gives
        an unrecorded record."""
        if "format" not in props:
            return cls()
        texts = ("format", "dataset", "preparation", "dlpy35")
        try:
            return cls.from_dict({k: v if k in texts else json.loads(v) for k, v in props.items()})
        except ValueError as exc:
            raise MetadataError(str(exc)) from None


def _json_ready(d) -> dict:
    """`d` as JSON keeps it: paths (and anything else JSON has no type for) as their text."""
    return json.loads(json.dumps(dict(d), default=str))


def _is_text(value) -> bool:
    return isinstance(value, str) and len(value) <= _MAX_TEXT


def run_results(records, names=None) -> dict:
    """What a run measured, from its :class:`dlpy35.engine.records.EpochRecord` list: the number of epochs,
    each evaluated set's accuracy after the last epoch (``final``), and the epoch of best accuracy on the
    first set (validation when evaluated) with every set's accuracy then (``best``).

    `names` renames the sets (``{"evaluation": "test"}`` for ``dlpy35 train``, whose one evaluated set
    is ``--evaluation``'s).  An empty `records` gives ``{"epochs": 0}``.
    """
    names = names or {}
    if not records:
        return {"epochs": 0}

    def accuracies(record):
        return {names.get(k, k): round(ev.accuracy, 6) for k, ev in record.evaluations.items()}

    final = accuracies(records[-1])
    results = {"epochs": len(records), "final": final}
    if final:
        by = "validation" if "validation" in final else next(iter(final))
        best = max(records, key=lambda r: (accuracies(r)[by], -r.epoch))  # the first of equal epochs
        results["best"] = {"epoch": best.epoch, "by": by, **accuracies(best)}
    return results


def chosen(given, current) -> Metadata:
    """The record a network's ``save`` writes: `given` (a :class:`Metadata`, or a
    :class:`dlpy35.data.Dataset` the network was trained on), else the network's `current` one."""
    if given is None:
        return current
    return given if isinstance(given, Metadata) else Metadata.of(given)


def read(d, n_in, n_out) -> Metadata:
    """The record `d` of a saved file (None: a file without one) for a network of `n_in` inputs and `n_out`
    outputs; MetadataError when it is damaged or describes another network."""
    if d is None:
        return Metadata()
    meta = Metadata.from_dict(d)
    meta.check_network(n_in, n_out)
    return meta


def training_settings(prog, args) -> dict:
    """What a training command records of how it trained: its name and every argument's value."""
    from dlpy35.storage.rundir import plain_args

    return {"command": prog, "args": plain_args(args)}
