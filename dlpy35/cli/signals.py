"""Ctrl-C and SIGTERM in a command: one line on stderr and exit status 130, at once, at any moment.

A command imports PyTensor and JAX (seconds), starts JAX, compiles, trains,
downloads and writes.  Python's own way -- KeyboardInterrupt raised wherever the
main thread happens to be -- fails in several of these: raised inside JAX's native
import it crashes the process (``Critical nanobind error``), raised in a ``__del__``
or a callback it is printed and lost while the command goes on, and it waits for a
native call (an XLA compile) to return.  So a command takes the signal itself and
ends the process at once (``os._exit``): it removes the temporary files of the
writes under way (:func:`dlpy35.storage.atomic.remove_unfinished`) and says in one
line what the disk holds.

Ending at once keeps everything unwinding would: every output and every checkpoint
is written atomically, and a checkpoint is written after every epoch, so the disk
holds the last completed epoch whichever way the process ends (unwinding drops the
epoch under way too: :meth:`dlpy35.engine.trainer.Trainer.train`).  What the line
says follows the command (:func:`saying`): nothing saved before training; during
training the epochs done, the checkpoint and how to resume.

A signal runs Python's handler only once the main thread is back in Python code;
while it is inside a native call that lets other threads run (an XLA compile, a long
JAX computation, BLAS and LAPACK, I/O), a watcher thread woken through
:func:`signal.set_wakeup_fd` ends the process instead.
SIGTERM (``kill``, a scheduler's time limit) is taken as Ctrl-C.

A library user's process is never changed: only :func:`installed` (a command's
``run``) takes the signals, and gives them back when the command returns.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading

from dlpy35.storage.atomic import remove_unfinished

INTERRUPTED = 130
SIGNALS = (signal.SIGINT, signal.SIGTERM)
GRACE = 0.3  # seconds the watcher leaves the main thread to take a signal itself (it can flush stdout)

# The command's name, its line now, and where the line goes: stderr as it was when the command
# started (a library may point file descriptor 2 elsewhere for a while: see dlpy35.studies.sweep).
_said = {"prog": "dlpy35", "line": lambda: "dlpy35: interrupted", "stderr": 2}
_exiting = threading.Lock()


def nothing_saved(prog) -> str:
    """The line of an interruption before a command has saved anything (before training, say)."""
    return f"{prog}: interrupted; nothing was saved"


def while_writing(prog) -> str:
    """The line of an interruption while a command writes its results (each file atomically)."""
    return f"{prog}: interrupted while writing the results; each file is either whole or as it was"


def exit_now(in_main_thread=True):
    """Remove the unfinished writes' temporary files, print the current line (:func:`saying`), exit 130.

    Never returns; a second caller (the watcher and the main thread both) waits for the first.
    """
    if not _exiting.acquire(blocking=False):
        threading.Event().wait()  # the other caller is exiting the process
    try:
        line = str(_said["line"]())
    except Exception:  # the line reads the disk; a failure must not hide the interruption
        line = f"{_said['prog']}: interrupted"
    if in_main_thread:  # the main thread owns stdout's buffer: what it printed reaches a log
        with contextlib.suppress(Exception):
            sys.stdout.flush()
    remove_unfinished()
    fd = _said["stderr"]
    erase = "\r\033[K" if os.isatty(fd) else ""  # over a progress bar's line
    with contextlib.suppress(OSError):
        os.write(fd, f"{erase}{line}\n".encode(errors="replace"))
    os._exit(INTERRUPTED)


def _on_signal(signum, frame):
    exit_now()


def _watch(fd, stop):
    """Wait on the wakeup pipe; end the process on Ctrl-C or SIGTERM that the main thread has not
    taken within :data:`GRACE` seconds (it is inside a native call)."""
    while True:
        try:
            got = os.read(fd, 1)
        except OSError:
            return
        if not got or stop.is_set():
            return
        if got[0] in SIGNALS and not stop.wait(GRACE):
            exit_now(in_main_thread=False)


def take(prog):
    """From now on Ctrl-C and SIGTERM end the process at once: the line of :func:`nothing_saved`
    until :func:`saying` says another.  For the scripts' start, before their heavy imports."""
    _said.update(prog=prog, line=lambda: nothing_saved(prog))
    for signum in SIGNALS:
        if signal.getsignal(signum) is not signal.SIG_IGN:  # as Python does: a shell's `cmd &` ignores Ctrl-C
            signal.signal(signum, _on_signal)


@contextlib.contextmanager
def installed(prog):
    """Ctrl-C and SIGTERM as :func:`take` says, with a watcher for native calls, while the block runs
    (a command's ``main``); the handlers before are put back after it.  Main thread only."""
    previous = {signum: signal.getsignal(signum) for signum in SIGNALS}
    said = dict(_said)
    read, write = os.pipe()
    os.set_blocking(write, False)  # set_wakeup_fd's requirement: a signal never blocks on it
    stop = threading.Event()
    watcher = threading.Thread(target=_watch, args=(read, stop), name="dlpy35-signals", daemon=True)
    take(prog)
    _said["stderr"] = os.dup(2)
    old_fd = signal.set_wakeup_fd(write, warn_on_full_buffer=False)
    watcher.start()
    try:
        yield
    finally:
        signal.set_wakeup_fd(old_fd)
        stop.set()
        with contextlib.suppress(OSError):
            os.write(write, b"\0")  # wakes the watcher, which sees `stop`
        watcher.join()
        for fd in (read, write, _said["stderr"]):
            os.close(fd)
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        _said.update(said)


@contextlib.contextmanager
def saying(line):
    """While the block runs, an interruption prints ``line()``: called when the signal comes, as what
    the disk holds changes while training goes."""
    before = _said["line"]
    _said["line"] = line
    try:
        yield
    finally:
        _said["line"] = before
