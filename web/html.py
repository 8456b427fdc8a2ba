"""Small pieces every view uses: character boxes, bars, colour scales, PNG pictures, the CSS.

Views are pure functions from the service's JSON to HTML, so they need no
model and no Gradio. Their markup comes from templates (web/templates.py) that
escape every value they print, so everything that came from a visitor or from
a model repo is shown as text, never as markup.
"""

from __future__ import annotations

import base64
import io

import numpy as np
from markupsafe import Markup

from model.metrics import percent

from .templates import template

PAD_SHOWN = "␣"  # how the padding space is drawn, so a person can see it
RIGHT, WRONG, WARN = "☑", "☒", "⚠"

# Colour scales as (position, RGB) anchors; chosen to read on light and dark pages alike.
DIVERGING = [(0.0, (33, 102, 172)), (0.5, (235, 235, 235)), (1.0, (178, 24, 43))]  # -1 blue, 0 grey, +1 red
SEQUENTIAL = [(0.0, (240, 240, 240)), (0.35, (253, 174, 97)), (0.7, (215, 48, 39)), (1.0, (120, 0, 30))]
MARGIN = [(0.0, (250, 204, 21)), (0.5, (74, 222, 128)), (1.0, (21, 94, 117))]  # right: weak yellow -> sure teal
WRONG_RGB = (225, 29, 72)

CSS = """
.panel { font-size: 15px; line-height: 1.5; }
.panel tr { border: 0 !important; }  /* Gradio's default HTML styles box every row */
.mono, .grid td, .grid th, .chars span { font-family: ui-monospace, Menlo, Consolas, monospace; }
.chars { display: inline-block; white-space: nowrap; }  /* an answer's boxes stay on one line */
.chars span { display: inline-block; min-width: 1.5em; padding: 2px 4px; margin: 1px; text-align: center;
  border: 1px solid var(--border-color-primary); border-radius: 4px; }
.chars span.bad { background: #fde2e2; color: #9b1c1c; border-color: #e02424; font-weight: 700; }
.chars span.pad { color: var(--body-text-color-subdued); }
.scroll { overflow-x: auto; max-width: 100%; }
.grid { border-collapse: collapse; margin-top: 6px; }
.grid td, .grid th { min-width: 1.9em; height: 1.6em; padding: 0 2px; text-align: center;
  border: 1px solid var(--border-color-primary); }
.grid th { font-weight: 600; background: var(--background-fill-secondary); }
.grid td.hot { background: #1d4ed8; color: #fff; font-weight: 700; }
.grid td.cold { color: var(--body-text-color-subdued); }
.pos { border-collapse: collapse; width: 100%; border: 0 !important; }
.pos td, .pos th { padding: 4px 6px; border: none; border-bottom: 1px solid var(--border-color-primary);
  text-align: left; vertical-align: middle; }
.bar { display: inline-block; width: 60px; height: 9px; background: var(--background-fill-secondary);
  border-radius: 4px; vertical-align: middle; margin-right: 4px; overflow: hidden; }
.bar i { display: block; height: 100%; background: #1d4ed8; }
.bar.low i { background: #d97706; }
.alt { display: inline-block; white-space: nowrap; margin-right: 10px; }
.big { font-size: 26px; font-weight: 700; }
.ok { color: #059669; } .no { color: #dc2626; } .warn { color: #d97706; }
.hint { color: var(--body-text-color-subdued); font-size: 13px; }
.legend { display: inline-block; width: 140px; height: 10px; border-radius: 3px; vertical-align: middle;
  margin: 0 6px; border: 1px solid var(--border-color-primary); }
.legendbox { display: inline-block; position: relative; vertical-align: middle; margin: 0 6px 12px 6px; }
.legendbox .legend { margin: 0; width: 200px; }
.legendticks { position: absolute; left: 0; right: 0; top: 12px; height: 12px; font-size: 10px; }
.legendticks span { position: absolute; transform: translateX(-50%); }
.heat { image-rendering: pixelated; border: 1px solid var(--border-color-primary); max-width: 100%; }
/* On a phone every column of a position stays (the runners-up too): the bar gives way to its number. */
@media (max-width: 600px) { .pos .bar { display: none; } .pos td, .pos th { padding: 4px 3px; }
  .big { font-size: 22px; } .panel { font-size: 14px; } }
"""


def plural(count: int, word: str, many: str | None = None) -> str:
    """ "1 layer", "2 layers", "1,000 questions": the count and the word in its proper number."""
    return f"{count:,} {word if count == 1 else (many or word + 's')}"


def confidence_text(value: float) -> str:
    """How sure the model is of a character, as every view writes it (99.99%, never a rounded-up 100.0%)."""
    return percent(value, 1)


def show_char(char: str) -> str:
    """A character as the views show it: the padding space as ␣ (a template escapes the rest)."""
    return PAD_SHOWN if char == " " else char


_CHARS = template(
    '<span class="chars">{% for cls, char in boxes %}<span class="{{ cls }}">{{ char }}</span>{% endfor %}</span>'
)


def chars_html(text: str, wrong: list[bool] | None = None) -> Markup:
    """One box per character, pads drawn as ␣, wrong positions in red."""
    boxes = []
    for i, char in enumerate(text):
        cls = "bad" if wrong and wrong[i] else ("pad" if char == " " else "")
        boxes.append((cls, show_char(char)))
    return _CHARS(boxes=boxes)


_BAR = template('<span class="bar{{ low }}"><i style="width:{{ width }}%"></i></span>')


def bar(fraction: float, low: bool = False) -> Markup:
    width = 100 * min(1.0, max(0.0, fraction))
    return _BAR(low=" low" if low else "", width=f"{width:.1f}")


def colour_scale(values: np.ndarray, anchors: list[tuple[float, tuple[int, int, int]]]) -> np.ndarray:
    """Values in [0, 1] -> uint8 RGB by linear interpolation between anchors."""
    values = np.clip(np.nan_to_num(values), 0.0, 1.0)
    positions = [a[0] for a in anchors]
    channels = [np.interp(values, positions, [a[1][c] for a in anchors]) for c in range(3)]
    return np.stack(channels, axis=-1).round().astype(np.uint8)


MARGIN_TICKS = (0.0, 0.9, 0.99, 1.0)  # margins labelled on the legend


def margin_position(margin: np.ndarray | float) -> np.ndarray:
    """Where a right answer's margin sits on the colour scale, 0 (barely right) … 1 (sure), on a log scale of
    1 - margin: a linear scale paints 0.9, 0.99 and 0.999 the same teal, hiding where carries make a model
    less sure. The stored margins are bytes of 1/127.5, so 1 - margin runs over 0, 1/127.5 … 1."""
    gap = np.clip((1 - np.asarray(margin, dtype=np.float64)) * 127.5, 0, 127.5)
    return 1 - np.log1p(gap) / np.log1p(127.5)


def margin_palette() -> np.ndarray:
    """256 colours for stored margins (0 = -1 … 255 = +1): yellow (barely right) to teal (sure), red wrong."""
    palette = colour_scale(margin_position(np.arange(256) / 127.5 - 1), MARGIN)
    palette[:128] = WRONG_RGB  # a margin of 0 or less is a wrong answer
    return palette


_MARGIN_LEGEND = template(
    '<span class="hint marginkey">Colour: how sure the model is of its least sure answer digit (margin = '
    "p(right) − p(best wrong), on a log scale of 1 − margin):<br>barely right"
    '<span class="legendbox"><span class="legend" style="background: linear-gradient(90deg, {{ stops }})"></span>'
    '<span class="legendticks">{% for left, text in marks %}<span style="left:{{ left }}%">{{ text }}</span>'
    "{% endfor %}</span></span>sure</span>"
)


def margin_legend() -> Markup:
    """The map legend: what the colour means, with margins marked where they fall on the log scale."""
    stops = ", ".join(f"rgb{rgb} {100 * pos:.0f}%" for pos, rgb in MARGIN)
    marks = [(f"{100 * float(margin_position(m)):.1f}", f"{m:g}") for m in MARGIN_TICKS]
    return _MARGIN_LEGEND(stops=stops, marks=marks)


def css_colour(value: float, anchors: list[tuple[float, tuple[int, int, int]]]) -> str:
    r, g, b = colour_scale(np.array([value]), anchors)[0]
    return f"rgb({r},{g},{b})"


_LEGEND = template(
    '<span class="hint">{{ low }}<span class="legend" style="background: linear-gradient(90deg, {{ stops }})">'
    "</span>{{ high }}</span>"
)


def legend(anchors: list[tuple[float, tuple[int, int, int]]], low: str, high: str) -> Markup:
    stops = ", ".join(f"rgb{rgb} {100 * pos:.0f}%" for pos, rgb in anchors)
    return _LEGEND(low=low, stops=stops, high=high)


def png_bytes(rgb: np.ndarray, level: int = 3) -> bytes:
    """(H, W, 3) uint8 -> PNG file bytes (compression level 1 is quickest, for small per-request pictures)."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(rgb, "RGB").save(buffer, format="PNG", compress_level=level)
    return buffer.getvalue()


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


_MESSAGE = template('<div class="panel {{ kind }}">{{ text }}</div>')


def message(text: str, kind: str = "hint") -> Markup:
    """A one-line panel, e.g. why a view does not apply to this model."""
    return _MESSAGE(kind=kind, text=text)
