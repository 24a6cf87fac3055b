"""A training run's directory: what was asked, each epoch, and what came out.

``args.json`` (the command's arguments, the run's identity and the invocations that
trained it) is written when training starts, ``epochs.csv`` (the sweep's columns,
:data:`dlpy35.storage.tables.EPOCH_COLUMNS`, every epoch of the run, a resumed
checkpoint's too) after every epoch, and at
the end the trained network (``network.json`` or ``network.npz``, what the network's
``save`` writes) and, with matplotlib, ``curves.png``.  Every file is written
atomically; whether the directory may be written is :mod:`dlpy35.storage.outputs`'s
question, which a command asks before training starts (:attr:`RunDir.names`).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from dlpy35.storage.atomic import atomic_write
from dlpy35.storage.outputs import Finisher
from dlpy35.storage.tables import EPOCH_COLUMNS, write_csv

__all__ = ["RunDir", "plain_args"]


def plain_args(args) -> dict:
    """A command's parsed arguments as JSON-ready values: paths as text, the run directory left out."""
    return {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items() if k != "run"}


class RunDir:
    """The files of one run under `path`.

    Parameters
    ----------
    path : path-like
    network_file : str
        The trained network's file name: ``network.json`` or ``network.npz``.
    what : str
        What the messages call the directory (a command calls it by its flag).
    """

    ARGS, EPOCHS, CURVES = "args.json", "epochs.csv", "curves.png"

    def __init__(self, path, network_file, what="the run directory"):
        self.path, self.what = Path(path), what
        self.network = self.path / network_file

    @property
    def names(self):
        """The files the run writes here: what :meth:`dlpy35.storage.outputs.Outputs.directory` checks."""
        return (self.ARGS, self.EPOCHS, self.CURVES, self.network.name)

    def start(self, prog, args, identity=None, epoch=0):
        """Write ``args.json``: the command, every argument's value, the run's identity and its invocations.

        Parameters
        ----------
        prog : str
        args : argparse.Namespace
        identity : dict, optional
            What defines the run (:mod:`dlpy35.storage.identity`), as its checkpoint records it.
        epoch : int
            The epoch this invocation starts at: 0, or the epochs of the checkpoint it resumes.

        ``invocations`` lists ``{"argv", "from_epoch"}`` of each command that trained the run:
        a resumed run keeps those of the ``args.json`` there when it is of the same run
        (the same identity), so that the file describes the run as it happened; ``argv``
        and ``args`` are the latest invocation's.
        """
        invocation = {"argv": sys.argv[1:], "from_epoch": epoch}
        with atomic_write(self.path / self.ARGS, "w") as f:
            json.dump({"command": prog, "argv": sys.argv[1:], "args": plain_args(args), "identity": identity,
                       "invocations": [*(self._invocations(identity) if epoch else []), invocation]},
                      f, indent=1, default=str)

    def _invocations(self, identity):
        """The invocations that ``args.json`` lists, when it is readable and of a run of `identity`."""
        try:
            earlier = json.loads((self.path / self.ARGS).read_text(encoding="utf-8"))
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
