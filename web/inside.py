"""The "Inside" views: what each answer character depends on, and the recurrent states step by step.

Attribution is a small table (answer positions x input characters). States are
pictures: one row per unit (ordered so that units active at the same step sit
together), one column per step, the encoder's steps then the decoder's. A step
control walks through the computation, framing the column and saying which
character is being read or written and which units moved most.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gradio as gr
import numpy as np
from markupsafe import Markup

from model.forward import LayerTrace
from model.questions import InputError

from .controls import in_range, lenient_slider
from .html import (
    CSS,
    DIVERGING,
    SEQUENTIAL,
    colour_scale,
    confidence_text,
    css_colour,
    data_uri,
    legend,
    message,
    png_bytes,
    show_char,
)
from .service import Service
from .templates import template

ATTRIBUTION_METHOD = (
    "Method: each input digit is replaced in turn by every other digit that keeps the question "
    "valid, and each operator by the task's other operators (padding never changes); a cell shows how "
    "far the probability of the answer character the model chose moves, on average (0: no effect, 1: "
    "the choice collapses)."
)
ATTENTION_METHOD = (
    "The weights the decoder's attention layer gives each input character when it writes each answer "
    "character (each row sums to 1): read straight from the network, not measured from outside."
)
STEP_PX, UNIT_PX = 26, 3
CHAR_PX = 5 * UNIT_PX  # an input character's row in the attention picture: tall enough for its label beside it
FRAME = (245, 158, 11)
ASK_FIRST = message("Ask a question in the One question tab first.")
INSIDE_CSS = """
.pair { display: flex; flex-wrap: wrap; gap: 12px; align-items: flex-start; }
.pair > .panel { flex: 1 1 320px; min-width: 0; }
.att td.v { min-width: 2.2em; text-align: center; font-size: 12px; }
.states { display: flex; flex-wrap: wrap; gap: 18px; align-items: flex-start; }
.states figure { margin: 0; }
.states figcaption { font-size: 13px; font-weight: 600; margin-bottom: 2px; }
.steps { display: flex; font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 12px; }
.steps span { display: inline-block; text-align: center; }
.steps span.now { background: rgb(245, 158, 11); color: #000; border-radius: 3px; font-weight: 700; }
.labelled { display: grid; grid-template-columns: auto auto; justify-content: start; column-gap: 4px; }
.rowlabels { display: flex; flex-direction: column; margin-top: 1px; font-size: 11px; text-align: right;
  font-family: ui-monospace, Menlo, Consolas, monospace; }
.rowlabels span { white-space: nowrap; display: flex; align-items: center; justify-content: flex-end; }
"""


_WEIGHTS = template(
    '<div class="scroll"><table class="grid att"><tr><th class="hint">answer ↓ / reads →</th>'
    "{% for char in read %}<th>{{ char }}</th>{% endfor %}</tr>"
    "{% for char, cells in rows %}<tr><th>{{ loop.index }}: {{ char }}</th>"
    '{% for colour, text_colour, value in cells %}<td class="v" style="background:{{ colour }};color:{{ text_colour }}"'
    ' title="{{ value }}">{{ value }}</td>{% endfor %}</tr>{% endfor %}</table></div>'
)


def weight_table(grid: list[list[float]], read: str, answer: str) -> Markup:
    """Answer positions (the character chosen) down, the characters the network reads across; 0-1 coloured."""
    rows = [
        (
            show_char(answer[p]),
            [(css_colour(v, SEQUENTIAL), "#fff" if v > 0.55 else "#111", f"{v:.2f}") for v in values],
        )
        for p, values in enumerate(grid)
    ]
    return _WEIGHTS(read=[show_char(c) for c in read], rows=rows)


_GRID_PANEL = template(
    '<div class="panel" id="{{ id }}"><b>{{ title }}</b>{{ table }}<div>{{ legend }}</div>'
    '<div class="hint">{{ method }}</div></div>'
)


def attribution_html(result: dict) -> Markup:
    """The occlusion grid: rows are answer positions (the character chosen), columns the characters read."""
    if result.get("error"):
        return message(result["error"])
    return _GRID_PANEL(
        id="occlusion-grid",
        title="Occlusion",
        table=weight_table(result["grid"], result["network_input"], result["answer_text"]),
        legend=legend(SEQUENTIAL, "no effect", "decides it"),
        method=ATTRIBUTION_METHOD,
    )


def attention_html(result: dict) -> Markup | str:
    """An attention model's real attention weights beside the occlusion grid; nothing for a RepeatVector model."""
    if result.get("error") or result.get("attention") is None:
        return ""
    return _GRID_PANEL(
        id="attention-grid",
        title="Attention",
        table=weight_table(result["attention"], result["network_input"], result["answer_text"]),
        legend=legend(SEQUENTIAL, "ignored", "all of its attention"),
        method=ATTENTION_METHOD,
    )


_PAIR = template('<div class="pair">{{ attribution }}{{ attention }}</div>')


def depends_html(result: dict) -> Markup:
    """What each answer character depends on: occlusion, and beside it the attention weights if the model has them."""
    return _PAIR(attribution=attribution_html(result), attention=attention_html(result))


def heatmap_png(values: np.ndarray, order: np.ndarray, diverging: bool, frame_step: int | None) -> bytes:
    """(steps, units) -> a picture with units as rows (in `order`) and steps as columns, the current step framed."""
    data = values[:, order].T  # (units, steps)
    scaled = (np.clip(data, -1, 1) + 1) / 2 if diverging else np.clip(data, 0, 1)
    rgb = colour_scale(scaled, DIVERGING if diverging else SEQUENTIAL)
    rgb = np.repeat(np.repeat(rgb, UNIT_PX, axis=0), STEP_PX, axis=1)
    if frame_step is not None and 0 <= frame_step < data.shape[1]:
        x0, x1 = frame_step * STEP_PX, (frame_step + 1) * STEP_PX - 1
        rgb[:, [x0, x0 + 1, x1 - 1, x1]] = FRAME
        rgb[[0, 1, -2, -1], x0 : x1 + 1] = FRAME
    return png_bytes(rgb, level=1)


_FIGURE = template(  # with `labels`, a label beside each row of `row_px` pixels (the picture's own rows)
    '<figure><figcaption>{{ title }}</figcaption><div{% if labels %} class="labelled"{% endif %}>'
    '{% if labels %}<span></span>{% endif %}<div class="steps">'
    '{% for char in chars %}<span class="{{ "now" if loop.index0 == now else "" }}" style="width:{{ width }}px">'
    "{{ char }}</span>{% endfor %}</div>"
    '{% if labels %}<div class="rowlabels">{% for label in labels %}<span style="height:{{ row_px }}px">'
    "{{ label }}</span>{% endfor %}</div>{% endif %}"
    '<img class="heat" alt="{{ title }}" src="{{ src }}"></div></figure>'
)


def _figure(title: str, chars: str, png: bytes, now: int | None, labels: list[str] | None = None) -> Markup:
    return _FIGURE(
        title=title,
        chars=[show_char(c) for c in chars],
        now=now,
        width=STEP_PX,
        src=data_uri(png),
        labels=labels,
        row_px=CHAR_PX,
    )


def attention_parts(
    traces: list[LayerTrace],
    orders: list[np.ndarray],
    attention: list[list[float]],
    read: str,
    written: str,
    now: int | None,
) -> list[Markup]:
    """An attention decoder's reading, per answer step: the weights over the input (one row per input
    character, labelled as the weights table labels them: its step and the character read) and the context
    they make (the weighted sum of the last encoder layer's states)."""
    weights = np.asarray(attention, dtype=np.float32)  # (answer steps, input steps)
    last = max(i for i, t in enumerate(traces) if t.name.startswith("encoder"))
    context = weights @ traces[last].hidden[0]  # (answer steps, units): what the dense layer reads beside h
    tall = np.repeat(weights, CHAR_PX // UNIT_PX, axis=1)  # heatmap_png draws each row UNIT_PX tall
    picture = heatmap_png(tall, np.arange(tall.shape[1]), False, now)
    labels = [f"{step}: {show_char(char)}" for step, char in enumerate(read, 1)]
    return [
        _figure("attention: weights over the input, by character read", written, picture, now, labels),
        _figure("attention: context read", written, heatmap_png(context, orders[last], True, now), now),
    ]


_STATES = template(
    '<div class="panel"><div class="states">{% for part in parts %}{{ part }}{% endfor %}</div>'
    "<div>{{ values }}{% if gates %} gates: {{ gates }}{% endif %}</div>"
    '<div class="hint">One row per unit (ordered by the step where it is most active), one column per step: '
    "the encoder reads the question, then the decoder writes the answer.</div></div>"
)


def states_html(
    traces: list[LayerTrace],
    orders: list[np.ndarray],
    read: str,
    written: str,
    step: int,
    show: list[str],
    attention: list[list[float]] | None = None,
) -> Markup:
    """Every layer's hidden state (and, on demand, cell state and gates) with step `step` (0-based) framed;
    for an attention model (`attention`: its weights, answer steps x input characters) also what it reads."""
    encoder_steps = len(read)
    parts = []
    for trace, order in zip(traces, orders, strict=True):
        is_encoder = trace.name.startswith("encoder")
        chars = read if is_encoder else written
        at = step if is_encoder else step - encoder_steps
        now = at if 0 <= at < len(chars) else None
        parts.append(
            _figure(f"{trace.name}: hidden state h", chars, heatmap_png(trace.hidden[0], order, True, now), now)
        )
        if "cell" in show and trace.cell is not None:
            scale = max(1e-6, float(np.abs(trace.cell[0]).max()))
            parts.append(
                _figure(
                    f"{trace.name}: cell state c (÷{scale:.1f})",
                    chars,
                    heatmap_png(trace.cell[0] / scale, order, True, now),
                    now,
                )
            )
        if "gates" in show:
            for gate, values in trace.gates.items():
                if gate != "candidate":
                    parts.append(
                        _figure(f"{trace.name}: {gate} gate", chars, heatmap_png(values[0], order, False, now), now)
                    )
    if attention is not None:
        at = step - encoder_steps
        parts += attention_parts(traces, orders, attention, read, written, at if 0 <= at < len(written) else None)
    return _STATES(
        parts=parts,
        values=legend(DIVERGING, "−1", "+1"),
        gates=legend(SEQUENTIAL, "0 (closed)", "1 (open)") if "gates" in show else None,
    )


_STEP = template(
    '<div class="panel" id="step-text" data-model="{{ model }}"><b>Step {{ number }} of {{ total }}</b> '
    "({{ model }}): {{ what }}. The hidden-state units that changed most: {{ moved }}.</div>"
)


def step_text(
    traces: list[LayerTrace],
    read: str,
    written: str,
    confidence: list[float],
    step: int,
    model: str = "",
    attention: list[list[float]] | None = None,
) -> Markup:
    """What happens at one step, in words: the character read or written (and, for an attention model,
    the input character it reads most) and the units that moved most; the panel names the model
    (data-model) whose states these are."""
    total = len(read) + len(written)
    step = max(0, min(step, total - 1))
    encoder = [t for t in traces if t.name.startswith("encoder")][-1]
    decoder = [t for t in traces if t.name.startswith("decoder")][-1]
    if step < len(read):
        trace, local = encoder, step
        what = f"the encoder reads {show_char(read[step])}"
    else:
        trace, local = decoder, step - len(read)
        what = f"the decoder writes {show_char(written[local])} ({confidence_text(confidence[local])} sure)"
        if attention is not None:
            row = attention[local]
            most = int(np.argmax(row))
            share = f"{row[most]:.0%} of its attention"
            what += f", attending most to input step {most + 1}, {show_char(read[most])} ({share})"
    before = trace.hidden[0, local - 1] if local else np.zeros_like(trace.hidden[0, 0])
    change = trace.hidden[0, local] - before
    top = np.argsort(-np.abs(change))[:5]
    moved = ", ".join(f"unit {int(u)} ({change[u]:+.2f})" for u in top)
    return _STEP(model=model, number=step + 1, total=total, what=what, moved=moved)


_REFUSED = template('<div class="panel hint" data-model="{{ model }}">{{ model }}: {{ why }}</div>')
_STEP_BOX = template("{% if why %}{{ why }}{% endif %}{{ step }}{% if missing %}{{ missing }}{% endif %}")


# The tab ------------------------------------------------------------------------------------------
@dataclass
class InsideTab:
    inputs: list[Any]
    outputs: list[Any]
    render: Callable[..., tuple]


StepView = tuple[int | None, Any, Any]  # (steps in all, None: unchanged; the step box; the pictures)


def step_view(service: Service, question_text: object, name: object, step_number: object, extra: list[str]) -> StepView:
    """What the tab shows for a question at a step: how many steps there are, the step's words, the pictures."""
    if not isinstance(question_text, str) or not question_text.strip():
        return None, ASK_FIRST, ""
    try:
        served, result, traces = service.trace(question_text, name)
    except InputError as err:
        return None, _REFUSED(model=service.resolve(name).name, why=str(err)), ""
    read, written = result["network_input"], result["answer_text"]
    total = len(read) + len(written)
    shown, why = in_range(step_number, 1, total, "step")
    index = shown - 1
    confidence = [p["confidence"] for p in result["positions"]]
    missing = None
    if extra and served.stored.net.cell != "lstm":
        missing = message(
            "A SimpleRNN has no gates and no cell state: only its hidden state is shown."
            if served.stored.net.cell == "simple_rnn"
            else "A GRU has no separate cell state; its update and reset gates are shown."
        )
    return (
        total,
        _STEP_BOX(
            why=message(why, "warn") if why else None,
            step=step_text(traces, read, written, confidence, index, served.name, result["attention"]),
            missing=missing,
        ),
        states_html(traces, served.unit_orders, read, written, index, list(extra or []), result["attention"]),
    )


def tab(service: Service, picker: Any, question: Any, first: str = "") -> InsideTab:
    """The "Inside the network" tab: the states and gates of the current question, step by step; it opens
    on `first`, the question One question opens with (drawn once, here)."""
    steps, first_text, first_pictures = step_view(service, first, service.default, 1, [])
    gr.Markdown(
        "The recurrent layers' states for the question in the **One question** tab. Move the step slider "
        "to walk through the computation one character at a time."
    )
    with gr.Row():
        step = lenient_slider(1, steps or 11, value=1, step=1, label="Step", elem_id="step", scale=3, min_width=200)
        show = gr.CheckboxGroup(
            [("cell state c", "cell"), ("gates", "gates")],
            value=[],
            label="Also show",
            elem_id="show-more",
            scale=2,
            min_width=200,
        )
    text = gr.HTML(first_text, elem_id="step-box", css_template=CSS + INSIDE_CSS)
    pictures = gr.HTML(first_pictures, elem_id="states", css_template=CSS + INSIDE_CSS)

    def render(question_text: str, name: str, step_number: float, extra: list[str]) -> tuple[Any, Any, Any]:
        total, words, drawn = step_view(service, question_text, name, step_number, extra)
        if total is None:
            return gr.Slider(), words, drawn
        shown, _ = in_range(step_number, 1, total, "step")
        return gr.Slider(maximum=total, value=shown), words, drawn

    inputs, outputs = [question, picker, step, show], [step, text, pictures]
    private: dict[str, Any] = {"api_visibility": "private", "queue": False}
    step.input(render, inputs, outputs, **private)
    show.change(render, inputs, outputs, **private)
    return InsideTab(inputs, outputs, render)
