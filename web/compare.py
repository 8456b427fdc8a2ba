"""The "Compare" view: two models answer the same question, or the same random questions, side by side."""

from __future__ import annotations

from typing import Any

import gradio as gr

from model.metrics import percent

from .html import CSS, RIGHT, WARN, WRONG, confidence_text, esc, message, plural, show_char
from .many import TABLE_CSS
from .one_sum import verdict_html
from .service import MAX_RANDOM, Service
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


def _confidences(result: dict) -> str:
    if result.get("error"):
        return ""
    return " ".join(
        f'<span class="mono">{show_char(p["char"])}</span> {confidence_text(p["confidence"])}'
        for p in result["positions"]
    )


def compare_one_html(data: dict, name_a: str, name_b: str) -> str:
    if data.get("error"):
        return f'<div class="panel warn">{WARN} {esc(data["error"])}</div>'
    sides = []
    for name, result in ((name_a, data["a"]), (name_b, data["b"])):
        sides.append(
            f'<div><h3>{esc(name)}</h3>{verdict_html(result, name)}<div class="hint">{_confidences(result)}</div></div>'
        )
    return f'<div class="panel sides" id="compare-one">{"".join(sides)}</div>'


def _mark(row: dict | None) -> str:
    if row is None or row.get("error"):
        return f'<span class="warn" title="{esc(row["error"] if row else "")}">{WARN}</span>'
    return f'<span class="ok">{RIGHT}</span>' if row["correct"] else f'<span class="no">{WRONG}</span>'


def row_kind(ra: dict, rb: dict) -> str:
    """How two answers to one question relate: "refused" (either model could not answer), "differ", "agree"."""
    if ra.get("error") or rb.get("error"):
        return "refused"
    return "differ" if ra.get("prediction") != rb.get("prediction") else "agree"


def compare_random_html(data: dict, name_a: str, name_b: str) -> str:
    """Both tables side by side: differing rows first, then refused ones, then agreeing; counted apart."""
    if data.get("error"):
        return f'<div class="panel warn">{WARN} {esc(data["error"])}</div>'
    a, b = data["a"], data["b"]
    if b.get("error"):
        return f'<div class="panel warn">{WARN} {esc(name_b)}: {esc(b["error"])}</div>'
    summary = []
    for name, table in ((name_a, a), (name_b, b)):
        accuracy = "no valid questions" if table["accuracy"] is None else percent(table["accuracy"], 1)
        summary.append(f"<b>{esc(name)}</b>: {accuracy} ({table['correct']} of {table['valid']} right)")
    pairs = list(enumerate(zip(a["rows"], b["rows"], strict=True)))
    kinds = [row_kind(ra, rb) for _, (ra, rb) in pairs]
    order = sorted(range(len(pairs)), key=lambda k: ("differ", "refused", "agree").index(kinds[k]))
    rows = []
    for k in order:
        i, (ra, rb) = pairs[k]
        rows.append(
            f'<tr class="{kinds[k]}"><td>{i + 1}</td><td class="q">{esc(ra["question"])}</td>'
            f'<td class="q">{esc(ra["true_answer"])}</td><td class="q">{esc(ra.get("prediction") or "")}</td>'
            f'<td>{_mark(ra)}</td><td class="q">{esc(rb.get("prediction") or "")}</td><td>{_mark(rb)}</td></tr>'
        )
    both = kinds.count("differ") + kinds.count("agree")
    counts = [f"they disagree on {kinds.count('differ')} of the {plural(both, 'question')} both answered"]
    for name, table in ((name_a, a), (name_b, b)):
        refused = table["total"] - table["valid"]
        if refused:
            counts.append(f"{esc(name)} cannot answer these: {refused}")
    head = (
        f"<thead><tr><th>#</th><th>Question</th><th>True</th><th>{esc(name_a)}</th><th></th><th>{esc(name_b)}</th>"
        "<th></th></tr></thead>"
    )
    return (
        f'<div class="panel" id="compare-random" data-models="{esc(name_a)} {esc(name_b)}">'
        f'<div>{" · ".join(summary)}</div><div id="compare-counts">{" · ".join(counts)} (seed {a.get("seed")}; '
        f'rows where they differ come first)</div><div class="tablebox"><table class="both">{head}<tbody>'
        f"{''.join(rows)}</tbody></table></div></div>"
    )


def cleared(which: str, name: str) -> str:
    """The result after model A or B changed: it was another pair's answers."""
    return message(f"Model {which} is now {name}, so the last comparison was cleared: press Compare to ask both.")


def tab(service: Service, picker: Any) -> None:
    """The "Compare" tab: pick two models; ask both the same question or the same random questions."""
    names = service.names()
    second = next((n for n in names if n != service.default), service.default)
    with gr.Row():
        model_a = gr.Dropdown(names, value=service.default, label="Model A", elem_id="compare-a", min_width=160)
        model_b = gr.Dropdown(names, value=second, label="Model B", elem_id="compare-b", min_width=160)
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
