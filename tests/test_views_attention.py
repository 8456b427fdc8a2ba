"""Every view on the newer designs: a model that writes its answer lowest digit first, attention decoders
(dot and additive) and a bracket task, served through the real Service from small model folders
(tests/view_models.py). What the page says must be the answer the usual way round, the attention grid must
be the network's own weights, and no view may fail on any of them.
"""

from __future__ import annotations

import numpy as np
import pytest
from view_models import DESIGNS, write_models

from model.codec import answer_value, encode_answers, encode_questions
from model.questions import Questions, answers, parse_question, sample_questions
from model.serving import load_catalogue
from trainer.evaluate import failure_lines
from trainer.verify import Checker
from web import about, compare, inside, many, one_sum, space_map
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
    space_map.map_html(served.space_map, served.task)
    space_map.lists_html(served.space_map)


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


def test_the_map_of_a_bracket_task_is_true_to_the_questions_its_cells_open(service):
    served = service.resolve("brackets-additive")
    space = served.space_map
    assert space is not None
    html = space_map.map_html(space, served.task)
    assert "without brackets" in html
    space_map.lists_html(space)
    cells = [tuple(cell) for cell in space.wrong[:6].tolist()] + [
        (int(r), int(c)) for r, c, _ in space.weakest[:3].tolist()
    ]
    assert cells
    for row, col in cells:
        question = space_map.cell_question(service, "brackets-additive", {"row": row, "col": col})
        assert question is not None and "(" not in question
        result = service.predict(question, "brackets-additive")
        assert result["correct"] == ((row, col) not in {tuple(w) for w in space.wrong.tolist()})


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
    html = space_map.patterns_html(result)
    assert html.count("<tr>") == 1 + len(result["patterns"]) and "(a·b)·c" in html
    assert service.patterns("lsb-repeat")["patterns"] == [] and space_map.patterns_html(service.patterns("add3")) == ""
