"""A trained network as one self-contained web page that reads digits drawn with the mouse or a finger.

:func:`write_html` writes a single HTML file: the page (``page.html`` beside this module),
its script (``page.js``, inlined) and the network's weights (inlined as base64 of
little-endian float32). It loads nothing -- no scripts, fonts or data from elsewhere, and
its Content-Security-Policy forbids it -- so it works offline, opened from ``file://``.

The page has a canvas to draw on and a Clear button; while one draws, it prepares the
drawing as :func:`dlpy35.data.digit_images.prepare` prepares a photo of a digit (the same float64
arithmetic, in the same order, in JavaScript), runs the network's forward pass, and shows
the predicted class (by its name: the network's data set's, or the digit) with its score,
the output activations as bars and the prepared 28 x 28 input. The script also exposes ``window.dlpy35``:

``predict(pixels)``
    the network's ``n_out`` output activations for 784 pixels in [0, 1] (row-major
    28 x 28, light ink on dark, as MNIST);
``prepare(grey, width, height)``
    the 784 pixels :func:`dlpy35.data.digit_images.prepare` gives for grey levels in [0, 1]
    (row-major, `height` rows of `width`); it throws an ``Error`` on a blank image;
``classes``
    each output's class name.

The network comes as :func:`dlpy35.export.plain_layers.portable_layers` gives it, so every dlpy35
network (chapter 1 and 3's sigmoid networks, chapter 6's convolutional layer stacks) can
be exported, provided that it reads 28 x 28 single-channel images.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
from importlib import resources

import numpy as np

from dlpy35.data import digit_images
from dlpy35.data.digit_images import SIDE
from dlpy35.export.plain_layers import Dense, check_layers, input_shape
from dlpy35.storage.atomic import atomic_write

__all__ = ["write_html", "page_html"]

#: What the page's Content-Security-Policy allows: its own inline script and styles, nothing else.
_CSP = ("default-src 'none'; script-src '{script_hash}'; style-src 'unsafe-inline'; "
        "base-uri 'none'; form-action 'none'")


def _template(name: str) -> str:
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


def _base64_float32(a: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(a, dtype="<f4").tobytes()).decode("ascii")


def _layer_record(layer) -> dict:
    """The JSON record of a checked portable `layer` (:func:`dlpy35.export.plain_layers.check_layers`)."""
    if isinstance(layer, Dense):
        record = {"type": "dense", "n_in": int(layer.w.shape[0]), "n_out": int(layer.w.shape[1]),
                  "activation": layer.activation, "scale": float(layer.scale)}
    else:
        record = {"type": "convpool", "image": [int(d) for d in layer.image],
                  "filters": [int(d) for d in layer.w.shape], "pool": [int(d) for d in layer.pool],
                  "activation": layer.activation}
    return {**record, "w": _base64_float32(layer.w), "b": _base64_float32(layer.b)}


def _model(layers, classes=None) -> dict:
    """The network as the page's script reads it (ValueError or TypeError when it can't)."""
    _, n_out = check_layers(layers)
    classes = [str(c) for c in classes] if classes is not None else [str(k) for k in range(n_out)]
    if len(classes) != n_out:
        raise ValueError(f"{len(classes)} class names for a network of {n_out} outputs")
    shape = input_shape(layers)
    if tuple(shape) != (1, SIDE, SIDE):
        raise ValueError(f"the page draws {SIDE} x {SIDE} single-channel digits, but this network reads "
                         f"{' x '.join(map(str, shape))} (channels x height x width) inputs")
    # the preparation's constants travel with the page, so that its script follows dlpy35.data.digit_images
    constants = {"ink": float(digit_images.INK), "contrast": float(digit_images.CONTRAST),
                 "box": int(digit_images.BOX), "side": int(digit_images.SIDE),
                 "centre": float(digit_images.CENTRE)}
    return {"format": "dlpy35.web_page", "version": 1, "input": [1, SIDE, SIDE], "n_out": n_out,
            "classes": classes, "prepare": constants, "layers": [_layer_record(layer) for layer in layers]}


def page_html(layers, title: str = "dlpy35", classes=None) -> str:
    """The text of the page :func:`write_html` writes.

    Parameters
    ----------
    layers : list of dlpy35.export.plain_layers.Dense or ConvPool
        The network, as :func:`dlpy35.export.plain_layers.portable_layers` gives it; it must read
        28 x 28 single-channel images (784 values).
    title : str
        The page's title and heading.
    classes : sequence of str, optional
        Each output's class name, which the page shows (default: the outputs' digits).

    Returns
    -------
    str
        One self-contained HTML document.

    Raises
    ------
    TypeError
        `layers` holds something other than portable layers.
    ValueError
        No layers, layers that do not chain, non-finite weights, an unknown activation,
        an input other than 28 x 28 x 1, or not one class name per output.
    """
    model = json.dumps(_model(layers, classes), separators=(",", ":")).replace("<", "\\u003c")
    script = _template("page.js")
    if "</script" in script.lower():
        raise RuntimeError("page.js must not contain '</script': it is inlined in a <script> element")
    digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")
    values = {"title": html.escape(str(title)), "model": model, "script": script,
              "csp": _CSP.format(script_hash=f"sha256-{digest}")}
    # one pass, so that nothing substituted (a title, the script) is substituted into again
    return re.sub(r"\{\{(title|model|script|csp)\}\}", lambda m: values[m.group(1)], _template("page.html"))


def write_html(layers, path, title: str = "dlpy35", classes=None) -> None:
    """Write the network as one self-contained web page that reads digits drawn on it.

    The file holds everything (page, script and weights) and loads nothing, so it works
    offline, opened from ``file://``; the write is atomic.

    Parameters
    ----------
    layers : list of dlpy35.export.plain_layers.Dense or ConvPool
        The network, as :func:`dlpy35.export.plain_layers.portable_layers` gives it; it must read
        28 x 28 single-channel images (784 values).
    path : str or os.PathLike
        The HTML file to write (replaced if it exists).
    title : str
        The page's title and heading.
    classes : sequence of str, optional
        Each output's class name, which the page shows (default: the outputs' digits).

    Raises
    ------
    TypeError, ValueError
        As :func:`page_html`; nothing is written then.

    Examples
    --------
    >>> from dlpy35.export.plain_layers import portable_layers
    >>> write_html(portable_layers(net), "digits.html", title="network2, 95%")  # doctest: +SKIP
    """
    text = page_html(layers, title, classes)
    with atomic_write(path, "wb") as f:
        f.write(text.encode("utf-8"))
