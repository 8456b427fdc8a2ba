"""Line charts of per-epoch values as inline SVG: one quantity per axis, every series named in full.

Drawn as text in microseconds (no plotting library per request), in the page's
own text colour (so they read in dark mode too), scaled to the width of the
box. The legend is HTML under the plot, so it wraps on a phone instead of being
cut off. Epoch ticks are whole numbers; a "symlog" axis is linear near zero
and logarithmic above, so counts that fall from thousands to 0 stay readable.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
from markupsafe import Markup

from .templates import template

Scale = Literal["linear", "log", "symlog"]
COLOURS = ("#2563eb", "#dc2626", "#059669", "#d97706", "#7c3aed", "#db2777", "#0891b2", "#65a30d")
WIDTH, HEIGHT = 460, 250  # the SVG's own units; it is drawn at the box's width
LEFT, RIGHT, TOP, BOTTOM = 66, 14, 10, 36  # room for tick labels and axis titles inside the picture
CHART_CSS = """
.chart { margin: 0; max-width: 560px; }
.chart svg { width: 100%; height: auto; display: block; overflow: visible; }
.chart .axis { stroke: currentColor; stroke-opacity: 0.55; }
.chart .gridline { stroke: currentColor; stroke-opacity: 0.12; }
.chart text { fill: currentColor; font-size: 12.5px; }
.chart .title { font-size: 14px; font-weight: 600; margin: 0 0 2px 0; }
.chart .keys { display: flex; flex-wrap: wrap; gap: 2px 14px; font-size: 13px; margin-top: 2px; }
.chart .keys i { display: inline-block; width: 14px; height: 3px; vertical-align: middle; margin-right: 5px; }
.chart .note { font-size: 13px; color: var(--body-text-color-subdued); }
"""


@dataclass
class Series:
    """One line: its full name, and its value after some epochs (1-based)."""

    name: str
    epochs: np.ndarray
    values: np.ndarray


@dataclass
class Chart:
    """Per-epoch values of one quantity (`y_title`, with its unit), one line per series."""

    title: str
    y_title: str
    series: list[Series] = field(default_factory=list)
    scale: Scale = "linear"
    empty_note: str = "Nothing recorded yet."
    marked_epoch: int | None = None  # drawn as a dashed line, named by `marked_name` in the legend
    marked_name: str = ""


def frame_chart(title: str, y_title: str, frame: pd.DataFrame, scale: Scale = "linear") -> Chart:
    """A long table (columns epoch, value, series) as a Chart, one line per series."""
    series = [
        Series(str(name), part["epoch"].to_numpy(dtype=np.int64), part["value"].to_numpy(dtype=np.float64))
        for name, part in frame.groupby("series", sort=False)
    ]
    return Chart(title, y_title, series, scale)


# Axes -------------------------------------------------------------------------------------------
def epoch_ticks(last: int) -> list[int]:
    """Whole-number epochs 1…last, at most 8 of them, at a round step."""
    step = next(s for s in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000) if last / s <= 8)
    return sorted({1, *range(step, last + 1, step)})


def forward(values: np.ndarray, scale: Scale, linthresh: float) -> np.ndarray:
    """Values to axis units: as they are, log10, or symlog (linear up to linthresh, log10 above)."""
    values = np.asarray(values, dtype=np.float64)
    if scale == "log":
        return np.log10(np.maximum(values, 1e-12))
    if scale == "symlog":
        return np.sign(values) * np.log10(1 + np.abs(values) / linthresh)
    return values


def value_ticks(top: float, bottom: float, scale: Scale, linthresh: float) -> list[float]:
    """Round values to label: powers of ten on a log axis (with 0 on symlog), else 4 to 6 round steps."""
    if scale == "log":
        low, high = math.floor(math.log10(max(bottom, 1e-12))), math.ceil(math.log10(max(top, 1e-12)))
        return [10.0**k for k in range(low, high + 1)]
    if scale == "symlog":
        low = math.floor(math.log10(linthresh))
        return [0.0] + [10.0**k for k in range(low, math.ceil(math.log10(max(top, linthresh))) + 1)]
    step = 10 ** math.floor(math.log10(max(top, 1e-12)))
    for factor in (0.2, 0.5, 1, 2):
        if top / (step * factor) <= 6:
            step *= factor
            break
    return [step * i for i in range(math.ceil(top / step - 1e-9) + 1)]


def tick_label(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:g}"


def _line_path(xs: np.ndarray, ys: np.ndarray) -> str:
    return "M" + " L".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, ys, strict=True))


# The chart --------------------------------------------------------------------------------------
_EMPTY = template(
    '<figure class="chart" data-series="0"><div class="title">{{ title }}</div>'
    '<div class="note">{{ note }}</div></figure>'
)
# Each tick: (y, label y, label); each epoch mark: (x, label). The plot's numbers arrive formatted.
_CHART = template(
    '<figure class="chart" data-series="{{ keys | length }}"><div class="title">{{ title }}</div>'
    '<svg viewBox="0 0 {{ width }} {{ height }}" role="img" aria-label="{{ title }}">'
    "{% for y, label_y, label in ticks %}"
    '<line class="gridline" x1="{{ left }}" x2="{{ right }}" y1="{{ y }}" y2="{{ y }}"/>'
    '<text x="{{ label_x }}" y="{{ label_y }}" text-anchor="end">{{ label }}</text>'
    "{% endfor %}"
    "{% for x, label in epochs %}"
    '<line class="axis" x1="{{ x }}" x2="{{ x }}" y1="{{ bottom }}" y2="{{ bottom + 4 }}"/>'
    '<text x="{{ x }}" y="{{ bottom + 15 }}" text-anchor="middle">{{ label }}</text>'
    "{% endfor %}"
    '<line class="axis" x1="{{ left }}" x2="{{ left }}" y1="{{ top }}" y2="{{ bottom }}"/>'
    '<line class="axis" x1="{{ left }}" x2="{{ right }}" y1="{{ bottom }}" y2="{{ bottom }}"/>'
    '<text x="{{ middle_x }}" y="{{ height - 3 }}" text-anchor="middle">epoch</text>'
    '<text x="12" y="{{ middle_y }}" text-anchor="middle" transform="rotate(-90 12 {{ middle_y }})">'
    "{{ y_title }}</text>"
    "{% for path, colour, dots in lines %}"
    '<path d="{{ path }}" fill="none" stroke="{{ colour }}" stroke-width="2"/>'
    '{% for x, y in dots %}<circle cx="{{ x }}" cy="{{ y }}" r="2.5" fill="{{ colour }}"/>{% endfor %}'
    "{% endfor %}"
    "{% if mark %}"
    '<line class="marked" x1="{{ mark }}" x2="{{ mark }}" y1="{{ top }}" y2="{{ bottom }}" stroke="currentColor" '
    'stroke-dasharray="4 3"/>'
    "{% endif %}</svg>"
    '<figcaption class="keys">'
    '{% for colour, name in keys %}<span class="key"><i style="background:{{ colour }}"></i>{{ name }}</span>'
    "{% endfor %}"
    '{% if mark %}<span class="key marked-key">┆ {{ marked_name }}</span>{% endif %}'
    "</figcaption></figure>"
)


def chart_html(chart: Chart) -> Markup:
    """The chart: a title, the SVG plot with both axes titled, and the legend naming every series."""
    drawn = [s for s in chart.series if len(s.epochs)]
    if not drawn:
        return _EMPTY(title=chart.title, note=chart.empty_note)
    values = np.concatenate([np.asarray(s.values, dtype=np.float64) for s in drawn])
    values = values[np.isfinite(values)]
    top = float(values.max()) if len(values) else 1.0
    positive = values[values > 0]
    bottom = float(positive.min()) if len(positive) else 1.0
    scale: Scale = "symlog" if chart.scale == "log" and not (values > 0).all() else chart.scale
    # symlog is linear below the smallest power of ten at or under the smallest non-zero value (1 for counts)
    linthresh = 10.0 ** math.floor(math.log10(max(bottom, 1e-4)))
    ticks = value_ticks(max(top, 1e-9), bottom, scale, linthresh)
    low, high = (
        float(forward(np.array([ticks[0]]), scale, linthresh)[0]),
        float(forward(np.array([max(ticks[-1], top)]), scale, linthresh)[0]),
    )
    span = (high - low) or 1.0
    last = max(int(max(s.epochs.max() for s in drawn)), 2)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x_of(epochs: np.ndarray) -> np.ndarray:
        return LEFT + (np.asarray(epochs, dtype=np.float64) - 1) / (last - 1) * plot_w

    def y_of(ys: np.ndarray) -> np.ndarray:
        return TOP + plot_h - (forward(ys, scale, linthresh) - low) / span * plot_h

    tick_rows = []
    for tick in ticks:
        y = float(y_of(np.array([tick]))[0])
        tick_rows.append((f"{y:.1f}", f"{y + 4:.1f}", tick_label(tick)))
    epoch_marks = [(f"{float(x_of(np.array([epoch]))[0]):.1f}", epoch) for epoch in epoch_ticks(last)]
    lines, keys = [], []
    for i, line in enumerate(drawn):
        colour = COLOURS[i % len(COLOURS)]
        finite = np.isfinite(np.asarray(line.values, dtype=np.float64))
        xs, ys = x_of(line.epochs[finite]), y_of(np.asarray(line.values, dtype=np.float64)[finite])
        if len(xs):
            dots = [(f"{x:.1f}", f"{y:.1f}") for x, y in zip(xs, ys, strict=True)] if len(xs) <= 40 else []
            lines.append((_line_path(xs, ys), colour, dots))
        keys.append((colour, line.name))
    marked = chart.marked_epoch is not None and 1 <= chart.marked_epoch <= last
    return _CHART(
        mark=f"{float(x_of(np.array([chart.marked_epoch]))[0]):.1f}" if marked else "",
        marked_name=chart.marked_name,
        title=chart.title,
        y_title=chart.y_title,
        width=WIDTH,
        height=HEIGHT,
        left=LEFT,
        right=WIDTH - RIGHT,
        top=TOP,
        bottom=TOP + plot_h,
        label_x=LEFT - 5,
        middle_x=f"{LEFT + plot_w / 2:.0f}",
        middle_y=f"{TOP + plot_h / 2:.0f}",
        ticks=tick_rows,
        epochs=epoch_marks,
        lines=lines,
        keys=keys,
    )
