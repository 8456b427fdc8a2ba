"""The Map tab's picture: every cell of a map as a PNG pixel, coloured by its margin, wrong cells red and ringed.

The whole map is drawn once per map content (a few hundred milliseconds) and
kept in a bounded cache as its <img> element; a zoomed block is drawn per
request. The <img> carries the axes and the text around the two numbers, so
the browser can write the question under the pointer itself.
"""

from __future__ import annotations

import io
import json

import numpy as np
from markupsafe import Markup

from model.brackets import bracket_patterns, bracketed_text
from model.config import OPERATORS
from model.question_map import QuestionMap

from .cache import BoundedCache, fingerprint
from .html import WRONG_RGB, data_uri, margin_palette, png_bytes
from .templates import template

RING_LIMIT = 200  # circle wrong cells only when there are at most this many
PICTURES_KEPT = 16  # whole-map pictures cached (a few hundred KB each): the zoo, plus visitors' own models


# The stored margins are bytes (0 = -1 … 255 = +1), so one 256-entry table colours a million cells at once.
PALETTE = margin_palette()


def cell_colours(qmap: QuestionMap, rows: slice, cols: slice) -> np.ndarray:
    """(h, w, 3) uint8: margin colours, wrong cells red."""
    rgb = PALETTE[qmap.margin[rows, cols]]
    wrong = np.zeros(qmap.margin.shape, dtype=bool)
    if len(qmap.wrong):
        wrong[qmap.wrong[:, 0], qmap.wrong[:, 1]] = True
    rgb[wrong[rows, cols]] = WRONG_RGB
    return rgb


def draw_rings(rgb: np.ndarray, centres: np.ndarray, radius: float, width: float) -> None:
    """Circle each (y, x) centre in place, so single wrong pixels stay visible when the picture is shrunk."""
    height, wide = rgb.shape[:2]
    reach = int(radius + width) + 1
    for y, x in centres:
        y0, y1, x0, x1 = max(0, y - reach), min(height, y + reach + 1), max(0, x - reach), min(wide, x + reach + 1)
        yy, xx = np.mgrid[y0:y1, x0:x1]
        distance = np.hypot(yy - y, xx - x)
        rgb[y0:y1, x0:x1][np.abs(distance - radius) <= width / 2] = WRONG_RGB


def render(qmap: QuestionMap, row0: int = 0, col0: int = 0, size: int | None = None) -> tuple[bytes, dict]:
    """A PNG of the whole map (or of a size x size block) and the axis data the browser needs."""
    side = qmap.margin.shape[0]
    size = side if size is None else max(1, min(size, side))
    row0, col0 = max(0, min(row0, side - size)), max(0, min(col0, side - size))
    rows, cols = slice(row0, row0 + size), slice(col0, col0 + size)
    rgb = cell_colours(qmap, rows, cols)
    scale = max(1, 500 // size)  # a zoomed block is drawn at least 500 px wide
    rgb = np.repeat(np.repeat(rgb, scale, axis=0), scale, axis=1)
    inside = [
        (r - row0, c - col0) for r, c in qmap.wrong.tolist() if row0 <= r < row0 + size and col0 <= c < col0 + size
    ]
    if 0 < len(inside) <= RING_LIMIT:
        centres = np.array(inside) * scale + scale // 2
        draw_rings(rgb, centres, radius=max(14.0, 1.5 * scale), width=max(5.0, scale / 3))
    return png_bytes(rgb), {
        "a": qmap.a_values[cols].tolist(),
        "b": qmap.b_values[rows].tolist(),
        "row0": row0,
        "col0": col0,
    }


# The whole map's (<img>, axes) per map content: never an id(), which a new model can inherit from a dropped one.
_PICTURES: BoundedCache[tuple[Markup, dict]] = BoundedCache(PICTURES_KEPT)


def map_key(qmap: QuestionMap) -> str:
    """What the whole-map picture is drawn from (the colours come from the margins and the wrong cells)."""
    parts = (qmap.a_values, qmap.b_values, qmap.margin, qmap.wrong, qmap.ops, qmap.rest_terms)
    return fingerprint(*parts, -1 if qmap.pattern is None else qmap.pattern)  # the pattern: the hover's brackets


def whole_picture(qmap: QuestionMap) -> tuple[Markup, dict]:
    def draw() -> tuple[Markup, dict]:
        png, axes = render(qmap)
        return img_html(_palette_png(png), axes, qmap), axes

    return _PICTURES.get(map_key(qmap), draw)


def _palette_png(png: bytes) -> bytes:
    """The same picture with a 256-colour palette: about a third of the bytes for the browser to fetch and
    decode (the map's colours are a 256-step scale already); about 70 ms, once per model."""
    from PIL import Image

    image = Image.open(io.BytesIO(png)).quantize(colors=256, method=Image.Quantize.FASTOCTREE)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=6)  # level 9 is 20x slower for 10% fewer bytes
    return buffer.getvalue()


def hover_parts(qmap: QuestionMap) -> tuple[str, str, str]:
    """(before the first number, between it and the second, after the second): what the hover writes
    around the two numbers it reads off the axes, e.g. ("", "+", "") for 535+61, or ("(", "?", ")?…")
    for a map of the bracket pattern (a·b)·c ("?" an operator that varies, "…" a number drawn at random)."""
    ops = qmap.ops.reshape(-1, qmap.ops.shape[-1])
    if qmap.pattern is None:
        single = len(np.unique(ops[:, 0])) == 1 and qmap.ops.shape[-1] == 1
        op = OPERATORS[int(ops[0, 0])] if single else "?"
        return "", op, "" if qmap.rest_terms.shape[-1] == 0 and single else " …"
    count = qmap.ops.shape[-1] + 1  # a pattern's map asks every cell with all the task's numbers
    signs = "".join(OPERATORS[int(gap[0])] if len(np.unique(gap)) == 1 else "?" for gap in ops.T)
    text = bracketed_text(["\x00", "\x01", *["…"] * (count - 2)], signs, bracket_patterns(count)[qmap.pattern])
    before, rest = text.split("\x00")
    between, after = rest.split("\x01")
    return before, between, after


_IMG = template(
    '<img class="questionmap" alt="map of every question" src="{{ src }}" data-a="{{ a }}" data-pre="{{ pre }}" '
    'data-b="{{ b }}" data-op="{{ op }}" data-rest="{{ rest }}" data-row0="{{ row0 }}" data-col0="{{ col0 }}" '
    'data-pattern="{{ pattern }}">'
)


def img_html(png: bytes, axes: dict, qmap: QuestionMap) -> Markup:
    """The picture as an <img> carrying what the browser's hover needs: the axes and the text around them."""
    before, op, rest = hover_parts(qmap)
    return _IMG(
        src=data_uri(png),
        a=json.dumps(axes["a"]),
        pre=before,
        b=json.dumps(axes["b"]),
        op=op,
        rest=rest,
        row0=axes["row0"],
        col0=axes["col0"],
        pattern="" if qmap.pattern is None else qmap.pattern,  # which map the hover asks the server about
    )
