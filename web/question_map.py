"""The "Map" view: every question of the task as one pixel, coloured by how sure the model is of it.

x is the first number, y the second. Right answers run from yellow (barely
right) to deep teal (sure) on a log scale of 1 - margin, so that the structure
among right answers shows too; wrong answers are red and, when there are few,
circled so that 4 wrong in a million cannot be missed. Hovering (or, on a touch
screen, tapping) shows the question under the pointer and then the model's answer
to it, right or wrong, and its margin (web/map_hover.py); clicking (a second tap)
opens it in the "One question" tab. The
picture itself is web/map_picture.py's (the whole map drawn once per map and
cached; requests only look it up). A bracket task's
map has one map per bracket pattern (model/analysis.py QuestionMap.by_pattern): a
"Bracket pattern" choice switches which one is drawn, listed and opened.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gradio as gr
import numpy as np
from markupsafe import Markup

from model.bounds import whole_number
from model.brackets import pattern_labels
from model.config import TaskConfig
from model.metrics import percent
from model.question_map import QuestionMap
from model.quoting import quoted

from . import gradio_internals
from .html import CSS, WRONG_RGB, margin_legend, message
from .map_hover import MAP_JS, answer_function
from .map_picture import img_html, render, whole_picture
from .service import Service
from .templates import template

BLOCK_SIZES = (25, 50, 100, 200)  # zoomed blocks: this many numbers a side
TICKS = 5  # labelled values along each axis
MAP_CSS = """
.mapbox { position: relative; display: inline-block; max-width: 100%; }
.mapbox img { display: block; width: min(640px, 100%); height: auto; image-rendering: pixelated; cursor: crosshair;
  border: 1px solid var(--border-color-primary); }
.maptip { position: absolute; pointer-events: none; background: var(--background-fill-primary);
  border: 1px solid var(--border-color-primary); border-radius: 4px; padding: 1px 6px; font-size: 13px;
  font-family: ui-monospace, Menlo, Consolas, monospace; display: none; white-space: nowrap; z-index: 5; }
.maptip .tipa { font-family: var(--font); font-size: 12px; }
.mapframe { display: grid; grid-template-columns: 3.2em minmax(0, 640px); justify-content: start; column-gap: 4px;
  max-width: 100%; }
.mapframe .mapbox { display: block; }
.mapframe img.questionmap { width: 100%; }
.yticks, .xticks { position: relative; font-size: 11px; color: var(--body-text-color-subdued);
  font-family: ui-monospace, Menlo, Consolas, monospace; }
.xticks { height: 1.4em; }
.yticks span { position: absolute; right: 2px; transform: translateY(-50%); white-space: nowrap; }
.xticks span { position: absolute; top: 0; transform: translateX(-50%); white-space: nowrap; }
.axisname { font-size: 12px; color: var(--body-text-color-subdued); }
.touch { display: none; }
@media (hover: none) { .mouse { display: none; } .touch { display: inline; } }
.qlist button { margin: 2px; padding: 2px 8px; border-radius: 4px; border: 1px solid var(--border-color-primary);
  background: var(--background-fill-secondary); font-family: ui-monospace, Menlo, Consolas, monospace; cursor: pointer;
  color: var(--body-text-color); }
.qlist button.bad { border-color: #dc2626; color: #dc2626; font-weight: 700; }
"""


def zoom_request(qmap: QuestionMap, a_from: object, b_from: object, block: object) -> tuple[int, int, int] | str:
    """(row0, col0, size) of the block a visitor asked for, or one sentence saying what is wrong with it."""
    try:
        size = int(str(block))
    except ValueError:
        size = 0
    if size not in BLOCK_SIZES:
        return f"The block size is one of {', '.join(map(str, BLOCK_SIZES))} numbers a side."
    start = []
    for value, axis, what in ((a_from, qmap.a_values, "first"), (b_from, qmap.b_values, "second")):
        low, high = int(axis[0]), int(axis[-1])
        if value is None or value == "":
            return f"Type where the {what} number should start, from {low} to {high}."
        number = whole_number(value, lenient=True)  # a number box sends 2.0 for 2
        if number is None:
            return f"The {what} number starts at a whole number from {low} to {high}, not {quoted(value, 20)}."
        if not low <= number <= high:
            return f"The {what} number goes from {low} to {high}, so {number:,} is outside the map."
        start.append(min(int(np.searchsorted(axis, number)), len(axis) - 1))
    col0, row0 = start
    return row0, col0, size


def _range(values: list[int]) -> str:
    return f"{values[0]}–{values[-1]}"


def round_ticks(values: list[int], most: int = TICKS) -> list[tuple[float, int]]:
    """(fraction of the axis, value) for round values along an axis of cells, at each cell's centre."""
    low, high = values[0], values[-1]
    span = max(1, high - low)
    step = next(s * 10**k for k in range(12) for s in (1, 2, 2.5, 5) if span / (s * 10**k) <= most - 1)
    first = math.ceil(low / step) * step
    marks = []
    for value in np.arange(first, high + 1, step):
        index = min(int(np.searchsorted(values, value)), len(values) - 1)
        marks.append(((index + 0.5) / len(values), int(values[index])))
    return marks


def ticks(axes: dict) -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
    """(y ticks, x ticks) as (percent along the axis, value): round values at their cells' centres, placed as
    fractions of the picture."""
    y_ticks, x_ticks = ([(f"{100 * f:.2f}", v) for f, v in round_ticks(values)] for values in (axes["b"], axes["a"]))
    return y_ticks, x_ticks


def map_html(qmap: QuestionMap | None, task: TaskConfig, zoom: tuple[int, int, int] | None = None) -> Markup:
    """The map panel: picture, axes, legend and what it shows; or why there is none. `zoom` is
    (row0, col0, size) from `zoom_request`."""
    if qmap is None:
        return message(
            "This model has no stored map: maps are drawn by `python -m trainer` when it verifies a model, "
            "and this one was made without it."
        )
    if zoom is None:
        picture, axes = whole_picture(qmap)
        what = (
            "every question of the task"
            if qmap.complete
            else (f"{qmap.cells:,} questions sampled evenly from a question space too large to draw whole")
        )
    else:
        row0, col0, size = zoom
        png, axes = render(qmap, row0, col0, size)
        picture = img_html(png, axes, qmap)
        what = (
            f"a block of {len(axes['b'])} x {len(axes['a'])} questions "
            f"(first number {_range(axes['a'])}, second {_range(axes['b'])})"
        )
    wrong = len(qmap.wrong)
    third = "" if task.terms == 2 else " (the other numbers and operators of each question are drawn at random)"
    if task.brackets and qmap.pattern is None:  # a map.npz without per-pattern maps
        third += "; every question here is without brackets (ask a bracketed one in One question)"
    elif qmap.pattern is not None:
        label = pattern_labels(task.terms)[qmap.pattern]
        brackets = "without brackets" if qmap.pattern == 0 else "with these brackets"
        third += f"; bracket pattern {label}: every question has {task.terms} numbers, asked {brackets}"
    y_ticks, x_ticks = ticks(axes)
    return _MAP(
        id="map-block" if zoom else "map-whole",
        wrong=wrong,
        count=f"{wrong:,}",
        cells=f"{qmap.cells:,}",
        what=what + third,
        first=qmap.a_values[0],
        last=qmap.a_values[-1],
        picture=picture,
        y_ticks=y_ticks,
        x_ticks=x_ticks,
        legend=margin_legend(),
        wrong_rgb=WRONG_RGB,
    )


# The panel: what the map shows, the picture framed by its ticks (second numbers down the left, first numbers
# along the bottom), and the legend.
_MAP = template(
    '<div class="panel" id="{{ id }}"><div><b class="{{ "no" if wrong else "ok" }}">{{ count }} wrong</b> of '
    "{{ cells }} drawn: {{ what }}. x: the first number ({{ first }}…{{ last }}), y: the second. "
    '<span class="mouse">Hover to read a question and the model\'s answer; click to open it.</span>'
    '<span class="touch">Tap a question to read it and the model\'s answer; tap it again to open it.</span></div>'
    '<div class="mapframe"><div class="yticks" aria-hidden="true">'
    '{% for at, value in y_ticks %}<span style="top:{{ at }}%">{{ value }}</span>{% endfor %}</div>'
    '<div class="mapbox">{{ picture }}<div class="maptip"><div class="tipq"></div><div class="tipa"></div></div>'
    "</div><div></div>"
    '<div class="xticks" aria-hidden="true">'
    '{% for at, value in x_ticks %}<span style="left:{{ at }}%">{{ value }}</span>{% endfor %}</div><div></div>'
    '<div class="axisname">x → first number, y ↓ second number</div></div>'
    '<div>{{ legend }} <span class="hint"><span style="color: rgb{{ wrong_rgb }}">■ ◯</span> wrong</span></div></div>'
)
_PATTERNS = template(
    '<div class="panel" id="map-patterns"><b>By bracket pattern</b> (the same random numbers asked with each '
    'pattern; a, b, c are the numbers, · any operator)<table class="pos"><tr><th>pattern</th><th>right</th>'
    "<th>questions</th></tr>"
    '{% for pattern, share, right, asked in rows %}<tr><td class="mono">{{ pattern }}</td><td>{{ share }}</td>'
    "<td>{{ right }} of {{ asked }}</td></tr>{% endfor %}</table></div>"
)
_LISTS = template(
    '<div class="panel qlist"><div><b>Wrong{{ more }}:</b> '
    '{% for row, col, css, title, text in wrong %}<button class="{{ css }}" data-row="{{ row }}" data-col="{{ col }}"'
    ' title="{{ title }}">{{ text }}</button>{% else %}none{% endfor %}</div>'
    '<div><b>Weakest right answers</b> <span class="hint">(smallest margin first)</span>: '
    '{% for row, col, css, title, text in weak %}<button class="{{ css }}" data-row="{{ row }}" data-col="{{ col }}"'
    ' title="{{ title }}">{{ text }}</button>{% endfor %}</div></div>'
)


def patterns_html(result: dict) -> Markup | str:
    """A bracket task's share right per bracket pattern of every term count (the map's patterns are of its
    full term count only)."""
    if result.get("error"):
        return message(result["error"], "warn")
    if not result["patterns"]:
        return ""
    rows = [
        (
            p["pattern"],
            percent(p["right"] / p["asked"], 1) if p["asked"] else "–",
            f"{p['right']:,}",
            f"{p['asked']:,}",
        )
        for p in result["patterns"]
    ]
    return _PATTERNS(rows=rows)


def lists_html(qmap: QuestionMap | None) -> Markup | str:
    """Every wrong question and the weakest right ones, as buttons that open them."""
    if qmap is None:
        return ""

    def button(row: int, col: int, css: str, title: str) -> tuple[int, int, str, str, str]:
        return row, col, css, title, qmap.question(row, col).texts()[0]

    wrong = [button(r, c, "bad", "wrong") for r, c in qmap.wrong[:200].tolist()]
    more = f" (first 200 of {len(qmap.wrong):,})" if len(qmap.wrong) > 200 else ""
    weak = [button(int(r), int(c), "", f"margin {m:.3f}") for r, c, m in qmap.weakest[:20].tolist()]
    return _LISTS(more=more, wrong=wrong, weak=weak)


# Whose map this is (the browser tests read data-model), then the panels.
_WHOSE = template('<div data-model="{{ model }}"></div>{% for part in parts %}{{ part }}{% endfor %}')


# The tab ------------------------------------------------------------------------------------------
@dataclass
class MapTab:
    outputs: list[Any]
    fill: Callable[[str], tuple]


def chosen_map(qmap: QuestionMap, task: TaskConfig, label: object) -> QuestionMap | str:
    """The map of the bracket pattern a visitor chose by its label ("(a·b)·c"; None or "": the first
    pattern's), or one sentence saying why there is none."""
    if label is None or label == "":
        return qmap
    if not qmap.others:
        return "This model's map has no bracket patterns to choose from."
    labels = pattern_labels(task.terms)
    if not isinstance(label, str) or label not in labels:
        return f"The bracket pattern is one of {', '.join(labels)}, not {quoted(label, 20)}."
    return qmap.by_pattern[labels.index(label)]


def pattern_choice(qmap: QuestionMap | None, task: TaskConfig) -> Any:
    """The "Bracket pattern" control for a model: its patterns, the first chosen; hidden when it has none."""
    if qmap is None or not qmap.others:
        return gr.Radio(choices=[], value=None, visible=False)
    labels = pattern_labels(task.terms)
    return gr.Radio(choices=labels, value=labels[0], visible=True)


def cell_question(service: Service, name: str, data: Any, pattern: object = None) -> str | None:
    """The question in the clicked cell of the chosen pattern's map (`pattern` a label, as chosen_map
    takes), or None for anything that is not a cell of this model's map. A model the server no longer
    holds (a visitor's own, expired) is the default one, whose map the tab then shows (as `draw` does)."""
    served = service.resolve(name)
    if served.question_map is None or not isinstance(data, dict):
        return None
    qmap = chosen_map(served.question_map, served.task, pattern)
    if isinstance(qmap, str):
        return None
    row, col = data.get("row"), data.get("col")
    side = qmap.margin.shape[0]
    if not (isinstance(row, int) and isinstance(col, int)) or isinstance(row, bool) or isinstance(col, bool):
        return None  # not whole numbers (bool is a subclass of int)
    if not (0 <= row < side and 0 <= col < side):
        return None
    return qmap.question(row, col).texts()[0]


def tab(service: Service, picker: Any, tabs: Any, question: Any, show: Callable, show_outputs: list[Any]) -> MapTab:
    """The "Map" tab: the whole question space (a bracket task's by bracket pattern), zoom, and the lists of
    wrong and weakest questions."""
    # Gradio's Radio refuses a value that is not one of the choices it holds for the session (with its own bare
    # "Error"), so it starts with every served model's labels: a page whose session the server no longer holds
    # (after a restart) still gets its map. chosen_map checks each value again, against the model it is for.
    served = (service.resolve(name) for name in service.names())
    every = [
        label for m in served if m.question_map and m.question_map.others for label in pattern_labels(m.task.terms)
    ]
    pattern = gr.Radio(
        choices=list(dict.fromkeys(every)), value=None, label="Bracket pattern", visible=False, elem_id="map-pattern"
    )
    hover = [answer_function(service)]  # the hovered cell's answer (web/map_hover.py)
    view = gr.HTML(
        message("Loading the map…"),
        js_on_load=MAP_JS,
        server_functions=hover,
        elem_id="map",
        css_template=CSS + MAP_CSS,
    )
    with gr.Row():
        # No minimum or precision: Gradio would refuse or round a bad value itself, as a bare "Error"; the
        # zoom answers every value with a sentence instead (zoom_request).
        a_from = gr.Number(label="Zoom: first number from", value=0, elem_id="zoom-a", min_width=140)
        b_from = gr.Number(label="second number from", value=0, elem_id="zoom-b", min_width=140)
        size = gr.Dropdown(list(BLOCK_SIZES), value=100, label="block size", elem_id="zoom-size", min_width=100)
        zoom = gr.Button("Zoom", elem_id="zoom-button", min_width=100)
    zoomed = gr.HTML(js_on_load=MAP_JS, server_functions=hover, elem_id="map-zoom", css_template=CSS + MAP_CSS)
    lists = gr.HTML(js_on_load=MAP_JS, elem_id="map-lists", css_template=CSS + MAP_CSS)

    def draw(name: str, label: object) -> tuple[str, str, str]:
        """The map of the chosen pattern with the per-pattern table, no zoomed block, and its lists."""
        served = service.resolve(name)
        patterns = patterns_html(service.patterns(served.name)) if served.task.brackets else ""
        qmap = None if served.question_map is None else chosen_map(served.question_map, served.task, label)
        if isinstance(qmap, str):
            return _WHOSE(model=served.name, parts=[message(qmap, "warn")]), "", ""
        return _WHOSE(model=served.name, parts=[map_html(qmap, served.task), patterns]), "", lists_html(qmap)

    def fill(name: str) -> tuple[Any, str, str, str]:
        served = service.resolve(name)
        return pattern_choice(served.question_map, served.task), *draw(name, None)

    def zoom_in(name: str, label: object, a: float | None, b: float | None, block: Any) -> str:
        served = service.resolve(name)
        if served.question_map is None:
            return map_html(None, served.task)
        qmap = chosen_map(served.question_map, served.task, label)
        if isinstance(qmap, str):
            return message(qmap, "warn")
        block_or_why = zoom_request(qmap, a, b, block)
        if isinstance(block_or_why, str):
            return message(block_or_why, "warn")
        return _WHOSE(model=served.name, parts=[map_html(qmap, served.task, block_or_why)])  # the hover's model

    def open_cell(name: str, label: object, evt: gr.EventData) -> tuple[Any, Any]:
        text = cell_question(service, name, gradio_internals.event_payload(evt), label)
        return (gr.Textbox() if text is None else text), gr.Tabs(selected="one" if text else "map")

    private: dict[str, Any] = {"api_visibility": "private", "queue": False}
    pattern.input(draw, [picker, pattern], [view, zoomed, lists], **private)
    zoom.click(zoom_in, [picker, pattern, a_from, b_from, size], zoomed, **private)
    for html in (view, zoomed, lists):
        html.click(open_cell, [picker, pattern], [question, tabs], **private).then(
            show, [question, picker], show_outputs, **private
        )
    return MapTab([pattern, view, zoomed, lists], fill)
