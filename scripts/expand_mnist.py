"""Build (or check) the expanded MNIST training set: 250,000 images, 1-pixel shifts.

The book's ``expand_mnist.py``.  Usage::

    python scripts/expand_mnist.py [--data-dir DIR] [--force]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dlpy35.cli.common import ArgumentParser  # noqa: E402
from dlpy35.data.expand import cache_path, load_expanded  # noqa: E402


def main(argv=None):
    p = ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", default=None,
                   help="the MNIST directory (default data/mnist); the cache goes there")
    p.add_argument("--force", action="store_true", help="regenerate even when a valid cache exists")
    args = p.parse_args(argv)
    path = cache_path(args.data_dir)
    if args.force:
        path.unlink(missing_ok=True)
    start = time.perf_counter()
    x, y = load_expanded(args.data_dir, verbose=True)
    print(f"{path}: {len(x):,} images {x.shape}, labels {y.shape}, {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
