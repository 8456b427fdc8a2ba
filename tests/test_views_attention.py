"""Every view on the newer designs: a model that writes its answer lowest digit first, attention decoders
(dot and additive) and a bracket task, served through the real Service from small model folders
(tests/view_models.py). What the page says must be the answer the usual way round, the attention grid must
be the network's own weights, and no view may fail on any of them.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import numpy as np
import pytest
from view_models import DESIGNS, write_models

from model.brackets import pattern_labels
from model.codec import answer_value, encode_answers, encode_questions
from model.questions import Questions, answers, parse_question, sample_questions
from model.serving import load_catalogue
from trainer.evaluate import failure_lines
from trainer.verify import Checker
from web import about, compare, inside, many, map_picture, one_sum, question_map
from web.picker import SEPARATOR
from web.service import Service


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    folders = write_models(tmp_path_factory.mktemp("designs"))
    served = Service(load_catalogue(extra=[str(f) for f in folders]))
    assert set(DESIGNS) <= set(served.names())
    return served


def page_of_one_question(service: Service, question: str, name: str) -> str:
    result = service.predict(question, name)
    task = service.resolve(name).task
    return (
        one_sum.verdict_html(result, name)
        + one_sum.encoding_html(result, task)
        + one_sum.positions_html(result)
        + inside.depends_html(service.attribution(question, name))
    )


@pytest.mark.parametrize("name", list(DESIGNS))
def test_every_view_answers_each_design_the_usual_way_round(service, name):
    served = service.resolve(name)
    for question in service.examples(name):
        result = service.predict(question, name)
        assert result["error"] is None
        assert result["answer"] == answer_value(result["answer_as_read"])
        assert result["true_as_read"].strip() == str(result["true_answer"])
        shown = result["answer"] if result["answer"] is not None else result["answer_as_read"].strip()
        assert f'id="predicted-answer">{shown}<' in page_of_one_question(service, question, name)
        for key in ("attribution", "states"):
            assert getattr(service, key)(question, name)["error"] is None
        _, traced_result, traces = service.trace(question, name)
        read, written = traced_result["network_input"], traced_result["answer_text"]
        confidence = [p["confidence"] for p in traced_result["positions"]]
        for step in range(len(read) + len(written)):
            inside.step_text(traces, read, written, confidence, step, name, traced_result["attention"])
            inside.states_html(
                traces, served.unit_orders, read, written, step, ["cell", "gates"], traced_result["attention"]
            )
    table = service.predict_batch("\n".join(service.examples(name)), name)
    assert table["error"] is None
    assert [row["prediction"] for row in table["rows"]] == [
        service.predict(q, name)["answer_as_read"].strip() for q in service.examples(name)
    ]
    many.table_html(table)
    assert service.random_sums(20, 1, name)["error"] is None
    info = service.model_info(name)
    assert info["error"] is None
    about.model_html(info)
    question_map.map_html(served.question_map, served.task)
    question_map.lists_html(served.question_map)


def test_one_question_shows_the_order_an_lsb_model_wrote_in(service):
    result = service.predict("35+61", "lsb-repeat")
    assert result["written"] == "lsb"
    written = result["answer_text"].rstrip(" ")
    assert result["answer_as_read"].strip() == written[::-1]  # digits (and any sign) reversed back
    verdict = one_sum.verdict_html(result, "lsb-repeat")
    arrows = " → ".join(f'<b class="mono">{c}</b>' for c in written)
    assert f"Written lowest digit first: {arrows}" in verdict
    assert f'id="predicted-answer">{result["answer"]}<' in verdict
    assert "Written lowest digit first" not in one_sum.verdict_html(service.predict("535+61", "add3"), "add3")


@pytest.mark.parametrize("name", ["attention-dot", "brackets-additive"])
def test_the_attention_grid_is_the_networks_own_weights(service, name):
    served = service.resolve(name)
    question = service.examples(name)[1]
    result = service.attribution(question, name)
    q = parse_question(question, served.task)
    _, weights = served.network.attention_weights(encode_questions(q, served.task))
    grid = np.array(result["attention"])
    assert grid.shape == (served.task.answer_length, served.task.question_length)
    assert np.abs(grid - weights[0]).max() <= 5e-5  # rounded to 4 places
    assert np.allclose(grid.sum(axis=1), 1.0, atol=1e-3)
    assert service.states(question, name)["attention"] == result["attention"]
    html = inside.depends_html(result)
    assert 'id="attention-grid"' in html and 'id="occlusion-grid"' in html
    attention_part = html[html.index('id="attention-grid"') :]
    assert attention_part.count('<td class="v"') == grid.size
    first = next(v for v in grid[0])
    assert f'title="{first:.2f}"' in attention_part


def test_a_repeat_model_has_no_attention_grid(service):
    result = service.attribution("35+61", "lsb-repeat")
    assert result["attention"] is None
    assert service.states("35+61", "lsb-repeat")["attention"] is None
    assert 'id="attention-grid"' not in inside.depends_html(result)


def test_inside_shows_what_the_attention_decoder_reads_at_each_answer_step(service):
    served, result, traces = service.trace("35+61", "attention-dot")
    read, written = result["network_input"], result["answer_text"]
    attention = result["attention"]
    confidence = [p["confidence"] for p in result["positions"]]
    assert [t.name for t in traces] == ["encoder 1", "decoder 1"]
    assert traces[1].hidden.shape[1] == len(written) and set(traces[1].gates) >= {"input", "forget", "output"}
    for answer_step in range(len(written)):
        most = int(np.argmax(attention[answer_step]))
        text = inside.step_text(traces, read, written, confidence, len(read) + answer_step, served.name, attention)
        assert f"attending most to input step {most + 1}" in text
    pictures = inside.states_html(traces, served.unit_orders, read, written, len(read), ["gates"], attention)
    assert "attention: weights over the input" in pictures and "attention: context read" in pictures
    assert "decoder 1: forget gate" in pictures
    plain = inside.states_html(traces, served.unit_orders, read, written, len(read), [])
    assert "attention:" not in plain


def test_compare_a_repeat_and_an_attention_model_of_the_same_task(service):
    assert service.resolve("lsb-repeat").task == service.resolve("attention-dot").task
    one = service.compare("35+61", "lsb-repeat", "attention-dot")
    assert one["error"] is None and one["a"]["model"] == "lsb-repeat" and one["b"]["model"] == "attention-dot"
    html = compare.compare_one_html(one, "lsb-repeat", "attention-dot")
    assert html.count("Written lowest digit first") == 2
    drawn = service.compare_random(30, 4, "lsb-repeat", "attention-dot")
    assert drawn["error"] is None
    for side, name in (("a", "lsb-repeat"), ("b", "attention-dot")):
        rows = drawn[side]["rows"]
        assert [r["prediction"] for r in rows] == [
            service.predict(r["question"], name)["answer_as_read"].strip() for r in rows
        ]
    assert 'id="compare-random"' in compare.compare_random_html(drawn, "lsb-repeat", "attention-dot")


def test_the_model_tab_and_header_name_the_design(service):
    info = service.model_info("brackets-additive")
    assert info["design"] == {"decoder": "attention", "attention": "additive", "answer_order": "msb", "brackets": True}
    panel = about.model_html(info)
    assert "attention decoder, additive (Bahdanau)" in panel and "questions with brackets" in panel
    assert "fed the character it wrote last" in panel and "RepeatVector" not in panel
    listed = {row["name"]: row["task"] for row in service.models()["models"]}
    assert listed["brackets-additive"] == "1-digit mixed + - *, 2-3 numbers, with brackets"
    assert listed["add3"] == "3-digit addition, 2 numbers"
    line = about.model_line(service.model_info("attention-dot"), "2-digit addition")
    assert "attention decoder, dot-product (Luong), answer written lowest digit first" in line
    old = about.model_html(service.model_info("add3"))
    assert "RepeatVector decoder (keras.io), answer written highest digit first" in old
    assert "RepeatVector(4), 1 decoder layer of 128 units" in old


def test_bracket_examples_are_bracketed_parse_and_are_answered_with_their_brackets(service):
    examples = service.examples("brackets-additive")
    assert "(" in examples[0]  # the placeholder and the hints show brackets too
    assert any("(" not in q for q in examples)
    task = service.resolve("brackets-additive").task
    for question in examples:
        result = service.predict(question, "brackets-additive")
        assert result["error"] is None and result["question"] == question
        assert result["true_answer"] == int(answers(parse_question(question, task))[0])
    # Each question keeps its own brackets when questions are answered together.
    table = service.predict_batch("(7-8)*3\n7-8*3\n7-(8*3)", "brackets-additive")
    assert [r["true_answer"] for r in table["rows"]] == [-3, -17, -17]


def test_each_bracket_pattern_of_the_map_is_true_to_the_questions_its_cells_open(service):
    """The map of each pattern: every cell opens its question with that pattern's brackets, and the cell is
    wrong exactly when the model answers that question wrong (the stored map.npz against /predict_batch)."""
    served = service.resolve("brackets-additive")
    assert served.question_map is not None and len(served.question_map.by_pattern) == 3
    hovers = [("", "?", "?…"), ("(", "?", ")?…"), ("", "?(", "?…)")]  # a?b?…, (a?b)?…, a?(b?…)
    for pattern, label in enumerate(pattern_labels(3)):
        space = question_map.chosen_map(served.question_map, served.task, label)
        assert not isinstance(space, str) and space.pattern == pattern
        html = question_map.map_html(space, served.task)
        assert f"bracket pattern {label}: every question has 3 numbers" in html
        before, between, after = hovers[pattern]
        assert f'data-pre="{before}"' in html and f'data-op="{between}"' in html and f'data-rest="{after}"' in html
        cells = [(row, col) for row in range(10) for col in range(10)]
        questions = [question_map.cell_question(service, served.name, {"row": r, "col": c}, label) for r, c in cells]
        for question in questions:
            assert question is not None and parse_question(question, served.task).groups.tolist() == [pattern]
        table = service.predict_batch("\n".join(q for q in questions if q), "brackets-additive")
        wrong = {tuple(cell) for cell in space.wrong.tolist()}
        assert [not row["correct"] for row in table["rows"]] == [cell in wrong for cell in cells]
        for button_text in re.findall(r'data-col="\d+" title="[^"]*">([^<]+)<', question_map.lists_html(space)):
            assert parse_question(button_text, served.task).groups.tolist() == [pattern]
        zoomed = question_map.map_html(space, served.task, question_map.zoom_request(space, 0, 0, 25))
        assert f"bracket pattern {label}" in zoomed and 'id="map-block"' in zoomed
    assert "without brackets" in question_map.map_html(served.question_map, served.task)  # pattern a·b·c


def test_the_pattern_choice_is_shown_for_a_bracket_map_only_and_a_bad_choice_gets_one_sentence(service):
    served = service.resolve("brackets-additive")
    choice = question_map.pattern_choice(served.question_map, served.task)
    assert choice.visible and [value for _, value in choice.choices] == ["a·b·c", "(a·b)·c", "a·(b·c)"]
    assert choice.value == "a·b·c"
    add3 = service.resolve("add3")
    assert not question_map.pattern_choice(add3.question_map, add3.task).visible
    assert question_map.chosen_map(served.question_map, served.task, None) is served.question_map
    assert question_map.chosen_map(served.question_map, served.task, "") is served.question_map
    for bad in ("(a·b·c)", 1, ["(a·b)·c"], True, "x" * 5000):
        why = question_map.chosen_map(served.question_map, served.task, bad)
        assert isinstance(why, str) and why.startswith("The bracket pattern is one of a·b·c, (a·b)·c, a·(b·c), not")
        assert len(why) < 120 and why.endswith(".")
        assert question_map.cell_question(service, "brackets-additive", {"row": 0, "col": 0}, bad) is None
    assert question_map.chosen_map(add3.question_map, add3.task, "(a·b)·c") == (
        "This model's map has no bracket patterns to choose from."
    )
    assert question_map.cell_question(service, "add3", {"row": 0, "col": 0}, "(a·b)·c") is None
    assert question_map.cell_question(service, "add3", {"row": 0, "col": 0}, None) == "0+0"


def test_each_bracket_pattern_draws_its_own_picture():
    """Drawn from a map whose wrong cells differ by pattern (right exactly where the answer is not negative)."""
    from model.question_map import build_map

    task, _ = DESIGNS["brackets-additive"]
    space = build_map(task, lambda q: np.where(answers(q) >= 0, 0.5, -0.5).astype(np.float32))
    pictures = {map_picture.render(m)[0] for m in space.by_pattern}
    keys = {map_picture.map_key(m) for m in space.by_pattern}
    assert len(pictures) == len(keys) == 3


def test_failure_lines_read_an_lsb_answer_the_usual_way_round():
    task, _ = DESIGNS["lsb-repeat"]
    q = sample_questions(task, 50, np.random.default_rng(2))
    checker = Checker(task, q)
    guessed = answers(q) + 1  # every answer one too many, so every line is a failure
    lines = failure_lines(checker, encode_answers(guessed, task), np.ones(len(q), bool), show=5)
    assert lines == [
        f"  {text} = {truth}, model says {str(guess)!r}"
        for text, truth, guess in zip(q.texts()[:5], answers(q)[:5].tolist(), guessed[:5].tolist(), strict=True)
    ]


def test_the_map_of_a_bracket_task_scores_each_bracket_pattern_on_the_same_numbers(service):
    from model.brackets import pattern_labels

    result = service.patterns("brackets-additive")
    assert [p["pattern"] for p in result["patterns"]] == pattern_labels(2) + pattern_labels(3)
    assert all(p["asked"] == 200 for p in result["patterns"])
    # Recount one pattern by asking its questions through /predict_batch: the same numbers, bracketed.
    task = service.resolve("brackets-additive").task
    drawn = sample_questions(task, 3 * 200 * 2, np.random.default_rng(0))
    rows = np.flatnonzero(drawn.counts == 3)[:200]
    q = Questions(drawn.terms[rows], drawn.ops[rows], np.full(len(rows), 1, np.int16))
    assert all(text.startswith("(") for text in q.texts())  # pattern 1 of 3 terms: (a·b)·c
    table = service.predict_batch("\n".join(q.texts()), "brackets-additive")
    assert result["patterns"][2] == {"pattern": "(a·b)·c", "right": table["correct"], "asked": 200}
    html = question_map.patterns_html(result)
    assert html.count("<tr>") == 1 + len(result["patterns"]) and "(a·b)·c" in html
    assert (
        service.patterns("lsb-repeat")["patterns"] == [] and question_map.patterns_html(service.patterns("add3")) == ""
    )


CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module")
def page_url(service):
    """The whole page (app.build_demo) on this module's models, served in this process."""
    from app_fixtures import free_port

    import app

    demo = app.build_demo(service)
    port = free_port()
    app.launch(demo, "127.0.0.1", port, block=False, mcp=False)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        demo.close()


def test_the_pattern_event_takes_whatever_is_sent_and_answers_a_map_or_one_sentence(page_url):
    """The page's new event, called as any client can call it (raw HTTP, by fn_index, from a fresh
    session): no choice draws the first pattern's map, a choice its pattern's (or, for a model without
    patterns, one sentence), and a value that is not a choice is refused by the guard (web/call_schema.py)
    in one sentence, before Gradio's Radio would refuse it with the value in its error."""
    import json
    import urllib.error
    import urllib.request

    with urllib.request.urlopen(page_url + "/config", timeout=30) as response:
        config = json.loads(response.read())
    ids = {c["id"]: c.get("props", {}).get("elem_id") for c in config["components"]}
    [event] = [d for d in config["dependencies"] if any(ids.get(t[0]) == "map-pattern" for t in d["targets"])]
    assert [ids.get(i) for i in event["inputs"]] == ["model-picker", "map-pattern"]

    def call(data: list) -> tuple[int, dict]:
        body = json.dumps({"data": data, "fn_index": event["id"], "session_hash": uuid.uuid4().hex}).encode()
        request = urllib.request.Request(
            page_url + "/gradio_api/run/predict", body, {"content-type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read())

    status, answer = call(["brackets-additive", None])
    assert status == 200 and "bracket pattern a·b·c" in answer["data"][0]
    # A fresh session (a page the server restarted under) may choose any served model's pattern.
    status, answer = call(["brackets-additive", "(a·b)·c"])
    assert status == 200 and "bracket pattern (a·b)·c" in answer["data"][0]
    status, answer = call(["add3", "(a·b)·c"])
    assert status == 200 and "This model&#x27;s map has no bracket patterns to choose from." in answer["data"][0]
    for bad in ("(a·b·c)", "9" * 90_000, ["(a·b)·c"], {"x": 1}, 3.5, True):
        status, answer = call(["brackets-additive", bad])  # not a choice: refused, without the value
        assert status == 400 and answer == {"error": 'The "Bracket pattern" input takes one of its choices.'}
    status, answer = call(["add3"])  # a short call is padded with nulls
    assert status == 200 and "0 wrong" in answer["data"][0]


@pytest.mark.slow  # a browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian Chromium (/usr/bin/chromium) is not installed")
def test_in_the_browser_the_bracket_pattern_switches_the_map_its_hover_and_the_question_a_click_opens(
    service, page_url
):
    """A real headless Chromium: the Radio shows for the bracket model only, choosing (a·b)·c redraws the map
    and its lists, clears the zoomed block, and the hover and a click read that pattern's question."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(60_000)
        page.goto(page_url, wait_until="domcontentloaded")
        page.get_by_role("tab", name="Map").click()
        page.locator("#map img.questionmap").wait_for()
        assert not page.locator("#map-pattern").is_visible()  # add3: no brackets
        page.locator("#model-picker input").click()
        page.locator("#model-picker").get_by_role("option", name=re.compile(f"^brackets-additive{SEPARATOR}")).click()
        page.locator("#map").get_by_text("bracket pattern a·b·c").wait_for()
        radio = page.locator("#map-pattern")
        assert radio.is_visible() and radio.get_by_label("a·b·c", exact=True).is_checked()
        page.locator("#zoom-button").click()
        page.locator("#map-zoom").get_by_text("bracket pattern a·b·c").wait_for()

        radio.get_by_label("(a·b)·c", exact=True).check()
        page.locator("#map").get_by_text("bracket pattern (a·b)·c").wait_for()
        page.locator("#map-zoom img.questionmap").wait_for(state="detached")
        # (Its random weights answer nearly every cell wrong, so the picture may look the same: a map whose
        # pictures differ by pattern is test_each_bracket_pattern_draws_its_own_picture.)
        assert page.locator("#map img.questionmap").get_attribute("data-pre") == "("
        listed = page.locator("#map-lists button").first.inner_text()
        assert listed.startswith("("), listed
        image = page.locator("#map img.questionmap")
        image.scroll_into_view_if_needed()
        box = image.bounding_box()
        page.mouse.move(box["x"] + box["width"] * 0.35, box["y"] + box["height"] * 0.75)  # column 3, row 7
        assert page.locator("#map .maptip .tipq").inner_text() == "(3?7)?…"
        page.mouse.click(box["x"] + box["width"] * 0.35, box["y"] + box["height"] * 0.75)
        served = service.resolve("brackets-additive")
        opened = served.question_map.others[0].question(7, 3).texts()[0]
        assert opened.startswith("(3") and ")" in opened
        page.locator(f'#verdict [data-question="{opened}"]').wait_for()
        browser.close()


def test_the_occlusion_note_says_operators_are_replaced_too(service):
    """model.analysis.attribution varies operators over the task's others, so their columns are not zero:
    the note under the grid says so."""
    result = service.attribution("12+34*56", "mixed3")
    assert result["error"] is None
    read = result["network_input"]
    operator_columns = [i for i, c in enumerate(read) if c in "+-*"]
    grid = np.asarray(result["grid"])
    assert operator_columns and grid[:, operator_columns].max() > 0
    assert "each operator by the task&#x27;s other operators" in inside.attribution_html(result)
