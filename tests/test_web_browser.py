"""A real browser on `scandex serve`: the highlights land on the words of an OCRed scan.

Headless Chromium from the system (Debian's `chromium`), driven by Playwright's Python
package with `executable_path`, so nothing is downloaded. Screenshots are kept in
$SCANDEX_TEST_ARTIFACTS (default build/test-artifacts/).
"""

from __future__ import annotations

import io
import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from polling import wait_for
from synth import render_page
from web_scans import index_documents, workspace_config

from scandex.page import Document, Word

CHROMIUM = os.environ.get("SCANDEX_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(
    os.environ.get(
        "SCANDEX_TEST_ARTIFACTS",
        Path(__file__).resolve().parent.parent / "build" / "test-artifacts",
    )
)
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
TOLERANCE_PX = 3.0

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(240),
    pytest.mark.skipif(
        not (Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)),
        reason=f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium)",
    ),
]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Two OCRed scans, one of them stored sideways with an EXIF turn, served on a free port."""
    import uvicorn

    from scandex.ocr import ocr_file
    from scandex.web import create_app

    root = tmp_path_factory.mktemp("site")
    config = workspace_config(root)
    page = render_page("one_column", dpi=150, font="serif", seed=3)
    upright = Image.fromarray(page.image)
    upright.save(root / "scans" / "letter.png")
    exif = Image.Exif()
    exif[0x0112] = 6  # stored turned a quarter to the left; shown upright
    upright.transpose(Image.Transpose.ROTATE_90).save(
        root / "scans" / "turned.jpg", quality=92, exif=exif
    )
    documents = [ocr_file(root / "scans" / name) for name in ("letter.png", "turned.jpg")]
    index_documents(config, [(document, None) for document in documents])

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_app(config), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started, "the server to start")
    try:
        yield {"url": f"http://127.0.0.1:{port}", "documents": documents, "root": root}
    finally:
        server.should_exit = True
        thread.join(30)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def a_searchable_word(documents: list[Document]) -> Word:
    """A word both scans read the same, long and plain enough to be found by itself."""
    first, second = ([w for line in doc.pages[0].lines for w in line.words] for doc in documents)
    common = {w.text for w in second}
    for word in first:
        if len(word.text) >= 6 and word.text.isalpha() and word.text in common:
            return word
    raise AssertionError("the two scans share no plain word")


def screen_box(page: Any, selector: str) -> dict[str, float]:
    return page.eval_on_selector(
        selector,
        "e => { const r = e.getBoundingClientRect();"
        " return {x: r.x, y: r.y, width: r.width, height: r.height}; }",
    )


def expected_box(image: dict[str, float], word: Word, page_size: tuple[int, int]) -> list[float]:
    """The word's box in original pixels, scaled onto the displayed image."""
    scale_x, scale_y = image["width"] / page_size[0], image["height"] / page_size[1]
    box = word.bbox
    return [
        image["x"] + box.x0 * scale_x,
        image["y"] + box.y0 * scale_y,
        box.width * scale_x,
        box.height * scale_y,
    ]


def assert_covers(shown: dict[str, float], wanted: list[float]) -> None:
    got = [shown["x"], shown["y"], shown["width"], shown["height"]]
    assert all(abs(g - w) <= TOLERANCE_PX for g, w in zip(got, wanted, strict=True)), (got, wanted)


def ink_under(page: Any, box: dict[str, float]) -> float:
    """The share of dark pixels on screen inside `box`: the highlight sits on printed words."""
    shot = page.screenshot(
        clip={"x": box["x"], "y": box["y"], "width": box["width"], "height": box["height"]}
    )
    gray = np.asarray(Image.open(io.BytesIO(shot)).convert("L"))
    return float((gray < 110).mean())


def save_screenshot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def page_size(document: Document) -> tuple[int, int]:
    return document.pages[0].width, document.pages[0].height


def test_search_results_mark_the_word_on_each_thumbnail(site, browser) -> None:
    word = a_searchable_word(site["documents"])
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(site["url"] + "/")
    page.get_by_label("Search the scans").fill(word.text)
    page.keyboard.press("Enter")
    page.wait_for_selector("ol.results")
    page.wait_for_function(
        "() => Array.from(document.querySelectorAll('.results img'))"
        ".every(i => i.complete && i.naturalWidth > 0)"
    )
    results = page.locator("li.result")
    assert results.count() == 2
    for index in range(2):
        name = results.nth(index).locator("h2 a").inner_text()
        document = next(d for d in site["documents"] if d.path.endswith(name))
        word_here = next(
            w for line in document.pages[0].lines for w in line.words if w.text == word.text
        )
        image = screen_box(page, f"li.result:nth-child({index + 1}) img")
        highlight = screen_box(page, f"li.result:nth-child({index + 1}) rect.box")
        assert_covers(highlight, expected_box(image, word_here, page_size(document)))
    save_screenshot(page, "web-search-results.png")
    page.close()


@pytest.mark.parametrize("name", ["letter.png", "turned.jpg"])
def test_the_page_view_keeps_the_highlight_on_the_word_when_zoomed(site, browser, name) -> None:
    word = a_searchable_word(site["documents"])
    document = next(d for d in site["documents"] if d.path.endswith(name))
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(site["url"] + f"/?q={word.text}")
    page.locator("li.result h2 a", has_text=name).click()
    page.wait_for_selector("#page-image")
    page.wait_for_function("() => document.getElementById('page-image').naturalWidth > 0")
    hits = [w for line in document.pages[0].lines for w in line.words if w.text == word.text]
    assert page.locator("#frame rect.box").count() == len(hits)
    for zoom_steps in (0, 2, 4):
        for _ in range(zoom_steps and 2):
            page.get_by_role("button", name="Zoom in (plus key)").click()
        page.wait_for_function("() => document.querySelector('#frame rect.box.current') !== null")
        image = screen_box(page, "#page-image")
        current = screen_box(page, "#frame rect.box.current")
        assert_covers(current, expected_box(image, hits[0], page_size(document)))
        scroller = screen_box(page, "#scroller")
        inside = (
            scroller["x"] <= current["x"]
            and current["x"] + current["width"] <= scroller["x"] + scroller["width"]
        )
        assert inside, "the current hit is scrolled into view"
        assert ink_under(page, current) > 0.08, "the highlight covers printed ink"
    save_screenshot(page, f"web-view-{name.replace('.', '-')}.png")
    # The keyboard steps through the hits, and the text beside the page follows.
    page.keyboard.press("n")
    expected_current = 1 if len(hits) > 1 else 0
    assert page.locator("#frame rect.box.current").get_attribute("data-hit") == str(
        expected_current
    )
    marked = page.locator(".text mark.current")
    assert marked.inner_text() == word.text
    page.close()


def test_the_site_works_at_phone_width(site, browser) -> None:
    word = a_searchable_word(site["documents"])
    page = browser.new_page(viewport={"width": 390, "height": 844}, device_scale_factor=2)
    page.goto(site["url"] + f"/?q={word.text}")
    page.wait_for_selector("ol.results")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, "nothing wider than the phone"
    page.locator("li.result h2 a").first.click()
    page.wait_for_function("() => document.getElementById('page-image').naturalWidth > 0")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    save_screenshot(page, "web-phone-view.png")
    page.close()
