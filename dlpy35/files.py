"""The one error for a file dlpy35 saved and cannot load back.

Saved networks (:mod:`dlpy35.network2`'s JSON, :mod:`dlpy35.network3`'s npz) and
checkpoints (:mod:`dlpy35.checkpoint`) all raise :class:`SavedFileError`, with
one line naming the file and what is wrong with it, so a caller catches one type.
"""

from __future__ import annotations


class SavedFileError(ValueError):
    """A saved network or checkpoint that cannot be read, or belongs to another network or run."""
