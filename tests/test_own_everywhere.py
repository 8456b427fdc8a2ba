"""Your model everywhere: a model trained live in the page is offered in Compare (A and B) and answers there, a
page opened with `?model=<its name>` shows it, and its zip unpacks into one folder that plain Keras loads.

One short training (1 digit, 5 s) in a real browser on the served app is shared by the tests of this module.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from gradio_client import Client
from train_own_app import (  # noqa: F401  (the fixtures app_server and server)
    CHROMIUM,
    app_server_fixture,
    server_fixture,
    set_slider,
)

from web.picker import name_of

pytestmark = [
    pytest.mark.slow,  # a training in the served app
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian Chromium (/usr/bin/chromium) is not installed"),
]
TIMEOUT_MS = 120_000  # the machine is small and shared


@pytest.fixture(scope="module", name="browser")
def browser_fixture():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield browser
        browser.close()


def open_page(browser, url: str):
    page = browser.new_page(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(url, wait_until="domcontentloaded")
    return page


@pytest.fixture(scope="module", name="trained")
def trained_fixture(server, browser, tmp_path_factory):
    """(page, model name, zip bytes): one 1-digit, 5-second training pressed on the page, with a seed chosen under
    "More settings", its zip downloaded."""
    page = open_page(browser, server)
    page.get_by_role("tab", name="Train your own").click()
    for control, value in (("own-digits", "1"), ("own-units", "32"), ("own-seconds", "5")):
        set_slider(page, control, value)
    page.locator("#own-more").get_by_text("More settings").click()  # the seed, rate and batch: closed at first
    page.locator("#own-seed input").fill("7")
    page.locator("#own-seed input").press("Tab")  # (the batch stays 128: another's first epoch is slower)
    page.locator("#own-train").click()
    page.locator("#own-done").wait_for()
    name = page.locator("#own-done b").inner_text()
    assert "(seed 7, learning rate 0.01, batch 128)" in page.locator("#own-done").inner_text()  # as the engine had them
    with page.expect_download() as download:
        page.locator("#own-download").click()
    saved = tmp_path_factory.mktemp("zip") / "model.zip"
    download.value.save_as(saved)
    yield page, name, saved.read_bytes()
    page.close()


def options(page, dropdown: str) -> list[str]:
    page.locator(f"#{dropdown} input").click()
    shown = page.locator(f"#{dropdown} [role=option]").all_inner_texts()
    page.keyboard.press("Escape")
    return [text.strip() for text in shown]


def test_compare_offers_the_trained_model_in_a_and_b_and_compares_with_it(trained, server):
    page, name, _ = trained
    page.get_by_role("tab", name="Compare").click()
    assert name in options(page, "compare-a")
    assert name in options(page, "compare-b")
    page.locator("#compare-a input").click()
    page.locator("#compare-a").get_by_role("option", name=name, exact=True).click()
    page.locator("#compare-question input").fill("3+4")
    page.locator("#compare-button").click()
    sides = page.locator("#compare-one > div")
    sides.first.wait_for()
    assert page.locator("#compare-one h3").all_inner_texts() == [name, "add3-attention"]
    answer = Client(server, verbose=False).predict("3+4", name, api_name="/predict")
    assert answer["error"] is None, answer
    assert answer["answer_text"].strip() in sides.first.inner_text()
    page.get_by_role("tab", name="Train your own").click()  # the line that ends the training links to it
    assert page.locator("#own-done #own-link").get_attribute("href") == f"?model={name}"


def test_a_page_opened_with_the_models_link_shows_it_in_every_tab(trained, browser, server):
    _, name, _ = trained
    page = open_page(browser, f"{server}/?model={name}")
    page.wait_for_function(f"document.querySelector('#model-line')?.innerText.includes({name!r})")
    assert name_of(page.locator("#model-picker input").input_value()) == name
    page.get_by_role("tab", name="Compare").click()
    assert page.locator("#compare-a input").input_value() == name
    assert name in options(page, "compare-b")
    page.get_by_role("tab", name="The model").click()
    shown = page.locator("#model-tab").inner_text()
    assert "trained here" in shown and "2 numbers from 0 to 9" in shown, shown  # the tab of a model trained here
    page.get_by_role("tab", name="Train your own").click()
    assert page.locator("#own-opened #own-link").get_attribute("href") == f"?model={name}"
    page.close()


@pytest.mark.parametrize("asked", ["yours-000000000000", "<b>add9</b>{{x}}"])
def test_a_link_to_no_model_says_so_in_one_sentence_and_shows_the_default(trained, browser, server, asked):
    page = open_page(browser, f"{server}/?model={asked}")
    note = page.locator("#link-note")
    note.wait_for()
    text = note.inner_text().strip()
    assert text.endswith("add3.") and text.count(". ") == 0 and "no model" in text, text
    assert name_of(page.locator("#model-picker input").input_value()) == "add3"
    assert asked not in page.content() and "add9" not in page.content()
    page.close()


def test_the_zip_is_one_folder_with_a_readme_that_plain_keras_loads(trained, server, tmp_path):
    import keras

    from model.codec import answer_texts, encode_questions, one_hot
    from model.config import TaskConfig
    from model.network import greedy_probabilities
    from model.questions import all_questions

    _, name, data = trained
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = archive.namelist()
        assert {entry.split("/")[0] for entry in names} == {name}, names
        assert {f"{name}/README.md", f"{name}/config.json", f"{name}/model.weights.h5"} <= set(names), names
        archive.extractall(tmp_path)
    folder = tmp_path / name
    readme = (folder / "README.md").read_text()
    assert f'keras.saving.load_model("{name}")' in readme and "task_config.json" in readme, readme
    assert "1-digit sums" in readme and "trained for" in readme and "wrong of all 100 questions" in readme, readme
    model = keras.saving.load_model(Path(folder))  # what any Keras user does, no custom objects
    task = TaskConfig.load(folder / "task_config.json")
    questions = all_questions(task)
    written = greedy_probabilities(model, one_hot(encode_questions(questions, task), task), task).argmax(-1)
    keras_says = [text.strip() for text in answer_texts(written, task)]
    client = Client(server, verbose=False)
    asked = [f"{a}+{b}" for a, b in questions.terms[:20, :2]]  # 0+0, 0+1, …: the first 20 of all 100
    app_says = [client.predict(q, name, api_name="/predict")["answer_text"].strip() for q in asked]
    assert keras_says[:20] == app_says
