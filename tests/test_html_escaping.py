"""Every view writes a visitor's or a model repo's text as text: each renderer that web/templates.py's
templates draw is fed a value with markup, quotes, an ampersand and the characters Gradio's own HTML
templates read (${…}, backquotes), and must show it escaped. No server: the views are pure functions."""

from __future__ import annotations

import numpy as np
import pytest

from model.serving import load_catalogue
from web import about, chart, compare, html, inside, learning, many, map_picture, one_sum, question_map, train_own
from web.service import Service
from web.templates import escape, template

EVIL = "<script>alert(\"x\")</script> & 'q' ${a} `b`"
ESCAPED = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#x27;q&#x27; &#36;&#123;a&#125; &#96;b&#96;"


@pytest.fixture(scope="module")
def service() -> Service:
    return Service(load_catalogue(None, None, []))


def shown_as_text(page: str) -> None:
    assert "<script" not in page and "${" not in page and "`" not in page, page[:400]
    assert ESCAPED in page, page[:400]


def test_the_template_engine_escapes_every_value_and_only_a_rendered_template_is_markup():
    inner = template("<b>{{ text }}</b>")(text=EVIL)
    assert str(inner) == f"<b>{ESCAPED}</b>"
    outer = template("<i>{{ inner }}{{ text }}</i>")(inner=inner, text=EVIL)
    assert str(outer) == f"<i><b>{ESCAPED}</b>{ESCAPED}</i>"  # nested once, never escaped twice
    assert str(template("{{ values | join(', ') }}")(values=[EVIL, EVIL])) == f"{ESCAPED}, {ESCAPED}"
    assert escape(EVIL) == ESCAPED and escape(7) == "7"
    with pytest.raises(Exception, match="safe"):
        template("{{ text | safe }}")  # a template cannot mark a value safe; only code can, saying why


def test_the_shared_pieces_escape():
    shown_as_text(html.message(EVIL, "warn"))
    shown_as_text(html.legend(html.SEQUENTIAL, EVIL, EVIL))
    assert "&lt;" in html.chars_html("<&") and "&amp;" in html.chars_html("<&")


def test_the_model_line_and_panel_escape_what_a_repo_says(service):
    info = service.model_info("add3")
    info = {**info, "description": EVIL, "source": EVIL, "revision": EVIL, "page_url": EVIL, "notes": [EVIL]}
    info["accuracy_measured_on"] = EVIL
    info["metrics"] = {**info["metrics"], "note": EVIL}
    shown_as_text(about.model_line(info, EVIL))
    page = about.model_html(info)
    shown_as_text(page)
    assert f'href="{ESCAPED}"' in page and page.count(ESCAPED) >= 5
    shown_as_text(about.model_html({"error": EVIL}))


def test_charts_escape_titles_and_series_names():
    series = chart.Series(EVIL, np.arange(1, 4), np.array([3.0, 2.0, 1.0]))
    page = chart.chart_html(chart.Chart(EVIL, EVIL, [series]))
    shown_as_text(page)
    assert page.count(ESCAPED) == 4  # the title, its aria-label, the y title, the series' key
    shown_as_text(chart.chart_html(chart.Chart(EVIL, EVIL, [], empty_note=EVIL)))


def test_one_question_views_escape_the_question_and_its_refusal(service):
    refused = service.predict(EVIL, "add3")
    shown_as_text(one_sum.verdict_html({**refused, "error": EVIL, "question": EVIL}, EVIL))
    answered = service.predict("535+61", "add3-attention")
    shown_as_text(one_sum.verdict_html({**answered, "question": EVIL, "model": EVIL}))
    shown_as_text(one_sum.written_html({**answered, "answer_as_read": EVIL}))
    shown_as_text(one_sum.encoding_html({**answered, "question": EVIL}, service.resolve("add3-attention").task))
    positions = [{**p, "char": "<", "true_char": "&", "wrong": True} for p in answered["positions"]]
    page = one_sum.positions_html({**answered, "positions": positions})
    assert '<td class="mono big">&lt;</td>' in page and "&amp;" in page


def test_inside_views_escape(service):
    shown_as_text(inside.attribution_html({"error": EVIL}))
    weights = service.attribution("535+61", "add3-attention")
    assert "<th>&lt;</th>" in inside.depends_html({**weights, "network_input": "<" * len(weights["network_input"])})
    _, result, traces = service.trace("535+61", "add3")
    served = service.resolve("add3")
    read, written = result["network_input"], result["answer_text"]
    page = inside.states_html(traces, served.unit_orders, "<" * len(read), written, 0, ["cell", "gates"])
    assert ">&lt;</span>" in page and "<<" not in page
    shown_as_text(inside.step_text(traces, read, written, [0.5] * len(written), 0, EVIL))


def test_many_and_compare_tables_escape_questions_answers_and_names(service):
    table = service.predict_batch("535+61\n1+1\n" + EVIL, "add3")
    rows = [{**row, "question": EVIL, "prediction": EVIL, "true_answer": EVIL} for row in table["rows"]]
    rows[-1]["error"] = EVIL
    shown_as_text(many.table_html({**table, "rows": rows}))
    shown_as_text(many.table_summary({**table, "model": EVIL}))
    shown_as_text(many.table_summary({"error": EVIL}))
    shown_as_text(compare.compare_one_html(service.compare("535+61", "add3", "add2"), EVIL, EVIL))
    shown_as_text(compare.compare_one_html({"error": EVIL}, "a", "b"))
    both = service.compare_random(5, 1, "add3", "add2")
    both["a"]["rows"] = [{**row, "question": EVIL, "prediction": EVIL} for row in both["a"]["rows"]]
    both["b"]["rows"] = [{**row, "error": EVIL, "prediction": EVIL} for row in both["b"]["rows"]]
    page = compare.compare_random_html(both, EVIL, EVIL)
    shown_as_text(page)
    assert f'title="{ESCAPED}"' in page  # a refusal's reason, in the mark's tooltip
    shown_as_text(compare.compare_random_html({**both, "b": {"error": EVIL}}, "a", EVIL))


def test_map_views_escape(service):
    served = service.resolve("brackets3")
    shown_as_text(question_map.patterns_html({"patterns": [{"pattern": EVIL, "right": 1, "asked": 2}]}))
    shown_as_text(question_map.patterns_html({"error": EVIL}))
    pattern = served.question_map.by_pattern[1]  # (a·b)·c: the hover writes a bracket before the first number
    png, axes = map_picture.render(pattern, 0, 0, 25)
    page = map_picture.img_html(png, axes, pattern)
    assert 'data-pre="(" data-b="[0, 1, 2,' in page and 'data-rest=")?…"' in page
    shown_as_text(question_map.map_html(None, served.task) + html.message(EVIL))
    assert question_map.lists_html(served.question_map).count("<button") > 0


def test_learning_and_train_your_own_escape(service):
    record = service.resolve("add3").learning
    shown_as_text(learning.probe_picture(record.probe_margin[0], record.probe_a, EVIL))
    shown_as_text(train_own._status(1, 10, EVIL))
    metrics = {"heldout_exact_match": 0.5, "train_seconds": 2.5}
    event = {"reason": EVIL, "model": EVIL, "metrics": metrics, "seconds": 3, "budget": 10}
    page = train_own.done_html(event)
    shown_as_text(page)
    assert f"<b>{ESCAPED}</b>" in page


def test_no_view_builds_a_tag_in_an_f_string():
    """Markup comes from templates only: an f-string with a tag in it would print its values unescaped."""
    import ast
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    tag = re.compile(r"<[A-Za-z/!]")
    found = []
    for path in [root / "app.py", *sorted((root / "web").glob("*.py"))]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.JoinedStr):
                text = "".join(part.value for part in node.values if isinstance(part, ast.Constant))
                if tag.search(text):
                    found.append(f"{path.name}:{node.lineno}")
    assert not found, f"HTML built in f-strings (use a template): {found}"
