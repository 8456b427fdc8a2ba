"""A first visit, without a browser: the picker's one-line labels, the example answered before any click,
and the Map hover's answer for a cell, each checked against what the service (/predict, /model_info) says.

tests/test_browser_tabs.py (test_a_first_visit…) checks the same on the page in Chromium.
"""

from __future__ import annotations

import re

import pytest

from model.metrics import headline
from model.serving import load_catalogue
from web import about, map_hover, one_sum, picker
from web.results import task_summary
from web.service import Service


@pytest.fixture(scope="module")
def service():
    return Service(load_catalogue(extra=[]))


# The picker ---------------------------------------------------------------------------------------
def header_figure(service: Service, name: str) -> str:
    """The accuracy as the model line under the title writes it ("· 99.98% right (…)")."""
    line = str(about.model_line(service.model_info(name), task_summary(service.resolve(name))))
    found = re.search(r"· ([0-9.]+%) right \(", line)
    assert found, line
    return found.group(1)


def test_every_picker_choice_is_the_models_name_with_its_task_cell_and_the_headers_accuracy(service):
    choices = picker.picker_choices(service)
    assert [value for _, value in choices] == service.names()  # the page sends the name, as before
    for label, name in choices:
        assert label.startswith(name + picker.SEPARATOR), label
        figure = header_figure(service, name)
        assert f"· {figure} " in label, (label, figure)  # the one figure the header shows, not another
        info = service.model_info(name)
        assert about.cell_name(info["network"]["cell"]) in label
        assert ("attention" in label) == (info["design"]["decoder"] == "attention"), label
        assert len(label) <= 100, label  # one line on a desktop, two at most on a 390 px phone
    labels = dict((name, label) for label, name in choices)
    assert labels["add3"] == "add3 — 3-digit addition, LSTM · 100.00% of all 1,000,000"
    assert labels["mixed3"].endswith("· 57.39% of 50,000 held-out")  # a held-out figure says so
    assert "2-4 numbers" in labels["add-terms"] and "brackets" in labels["brackets3"]


def test_the_short_basis_names_what_the_figure_was_measured_on():
    every = {"exhaustive_wrong": 3, "exhaustive_total": 1_000_000}
    assert headline(every, short=True) == (headline(every)[0], "of all 1,000,000")
    held = {"heldout_exact_match": 0.5, "heldout_size": 10}
    assert headline(held, short=True) == (0.5, "of 10 held-out")
    assert headline({**held, "heldout_disjoint": False}, short=True) == (0.5, "of 10 random")
    assert headline({"heldout_exact_match": 0.5}, short=True) == (0.5, "held-out")
    assert headline({}, short=True) == (None, "no accuracy recorded")


def test_a_model_without_an_accuracy_says_so_in_its_label(service):
    served = service.resolve("add3")
    saved = dict(served.stored.metrics)
    try:
        served.stored.metrics.clear()
        assert picker.model_label(served).endswith("· no accuracy recorded")
    finally:
        served.stored.metrics.update(saved)


# The example answered before any click --------------------------------------------------------------
def test_the_page_opens_with_the_default_models_example_answered_as_predict_answers_it():
    import app

    example = app.catalogue_from(app.parse_args([])).examples("add3")[0]
    by_id = {block.elem_id: block for block in app.demo.blocks.values() if getattr(block, "elem_id", None)}
    assert by_id["question"].value == example
    verdict = str(by_id["verdict"].value)
    assert f'data-question="{example}"' in verdict and 'data-model="add3"' in verdict
    predicted = app.catalogue_from(app.parse_args([])).predict(example, "add3")
    assert f'id="predicted-answer">{predicted["answer"]}<' in verdict
    assert by_id["predict-json"].value["answer"] == predicted["answer"]
    assert "table" in str(by_id["attribution"].value) and "Step 1 of" in str(by_id["step-box"].value)


def test_another_model_keeps_a_question_it_takes_and_else_answers_its_own_example_saying_why(service):
    assert one_sum.question_for(service, "add5", "535+61") == ("535+61", None)
    assert one_sum.question_for(service, "mul2", "") == ("35*61", None)
    question, note = one_sum.question_for(service, "mul2", "535+61")
    assert question == service.examples("mul2")[0]
    assert note and note.startswith("535+61 is not a question for mul2.") and "only knows *" in note
    verdict = str(one_sum.answered(service, question, "mul2", note)[0])
    assert 'data-model="mul2"' in verdict and "only knows *" in verdict and 'id="predicted-answer"' in verdict
    _, long_note = one_sum.question_for(service, "add3", "<b>" * 50)
    assert long_note and "<b>" * 20 not in long_note  # the visitor's text shortened (and escaped by the template)


# The map's hover ----------------------------------------------------------------------------------
@pytest.mark.parametrize(("model", "pattern", "row", "col"), [("add3", None, 60, 535), ("gru3", None, 5, 5)])
def test_a_hovered_cell_is_answered_as_predict_answers_its_question(service, model, pattern, row, col):
    got = map_hover.cell_answer(service, {"model": model, "pattern": pattern, "row": row, "col": col})
    question = service.resolve(model).question_map.question(row, col).texts()[0]
    result = service.predict(question, model)
    assert got["question"] == question and got["model"] == model and got["error"] is None
    assert got["correct"] == result["correct"]
    assert str(result["answer"]) in got["text"] and map_hover.margin_text(result["min_margin"]) in got["text"]


def test_a_wrong_cell_says_wrong_with_the_true_answer_and_a_negative_margin(service):
    qmap = service.resolve("gru3").question_map
    row, col = (int(i) for i in qmap.wrong[0])
    got = map_hover.cell_answer(service, {"model": "gru3", "pattern": None, "row": row, "col": col})
    result = service.predict(got["question"], "gru3")
    assert got["correct"] is False and result["correct"] is False
    assert f"wrong (true {result['true_answer']})" in got["text"] and "margin −" in got["text"]


def test_a_bracket_patterns_cell_is_asked_with_its_brackets(service):
    qmap = service.resolve("brackets3").question_map
    got = map_hover.cell_answer(service, {"model": "brackets3", "pattern": 1, "row": 3, "col": 4})
    assert got["question"] == qmap.others[0].question(3, 4).texts()[0] and "(" in got["question"]


@pytest.mark.parametrize(
    "data",
    [
        None,
        [1, 2],
        {"model": "add3", "row": True, "col": 1},
        {"model": "add3", "row": 1000, "col": 1},
        {"model": "add3", "row": -1, "col": 1},
        {"model": "add3", "row": 1.0, "col": 1},
        {"model": "x" * 1000, "row": 1, "col": 1},
        {"model": 5, "row": 1, "col": 1},
        {"model": "add3", "pattern": 7, "row": 1, "col": 1},
        {"model": "brackets3", "pattern": "1", "row": 1, "col": 1},
    ],
)
def test_anything_but_a_cell_of_the_map_gets_one_sentence(service, data):
    assert map_hover.cell_answer(service, data) == {
        "question": None,
        "text": None,
        "correct": None,
        "model": None,
        "error": map_hover.NOT_A_CELL,
    }


def test_the_hover_line_names_the_answer_the_verdict_and_the_margin(service):
    result = service.predict("535+61", "add3")
    text = map_hover.hover_text(result)
    assert text == f"→ 596 ☑ right, margin {result['min_margin']:.3f}"
