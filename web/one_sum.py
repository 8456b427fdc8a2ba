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
from markupsafe import Markup

from model.config import TaskConfig
from model.metrics import percent
from model.questions import MAX_QUESTION_CHARS, InputError, parse_question
from model.quoting import quoted

from .html import CSS, PAD_SHOWN, RIGHT, WARN, WRONG, bar, chars_html, confidence_text, message, show_char
from .inside import INSIDE_CSS, depends_html
from .service import Service
from .templates import template

_VERDICT = template(
    '<div class="panel" data-question="{{ question }}" data-model="{{ model }}">'
    "{% if error %}"
    '<span class="big warn" id="verdict-mark">{{ warn }}</span> '
    '<span id="verdict-text" title="{{ question }}">{{ error }}</span></div>'
    "{% else %}"
    '<div class="big"><span class="mono"{% if shown != question %} title="{{ question }}"{% endif %}>'
    "{{ shown }} = </span>"
    '<span class="mono" id="predicted-answer">{{ answer }}</span> '
    '<span class="big {{ "ok" if correct else "no" }}" id="verdict-mark">{{ mark }}</span></div>'
    '<div id="verdict-text">{{ text }}. Predicted {{ predicted }} true {{ true_text }}'
    '{% if padded %} <span class="hint">({{ pad }} is padding)</span>{% endif %}</div>{{ written }}'
    '{% if note %}<div class="hint" id="verdict-note">{{ note }}</div>{% endif %}</div>'
    "{% endif %}"
)


def verdict_html(result: dict, model: str | None = None, note: str | None = None) -> Markup:
    """The answer, the true result and right/wrong, with wrong characters marked; the panel names the model
    that answered (`model` for a refused question, whose result names none). `note` says why this question
    is shown (a model's own example, in place of one it does not take)."""
    tags = {
        "question": result["question"],
        "shown": quoted(result["question"]),
        "model": result.get("model") or model or "",
    }
    if result.get("error"):
        return _VERDICT(**tags, error=result["error"], warn=WARN)
    answer = result["answer"] if result["answer"] is not None else result["answer_as_read"].strip()
    wrong = [p["wrong"] for p in result["positions"]]
    if result["correct"]:
        text = "right"
    else:
        places = [str(i + 1) for i, w in enumerate(wrong) if w]
        differ = f"position {places[0]} differs" if len(places) == 1 else f"positions {', '.join(places)} differ"
        text = f"wrong: the true answer is {quoted(str(result['true_answer']))} ({differ})"
    return _VERDICT(
        **tags,
        error=None,
        answer=answer,
        correct=result["correct"],
        mark=RIGHT if result["correct"] else WRONG,
        text=text,
        predicted=chars_html(result["answer_text"], wrong),
        true_text=chars_html(result["true_text"]),
        padded=" " in result["answer_text"] + result["true_text"],
        pad=PAD_SHOWN,
        written=written_html(result),
        note=note,
    )


_WRITTEN = template(
    '<div id="written-order">Written lowest digit first: '
    '{% for char in chars %}{% if not loop.first %} → {% endif %}<b class="mono">{{ char }}</b>{% endfor %} '
    '<span class="hint">(read the usual way: {{ as_read }}; positions count in the order written)</span></div>'
)


def written_html(result: dict) -> Markup | str:
    """The order the network wrote its answer in, for a model that writes the lowest digit first (the
    positions above and below are in that order); nothing for one that writes it as people read it."""
    if result.get("written") != "lsb":
        return ""
    chars = result["answer_text"].rstrip(" ") or result["answer_text"]
    return _WRITTEN(chars=[show_char(c) for c in chars], as_read=result["answer_as_read"].strip() or "nothing")


_ENCODING = template(
    '<div class="panel"><div>Typed: <b class="mono"{% if shown != question %} title="{{ question }}"{% endif %}>'
    "{{ shown }}</b></div>"
    "{% if reverse %}<div>Padded: {{ padded }}</div><div>Reversed (what the network reads): {{ read }}</div>"
    "{% else %}<div>Padded (what the network reads): {{ read }}</div>{% endif %}"
    '<div class="hint">One-hot input: one column per time step, one row per character of the alphabet; the '
    'blue cell is the character read.</div><div class="scroll"><table class="grid"><tr><th class="hint">step</th>'
    "{% for char in chars %}<th>{{ loop.index }}</th>{% endfor %}</tr>"
    '<tr><th class="hint">reads</th>{% for char in chars %}<th>{{ char }}</th>{% endfor %}</tr>'
    "{% for row, hot in rows %}<tr><th>{{ row }}</th>"
    '{% for on in hot %}{% if on %}<td class="hot">1</td>{% else %}<td class="cold">·</td>{% endif %}{% endfor %}'
    "</tr>{% endfor %}</table></div></div>"
)


def encoding_html(result: dict, task: TaskConfig) -> Markup:
    """The question as the network reads it: the padded text, its reversal, and the one-hot grid."""
    if result.get("error"):
        return message("Nothing to encode: the question was not accepted.")
    read = result["network_input"]
    return _ENCODING(
        question=result["question"],
        shown=quoted(result["question"]),
        reverse=task.reverse,
        padded=chars_html(read[::-1]),
        read=chars_html(read),
        chars=[show_char(c) for c in read],
        rows=[(show_char(char), [c == char for c in read]) for char in task.chars],
    )


_POSITIONS = template(
    '<div class="panel scroll"><table class="pos"><tr><th>#</th><th>Chose</th><th>Confidence</th>'
    '<th class="tops">Runners-up</th><th></th></tr>'
    "{% for pos in positions %}"
    '<tr><td>{{ pos.number }}</td><td class="mono big">{{ pos.char }}</td>'
    '<td>{{ pos.bar }}<span class="{{ "warn" if pos.low else "" }}">{{ pos.confidence }}</span></td>'
    '<td class="tops">{% for char, share in pos.alternatives %}'
    '<span class="alt"><b class="mono">{{ char }}</b> {{ share }}</span>{% endfor %}</td>'
    '<td>{% if pos.wrong %}<span class="no">{{ wrong }} should be {{ pos.true_char }}</span>'
    '{% else %}<span class="ok">{{ right }}</span>{% endif %}</td></tr>'
    "{% endfor %}</table>"
    '<div class="hint">Amber: the model was less than 90% sure of that character.</div></div>'
)


def positions_html(result: dict) -> Markup:
    """Each answer position: the chosen character, its confidence and the top-3 candidates."""
    if result.get("error"):
        return message("No prediction: the question was not accepted.")
    positions = []
    for pos in result["positions"]:
        low = pos["confidence"] < 0.9
        positions.append(
            {
                "number": pos["index"] + 1,
                "char": show_char(pos["char"]),
                "bar": bar(pos["confidence"], low),
                "low": low,
                "confidence": confidence_text(pos["confidence"]),
                "alternatives": [
                    (show_char(a["char"]), "<0.1%" if a["probability"] < 0.001 else percent(a["probability"], 1))
                    for a in pos["top"][1:]
                ],
                "wrong": pos["wrong"],
                "true_char": show_char(pos["true_char"]),
            }
        )
    return _POSITIONS(positions=positions, wrong=WRONG, right=RIGHT)


# The tab ------------------------------------------------------------------------------------------
Answers = tuple[Markup, Markup, Markup, Markup, dict]  # verdict, encoding, positions, attribution, /predict JSON


def answered(service: Service, text: str, name: str, note: str | None = None) -> Answers:
    """Everything the tab shows for a question, as pressing Predict shows it."""
    result = service.predict(text, name)
    served = service.resolve(name)
    grid = (
        depends_html(service.attribution(text, name))
        if result["error"] is None
        else message("No attribution: the question was not accepted.")
    )
    return (
        verdict_html(result, served.name, note),
        encoding_html(result, served.task),
        positions_html(result),
        grid,
        result,
    )


def question_for(service: Service, name: str, text: object) -> tuple[str, str | None]:
    """The question to show a model: the one on screen when the model takes it, else the model's first
    example, with a sentence saying why it replaced the visitor's (None when the box was empty)."""
    served = service.resolve(name)
    example = service.examples(served.name)[0]
    if not isinstance(text, str) or not text.strip():
        return example, None
    try:
        parse_question(text, served.task)
    except InputError as err:
        return example, f"{quoted(text)} is not a question for {served.name}. {err} Here is one of its own."
    return text, None


@dataclass
class OneQuestionTab:
    question: Any
    examples: Any
    outputs: list[Any]
    show: Callable[[str, str], tuple]
    events: list[Any]

    def on_model(self, service: Service, name: str, text: str) -> list[Any]:
        """A new model: its examples, and the question on screen answered again by it (its own first example
        when it does not take that one)."""
        examples = service.examples(name)
        question, note = question_for(service, name, text)
        return [
            gr.Dataset(samples=[[q] for q in examples]),
            gr.Textbox(value=question, placeholder=examples[0]),
            *answered(service, question, name, note),
        ]


def tab(service: Service, picker: Any) -> OneQuestionTab:
    """The "One question" tab: input, examples, verdict, encoding, positions and attribution. It opens with
    the default model's first example already answered (drawn once, here: a page open costs nothing)."""
    examples = service.examples(service.default)
    first = answered(service, examples[0], service.default)
    with gr.Row(equal_height=False):
        question = gr.Textbox(
            value=examples[0],
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
    verdict = gr.HTML(first[0], css_template=CSS, elem_id="verdict")
    with gr.Row():
        with gr.Column(min_width=300):
            gr.Markdown("### What the network reads")
            encoding = gr.HTML(first[1], css_template=CSS, elem_id="encoding")
        with gr.Column(min_width=300):
            gr.Markdown("### What it answers at each position")
            positions = gr.HTML(first[2], css_template=CSS, elem_id="positions")
    gr.Markdown("### What each answer character depends on")
    depends = gr.HTML(first[3], css_template=CSS + INSIDE_CSS, elem_id="attribution")
    with gr.Accordion("The /predict API result (JSON)", open=False):
        raw = gr.JSON(first[4], elem_id="predict-json")

    def show(text: str, name: str) -> Answers:
        return answered(service, text, name)

    outputs = [verdict, encoding, positions, depends, raw]
    private: dict[str, Any] = {"api_visibility": "private", "queue": False}
    typed = gr.on([button.click, question.submit], show, [question, picker], outputs, **private)
    clicked = example_set.click(
        lambda sample: sample[0] if isinstance(sample, list) and sample else "", example_set, question, **private
    ).then(show, [question, picker], outputs, **private)
    return OneQuestionTab(question, example_set, outputs, show, [typed, clicked])
