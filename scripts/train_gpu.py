#!/usr/bin/env python3
"""``dlpy35 train`` from a checkout, without installing: the book's networks of chapters 1 and 3.

The same command, flags and code as ``dlpy35 train`` (:mod:`dlpy35.cli.train`);
``python scripts/train_gpu.py --help`` lists them.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from dlpy35.cli.common import exit_on_interrupt  # noqa: E402

exit_on_interrupt(Path(__file__).name)  # before the heavy imports

from dlpy35.cli.common import run  # noqa: E402
from dlpy35.cli.main import command_main  # noqa: E402

PROG = Path(__file__).name


def main(argv=None) -> int:
    return command_main("train", argv, PROG)


if __name__ == "__main__":
    start = time.perf_counter()
    status = run(main, PROG)
    print(f"total wall time: {time.perf_counter() - start:.1f} s", file=sys.stderr)
    sys.exit(status)
