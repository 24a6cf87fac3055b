"""The progress bar of a training command: tqdm's, one per epoch, with the rate and the time left.

An :class:`EpochBar` is the ``progress(epoch, batches_done, n_batches)`` callback the
trainer, the book's ``SGD`` methods and populations take.  tqdm draws it in a terminal
and as a widget in a notebook; where stderr is a file or a pipe (a log, CI) it stays
silent, so logs hold only the epoch lines.
"""

from __future__ import annotations

import sys

__all__ = ["EpochBar"]


class EpochBar:
    """A tqdm bar of mini-batches for the epoch under way, replaced when the next epoch starts.

    Parameters
    ----------
    quiet : bool
        Draw nothing.
    """

    def __init__(self, quiet: bool = False):
        from tqdm.auto import tqdm

        self._tqdm = tqdm  # the notebook widget inside Jupyter, else the terminal's bar
        # A Jupyter kernel's stderr is no terminal either, yet shows the widget.
        self.enabled = not quiet and (sys.stderr.isatty() or _in_notebook())
        self._bar = None
        self._epoch = None

    def __call__(self, epoch: int, done: int, total: int) -> None:
        if not self.enabled:
            return
        if self._bar is None or epoch != self._epoch:
            self.close()
            self._bar = self._tqdm(total=total, desc=f"Epoch {epoch}", unit="batch", leave=False,
                                   dynamic_ncols=True, file=sys.stderr)
            self._epoch = epoch
        self._bar.update(done - self._bar.n)

    def close(self) -> None:
        """Remove the bar (before an epoch's line is printed, and at the end)."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def _in_notebook() -> bool:
    """Whether this runs in a Jupyter kernel (the test tqdm.autonotebook makes)."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython else None
    return bool(shell) and "IPKernelApp" in shell.config
