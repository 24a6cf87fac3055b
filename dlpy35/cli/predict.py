"""A saved network's answer for image files: its class for each, by name.

Each image (PNG, JPEG, any size; dark ink on light paper or the reverse) is prepared
as the network's data set was (the preparation its file records; MNIST's for a file that
records none: grey levels, ink light on dark, cropped to the ink, fitted into 20x20,
centred by its centre of mass in 28x28), and one line is printed per image:
``IMAGE: CLASS (SCORE)``, the class by the name the network's data set gives it and the
score the winning output's activation.  ``--json`` prints one JSON object per line
instead (JSON Lines: ``file``, ``class``, ``index``, ``score`` and ``scores``, every class
by name), ``--csv`` a table with the header ``file,class,score`` and one column per class.

Examples::

    dlpy35 predict runs/ch1/network.json seven.png photo-of-a-3.jpg
    dlpy35 predict runs/conv/network.npz digits/*.png --scores --show prepared/
    dlpy35 predict runs/letters/network.json scans/*.png --csv > answers.csv
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from dlpy35.cli.common import add_device_flags, add_overwrite_flag, fail


def configure(p):
    p.add_argument("model", type=Path, metavar="MODEL", help="a saved network (.json or .npz)")
    p.add_argument("images", type=Path, nargs="+", metavar="IMAGE", help="image files of digits")
    p.add_argument("--scores", action="store_true", help="print all the output activations too")
    form = p.add_mutually_exclusive_group()
    form.add_argument("--json", action="store_true",
                      help="one JSON object per image and line (JSON Lines): file, class, index, score, "
                           "scores")
    form.add_argument("--csv", action="store_true",
                      help="a CSV table: file, class, score, then each class's score")
    p.add_argument("--show", type=Path, default=None, metavar="DIR",
                   help="write each prepared 28x28 image to DIR as IMAGE-NAME.png")
    add_overwrite_flag(p, "files of --show DIR that have the names of prepared images")
    add_device_flags(p)


def _shown(args):
    """Where ``--show`` writes each image's preparation: one name per image, each checked against the output
    policy (:class:`dlpy35.storage.outputs.Outputs`: not the model nor an image, nothing there unless
    ``--overwrite``)."""
    from dlpy35.storage.outputs import Outputs, given

    if args.show is None:
        return []
    if args.show.exists() and not args.show.is_dir():
        raise ValueError(f"--show {args.show}: is a file; give a directory")
    many = len(args.images) > 1  # numbered, so that two a.png in two directories stay two files
    names = [args.show / (f"{i:03d}-{path.stem}.png" if many else f"{path.stem}.png")
             for i, path in enumerate(args.images)]
    outputs = Outputs([given("MODEL", args.model), *(given("IMAGE", path) for path in args.images)],
                      args.overwrite)
    return [outputs.file(name, "--show", instead="directory") for name in names]


def _prepared(args, net):
    """The images' pixels as `net`'s data set was prepared (ModelError or ValueError when predict cannot
    prepare them), and the class names of its outputs."""
    from dlpy35.data.digit_images import SIDE, prepare_files
    from dlpy35.storage.saved_networks import ModelError, metadata

    meta = metadata(net)
    if meta.preparation != "mnist":  # the one preparation predict knows (net.predict_files' too)
        shape = "x".join(map(str, meta.image_shape or ("?", "?")))
        raise ModelError(f"{args.model}: it reads the {shape} images of {meta.dataset}, and predict "
                         f"prepares only {SIDE}x{SIDE} ones as MNIST's; use dlpy35 evaluate --dataset DIR "
                         "for its data")
    net.check_digit_images(str(args.model))  # a file that records no data set, of another image size
    return prepare_files(args.images), meta.classes


def execute(p, args) -> int:
    from dlpy35.data.digit_images import ImageError, to_png
    from dlpy35.storage.saved_networks import ModelError, load_model

    try:
        shown = _shown(args)
    except ValueError as exc:
        p.error(str(exc))
    try:  # the network is built, but compiles only for its first answer: a bad image costs no compile
        net = load_model(args.model, args.device, args.mode)
        pixels, classes = _prepared(args, net)
        scores = net.outputs(pixels, "prepared images")
    except (ImageError, ModelError, ValueError) as exc:
        return fail(p.prog, exc)
    if not net.metadata.recorded:  # on stderr: stdout may be --json's or --csv's
        print(f"{args.model}: records no data set (saved by an older dlpy35, or without its data set): "
              "MNIST's digits assumed", file=sys.stderr)
    print(answers(args, classes, scores), end="")
    for name, row in zip(shown, pixels):
        to_png(row, name)
    if shown:  # beside a table on stdout, on stderr
        print(f"prepared images: {args.show}", file=sys.stderr if args.json or args.csv else sys.stdout)
    return 0


def answers(args, classes, scores) -> str:
    """The text printed: a line per image (``--json``: a JSON object per line; ``--csv``: a table)."""
    import json

    from dlpy35.storage.tables import csv_text

    best = np.argmax(scores, axis=1)
    rows = [{"file": str(path), "class": classes[k], "index": int(k), "score": round(float(row[k]), 6),
             "scores": {c: round(float(v), 6) for c, v in zip(classes, row)}}
            for path, k, row in zip(args.images, best, scores)]
    if args.json:
        return "".join(json.dumps(row) + "\n" for row in rows)
    if args.csv:
        return csv_text(["file", "class", "score", *classes],
                        [{"file": r["file"], "class": r["class"], "score": r["score"], **r["scores"]}
                         for r in rows])
    lines = [f"{r['file']}: {r['class']} ({r['score']:.2f})" for r in rows]
    if args.scores:
        lines = [f"{line}  " + " ".join(f"{c}:{v:.3f}" for c, v in r["scores"].items())
                 for line, r in zip(lines, rows)]
    return "".join(line + "\n" for line in lines)
