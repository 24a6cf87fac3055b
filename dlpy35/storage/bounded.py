"""Reading back a file within a bound: the one read of every small file a command is handed back.

A file named where dlpy35 expects its own (a run's ``args.json``, a saved network, a
sweep's chunk) may be anything: huge, a FIFO that no one writes to, a device that never
ends.  :func:`read_bounded` reads at most a bound of it, allocating no more than the file
holds, and refuses what is not a regular file before reading a byte.
"""

from __future__ import annotations

import json
import os
import stat

__all__ = ["SMALL_JSON_BYTES", "read_bounded", "read_json"]

#: The most a small JSON file dlpy35 writes (a run's ``args.json``, ``results.json``) may hold when read back.
SMALL_JSON_BYTES = 1 << 20
CHUNK_BYTES = 1 << 20  # what one read asks for


def read_bounded(path, limit=SMALL_JSON_BYTES) -> bytes:
    """The bytes of the regular file `path`, at most `limit` of them.

    A file larger than `limit` is refused from its size, and the read allocates what
    the file holds, not `limit`; a FIFO or a device is refused before a byte is read
    (and opening one waits for no writer).

    Raises
    ------
    OSError
        It cannot be read (FileNotFoundError when it is not there).
    ValueError
        ``larger than N bytes`` or ``not a regular file``: the caller names the file and what it
        should have been.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # a FIFO opens at once, to be refused below
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ValueError("not a regular file")
        if info.st_size > limit:
            raise ValueError(f"larger than {limit:,} bytes")
        chunks, left = [], limit + 1  # one byte more than the bound: a file grown since is refused too
        with open(fd, "rb", closefd=False) as f:
            # In pieces: read(n) allocates n bytes before it reads one, which a bound of a GiB would cost.
            while left and (chunk := f.read(min(left, CHUNK_BYTES))):
                chunks.append(chunk)
                left -= len(chunk)
    finally:
        os.close(fd)
    if not left:
        raise ValueError(f"larger than {limit:,} bytes")
    return b"".join(chunks)


def read_json(path, limit=SMALL_JSON_BYTES):
    """The JSON document in the regular file `path`, read within `limit` bytes (:func:`read_bounded`).

    Raises
    ------
    OSError
        It cannot be read.
    ValueError
        It is larger than `limit`, not a regular file, not UTF-8 JSON, or lists or objects
        nested deeper than the parser recurses (which ``json.loads`` raises as RecursionError).
    """
    raw = read_bounded(path, limit)
    try:
        return json.loads(raw)
    except RecursionError:
        raise ValueError("lists or objects nested too deeply") from None
