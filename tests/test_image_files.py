"""``dlpy35.data.image_files``: any image file's grey levels, read within bounded memory and time.

Every copy of one digit -- 16-bit, 32-bit, float, paletted, transparent, CMYK, rotated by its EXIF
tag, large or small -- must give the prediction input the 8-bit grey PNG gives; a file claiming
too many pixels is refused from its header.
"""

from __future__ import annotations

import re
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


def test_a_header_of_exactly_the_most_pixels_is_decoded(tmp_path):
    """8192 x 8192 is MAX_PIXELS itself: not refused for its size, so decoding fails on the truncated data."""
    path = tmp_path / "edge.png"
    path.write_bytes(png_claiming(8192, 8192))
    assert 8192 * 8192 == MAX_PIXELS
    with pytest.raises(ImageError, match="cannot read it"):
        read_grey(path)


def test_a_jpeg_is_decoded_at_the_smallest_scale_keeping_its_longer_side_at_least_the_work_side(tmp_path):
    """3072 x 16: 1/2 (1536 pixels) keeps the longer side at WORK_SIDE or more, 1/4 would not; 1536 is below
    2 * WORK_SIDE, so nothing more is reduced."""
    g8 = np.random.default_rng(2).integers(0, 256, (16, 3 * WORK_SIDE)).astype(np.uint8)
    path = tmp_path / "strip.jpg"
    Image.fromarray(g8).save(path, quality=95)
    assert read_grey(path).shape == (8, 3 * WORK_SIDE // 2)


@pytest.mark.parametrize("shape", [(2 * WORK_SIDE, 2), (2, 2 * WORK_SIDE)])
def test_a_jpeg_one_pixel_across_at_half_scale_is_still_decoded_at_half_scale(tmp_path, shape):
    """2 x 2048: libjpeg's half-scale decoding (1 x 1024), whose levels differ from the box average of the
    full decoding (measured: 140 of these 1024 pixels, by 1/255)."""
    g8 = np.random.default_rng(4).integers(0, 256, shape).astype(np.uint8)
    path = tmp_path / "thread.jpg"
    Image.fromarray(g8).save(path, quality=95)
    with Image.open(path) as im:
        im.draft("L", (max(1, shape[1] // 2), max(1, shape[0] // 2)))
        half = np.asarray(im)
    with Image.open(path) as im:
        boxed = np.asarray(im.reduce(2))
    assert half.shape == boxed.shape == (shape[0] // 2, shape[1] // 2) and not np.array_equal(half, boxed)
    assert np.array_equal(read_grey(path), half / 255)


def test_a_colour_jpeg_reads_as_its_luma_plane(tmp_path):
    """libjpeg's Y plane, as its YCbCr decoding gives it; not the luma of the RGB it would decode, whose
    clamping of out-of-gamut colours moves some levels (22 of these 1536 pixels, by up to 10/255)."""
    rgb = np.random.default_rng(3).integers(0, 256, (32, 48, 3)).astype(np.uint8)
    path = tmp_path / "colour.jpg"
    Image.fromarray(rgb).save(path, quality=90)
    with Image.open(path) as im:
        im.draft("YCbCr", im.size)
        y = np.asarray(im)[..., 0]
    assert np.array_equal(read_grey(path), y / 255)


def test_pillows_warnings_about_a_damaged_file_still_reach_the_caller(tmp_path):
    """Only Pillow's size warning is silenced (the size is checked here); a damaged EXIF block is reported."""
    tiff = b"MM\x00*\x00\x00\x00\x08\x00\x01\x01\x0f\x00\x02\x00\x00\x00\x40\x00\x00\x00\x30"  # cut short
    path = tmp_path / "damaged.jpg"
    Image.fromarray(np.full((8, 8), 200, np.uint8)).save(path, exif=b"Exif\x00\x00" + tiff)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert read_grey(path).shape == (8, 8)
    assert any("Corrupt EXIF data" in str(w.message) for w in caught)


@pytest.mark.parametrize("content, message", [
    (b"not an image", "not an image"),
    (png_claiming(40, 40), "cannot read it"),  # truncated image data
])
def test_unreadable_files_are_refused_in_one_line(tmp_path, content, message):
    path = tmp_path / "bad.png"
    path.write_bytes(content)
    with pytest.raises(ImageError, match=message):
        read_grey(path)


def test_a_float_image_of_non_finite_levels_is_refused_naming_the_file(tmp_path):
    f = seven(60, 40).astype(np.float32)
    f[3, 3] = np.inf
    path = save(Image.fromarray(f), tmp_path / "inf.tiff")
    with pytest.raises(ImageError, match=f"^{re.escape(str(path))}: holds levels that are not finite"):
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



#: Integer (mode I) and float (mode F) levels, and the black and white the module's rule gives them (4.):
#: the least of 1 (floats only), 255, 65535 and 2**32 - 1 holding the largest level, from the least level
#: when it is negative, else from 0.
WIDE = [
    ("I 0 and 1: 255, not 1", np.int32, [0, 1, 1, 0], 0.0, 255.0),
    ("I 20..200: from 0, not 20", np.int32, [20, 100, 200, 50], 0.0, 255.0),
    ("I 255", np.int32, [0, 255, 128, 7], 0.0, 255.0),
    ("I 256", np.int32, [0, 256, 128, 7], 0.0, 65535.0),
    ("I 65535", np.int32, [0, 65535, 300, 7], 0.0, 65535.0),
    ("I -100..155", np.int32, [-100, 155, 0, 20], -100.0, 255.0),
    ("F 0..0.5", np.float32, [0.0, 0.5, 0.25, 0.125], 0.0, 1.0),
    ("F -0.5..0.5", np.float32, [-0.5, 0.5, 0.0, 0.25], -0.5, 1.0),
    ("F 2**31", np.float32, [0.0, 2.0 ** 31, 2.0 ** 20, 3.0], 0.0, 2.0 ** 32 - 1),
    ("F 1e10: its own largest", np.float32, [0.0, 1e10, 5e9, 1e3], 0.0, float(np.float32(1e10))),
]


@pytest.mark.parametrize("name, dtype, values, black, white", WIDE, ids=[w[0] for w in WIDE])
def test_wide_levels_are_scaled_by_the_range_their_largest_level_falls_in(tmp_path, name, dtype, values,
                                                                          black, white):
    levels = np.array(values, dtype=dtype).reshape(2, 2)
    got = read_grey(save(Image.fromarray(levels), tmp_path / "wide.tiff"))
    want = (levels.astype(np.float64) - black) / (white - black)
    assert got.dtype == np.float64 and got.shape == (2, 2)
    np.testing.assert_allclose(got, want, rtol=1e-15, atol=0)


def test_an_integer_level_that_float32_rounds_below_the_least_reads_as_black(tmp_path):
    """-(2**24 + 3), the least level, is -(2**24 + 4) in float32: a level below black, read as black."""
    levels = np.array([[-(2 ** 24 + 3), 0], [100, 200]], dtype=np.int32)
    got = read_grey(save(Image.fromarray(levels), tmp_path / "deep.tiff"))
    assert got[0, 0] == 0.0 and got.min() >= 0.0


@pytest.mark.parametrize("mode", ["P", "L"])
def test_a_colour_key_of_any_level_is_white_paper(tmp_path, mode):
    """A transparent level or palette entry (PNG tRNS) is paper whatever its colour: here the ink's 40."""
    g8 = np.array([[40, 200, 40], [255, 40, 90], [0, 40, 120]], dtype=np.uint8)
    im = Image.fromarray(g8).convert(mode)  # a grey palette: entry k is level k
    im.info["transparency"] = 40
    got = read_grey(save(im, tmp_path / "keyed.png"))
    np.testing.assert_allclose(got, np.where(g8 == 40, 255, g8) / 255, rtol=0, atol=1e-12)


@pytest.mark.parametrize("mode, fmt", [("LA", "png"), ("PA", "tiff")])
def test_partly_transparent_grey_and_palette_images_are_composed_on_white_paper(tmp_path, mode, fmt):
    g8 = np.array([[0, 40, 200], [255, 90, 10]], dtype=np.uint8)
    a8 = np.array([[255, 128, 0], [255, 60, 200]], dtype=np.uint8)
    im = Image.fromarray(g8).convert("P" if mode == "PA" else "L").convert(mode)
    im.putalpha(Image.fromarray(a8))
    got = read_grey(save(im, tmp_path / f"ink.{fmt}"))
    level, alpha = g8 / 255, a8 / 255
    np.testing.assert_allclose(got, level * alpha + (1 - alpha), rtol=0, atol=1e-12)


#: A long thin page of each kind of reduction (8-bit, premultiplied, 16-bit and float through float32).
THIN = {"L": (lambda g: Image.fromarray(g), "png"),
        "RGBA": (lambda g: Image.fromarray(g).convert("RGBA"), "png"),
        "I;16": (lambda g: Image.fromarray(g.astype(np.uint16) * 257), "png"),
        "F": (lambda g: Image.fromarray(g.astype(np.float32) / 255), "tiff")}


@pytest.mark.parametrize("copy", list(THIN))
@pytest.mark.parametrize("width, factor", [(2 * WORK_SIDE, 2), (3 * WORK_SIDE + 1, 3)])
def test_a_page_twice_the_work_side_or_more_is_box_averaged_by_the_whole_factor(tmp_path, copy, width,
                                                                                factor):
    """WORK_SIDE to 2 * WORK_SIDE - 1 pixels on its longer side: each pixel the mean of a factor x factor
    block (the last column's block is cut short by the page's edge); measured: within 0.67/255 of the
    mean for 8-bit 3 x 3 blocks (Pillow's fixed-point division), 0.5/255 for 2 x 2."""
    g8 = np.random.default_rng(factor).integers(0, 256, (2 * factor, width)).astype(np.uint8)
    make, fmt = THIN[copy]
    got = read_grey(save(make(g8), tmp_path / f"thin.{fmt}"))
    n = -(-width // factor)
    blocks = [g8[:, j * factor:(j + 1) * factor].reshape(2, factor, -1).mean(axis=(1, 2)) for j in range(n)]
    box = np.stack(blocks, axis=1) / 255
    assert got.shape == (2, n) and np.abs(got - box).max() <= 0.7 / 255


def test_a_page_just_below_twice_the_work_side_is_read_whole(tmp_path):
    g8 = np.random.default_rng(1).integers(0, 256, (3, 2 * WORK_SIDE - 1)).astype(np.uint8)
    got = read_grey(save(Image.fromarray(g8), tmp_path / "thin.png"))
    assert np.array_equal(got, g8 / 255)


def test_a_lab_image_reads_by_its_lightness(tmp_path):
    """Neutral CIELAB greys (a = b = 128 in Pillow's 8-bit LAB) read as sRGB levels of their L*:
    Y = ((L* + 16) / 116) ** 3, then sRGB's transfer curve; to the 8-bit rounding of Pillow's conversion."""
    lightness = np.array([[60, 100, 150], [200, 230, 255]], dtype=np.uint8)
    neutral = Image.fromarray(np.full_like(lightness, 128))
    path = tmp_path / "lab.tiff"
    Image.merge("LAB", [Image.fromarray(lightness), neutral, neutral]).save(path)
    l_star = lightness / 255 * 100
    y = ((l_star + 16) / 116) ** 3
    srgb = np.where(y <= 0.0031308, 12.92 * y, 1.055 * y ** (1 / 2.4) - 0.055)
    assert np.abs(read_grey(path) - srgb).max() <= 1.5 / 255
