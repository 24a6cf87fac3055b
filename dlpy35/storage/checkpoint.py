"""Training checkpoints: weights, RNG state, epoch, history and schedule, written atomically.

One file, ``<dir>/checkpoint.npz``: the weights and biases as float arrays and a
JSON document (``meta``) with everything else.  It is replaced atomically at the
end of every epoch (:mod:`dlpy35.storage.atomic`), so a crash or a kill during a save
leaves the previous checkpoint loadable.  :class:`Checkpoint` ties a file to a
run of :class:`dlpy35.engine.trainer.Trainer`: what it saves, and the run's identity
(:mod:`dlpy35.storage.identity`) that a resume must match; as
one of the trainer's callbacks it saves after every epoch and on Ctrl-C.  A population's
trainer (:class:`dlpy35.engine.population.PopulationTrainer`) writes the same file: every
network's weights and biases stacked (K leading), every generator's state, the diverged
networks in the run's state and a :class:`dlpy35.engine.records.PopulationRecord` per epoch.
"""

from __future__ import annotations

import contextlib
import copy
import fcntl
import json
import os
from pathlib import Path

import numpy as np

from dlpy35.engine.callbacks import Callback
from dlpy35.storage import identity
from dlpy35.storage.atomic import atomic_write, stale_temp_files
from dlpy35.storage.saved_files import (
    NPZ_ERRORS,
    SavedFileError,
    check_values,
    open_npz,
    read_npz_array,
    read_npz_text,
)

FILENAME = "checkpoint.npz"
FORMAT = 2  # 2: the run's identity under "identity"


CheckpointError = SavedFileError  # the name checkpoint code reads best


def path_in(directory) -> Path:
    return Path(directory) / FILENAME


@contextlib.contextmanager
def claim(directory, resume=False, overwrite=False):
    """Hold `directory` for one training run; checked before any training.

    One run at a time: the directory is locked (``flock``) until the block
    ends, and a second run fails at once.  An existing checkpoint is never
    replaced silently: without `resume` (continue it) or `overwrite` (start
    over) it is refused; and `resume` with no checkpoint there is refused
    too, rather than quietly starting afresh.  None does nothing.

    Raises
    ------
    CheckpointError
        One line naming the directory and what to do.
    """
    if directory is None and resume:
        raise ValueError("resume=True needs checkpoint_dir (the directory holding checkpoint.npz)")
    if directory is None:
        yield
        return
    if resume and overwrite:
        raise ValueError("resume and overwrite exclude each other: resume continues the checkpoint, "
                         "overwrite starts over")
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise CheckpointError(f"{directory}: is a file, not a directory; give a directory for checkpoints")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(directory, os.O_RDONLY)
    except OSError as exc:
        raise CheckpointError(f"{directory}: cannot use it as a checkpoint directory ({exc.strerror}); "
                              "give a directory you can write") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise CheckpointError(f"{directory}: another run is training into this checkpoint directory; "
                                  "wait for it to end or use another one") from None
        if path_in(directory).exists() and not (resume or overwrite):
            raise CheckpointError(f"{path_in(directory)}: a checkpoint of an earlier run is there; continue "
                                  "it with resume=True or start over with overwrite=True")
        if resume:
            check_resumable(directory)
        yield
    finally:
        os.close(fd)  # releases the lock


def check_resumable(directory) -> None:
    """Refuse to resume from `directory` when it holds no checkpoint: CheckpointError in one line.

    A resume with nothing to resume is a mistake (a mistyped directory, say), not a fresh start.
    """
    if not path_in(directory).exists():
        raise CheckpointError(f"{directory}: no checkpoint to resume ({FILENAME} is not there); give the "
                              "directory of the run to continue, or train without resume=True")


def completed_epochs(directory):
    """The completed epochs that the checkpoint in `directory` holds, read from disk: a count, ``"an
    unknown number of"`` for a checkpoint without a readable history, or None when there is none."""
    try:
        found = load(directory)
    except CheckpointError:
        found = None
    if found is None:
        return None
    history = found[2].get("history")
    return history.get("epoch") if isinstance(history, dict) else "an unknown number of"


def save(directory, weights, biases, meta: dict) -> Path:
    """Write ``checkpoint.npz`` into `directory` atomically and return its path."""
    arrays = {f"w{k}": np.asarray(w) for k, w in enumerate(weights)}
    arrays.update({f"b{k}": np.asarray(b) for k, b in enumerate(biases)})
    arrays["meta"] = np.array(json.dumps({"format": FORMAT, **meta}))
    path = path_in(directory)
    for stale in stale_temp_files(path):  # left by a process killed mid-save
        stale.unlink(missing_ok=True)
    with atomic_write(path) as f:
        np.savez(f, **arrays)
    return path


def load(directory):
    """``(weights, biases, meta)`` from `directory`, or None when it holds no checkpoint.

    ``meta["sizes"]`` gives the number of layers, hence of arrays; whether their
    shapes fit a network is for the network to check.  The arrays must hold real
    numbers, finite in the run's dtype (``meta["dtype"]``).

    Raises
    ------
    CheckpointError
        The file exists but is not a readable checkpoint.
    """
    path = path_in(directory)
    if not path.exists():
        return None
    try:
        z, size = open_npz(path)
        with z:
            meta = json.loads(read_npz_text(z, "meta", size))
            sizes = meta["sizes"]
            if not isinstance(sizes, list) or len(sizes) < 2:
                raise ValueError(f"sizes must be a list of at least two layer sizes, got {sizes!r}")
            n = len(sizes) - 1
            weights = [read_npz_array(z, f"w{k}", size) for k in range(n)]
            biases = [read_npz_array(z, f"b{k}", size) for k in range(n)]
        check_values([*((f"w{k}", w) for k, w in enumerate(weights)),
                      *((f"b{k}", b) for k, b in enumerate(biases))], meta.get("dtype"))
    except NPZ_ERRORS as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__  # numpy's messages span lines
        raise CheckpointError(f"{path}: not a readable dlpy35 checkpoint ({reason}); resume from another "
                              "checkpoint directory, or train without resuming") from None
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{path}: checkpoint format {meta.get('format')!r}, expected {FORMAT} (written "
                              "by another version of dlpy35); resume it with that version, or train without "
                              "resuming")
    return weights, biases, meta


def run_identity(trainer, run, settings) -> dict:
    """The identity of `run` (:mod:`dlpy35.storage.identity`): the network's `settings` (its
    architecture, cost, seed, regularisation, schedule...) and the run's dtype, mini-batch size,
    first eta, number of training examples and the digest of the data it trains on and evaluates."""
    return identity.identity(**settings, dtype=trainer.dtype, mini_batch_size=run.m, eta0=run.eta,
                             n_train=run.n, data_digest=identity.digest(run.data))


class Checkpoint(Callback):
    """Where a run checkpoints, and the identity a resume must match.

    As a :class:`dlpy35.engine.callbacks.Callback` it saves the committed state after
    every epoch and after Ctrl-C.

    Parameters
    ----------
    directory : path
    identity : dict
        JSON-ready (:func:`run_identity`); written into the checkpoint and compared on resume.
    required : tuple of str
        Keys the network adds to ``run.state``; a checkpoint without them is incomplete.
    """

    def __init__(self, directory, identity, required=()):
        self.directory, self.identity, self.required = directory, identity, required

    @classmethod
    def of_run(cls, trainer, run, directory, resume=False, verbose=True, required=()):
        """The checkpoint of `run` in `directory`, resumed from with `resume`; None without a directory.

        ``run.identity`` (:func:`run_identity`) is what the checkpoint records and a resume must match.
        """
        if directory is None:
            return None
        saver = cls(directory, run.identity, required)
        if resume:
            saver.resume(trainer, run, verbose)
        return saver

    @property
    def path(self):
        return path_in(self.directory)

    def save(self, trainer, run):
        meta = {"sizes": self.identity["sizes"], "dtype": self.identity["dtype"], "identity": self.identity,
                "history": run.state, "records": [r.to_json() for r in run.records],
                "rng": trainer.order.state}
        save(self.directory, *trainer.checkpoint_arrays(run.snapshot), meta)

    def on_epoch(self, trainer, run, record):
        self.save(trainer, run)

    def on_interrupt(self, trainer, run):
        self.save(trainer, run)

    def resume(self, trainer, run, verbose=True):
        """Put `run` where the checkpoint left off, once its identity is found to be the run's.

        Raises
        ------
        CheckpointError
            No checkpoint (:func:`check_resumable`), an unreadable one, or one of another run:
            the message names the first setting that differs, with both values.
        """
        check_resumable(self.directory)
        found = load(self.directory)
        identity.check_same(found[2].get("identity"), self.identity,
                            f"{self.path}: cannot resume: the checkpoint",
                            "use the checkpoint's settings or another checkpoint directory", CheckpointError)
        trainer.restore(run, *self._parts(trainer, *found))
        if verbose:
            print(f"resuming from {self.path} at epoch {run.state['epoch']}", flush=True)

    def _parts(self, trainer, weights, biases, meta):
        """``(values, order state, run state, records)`` of a loaded checkpoint, each checked first."""
        try:
            values = trainer.from_checkpoint(weights, biases)
            state = meta["history"]
            order = copy.deepcopy(trainer.order)
            order.state = meta["rng"]  # a state the generators cannot take fails here, not half-way
            missing = {"epoch", "eta", "seconds", "stopped", "next_eta", *self.required} - state.keys()
            if missing:
                raise KeyError(", ".join(sorted(missing)))
            state = trainer.checked_state(state)
            records = [trainer.record_type.from_json(r) for r in meta.get("records", [])]
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise CheckpointError(f"{self.path}: incomplete checkpoint ({exc}); resume from another "
                                  f"checkpoint directory, or train without resuming") from None
        return values, meta["rng"], state, records
