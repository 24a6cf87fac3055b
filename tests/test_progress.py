"""``dlpy35.cli.progress.EpochBar``: tqdm's bar in a terminal, nothing in a log or with ``--quiet``."""

from __future__ import annotations

import io

from dlpy35.cli.progress import EpochBar


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_a_terminal_gets_one_bar_per_epoch_with_the_rate(monkeypatch):
    term = Terminal()
    monkeypatch.setattr("sys.stderr", term)
    bar = EpochBar()
    for epoch in (0, 1):
        for done in (10, 50, 100):
            bar(epoch, done, 100)
            assert bar._bar.n == done and bar._bar.total == 100  # tqdm redraws at most every 0.1 s
    bar.close()
    text = term.getvalue()
    assert "Epoch 0" in text and "Epoch 1" in text and "batch/s" in text and bar._bar is None


def test_quiet_and_a_log_file_get_nothing(monkeypatch):
    for quiet, stream in ((True, Terminal()), (False, io.StringIO())):
        monkeypatch.setattr("sys.stderr", stream)
        bar = EpochBar(quiet)
        bar(0, 5, 10)
        bar.close()
        assert stream.getvalue() == "" and not bar.enabled
