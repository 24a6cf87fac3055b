"""Helpers shared by the tests of the commands: load a script as a module, run a `main`, read its output."""

from __future__ import annotations

import importlib.util
import signal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def script(name):
    """``scripts/<name>.py`` as a module (its ``main`` runs in this process)."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    before = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    spec.loader.exec_module(module)
    for signum, handler in before.items():  # the script's import-time handlers, undone
        signal.signal(signum, handler)
    return module


def run_main(main, argv, capsys):
    """``(exit status, stdout, stderr)`` of ``main(argv)``; any other exception fails the test."""
    try:
        status = main(argv)
    except SystemExit as exc:
        status = exc.code
    out, err = capsys.readouterr()
    return status, out, err
