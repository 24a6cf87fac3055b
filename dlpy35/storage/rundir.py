"""A training run's directory: what was asked, each epoch, and what came out.

``args.json`` (the command's arguments, the run's identity and the invocations that
trained it) is written when training starts, ``epochs.csv`` (the sweep's columns,
:data:`dlpy35.storage.tables.EPOCH_COLUMNS`, every epoch of the run, a resumed
checkpoint's too) after every epoch, and at
the end the trained network (``network.json`` or ``network.npz``, what the network's
``save`` writes) and, with matplotlib, ``curves.png``.  Every file is written
atomically; whether the directory may be written is :mod:`dlpy35.storage.outputs`'s
question, which a command asks before training starts (:attr:`RunDir.names`).

A training command given no place keeps its run in a new directory of its own,
``runs/COMMAND-YYYYmmdd-HHMMSS`` under the current directory (``$DLPY35_RUNS``
instead of ``runs``), with ``-2``, ``-3``... when one of that name exists: it is
created by an exclusive ``mkdir`` (:meth:`RunDir.make`), so that two runs started in
the same second never share one.  :func:`read_args` reads an ``args.json`` back
(bounded, checked), for a rerun of the run it describes.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from pathlib import Path

from dlpy35.storage.atomic import atomic_write
from dlpy35.storage.bounded import read_bounded, read_json
from dlpy35.storage.outputs import Finisher, OutputError
from dlpy35.storage.tables import EPOCH_COLUMNS, write_csv

__all__ = ["RunDir", "plain_args", "default_path", "runs_root", "versions", "read_args"]

#: The environment variable naming the folder of the runs kept by default (``runs`` if unset).
RUNS_ENV = "DLPY35_RUNS"
#: The most bytes :func:`read_args` reads: an ``args.json`` of dlpy35 is a few kB.
ARGS_BYTES = 1 << 20
#: The packages whose versions ``args.json`` records, besides dlpy35 and Python.
PACKAGES = ("pytensor", "jax", "jaxlib", "numpy", "numba")


def runs_root() -> Path:
    """The folder of the runs kept by default: ``$DLPY35_RUNS``, else ``runs`` in the current directory."""
    return Path(os.environ.get(RUNS_ENV) or "runs")


def default_path(command, now=None) -> Path:
    """Where a run of `command` (``train``, ``train-conv``) started at `now` (seconds since the epoch, the
    current time if None) is kept by default: ``runs_root()/COMMAND-YYYYmmdd-HHMMSS`` (not created)."""
    return runs_root() / f"{command}-{time.strftime('%Y%m%d-%H%M%S', time.localtime(now))}"


def versions() -> dict:
    """The versions of dlpy35, Python and :data:`PACKAGES` (None for one not installed), read from the
    installed metadata: nothing is imported."""
    from dlpy35.storage.caches import dlpy35_version, package_versions

    return {"dlpy35": dlpy35_version(), "python": platform.python_version(), **package_versions(PACKAGES)}


def plain_args(args) -> dict:
    """A command's parsed arguments as JSON-ready values: paths as text, the run directory left out."""
    return {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items() if k != "run"}


#: The trained network's file in a run directory, by kind: network/network2's, network3's.
NETWORK_FILES = ("network.json", "network.npz")


class RunDir:
    """The files of one run under `path`.

    Parameters
    ----------
    path : path-like
    network_file : str
        The trained network's file name: one of :data:`NETWORK_FILES`.
    what : str
        What the messages call the directory (a command calls it by its flag).
    fresh : bool
        A run kept by default: the directory is made new (:meth:`make`).
    replacing : bool
        The run replaces the one there (``--overwrite``): that run's files go when this one starts.
    """

    ARGS, EPOCHS, CURVES = "args.json", "epochs.csv", "curves.png"
    SPEED_CSV, SPEED_PNG = "learning_speed.csv", "learning_speed.png"  # ``train --learning-speed``'s
    HISTORY = "history.json"  # a reproduced chapter-6 row's: every network's epochs
    #: Every file a run of any command writes here (a checkpoint aside, which has its own flags).
    FILES = (ARGS, EPOCHS, CURVES, *NETWORK_FILES, SPEED_CSV, SPEED_PNG, HISTORY)

    def __init__(self, path, network_file, what="the run directory", fresh=False, replacing=False):
        self.path, self.what, self.fresh, self.made = Path(path), what, fresh, False
        self.network = self.path / network_file
        self.replacing = replacing

    def make(self):
        """Create the directory now, when it is a `fresh` one (a run kept by default): at its path or, if
        something is there, at the first free ``PATH-2``, ``PATH-3``...; each try an exclusive ``mkdir``,
        so that no two runs share one.  OutputError in one line when it cannot be created."""
        if not self.fresh:
            return self.path
        base = self.path
        _make(base.parent, base, parents=True, exist_ok=True)
        for n in range(1, 10_000):
            path = base.with_name(f"{base.name}-{n}") if n > 1 else base
            if not _make(path, path):  # another run's (or the user's): the next name
                continue
            self.path, self.network, self.fresh, self.made = path, path / self.network.name, False, True
            return path
        raise OutputError(f"{base}: 9,999 run directories of this second exist; give --run-dir DIR")

    @property
    def names(self):
        """The files the run writes here: what :meth:`dlpy35.storage.outputs.Outputs.directory` checks."""
        return (self.ARGS, self.EPOCHS, self.CURVES, self.network.name)

    def discard(self):
        """Remove the directory :meth:`make` created when nothing was written in it (the run failed
        before it started): a run kept by default leaves no empty directory behind."""
        if self.made:
            try:
                self.path.rmdir()  # only an empty directory: anything written there stays
            except OSError:
                pass

    def start(self, prog, args, identity=None, epoch=0, device=None):
        """Write ``args.json``: the command, every argument's value, the run's identity and its invocations,
        the package versions (:func:`versions`) and the device and mode the run resolved.

        Parameters
        ----------
        prog : str
        args : argparse.Namespace
        identity : dict, optional
            What defines the run (:mod:`dlpy35.storage.identity`), as its checkpoint records it.
        epoch : int
            The epoch this invocation starts at: 0, or the epochs of the checkpoint it resumes.
        device : dlpy35.engine.device.Device, optional
            Where the run trains: its kind, PyTensor mode and dtype are recorded.

        ``invocations`` lists ``{"argv", "from_epoch"}`` of each command that trained the run:
        a resumed run keeps those of the ``args.json`` there when it is of the same run
        (the same identity), so that the file describes the run as it happened; ``argv``
        and ``args`` are the latest invocation's.  A run `replacing` another starts by removing
        that run's files.
        """
        if self.replacing and not epoch:
            self._remove_the_run_replaced()
        invocation = {"argv": sys.argv[1:], "from_epoch": epoch}
        with atomic_write(self.path / self.ARGS, "w") as f:
            json.dump({"command": prog, "argv": sys.argv[1:], "args": plain_args(args), "identity": identity,
                       "invocations": [*(self._invocations(identity) if epoch else []), invocation],
                       "versions": versions(),
                       "device": device and {"kind": device.kind, "mode": device.mode,
                                             "dtype": device.dtype}},
                      f, indent=1, default=str)

    def _remove_the_run_replaced(self):
        """Remove the files of the run this one replaces (:data:`FILES`): none of them stays beside this
        run's (a curve it does not redraw, a network file of the other kind, another command's files).

        Only a run's directory (one with its ``args.json``) is cleared: files of those names in a
        directory no run wrote are the user's, and stay.
        """
        if not (self.path / self.ARGS).is_file():
            return
        for name in self.FILES:
            path = self.path / name
            if path.is_file() or path.is_symlink():
                path.unlink(missing_ok=True)

    def _invocations(self, identity):
        """The invocations that ``args.json`` lists, when it is readable and of a run of `identity`."""
        try:
            earlier = read_json(self.path / self.ARGS, ARGS_BYTES)
        except (OSError, ValueError):
            return []
        if not isinstance(earlier, dict) or earlier.get("identity") != identity:
            return []
        invocations = earlier.get("invocations")
        return invocations if isinstance(invocations, list) else []

    def epochs(self, rows):
        """Rewrite ``epochs.csv`` with `rows` (dicts of :data:`~dlpy35.storage.tables.EPOCH_COLUMNS`)."""
        write_csv(self.path / self.EPOCHS, EPOCH_COLUMNS, rows)

    def finish(self, net, draw, keep=None):
        """Save `net` and, when matplotlib is installed, ``draw(path)`` the curves; the paths written.

        `keep` (a :class:`dlpy35.storage.outputs.Finisher` of `net`, a new one by default) does the
        writes: when one fails, the trained network is still saved, and its one-line error says where.
        """
        keep = keep or Finisher(net, self.network.suffix)
        keep.network(self.network, self.what)
        written = [self.network]
        try:
            import matplotlib  # noqa: F401 (only asked whether it is there)
        except ImportError:
            return written
        if keep.write(self.path / self.CURVES, self.what, draw):
            written.append(self.path / self.CURVES)
        return written


def _make(directory, run, **how) -> bool:
    """``directory.mkdir(**how)``: True, or False when something is there already (without
    ``exist_ok``); OutputError naming the `run` directory when it cannot be made."""
    try:
        directory.mkdir(**how)
    except FileExistsError:
        if how.get("exist_ok"):  # a file where the folder goes
            raise OutputError(f"{run}: cannot create the run directory ({directory} is a file); give "
                              "--run-dir DIR, or --no-save to keep nothing") from None
        return False
    except OSError as exc:
        raise OutputError(f"{run}: cannot create the run directory ({exc.strerror or exc}); give "
                          "--run-dir DIR, or --no-save to keep nothing") from None
    return True


def read_args(path, limit=ARGS_BYTES) -> dict:
    """The ``args.json`` at `path` (or in the run directory `path`), read back for a rerun.

    At most `limit` bytes are read.  ValueError in one line, naming the file, when it
    cannot be read or is not an ``args.json``: a JSON object with a ``command`` (text)
    and ``args`` (an object).  Its values are checked by the command that reruns it.
    """
    path = Path(path)
    path = path / RunDir.ARGS if path.is_dir() else path
    try:
        raw = read_bounded(path, limit)
    except OSError as exc:
        raise ValueError(f"{path}: cannot be read ({exc.strerror or exc}); give a run's args.json") from None
    except ValueError as exc:  # larger than the limit
        raise ValueError(f"{path}: {exc}, so not a run's args.json; give one") from None
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError):  # not UTF-8, not JSON, or nested beyond reason
        raise ValueError(f"{path}: not JSON, so not a run's args.json; give one") from None
    if not (isinstance(doc, dict) and isinstance(doc.get("command"), str)
            and isinstance(doc.get("args"), dict)):
        raise ValueError(f"{path}: holds no command and args, so it is not a run's args.json; give one")
    return doc
