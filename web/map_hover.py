"""The Map's hover: the question under the pointer, then the model's answer to it, right or wrong, and its margin.

The question is written in the browser from the axes the picture carries (no
wait). The answer is asked of the server for the one cell the pointer rests on
(`answer_function`, a Gradio server function of the map's HTML): the cell's
question answered exactly as /predict answers it, one question per call, only
after the pointer has rested HOVER_WAIT_MS on the cell, one call out at a time
per map, and each answer kept in the page (up to ANSWERS_KEPT), so sweeping
across the map costs the server next to nothing. Shipping every cell's answer
with the picture instead would be megabytes for a million-cell map.

On a touch screen the first tap on a cell shows the same tip; a second tap on
that cell opens it in One question (a click with a mouse opens it at once).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import gradio as gr

from model.question_map import QuestionMap

from .html import RIGHT, WRONG
from .service import Service
from .work import WORK, Busy, client_of_request

HOVER_WAIT_MS = 120  # the pointer rests this long on a cell before its answer is asked for
ANSWERS_KEPT = 500  # answers a page keeps (each a short line)
MAX_NAME_CHARS = 80  # a model name the hover may send (the picker's names are far shorter)
NOT_A_CELL = "That is not a cell of this map."

# In the browser: the question under the pointer at once, its answer when the server has it; on click (or a
# second tap on the same cell), tell the server which cell (or listed question) to open.
MAP_JS = """
const tip = () => element.querySelector('.maptip');
const answers = new Map();  // "model|pattern|row|col" -> {text, correct}
let shown = null, timer = null, touched = false;
// The cell under the pointer, measured inside the image's border. Whole pixels: a pointer move has fractions,
// a click has none (it truncates them), and both must name the same cell of a map with several cells a pixel.
const cell = (img, e) => {
  const r = img.getBoundingClientRect(), px = Math.floor(e.clientX), py = Math.floor(e.clientY);
  const a = JSON.parse(img.dataset.a), b = JSON.parse(img.dataset.b);
  const x = (px - r.left - img.clientLeft) / img.clientWidth;
  const y = (py - r.top - img.clientTop) / img.clientHeight;
  const col = Math.max(0, Math.min(a.length - 1, Math.floor(x * a.length)));
  const row = Math.max(0, Math.min(b.length - 1, Math.floor(y * b.length)));
  return {a, b, col, row, left: px - r.left, top: py - r.top};
};
const where = (img, c) => {
  const whose = element.querySelector('[data-model]');
  return {model: whose ? whose.dataset.model : '', pattern: img.dataset.pattern === '' ? null : +img.dataset.pattern,
    row: +img.dataset.row0 + c.row, col: +img.dataset.col0 + c.col};
};
const keyOf = (w) => [w.model, w.pattern, w.row, w.col].join('|');
// Beside the pointer, kept inside the picture as far as it fits (placed again when the answer widens it).
let at = null;
const place = () => {
  const t = tip();
  if (!t || !at) return;
  t.style.left = Math.max(0, Math.min(at.left + 12, at.img.clientWidth - t.offsetWidth)) + 'px';
  t.style.top = (at.top + 12) + 'px';
};
const writeAnswer = (key) => {
  const t = tip();
  if (!t || key !== shown) return;
  const got = answers.get(key), line = t.querySelector('.tipa');
  line.textContent = got ? got.text : '…';
  line.className = 'tipa' + (got && got.correct === true ? ' ok' : got && got.correct === false ? ' no' : '');
  place();
};
// One call at a time: a cell rested on while one is out is asked for when it is back (if still under the pointer).
let asking = false, next = null;
const send = (w, key) => {
  if (asking) { next = [w, key]; return; }
  asking = true;
  server.cell_answer(w).then((r) => {
    if (answers.size >= ANSWERS_KEPT) answers.delete(answers.keys().next().value);
    answers.set(key, {text: r.error || r.text, correct: r.error ? null : r.correct});
    writeAnswer(key);
  }).catch(() => {}).finally(() => {
    asking = false;
    const waiting = next;
    next = null;
    if (waiting && waiting[1] === shown && !answers.has(waiting[1])) send(...waiting);
  });
};
const ask = (w, key) => {
  clearTimeout(timer);
  writeAnswer(key);
  if (answers.has(key) || typeof server === 'undefined' || !server.cell_answer) return;
  timer = setTimeout(() => { if (key === shown) send(w, key); }, HOVER_WAIT_MS);
};
const showTip = (img, e) => {
  const t = tip(), c = cell(img, e), w = where(img, c), key = keyOf(w);
  t.querySelector('.tipq').textContent = (img.dataset.pre || '') + c.a[c.col] + img.dataset.op + c.b[c.row] +
    img.dataset.rest;
  t.style.display = 'block';
  at = {img, left: c.left, top: c.top};
  place();
  if (key !== shown) { shown = key; ask(w, key); }
  return key;
};
const hide = () => { shown = null; if (tip()) tip().style.display = 'none'; };
element.addEventListener('pointerdown', (e) => { touched = e.pointerType === 'touch'; });
element.addEventListener('pointermove', (e) => {
  if (e.pointerType === 'touch') return;  // a tap shows the tip on click, below
  const img = e.target.closest('img.questionmap');
  if (!img || !tip()) { hide(); return; }
  showTip(img, e);
});
element.addEventListener('pointerleave', (e) => { if (e.pointerType !== 'touch') hide(); });
element.addEventListener('click', (e) => {
  const button = e.target.closest('button[data-row]');
  const img = e.target.closest('img.questionmap');
  if (button) { trigger('click', {row: +button.dataset.row, col: +button.dataset.col}); return; }
  if (!img) return;
  if (touched && tip()) {  // a tap: the first on a cell shows its tip, the second opens it
    const before = shown;
    if (showTip(img, e) !== before) return;
  }
  const c = cell(img, e);
  trigger('click', {row: +img.dataset.row0 + c.row, col: +img.dataset.col0 + c.col});
});
""".replace("ANSWERS_KEPT", str(ANSWERS_KEPT)).replace("HOVER_WAIT_MS", str(HOVER_WAIT_MS))


def margin_text(margin: float) -> str:
    """A margin as the map's lists write it, with a true minus sign: "0.982", "−0.413"."""
    return f"{margin:.3f}".replace("-", "−")


def hover_text(result: dict) -> str:
    """A /predict result in one line: "→ 596 ☑ right, margin 0.982" or "→ 586 ☒ wrong (true 596), margin −0.413"."""
    if result.get("error"):
        return result["error"]
    answer = result["answer"] if result["answer"] is not None else result["answer_as_read"].strip()
    verdict = f"{RIGHT} right" if result["correct"] else f"{WRONG} wrong (true {result['true_answer']})"
    return f"→ {answer or 'nothing'} {verdict}, margin {margin_text(result['min_margin'])}"


def hovered_map(qmap: QuestionMap, pattern: object) -> QuestionMap | None:
    """The map of a bracket pattern by its index (None: the map itself), or None for no such pattern."""
    if pattern is None:
        return qmap
    if not isinstance(pattern, int) or isinstance(pattern, bool) or not 0 <= pattern < len(qmap.by_pattern):
        return None
    return qmap.by_pattern[pattern]


def whole_index(value: object, size: int) -> bool:
    """Whether `value` is an int (not a bool, a subclass of int) from 0 to size - 1."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < size


def cell_answer(service: Service, data: object) -> dict:
    """The answer to the question in a hovered cell, `data` {"model", "pattern", "row", "col"} as the page
    sends it: {"question", "text", "correct", "model", "error"}, the result checked like any visitor's input."""
    refused = {"question": None, "text": None, "correct": None, "model": None, "error": NOT_A_CELL}
    if not isinstance(data, dict):
        return refused
    name, row, col = data.get("model"), data.get("row"), data.get("col")
    if not isinstance(name, str) or len(name) > MAX_NAME_CHARS:
        return refused
    served = service.resolve(name)  # an expired own model: the default one, whose map the tab then shows
    qmap = None if served.question_map is None else hovered_map(served.question_map, data.get("pattern"))
    side = 0 if qmap is None else qmap.margin.shape[0]
    if qmap is None or not (whole_index(row, side) and whole_index(col, side)):
        return refused
    assert isinstance(row, int) and isinstance(col, int)  # whole_index said so
    question = qmap.question(row, col).texts()[0]
    result = service.predict(question, served.name)
    return {
        "question": question,
        "text": hover_text(result),
        "correct": result["correct"],
        "model": served.name,
        "error": result["error"],
    }


def answer_function(service: Service) -> Callable:
    """cell_answer as a Gradio server function (`server.cell_answer(data)` in MAP_JS), counted for the
    caller's address in web/work.py's pool like every other call."""

    async def cell_answer_call(data: Any, request: gr.Request | None = None) -> dict:
        try:
            return await WORK.run(
                client_of_request(request), functools.partial(cell_answer, service, data), heavy=False
            )
        except Busy as err:
            return {"question": None, "text": None, "correct": None, "model": None, "error": str(err)}

    cell_answer_call.__name__ = "cell_answer"  # the name the browser calls it by
    return cell_answer_call
