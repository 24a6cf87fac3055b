"""A photo or scan of a handwritten digit, prepared as MNIST's digits were.

:func:`prepare` takes grey levels of any size, dark ink on light paper or the
reverse, and returns the 784 pixels a network trained on MNIST expects:

1. ink is what differs from the paper: the image is inverted when its border (the
   paper) is light, so that ink is light on dark, as in MNIST;
2. the paper's level (the median of the border) becomes 0 and the darkest ink 1;
3. the image is cropped to the ink (pixels above :data:`INK`);
4. the crop is fitted into 20 x 20 keeping its aspect ratio, each new pixel the
   area-weighted mean of the old ones it covers;
5. it is placed in 28 x 28 with its centre of mass at row and column 14, where MNIST puts it
   (to the nearest whole pixel; a digit whose mass lies far off its box's centre stops at the
   frame's edge rather than lose ink, its centre of mass then short of 14);
6. levels are quantised to bytes and scaled as dlpy35's MNIST is (k / 256, in [0, 1)).

Every step is plain float64 arithmetic, so that the exported web page
(:mod:`dlpy35.export.web_page`) repeats it in JavaScript and gets the same pixels.
:func:`read_grey` (from :mod:`dlpy35.data.image_files`) reads PNG, JPEG and the other formats
Pillow knows, within bounded memory and time.
"""

from __future__ import annotations

import math
import os

import numpy as np

from dlpy35.data.image_files import ImageError, read_grey

__all__ = ["ImageError", "INK", "BOX", "SIDE", "CENTRE", "PREPARATION_VERSION", "read_grey", "prepare",
           "prepare_file", "prepare_files", "to_png"]

#: Normalised level above which a pixel counts as ink when cropping.
INK = 0.25
#: Least difference between the paper and the darkest ink of a digit (on a 0..1 scale).
CONTRAST = 0.1
#: MNIST's digits fit in BOX x BOX, centred in SIDE x SIDE.
BOX, SIDE = 20, 28
#: Where MNIST puts a digit's centre of mass, in row and column indices: (14, 14) (the mean over
#: its 10,000 test digits is (13.99, 14.01)), half a pixel below and right of the image's middle.
CENTRE = SIDE / 2
#: The version of :func:`prepare`'s pixels: raise it when they change, so that the prepared images
#: cached for image folders (:mod:`dlpy35.data.image_folders`) are prepared again.  (2: a centre of
#: mass on a half pixel rounds up on every CPU, see :data:`TIE`.)
PREPARATION_VERSION = 2
#: How close to a half pixel a centre of mass counts as the half (a float64 sum's rounding is ~1e-15).
TIE = 1e-9


def _border(a: np.ndarray) -> np.ndarray:
    return np.concatenate([a[0], a[-1], a[1:-1, 0], a[1:-1, -1]])


def _lower_median(v: np.ndarray) -> float:
    return float(np.sort(v)[(len(v) - 1) // 2])


def _shift(centre_of_mass: float, size: int) -> int:
    """Where a box of `size` pixels starts so that its centre of mass lands on :data:`CENTRE`.

    Rounded to whole pixels, halves up, and kept inside the frame.  A symmetric digit's centre
    lies exactly on a half; the resampling's matrix products round it a hair to either side
    depending on the CPU's BLAS kernels, so :data:`TIE` of a half counts as the half.
    """
    return min(max(math.floor(CENTRE - centre_of_mass + 0.5 + TIE), 0), SIDE - size)


def _area_weights(n_out: int, n_in: int) -> np.ndarray:
    """(n_out, n_in): the share of each input pixel in each output pixel, rows summing to 1."""
    r = np.zeros((n_out, n_in))
    step = n_in / n_out
    for i in range(n_out):
        lo, hi = i * step, (i + 1) * step
        for j in range(math.floor(lo), min(math.ceil(hi), n_in)):
            r[i, j] = (min(hi, j + 1) - max(lo, j)) / step
    return r


def prepare(grey: np.ndarray, where: str = "image") -> np.ndarray:
    """The 784 MNIST-style pixels (float32, row-major 28 x 28, light ink on dark) of a digit.

    Parameters
    ----------
    grey : array (H, W)
        Grey levels in [0, 1]; ink dark on light paper or light on dark.
    where : str
        Names the image in errors.

    Raises
    ------
    ImageError
        Not a 2-D array of levels in [0, 1], or no ink to be seen (a blank image).
    """
    g = np.asarray(grey, dtype=np.float64)
    if g.ndim != 2 or min(g.shape) < 3 or not np.all((g >= 0) & (g <= 1)):
        raise ImageError(f"{where}: give grey levels in [0, 1] of an image at least 3 x 3")
    ink = 1.0 - g if np.mean(_border(g)) > 0.5 else g
    paper, darkest = _lower_median(_border(ink)), float(ink.max())
    if darkest - paper < CONTRAST:
        raise ImageError(f"{where}: blank, no ink stands out from the paper; give an image of a digit")
    ink = np.clip((ink - paper) / (darkest - paper), 0.0, 1.0)
    rows, cols = np.flatnonzero((ink > INK).any(axis=1)), np.flatnonzero((ink > INK).any(axis=0))
    crop = ink[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    h, w = crop.shape
    nh, nw = (max(1, math.floor(d * BOX / max(h, w) + 0.5)) for d in (h, w))
    small = _area_weights(nh, h) @ crop @ _area_weights(nw, w).T
    total = small.sum()
    cy = float((small.sum(axis=1) * np.arange(nh)).sum() / total)
    cx = float((small.sum(axis=0) * np.arange(nw)).sum() / total)
    top, left = _shift(cy, nh), _shift(cx, nw)
    out = np.zeros((SIDE, SIDE))
    out[top:top + nh, left:left + nw] = small
    return (np.floor(out * 255 + 0.5) / 256).astype(np.float32).reshape(-1)


def prepare_file(path: str | os.PathLike) -> np.ndarray:
    """:func:`prepare` of the image file `path`."""
    return prepare(read_grey(path), str(path))


def prepare_files(paths) -> np.ndarray:
    """:func:`prepare_file` of each of the image files `paths`: float32 rows (n, 784), in their order.

    Raises
    ------
    ImageError
        No file given, or one that cannot be read or shows no digit (the first such file, named).
    """
    paths = list(paths)
    if not paths:
        raise ImageError("no image files given; give at least one")
    return np.stack([prepare_file(path) for path in paths])


def to_png(pixels: np.ndarray, path: str | os.PathLike) -> None:
    """Write prepared pixels (784, k / 256) as a 28 x 28 grey PNG, atomically."""
    from PIL import Image

    from dlpy35.storage.atomic import atomic_write

    levels = np.round(np.asarray(pixels, np.float64).reshape(SIDE, SIDE) * 256).clip(0, 255).astype(np.uint8)
    with atomic_write(path, "wb") as f:
        Image.fromarray(levels, mode="L").save(f, format="PNG")
