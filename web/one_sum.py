"""The "One question" view: the verdict, what the network reads, and what it answers position by position.

Pure functions from a /predict result (and the model's task) to HTML.
"""

from __future__ import annotations

from model.config import TaskConfig
from model.metrics import percent

from .html import PAD_SHOWN, RIGHT, WARN, WRONG, bar, chars_html, esc, show_char

START = '<div class="panel hint">Type a question (or click an example) and press Predict.</div>'


def verdict_html(result: dict) -> str:
    """The answer, the true result and right/wrong, with wrong characters marked."""
    if result.get("error"):
        return (f'<div class="panel" data-question="{esc(result["question"])}">'
                f'<span class="big warn" id="verdict-mark">{WARN}</span> '
                f'<span id="verdict-text">{esc(result["error"])}</span></div>')
    answer = result["answer"] if result["answer"] is not None else result["answer_text"].strip()
    wrong = [p["wrong"] for p in result["positions"]]
    if result["correct"]:
        mark, text = f'<span class="big ok" id="verdict-mark">{RIGHT}</span>', "right"
    else:
        places = ", ".join(str(i + 1) for i, w in enumerate(wrong) if w)
        mark = f'<span class="big no" id="verdict-mark">{WRONG}</span>'
        text = f"wrong: the true answer is {result['true_answer']} (position(s) {places} differ)"
    padded = " " in result["answer_text"] + result["true_text"]
    note = f' <span class="hint">({PAD_SHOWN} is padding)</span>' if padded else ""
    return (f'<div class="panel" data-question="{esc(result["question"])}"><div class="big">'
            f'<span class="mono">{esc(result["question"])} = </span>'
            f'<span class="mono" id="predicted-answer">{esc(answer)}</span> {mark}</div>'
            f'<div id="verdict-text">{esc(text)}. Predicted {chars_html(result["answer_text"], wrong)} '
            f'true {chars_html(result["true_text"])}{note}</div></div>')


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
    grid = (f'<div class="scroll"><table class="grid"><tr><th class="hint">step</th>{steps_row}</tr>'
            f'<tr><th class="hint">reads</th>{head}</tr>{"".join(rows)}</table></div>')
    return (f'<div class="panel">{"".join(steps)}<div class="hint">One-hot input: one column per time step, one '
            f"row per character of the alphabet; the blue cell is the character read.</div>{grid}</div>")


def positions_html(result: dict) -> str:
    """Each answer position: the chosen character, its confidence and the top-3 candidates."""
    if result.get("error"):
        return '<div class="panel hint">No prediction: the question was not accepted.</div>'
    rows = []
    for pos in result["positions"]:
        low = pos["confidence"] < 0.9
        alts = "".join(f'<span class="alt"><b class="mono">{show_char(a["char"])}</b> '
                       f'{percent(a["probability"], 1)}</span>' for a in pos["top"][1:])
        mark = f'<span class="no">{WRONG} should be {show_char(pos["true_char"])}</span>' if pos["wrong"] \
            else f'<span class="ok">{RIGHT}</span>'
        rows.append(f'<tr><td>{pos["index"] + 1}</td><td class="mono big">{show_char(pos["char"])}</td>'
                    f'<td>{bar(pos["confidence"], low)}<span class="{"warn" if low else ""}">'
                    f'{percent(pos["confidence"], 1)}</span></td><td class="tops">{alts}</td><td>{mark}</td></tr>')
    return ('<div class="panel scroll"><table class="pos"><tr><th>#</th><th>Chose</th><th>Confidence</th>'
            f'<th class="tops">Runners-up</th><th></th></tr>{"".join(rows)}</table>'
            '<div class="hint">Amber: the model was less than 90% sure of that character.</div></div>')
