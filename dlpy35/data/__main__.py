"""``python -m dlpy35.data``: the entry point of ``dlpy35 data`` (:mod:`dlpy35.cli.data`)."""

import sys

from dlpy35.cli.common import run
from dlpy35.cli.data import main

if __name__ == "__main__":
    sys.exit(run(main, "python -m dlpy35.data"))  # Ctrl-C mid-download: 130, one line, nothing left
