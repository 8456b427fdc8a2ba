"""The app as a person uses it: a real headless Chromium types sums and reads the page.

The app runs in-process (one launch for the module); Chromium is Debian's
(/usr/bin/chromium, installed by tests/run.sh). Screenshots go to
test-artifacts/ at the repo root for a human to look at.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from app_fixtures import ROOT, served_app

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts"
TIMEOUT_MS = 60_000  # generous: the test machines are small and shared

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian Chromium (/usr/bin/chromium) is not installed")


@pytest.fixture(scope="module")
def page():
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with served_app() as (url, _), sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM), headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(TIMEOUT_MS)
        page.goto(url, wait_until="domcontentloaded")
        yield page
        browser.close()


def ask(page, question: str) -> None:
    page.get_by_role("tab", name="One sum").click()
    box = page.locator("#question textarea, #question input").first
    box.fill(question)
    page.locator("#predict-button").click()
    # The verdict names the question it answers, so this waits for this question's result.
    page.locator(f'#verdict [data-question="{question}"]').wait_for()


def test_a_sum_shows_answer_verdict_encoding_and_positions(page):
    ask(page, "535+61")
    assert page.locator("#predicted-answer").inner_text().strip() == "596"  # needs the trained model
    assert page.locator("#verdict-mark").inner_text().strip() == "☑"
    # What the network reads: the reversed, padded question and a one-hot cell per step.
    assert page.locator("#encoding table.grid td.hot").count() == 7
    assert "Reversed (what the network reads)" in page.locator("#encoding").inner_text()
    # One row per answer position, each with three candidates.
    assert page.locator("#positions tr").count() == 1 + 4
    assert page.locator("#positions .alt").count() == 4 * 3
    page.screenshot(path=str(ARTIFACTS / "app.png"), full_page=True)


def test_bad_input_is_explained_on_the_page(page):
    ask(page, "12+abc")
    assert page.locator("#verdict-mark").inner_text().strip() == "⚠"
    assert "write digits joined by '+'" in page.locator("#verdict-text").inner_text()
    assert "Traceback" not in page.content()
    ask(page, "1000+1")
    assert "outside what this model learned" in page.locator("#verdict-text").inner_text()
    page.screenshot(path=str(ARTIFACTS / "app-error.png"), full_page=True)


def test_clicking_an_example_runs_it(page):
    page.get_by_role("tab", name="One sum").click()
    page.get_by_role("button", name="7+8", exact=True).click()
    page.locator('#verdict [data-question="7+8"]').wait_for()
    assert page.locator("#verdict").inner_text().startswith("7+8 =")
    assert page.locator("#question textarea, #question input").first.input_value() == "7+8"


def test_many_sums_table_and_accuracy(page):
    page.get_by_role("tab", name="Many sums").click()
    page.locator("#lines textarea").fill("535+61\n12+7\nabc")
    page.locator("#batch-button").click()
    page.get_by_text("Exact-match accuracy").wait_for()
    summary = page.locator("#batch-summary").inner_text()
    assert "of 2 valid sums right; 1 line(s) not accepted" in summary
    table = page.locator("#batch-table").inner_text()
    assert "596" in table and "⚠ The question has" in table
    page.locator("#n-random input").fill("25")
    page.locator("#random-button").click()
    page.get_by_text("of 25 valid sums right").wait_for()
    page.screenshot(path=str(ARTIFACTS / "app-many.png"), full_page=True)
