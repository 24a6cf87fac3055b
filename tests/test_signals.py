"""dlpy35.cli.signals: Ctrl-C and SIGTERM at any moment of a command end it with status 130 and one line.

The table sends a real signal to a real command (or, for a write and JAX's import,
a small program run as the commands are) once its output shows it has reached
the moment: no test hook.  Each run expects status 130, exactly one line on stderr,
no traceback, and its output absent or intact -- never half-replaced, no temporary
file left beside it.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from dlpy35.cli import common, signals
from dlpy35.storage import atomic, checkpoint

ROOT = Path(__file__).resolve().parents[1]
SMALL = ["--n-train", "100", "--mode", "JAX", "--device", "cpu", "--quiet"]

WRITER = textwrap.dedent('''
    import sys, time
    from dlpy35.cli import signals
    from dlpy35.cli.common import run
    from dlpy35.storage.atomic import atomic_write

    def main(argv):
        with signals.saying(lambda: signals.while_writing("writer")):
            with atomic_write(argv[0], "w") as f:
                f.write("new, half-written")
                f.flush()
                print("writing", flush=True)
                time.sleep(60)
        return 0

    sys.exit(run(main, "writer", sys.argv[1:]))
''')


class Child:
    """A command run in a child process, its stdout and stderr read as they come."""

    def __init__(self, argv, env):
        self.proc = subprocess.Popen([sys.executable, *argv], cwd=ROOT, env={**os.environ, **env},
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.out, self.err = [], []
        self.readers = [threading.Thread(target=lambda s=s, lines=lines: lines.extend(s), daemon=True)
                        for s, lines in ((self.proc.stdout, self.out), (self.proc.stderr, self.err))]
        for reader in self.readers:
            reader.start()

    def wait_for(self, ready, timeout=120):
        """Poll until ``ready(self)`` is true; fail if the child ends or the time runs out first."""
        deadline = time.monotonic() + timeout
        while not ready(self):
            assert self.proc.poll() is None, f"ended before the moment: {''.join(self.out + self.err)}"
            assert time.monotonic() < deadline, f"never reached the moment: {''.join(self.out + self.err)}"
            time.sleep(0.005)

    def finish(self, signum):
        self.proc.send_signal(signum)
        rc = self.proc.wait(timeout=60)
        for reader in self.readers:
            reader.join(timeout=10)
        return rc, "".join(self.out), "".join(self.err)


def takes_signals(child):
    """The command's handler is in place: the kernel shows SIGTERM caught (Python leaves it alone)."""
    with open(f"/proc/{child.proc.pid}/status") as f:
        caught = next(int(line.split()[1], 16) for line in f if line.startswith("SigCgt:"))
    return bool(caught & (1 << (signal.SIGTERM - 1)))


def printed(pattern, stream="out"):
    return lambda child: any(re.search(pattern, line) for line in getattr(child, stream))


class StalledMirror(BaseHTTPRequestHandler):
    """A mirror that sends the first bytes of a file and then nothing (a download under way)."""

    sent = threading.Event()

    def do_GET(self):  # noqa: N802 (http.server's name)
        self.send_response(200)
        self.send_header("Content-Length", "1000000")
        self.end_headers()
        self.wfile.write(b"\x1f\x8b" + bytes(20000))
        self.wfile.flush()
        StalledMirror.sent.set()
        time.sleep(30)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def warm_cache(tmp_path_factory):
    """The children's compile cache, shared by the points that need no cold compile."""
    return tmp_path_factory.mktemp("signals_cache")


@pytest.fixture
def mirror():
    server = ThreadingHTTPServer(("127.0.0.1", 0), StalledMirror)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    StalledMirror.sent.clear()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def no_temp_files(directory):
    return [p.name for p in Path(directory).rglob("*") if p.name.endswith(".tmp") or ".fetch-" in p.name]


# id: (argv, the moment reached, signal, the line on stderr)
POINTS = {
    "imports": (["-m", "dlpy35", "train", "--epochs", "1", *SMALL, "--save", "{out}"], takes_signals,
                signal.SIGINT, r"dlpy35( train)?: interrupted; nothing was saved"),  # (before it is known)
    "jax-start": (["-X", "importtime", "-m", "dlpy35", "train", "--epochs", "1", *SMALL, "--save", "{out}"],
                  printed(r"\| +jax\.", "err"), signal.SIGINT,
                  r"dlpy35 train: interrupted; nothing was saved"),
    "first-compile": (["-m", "dlpy35", "train", "--epochs", "1", *SMALL, "--save", "{out}"],
                      printed(r"^MNIST: 100 training"), signal.SIGINT,
                      r"dlpy35 train: interrupted after 0 epochs; no network saved \(use --checkpoint-dir to "
                      r"keep progress\)"),
    "training": (["-m", "dlpy35", "train", "--epochs", "100000", *SMALL, "--n-train", "10",
                  "--checkpoint-dir", "{ck}", "--save", "{out}"], printed(r"^Epoch 3 :"), signal.SIGTERM,
                 r"dlpy35 train: interrupted after (\d+) epochs?; the checkpoint in \S+ holds (\d+) "
                 r"completed epochs?; run the same command with --resume to continue"),
    "writing": (["-c", WRITER, "{out}"], printed(r"^writing$"), signal.SIGTERM,
                r"writer: interrupted while writing the results; each file is either whole or as it was"),
    "download": (["-m", "dlpy35", "data", "--data-dir", "{data}", "--timeout", "60"],
                 lambda child: StalledMirror.sent.wait(0) and time.sleep(0.2) is None, signal.SIGINT,
                 r"dlpy35 data: interrupted; nothing was saved"),
}


@pytest.mark.parametrize("point", POINTS)
def test_a_signal_at_any_moment_is_status_130_and_one_line(point, tmp_path, mnist_dir, warm_cache, request):
    argv, moment, signum, line = POINTS[point]
    out, ck, data = tmp_path / "out" / "net.json", tmp_path / "ck", tmp_path / "data"
    out.parent.mkdir()
    if point == "writing":
        out.write_text("old")  # an earlier output, which the write under way would replace
    argv = [a.format(out=out, ck=ck, data=data) for a in argv]
    if point not in ("writing", "download"):
        argv += ["--data-dir", str(mnist_dir)]
    cache = tmp_path / "cache" if point == "first-compile" else warm_cache  # cold: the compile takes a while
    env = {"PYTHONUNBUFFERED": "1", "DLPY35_CACHE": str(cache), "TMPDIR": str(tmp_path / "tmp")}
    if point == "download":
        env["DLPY35_MNIST_SOURCES"] = request.getfixturevalue("mirror")
    (tmp_path / "tmp").mkdir()
    child = Child(argv, env)
    child.wait_for(moment)
    rc, stdout, stderr = child.finish(signum)
    lines = [x for x in stderr.splitlines() if not x.startswith("import time:")]  # -X importtime's
    assert rc == 130 and len(lines) == 1 and re.fullmatch(line, lines[0]), stderr[-2000:]
    assert (out.read_text() == "old" if point == "writing" else not out.exists())  # intact, or absent
    assert no_temp_files(tmp_path) == []
    assert list((tmp_path / "tmp").iterdir()) == []  # nothing of PyTensor's left in $TMPDIR either
    if point == "training":  # the checkpoint holds what the line says, and loads
        done, held = map(int, re.fullmatch(line, lines[0]).groups())
        assert checkpoint.completed_epochs(ck) == held >= done >= 3
    if point == "download":
        assert list(data.iterdir()) == []


NATIVE = textwrap.dedent('''
    import sys
    import numpy as np
    from dlpy35.cli.common import run

    def main(argv):
        a = np.random.default_rng(0).random((2000, 2000))
        print("native", flush=True)
        np.linalg.eigvals(a)  # seconds in LAPACK, which runs no Python signal handler until it returns
        print("done", flush=True)
        return 0

    sys.exit(run(main, "native"))
''')


def test_a_signal_during_a_long_native_call_ends_the_command_at_once():
    """The main thread takes no signal inside C (an XLA compile, a LAPACK call); the watcher thread does,
    when the call lets other threads run (as JAX's and NumPy's long ones do)."""
    child = Child(["-c", NATIVE], {})
    child.wait_for(printed(r"^native$"))
    start = time.monotonic()
    rc, stdout, stderr = child.finish(signal.SIGINT)
    assert rc == 130 and stderr == "native: interrupted; nothing was saved\n"
    assert "done" not in stdout and time.monotonic() - start < signals.GRACE + 2


# -- in this process: the pieces ----------------------------------------------------------------------
def test_remove_unfinished_removes_the_temp_files_and_folders_of_the_writes_under_way(tmp_path):
    target = tmp_path / "net.json"
    target.write_text("old")
    with pytest.raises(FileNotFoundError):  # the write cannot finish: its temp file is gone
        with atomic.atomic_write(target, "w") as f, atomic.scratch_dir(tmp_path, ".fetch-") as scratch:
            f.write("new")
            (scratch / "part.gz").write_bytes(b"x")
            assert len(list(tmp_path.iterdir())) == 3
            atomic.remove_unfinished()  # what a command's Ctrl-C does before os._exit
            assert sorted(p.name for p in tmp_path.iterdir()) == ["net.json"]
    assert target.read_text() == "old" and atomic._UNFINISHED == set()


def test_a_finished_write_is_no_longer_unfinished(tmp_path):
    with atomic.atomic_write(tmp_path / "a.txt", "w") as f:
        f.write("a")
    with atomic.scratch_dir(tmp_path, ".work-"):
        pass
    atomic.remove_unfinished()
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"] and atomic._UNFINISHED == set()


def test_installed_takes_sigint_and_sigterm_and_gives_them_back():
    before = {s: signal.getsignal(s) for s in signals.SIGNALS}
    with signals.installed("prog"):
        assert all(signal.getsignal(s) is signals._on_signal for s in signals.SIGNALS)
        with signals.saying(lambda: "prog: while training"):
            assert signals._said["line"]() == "prog: while training"
        assert signals._said["line"]() == "prog: interrupted; nothing was saved"
    assert {s: signal.getsignal(s) for s in signals.SIGNALS} == before
    assert not any(t.name == "dlpy35-signals" for t in threading.enumerate())


def test_run_gives_the_signals_back_after_main(capsys):
    before = {s: signal.getsignal(s) for s in signals.SIGNALS}
    seen = {}

    def main(argv):
        seen.update({s: signal.getsignal(s) for s in signals.SIGNALS})
        return 0

    assert common.run(main, "prog", []) == 0
    assert set(seen.values()) == {signals._on_signal}
    assert {s: signal.getsignal(s) for s in signals.SIGNALS} == before
