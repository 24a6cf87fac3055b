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
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
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
