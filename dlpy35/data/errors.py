"""The exception every data problem raises, and the helpers that keep its messages short.

A :class:`DataError` message is one line that names the file and says how to fix it;
:func:`_show` and :func:`_one_line` format the parts such a message is built from.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["DataError"]


class DataError(Exception):
    """A problem with the data; the message is one line naming the file and the fix."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).splitlines()))


def _show(path: Path | str) -> str:
    """``path`` relative to the working directory when it is below it."""
    p = Path(path)
    try:
        return str(p.resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError):
        return str(p)


def _one_line(exc: BaseException) -> str:
    """The text of ``exc`` on one line, at most 160 characters (its type when it has none)."""
    if isinstance(exc, OSError) and exc.strerror:  # the path is in the message already
        return exc.strerror
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 160 else text[:157] + "..."
