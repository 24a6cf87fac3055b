#!/usr/bin/env python3
"""``dlpy35 train-conv`` from a checkout, without installing: the book's chapter-6 networks.

The same command, flags and code as ``dlpy35 train-conv`` (:mod:`dlpy35.cli.train_conv`);
``python scripts/train_conv.py --help`` lists them.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from dlpy35.cli.common import exit_on_interrupt  # noqa: E402

exit_on_interrupt(Path(__file__).name)  # before the heavy imports

from dlpy35.cli.common import run  # noqa: E402
from dlpy35.cli.main import command_main  # noqa: E402

PROG = Path(__file__).name


def main(argv=None) -> int:
    return command_main("train-conv", argv, PROG)


if __name__ == "__main__":
    sys.exit(run(main, PROG))
