"""The ``dlpy35`` command (also ``python -m dlpy35``): one subcommand per job.

Examples::

    dlpy35 train --epochs 30 --run-dir runs/ch1     # the book's chapter-1 run
    dlpy35 evaluate runs/ch1/network.json
    dlpy35 predict runs/ch1/network.json my-seven.png
    dlpy35 export runs/ch1/network.json -o digits.html

``dlpy35 COMMAND --help`` lists a command's flags and their defaults.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

from dlpy35.cli import signals
from dlpy35.cli.common import ArgumentParser, fail, run

PROG = "dlpy35"

#: Subcommands with their own parser here: name -> (module in dlpy35.cli, one-line help).
COMMANDS = {
    "train": ("train", "chapters 1 and 3: train a network/network2 network"),
    "train-conv": ("train_conv", "chapter 6: train a convolutional network3 network or an ensemble"),
    "evaluate": ("evaluate", "a saved network's accuracy and confusion matrix"),
    "predict": ("predict", "a saved network's class for image files"),
    "export": ("export", "a saved network as ONNX or as an offline web page"),
    "info": ("info", "what a saved network is: kind, sizes, data set, classes, accuracy"),
    "sweep": ("sweep", "train every combination of seeds, etas and lambdas, as populations"),
    "reproduce": ("reproduce", "rerun the book's results and compare them with the book's"),
    "figure": ("figure", "the book's chapter-3 figures: overfitting, regularization, learning rates"),
}
#: Subcommands that are whole programs of their own: name -> (their main, one-line help).
PROGRAMS = {
    "data": ("dlpy35.cli.data", "fetch and verify MNIST"),
    "calibrate": ("dlpy35.cli.calibrate", "time JAX against NUMBA on this CPU (it picks the CPU mode)"),
    "gradcheck": ("dlpy35.cli.gradcheck",
                  "compare the symbolic gradients with backprop and finite differences"),
    "bench": (None, "benchmark dlpy35 against its peers (from a source checkout)"),
}


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Examples kept as written, and every flag's default shown (where it has one worth saying)."""

    def _get_help_string(self, action):
        text = action.help or ""
        unsaid = action.default in (None, [], argparse.SUPPRESS) or action.default is False
        if "default" in text or unsaid or not action.option_strings:
            return text
        shown = " ".join(map(str, action.default)) if isinstance(action.default, list) else action.default
        return f"{text} (default {shown})".lstrip()


def _module(name):
    return importlib.import_module(f"dlpy35.cli.{COMMANDS[name][0]}")


def command_parser(name, prog):
    """The parser of the subcommand `name` under the program name `prog`."""
    module = _module(name)
    p = ArgumentParser(module.__doc__, prog=prog, formatter_class=_Formatter)
    module.configure(p)
    return p


def command_main(name, argv=None, prog=None):
    """Run the subcommand `name` with `argv`: its exit status. ``scripts/train_gpu.py`` is this for train."""
    from dlpy35.cli import config

    p = command_parser(name, prog or f"{PROG} {name}")
    with signals.saying(lambda: signals.nothing_saved(p.prog)):  # till the command says more
        return _module(name).execute(p, config.parse(p, argv))


def _bench(argv):
    """``scripts/bench.py`` of the source checkout this package is in."""
    script = Path(__file__).resolve().parents[2] / "scripts" / "bench.py"
    if not script.is_file():
        return fail(f"{PROG} bench", "the benchmarks run their peers (numpy, JAX, PyTorch) from a source "
                                     "checkout: clone the repository and run python scripts/bench.py")
    spec = importlib.util.spec_from_file_location("dlpy35_bench_script", script)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    return bench.main(argv)


def top_parser():
    p = ArgumentParser(__doc__, prog=PROG)
    version = importlib.import_module("dlpy35").__version__
    p.add_argument("--version", action="version", version=f"{PROG} {version}")
    commands = p.add_subparsers(dest="command", metavar="COMMAND")
    for name, (_, help_) in {**COMMANDS, **PROGRAMS}.items():
        commands.add_parser(name, help=help_, add_help=False)
    return p


def main(argv=None) -> int:
    """``dlpy35 COMMAND ...``: the exit status (0; 2 for a user's mistake; 130 for Ctrl-C)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] in COMMANDS:
        return command_main(argv[0], argv[1:])
    if argv and argv[0] in PROGRAMS:
        prog = f"{PROG} {argv[0]}"
        with signals.saying(lambda: signals.nothing_saved(prog)):
            if argv[0] == "bench":
                return _bench(argv[1:])
            return importlib.import_module(PROGRAMS[argv[0]][0]).main(argv[1:], prog=prog)
    p = top_parser()
    p.parse_args(argv)  # --help, --version, or an unknown command: argparse's message and exit
    p.error("give a command: " + ", ".join([*COMMANDS, *PROGRAMS]))


def entry() -> None:
    """The console script: :func:`main` with Ctrl-C before training reported in one line."""
    sys.exit(run(main, PROG))
