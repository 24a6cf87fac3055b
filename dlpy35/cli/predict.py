"""A saved network's answer for images of one's own handwritten digits.

Each image (PNG, JPEG, any size; dark ink on light paper or the reverse) is prepared
as MNIST's digits were -- grey levels, ink light on dark, cropped to the ink, fitted
into 20x20, centred by its centre of mass in 28x28 -- and one line is printed per
image: ``IMAGE: DIGIT (SCORE)``, the score being the winning output's activation.

Examples::

    dlpy35 predict runs/ch1/network.json seven.png photo-of-a-3.jpg
    dlpy35 predict runs/conv/network.npz digits/*.png --scores --show prepared/
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dlpy35.cli.common import add_device_flags, add_overwrite_flag, fail


def configure(p):
    p.add_argument("model", type=Path, metavar="MODEL", help="a saved network (.json or .npz)")
    p.add_argument("images", type=Path, nargs="+", metavar="IMAGE", help="image files of digits")
    p.add_argument("--scores", action="store_true", help="print all the output activations too")
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


def execute(p, args) -> int:
    from dlpy35.data.digit_images import ImageError, prepare_files, to_png
    from dlpy35.storage.saved_networks import ModelError, load_model

    try:
        shown = _shown(args)
    except ValueError as exc:
        p.error(str(exc))
    try:  # every image read and prepared before the network loads: a bad one costs no compile
        pixels = prepare_files(args.images)  # the preparation of net.predict_files, the Python API's
        net = load_model(args.model, args.device, args.mode)
        net.check_digit_images(str(args.model))  # a network of another data set's image size
        scores = net.outputs(pixels, "prepared images")
    except (ImageError, ModelError, ValueError) as exc:
        return fail(p.prog, exc)
    for path, row in zip(args.images, scores):
        digit = int(np.argmax(row))
        line = f"{path}: {digit} ({row[digit]:.2f})"
        if args.scores:
            line += "  " + " ".join(f"{k}:{v:.3f}" for k, v in enumerate(row))
        print(line)
    for name, row in zip(shown, pixels):
        to_png(row, name)
    if shown:
        print(f"prepared images: {args.show}")
    return 0
