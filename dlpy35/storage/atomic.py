"""Atomic file writes: a temporary file in the same directory, flushed, then renamed.

A crash or kill at any moment leaves either the old file or the new one under the
final name, never a half-written file.  The temporary files and folders of the
writes under way are known (:func:`unfinished`), so that a process that must exit
at once -- a command's Ctrl-C, which does not unwind the stack -- removes them first
(:func:`remove_unfinished`).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
from pathlib import Path

#: The temporary files and folders of this process's writes under way.
_UNFINISHED: set[Path] = set()


@contextlib.contextmanager
def unfinished(path):
    """Mark `path` (a temporary file or folder, made in the block) as an unfinished write's until the
    block ends: :func:`remove_unfinished` removes it if the process exits meanwhile.

    The mark is set before the block, so a path is known from before it exists."""
    path = Path(path)
    _UNFINISHED.add(path)
    try:
        yield path
    finally:
        _UNFINISHED.discard(path)


def remove_unfinished():
    """Remove the temporary files and folders of the writes under way (:func:`unfinished`): what a
    process must do before it exits without unwinding its stack (``os._exit``)."""
    for path in list(_UNFINISHED):
        with contextlib.suppress(OSError):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)


def _fresh(parent, prefix, suffix=""):
    """A name in `parent` no file has yet; the pid in it tells whose it is (see stale_temp_files)."""
    while True:
        path = Path(parent) / f"{prefix}{os.getpid()}.{secrets.token_hex(4)}{suffix}"
        if not os.path.lexists(path):
            return path


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
    with unfinished(_fresh(path.parent, f".{path.name}.", ".tmp")) as tmp:
        try:
            with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), mode) as f:
                yield f
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, 0o644)  # whatever the umask, as a file written in place would be
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise


@contextlib.contextmanager
def scratch_dir(parent, prefix):
    """A new folder in `parent` for the block's temporary files, removed with them when the block ends
    (or by :func:`remove_unfinished` when the process exits at once)."""
    with unfinished(_fresh(parent, prefix)) as path:
        path.mkdir(mode=0o700)
        try:
            yield path
        finally:
            shutil.rmtree(path, ignore_errors=True)


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
