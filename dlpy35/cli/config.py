"""``--config ARGS_JSON``: rerun a training command with the arguments a run's ``args.json`` records.

The recorded arguments become the parser's defaults, each checked as its flag
checks a value typed on the command line, so that the flags given with
``--config`` override them and a bad or hostile file is refused in one line.
What says where a run's outputs go (:data:`NOT_REPEATED`) is not taken from the
file: a rerun is kept in a new run directory unless told otherwise, and never
continues or replaces the run it repeats.
"""

from __future__ import annotations

import argparse
from pathlib import Path

#: The recorded arguments a rerun does not take: where the outputs go, and how they may be replaced.
NOT_REPEATED = ("config", "save", "run_dir", "no_save", "plot", "history", "checkpoint_dir", "resume",
                "overwrite")
#: The scripts that run a command from a checkout, as the command they run.
SCRIPTS = {"train_gpu.py": "train", "train_conv.py": "train-conv"}


def add_config_flag(p):
    """``--config ARGS_JSON`` on the parser `p`."""
    p.add_argument("--config", type=Path, default=None, metavar="ARGS_JSON",
                   help="rerun the run that ARGS_JSON (a run directory's args.json, or the directory) "
                        "records, with its arguments; flags given with it override them")


def command_name(prog) -> str:
    """The command a program name runs: ``dlpy35 train`` and ``train_gpu.py`` run ``train``."""
    last = prog.split()[-1] if prog.split() else prog
    return SCRIPTS.get(last, last)


def parse(p, argv=None):
    """`argv` parsed by `p` and, with ``--config``, parsed again over the recorded arguments.

    Exits 2 with one line (``p.error``) when the file is not an ``args.json`` of this
    command or one of its values is not one its flag takes.
    """
    from dlpy35.storage.rundir import read_args

    args = p.parse_args(argv)
    path = getattr(args, "config", None)
    if path is None:
        return args
    try:
        doc = read_args(path)
        if command_name(doc["command"]) != command_name(p.prog):
            raise ValueError(f"{path}: records a run of {doc['command']!r}, not of {p.prog!r}; give an "
                             f"args.json that {p.prog} wrote")
        p.set_defaults(**recorded_defaults(p, doc["args"], path, argv))
    except ValueError as exc:
        p.error(f"--config {exc}")
    return p.parse_args(argv)


def recorded_defaults(p, recorded, path, argv=None) -> dict:
    """The parser `p`'s defaults from the `recorded` arguments (``args.json``'s ``args``), each checked
    as its flag checks a value; ValueError naming `path` and the first bad one.

    A repeatable flag (``--then``) that `argv` gives is left out, so that the
    flags given replace the recorded ones rather than add to them.
    """
    flags = {a.dest: a for a in p._actions if a.option_strings and a.dest != "help"}
    given = set(argv or [])
    defaults = {}
    for dest, value in recorded.items():
        if dest in NOT_REPEATED:
            continue
        action = flags.get(dest)
        if action is None:
            raise ValueError(f"{path}: records {dest!r}, which {p.prog} has no flag for; give an args.json "
                             f"that this version of {p.prog} wrote")
        if isinstance(action, argparse._AppendAction) and given & set(action.option_strings):
            continue
        try:
            defaults[dest] = _checked(action, value)
        except (argparse.ArgumentTypeError, TypeError, ValueError) as exc:
            raise ValueError(f"{path}: {action.option_strings[0]}: {exc}") from None
    return defaults


def _checked(action, value):
    """`value` as `action`'s flag takes it (its type and choices); TypeError or ValueError if it does not."""
    if action.nargs == 0:  # a switch: --quiet, --monitor
        if not isinstance(value, bool):
            raise TypeError(f"expected true or false, got {value!r}")
        return value
    if value is None:
        if action.default is not None:
            raise TypeError("null, but the flag has a value")
        return None
    if isinstance(action, argparse._AppendAction):  # --then EPOCHS ETA ...: pairs, checked by the command
        pairs = isinstance(value, list) and all(isinstance(v, list) and len(v) == action.nargs for v in value)
        if not pairs:
            raise TypeError(f"expected a list of {action.nargs}-item lists, got {value!r}")
        return [[_one(action, v) for v in item] for item in value]
    if action.nargs in ("+", "*") or isinstance(action.nargs, int):
        if not isinstance(value, list) or (action.nargs == "+" and not value):
            raise TypeError(f"expected a list of values, got {value!r}")
        return [_one(action, v) for v in value]
    return _one(action, value)


def _one(action, value):
    """One recorded scalar as the command line would give it, through the flag's type and choices."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise TypeError(f"expected a number or a text, got {value!r}")
    converted = action.type(str(value)) if action.type else str(value)
    if action.choices is not None and converted not in action.choices:
        raise ValueError(f"{value!r} is not one of {', '.join(map(str, action.choices))}")
    return converted
