"""The browser tests' set-up: the app served in-process, Debian's headless Chromium, and the steps they share.

`site` is (url, app, browser) for a module; `page` one desktop page on it. `ask` puts a question
on One question and waits for its answer; `choose`/`pick_model` use a dropdown; `new_page` opens
a page with a viewport, colour scheme and touch; `shoot` writes a screenshot to test-artifacts/
(and docs/ with ADDITION_SCREENSHOTS=docs, see tests/screenshots.py).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from app_fixtures import ROOT, served_app
from screenshots import record

from web.picker import SEPARATOR

CHROMIUM = Path("/usr/bin/chromium")
# The marks of every browser test module: slow (a browser), and skipped where Debian's Chromium is missing.
BROWSER_TEST = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian Chromium (/usr/bin/chromium) is not installed"),
]
PHONE = {"width": 390, "height": 844}
ARTIFACTS = ROOT / "test-artifacts"
ZOO_WRONG = {  # what each zoo model's metrics.json records over all its questions
    name: json.loads((ROOT / "model" / "zoo" / name / "metrics.json").read_text())["exhaustive_wrong"]
    for name in ("add3", "gru3")
}
TIMEOUT_MS = 60_000  # generous: the test machines are small and shared
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module", name="site")
def site_fixture():
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with served_app() as (url, app), sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        yield url, app, browser
        browser.close()


@pytest.fixture(scope="module", name="page")
def page_fixture(site):
    url, _, browser = site
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(url, wait_until="domcontentloaded")
    yield page
    page.close()


def ask(page, question: str) -> None:
    page.get_by_role("tab", name="One question").click()
    box = page.locator("#question textarea, #question input").first
    box.fill(question)
    page.locator("#predict-button").click()
    # The verdict names the question it answers, so this waits for this question's result.
    page.locator(f'#verdict [data-question="{question}"]').wait_for()


def choose(page, dropdown: str, name: str) -> None:
    """Pick `name` in the dropdown with this element id (its options are listed inside it): the option that is
    `name`, or whose label starts with it (the model picker's "add3 — 3-digit addition, …")."""
    page.locator(f"#{dropdown} input").click()
    label = re.compile(rf"^{re.escape(name)}({re.escape(SEPARATOR)}.*)?$")
    page.locator(f"#{dropdown}").get_by_role("option", name=label).click()


def pick_model(page, name: str) -> None:
    choose(page, "model-picker", name)
    page.wait_for_function(f"document.querySelector('#model-line').innerText.includes({name!r})")


def new_page(site, viewport: dict, scheme: str = "light", touch: bool = False):
    url, _, browser = site
    page = browser.new_page(viewport=viewport, color_scheme=scheme, has_touch=touch, is_mobile=touch)
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(url + ("/?__theme=dark" if scheme == "dark" else ""), wait_until="domcontentloaded")
    return page


def capture(page, full_page: bool = True) -> bytes:
    """The page as a PNG, as the screen shows it. Chromium draws a full-page capture without touch emulation
    (`(hover: none)` stops matching for it, so a phone's page shows its mouse wording): on a touch screen the
    viewport grows to the page's height for one ordinary capture instead, and is put back."""
    if not (full_page and page.evaluate("matchMedia('(hover: none)').matches")):
        return page.screenshot(full_page=full_page, animations="disabled")
    screen = page.viewport_size
    page.set_viewport_size({"width": screen["width"], "height": page.evaluate("document.documentElement.scrollHeight")})
    try:
        return page.screenshot(animations="disabled")
    finally:
        page.set_viewport_size(screen)


def shoot(page, name: str, what: str, models: tuple[str, ...] = ("add3",), full_page: bool = True) -> None:
    """A screenshot into test-artifacts/ (and docs/, see tests/screenshots.py) of what `models` answered."""
    png = capture(page, full_page)
    (ARTIFACTS / name).write_bytes(png)
    record(png, name, list(models), what)
