"""``dlpy35.data.image_files``: any image file's grey levels, read within bounded memory and time.

Every copy of one digit -- 16-bit, 32-bit, float, paletted, transparent, CMYK, rotated by its EXIF
tag, large or small -- must give the prediction input the 8-bit grey PNG gives; a file claiming
too many pixels is refused from its header.
"""

from __future__ import annotations

import tempfile
import time
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
import pytest
from data_helpers import png_claiming
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from dlpy35.data.digit_images import prepare, prepare_file
from dlpy35.data.image_files import MAX_PIXELS, WORK_SIDE, ImageError, read_grey

#: Measured: a copy reduced in float32 (16-bit, 32-bit, float) or premultiplied (RGBA) rather than in
#: 8-bit grey rounds a few levels of the reduced image the other way, moving prepared pixels by 1/256.
REDUCED_TOLERANCE = 1 / 256


def seven(h: int, w: int, seed: int = 0) -> np.ndarray:
    """8-bit grey page (H, W) of a "7", dark ink on light noisy paper, drawn at relative coordinates."""
    yy, xx = np.mgrid[:h, :w] / np.array([h, w])[:, None, None]
    page = np.ones((h, w))
    page[(yy > 0.15) & (yy < 0.25) & (xx > 0.25) & (xx < 0.75)] = 0.1
    page[(np.abs(xx - (0.75 - (yy - 0.2) * 0.5)) < 0.05) & (yy > 0.2) & (yy < 0.85)] = 0.0
    noise = np.random.default_rng(seed).normal(0, 0.04, (h, w))
    return (np.clip(page * 0.8 + 0.1 + noise, 0, 1) * 255).round().astype(np.uint8)


def transparent(g8: np.ndarray) -> Image.Image:
    """Black ink on a transparent page, its opacity the ink's darkness (what drawing programs export)."""
    return Image.fromarray(np.dstack([np.zeros_like(g8)] * 3 + [255 - g8]))


def keyed_palette(g8: np.ndarray) -> Image.Image:
    """A grey palette image whose white entry is transparent (a PNG tRNS chunk): white paper still."""
    im = Image.fromarray(g8).convert("P")
    im.info["transparency"] = 255  # the grey palette's entry 255 is white
    return im


#: Each copy of an 8-bit grey image (H, W) and the format that keeps its mode.
COPIES = {
    "I;16": (lambda g: Image.fromarray(g.astype(np.uint16) * 257), "png"),
    "I;16B": (lambda g: Image.frombytes("I;16B", g.shape[::-1], (g.astype(">u2") * 257).tobytes()), "tiff"),
    "I": (lambda g: Image.fromarray(g.astype(np.int32)), "tiff"),
    "I 16-bit range": (lambda g: Image.fromarray(g.astype(np.int32) * 257), "tiff"),
    "F 0..1": (lambda g: Image.fromarray(g.astype(np.float32) / 255), "tiff"),
    "F 0..255": (lambda g: Image.fromarray(g.astype(np.float32)), "tiff"),
    "P": (lambda g: Image.fromarray(g).convert("P"), "png"),
    "P transparent white": (keyed_palette, "png"),
    "P adaptive colour": (lambda g: Image.fromarray(g).convert("RGB").convert(
        "P", palette=Image.Palette.ADAPTIVE), "png"),
    "LA": (lambda g: Image.fromarray(g).convert("LA"), "png"),
    "RGB": (lambda g: Image.fromarray(g).convert("RGB"), "png"),
    "RGBA transparent": (transparent, "png"),
    "CMYK": (lambda g: Image.fromarray(g).convert("CMYK"), "tiff"),
}


def save(im: Image.Image, path: Path) -> Path:
    im.save(path, **({"compress_level": 1} if path.suffix == ".png" else {}))  # noise compresses slowly
    return path


#: Copies also read large, reduced by 2 (each kind of reduction: 8-bit, premultiplied, float32).
REDUCED = ["I;16", "F 0..1", "P", "RGBA transparent"]


@pytest.mark.parametrize("copy, size", [*(pytest.param(c, (120, 90), id=f"{c}-small") for c in COPIES),
                                        *(pytest.param(c, (2100, 1500), id=f"{c}-reduced") for c in REDUCED)])
def test_every_mode_of_a_digit_gives_the_8_bit_images_input(tmp_path, copy, size):
    g8 = seven(*size)
    want = prepare_file(save(Image.fromarray(g8), tmp_path / "grey.png"))
    make, fmt = COPIES[copy]
    path = save(make(g8), tmp_path / f"copy.{fmt}")
    got = prepare_file(path)
    if size == (120, 90):  # no reduction: the same levels exactly
        assert np.array_equal(got, want)
    else:
        assert np.abs(got - want).max() <= REDUCED_TOLERANCE


def test_a_16_bit_digit_is_not_clipped_to_white(tmp_path):
    """Pillow's own conversion of I;16 to L clips every level above 255 to white: a blank page."""
    g8 = seven(120, 90)
    path = save(Image.fromarray(g8.astype(np.uint16) * 257), tmp_path / "seven16.png")
    assert Image.open(path).convert("L").getextrema() == (seven(120, 90).min(), 255)  # not what is read
    levels = read_grey(path)
    assert np.allclose(levels, g8 / 255, atol=1e-12)


def test_a_1_bit_digit_reads_as_its_black_and_white_8_bit_copy(tmp_path):
    bw = np.where(seven(120, 90) > 128, 255, 0).astype(np.uint8)
    want = prepare_file(save(Image.fromarray(bw), tmp_path / "bw.png"))
    assert np.array_equal(prepare_file(save(Image.fromarray(bw).convert("1"), tmp_path / "bw1.png")), want)


# Each EXIF orientation, and the transposition that stores an upright image so that it displays upright.
T = Image.Transpose
STORED = {2: T.FLIP_LEFT_RIGHT, 3: T.ROTATE_180, 4: T.FLIP_TOP_BOTTOM, 5: T.TRANSPOSE, 6: T.ROTATE_90,
          7: T.TRANSVERSE, 8: T.ROTATE_270}


@pytest.mark.parametrize("orientation", list(STORED))
@pytest.mark.parametrize("fmt", ["png", "jpeg"])
def test_an_exif_rotated_image_reads_as_the_upright_one(tmp_path, fmt, orientation):
    upright = Image.fromarray(seven(128, 96))
    options = {"quality": 95} if fmt == "jpeg" else {}
    upright.save(tmp_path / f"upright.{fmt}", **options)
    exif = Image.Exif()
    exif[0x0112] = orientation
    upright.transpose(STORED[orientation]).save(tmp_path / f"stored.{fmt}", exif=exif, **options)
    want, got = prepare_file(tmp_path / f"upright.{fmt}"), prepare_file(tmp_path / f"stored.{fmt}")
    assert not np.array_equal(prepare_file(tmp_path / f"upright.{fmt}"),
                              prepare(np.asarray(Image.open(tmp_path / f"stored.{fmt}"), np.float64) / 255))
    # Measured: a JPEG's blocks quantised across rather than along move one prepared pixel by 1/256.
    assert np.abs(got - want).max() <= (0 if fmt == "png" else 1 / 256)


@pytest.mark.parametrize("side, pillows", [(12000, "warning"), (20000, "error"), (8193, "none")])
def test_a_header_claiming_too_many_pixels_is_refused_before_decoding(tmp_path, side, pillows):
    """12000 x 12000 is above Pillow's warning, 20000 x 20000 above its error; neither escapes, and
    Pillow's global limit is left as it was."""
    from PIL import Image as PILImage

    limit = PILImage.MAX_IMAGE_PIXELS
    path = tmp_path / "huge.png"
    path.write_bytes(png_claiming(side, side))
    with warnings.catch_warnings(record=True) as caught, pytest.raises(ImageError) as e:
        warnings.simplefilter("always")
        read_grey(path)
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith(f"{path}: ") and f"{MAX_PIXELS:,}" in msg
    assert "smaller image" in msg and "truncated" not in msg
    if pillows != "error":
        assert f"{side}x{side}" in msg
    assert not caught and PILImage.MAX_IMAGE_PIXELS == limit


def test_a_large_jpeg_is_decoded_small_as_its_full_decoding_box_averaged(tmp_path):
    g8 = seven(3000, 4100)
    path = tmp_path / "photo.jpg"
    Image.fromarray(g8).save(path, quality=95)
    levels = read_grey(path)
    assert levels.shape == (750, 1025)  # decoded at 1/4 scale: a longer side of WORK_SIDE to twice that
    assert WORK_SIDE <= max(levels.shape) < 2 * WORK_SIDE
    full = np.asarray(Image.open(path).convert("L"), np.float64) / 255  # the whole JPEG decoded
    box = full.reshape(750, 4, 1025, 4).mean(axis=(1, 3))
    # Measured: libjpeg's scaled decoding is within 1.07/255 of the box average, 1/256 once prepared.
    assert np.abs(levels - box).max() <= 1.1 / 255
    assert np.abs(prepare(levels) - prepare(box)).max() <= 1 / 256


@pytest.mark.parametrize("content, message", [
    (b"not an image", "not an image"),
    (png_claiming(40, 40), "cannot read it"),  # truncated image data
])
def test_unreadable_files_are_refused_in_one_line(tmp_path, content, message):
    path = tmp_path / "bad.png"
    path.write_bytes(content)
    with pytest.raises(ImageError, match=message):
        read_grey(path)


def test_a_float_image_of_non_finite_levels_is_refused(tmp_path):
    f = seven(60, 40).astype(np.float32)
    f[3, 3] = np.inf
    path = save(Image.fromarray(f), tmp_path / "inf.tiff")
    with pytest.raises(ImageError, match="not finite"):
        read_grey(path)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(copy=st.sampled_from(sorted(COPIES)), h=st.integers(24, 2200), w=st.integers(24, 2200),
       seed=st.integers(0, 2 ** 16))
def test_any_mode_and_size_prepares_within_bounds_and_agrees_with_8_bit(copy, h, w, seed):
    """Bounded time and memory: under 5 s, and the peak of numpy's (traced) memory at most 40 bytes per
    pixel read after reduction, whatever the mode (measured: 32, four float64 copies) and 8 MiB (a
    first read's one-off tables); the input the 8-bit copy gives, within the measured tolerance."""
    g8 = seven(h, w, seed)
    make, fmt = COPIES[copy]
    with tempfile.TemporaryDirectory() as d:
        want = prepare_file(save(Image.fromarray(g8), Path(d) / "grey.png"))
        path = save(make(g8), Path(d) / f"copy.{fmt}")
        tracemalloc.start()
        start = time.perf_counter()
        try:
            got = prepare_file(path)
            elapsed = time.perf_counter() - start
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    factor = max(1, max(h, w) // WORK_SIDE)
    read = -(-h // factor) * -(-w // factor)
    assert elapsed < 5 and peak <= 40 * read + (8 << 20)
    assert np.abs(got - want).max() <= REDUCED_TOLERANCE

