"""Where a command may write: the one policy for every path a dlpy35 command writes.

A command names everything it will write -- files (``--save``, ``--plot``, ``-o``,
each file of ``--show DIR``, a figure's PNG and the CSV beside it) and run
directories (``--run-dir``, ``--out``) -- to one :class:`Outputs` before any work,
so that outputs that go together are refused together and nothing is written.  A
path is refused, in one line that names it and what would allow it, when

- it is one of the command's inputs (its model, an image) or inside one (its data
  directory), compared as files (``./m.json``, ``m.json`` and a link to it are one
  file): never allowed;
- a file is there, or the directory holds a run (:data:`RUN_MARKERS`), that the
  user or an earlier run made: allowed by ``--overwrite`` (replace it) or, where a
  command continues runs, ``--resume`` (continue it);
- it is a directory where a file goes, a file where a directory goes, a place this
  process cannot write, or the path of another output of the same command.

Writes are atomic (:func:`dlpy35.storage.atomic.atomic_write`).  After training,
:class:`Finisher` does a command's writes so that when one fails (a full disk, a
permission taken away) the trained network is still saved -- where it was asked, or
else under a fresh name beside it or in :func:`rescue_dir` -- and the one-line
error says where it is.
"""

from __future__ import annotations

import errno
import os
import time
from pathlib import Path

__all__ = ["RUN_MARKERS", "OutputError", "Outputs", "Finisher", "rescue_dir", "given", "directory_inputs"]

#: Files and folders whose presence says a directory holds a run (a ``--run-dir``'s, a sweep's,
#: a reproduce table's), whatever the run that now wants the directory would write there.
RUN_MARKERS = ("args.json", "epochs.csv", "summary.csv", "results.json", "chunks")


class OutputError(ValueError):
    """A path a command may not write: one line naming it, why, and the flag that would allow it."""


def given(what, path):
    """The input `path` that the command line gives as `what` (``"MODEL"``, ``"IMAGE"``), as
    :class:`Outputs` takes its inputs: ``(label, path)``."""
    return f"{what} {path}", Path(path)


def directory_inputs(what, directory):
    """The data directory `directory`, which the command line gives as `what` (``"--dataset"``), as
    :class:`Outputs` takes its inputs; none when it does not exist.

    A directory input is a tree: no output goes anywhere inside it (a network saved among
    a data set's class folders would be read as one of its images next time).
    """
    directory = Path(directory)
    return [(f"in {what} {directory}", directory)] if directory.is_dir() else []


def _same_file(a, b) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (or cannot be looked at): not the same file
        return False


def _there(path) -> bool:
    """Whether anything is at `path`, a dangling link included."""
    return path.exists() or path.is_symlink()


class Outputs:
    """The paths one command writes, each checked against the policy when it is added.

    Parameters
    ----------
    inputs : iterable of (str, path-like)
        What the command reads: ``(label, path)``, the label as a message names it (:func:`given`,
        :func:`directory_inputs`).
    replace : bool
        The user allowed replacing what is there (``--overwrite``, or ``--resume``, which
        continues the run that wrote it).
    resume : str, optional
        The flag that continues a run, for commands that have one (``"--resume"``).
    overwrite : str
        The flag that allows replacing, as the messages name it.

    Raises
    ------
    OutputError
        From each method: one line, for the first path refused.
    """

    def __init__(self, inputs=(), replace=False, resume=None, overwrite="--overwrite"):
        self.inputs = [(label, Path(path)) for label, path in inputs]
        self.replace, self.resume, self.overwrite = replace, resume, overwrite
        self.claimed = {}  # resolved path -> (flag, path as given): two outputs must not share a file

    def file(self, path, flag, instead="name") -> Path:
        """Check the file `path` (given as `flag`); `instead` is what a message asks for in its place."""
        path = Path(path)
        self._check_file(path, flag, instead)
        if _there(path) and not self.replace:
            raise OutputError(f"{flag} {path}: a file is already there; give {self.overwrite} to replace it, "
                              f"or another {instead}")
        return path

    def directory(self, path, flag, names, continues=False) -> Path:
        """Check the run directory `path` and the `names` of the files its run writes there.

        `continues` says that what the directory holds is this same run's (a sweep's own
        chunks), which the command continues without being told; otherwise a directory
        holding a run (one of `names` or of :data:`RUN_MARKERS`) needs ``--overwrite`` or
        ``--resume``.
        """
        path = Path(path)
        if path.exists() and not path.is_dir():
            raise OutputError(f"{flag} {path}: is a file; give a directory")
        for name in names:
            self._check_file(path / name, flag, "directory")
        self.check_held(path, flag, names, continues)
        return path

    def check_held(self, path, flag, names, continues=False, what="another run", how=None):
        """Refuse the directory `path` when it holds a run (one of `names` or of :data:`RUN_MARKERS`)
        that is not this one's (`continues` false) and the user did not allow replacing it.

        `what` is what the message calls the run there, `how` what continues it (the
        ``resume`` flag by default).
        """
        path = Path(path)
        held = sorted(name for name in {*names, *RUN_MARKERS} if _there(path / name))
        if not held or continues or self.replace:
            return
        how = how or (f"give {self.resume}" if self.resume else None)
        allow = (f"{how} to continue it, or {self.overwrite} to replace it" if how
                 else f"give {self.overwrite} to replace it, or another directory")
        raise OutputError(f"{flag} {path} holds {what} ({', '.join(held)}); {allow}")

    def _check_file(self, path, flag, instead):
        """Everything but what is there: not a directory, not an input, not another output, writable."""
        if path.is_dir():
            raise OutputError(f"{flag} {path}: is a directory; give a file name")
        for label, source in self.inputs:
            if _same_file(path, source) or path.resolve().is_relative_to(source.resolve()):
                raise OutputError(f"{flag} {path}: is {label}, which this command reads; give another "
                                  f"{instead}")
        key = path.resolve()
        if key in self.claimed:
            other_flag, other = self.claimed[key]
            raise OutputError(f"{flag} {path} and {other_flag} {other} are the same file; give each its own")
        self.claimed[key] = (flag, path)
        existing = next(p for p in (path.parent, *path.parent.parents) if p.exists())
        if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
            raise OutputError(f"{flag} {path}: cannot write into {existing}; choose another place")


def rescue_dir() -> Path:
    """Where a trained network goes when none of the places asked for can take it: ``rescued`` in the
    user's data directory (``~/.local/share/dlpy35/rescued`` on Linux)."""
    import platformdirs

    return Path(platformdirs.user_data_dir("dlpy35", appauthor=False)) / "rescued"


def _fresh(directory, suffix) -> Path:
    """A name no file has in `directory`: ``network-rescued-YYYYmmdd-HHMMSS-PID[-N]SUFFIX``, N up to 999;
    FileExistsError when all 1,000 are taken (the next place is tried)."""
    stem = f"network-rescued-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
    candidates = (Path(directory) / f"{stem}{f'-{n}' if n else ''}{suffix}" for n in range(1000))
    free = next((p for p in candidates if not _there(p)), None)
    if free is None:
        raise FileExistsError(errno.EEXIST, "1,000 rescued networks of this second are there", str(directory))
    return free


class Finisher:
    """A command's writes after training, so that a failed one leaves the trained network saved.

    Parameters
    ----------
    net
        The trained network: anything with ``save(path)``.
    suffix : str
        Its file's suffix (``.json`` or ``.npz``), for a rescued copy.
    saved : path-like, optional
        Where the network is saved already (then `net` may be None: it is not saved again).

    Attributes
    ----------
    saved : pathlib.Path or None
        Where the network has been saved so far.
    """

    def __init__(self, net, suffix, saved=None):
        self.net, self.suffix, self.saved = net, suffix, saved and Path(saved)

    def network(self, path, flag):
        """Save the network at `path` (given as `flag`)."""
        self.write(path, flag, self.net.save)
        self.saved = self.saved or Path(path)

    def write(self, path, flag, write):
        """``write(path)``'s result; an OSError becomes an :class:`OutputError` saying where the network is
        (saved now under a fresh name if it was not yet)."""
        try:
            return write(path)
        except OSError as exc:
            kept = self._kept(Path(path))
            raise OutputError(f"{flag} {path}: could not write it ({exc.strerror or exc}); {kept}") from None

    def _kept(self, near) -> str:
        """Where the trained network is: saved already, or now beside `near`, or in :func:`rescue_dir`."""
        if self.saved is not None:
            return f"the trained network is saved in {self.saved}"
        problems = []
        for directory in (near.parent, rescue_dir()):
            try:
                directory.mkdir(parents=True, exist_ok=True)
                path = _fresh(directory, self.suffix)
                self.net.save(path)
            except OSError as exc:
                problems.append(f"{directory}: {exc.strerror or exc}")
                continue
            self.saved = path
            return f"the trained network is saved in {path}"
        return f"the trained network could not be saved anywhere ({'; '.join(problems)})"
