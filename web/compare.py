"""The "Compare" view: two models answer the same question, or the same random questions, side by side."""

from __future__ import annotations

from typing import Any

import gradio as gr
from markupsafe import Markup

from model.metrics import percent

from .html import CSS, RIGHT, WARN, WRONG, confidence_text, message, plural, show_char
from .many import TABLE_CSS
from .one_sum import verdict_html
from .service import MAX_RANDOM, Service
from .templates import template
from .work import heavy_handler, pooled

COMPARE_CSS = """
.sides { display: flex; flex-wrap: wrap; gap: 16px; }
.sides > div { flex: 1 1 280px; min-width: 0; }
.both { border-collapse: collapse; width: 100%; font-size: 14px; }
.both th, .both td { padding: 3px 8px; border-bottom: 1px solid var(--border-color-primary); text-align: left; }
.both td.q { font-family: ui-monospace, Menlo, Consolas, monospace; }
.both .no { color: #dc2626; font-weight: 700; } .both .ok { color: #059669; } .both .warn { color: #d97706; }
.both tr.differ td { background: rgba(217, 119, 6, 0.12); }
.both tr.refused td { color: var(--body-text-color-subdued); }
.both thead th { position: sticky; top: 0; z-index: 1; background: var(--background-fill-primary); }
"""


_WARNING = template('<div class="panel warn">{{ warn }} {{ text }}</div>')
_ONE = template(
    '<div class="panel sides" id="compare-one">{% for name, verdict, confidences in sides %}'
    '<div><h3>{{ name }}</h3>{{ verdict }}<div class="hint">'
    "{% for char, confidence in confidences %}{% if not loop.first %} {% endif %}"
    '<span class="mono">{{ char }}</span> {{ confidence }}{% endfor %}</div></div>{% endfor %}</div>'
)


def _confidences(result: dict) -> list[tuple[str, str]]:
    """(character, how sure) for each answer position; none for a refused question."""
    if result.get("error"):
        return []
    return [(show_char(p["char"]), confidence_text(p["confidence"])) for p in result["positions"]]


def compare_one_html(data: dict, name_a: str, name_b: str) -> Markup:
    if data.get("error"):
        return _WARNING(warn=WARN, text=data["error"])
    sides = [
        (name, verdict_html(result, name), _confidences(result))
        for name, result in ((name_a, data["a"]), (name_b, data["b"]))
    ]
    return _ONE(sides=sides)


_MARK = template(
    '{% if refused %}<span class="warn" title="{{ why }}">{{ warn }}</span>'
    '{% elif correct %}<span class="ok">{{ right }}</span>{% else %}<span class="no">{{ wrong }}</span>{% endif %}'
)


def _mark(row: dict | None) -> Markup:
    refused = row is None or bool(row.get("error"))
    why = (row["error"] if row else "") if refused else ""
    correct = bool(row and not refused and row["correct"])
    return _MARK(refused=refused, why=why, correct=correct, warn=WARN, right=RIGHT, wrong=WRONG)


def row_kind(ra: dict, rb: dict) -> str:
    """How two answers to one question relate: "refused" (either model could not answer), "differ", "agree"."""
    if ra.get("error") or rb.get("error"):
        return "refused"
    return "differ" if ra.get("prediction") != rb.get("prediction") else "agree"


_RANDOM = template(
    '<div class="panel" id="compare-random" data-models="{{ name_a }} {{ name_b }}">'
    "<div>{% for name, accuracy, correct, valid in summary %}{% if not loop.first %} · {% endif %}"
    "<b>{{ name }}</b>: {{ accuracy }} ({{ correct }} of {{ valid }} right){% endfor %}</div>"
    '<div id="compare-counts">{% for count in counts %}{% if not loop.first %} · {% endif %}{{ count }}{% endfor %}'
    " (seed {{ seed }}; rows where they differ come first)</div>"
    '<div class="tablebox"><table class="both"><thead><tr><th>#</th><th>Question</th><th>True</th>'
    "<th>{{ name_a }}</th><th></th><th>{{ name_b }}</th><th></th></tr></thead><tbody>"
    "{% for kind, number, ra, rb in rows %}"
    '<tr class="{{ kind }}"><td>{{ number }}</td><td class="q">{{ ra.question }}</td>'
    '<td class="q">{{ ra.true_answer }}</td><td class="q">{{ ra.prediction or "" }}</td>'
    '<td>{{ mark(ra) }}</td><td class="q">{{ rb.prediction or "" }}</td><td>{{ mark(rb) }}</td></tr>'
    "{% endfor %}</tbody></table></div></div>"
)


def compare_random_html(data: dict, name_a: str, name_b: str) -> Markup:
    """Both tables side by side: differing rows first, then refused ones, then agreeing; counted apart."""
    if data.get("error"):
        return _WARNING(warn=WARN, text=data["error"])
    a, b = data["a"], data["b"]
    if b.get("error"):
        return _WARNING(warn=WARN, text=f"{name_b}: {b['error']}")
    summary = [
        (
            name,
            "no valid questions" if table["accuracy"] is None else percent(table["accuracy"], 1),
            table["correct"],
            table["valid"],
        )
        for name, table in ((name_a, a), (name_b, b))
    ]
    pairs = list(enumerate(zip(a["rows"], b["rows"], strict=True)))
    kinds = [row_kind(ra, rb) for _, (ra, rb) in pairs]
    order = sorted(range(len(pairs)), key=lambda k: ("differ", "refused", "agree").index(kinds[k]))
    rows = [(kinds[k], pairs[k][0] + 1, *pairs[k][1]) for k in order]
    both = kinds.count("differ") + kinds.count("agree")
    counts = [f"they disagree on {kinds.count('differ')} of the {plural(both, 'question')} both answered"]
    for name, table in ((name_a, a), (name_b, b)):
        refused = table["total"] - table["valid"]
        if refused:
            counts.append(f"{name} cannot answer these: {refused}")
    return _RANDOM(
        name_a=name_a, name_b=name_b, summary=summary, counts=counts, seed=a.get("seed"), rows=rows, mark=_mark
    )


def cleared(which: str, name: str) -> Markup:
    """The result after model A or B changed: it was another pair's answers."""
    return message(f"Model {which} is now {name}, so the last comparison was cleared: press Compare to ask both.")


def tab(service: Service, picker: Any) -> tuple[gr.Dropdown, gr.Dropdown]:
    """The "Compare" tab: pick two models; ask both the same question or the same random questions. Returns
    the A and B pickers (a visitor's own trained model joins them: web/train_own.py)."""
    names = service.names()
    second = next((n for n in names if n != service.default), service.default)
    with gr.Row():
        # 200 px each: side by side on a desktop, one a row on a phone, where a name such as add3-attention fits
        model_a = gr.Dropdown(names, value=service.default, label="Model A", elem_id="compare-a", min_width=200)
        model_b = gr.Dropdown(names, value=second, label="Model B", elem_id="compare-b", min_width=200)
    with gr.Row(equal_height=False):
        question = gr.Textbox(
            label="Question for both",
            placeholder=service.examples(service.default)[0],
            elem_id="compare-question",
            max_lines=1,
            max_length=200,
            scale=3,
            min_width=180,
        )
        ask = gr.Button("Compare", variant="primary", elem_id="compare-button", scale=1, min_width=100)
    with gr.Row(equal_height=False):
        count = gr.Number(
            label=f"Or this many random questions from model A's task (1 to {MAX_RANDOM})",
            value=20,
            elem_id="compare-n",
            min_width=200,
        )
        seed = gr.Textbox(label="Seed (optional)", elem_id="compare-seed", max_length=20, min_width=120)
        draw = gr.Button("Compare on random questions", elem_id="compare-random-button", min_width=160)
    result = gr.HTML(elem_id="compare-result", css_template=CSS + TABLE_CSS + COMPARE_CSS)

    private: dict[str, Any] = {"api_visibility": "private", "queue": False}
    gr.on(
        [ask.click, question.submit],
        lambda q, a, b: compare_one_html(service.compare(q, a, b), a, b),
        [question, model_a, model_b],
        result,
        **private,
    )
    compare_random = pooled(service.compare_random, heavy=True)

    @heavy_handler
    async def on_random(n: Any, s: Any, a: Any, b: Any, request: gr.Request) -> str:
        return compare_random_html(await compare_random(n, s, a, b, request=request), a, b)

    draw.click(on_random, [count, seed, model_a, model_b], result, **private)
    model_a.change(
        lambda a: (gr.Textbox(placeholder=service.examples(a)[0]), cleared("A", a)),
        model_a,
        [question, result],
        **private,
    )
    model_b.change(lambda b: cleared("B", b), model_b, result, **private)
    return model_a, model_b
