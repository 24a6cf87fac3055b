"""``dlpy35.data.digit_images``: a user's digit image prepared as MNIST's were, checked against MNIST's own
digits."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from dlpy35.data.digit_images import (
    BOX,
    CENTRE,
    SIDE,
    ImageError,
    prepare,
    prepare_file,
    prepare_files,
    read_grey,
    to_png,
)


def disk(h, w, cy, cx, r):
    """A grey page (H, W), dark ink: a filled disc of radius r at (cy, cx) on white paper."""
    yy, xx = np.mgrid[:h, :w]
    return np.where((yy - cy) ** 2 + (xx - cx) ** 2 <= r * r, 0.0, 1.0)


def test_the_border_is_the_outermost_ring_of_pixels_each_once():
    from dlpy35.data.digit_images import _border

    for h, w in ((3, 3), (5, 7), (8, 4)):
        a = np.arange(h * w, dtype=np.float64).reshape(h, w)
        yy, xx = np.mgrid[:h, :w]
        ring = a[(yy == 0) | (yy == h - 1) | (xx == 0) | (xx == w - 1)]
        assert sorted(_border(a)) == sorted(ring)


def test_dark_ink_on_light_paper_and_the_reverse_give_the_same_pixels():
    page = disk(90, 60, 40, 25, 12)
    assert np.array_equal(prepare(page), prepare(1.0 - page))


def test_the_digit_fills_20_pixels_and_its_centre_of_mass_is_where_mnist_puts_it():
    for page in (disk(300, 200, 50, 150, 30), disk(41, 97, 20, 10, 6)):  # off-centre, small and large pages
        out = prepare(page).reshape(SIDE, SIDE).astype(np.float64)
        rows, cols = np.flatnonzero(out.any(axis=1)), np.flatnonzero(out.any(axis=0))
        assert rows[-1] - rows[0] + 1 == BOX and cols[-1] - cols[0] + 1 == BOX  # a disc fills the box
        yy, xx = np.mgrid[:SIDE, :SIDE]
        cy, cx = (out * yy).sum() / out.sum(), (out * xx).sum() / out.sum()
        assert CENTRE == 14 and abs(cy - CENTRE) <= 0.5 and abs(cx - CENTRE) <= 0.5


def test_levels_are_whole_bytes_over_256_as_dlpy35_mnist_is():
    rng = np.random.default_rng(0)
    page = np.clip(disk(64, 64, 30, 34, 20) + rng.normal(0, 0.05, (64, 64)), 0, 1)
    out = prepare(page).astype(np.float64)
    k = out * 256
    assert np.array_equal(k, np.round(k)) and out.min() == 0.0 and out.max() == 255 / 256


def test_a_grey_paper_photo_is_normalised_to_black_paper():
    page = 0.7 + 0.25 * (disk(80, 80, 40, 40, 15) - 1.0) * 2  # paper at 0.7, ink at 0.2
    out = prepare(page).reshape(SIDE, SIDE)
    assert out[0, 0] == 0.0 and out.max() == 255 / 256  # paper to 0, darkest ink to the top


def test_a_tall_stroke_keeps_its_aspect_ratio():
    page = np.ones((200, 200))
    page[20:180, 95:105] = 0.0  # a "1": 160 tall, 10 wide
    out = prepare(page).reshape(SIDE, SIDE)
    rows, cols = np.flatnonzero(out.any(axis=1)), np.flatnonzero(out.any(axis=0))
    assert rows[-1] - rows[0] + 1 == BOX and cols[-1] - cols[0] + 1 <= 3


@pytest.mark.parametrize("page", [np.ones((50, 50)), np.full((50, 50), 0.3),
                                  np.where(np.arange(2500).reshape(50, 50) % 7 == 0, 0.96, 1.0)],
                         ids=["white", "grey", "faint-noise"])
def test_a_blank_image_is_refused(page):
    with pytest.raises(ImageError, match="blank"):
        prepare(page, "page.png")


@pytest.mark.parametrize("page", [np.ones((5,)), np.ones((2, 2)), np.full((9, 9), 2.0)])
def test_not_grey_levels_of_an_image_is_refused(page):
    with pytest.raises(ImageError, match="grey levels"):
        prepare(page)


def test_an_image_of_3_x_3_is_the_smallest_prepared_and_errors_name_an_unnamed_one_image():
    page = np.zeros((3, 3))
    page[1, 1] = 1.0
    flat = prepare(page)
    assert flat.shape == (SIDE * SIDE,) and flat.dtype == np.float32
    out = flat.reshape(SIDE, SIDE)
    assert np.count_nonzero(out) == BOX * BOX  # one pixel of ink, enlarged to fill the box
    with pytest.raises(ImageError, match="^image: blank"):
        prepare(np.zeros((5, 5)))


def test_the_paper_is_the_lower_median_of_an_even_border():
    """A 4 x 4 page whose 12 border pixels are six at 0 and six at 0.4: the lower median, 0, is the paper,
    so the 0.4 pixels are ink -- as on the same page framed by a ring of unmistakable paper (0)."""
    page = np.zeros((4, 4))
    page[0, :] = 0.4
    page[1:3, 0] = 0.4
    page[1:3, 1:3] = 1.0
    framed = np.pad(page, 1)
    assert np.array_equal(prepare(page), prepare(framed))


def test_a_border_of_mean_exactly_one_half_is_dark_paper():
    """Six border pixels at 0 and six at 1: read as light ink on dark paper, as a border just below 1/2."""
    page = np.zeros((4, 4))
    page[0, :] = 1.0
    page[1:3, 0] = 1.0
    page[1:3, 1:3] = [[1.0, 0.9], [0.7, 0.6]]
    nudged = page.copy()
    nudged[0, 0] = 1.0 - 1e-9
    assert np.abs(prepare(page) - prepare(nudged)).max() <= 1 / 256  # a level may round the other way


def test_ink_exactly_the_least_contrast_from_the_paper_is_a_digit():
    page = np.zeros((20, 20))
    page[5:15, 8:12] = 0.1  # light ink 0.1 above black paper: CONTRAST itself
    assert prepare(page).max() == 255 / 256


def test_a_level_exactly_at_the_ink_threshold_is_not_cropped_as_ink():
    page = np.zeros((30, 30))
    page[10:25, 12:20] = 1.0
    faint = page.copy()
    faint[2, 3] = 0.25  # INK after normalisation (paper 0, darkest 1), above and left of the digit
    assert np.array_equal(prepare(faint), prepare(page))


@pytest.mark.parametrize("corner", ["bottom-right", "top-left"])
def test_a_digit_whose_mass_lies_in_a_corner_stops_at_the_frames_edges(corner):
    """A heavy blob in one corner of the digit's box, a thin stroke to the other: its centre of mass cannot
    reach (14, 14) without ink leaving the frame, so the box touches the two edges away from the blob."""
    page = np.zeros((60, 60))
    page[40:50, 40:50] = 1.0
    for k in range(10, 40):
        page[k, k] = 1.0
    if corner == "top-left":
        page = page[::-1, ::-1]
    out = prepare(page).reshape(SIDE, SIDE)
    rows, cols = np.flatnonzero(out.any(axis=1)), np.flatnonzero(out.any(axis=0))
    end = 0 if corner == "bottom-right" else -1  # the box's first row and column, or its last
    assert len(rows) == len(cols) == BOX and rows[end] == cols[end] == (0 if end == 0 else SIDE - 1)


def test_a_one_pixel_line_stays_one_pixel_thin():
    page = np.zeros((20, 120))
    page[10, 10:110] = 1.0  # 1 x 100: 0.2 of a pixel tall at 20 wide, kept as one row
    out = prepare(page).reshape(SIDE, SIDE)
    rows, cols = np.flatnonzero(out.any(axis=1)), np.flatnonzero(out.any(axis=0))
    assert len(rows) == 1 and len(cols) == BOX


def test_float16_and_float32_levels_are_prepared_as_their_float64_values():
    rng = np.random.default_rng(5)
    page = np.clip(disk(64, 48, 30, 24, 14) + rng.normal(0, 0.1, (64, 48)), 0, 1)
    for dtype in (np.float16, np.float32):
        low = page.astype(dtype)
        assert np.array_equal(prepare(low), prepare(low.astype(np.float64)))


def test_files_png_jpeg_rgba_and_not_an_image(tmp_path):
    page = disk(60, 40, 30, 20, 10)
    png, jpg, rgba = tmp_path / "d.png", tmp_path / "d.jpg", tmp_path / "t.png"
    Image.fromarray((page * 255).astype(np.uint8)).save(png)
    Image.fromarray((page * 255).astype(np.uint8)).convert("RGB").save(jpg, quality=95)
    # Ink on a transparent page (what drawing programs export): transparency is paper.
    alpha = ((1 - page) * 255).astype(np.uint8)
    Image.fromarray(np.dstack([np.zeros_like(alpha)] * 3 + [alpha])).save(rgba)
    expected = prepare(page)
    assert np.array_equal(prepare_file(png), expected)
    assert np.array_equal(prepare_file(rgba), expected)
    # JPEG's ringing may move the crop by a pixel: the same image, give or take that shift.
    jpeg = prepare_file(jpg).reshape(SIDE, SIDE)
    shifts = [np.abs(np.roll(jpeg, (dy, dx), (0, 1)) - expected.reshape(SIDE, SIDE)).max()
              for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
    assert min(shifts) <= 0.1
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    with pytest.raises(ImageError, match="not an image"):
        read_grey(text)
    with pytest.raises(ImageError, match="cannot read"):
        read_grey(tmp_path / "missing.png")


def test_to_png_writes_the_prepared_levels_back_exactly(tmp_path):
    out = prepare(disk(50, 50, 25, 25, 9))
    to_png(out, tmp_path / "p.png")
    levels = np.asarray(Image.open(tmp_path / "p.png"))
    assert levels.shape == (SIDE, SIDE) and np.array_equal(levels / 256, out.reshape(SIDE, SIDE))


def test_to_png_clamps_levels_outside_a_byte_to_black_and_white(tmp_path):
    pixels = np.zeros(SIDE * SIDE)
    pixels[:4] = [-0.5, 1.0, 1.5, 255 / 256]  # below black; 256/256, 384/256 and 255/256: white
    to_png(pixels, tmp_path / "p.png")
    levels = np.asarray(Image.open(tmp_path / "p.png")).reshape(-1)
    assert levels[:4].tolist() == [0, 255, 255, 255] and not levels[4:].any()


def test_prepare_files_stacks_each_files_pixels_in_order_and_names_a_bad_one(tmp_path):
    pages = [disk(60, 40, 30, 20, 10), disk(50, 50, 10, 40, 8)]
    paths = [tmp_path / "a.png", tmp_path / "b.png"]
    for page, path in zip(pages, paths):
        Image.fromarray((page * 255).astype(np.uint8)).save(path)
    got = prepare_files(p for p in reversed(paths))  # any iterable of paths
    assert got.shape == (2, SIDE * SIDE) and got.dtype == np.float32
    assert np.array_equal(got, np.stack([prepare(pages[1]), prepare(pages[0])]))
    blank = tmp_path / "blank.png"
    Image.fromarray(np.full((30, 30), 255, np.uint8)).save(blank)
    with pytest.raises(ImageError, match=f"^{blank}: blank"):
        prepare_files([paths[0], blank])
    with pytest.raises(ImageError, match="no image files given"):
        prepare_files([])


def test_mnist_digits_printed_dark_on_light_and_enlarged_come_back_close_to_themselves(mnist):
    """MNIST's test digits, inverted and enlarged 5x, prepared again: the same digit, near the same pixels.

    They cannot come back exactly (MNIST fitted its digits into 20x20 from a finer scan), so the check
    is on a trained network's answers in test_commands.py, and here on the pixels: most of the ink in place.
    """
    _, _, (x, _) = mnist
    overlaps = []
    for row in x[:100]:
        digit = row.reshape(SIDE, SIDE).astype(np.float64) * 256 / 255
        again = prepare(np.kron(1.0 - digit, np.ones((5, 5)))).reshape(SIDE, SIDE)
        overlaps.append(np.minimum(again, digit).sum() / np.maximum(again, digit).sum())
    assert np.median(overlaps) > 0.6


# -- a thick digit that fills its page: prepare against a step-by-step reference ------------------

def thick_zero():
    """A "0" 16 pixels thick, 90 x 62 on a 100 x 70 page: its box fills 80% of the page."""
    yy, xx = np.mgrid[:100, :70]
    cy, cx, ry, rx = 49.5, 34.5, 45.0, 31.0
    outer = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1
    inner = ((yy - cy) / (ry - 16)) ** 2 + ((xx - cx) / (rx - 16)) ** 2 <= 1
    return np.where(outer & ~inner, 0.0, 1.0)


def bold_eight():
    """An "8" so bold that ink covers 88% of its 92 x 66 box (97% of the 96 x 70 page)."""
    page = np.ones((96, 70))
    page[2:94, 2:68] = 0.0
    page[20:34, 28:42] = page[60:76, 26:44] = 1.0  # the two counters
    return page


def heavy_seven():
    """A "7" whose bar is 40 of its 90 rows: its centre of mass lies so high that MNIST's centring
    would push the 20 x 14 box past the 28 x 28 frame; the box must stop at the frame."""
    page = np.ones((100, 70))
    page[5:45, 4:67] = 0.0
    page[45:95, 40:44] = 0.0
    return page


def reference_preparation(page):
    """MNIST's preparation, step by step, apart from dlpy35.data.digit_images, for pages of black ink on
    white paper: crop to the ink, fit the box's longer side to 20 keeping the aspect ratio (area
    means, by enlarging each pixel nh x nw times and averaging h x w blocks), put the centre of mass
    at row and column 14 (rounded to whole pixels, a half up whatever its last bits) without leaving the
    28 x 28 frame, bytes / 256.
    Returns the 28 x 28 pixels, the fitted box and its unquantised sum."""
    ink = 1.0 - page
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    crop = ink[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    h, w = crop.shape
    nh, nw = round(20 * h / max(h, w)), round(20 * w / max(h, w))
    small = np.repeat(np.repeat(crop, nh, axis=0), nw, axis=1).reshape(nh, h, nw, w).mean(axis=(1, 3))
    yy, xx = np.mgrid[:nh, :nw]
    cy, cx = (small * yy).sum() / small.sum(), (small * xx).sum() / small.sum()
    top = int(np.clip(np.floor(14 - cy + 0.5 + 1e-9), 0, 28 - nh))
    left = int(np.clip(np.floor(14 - cx + 0.5 + 1e-9), 0, 28 - nw))
    out = np.zeros((28, 28))
    out[top:top + nh, left:left + nw] = small
    return np.floor(out * 255 + 0.5) / 256, (nh, nw), small.sum()


@pytest.mark.parametrize("page, bottom",
                         [(thick_zero(), False), (bold_eight(), False), (heavy_seven(), True)],
                         ids=["zero", "eight", "seven"])
def test_a_thick_digit_filling_its_page_is_prepared_as_mnist_step_by_step(page, bottom):
    want, (nh, nw), ink = reference_preparation(page)
    got = prepare(page).reshape(SIDE, SIDE).astype(np.float64)
    # The reference's other order of float64 sums may round a level that lies on a half the other way.
    assert np.abs(got - want).max() <= 1 / 256 and np.count_nonzero(got != want) <= 3
    rows, cols = np.flatnonzero(got.any(axis=1)), np.flatnonzero(got.any(axis=0))
    assert (rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1) == (nh, nw) and max(nh, nw) == BOX
    assert abs(got.sum() - ink * 255 / 256) <= 0.5 * nh * nw / 256  # no ink cut off: only the rounding
    yy, xx = np.mgrid[:SIDE, :SIDE]
    cy, cx = (got * yy).sum() / got.sum(), (got * xx).sum() / got.sum()
    assert abs(cx - CENTRE) <= 1
    if bottom:  # the seven's box stops at the frame's last row, its centre of mass above row 14
        assert rows[-1] == SIDE - 1 and 12 < cy < CENTRE - 1
    else:
        assert abs(cy - CENTRE) <= 1 and rows[-1] < SIDE - 1


@pytest.mark.parametrize("hair", [-1e-12, 0.0, 1e-12])
def test_a_centre_of_mass_on_a_half_pixel_rounds_up_whatever_its_last_bits(monkeypatch, hair):
    """A symmetric digit's centre lies on a half pixel; other CPUs' BLAS kernels round the resampled
    sums a hair to either side. The box must land on the same pixel for all three."""
    from dlpy35.data import digit_images

    real = digit_images._area_weights

    def nudged(n_out, n_in):  # a 14-wide box's column weights, its centre moved by `hair` pixels
        w = real(n_out, n_in)
        # 227.5 = sum over k of (k - 6.5)^2: the nudge moves the mean column by exactly `hair`
        return w if n_out != 14 else w + hair * np.outer(np.arange(14) - 6.5, w.sum(axis=0)) / 227.5

    page = np.zeros((92, 66))  # a solid box: its centre of mass is its middle, (9.5, 6.5) fitted to 20 x 14
    monkeypatch.setattr(digit_images, "_area_weights", nudged)
    got = prepare(np.pad(page, 4, constant_values=1.0)).reshape(SIDE, SIDE)
    cols = np.flatnonzero(got.any(axis=0))
    assert (cols[0], cols[-1]) == (8, 21)  # 14 - 6.5 = 7.5, a half: up to 8
