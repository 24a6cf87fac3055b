"""The progress bar of a training command: tqdm's, one per epoch, with the rate and the time left.

An :class:`EpochBar` is the ``progress(epoch, batches_done, n_batches)`` callback the
trainer, the book's ``SGD`` methods and populations take.  The trainer tells it of each
chunk of mini-batches once the device has finished it
(:attr:`dlpy35.engine.callbacks.Callback.shows_batches`), so it moves with the work
done.  tqdm draws it in a terminal and as a widget in a notebook; where stderr is a file
or a pipe (a log, CI) it stays silent, so logs hold only the epoch lines, and the
trainer does not wait for the device on its account.

While a bar is drawn in a terminal, whatever the command prints -- the book's lines,
a warning -- goes through it (tqdm's ``external_write_mode``, as ``tqdm.write``): the
bar is cleared, the line written, the bar drawn again below it, never a line over it.
"""

from __future__ import annotations

import contextlib
import sys

__all__ = ["EpochBar"]


class EpochBar:
    """A tqdm bar of mini-batches for the epoch under way, replaced when the next epoch starts.

    Parameters
    ----------
    quiet : bool
        Draw nothing.

    Attributes
    ----------
    enabled : bool
        A bar is drawn: stderr is a terminal or this runs in a Jupyter kernel, and not `quiet`.
    """

    def __init__(self, quiet: bool = False):
        from tqdm.auto import tqdm

        self._tqdm = tqdm  # the notebook widget inside Jupyter, else the terminal's bar
        self._file = sys.stderr  # the bar's; print's lines are routed around it while it is drawn
        # A Jupyter kernel's stderr is no terminal either, yet shows the widget.
        self.terminal = not quiet and self._file.isatty()
        self.enabled = self.terminal or (not quiet and _in_notebook())
        self._bar = None
        self._epoch = None
        self._routes = None  # the redirections of stdout and stderr while a terminal's bar is drawn

    def __call__(self, epoch: int, done: int, total: int) -> None:
        if not self.enabled:
            return
        if self._bar is None or epoch != self._epoch:
            self.close()
            self._bar = self._tqdm(total=total, desc=f"Epoch {epoch}", unit="batch", leave=False,
                                   dynamic_ncols=True, file=self._file)
            self._epoch = epoch
            self._route()
        self._bar.update(done - self._bar.n)

    def _route(self) -> None:
        """Send stdout's and stderr's lines through the bar while it is drawn (a terminal only: a
        notebook's widget is not in the text's way)."""
        if not self.terminal:
            return
        self._routes = contextlib.ExitStack()
        streams = ((contextlib.redirect_stdout, sys.stdout), (contextlib.redirect_stderr, sys.stderr))
        for redirect, stream in streams:
            route = ThroughBar(stream, self._tqdm, self._file)
            self._routes.enter_context(redirect(route))
            self._routes.callback(route.close)

    def close(self) -> None:
        """Remove the bar (before an epoch's line is printed, and at the end)."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        if self._routes is not None:  # after the bar is gone: a partial line written now stays
            routes, self._routes = self._routes, None
            routes.close()  # stdout and stderr as they were


class ThroughBar:
    """A text stream that writes each whole line to `stream` with the bars on `bar_file` cleared first
    and drawn again after (tqdm's ``external_write_mode``).

    A line is written once its newline comes: a part written alone would be overwritten when
    the bar is drawn again.  What is left without a newline is written when the route closes.
    Everything else (``isatty``, ``fileno``, ``encoding``) is `stream`'s.
    """

    def __init__(self, stream, tqdm, bar_file):
        self.stream, self._tqdm, self._bar_file = stream, tqdm, bar_file
        self._partial = ""

    def write(self, text: str) -> int:
        lines, newline, self._partial = (self._partial + text).rpartition("\n")
        if newline:
            with self._tqdm.external_write_mode(file=self._bar_file):
                self.stream.write(lines + newline)
                self.stream.flush()
        return len(text)

    def flush(self) -> None:
        self.stream.flush()

    def close(self) -> None:
        """Write what is left without a newline (the route's end; `stream` stays open)."""
        if self._partial:
            self.stream.write(self._partial)
            self._partial = ""
        self.stream.flush()

    def __getattr__(self, name):
        return getattr(self.stream, name)


def _in_notebook() -> bool:
    """Whether this runs in a Jupyter kernel (the test tqdm.autonotebook makes)."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython else None
    return bool(shell) and "IPKernelApp" in shell.config
