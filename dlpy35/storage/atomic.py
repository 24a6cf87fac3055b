"""Atomic file writes: a temporary file in the same directory, flushed, then renamed.

A crash or kill at any moment leaves either the old file or the new one under the
final name, never a half-written file.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


@contextlib.contextmanager
def atomic_write(path, mode="wb"):
    """Open a temporary file for writing; on success it replaces `path` atomically.

    Examples
    --------
    >>> with atomic_write("net.json", "w") as f:  # doctest: +SKIP
    ...     json.dump(data, f)
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # The pid in the name tells whose temp file it is: see stale_temp_files.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes files 0600
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def stale_temp_files(path):
    """The temporary files :func:`atomic_write` left beside `path`: this process's, or a dead one's.

    A process killed during a write leaves its temp file behind; another
    process that is still writing must keep its own, so a file is stale only
    when its pid is ours or gone.
    """
    path = Path(path)
    stale = []
    for tmp in path.parent.glob(f".{path.name}.*.tmp"):
        pid = tmp.name[len(path.name) + 2:].split(".", 1)[0]
        if pid.isdigit() and (int(pid) == os.getpid() or not _running(int(pid))):
            stale.append(tmp)
    return stale


def _running(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it runs, as another user
        return True
    return True
