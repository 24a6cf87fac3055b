#!/usr/bin/env python3
"""Digits made outside MNIST: the ten digits rendered from fonts, then read by a saved network.

Each digit is drawn from every DejaVu font found (sans, serif, mono; regular, bold,
oblique) at three sizes, at an off-centre position on a page of its own, dark on
light and light on dark in turn, and written as PNG into ``--out``.  With
``--model``, the files go through ``dlpy35 predict``'s preparation and the network,
and the accuracy is printed per font and in all.

Examples::

    python scripts/font_digits.py --out runs/fonts --model runs/ch1/network.json
    dlpy35 predict runs/ch1/network.json runs/fonts/7-*.png
"""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from dlpy35.cli.common import ArgumentParser, add_overwrite_flag, fail, run  # noqa: E402
from dlpy35.storage.outputs import Outputs, given  # noqa: E402

PROG = Path(__file__).name
FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
SIZES = (40, 80, 140)
PAGE = (220, 180)


def planned(out: Path, fonts):
    """The ``(path, digit, font, size)`` of every file :func:`render` writes into `out`."""
    return [(out / f"{digit}-{font.stem}-{size}.png", digit, font, size)
            for font in fonts for size in SIZES for digit in range(10)]


def render(files):
    """Write the :func:`planned` files, each atomically; their ``(path, digit, font name)``."""
    import numpy as np
    from PIL import Image, ImageDraw, ImageFont

    from dlpy35.storage.atomic import atomic_write

    rng = np.random.default_rng(0)  # the positions
    written = []
    for path, digit, font, size in files:
        dark = (digit + size) % 2 == 0
        im = Image.new("L", PAGE, 255 if dark else 0)
        x, y = (int(rng.integers(0, max(1, d - size * 0.7))) for d in PAGE)
        ImageDraw.Draw(im).text((x, y), str(digit), fill=0 if dark else 255,
                                font=ImageFont.truetype(str(font), size))
        with atomic_write(path) as f:
            im.save(f, format="PNG")
        written.append((path, digit, font.stem))
    return written


def main(argv=None) -> int:
    p = ArgumentParser(__doc__, prog=PROG)
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="where the PNG files go")
    p.add_argument("--model", type=Path, default=None, help="a saved network to read them with")
    p.add_argument("--fonts", default="DejaVu*.ttf", help="a glob of fonts in " + str(FONT_DIR))
    add_overwrite_flag(p, "PNG files of an earlier run in --out")
    args = p.parse_args(argv)
    fonts = sorted(f for f in FONT_DIR.glob(args.fonts) if "MathTeX" not in f.name)
    if not fonts:
        return fail(PROG, f"no font matches {args.fonts} in {FONT_DIR}; install Debian's fonts-dejavu-core")
    files = planned(args.out, fonts)
    try:  # every file checked before any is drawn: none replaces a user's file or the model
        outputs = Outputs([given("MODEL", args.model)] if args.model else [], replace=args.overwrite)
        for path, *_ in files:
            outputs.file(path, "--out", instead="directory")
    except ValueError as exc:
        p.error(str(exc))
    written = render(files)
    print(f"{len(written)} images in {args.out} ({len(fonts)} fonts x {len(SIZES)} sizes x 10 digits)")
    if args.model is None:
        return 0
    import numpy as np

    from dlpy35.storage.saved_networks import ModelError, load_model

    try:
        net = load_model(args.model)
    except ModelError as exc:
        return fail(PROG, exc)
    answers = net.predict_files([p for p, _, _ in written])
    by_font = defaultdict(list)
    for (_, digit, font), answer in zip(written, answers):
        by_font[font].append(answer == digit)
    for font, hits in by_font.items():
        print(f"{font:<32} {sum(hits):>3} / {len(hits)}")
    hits = [h for v in by_font.values() for h in v]
    print(f"all fonts: {sum(hits)} / {len(hits)} ({np.mean(hits):.1%}) read correctly by {args.model}")
    return 0


if __name__ == "__main__":
    sys.exit(run(main, PROG))
