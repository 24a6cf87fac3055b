"""An image file's grey levels, read within bounded memory and time whatever the file claims.

:func:`read_grey` gives the grey levels (float64 in [0, 1]) of a PNG, JPEG or any image Pillow reads:

1. the size in the header is checked against :data:`MAX_PIXELS` before a pixel is decoded
   (:func:`PIL.Image.open` reads the header only), so that a small file claiming a huge image
   costs nothing; Pillow's own decompression-bomb check is caught and reported the same way,
   without changing its global limit;
2. a large image is made small early: a JPEG is decoded at 1/2, 1/4 or 1/8 of its size
   (libjpeg's scaled decoding, :meth:`PIL.Image.Image.draft`), any other one reduced by box
   averaging (:meth:`PIL.Image.Image.reduce`), to a longer side of :data:`WORK_SIDE` to twice
   that: plenty for a digit that ends as 20 x 20 pixels;
3. the EXIF orientation is applied, so that a phone's photo is read upright;
4. levels are scaled by their real range, never clipped: 8-bit ones by 255, 16-bit ones by
   65535, 32-bit integers and floats by the first of 1 (floats only), 255, 65535 and
   2**32 - 1 that holds their largest value (from their least when it is negative), so that
   any of these copies of an 8-bit image reads as the 8-bit image does;
5. transparency is white paper, and every other mode (palettes, 1-bit, CMYK...) is read by
   its luma (ITU-R 601, as Pillow's "L" and the exported web page use).
"""

from __future__ import annotations

import math
import os
import warnings

import numpy as np

__all__ = ["ImageError", "MAX_PIXELS", "WORK_SIDE", "read_grey"]

#: The most pixels an image may have to be decoded (8192 x 8192): more is refused from the header.
MAX_PIXELS = 2 ** 26
#: A large image is decoded or reduced to a longer side of WORK_SIDE to 2 * WORK_SIDE - 1 pixels.
WORK_SIDE = 1024

# Modes Pillow turns into luma directly; any other is read through RGBA.
_LUMA_MODES = ("1", "L", "LA", "P", "PA", "RGB", "RGBA", "RGBX", "CMYK", "YCbCr")
# Modes whose channels Pillow box-averages (with alpha premultiplied), reduced before their conversion
# to grey so that no full-size grey copy is made; a palette's indices and 1-bit pixels are converted first.
_REDUCIBLE = ("L", "LA", "RGB", "RGBA", "RGBX", "CMYK", "YCbCr")
_FIX = "give a smaller image of the digit"


class ImageError(ValueError):
    """An image that cannot be read, or holds no digit."""


def read_grey(path: str | os.PathLike) -> np.ndarray:
    """Grey levels in [0, 1] (float64, (H, W)) of an image file; transparency is white paper.

    An image of more than :data:`WORK_SIDE` pixels a side comes back smaller (see the module).

    Raises
    ------
    ImageError
        Not an image Pillow can read, unreadable, or more than :data:`MAX_PIXELS` pixels.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():  # the size is checked here, below Pillow's own limit
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                return _grey(im, str(path))
    except ImageError:
        raise
    except UnidentifiedImageError:
        raise ImageError(f"{path}: not an image (give a PNG or JPEG of a digit)") from None
    except Image.DecompressionBombError:
        raise ImageError(f"{path}: more than the {MAX_PIXELS:,} pixels an image may have; {_FIX}") from None
    except MemoryError:
        raise ImageError(f"{path}: not enough memory to decode it; {_FIX}") from None
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        raise ImageError(f"{path}: cannot read it ({getattr(exc, 'strerror', None) or exc})") from None


def _grey(im, where: str) -> np.ndarray:
    """The levels of the opened (not yet decoded) image `im`, small, upright and in [0, 1]."""
    from PIL import ImageOps

    width, height = im.size
    shrink = max(1, max(im.size) // WORK_SIDE)
    im.draft("L", (max(1, width // shrink), max(1, height // shrink)))  # JPEG only; others ignore it
    if im.width * im.height > MAX_PIXELS:
        raise ImageError(f"{where}: {width}x{height} is {width * height:,} pixels, more than the "
                         f"{MAX_PIXELS:,} an image may have; {_FIX}")
    ImageOps.exif_transpose(im, in_place=True)  # decodes it
    if im.mode in ("I", "F") or im.mode.startswith("I;16"):
        return _wide_levels(im, where)
    return _byte_levels(im)


def _reduced(im):
    """`im` box-averaged to a longer side below 2 * WORK_SIDE (itself when it is that small)."""
    factor = max(im.size) // WORK_SIDE
    return im.reduce(factor) if factor > 1 else im


def _byte_levels(im) -> np.ndarray:
    """Levels of an image of 8-bit channels, transparent parts white."""
    if "transparency" in im.info or im.mode not in _LUMA_MODES:  # colour keys, palettes' holes, HSV, LAB...
        im = im.convert("RGBA")
    alpha = im.mode in ("LA", "PA", "RGBA")
    if im.mode in _REDUCIBLE:
        im = _reduced(im)
    levels = np.asarray(_reduced(im.convert("LA" if alpha else "L")), dtype=np.float64) / 255.0
    if not alpha:
        return levels
    return levels[..., 0] * levels[..., 1] + (1.0 - levels[..., 1])


def _wide_levels(im, where: str) -> np.ndarray:
    """Levels of a 16-bit, 32-bit integer or float image, scaled by its real range (module, 4.)."""
    lo, hi = _level_range(im, where)
    grey = np.asarray(_reduced(im if im.mode == "F" else im.convert("F")), dtype=np.float64)
    return np.clip((grey - lo) / (hi - lo), 0.0, 1.0)


def _level_range(im, where: str) -> tuple[float, float]:
    """The levels that are black and white in `im` (mode I;16*, I or F)."""
    if im.mode.startswith("I;16"):
        return 0.0, 65535.0
    least, most = (float(v) for v in im.getextrema())
    if not (math.isfinite(least) and math.isfinite(most)):
        raise ImageError(f"{where}: holds levels that are not finite numbers; give a PNG or JPEG of a digit")
    tops = ((1.0,) if im.mode == "F" else ()) + (255.0, 65535.0, 2.0 ** 32 - 1)
    top = next((t for t in tops if most <= t), most)
    lo = min(least, 0.0)
    return lo, max(top, lo + 1.0)
