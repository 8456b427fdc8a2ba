"""A first visit in a real headless Chromium, on a desktop and on a 390 px touch screen: an example already
answered before any click, every model in the picker with its description and accuracy, and the Map's hover
(a tap on a phone) showing the model's answer and margin, each compared with what the API (gradio_client)
answers for the same question or model. The same checks without a browser are tests/test_first_visit.py.
"""

from __future__ import annotations

import pytest
from browser_site import BROWSER_TEST, PHONE, TIMEOUT_MS, new_page, pick_model, site_fixture  # noqa: F401  (site)
from gradio_client import Client

from model.metrics import percent
from web.map_hover import margin_text
from web.picker import SEPARATOR, name_of

pytestmark = BROWSER_TEST
DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture(scope="module", name="client")
def client_fixture(site):
    return Client(site[0], verbose=False)


def answered_on_open(page, client: Client) -> str:
    """The question One question shows before any click, checked against /predict's answer to it."""
    verdict = page.locator("#verdict [data-question]")
    verdict.wait_for()
    question = verdict.get_attribute("data-question")
    expected = client.predict(question, None, api_name="/predict")
    assert verdict.get_attribute("data-model") == expected["model"]
    assert page.locator("#predicted-answer").inner_text().strip() == str(expected["answer"])
    assert page.locator("#positions table.pos tr").count() == 1 + len(expected["positions"])
    assert page.locator("#attribution table").count() >= 1
    return question


def picker_labels(page) -> list[str]:
    page.locator("#model-picker input").click()
    options = page.locator("#model-picker").get_by_role("option")
    options.first.wait_for()
    return [text.replace("✓", "").strip() for text in options.all_inner_texts()]  # ✓ marks the chosen one


def hover_answer(page, view: str) -> tuple[str, str]:
    """(question, answer line) of the tip once the server's answer for the cell under the pointer is in."""
    page.locator(f"{view} .maptip .tipa").get_by_text("margin").wait_for()
    return page.locator(f"{view} .maptip .tipq").inner_text(), page.locator(f"{view} .maptip .tipa").inner_text()


def assert_predict_says(client: Client, question: str, model: str, line: str) -> None:
    """The tip's answer line says what /predict answers for the question: answer, right or wrong, margin."""
    result = client.predict(question, model, api_name="/predict")
    assert result["error"] is None and result["model"] == model
    assert f"→ {result['answer']} " in line, (question, line, result["answer"])
    assert ("right" if result["correct"] else f"wrong (true {result['true_answer']})") in line, line
    assert f"margin {margin_text(result['min_margin'])}" in line, (line, result["min_margin"])


def test_a_first_visit_on_a_desktop(site, client):
    page = new_page(site, DESKTOP)
    try:
        assert answered_on_open(page, client) == "535+61"  # add3's first example
        page.get_by_role("tab", name="Inside the network").click()  # the same question, inside, with no click
        page.locator('#step-text[data-model="add3"]').wait_for()
        assert "Step 1 of" in page.locator("#step-box").inner_text()
        page.get_by_role("tab", name="One question").click()
        # The picker: every model by name, with its description and the one accuracy its header shows.
        models = {row["name"]: row for row in client.predict(api_name="/models")["models"]}
        labels = picker_labels(page)
        assert [name_of(label) for label in labels] == list(models)
        for label in labels:
            row = models[name_of(label)]
            assert label.startswith(row["name"] + SEPARATOR) and f"· {percent(row['accuracy'])} " in label, label
        assert "· 100.00% of all 1,000,000" in labels[0] and "held-out" in " ".join(labels)
        page.locator("#title").click()  # the menu closes
        pick_model(page, "gru3")  # picked by its label, the model chosen is gru3 everywhere
        page.locator('#verdict [data-model="gru3"][data-question="535+61"]').wait_for()
        assert name_of(page.locator("#model-picker input").input_value()) == "gru3"
        assert "gru3" in page.locator("#model-line").inner_text()
        # The Map: hovering a cell shows its question, then gru3's answer, verdict and margin as /predict says.
        page.get_by_role("tab", name="Map").click()
        page.locator('#map [data-model="gru3"]').wait_for(state="attached")
        image = page.locator("#map img.questionmap")
        page.wait_for_function("document.querySelector('#map img.questionmap').complete")
        box = image.bounding_box()
        page.mouse.move(box["x"] + box["width"] * 0.42, box["y"] + box["height"] * 0.77)
        question, line = hover_answer(page, "#map")
        assert_predict_says(client, question, "gru3", line)
        # Zoomed in on a block holding a wrong cell: the tip says wrong, with the true answer.
        wrong = page.locator("#map-lists button.bad").first.inner_text()
        a, b = (int(n) for n in wrong.split("+"))
        page.locator("#zoom-a input").fill(str(max(0, a - 12)))
        page.locator("#zoom-b input").fill(str(max(0, b - 12)))
        page.locator("#zoom-size input").click()
        page.locator("#zoom-size").get_by_role("option", name="25", exact=True).click()
        page.locator("#zoom-button").click()
        zoomed = page.locator("#map-zoom img.questionmap")
        zoomed.wait_for()
        zoomed.scroll_into_view_if_needed()
        axes = zoomed.evaluate("i => [JSON.parse(i.dataset.a), JSON.parse(i.dataset.b)]")
        left, top, width, height = zoomed.evaluate(
            "i => [i.getBoundingClientRect().left + i.clientLeft, i.getBoundingClientRect().top + i.clientTop, "
            "i.clientWidth, i.clientHeight]"
        )
        col, row = axes[0].index(a), axes[1].index(b)
        page.mouse.move(left + width * (col + 0.5) / len(axes[0]), top + height * (row + 0.5) / len(axes[1]))
        question, line = hover_answer(page, "#map-zoom")
        assert question == wrong and "☒ wrong" in line
        assert_predict_says(client, question, "gru3", line)
    finally:
        page.close()


def test_a_first_visit_on_a_phone(site, client):
    page = new_page(site, PHONE, touch=True)
    try:
        answered_on_open(page, client)
        labels = picker_labels(page)  # every option readable inside the screen, none pushing the page sideways
        assert len(labels) == len(client.predict(api_name="/models")["models"])
        for option in page.locator("#model-picker").get_by_role("option").all():
            option_box = option.bounding_box()
            assert option_box["x"] >= 0 and option_box["x"] + option_box["width"] <= PHONE["width"], option_box
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        page.locator("#title").click()  # the menu closes
        # The Map: a tap shows the question and add3's answer; a second tap on the same cell opens it.
        page.get_by_role("tab", name="Map").click()
        image = page.locator("#map img.questionmap")
        image.wait_for()
        page.wait_for_function("document.querySelector('#map img.questionmap').complete")
        image.scroll_into_view_if_needed()
        box = image.bounding_box()
        x, y = box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.6
        page.touchscreen.tap(x, y)
        question, line = hover_answer(page, "#map")
        assert_predict_says(client, question, "add3", line)
        tip = page.locator("#map .maptip").bounding_box()
        assert tip["x"] >= 0 and tip["x"] + tip["width"] <= PHONE["width"], tip  # the whole tip on the screen
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        assert page.get_by_role("tab", name="Map").get_attribute("aria-selected") == "true"  # not opened yet
        page.touchscreen.tap(x, y)
        page.locator(f'#verdict [data-question="{question}"]').wait_for(timeout=TIMEOUT_MS)
    finally:
        page.close()
