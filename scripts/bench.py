#!/usr/bin/env python3
"""Benchmark dlpy35 against its peers: the entry point of the benchmarks in ``scripts/bench/``.

    python scripts/bench.py [FLAGS]                   the chapter-1 network, every implementation (bench.mlp)
    python scripts/bench.py --quick                   the same on 1,000 images, a smoke test
    python scripts/bench.py --network conv [FLAGS]    the chapter-6 conv nets against PyTorch (bench.conv)
    python scripts/bench.py --profile [FLAGS]         where one chapter-1 SGD step's time goes (bench.profile)
    python scripts/bench.py --profile --network conv  the same for the conv nets on JAX, op by op
                                                      (bench.conv_profile)
    python scripts/bench.py --population [FLAGS]      K networks per compiled call (bench.population;
                                                      --net NAME: train-conv --ensemble K's networks)

``--network``, ``--profile`` and ``--population`` choose the benchmark; every other flag is its
own (``python scripts/bench.py --network conv --help`` lists them).
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parent
for _path in (str(SCRIPTS), str(SCRIPTS.parent)):  # the bench package, and dlpy35 without installing
    if _path not in sys.path:
        sys.path.insert(0, _path)


def choose(argv):
    """``(benchmark module name, its own flags)`` from the command line."""
    from bench import cli

    p = cli.Parser(__doc__, add_help=False, prog=Path(__file__).name)
    p.add_argument("--network", choices=("mlp", "conv"), default="mlp")
    p.add_argument("--profile", action="store_true")
    p.add_argument("--population", action="store_true")
    chosen, rest = p.parse_known_args(argv)
    if chosen.profile and chosen.population:
        p.error("--profile and --population are two benchmarks; give one")
    if chosen.population and chosen.network != "mlp":
        p.error("--population times the chapter-1 network (--net NAME picks a conv ensemble); "
                "leave out --network")
    if chosen.profile:
        return ("conv_profile" if chosen.network == "conv" else "profile"), rest
    return "population" if chosen.population else chosen.network, rest


def main(argv=None):
    """Run the chosen benchmark; returns its exit status."""
    name, rest = choose(sys.argv[1:] if argv is None else argv)
    return importlib.import_module(f"bench.{name}").main(rest)


if __name__ == "__main__":
    from dlpy35.cli.common import run  # Ctrl-C in one line, JAX's compiles kept: as the dlpy35 command

    sys.exit(run(main))
