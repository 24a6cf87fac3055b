"""The benchmarks' command line: one name, type and check per flag, as in ``scripts/train_gpu.py``.

Each benchmark builds its parser from :data:`FLAGS` with :func:`add`, so a flag
means the same thing, takes the same values and fails the same way everywhere.
A bad value exits with status 2 and one line on stderr.
"""

from __future__ import annotations

from pathlib import Path

from dlpy35.cli.common import ArgumentParser, positive_int
from dlpy35.text import plural

from . import results

Parser = ArgumentParser  # built from a benchmark's module docstring: ``Parser(__doc__)``


def mode_name(text):
    """A PyTensor mode, upper-cased; ``''`` is dropped by :func:`parse` (``--modes ''`` runs none)."""
    return text.strip().upper()


#: dest -> (flag, argparse keywords).  Help texts may be replaced per benchmark.
FLAGS = {
    "sizes": ("--sizes", {"type": positive_int, "nargs": "+", "metavar": "N",
                          "help": "layer sizes, input first (default %(default)s)"}),
    "n_train": ("--n-train", {"type": positive_int, "metavar": "N",
                              "help": "use only the first N training images"}),
    "epochs": ("--epochs", {"type": positive_int, "help": "epochs (default %(default)s)"}),
    "mini_batch_size": ("--mini-batch-size", {"type": positive_int, "metavar": "M",
                                              "help": "mini-batch size (default %(default)s)"}),
    "eta": ("--eta", {"type": float, "help": "learning rate (default %(default)s)"}),
    "seed": ("--seed", {"type": int, "help": "initial weights and shuffles (default %(default)s)"}),
    "modes": ("--modes", {"type": mode_name, "nargs": "+", "metavar": "MODE",
                          "help": "PyTensor modes of dlpy35 (default %(default)s; '' for none)"}),
    "data_dir": ("--data-dir", {"type": Path, "metavar": "DIR",
                                "help": "MNIST directory (default data/mnist or $DLPY35_DATA)"}),
    "torch_python": ("--torch-python", {"metavar": "PATH", "help": "run the PyTorch peer in this interpreter "
                                                                   "(it needs numpy and torch)"}),
    "json": ("--json", {"metavar": "PATH", "help": "results file (default %(default)s)"}),
}


def add(p, dest, default=None, help_text=None):
    """Add the flag `dest` of :data:`FLAGS` to `p`, with `default` and, if given, `help_text`."""
    flag, kwargs = FLAGS[dest]
    kwargs = {**kwargs, "default": default} | ({"help": help_text} if help_text else {})
    p.add_argument(flag, dest=dest, **kwargs)


def parse(p, argv=None):
    """``p.parse_args(argv)`` with the checks that span a flag's values."""
    args = p.parse_args(argv)
    if getattr(args, "sizes", None) is not None and len(args.sizes) < 2:
        p.error(f"--sizes: give at least two layer sizes, got {' '.join(map(str, args.sizes))}")
    if getattr(args, "modes", None) is not None:
        args.modes = [m for m in args.modes if m]
    if getattr(args, "json", None) is not None:
        try:
            results.check_path(args.json, getattr(args, "data_dir", None))
        except ValueError as exc:
            p.error(str(exc))
    return args


def load_mnist(p, data_dir, n_train=None):
    """``((train_x, train_y), validation, test)``, training cut to `n_train`; a problem exits through `p`."""
    from dlpy35.data import DataError
    from dlpy35.data import load_mnist as load

    try:
        (tx, ty), validation, test = load(data_dir)
    except DataError as exc:
        p.error(str(exc))
    if n_train is not None and n_train > len(tx):
        p.error(f"--n-train {n_train}: only {plural(len(tx), 'training image')}")
    return (tx[:n_train], ty[:n_train]), validation, test


def start(p, argv=None):
    """A conv benchmark's start: ``(args, MNIST's training set, the machine)``, the machine printed."""
    args = parse(p, argv)
    train, _, _ = load_mnist(p, args.data_dir)
    info = results.machine_info()
    results.print_machine(info)
    return args, train, info
