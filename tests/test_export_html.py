"""The exported web page (:mod:`dlpy35.export.web_page`): an offline file whose script agrees with Python.

The file's content is checked in Python; the rest runs the page in headless Chromium
(Debian's chromium and chromium-driver, through Selenium; skipped without them): its
``window.dlpy35.predict`` against the networks' own forward pass, its
``window.dlpy35.prepare`` against :func:`dlpy35.data.digit_images.prepare`, and drawing on its canvas
with a real pointer.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re

import numpy as np
import pytest
from browser_helpers import NEEDS, SEVEN, draw, draw_and_save, missing, next_frame, open_page, start_chromium
from PIL import Image, ImageDraw
from selenium.webdriver.common.actions import interaction
from selenium.webdriver.common.actions.action_builder import ActionBuilder
from selenium.webdriver.common.actions.pointer_input import PointerInput
from selenium.webdriver.common.by import By

from dlpy35 import network2
from dlpy35.data import digit_images
from dlpy35.export.plain_layers import ConvPool, Dense, portable_layers
from dlpy35.export.web_page import page_html, write_html
from dlpy35.network3 import ConvPoolLayer, FullyConnectedLayer, Network, ReLU, SoftmaxLayer

N_CHECK = 200  # test images whose outputs the page must reproduce


# -- networks and their pages -------------------------------------------------------------------

@pytest.fixture(scope="module")
def net2(mnist):
    """network2 [784, 30, 10], one epoch on 5,000 images."""
    (x, y), _, _ = mnist
    net = network2.Network([784, 30, 10], seed=0, mode="JAX", device="cpu")
    net.SGD((x[:5000], y[:5000]), 1, 10, 0.5, verbose=False)
    return net


@pytest.fixture(scope="module")
def conv(mnist):
    """network3: two ReLU convolution-pooling layers (the second reads 4 maps), dropout 0.5, softmax."""
    (x, y), _, _ = mnist
    mb = 10
    net = Network([ConvPoolLayer((4, 1, 5, 5), (mb, 1, 28, 28), (2, 2), ReLU),
                   ConvPoolLayer((6, 4, 5, 5), (mb, 4, 12, 12), (2, 2), ReLU),
                   FullyConnectedLayer(6 * 4 * 4, 20, ReLU, p_dropout=0.5),
                   SoftmaxLayer(20, 10, p_dropout=0.5)], mb, seed=0, mode="JAX", device="cpu")
    before = [v.copy() for v in net.trainer.values()]
    net.SGD((x[:1000], y[:1000]), 1, mb, 0.3, verbose=False)
    assert all(np.any(a != b) for a, b in zip(before, net.trainer.values())), "a layer did not train"
    return net


@pytest.fixture(scope="module")
def page2(net2, tmp_path_factory):
    """net2's page."""
    path = tmp_path_factory.mktemp("page2") / "digits.html"
    write_html(portable_layers(net2), path, title="network2 <784, 30, 10>")
    return path


@pytest.fixture(scope="module")
def driver(tmp_path_factory):
    """One headless Chromium for the module, with a fresh profile; quit at the end."""
    if missing():
        pytest.skip(NEEDS)
    browser = start_chromium(tmp_path_factory.mktemp("chromium-profile"))
    yield browser
    browser.quit()


# -- the file ------------------------------------------------------------------------------

def test_the_page_is_one_file_that_loads_nothing_and_holds_the_weights(net2, tmp_path):
    layers = portable_layers(net2)
    write_html(layers, tmp_path / "digits.html", title='7 & "more" <b>')
    assert sorted(p.name for p in tmp_path.iterdir()) == ["digits.html"]  # no temp file, no side files
    text = (tmp_path / "digits.html").read_text(encoding="utf-8")
    assert text == page_html(layers, title='7 & "more" <b>')
    # nothing to load: no URL, no src= or <link>, no CSS import or url()
    for needle in ("http://", "https://", "//cdn", "src=", "<link", "@import", "url(", "fetch(",
                   "XMLHttpRequest", "WebSocket", "import("):
        assert needle.lower() not in text.lower(), needle
    assert "<title>7 &amp; &quot;more&quot; &lt;b&gt;</title>" in text
    # the weights, as base64 of little-endian float32, decode to the network's
    model = json.loads(re.search(r'<script id="dlpy35-model" type="application/json">(.*?)</script>',
                                 text, re.S).group(1))
    assert [r["type"] for r in model["layers"]] == ["dense", "dense"] and model["n_out"] == 10
    want = {"ink": digit_images.INK, "contrast": digit_images.CONTRAST, "box": digit_images.BOX,
            "side": digit_images.SIDE, "centre": digit_images.CENTRE}
    assert model["prepare"] == want  # the script's constants
    for layer, record in zip(layers, model["layers"]):
        assert base64.b64encode(layer.w.astype("<f4").tobytes()).decode() in text
        w = np.frombuffer(base64.b64decode(record["w"]), "<f4").reshape(layer.w.shape)
        b = np.frombuffer(base64.b64decode(record["b"]), "<f4")
        np.testing.assert_array_equal(w, layer.w)
        np.testing.assert_array_equal(b, layer.b)
    # the Content-Security-Policy forbids everything but the page's own script, which it names by hash
    script = re.search(r"<script>(.*?)</script>", text, re.S).group(1)
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    assert f"default-src 'none'; script-src 'sha256-{digest}'" in text


@pytest.mark.parametrize("layers, match", [
    ([], r"no layers"),
    (["not a layer"], r"expected a dlpy35.export.plain_layers Dense or ConvPool"),
    ([Dense(np.zeros((100, 10), np.float32), np.zeros(10, np.float32), "softmax")], r"reads 1 x 10 x 10"),
    ([Dense(np.zeros((784, 10), np.float32), np.zeros(10, np.float32), "softmax"),
      Dense(np.zeros((20, 10), np.float32), np.zeros(10, np.float32), "softmax")], r"layer 1 \(Dense\)"),
    ([Dense(np.full((784, 10), np.nan, np.float32), np.zeros(10, np.float32), "softmax")], r"not all finite"),
    ([Dense(np.zeros((784, 10), np.float32), np.zeros(10, np.float32), "swish")], r"unknown activation"),
    ([ConvPool(np.zeros((2, 3, 5, 5), np.float32), np.zeros(2, np.float32), (3, 28, 28), (2, 2), "relu")],
     r"reads 3 x 28 x 28"),
])
def test_what_the_page_cannot_show_is_refused_and_nothing_is_written(layers, match, tmp_path):
    with pytest.raises((TypeError, ValueError), match=match):
        write_html(layers, tmp_path / "digits.html")
    assert not any(tmp_path.iterdir())


# -- the forward pass ----------------------------------------------------------------------

@pytest.mark.parametrize("name", ["net2", "conv"])
def test_predict_in_the_browser_is_the_networks_forward_pass(name, request, mnist, driver, tmp_path):
    net = request.getfixturevalue(name)
    _, _, (test_x, _) = mnist
    write_html(portable_layers(net), tmp_path / "digits.html")
    open_page(driver, tmp_path / "digits.html")
    # it loaded nothing, and nothing went wrong (a Content-Security-Policy violation is logged as SEVERE)
    assert driver.execute_script("return performance.getEntriesByType('resource').length") == 0
    assert [e for e in driver.get_log("browser") if e["level"] == "SEVERE"] == []
    got = np.array(driver.execute_script("return arguments[0].map(p => window.dlpy35.predict(p))",
                                         test_x[:N_CHECK].tolist()))
    want = net.trainer.forward(test_x[:N_CHECK])
    assert got.shape == want.shape == (N_CHECK, 10)
    np.testing.assert_array_equal(got.argmax(axis=1), want.argmax(axis=1))
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-4)


# -- the MNIST preparation -----------------------------------------------------------------

def _resized(grey, height, width, resample=Image.Resampling.BILINEAR):
    """`grey` resampled by Pillow (in float32) to height x width, levels clipped to [0, 1]."""
    image = Image.fromarray(np.asarray(grey, np.float32), mode="F").resize((width, height), resample)
    return np.clip(np.asarray(image, np.float64), 0.0, 1.0)


def _pen_drawing(size=200, paper=0.8, ink=0.25, width=14):
    """A 4 drawn with a round pen, grey ink on grey paper."""
    image = Image.new("L", (size, size), round(paper * 255))
    pen = ImageDraw.Draw(image)
    pen.line([(120, 30), (40, 120), (150, 120)], fill=round(ink * 255), width=width, joint="curve")
    pen.line([(125, 70), (125, 180)], fill=round(ink * 255), width=width)
    return np.asarray(image, np.float64) / 255.0


def _grey_images(test_x):
    """Named grey images of digits, as a user's photos and drawings come."""
    digit = [test_x[i].astype(np.float64).reshape(28, 28) for i in range(6)]
    rng = np.random.default_rng(0)
    thin = Image.new("L", (48, 64), 255)
    ImageDraw.Draw(thin).line([(10, 5), (30, 58)], fill=0, width=1)
    page = np.clip(0.92 + rng.normal(0.0, 0.01, (300, 400)), 0.0, 1.0)  # noisy paper, digit off-centre
    page[20:104, 30:114] = np.minimum(page[20:104, 30:114], np.kron(1.0 - digit[4], np.ones((3, 3))))
    return {
        "inverted, 97 x 61": _resized(1.0 - digit[0], 97, 61),
        "inverted, kron 3 x 2": np.kron(1.0 - digit[1], np.ones((3, 2))),
        "inverted, 50 x 45 lanczos": _resized(1.0 - digit[2], 50, 45, Image.Resampling.LANCZOS),
        "as MNIST, light on dark": digit[3],
        "thin stroke": np.asarray(thin, np.float64) / 255.0,
        "off-centre in 300 x 400": page,
        "pen on grey paper": _pen_drawing(),
        "inverted, 131 x 173": _resized(1.0 - digit[5], 131, 173),
    }


def _js_prepare(driver, grey):
    """window.dlpy35.prepare of `grey`, or the message of the Error it throws."""
    h, w = grey.shape
    return driver.execute_script(
        "try { return window.dlpy35.prepare(arguments[0], arguments[1], arguments[2]); }"
        "catch (e) { return 'Error: ' + e.message; }", grey.ravel().tolist(), w, h)


def test_prepare_in_the_browser_is_images_prepare(mnist, driver, page2):
    _, _, (test_x, _) = mnist
    open_page(driver, page2)
    for name, grey in _grey_images(test_x).items():
        want = digit_images.prepare(grey)
        got = np.array(_js_prepare(driver, grey))
        diff = np.abs(got - want)
        assert got.shape == (784,), name
        assert np.mean(diff <= 1e-6) >= 0.99, (name, np.mean(diff <= 1e-6))
        assert diff.max() <= 1 / 256 + 1e-6, (name, diff.max())
        assert np.array_equal(np.round(got * 256), got * 256), name  # k / 256, as Python's


@pytest.mark.parametrize("grey", [np.ones((40, 30)), np.zeros((30, 40)),
                                  np.where(np.eye(30) > 0, 0.45, 0.5)],  # too faint a line
                         ids=["white", "black", "faint"])
def test_prepare_of_a_blank_image_throws_as_python_raises(grey, driver, page2):
    with pytest.raises(digit_images.ImageError, match="blank"):
        digit_images.prepare(grey)
    open_page(driver, page2)
    assert _js_prepare(driver, grey).startswith("Error: blank")


# -- drawing --------------------------------------------------------------------------------

def _canvas_pixels(driver, element_id):
    """The RGBA bytes (H, W, 4) of a canvas of the page."""
    width, height, data = driver.execute_script(
        "const c = document.getElementById(arguments[0]), ctx = c.getContext('2d');"
        "return [c.width, c.height, Array.from(ctx.getImageData(0, 0, c.width, c.height).data)];",
        element_id)
    return np.array(data, np.uint8).reshape(height, width, 4)


def test_a_digit_drawn_with_the_pointer_is_read_live(net2, page2, driver, tmp_path):
    shot = draw_and_save(driver, page2, tmp_path / "web_page.png")
    assert shot.size == Image.open(tmp_path / "web_page.png").size

    # the screenshot: ink on the canvas, an orange winning bar and blue others under the bars
    full = np.asarray(Image.open(io.BytesIO(driver.get_screenshot_as_png())).convert("RGB"), np.int32)

    def region(element_id):
        r = driver.find_element(By.ID, element_id).rect
        return full[round(r["y"]):round(r["y"] + r["height"]), round(r["x"]):round(r["x"] + r["width"])]

    pad = region("pad").sum(axis=2) / 3
    assert 0.02 < np.mean(pad < 64) < 0.4 and np.mean(pad > 240) > 0.5
    bars = region("bars")
    orange = np.all(np.abs(bars - [0xd9, 0x82, 0x2b]) < 24, axis=2)
    blue = np.all(np.abs(bars - [0x7a, 0x9c, 0xc6]) < 24, axis=2)
    assert orange.sum() > 200 and blue.sum() > 0

    # the prediction shown, its bar, and the score: Python's reading of the same canvas
    digit = driver.find_element(By.ID, "digit").text
    assert re.fullmatch(r"[0-9]", digit)
    heights = [e.size["height"] for e in driver.find_elements(By.CSS_SELECTOR, "#bars .fill")]
    assert len(heights) == 10 and int(np.argmax(heights)) == int(digit)
    tops = driver.find_elements(By.CSS_SELECTOR, "#bars .fill.top")
    assert len(tops) == 1 and tops[0].size["height"] == max(heights)
    png = driver.execute_script("return document.getElementById('pad').toDataURL('image/png')")
    (tmp_path / "pad.png").write_bytes(base64.b64decode(png.split(",", 1)[1]))
    pixels = digit_images.prepare_file(tmp_path / "pad.png")
    shown = _canvas_pixels(driver, "preview")[..., 0].reshape(-1) / 256
    assert np.mean(np.abs(shown - pixels) <= 1e-6) >= 0.99
    scores = net2.trainer.forward(pixels[None])[0]
    assert int(digit) == int(np.argmax(scores))
    score = float(re.fullmatch(r"score ([0-9.]+)", driver.find_element(By.ID, "score").text).group(1))
    assert abs(score - scores.max()) < 2e-3

    # Clear: white paper, nothing read
    driver.find_element(By.ID, "clear").click()
    next_frame(driver)
    assert np.all(_canvas_pixels(driver, "pad")[..., :3] == 255)
    assert driver.find_element(By.ID, "digit").text == "?"
    assert max(e.size["height"] for e in driver.find_elements(By.CSS_SELECTOR, "#bars .fill")) <= 1


def test_a_finger_draws_too(page2, driver):
    open_page(driver, page2)
    pad = driver.find_element(By.ID, "pad")
    actions = ActionBuilder(driver, mouse=PointerInput(interaction.POINTER_TOUCH, "finger"), duration=20)
    actions.pointer_action.move_to(pad, -60, -80).pointer_down()
    for dx, dy in [(60, -80), (60, 0), (0, 80)]:
        actions.pointer_action.move_to(pad, dx, dy)
    actions.pointer_action.pointer_up()
    actions.perform()
    next_frame(driver)
    assert np.mean(_canvas_pixels(driver, "pad")[..., 0] < 64) > 0.02
    assert re.fullmatch(r"[0-9]", driver.find_element(By.ID, "digit").text)


def test_the_seven_of_the_readme_draws_a_seven(page2, driver):
    """SEVEN, the stroke of the README's screenshot, reads as a 7 even to a network of one short epoch."""
    open_page(driver, page2)
    draw(driver, SEVEN)
    assert driver.find_element(By.ID, "digit").text == "7"


# -- class names ---------------------------------------------------------------------------

NAMES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def test_the_page_holds_the_class_names_and_refuses_a_wrong_number(net2, tmp_path):
    layers = portable_layers(net2)

    def model(text):
        return json.loads(re.search(r'<script id="dlpy35-model" type="application/json">(.*?)</script>',
                                    text, re.S).group(1))

    assert model(page_html(layers))["classes"] == [str(k) for k in range(10)]  # the digits by default
    assert model(page_html(layers, classes=NAMES))["classes"] == NAMES
    with pytest.raises(ValueError, match="3 class names for a network of 10 outputs"):
        write_html(layers, tmp_path / "digits.html", classes=["a", "b", "c"])
    assert not any(tmp_path.iterdir())


def test_the_page_shows_the_class_names(net2, driver, tmp_path):
    """The SEVEN reads as a 7 (see above): shown as its name, and every bar labelled with its class's."""
    write_html(portable_layers(net2), tmp_path / "named.html", classes=NAMES)
    open_page(driver, tmp_path / "named.html")
    assert driver.execute_script("return window.dlpy35.classes") == NAMES
    labels = driver.find_elements(By.CSS_SELECTOR, "#bars .label")
    assert [e.get_attribute("textContent") for e in labels] == NAMES
    assert [e.get_attribute("title") for e in labels] == NAMES
    draw(driver, SEVEN)
    assert driver.find_element(By.ID, "digit").text == "seven"
    assert driver.find_element(By.ID, "digit").size["width"] <= 240  # a long name stays in its box


# -- the model the page's script reads, field by field (no browser) -----------------------------------------

def _model_of(text):
    return json.loads(re.search(r'<script id="dlpy35-model" type="application/json">(.*?)</script>',
                                text, re.S).group(1))


def test_the_page_holds_each_layers_shape_activation_and_weights_as_its_script_reads_them(tmp_path):
    rng = np.random.default_rng(3)
    conv = ConvPool(rng.standard_normal((2, 1, 5, 5)).astype(np.float32), np.array([0.5, -1.5], np.float32),
                    (1, 28, 28), (2, 2), "relu")
    # float64 weights that float32 holds exactly: the page holds them as float32 all the same
    dense = Dense(rng.integers(-64, 64, (288, 4)) / 8.0, np.arange(4, dtype=np.float64), "softmax", 0.5)
    text = page_html([conv, dense], classes=["a", "b", "c", "<d>"])
    assert "<title>dlpy35</title>" in text  # the default title
    model = _model_of(text)
    layers = model.pop("layers")
    assert model == {"format": "dlpy35.web_page", "version": 1, "input": [1, 28, 28], "n_out": 4,
                     "classes": ["a", "b", "c", "<d>"],
                     "prepare": {"ink": digit_images.INK, "contrast": digit_images.CONTRAST,
                                 "box": digit_images.BOX, "side": 28, "centre": digit_images.CENTRE}}
    assert "<d>" not in text and "\\u003cd>" in text  # no "<" of the data can end the script element
    weights = [{k: layer.pop(k) for k in ("w", "b")} for layer in layers]
    assert layers == [{"type": "convpool", "image": [1, 28, 28], "filters": [2, 1, 5, 5], "pool": [2, 2],
                       "activation": "relu"},
                      {"type": "dense", "n_in": 288, "n_out": 4, "activation": "softmax", "scale": 0.5}]
    for layer, got in zip([conv, dense], weights):
        np.testing.assert_array_equal(np.frombuffer(base64.b64decode(got["w"]), "<f4"), layer.w.ravel())
        np.testing.assert_array_equal(np.frombuffer(base64.b64decode(got["b"]), "<f4"), layer.b)
    assert "{{" not in text  # every placeholder filled
    titled = page_html([conv, dense], title='a "<b>" & c')
    assert "<title>a &quot;&lt;b&gt;&quot; &amp; c</title>" in titled
    script = re.search(r"<script>(.*?)</script>", titled, re.S).group(1)
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    assert (f"default-src 'none'; script-src 'sha256-{digest}'; style-src 'unsafe-inline'; base-uri 'none'; "
            "form-action 'none'") in titled
    write_html([conv, dense], tmp_path / "page.html")
    assert (tmp_path / "page.html").read_bytes() == page_html([conv, dense]).encode("utf-8")  # the defaults
    write_html([conv, dense], tmp_path / "named.html", "named", classes=list("wxyz"))
    assert (tmp_path / "named.html").read_bytes() == page_html([conv, dense], "named", list("wxyz")).encode()
    assert _model_of(page_html([conv, dense]))["classes"] == ["0", "1", "2", "3"]  # the digits by default
    with pytest.raises(ValueError, match="^3 class names for a network of 4 outputs$"):
        page_html([conv, dense], classes="abc")


def test_a_page_script_that_could_close_its_element_is_refused(monkeypatch):
    from dlpy35.export import web_page

    template = web_page._template
    monkeypatch.setattr(web_page, "_template",
                        lambda name: "let s = '</SCRIPT>';" if name == "page.js" else template(name))
    dense = Dense(np.zeros((784, 10), np.float32), np.zeros(10, np.float32), "softmax")
    with pytest.raises(RuntimeError, match="page.js must not contain '</script'"):
        page_html([dense])
