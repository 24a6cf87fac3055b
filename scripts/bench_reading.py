#!/usr/bin/env python3
"""What a file handed over costs: the time and peak memory of reading each of issue 23's files.

The files are made in ``--dir`` (a temporary directory by default): a 50-megapixel JPEG photo of
a digit, a 12000 x 12000 PNG (32 kB), an IDX gzip of 1 MB that inflates to 1 GiB past its header,
a 32-byte gzip whose IDX header claims 4,000,000 images, a pickle declaring three sets of 300,000
images without their data, a pickle declaring a 2 GiB byte string, and a Python 2 pickle string of
1 GiB of zeros (1 MB of gzip). Each is read in a child process of its own (``dlpy35 predict``'s
preparation for the images, ``read_idx`` and ``load_pickle`` for the data), optionally under an
address-space limit (``--limit-mb``), and one line is printed per file: its size, what came of it,
the seconds (imports included) and the child's peak resident memory (``VmHWM``; Linux).

Examples::

    python scripts/bench_reading.py
    python scripts/bench_reading.py --limit-mb 600 --dir /tmp/bombs
"""

from __future__ import annotations

import gzip
import json
import pickle
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

from dlpy35.cli.common import ArgumentParser, run  # noqa: E402

PROG = Path(__file__).name

_CHILD = """
import json, resource, sys, time
if int(sys.argv[3]):
    resource.setrlimit(resource.RLIMIT_AS, (int(sys.argv[3]) << 20,) * 2)
start = time.perf_counter()
from dlpy35.data import DataError, load_pickle, read_idx
from dlpy35.data.digit_images import ImageError, prepare_file
read = {"image": prepare_file, "idx": read_idx, "pickle": load_pickle}[sys.argv[1]]
try:
    read(sys.argv[2])
    outcome = "read"
except (DataError, ImageError) as e:
    outcome = f"{type(e).__name__}: {str(e).split(': ', 1)[1]}"
except MemoryError:
    outcome = "MemoryError"
seconds = time.perf_counter() - start
# VmHWM, not ru_maxrss: a child's ru_maxrss starts at its parent's peak when forked
peak_kb = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(json.dumps({"outcome": outcome, "seconds": seconds, "peak_mb": peak_kb / 1024}))
"""


def _zeros_gzip(n_bytes: int, chunk: int = 64 << 20) -> bytes:
    """gzip members inflating to ``n_bytes`` zeros: one compressed ``chunk`` repeated."""
    return gzip.compress(bytes(chunk), compresslevel=9, mtime=0) * (n_bytes // chunk)


def _photo(path: Path) -> None:
    """A 50-megapixel (8660 x 5773) JPEG of a dark 7 on paper, with a camera's sensor noise."""
    from PIL import Image, ImageDraw

    w, h = 8660, 5773
    im = Image.new("RGB", (w, h), (200, 190, 170))
    ImageDraw.Draw(im).line([(3000, 1200), (5600, 1200), (4000, 4600)], fill=(30, 30, 40), width=260)
    noise = Image.fromarray(np.random.default_rng(0).integers(0, 120, (h, w, 3), dtype=np.uint8))
    Image.blend(im, noise, 0.1).save(path, quality=90)


def _claim_pickle() -> bytes:
    """Three sets of 300,000 images and labels declared through numpy's ``_reconstruct``, no data."""
    reconstruct = np.empty(0).__reduce__()[0]

    class Claim:
        def __init__(self, shape, dtype):
            self.shape, self.dtype = shape, dtype

        def __reduce__(self):
            return reconstruct, (np.ndarray, self.shape, self.dtype)

    sets = ((Claim((300_000, 784), "f4"), Claim((300_000,), "i8")),) * 3
    return pickle.dumps(sets, protocol=2).replace(b"numpy._core.", b"numpy.core.")


def make_files(d: Path) -> list[tuple[str, Path]]:
    """Write the files into ``d``; ``(kind, path)`` of each, as the child reads it."""
    from PIL import Image

    files = [("image", d / "photo-50mp.jpg"), ("image", d / "huge-12000.png"),
             ("idx", d / "bomb-idx3-ubyte.gz"), ("idx", d / "claim-idx3-ubyte.gz"),
             ("pickle", d / "claim.pkl.gz"), ("pickle", d / "declared.pkl.gz"),
             ("pickle", d / "zeros.pkl.gz")]
    _photo(files[0][1])
    Image.new("1", (12000, 12000), 1).save(files[1][1], optimize=True)
    head = bytes([0, 0, 8, 3]) + struct.pack(">3I", 1000, 28, 28)
    files[2][1].write_bytes(gzip.compress(head, mtime=0) + _zeros_gzip(1 << 30))
    claim = bytes([0, 0, 8, 3]) + struct.pack(">3I", 4_000_000, 28, 28)
    files[3][1].write_bytes(gzip.compress(claim, mtime=0))
    files[4][1].write_bytes(gzip.compress(_claim_pickle(), mtime=0))
    declared = b"\x80\x04\x8e" + struct.pack("<Q", 2 << 30)  # protocol 4's BINBYTES8 of 2 GiB
    files[5][1].write_bytes(gzip.compress(declared + bytes(1000), mtime=0))
    py2_string = b"\x80\x02T" + struct.pack("<I", (1 << 30) - 1)
    files[6][1].write_bytes(gzip.compress(py2_string, mtime=0) + _zeros_gzip(1 << 30))
    return files


def measure(kind: str, path: Path, limit_mb: int) -> dict:
    """The child's outcome, seconds and peak memory for one file."""
    done = subprocess.run([sys.executable, "-c", _CHILD, kind, str(path), str(limit_mb)], cwd=ROOT,
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def main(argv=None) -> int:
    p = ArgumentParser(__doc__, prog=PROG)
    p.add_argument("--dir", type=Path, default=None,
                   help="where to write the files (default: a temporary one)")
    p.add_argument("--limit-mb", type=int, default=0, metavar="MB",
                   help="address-space limit of each child (default: none)")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        d = args.dir or Path(tmp)
        d.mkdir(parents=True, exist_ok=True)
        for kind, path in make_files(d):
            m = measure(kind, path, args.limit_mb)
            print(f"{path.name:22} {path.stat().st_size:>10,} B  {m['seconds']:5.2f} s  "
                  f"{m['peak_mb']:6.0f} MB  {m['outcome'][:90]}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(run(main, PROG))
