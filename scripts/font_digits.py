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

from dlpy35.cli.common import ArgumentParser, fail, run  # noqa: E402

PROG = Path(__file__).name
FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
SIZES = (40, 80, 140)
PAGE = (220, 180)


def render(out: Path, fonts):
    """Write every digit in every font and size; the ``(path, digit, font)`` of each file."""
    import numpy as np
    from PIL import Image, ImageDraw, ImageFont

    rng = np.random.default_rng(0)  # the positions
    written = []
    for font in fonts:
        for size in SIZES:
            for digit in range(10):
                dark = (digit + size) % 2 == 0
                im = Image.new("L", PAGE, 255 if dark else 0)
                x, y = (int(rng.integers(0, max(1, d - size * 0.7))) for d in PAGE)
                ImageDraw.Draw(im).text((x, y), str(digit), fill=0 if dark else 255,
                                        font=ImageFont.truetype(str(font), size))
                path = out / f"{digit}-{font.stem}-{size}.png"
                im.save(path)
                written.append((path, digit, font.stem))
    return written


def main(argv=None) -> int:
    p = ArgumentParser(__doc__, prog=PROG)
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="where the PNG files go")
    p.add_argument("--model", type=Path, default=None, help="a saved network to read them with")
    p.add_argument("--fonts", default="DejaVu*.ttf", help="a glob of fonts in " + str(FONT_DIR))
    args = p.parse_args(argv)
    fonts = sorted(f for f in FONT_DIR.glob(args.fonts) if "MathTeX" not in f.name)
    if not fonts:
        return fail(PROG, f"no font matches {args.fonts} in {FONT_DIR}; install Debian's fonts-dejavu-core")
    args.out.mkdir(parents=True, exist_ok=True)
    written = render(args.out, fonts)
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
