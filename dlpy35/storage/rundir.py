"""A training run's directory: what was asked, each epoch, and what came out.

``args.json`` (the command's arguments) is written when training starts, ``epochs.csv``
(the sweep's columns, :data:`dlpy35.storage.tables.EPOCH_COLUMNS`) after every epoch, and at
the end the trained network (``network.json`` or ``network.npz``, what the network's
``save`` writes) and, with matplotlib, ``curves.png``.  Every file is written
atomically, and every path is checked before training starts.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from dlpy35.storage.atomic import atomic_write, check_writable
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

    Raises
    ------
    ValueError
        One line, when a file of the run could not be written there.
    """

    ARGS, EPOCHS, CURVES = "args.json", "epochs.csv", "curves.png"

    def __init__(self, path, network_file, what="the run directory"):
        self.path = Path(path)
        self.network = self.path / network_file
        if self.path.exists() and not self.path.is_dir():
            raise ValueError(f"{what} {self.path}: is a file; give a directory")
        for name in (self.ARGS, self.EPOCHS, self.CURVES, network_file):
            check_writable(self.path / name, what)

    def start(self, prog, args):
        """Write ``args.json``: the command and every argument's value."""
        with atomic_write(self.path / self.ARGS, "w") as f:
            json.dump({"command": prog, "argv": sys.argv[1:], "args": plain_args(args)}, f, indent=1,
                      default=str)

    def epochs(self, rows):
        """Rewrite ``epochs.csv`` with `rows` (dicts of :data:`~dlpy35.storage.tables.EPOCH_COLUMNS`)."""
        write_csv(self.path / self.EPOCHS, EPOCH_COLUMNS, rows)

    def finish(self, net, draw):
        """Save `net` and, when matplotlib is installed, ``draw(path)`` the curves; the paths written."""
        net.save(self.network)
        written = [self.network]
        try:
            import matplotlib  # noqa: F401 (only asked whether it is there)
        except ImportError:
            return written
        if draw(self.path / self.CURVES):
            written.append(self.path / self.CURVES)
        return written
