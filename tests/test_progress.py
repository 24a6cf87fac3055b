"""``dlpy35.cli.progress.EpochBar``: tqdm's bar in a terminal, nothing in a log or with ``--quiet``."""

from __future__ import annotations

import fcntl
import io
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time

from dlpy35.cli.progress import EpochBar
from tests.command_helpers import ROOT


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


def drawn_lines(text):
    """What a terminal shows of `text`, line by line: each line's last ``\\r``-separated part."""
    return [line.rsplit("\r", 1)[-1] for line in text.split("\n")]


def test_lines_printed_while_a_bar_is_drawn_go_through_it(monkeypatch):
    """The book's lines (print) and warnings (stderr), printed while a bar is drawn in the terminal that
    stdout and stderr share, each take a whole line: the bar is cleared, the line written, the bar
    drawn again below it (over it, the terminal would show ``Epoch 0:  40%|...Epoch 0: validation``)."""
    term = Terminal()
    monkeypatch.setattr("sys.stderr", term)
    monkeypatch.setattr("sys.stdout", term)
    bar = EpochBar()
    bar(0, 0, 10)
    bar(0, 4, 10)
    print("Epoch 0: validation accuracy 80.03%")
    print("a line in two", end=" ")
    print("writes", flush=True)
    sys.stderr.write("warning: one line\n")
    bar(0, 10, 10)
    print("no newline yet", end="")
    bar.close()
    assert sys.stdout is term and sys.stderr is term  # given back once no bar is drawn
    print(" and then one")
    text = term.getvalue()
    shown = drawn_lines(text)
    for line in ("Epoch 0: validation accuracy 80.03%", "a line in two writes", "warning: one line",
                 "no newline yet and then one"):
        assert line in shown, (line, shown)
    assert text.count("Epoch 0:") >= 4  # the bar drawn again after each line


def test_a_terminal_bar_moves_within_the_epoch_of_dlpy35_train(mnist_dir, tmp_path):
    """``dlpy35 train`` on a pseudo-terminal, tqdm drawing every update (``TQDM_MININTERVAL=0``): the bar
    shows intermediate percentages before the epoch's line, each at the rate the epoch trained at.
    Had the updates come as the chunks were sent rather than done (JAX returns at once), they would
    all come within a millisecond or two, at rates hundreds of times the epoch's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TQDM_")}
    env["TQDM_MININTERVAL"] = "0"
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])  # this dlpy35
    argv = [sys.executable, "-m", "dlpy35", "train", "--sizes", "784", "30", "10", "--epochs", "1",
            "--n-train", "20000", "--device", "cpu", "--mode", "JAX", "--data-dir", str(mnist_dir)]
    main, child = pty.openpty()  # subprocess, not pty.fork: a fork of this threaded process may hang
    fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))  # tqdm draws in 0 columns
    proc = subprocess.Popen(argv, stdin=child, stdout=child, stderr=child, cwd=tmp_path, env=env)
    os.close(child)
    out, deadline = b"", time.monotonic() + 120
    while chunk := _read(main, deadline):
        out += chunk
    os.close(main)
    proc.kill()  # if the deadline passed; it has exited otherwise
    text = out.decode(errors="replace")
    assert proc.wait() == 0, text
    before, line, after = text.partition("Epoch 0 : ")
    seconds = float(re.match(r"\d+ / 10000 +\(([\d.]+) s\)", after)[1])
    drawn = re.findall(r"Epoch 0:\s+(\d+)%\|.*?(?:\?|([\d.]+))batch/s", before)
    assert len({int(p) for p, _ in drawn} - {0, 100}) >= 5, text  # about ten chunks
    rates = [float(rate) for p, rate in drawn if rate and 0 < int(p) < 100]
    assert rates and max(rates) < 3 * 2000 / seconds, (rates, seconds)  # 2,000 mini-batches in `seconds`


def _read(fd, deadline):
    """The pseudo-terminal's next output; empty once the child has closed it (Linux says EIO) or at the
    `deadline` (``time.monotonic()``)."""
    if not select.select([fd], [], [], max(0.0, deadline - time.monotonic()))[0]:
        return b""
    try:
        return os.read(fd, 1 << 16)
    except OSError:
        return b""
