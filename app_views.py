"""How the app shows its results: pure functions from the API's JSON to HTML and tables.

`app.py` answers questions and returns plain dicts (the same ones the API
returns); everything here only formats those dicts for a person, so it needs
no model and no Gradio. All text that came from a user is escaped, because
it is echoed back inside HTML.
"""

from __future__ import annotations

import html

PAD_SHOWN = "␣"  # how the padding space is drawn, so a person can see it
RIGHT, WRONG, WARN = "☑", "☒", "⚠"
TABLE_HEADERS = ["#", "Question", "True answer", "Prediction", "Min confidence", "Verdict"]

# Scoped to each gr.HTML component (css_template); theme variables keep dark mode readable.
CSS = """
.panel { font-size: 15px; line-height: 1.5; }
.mono, .grid td, .grid th, .chars span { font-family: ui-monospace, Menlo, Consolas, monospace; }
.chars span { display: inline-block; min-width: 1.5em; padding: 2px 4px; margin: 1px;
  text-align: center; border: 1px solid var(--border-color-primary); border-radius: 4px; }
.chars span.bad { background: #fde2e2; color: #9b1c1c; border-color: #e02424; font-weight: 700; }
.chars span.pad { color: var(--body-text-color-subdued); }
.grid { border-collapse: collapse; margin-top: 6px; }
.grid td, .grid th { width: 1.9em; height: 1.6em; padding: 0; text-align: center;
  border: 1px solid var(--border-color-primary); }
.grid th { font-weight: 600; background: var(--background-fill-secondary); }
.grid td.hot { background: #1d4ed8; color: #fff; font-weight: 700; }
.grid td.cold { color: var(--body-text-color-subdued); }
.pos { border-collapse: collapse; width: 100%; }
.pos td, .pos th { padding: 4px 6px; border: none; border-bottom: 1px solid var(--border-color-primary);
  text-align: left; }
.bar { display: inline-block; width: 70px; height: 9px; background: var(--background-fill-secondary);
  border-radius: 4px; vertical-align: middle; margin-right: 4px; overflow: hidden; }
.bar i { display: block; height: 100%; background: #1d4ed8; }
.bar.low i { background: #d97706; }
.alt { display: block; white-space: nowrap; }
.big { font-size: 26px; font-weight: 700; }
.ok { color: #047857; } .no { color: #b91c1c; } .warn { color: #b45309; }
.hint { color: var(--body-text-color-subdued); font-size: 13px; }
"""


START = '<div class="panel hint">Type a sum (or click an example) and press Predict.</div>'


def esc(text: object) -> str:
    """Escape for HTML, and neutralise the characters Gradio's HTML templates treat specially."""
    escaped = html.escape(str(text), quote=True)
    return escaped.replace("{", "&#123;").replace("}", "&#125;").replace("$", "&#36;").replace("`", "&#96;")


def shorten(text: object, limit: int = 60) -> str:
    text = text if isinstance(text, str) else repr(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def chars_html(text: str, wrong: list[bool] | None = None) -> str:
    """One box per character, pads drawn as ␣, wrong positions in red."""
    boxes = []
    for i, char in enumerate(text):
        cls = "bad" if wrong and wrong[i] else ("pad" if char == " " else "")
        boxes.append(f'<span class="{cls}">{esc(PAD_SHOWN if char == " " else char)}</span>')
    return f'<span class="chars">{"".join(boxes)}</span>'


def _bar(probability: float, low: bool = False) -> str:
    return f'<span class="bar{" low" if low else ""}"><i style="width:{100 * probability:.1f}%"></i></span>'


def _show_char(char: str) -> str:
    return PAD_SHOWN if char == " " else esc(char)


def encoding_html(result: dict, alphabet: str, reverse: bool) -> str:
    """The question as the network reads it: the padded text, its reversal, and the one-hot grid."""
    if result.get("error"):
        return '<div class="panel hint">Nothing to encode: the question was not accepted.</div>'
    read = result["network_input"]
    steps = [f'<div>Typed: <b class="mono">{esc(result["question"])}</b></div>']
    if reverse:
        steps.append(f"<div>Padded: {chars_html(read[::-1])}</div>")
        steps.append(f"<div>Reversed (what the network reads): {chars_html(read)}</div>")
    else:
        steps.append(f"<div>Padded (what the network reads): {chars_html(read)}</div>")
    head = "".join(f"<th>{_show_char(c)}</th>" for c in read)
    rows = []
    for j, char in enumerate(alphabet):
        cells = "".join('<td class="hot">1</td>' if row[j] else '<td class="cold">·</td>'
                        for row in result["one_hot"])
        rows.append(f"<tr><th>{_show_char(char)}</th>{cells}</tr>")
    steps_row = "".join(f"<th>{t + 1}</th>" for t in range(len(read)))
    grid = (f'<table class="grid"><tr><th class="hint">step</th>{steps_row}</tr>'
            f'<tr><th class="hint">reads</th>{head}</tr>{"".join(rows)}</table>')
    return (f'<div class="panel">{"".join(steps)}<div class="hint">One-hot input: one column per time '
            f"step, one row per character of the alphabet; the blue cell is the character read.</div>{grid}</div>")


def positions_html(result: dict) -> str:
    """Each answer position: the chosen character, its confidence and the top-3 candidates."""
    if result.get("error"):
        return '<div class="panel hint">No prediction: the question was not accepted.</div>'
    rows = []
    for pos in result["positions"]:
        low = pos["confidence"] < 0.9
        alts = "".join(f'<span class="alt"><b class="mono">{_show_char(a["char"])}</b> '
                       f'{_bar(a["probability"])}{100 * a["probability"]:.1f}%</span>' for a in pos["top"])
        mark = f'<span class="no">{WRONG} should be {_show_char(pos["true_char"])}</span>' if pos["wrong"] \
            else f'<span class="ok">{RIGHT}</span>'
        rows.append(f'<tr><td>{pos["index"] + 1}</td><td class="mono big">{_show_char(pos["char"])}</td>'
                    f'<td>{_bar(pos["confidence"], low)}<span class="{"warn" if low else ""}">'
                    f'{100 * pos["confidence"]:.1f}%</span></td><td>{alts}</td><td>{mark}</td></tr>')
    return ('<div class="panel"><table class="pos"><tr><th>Position</th><th>Chose</th><th>Confidence</th>'
            f'<th>Top 3 candidates</th><th></th></tr>{"".join(rows)}</table>'
            '<div class="hint">Amber: the model was less than 90% sure of that character.</div></div>')


def verdict_html(result: dict) -> str:
    """The answer, the true sum and right/wrong, with wrong characters marked."""
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
        text = f"wrong: the true sum is {result['true_answer']} (position(s) {places} differ)"
    return (f'<div class="panel" data-question="{esc(result["question"])}"><div class="big"><span class="mono">{esc(result["question"])} = </span>'
            f'<span class="mono" id="predicted-answer">{esc(answer)}</span> {mark}</div>'
            f'<div id="verdict-text">{esc(text)}. Predicted {chars_html(result["answer_text"], wrong)} '
            f'true {chars_html(result["true_text"])} <span class="hint">(␣ is padding)</span></div></div>')


def table_rows(result: dict) -> list[list]:
    """The batch/random result as rows for gr.Dataframe, like the keras.io training printout."""
    rows = []
    for i, row in enumerate(result.get("rows") or []):
        if row["error"]:
            rows.append([i + 1, shorten(row["question"]), "", "", "", f"{WARN} {row['error']}"])
        else:
            rows.append([i + 1, row["question"], str(row["true_answer"]), row["prediction"],
                         f"{100 * row['min_confidence']:.1f}%", f"{RIGHT} right" if row["correct"] else f"{WRONG} wrong"])
    return rows


def table_summary(result: dict) -> str:
    if result.get("error"):
        return f"{WARN} {result['error']}"
    text = f"**Exact-match accuracy: {100 * result['accuracy']:.1f}%** " if result["accuracy"] is not None \
        else "**No valid sums to score.** "
    text += f"({result['correct']} of {result['valid']} valid sums right"
    invalid = result["total"] - result["valid"]
    text += f"; {invalid} line(s) not accepted, see the Verdict column)" if invalid else ")"
    if result.get("seed") is not None:
        text += f" · seed {result['seed']}"
    return text


def model_markdown(info: dict) -> str:
    """The model panel: where the model came from, what it learned, how well it did."""
    where = "bundled with the app (offline)" if info["source"] == "bundled" else f"`{info['source']}`"
    if info.get("revision"):
        where += f" at commit `{info['revision']}`"
    if info.get("page_url"):
        where += f" ([model page]({info['page_url']}))"
    lines = [f"**Answering with:** {where}",
             f"**Task:** {info['terms']} numbers from {info['smallest']} to {info['largest']} "
             f"({info['digits']} digits); input {'reversed' if info['reverse'] else 'not reversed'}, "
             f"padded on the {info['padding']}, training sums drawn by `{info['sampling']}`"]
    if info.get("heldout_exact_match") is not None:
        lines.append(f"**Published held-out exact-match accuracy:** {100 * info['heldout_exact_match']:.2f}%")
    if info.get("exhaustive_total"):
        lines.append(f"**Exhaustive check:** {info['exhaustive_wrong']:,} wrong of {info['exhaustive_total']:,} "
                     "possible questions")
    if info["metrics"].get("note"):
        lines.append(f"**Note from the model folder:** {info['metrics']['note']}")
    if info.get("heldout_exact_match") is None and not info.get("exhaustive_total"):
        lines.append("**Published accuracy:** none recorded for this model")
    lines += [f"{WARN} **{note}**" for note in info["notes"]]
    return "  \n".join(lines)
