"""The "One question" tab: the verdict, what the network reads, what it answers position by position,
and what each answer character depends on.

The view functions are pure (a /predict result and the model's task in, HTML
out); `tab` builds the Gradio components and wires them to the service.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gradio as gr

from model.config import TaskConfig
from model.metrics import percent
from model.questions import MAX_QUESTION_CHARS

from .html import CSS, PAD_SHOWN, RIGHT, WARN, WRONG, bar, chars_html, confidence_text, esc, show_char
from .inside import INSIDE_CSS, depends_html
from .service import Service

START = '<div class="panel hint">Type a question (or click an example) and press Predict.</div>'
NO_ATTRIBUTION = (
    '<div class="panel hint">Ask a question to see which input characters drive each answer character.</div>'
)


def verdict_html(result: dict, model: str | None = None) -> str:
    """The answer, the true result and right/wrong, with wrong characters marked; the panel names the model
    that answered (`model` for a refused question, whose result names none)."""
    tags = f'data-question="{esc(result["question"])}" data-model="{esc(result.get("model") or model or "")}"'
    if result.get("error"):
        return (
            f'<div class="panel" {tags}>'
            f'<span class="big warn" id="verdict-mark">{WARN}</span> '
            f'<span id="verdict-text">{esc(result["error"])}</span></div>'
        )
    answer = result["answer"] if result["answer"] is not None else result["answer_as_read"].strip()
    wrong = [p["wrong"] for p in result["positions"]]
    if result["correct"]:
        mark, text = f'<span class="big ok" id="verdict-mark">{RIGHT}</span>', "right"
    else:
        places = [str(i + 1) for i, w in enumerate(wrong) if w]
        mark = f'<span class="big no" id="verdict-mark">{WRONG}</span>'
        differ = f"position {places[0]} differs" if len(places) == 1 else f"positions {', '.join(places)} differ"
        text = f"wrong: the true answer is {result['true_answer']} ({differ})"
    padded = " " in result["answer_text"] + result["true_text"]
    note = f' <span class="hint">({PAD_SHOWN} is padding)</span>' if padded else ""
    return (
        f'<div class="panel" {tags}><div class="big">'
        f'<span class="mono">{esc(result["question"])} = </span>'
        f'<span class="mono" id="predicted-answer">{esc(answer)}</span> {mark}</div>'
        f'<div id="verdict-text">{esc(text)}. Predicted {chars_html(result["answer_text"], wrong)} '
        f"true {chars_html(result['true_text'])}{note}</div>{written_html(result)}</div>"
    )


def written_html(result: dict) -> str:
    """The order the network wrote its answer in, for a model that writes the lowest digit first (the
    positions above and below are in that order); nothing for one that writes it as people read it."""
    if result.get("written") != "lsb":
        return ""
    chars = result["answer_text"].rstrip(" ") or result["answer_text"]
    steps = " → ".join(f'<b class="mono">{show_char(c)}</b>' for c in chars)
    return (
        f'<div id="written-order">Written lowest digit first: {steps} '
        f'<span class="hint">(read the usual way: {esc(result["answer_as_read"].strip() or "nothing")}; '
        "positions count in the order written)</span></div>"
    )


def encoding_html(result: dict, task: TaskConfig) -> str:
    """The question as the network reads it: the padded text, its reversal, and the one-hot grid."""
    if result.get("error"):
        return '<div class="panel hint">Nothing to encode: the question was not accepted.</div>'
    read = result["network_input"]
    steps = [f'<div>Typed: <b class="mono">{esc(result["question"])}</b></div>']
    if task.reverse:
        steps.append(f"<div>Padded: {chars_html(read[::-1])}</div>")
        steps.append(f"<div>Reversed (what the network reads): {chars_html(read)}</div>")
    else:
        steps.append(f"<div>Padded (what the network reads): {chars_html(read)}</div>")
    head = "".join(f"<th>{show_char(c)}</th>" for c in read)
    rows = []
    for char in task.chars:
        cells = "".join('<td class="hot">1</td>' if c == char else '<td class="cold">·</td>' for c in read)
        rows.append(f"<tr><th>{show_char(char)}</th>{cells}</tr>")
    steps_row = "".join(f"<th>{t + 1}</th>" for t in range(len(read)))
    grid = (
        f'<div class="scroll"><table class="grid"><tr><th class="hint">step</th>{steps_row}</tr>'
        f'<tr><th class="hint">reads</th>{head}</tr>{"".join(rows)}</table></div>'
    )
    return (
        f'<div class="panel">{"".join(steps)}<div class="hint">One-hot input: one column per time step, one '
        f"row per character of the alphabet; the blue cell is the character read.</div>{grid}</div>"
    )


def positions_html(result: dict) -> str:
    """Each answer position: the chosen character, its confidence and the top-3 candidates."""
    if result.get("error"):
        return '<div class="panel hint">No prediction: the question was not accepted.</div>'
    rows = []
    for pos in result["positions"]:
        low = pos["confidence"] < 0.9
        alts = "".join(
            f'<span class="alt"><b class="mono">{show_char(a["char"])}</b> '
            f"{'&lt;0.1%' if a['probability'] < 0.001 else percent(a['probability'], 1)}</span>"
            for a in pos["top"][1:]
        )
        mark = (
            f'<span class="no">{WRONG} should be {show_char(pos["true_char"])}</span>'
            if pos["wrong"]
            else f'<span class="ok">{RIGHT}</span>'
        )
        rows.append(
            f'<tr><td>{pos["index"] + 1}</td><td class="mono big">{show_char(pos["char"])}</td>'
            f'<td>{bar(pos["confidence"], low)}<span class="{"warn" if low else ""}">'
            f'{confidence_text(pos["confidence"])}</span></td><td class="tops">{alts}</td><td>{mark}</td></tr>'
        )
    return (
        '<div class="panel scroll"><table class="pos"><tr><th>#</th><th>Chose</th><th>Confidence</th>'
        f'<th class="tops">Runners-up</th><th></th></tr>{"".join(rows)}</table>'
        '<div class="hint">Amber: the model was less than 90% sure of that character.</div></div>'
    )


# The tab ------------------------------------------------------------------------------------------
@dataclass
class OneQuestionTab:
    question: Any
    examples: Any
    outputs: list[Any]
    show: Callable[[str, str], tuple]
    events: list[Any]

    def on_model(self, service: Service, name: str, text: str) -> list[Any]:
        """A new model: its examples, and the question on screen answered again by it (or the start note)."""
        examples = service.examples(name)
        answers = (
            self.show(text, name) if isinstance(text, str) and text.strip() else (START, "", "", NO_ATTRIBUTION, None)
        )
        return [gr.Dataset(samples=[[q] for q in examples]), gr.Textbox(placeholder=examples[0]), *answers]


def tab(service: Service, picker: Any) -> OneQuestionTab:
    """The "One question" tab: input, examples, verdict, encoding, positions and attribution."""
    examples = service.examples(service.default)
    with gr.Row(equal_height=False):
        question = gr.Textbox(
            label="Question",
            placeholder=examples[0],
            elem_id="question",
            scale=4,
            max_lines=1,
            max_length=MAX_QUESTION_CHARS,
            min_width=180,
        )
        button = gr.Button("Predict", variant="primary", elem_id="predict-button", scale=1, min_width=100)
    example_set = gr.Dataset(
        components=[question], samples=[[q] for q in examples], label="Examples (click one)", elem_id="examples"
    )
    verdict = gr.HTML(START, css_template=CSS, elem_id="verdict")
    with gr.Row():
        with gr.Column(min_width=300):
            gr.Markdown("### What the network reads")
            encoding = gr.HTML(css_template=CSS, elem_id="encoding")
        with gr.Column(min_width=300):
            gr.Markdown("### What it answers, position by position")
            positions = gr.HTML(css_template=CSS, elem_id="positions")
    gr.Markdown("### What each answer character depends on")
    depends = gr.HTML(
        NO_ATTRIBUTION,
        css_template=CSS + INSIDE_CSS,
        elem_id="attribution",
    )
    with gr.Accordion("The /predict API result (JSON)", open=False):
        raw = gr.JSON(elem_id="predict-json")

    def show(text: str, name: str) -> tuple[str, str, str, str, dict]:
        result = service.predict(text, name)
        served = service.resolve(name)
        grid = (
            depends_html(service.attribution(text, name))
            if result["error"] is None
            else '<div class="panel hint">No attribution: the question was not accepted.</div>'
        )
        return (
            verdict_html(result, served.name),
            encoding_html(result, served.task),
            positions_html(result),
            grid,
            result,
        )

    outputs = [verdict, encoding, positions, depends, raw]
    private: dict[str, Any] = {"api_visibility": "private", "queue": False}
    typed = gr.on([button.click, question.submit], show, [question, picker], outputs, **private)
    clicked = example_set.click(
        lambda sample: sample[0] if isinstance(sample, list) and sample else "", example_set, question, **private
    ).then(show, [question, picker], outputs, **private)
    return OneQuestionTab(question, example_set, outputs, show, [typed, clicked])
