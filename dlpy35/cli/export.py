"""A saved network taken out of Python: an ONNX model, or a web page that runs offline.

``--format onnx`` writes an ONNX model (input ``pixels`` [N, 784] float32 in [0, 1],
output ``activations`` [N, 10]) for onnxruntime, phones and other frameworks, with what
the network was trained on (data set, classes, image shape...) in its ``metadata_props``; it
needs ``pip install 'dlpy35[onnx]'``.  ``--format html`` writes one self-contained
page: draw a digit with the mouse or a finger and watch the network's answer (its class's name); it
needs no server and no network (open it from a file), and its
``window.dlpy35.predict(pixels)`` serves other pages and tests.  Without
``--format``, the suffix of ``-o`` chooses.

Examples::

    dlpy35 export runs/ch1/network.json -o digits.html
    dlpy35 export runs/conv/network.npz --format onnx -o conv.onnx
"""

from __future__ import annotations

from pathlib import Path

from dlpy35.cli.common import add_overwrite_flag, fail
from dlpy35.text import plural

FORMATS = ("onnx", "html")


def configure(p):
    p.add_argument("model", type=Path, metavar="MODEL", help="a saved network (.json or .npz)")
    p.add_argument("--format", choices=FORMATS, default=None, help="default: from the suffix of -o")
    p.add_argument("-o", "--output", type=Path, required=True, metavar="OUT", help="the file to write")
    add_overwrite_flag(p, "a file that -o names")


def execute(p, args) -> int:
    from dlpy35.export.plain_layers import portable_layers
    from dlpy35.storage.outputs import Outputs, given
    from dlpy35.storage.saved_networks import ModelError, load_model, metadata

    fmt = args.format or args.output.suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        p.error(f"-o {args.output}: give --format onnx or --format html (or an .onnx or .html name)")
    try:
        Outputs([given("MODEL", args.model)], replace=args.overwrite).file(args.output, "-o")
        if fmt == "onnx":
            from dlpy35.export.onnx_model import write_onnx
        else:
            from dlpy35.export.web_page import write_html
    except (ValueError, ImportError) as exc:
        p.error(str(exc))
    try:
        net = load_model(args.model, "cpu")
        layers = portable_layers(net)
        if fmt == "onnx":
            write_onnx(layers, args.output, net.metadata)
        else:  # the page draws 28x28 digits: a network of another data set is refused here
            write_html(layers, args.output, title=f"dlpy35: {args.model.name}", classes=metadata(net).classes)
    except (ModelError, ValueError) as exc:
        return fail(p.prog, exc)
    print(f"wrote {args.output} ({fmt}, {plural(len(layers), 'layer')})")
    return 0
