"""What a phone shows without a sideways scroll, and labels a person reads, measured in a real Chromium.

On a 390 px touch screen: One question's runners-up, Many questions' verdicts and Compare's model names
are on screen, the page no wider than the screen (a table may scroll in its own box, the page may not),
and a dropdown's text stops short of its arrow. At 1280 px: the attention picture of Inside the network
has a label beside each row, on that row, as the attention weights table has, and a refused 25-digit
number is quoted by its ends, whole in the sentence's title. The app and Chromium are set up by
tests/browser_site.py; the screenshots go to test-artifacts/fit-*.png.
"""

from __future__ import annotations

from browser_site import (  # noqa: F401  (the fixture site)
    ARTIFACTS,
    BROWSER_TEST,
    CHROMIUM,
    PHONE,
    ask,
    new_page,
    pick_model,
    site_fixture,
)

pytestmark = BROWSER_TEST

PAGE_FITS = "document.scrollingElement.scrollWidth <= innerWidth"
# Where a dropdown's text ends (clipped at its input's content box) and where its arrow begins.
TEXT_AND_ARROW = """id => {
  const input = document.querySelector(id + ' input'), arrow = document.querySelector(id + ' .icon-wrap');
  const style = getComputedStyle(input), box = input.getBoundingClientRect();
  const context = document.createElement('canvas').getContext('2d');
  context.font = style.font;
  const px = name => parseFloat(style[name]);
  const start = box.left + px('borderLeftWidth') + px('paddingLeft');
  const end = box.right - px('borderRightWidth') - px('paddingRight');
  return {value: input.value, text: Math.min(start + context.measureText(input.value).width, end),
          arrow: arrow.getBoundingClientRect().left};
}"""


def on_screen(page, selector: str, right: float) -> list[str]:
    """The cells matching `selector` that are hidden or reach past `right` (or the left edge): none, if all fit."""
    boxes = page.locator(selector).evaluate_all(
        "cells => cells.map(c => [c.innerText, c.getBoundingClientRect().toJSON(), c.checkVisibility()])"
    )
    assert boxes, selector
    return [text for text, box, shown in boxes if not shown or box["left"] < 0 or box["right"] > right + 0.5]


def test_a_phone_shows_runners_up_verdicts_and_model_names_without_a_sideways_scroll(site):
    page = new_page(site, PHONE, "dark", touch=True)
    try:
        ask(page, "535+61")
        page.locator("#positions td.tops").first.wait_for()
        assert on_screen(page, "#positions td.tops", PHONE["width"]) == []  # the runners-up
        assert "0.1%" in page.locator("#positions td.tops").first.inner_text()  # with their shares
        assert page.locator("#positions .panel").evaluate("p => p.scrollWidth <= p.clientWidth")  # no box scroll
        assert page.evaluate(PAGE_FITS)
        page.screenshot(path=str(ARTIFACTS / "fit-one-phone.png"), full_page=True)

        page.get_by_role("tab", name="Many questions").click()  # a long refused line among right answers
        page.locator("#lines textarea").fill("535+61\n" + "12345678901234567890" * 3 + "\n99+1")
        page.locator("#batch-button").click()
        page.locator("#batch-rows").wait_for()
        page.locator("#n-random input").fill("25")
        page.locator("#random-button").click()
        page.get_by_text("of 25 valid questions right").wait_for()
        box = page.locator("#batch-table .tablebox").bounding_box()
        assert box and box["x"] + box["width"] <= PHONE["width"]
        # Every verdict inside the table's box as it opens: seen without scrolling the box, let alone the page.
        assert on_screen(page, "#batch-rows td.verdict", box["x"] + box["width"]) == []
        assert page.locator("#batch-rows td.verdict").count() == 25
        assert page.evaluate(PAGE_FITS)
        page.screenshot(path=str(ARTIFACTS / "fit-many-phone.png"), full_page=True)

        page.get_by_role("tab", name="Compare").click()
        for dropdown in ("#compare-a", "#compare-b", "#model-picker"):
            seen = page.evaluate(TEXT_AND_ARROW, dropdown)
            assert seen["value"] and seen["text"] <= seen["arrow"], (dropdown, seen)
        assert page.evaluate(TEXT_AND_ARROW, "#compare-b")["value"] == "add3-attention"  # the longest zoo name
        assert page.evaluate(PAGE_FITS)
        page.screenshot(path=str(ARTIFACTS / "fit-compare-phone.png"), full_page=True)
        # A name too long for its box (a Hub repo's, say) is cut short of the arrow, with an ellipsis.
        page.locator("#compare-b input").evaluate("i => { i.value = 'someone/a-model-with-a-long-name@v2'; }")
        seen = page.evaluate(TEXT_AND_ARROW, "#compare-b")
        assert seen["text"] <= seen["arrow"], seen
        assert page.locator("#compare-b input").evaluate("i => getComputedStyle(i).textOverflow") == "ellipsis"
    finally:
        page.close()


def test_a_refused_long_number_is_quoted_by_its_ends_on_a_phone(site):
    page = new_page(site, PHONE, touch=True)
    try:
        typed = "1234567890123456789012345+1"
        ask(page, typed)
        sentence = page.locator("#verdict-text")
        assert sentence.inner_text().startswith("12345…345 is outside what this model learned")
        assert sentence.get_attribute("title") == typed  # the whole question, kept
        assert page.evaluate(PAGE_FITS)
    finally:
        page.close()


def test_the_attention_picture_has_a_label_on_each_row(site):
    page = new_page(site, {"width": 1280, "height": 900})
    try:
        pick_model(page, "add3-attention")
        ask(page, "535+61")
        read = page.locator("#encoding table.grid tr").nth(1).locator("th").all_inner_texts()[1:]  # as read
        # The attention weights table's columns: the same characters, in the same order.
        assert page.locator("#attention-grid table.att tr").first.locator("th").all_inner_texts()[1:] == read
        page.get_by_role("tab", name="Inside the network").click()
        figure = page.locator("#states figure", has_text="attention: weights over the input")
        figure.locator("img.heat").wait_for()
        labels = figure.locator(".rowlabels span")
        # Labelled as the weights table labels its rows: "1: ␣", the step and the character.
        assert labels.all_inner_texts() == [f"{step}: {char}" for step, char in enumerate(read, 1)]
        picture = figure.locator("img.heat").bounding_box()
        row = (picture["height"] - 2) / len(read)  # the picture's 1 px border, then one band per character
        for step, label in enumerate(labels.all()):
            box = label.bounding_box()
            middle = box["y"] + box["height"] / 2
            assert abs(middle - (picture["y"] + 1 + (step + 0.5) * row)) < row / 4, (step, box, picture)
            assert box["x"] + box["width"] <= picture["x"]  # beside the picture, not over it
        figure.screenshot(path=str(ARTIFACTS / "fit-attention-rows.png"))
        page.screenshot(path=str(ARTIFACTS / "fit-inside-attention.png"), full_page=True)
    finally:
        page.close()
