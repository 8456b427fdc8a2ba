"""The "How it learned" view: curves per epoch, and the coarse map replayed epoch by epoch.

The trainer records, after every epoch, the loss, held-out exact match, the
accuracy of each answer position (which digit is learned first) and the
answers to a fixed probe of evenly spaced questions (learning.npz). Each chart
shows one quantity on its y axis, with its unit, every series named in full
below it, whole-number epochs on x, and a logarithmic axis where values fall
from thousands to zero. Charts are
drawn as SVG (web/chart.py); `epoch_plot` is the chart component the other tabs share. The slider
redraws the probe map of that epoch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gradio as gr
import numpy as np
import pandas as pd
from markupsafe import Markup

from model.learning_record import LearningRecord, served_epoch

from . import gradio_internals
from .chart import CHART_CSS, Chart, Scale, Series, chart_html, frame_chart
from .controls import in_range, lenient_slider
from .html import CSS, WRONG_RGB, data_uri, margin_legend, margin_palette, message, png_bytes
from .service import Service
from .templates import template

NO_RECORD = (
    "This model has no learning record: `python -m trainer` writes one (learning.npz) for every model it "
    "trains, and this one was made without it."
)


PLACES: tuple[str, ...] = ("units", "tens", "hundreds", "thousands", "ten thousands", "hundred thousands")
PLACES += tuple(f"{size}{unit}" for unit in ("millions", "billions") for size in ("", "ten ", "hundred "))


def place_name(position: int) -> str:
    """The column an answer written units first holds at `position` (0: units)."""
    return PLACES[position] if position < len(PLACES) else f"10^{position}s"


@dataclass(frozen=True)
class Counted:
    """What the count chart counts, and what the final check found (from the model's metrics)."""

    every_question: bool = True  # False: a pool of `pool` questions stands for a task too large to list
    pool: int = 0
    final_wrong: int | None = None
    final_total: int | None = None

    @classmethod
    def from_metrics(cls, metrics: Any) -> Counted:
        if isinstance(metrics.get("exhaustive_total"), int):
            return cls(True, 0, metrics.get("exhaustive_wrong"), metrics["exhaustive_total"])
        pool = metrics.get("sample_size")
        return cls(False, pool if isinstance(pool, int) else 0, metrics.get("sample_wrong"), pool)

    def not_measured(self) -> str:
        why = (
            "its recipe asks every question after an epoch only when it has a margin target or draws hard questions"
            if self.every_question
            else "the pool that stands for its questions is counted after an epoch only once held-out exact match "
            "passes 99%"
        )
        found = ""
        if self.final_wrong is not None and self.final_total:
            where = "every question" if self.every_question else f"a pool of {self.final_total:,}"
            found = f" After training, the final check found {self.final_wrong:,} wrong of {where}."
        return f"Not measured after each epoch for this model: {why}.{found}"


def charts(
    record: LearningRecord, *, answer_order: str = "msb", served: int | None = None, counted: Counted = Counted()
) -> list[Chart]:
    """A learning record as four charts: the loss, the share still wrong, the count still wrong, each digit.

    The record's per-position accuracies are in the order the network writes: for an "lsb" model that is
    units first, so its positions are named by their column (units, tens, ...), not left to right. `served`,
    the epoch whose weights the model holds, is marked on every chart."""
    epochs = np.arange(1, record.epochs + 1)
    probe_wrong = (record.probe_margin <= 127).reshape(record.epochs, -1).mean(axis=1) * 100
    measured = record.space_wrong >= 0
    digits = record.per_position.shape[1]
    counted_name = (
        "wrong of every question"
        if counted.every_question
        else f"wrong in the pool of {counted.pool:,} that stands for every question"
    )

    def digit_name(p: int) -> str:
        if answer_order == "lsb":
            when = " (written first)" if p == 0 else " (written last)" if p == digits - 1 else ""
            return f"answer {place_name(p)}{when}"
        where = " (leftmost)" if p == 0 else " (rightmost)" if p == digits - 1 else ""
        return f"answer digit {p + 1}{where}"

    charts = [
        Chart(
            "Training loss (cross-entropy)", "loss (log scale)", [Series("training loss", epochs, record.loss)], "log"
        ),
        Chart(
            "What share is still wrong",
            "% wrong (log scale)",
            [
                Series("held-out questions wrong", epochs, 100 * (1 - record.exact_match)),
                Series("probe map questions wrong", epochs, probe_wrong),
            ],
            "symlog",
        ),
        Chart(
            "How many of all questions are wrong" if counted.every_question else "How many pool questions are wrong",
            "count (log scale)",
            [Series(counted_name, epochs[measured], record.space_wrong[measured])] if measured.any() else [],
            "symlog",
            counted.not_measured(),
        ),
        Chart(
            "Which answer digit is learned first",
            "% right (held-out)",
            [Series(digit_name(p), epochs, 100 * record.per_position[:, p]) for p in range(digits)],
        ),
    ]
    for chart in charts:
        chart.marked_epoch, chart.marked_name = served, f"epoch {served}: the weights served"
    return charts


_PLOTS: dict[str, tuple[str, str, Scale]] = {}  # elem_id -> (title, y title, scale) of each epoch_plot


def html_value(component: gr.HTML, value: Any) -> Any:
    """What a gr.HTML shows for `value`: a Chart drawn, a long table drawn as the epoch_plot with this
    elem_id (Train your own yields tables), anything else as it is."""
    if isinstance(value, pd.DataFrame) and component.elem_id in _PLOTS:
        value = frame_chart(*_PLOTS[component.elem_id][:2], value, _PLOTS[component.elem_id][2])
    if isinstance(value, Chart):
        value = chart_html(value)
    return value


def install_patches() -> None:
    """Let every gr.HTML show a Chart or an epoch_plot's table (html_value); call once, where the app is built."""
    gradio_internals.convert_html_values(html_value)


def epoch_plot(title: str, y_title: str, elem_id: str, min_width: int = 280, scale: Scale = "linear") -> gr.HTML:
    """A chart of per-epoch values (one quantity: `y_title`, with its unit), as an HTML component.

    Set it to chart_html(Chart(...)), to a Chart, or to a long table (columns epoch, value, series), which
    is drawn with this title, y title and scale (once install_patches has run): a view that streams its
    figures yields only the table."""
    _PLOTS[elem_id] = (title, y_title, scale)
    return gr.HTML(
        message(f"{title}: nothing to draw yet."), css_template=CSS + CHART_CSS, elem_id=elem_id, min_width=min_width
    )


_PROBE_PICTURE = template(
    '<div><img class="heat" style="width:min(400px,100%)" alt="map {{ caption }}" src="{{ src }}"></div>'
    '<div>{{ legend }} <span class="hint"><span style="color: rgb{{ wrong_rgb }}">■</span> wrong · x: first number '
    "{{ first }}…{{ last }}, y: second ({{ caption }})</span></div>"
)


def probe_picture(quantised: np.ndarray, axis: np.ndarray, caption: str) -> Markup:
    """A coarse map (margins as bytes, rows = second number) drawn large enough to see, with its legend."""
    rgb = margin_palette()[quantised]
    scale = max(1, 400 // quantised.shape[0])
    rgb = np.repeat(np.repeat(rgb, scale, axis=0), scale, axis=1)
    return _PROBE_PICTURE(
        caption=caption,
        src=data_uri(png_bytes(rgb)),
        legend=margin_legend(),
        wrong_rgb=WRONG_RGB,
        first=axis[0],
        last=axis[-1],
    )


_PROBE = template(
    '<div class="panel" id="probe"><div><b>After epoch {{ epoch }} of {{ epochs }}</b> '
    "({{ seen }} questions seen, {{ seconds }} s): held-out exact match {{ exact }}%, {{ wrong }} of {{ size }} "
    "probe questions wrong.{{ polishing }}{{ served }}</div>{{ picture }}</div>"
)


def probe_html(record: LearningRecord | None, epoch: int, polish_rounds: int = 0, served: int | None = None) -> Markup:
    """The probe map after `epoch` (1-based), with that epoch's figures; the last `polish_rounds` epochs were
    polishing rounds (trainer/train.py), which the line says, and whether these are the weights served."""
    if record is None:
        return message(NO_RECORD)
    epoch = int(max(1, min(epoch, record.epochs)))
    quantised = record.probe_margin[epoch - 1]
    wrong = int((quantised <= 127).sum())
    polishing = (
        " A polishing round: a short round at the lowest rate, up to half of it the questions below the target margin."
        if epoch > record.epochs - polish_rounds
        else ""
    )
    return _PROBE(
        epoch=epoch,
        epochs=record.epochs,
        seen=f"{record.samples_seen[epoch - 1]:,}",
        seconds=f"{record.seconds[epoch - 1]:.0f}",
        exact=f"{100 * record.exact_match[epoch - 1]:.2f}",
        wrong=f"{wrong:,}",
        size=f"{quantised.size:,}",
        polishing=polishing,
        served=""
        if served is None
        else " These are the weights the model serves."
        if epoch == served
        else f" The model serves epoch {served}'s weights (the best of its checks), not this epoch's.",
        picture=probe_picture(quantised, record.probe_a, f"epoch {epoch}"),
    )


# A panel with whose it is (the browser tests read data-model), or after a warning about the value asked for.
_WHOSE = template('<div data-model="{{ model }}"></div>{{ panel }}')
_WARNED = template("{% if why %}{{ why }}{% endif %}{{ panel }}")


# The tab ------------------------------------------------------------------------------------------
@dataclass
class LearningTab:
    outputs: list[Any]
    fill: Callable[[str], tuple]


def tab(service: Service, picker: Any) -> LearningTab:
    """The "How it learned" tab: loss, errors and per-position accuracy per epoch, and the replayed probe map."""
    with gr.Row(elem_classes="chart-row"):
        loss = epoch_plot("Training loss", "cross-entropy loss", "curve-loss")
        share = epoch_plot("What share is still wrong", "% of questions wrong", "curve-errors")
    with gr.Row(elem_classes="chart-row"):
        count = epoch_plot("How many of all questions are wrong", "wrong questions", "curve-wrong-count")
        positions = epoch_plot("Which answer digit is learned first", "% right", "curve-positions")
    plots = [loss, share, count, positions]
    epoch = lenient_slider(1, 2, value=1, step=1, label="Epoch: replay the probe map as it changed", elem_id="epoch")
    probe = gr.HTML(elem_id="probe-box", css_template=CSS)

    def polished(name: str) -> int:  # metrics are cleaned on load: a count is an int or absent
        return int(service.resolve(name).stored.metrics.get("polish_rounds", 0))

    def served_of(name: str) -> int | None:
        served = service.resolve(name)
        return None if served.learning is None else served_epoch(served.learning, served.stored.metrics)

    def fill(name: str) -> tuple[Any, ...]:
        served = service.resolve(name)
        record = served.learning
        if record is None:
            return (
                *[message(NO_RECORD)] * len(plots),
                gr.Slider(maximum=2, value=1),
                _WHOSE(model=served.name, panel=probe_html(None, 1)),
            )
        last, kept = record.epochs, served_of(name)
        counted = Counted.from_metrics(served.stored.metrics)
        drawn = charts(record, answer_order=served.task.answer_order, served=kept, counted=counted)
        shown = kept or last
        return (
            *[chart_html(chart) for chart in drawn],
            gr.Slider(maximum=max(2, last), value=shown),
            _WHOSE(model=served.name, panel=probe_html(record, shown, polished(name), kept)),
        )

    def replay(name: str, chosen: float) -> str:
        record = (service.resolve(name)).learning
        if record is None:
            return probe_html(None, 1)
        shown, why = in_range(chosen, 1, record.epochs, "epoch")
        panel = probe_html(record, shown, polished(name), served_of(name))
        return _WARNED(why=message(why, "warn") if why else None, panel=panel)

    epoch.input(replay, [picker, epoch], probe, api_visibility="private", queue=False)
    return LearningTab([*plots, epoch, probe], fill)
