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

from .html import esc

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


def frame_chart(title: str, y_title: str, frame: pd.DataFrame, scale: Scale = "linear") -> Chart:
    """A long table (columns epoch, value, series: gr.LinePlot's form) as a Chart, one line per series."""
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
def chart_html(chart: Chart) -> str:
    """The chart: a title, the SVG plot with both axes titled, and the legend naming every series."""
    title = f'<div class="title">{esc(chart.title)}</div>'
    drawn = [s for s in chart.series if len(s.epochs)]
    if not drawn:
        return f'<figure class="chart" data-series="0">{title}<div class="note">{esc(chart.empty_note)}</div></figure>'
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

    parts = []
    for tick in ticks:
        y = float(y_of(np.array([tick]))[0])
        parts.append(f'<line class="gridline" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>')
        parts.append(f'<text x="{LEFT - 5}" y="{y + 4:.1f}" text-anchor="end">{tick_label(tick)}</text>')
    for epoch in epoch_ticks(last):
        x = float(x_of(np.array([epoch]))[0])
        parts.append(f'<line class="axis" x1="{x:.1f}" x2="{x:.1f}" y1="{TOP + plot_h}" y2="{TOP + plot_h + 4}"/>')
        parts.append(f'<text x="{x:.1f}" y="{TOP + plot_h + 15}" text-anchor="middle">{epoch}</text>')
    parts.append(f'<line class="axis" x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{TOP + plot_h}"/>')
    parts.append(f'<line class="axis" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{TOP + plot_h}" y2="{TOP + plot_h}"/>')
    parts.append(f'<text x="{LEFT + plot_w / 2:.0f}" y="{HEIGHT - 3}" text-anchor="middle">epoch</text>')
    parts.append(
        f'<text x="12" y="{TOP + plot_h / 2:.0f}" text-anchor="middle" '
        f'transform="rotate(-90 12 {TOP + plot_h / 2:.0f})">{esc(chart.y_title)}</text>'
    )
    keys = []
    for i, line in enumerate(drawn):
        colour = COLOURS[i % len(COLOURS)]
        finite = np.isfinite(np.asarray(line.values, dtype=np.float64))
        xs, ys = x_of(line.epochs[finite]), y_of(np.asarray(line.values, dtype=np.float64)[finite])
        if len(xs):
            parts.append(f'<path d="{_line_path(xs, ys)}" fill="none" stroke="{colour}" stroke-width="2"/>')
            if len(xs) <= 40:
                parts += [
                    f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{colour}"/>' for x, y in zip(xs, ys, strict=True)
                ]
        keys.append(f'<span class="key"><i style="background:{colour}"></i>{esc(line.name)}</span>')
    svg = f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{esc(chart.title)}">{"".join(parts)}</svg>'
    return (
        f'<figure class="chart" data-series="{len(drawn)}">{title}{svg}'
        f'<figcaption class="keys">{"".join(keys)}</figcaption></figure>'
    )
