"""The "Many questions" view: a keras.io-style table of questions, answers and verdicts, and the accuracy.

Wrong rows are tinted and their verdict is a large red ☒, so a single miss in a
thousand rows stands out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr
from markupsafe import Markup

from model.metrics import percent

from .html import CSS, RIGHT, WARN, WRONG, confidence_text, message, plural
from .service import MAX_BATCH_CHARS, MAX_RANDOM, Service
from .templates import template
from .work import heavy_handler, pooled

TABLE_CSS = """
.batch { border-collapse: collapse; width: 100%; font-size: 14px; }
.batch th, .batch td { padding: 3px 8px; border-bottom: 1px solid var(--border-color-primary); text-align: left; }
.batch td.q, .batch td.n { font-family: ui-monospace, Menlo, Consolas, monospace; }
.batch tr.wrong td { background: rgba(220, 38, 38, 0.12); }
.batch tr.refused td { background: rgba(217, 119, 6, 0.10); }
.batch .mark { font-size: 20px; font-weight: 700; }
.batch .mark.ok { color: #059669; } .batch .mark.no { color: #dc2626; } .batch .mark.warn { color: #d97706; }
.batch tr.refused td.q { overflow-wrap: anywhere; }  /* a long refused line wraps instead of widening the table */
.tablebox { max-height: 520px; max-width: 100%; overflow: auto; }  /* long or wide tables scroll in their box */
@media (max-width: 600px) { .batch th, .batch td { padding: 3px 4px; } }
"""


_TABLE = template(  # the verdict comes second, after the row number: on a phone it is on screen, not scrolled to
    '<div class="tablebox"><table class="batch" id="batch-rows">'
    '<tr><th>#</th><th title="right or wrong"></th><th>Question</th><th>True</th><th>Predicted</th>'
    "<th>Least sure</th></tr>"
    "{% for row in rows %}{% if row.error %}"
    '<tr class="refused"><td>{{ loop.index }}</td><td class="verdict"><span class="mark warn">{{ warn }}</span></td>'
    '<td class="q">{{ row.question }}</td><td colspan="3">{{ row.error }}</td></tr>'
    "{% else %}"
    '<tr class="{{ "right" if row.correct else "wrong" }}"><td>{{ loop.index }}</td><td class="verdict">'
    '{% if row.correct %}<span class="mark ok">{{ right }}</span>{% else %}<span class="mark no">{{ wrong }}</span>'
    '{% endif %}</td><td class="q">{{ row.question }}</td><td class="n">{{ row.true_answer }}</td>'
    '<td class="n">{{ row.prediction }}</td><td>{{ confidence_text(row.min_confidence) }}</td></tr>'
    "{% endif %}{% endfor %}</table></div>"
)


def table_html(result: dict) -> Markup | str:
    """The rows of a /predict_batch or /random_sums result as an HTML table."""
    rows = result.get("rows") or []
    if not rows:
        return ""
    return _TABLE(rows=rows, warn=WARN, right=RIGHT, wrong=WRONG, confidence_text=confidence_text)


_SUMMARY = template(
    '<div class="panel" data-model="{{ model }}">'
    "{% if accuracy is none %}<b>No valid questions to score.</b> "
    "{% else %}<b>Exact-match accuracy: {{ accuracy }}</b> {% endif %}"
    "({{ correct }} of {{ valid }} valid questions right{{ basis }}"
    "{% if invalid %}; {{ invalid }} not accepted, see the table){% else %}){% endif %}"
    "{% if seed is not none %} · seed {{ seed }}{% endif %} · answered by <b>{{ model }}</b></div>"
)
_REFUSED = template('<div class="panel"><span class="warn">{{ warn }}</span> {{ error }}</div>')


def table_summary(result: dict) -> Markup:
    """The accuracy line above the table (error texts may quote a visitor's input)."""
    if result.get("error"):
        return _REFUSED(warn=WARN, error=result["error"])
    invalid = result["total"] - result["valid"]
    return _SUMMARY(
        model=result["model"],
        accuracy=None if result["accuracy"] is None else percent(result["accuracy"], 1),
        correct=result["correct"],
        valid=result["valid"],
        invalid=plural(invalid, "line") if invalid else "",
        seed=result.get("seed"),
        basis="; drawn uniformly at random, every number equally likely" if result.get("drawn") == "uniform" else "",
    )


def cleared(name: str) -> tuple[Markup, str]:
    """(summary, table) after the model changed: the old model's table would sit under the new name."""
    note = (
        f"The model is now {name}, so any earlier table (another model's answers) was cleared: press Check "
        "these or Draw random questions to ask it."
    )
    return message(note), ""


@dataclass
class ManyTab:
    lines: Any  # the lines box, whose placeholder follows the chosen model
    outputs: list[Any]  # summary and table, cleared when the model changes


def tab(service: Service, picker: Any) -> ManyTab:
    """The "Many questions" tab: pasted lines or random draws, checked by the chosen model."""
    examples = service.examples(service.default)
    with gr.Row():
        with gr.Column(scale=3, min_width=260):
            lines = gr.Textbox(
                label="One question per line",
                lines=6,
                elem_id="lines",
                placeholder="\n".join(examples[:3]),
                max_length=MAX_BATCH_CHARS,
            )
            check = gr.Button("Check these", elem_id="batch-button")
        with gr.Column(scale=2, min_width=220):
            count = gr.Number(label=f"How many random questions (1 to {MAX_RANDOM:,})", value=20, elem_id="n-random")
            seed = gr.Textbox(label="Seed (optional, to repeat a draw)", elem_id="seed", max_length=20)
            sample = gr.Button("Draw random questions", elem_id="random-button")
    summary = gr.HTML(elem_id="batch-summary", css_template=CSS)
    table = gr.HTML(elem_id="batch-table", css_template=CSS + TABLE_CSS)

    def show(result: dict) -> tuple[str, str]:
        return table_summary(result), table_html(result)

    predict_batch = pooled(service.predict_batch, heavy=True)
    random_sums = pooled(service.random_sums, heavy=True)

    @heavy_handler
    async def check_lines(text: Any, name: Any, request: gr.Request) -> tuple[str, str]:
        return show(await predict_batch(text, name, request=request))

    @heavy_handler
    async def draw(n: Any, s: Any, name: Any, request: gr.Request) -> tuple[str, str]:
        return show(await random_sums(n, s, name, request=request))

    private: dict[str, Any] = {"api_visibility": "private", "queue": False}
    check.click(check_lines, [lines, picker], [summary, table], **private)
    sample.click(draw, [count, seed, picker], [summary, table], **private)
    return ManyTab(lines, [summary, table])
