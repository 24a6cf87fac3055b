"""What defines a run: the settings a checkpoint, a run directory and a sweep's chunks record.

A run's *identity* is a flat, JSON-ready dict of the settings that make its
numbers what they are: the architecture, the cost, the seed, eta, lambda, the
mini-batch size, the schedule, the dtype and the data (its digest,
:func:`digest`).  :func:`identity` builds one, :func:`first_difference` finds the
first setting on which two differ, and :func:`check_same` refuses to continue (or
reuse) a run under another identity, naming that setting and both values.

What is deliberately *not* part of an identity:

* the number of epochs of a checkpointed run (a resumed run may be asked to train
  further; a sweep's chunks, which are never resumed, do record theirs);
* the device, the PyTensor mode and the epoch mode: where and how the same
  arithmetic is done.  A run checkpointed on a GPU may continue on a CPU; only
  the rounding of float32 differs, as it would between two machines;
* where the data were read from (the digest says what they are) and where the
  outputs go, the progress bar and the verbosity.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np

__all__ = ["digest", "key", "identity", "first_difference", "check_same"]

DIGEST_CHARS = 16  # 64 bits of SHA-256: a changed data set is told apart, and the text stays readable


def digest(named) -> str:
    """A short hex digest of named arrays: ``{name: array or tuple of arrays}``.

    SHA-256 (accelerated by the CPU on most machines: about 0.1 s for MNIST's
    220 MB of float32 images) over each name, and each array's dtype, shape and
    bytes, in the order given: the same arrays under other names, reshaped or of
    another dtype give another digest.
    """
    h = hashlib.sha256()
    for name, arrays in named.items():
        h.update(f"{name}\0".encode())
        for a in arrays if isinstance(arrays, (tuple, list)) else (arrays,):
            a = np.ascontiguousarray(a)
            h.update(f"{a.dtype.str}{a.shape}\0".encode())
            h.update(a.data if a.size else b"")
    return h.hexdigest()[:DIGEST_CHARS]


def key(value) -> str:
    """A short hex digest of a JSON-ready `value` (keys sorted): equal values, equal keys.  What names a
    sweep's chunk by its networks and settings, and a calibration by its machine's fingerprint."""
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:DIGEST_CHARS]


def identity(**settings) -> dict:
    """`settings` as JSON keeps them (tuples as lists, numpy numbers as Python's), so that an identity
    read back from a file compares equal to the one it was written from."""
    return json.loads(json.dumps(settings, default=_plain))


def _plain(value):
    """A value JSON cannot write as it is: a numpy number as Python's, anything else as its text."""
    return value.item() if isinstance(value, np.generic) else str(value)


_ABSENT = object()

#: What a setting whose name does not say it means, as a refusal explains it.
NOTES = {"data_digest": "the data trained on and evaluated differ: another data set, or other images of it"}


def first_difference(recorded: dict, current: dict):
    """``(setting, recorded value, current value)`` of the first setting (in `current`'s order, then
    `recorded`'s) on which the two identities differ, or None; a setting one of them lacks differs."""
    for key in [*current, *(k for k in recorded if k not in current)]:
        old, new = recorded.get(key, _ABSENT), current.get(key, _ABSENT)
        if old != new:
            return key, old, new
    return None


def check_same(recorded, current, problem, fix, error=ValueError, this="this run"):
    """Refuse, with `error`, when the identities differ: one line naming the first setting that differs.

    The message reads ``{problem} has {setting}={recorded} but {this} has {setting}={current}; {fix}``,
    e.g. ``runs/ck/checkpoint.npz: cannot resume: the checkpoint has seed=1 but this run has seed=2;
    ...``.  A `recorded` that is not a dict (a file of an older dlpy35) differs from any identity.
    """
    if not isinstance(recorded, dict):
        raise error(f"{problem} records no settings (it was written by an older dlpy35); {fix}")
    found = first_difference(recorded, current)
    if found is not None:
        key, old, new = found
        note = f" ({NOTES[key]})" if key in NOTES else ""
        raise error(f"{problem} has {_setting(key, old)} but {this} has {_setting(key, new)}{note}; {fix}")


def _setting(key, value):
    return f"no {key}" if value is _ABSENT else f"{key}={value!r}"
