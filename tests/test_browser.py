"""The screenshots of the docs, taken in a real headless Chromium: every tab on a desktop, in dark mode
and on a touch-screen phone, each checked to fit the screen, and one question on an attention model.

The screenshots go to test-artifacts/ (and, with ADDITION_SCREENSHOTS=docs, to docs/ and their
manifest: tests/screenshots.py, which tests/test_screenshots.py checks against the bundled zoo). A
phone shows each tab by its own label and no page is wider than the screen. The app runs in-process
(one launch for the module) and Chromium is Debian's, both set up by tests/browser_site.py; using
each tab as a person would is tests/test_browser_tabs.py.
"""

from __future__ import annotations

import io

from browser_site import (  # noqa: F401  (the fixture site)
    BROWSER_TEST,
    CHROMIUM,
    PHONE,
    TIMEOUT_MS,
    ask,
    capture,
    new_page,
    pick_model,
    shoot,
    site_fixture,
)

pytestmark = BROWSER_TEST


# Phone, dark mode and the screenshots -------------------------------------------------------------
TABS = {  # tab label -> screenshot name
    "One question": "one-question",
    "Inside the network": "inside",
    "Map": "map",
    "How it learned": "learning",
    "Many questions": "many",
    "Compare": "compare",
    "Train your own": "train-own",
    "The model": "model",
}


def show_tab(page, label: str) -> None:
    """Open a tab and wait until what it shows is drawn (the bundled default model, add3)."""
    page.get_by_role("tab", name=label).click()
    if label == "One question":
        page.locator("#attribution table.att").wait_for()
    elif label == "Inside the network":
        page.locator("#states img.heat").first.wait_for()
    elif label == "Map":
        page.locator("#map img.questionmap").wait_for()
        page.wait_for_function("document.querySelector('#map img.questionmap').complete")
    elif label == "How it learned":
        page.locator("#curve-positions .chart svg").wait_for()
        page.locator("#probe-box img").wait_for()
    elif label == "Many questions":
        page.locator("#n-random input").fill("12")
        page.locator("#seed input, #seed textarea").first.fill("7")
        page.locator("#random-button").click()
        page.locator("#batch-rows").wait_for()
    elif label == "Compare":
        page.locator("#compare-n input").fill("12")
        page.locator("#compare-seed input, #compare-seed textarea").first.fill("1")
        page.locator("#compare-random-button").click()
        page.locator("#compare-random").wait_for()
    elif label == "Train your own":  # its further settings open, so the page is checked to fit with them shown
        page.locator("#own-more").get_by_text("More settings").click()
        page.locator("#own-batch-size").wait_for()
    elif label == "The model":
        page.locator("#model-panel").wait_for()


def tour(page, suffix: str, what: str, width: int) -> None:
    """Every tab, each checked to fit the screen and screenshotted."""
    ask(page, "535+61")
    for label, name in TABS.items():
        show_tab(page, label)
        wide = page.evaluate("document.documentElement.scrollWidth")
        assert wide <= width, f"{label}: the page is {wide}px wide on a {width}px screen"
        shown = ("add3", "add2") if label == "Compare" else ("add3",)  # Compare: model A and model B
        shoot(page, f"{name}{suffix}.png", f"{label}, {what}", shown)


def test_a_phone_screenshot_shows_what_a_touch_screen_shows(site):
    """Playwright's full-page capture showed the mouse wording ("Hover…") on a touch screen."""
    from PIL import Image

    page = new_page(site, {"width": 390, "height": 300}, touch=True)
    try:
        page.set_content(
            '<meta name="viewport" content="width=device-width"><style>.touch { display: none; } '
            "@media (hover: none) { .mouse { display: none; } .touch { display: block; } }</style>"
            '<div class="mouse" style="height: 900px; background: #f00"></div>'
            '<div class="touch" style="height: 900px; background: #00f"></div>'
        )
        image = Image.open(io.BytesIO(capture(page))).convert("RGB")
        assert image.height >= 900 and image.getpixel((200, 450)) == (0, 0, 255)  # the touch wording's box
        assert page.viewport_size == {"width": 390, "height": 300}  # put back
    finally:
        page.close()


def test_every_tab_on_a_desktop(site):
    page = new_page(site, {"width": 1280, "height": 900})
    try:
        ask(page, "535+61")
        shoot(page, "app.png", "the page as it opens, answering 535+61", full_page=False)
        tour(page, "", "desktop, 1280 px", 1280)
    finally:
        page.close()


def test_every_tab_in_dark_mode(site):
    page = new_page(site, {"width": 1280, "height": 900}, "dark")
    try:
        tour(page, "-dark", "dark mode, 1280 px", 1280)
    finally:
        page.close()


def test_every_tab_on_a_phone_has_a_visible_label_and_fits(site):
    page = new_page(site, {"width": 390, "height": 844}, "dark", touch=True)
    try:
        ask(page, "535+61")
        for label in TABS:  # every tab reachable by its own visible label, none behind a "⋯" menu
            tab = page.get_by_role("tab", name=label)
            assert tab.is_visible(), label
            box = tab.bounding_box()
            assert box and box["x"] >= 0 and box["x"] + box["width"] <= 390, (label, box)
        # The predicted and true answers stay on one line each.
        for boxes in page.locator("#verdict .chars").all():
            heights = boxes.evaluate("b => [b.getBoundingClientRect().height, b.firstElementChild.offsetHeight]")
            assert heights[0] < 2 * heights[1], heights
        show_tab(page, "Map")
        assert page.locator("#map .touch").is_visible() and not page.locator("#map .mouse").is_visible()
        assert "Tap a question" in page.locator("#map").inner_text()
        show_tab(page, "How it learned")  # one chart a row, each as wide as the screen allows
        for plot in ("#curve-loss", "#curve-positions"):
            assert page.locator(f"{plot} .chart svg").bounding_box()["width"] >= 300
        show_tab(page, "Compare")  # the table scrolls inside its own box, not the page
        box = page.locator("#compare-random .tablebox").bounding_box()
        assert box and box["x"] + box["width"] <= 390
        tour(page, "-phone", "a 390 px phone, dark mode", 390)
    finally:
        page.close()


# An attention model ---------------------------------------------------------------------------------
def test_one_question_on_an_attention_model_shows_its_attention_grid(site):
    """The zoo's sub3: a trained attention decoder that writes its answers units first."""
    from model.serving import load_catalogue
    from web.service import Service

    url, _, browser = site
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(TIMEOUT_MS)
    try:
        page.goto(url, wait_until="domcontentloaded")
        pick_model(page, "sub3")
        ask(page, "535-61")
        grid = page.locator("#attribution #attention-grid table.att")
        grid.wait_for()
        weights = Service(load_catalogue(extra=[])).attribution("535-61", "sub3")["attention"]
        shown = grid.locator("td.v").evaluate_all("cells => cells.map(c => c.title)")
        assert shown == [f"{v:.2f}" for row in weights for v in row]  # the network's own weights, as the API gives
        assert page.locator("#attribution #occlusion-grid table.att").is_visible()  # beside the occlusion grid
        assert "Written lowest digit first" in page.locator("#written-order").inner_text()
        assert "attention decoder, dot-product (Luong)" in page.locator("#model-line").inner_text()
        shoot(
            page, "attention.png", "One question on the zoo's sub3 (attention decoder, units first), 535-61", ("sub3",)
        )
        page.get_by_role("tab", name="Inside the network").click()  # the decoder's reading, step by step
        page.locator("#states figcaption", has_text="attention: context read").wait_for()
        assert page.locator("#states figcaption", has_text="decoder 1: hidden state h").count() == 1
    finally:
        page.close()
