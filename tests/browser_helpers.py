"""Headless Chromium for the web page's tests and its README screenshot: start it, draw on the canvas.

Debian's chromium and chromium-driver are used through Selenium 4 with an explicit driver
path, so Selenium Manager downloads nothing, and a fresh profile, so nothing of a user's
browser is read or written.
"""

from __future__ import annotations

import io
import shutil
from pathlib import Path

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
NEEDS = "needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)"

#: A 7 in the canvas's pixels (280 x 280): a bar across the top, then down to the left.
SEVEN = [[(75, 62), (120, 60), (165, 59), (205, 60), (185, 100), (163, 142), (142, 185), (125, 225)]]


def missing() -> str | None:
    """Why no browser test can run here (:data:`NEEDS`), or None when chromium and its driver are there."""
    found = Path(CHROMIUM).exists() or shutil.which("chromium")
    return None if found and Path(CHROMEDRIVER).exists() else NEEDS


def start_chromium(profile_dir, size=(900, 600)):
    """A headless Chromium driven by Selenium, with its profile in `profile_dir` (a fresh directory).

    The window is `size` (width, height) CSS pixels at a device scale of 1, so that screenshot
    pixels are CSS pixels.
    """
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--force-device-scale-factor=1", f"--user-data-dir={profile_dir}",
                f"--window-size={size[0]},{size[1]}"):
        options.add_argument(arg)
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


def open_page(driver, path) -> None:
    """Load the HTML file `path` by its file:// URL and wait until its script has run."""
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(Path(path).resolve().as_uri())
    WebDriverWait(driver, 30).until(lambda d: d.execute_script("return !!window.dlpy35"))


def next_frame(driver) -> None:
    """Wait two animation frames: the page's live update after the last pointer event has run."""
    driver.execute_async_script("const done = arguments[arguments.length - 1];"
                                "requestAnimationFrame(() => requestAnimationFrame(() => done()));")


def draw(driver, strokes) -> None:
    """Draw `strokes` on the page's canvas with a real pointer drag per stroke.

    Each stroke is a list of (x, y) canvas pixels (0..280, from the top left): the pointer
    goes down on the first point, moves through the others and goes up on the last.
    """
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    pad = driver.find_element(By.ID, "pad")
    width, height = pad.size["width"], pad.size["height"]
    for points in strokes:
        (x, y), rest = points[0], points[1:]
        # Selenium 4 offsets are from the element's centre
        chain = ActionChains(driver, duration=20).move_to_element_with_offset(
            pad, round(x - width / 2), round(y - height / 2)).click_and_hold()
        for nx, ny in rest:
            chain.move_by_offset(round(nx - x), round(ny - y))
            x, y = x + round(nx - x), y + round(ny - y)
        chain.release().perform()
    next_frame(driver)


def screenshot(driver):
    """The page as drawn now, as a Pillow RGB image cropped to its content (heading, canvas, bars)."""
    from PIL import Image

    box = driver.execute_script(
        "const r = ['h1', '#drawing', '#output'].map(s => document.querySelector(s).getBoundingClientRect());"
        "return [Math.min(...r.map(b => b.left)), Math.min(...r.map(b => b.top)),"
        "        Math.max(...r.map(b => b.right)), Math.max(...r.map(b => b.bottom))];")
    image = Image.open(io.BytesIO(driver.get_screenshot_as_png())).convert("RGB")
    left, top, right, bottom = (round(v) for v in box)
    pad = 16
    return image.crop((max(left - pad, 0), max(top - pad, 0), min(right + pad, image.width),
                       min(bottom + pad, image.height)))


def draw_and_save(driver, html_path, png_path, strokes=SEVEN):
    """Open the page `html_path`, draw `strokes`, save the screenshot as the PNG `png_path`; the image."""
    open_page(driver, html_path)
    draw(driver, strokes)
    image = screenshot(driver)
    Path(png_path).parent.mkdir(parents=True, exist_ok=True)
    image.save(png_path, format="PNG")
    return image
