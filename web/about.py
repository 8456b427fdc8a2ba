"""The model line under the title and "The model" tab: where a model came from, what it does, how well.

Everything a model folder or repo says (notes, versions, names) is shown as
escaped text, so a repo cannot put markup, links or remote images on the page.
"""

from __future__ import annotations

from model.cells import CELLS
from model.metrics import percent

from .html import WARN, esc, plural

ATTENTION_NAMES = {"dot": "dot-product (Luong)", "additive": "additive (Bahdanau)"}


def cell_name(cell: str) -> str:
    """A cell as Keras spells its layer (LSTM, GRU, SimpleRNN), the one spelling every view uses."""
    known = CELLS.get(cell)
    return known.keras_class if known is not None else cell


def design_text(design: dict) -> str:
    """The design in words: "RepeatVector decoder, answer written lowest digit first, brackets"."""
    if design["decoder"] == "attention":
        parts = [f"attention decoder, {ATTENTION_NAMES.get(design['attention'], str(design['attention']))}"]
    else:
        parts = ["RepeatVector decoder (keras.io)"]
    lowest = design["answer_order"] == "lsb"
    parts.append(f"answer written {'lowest' if lowest else 'highest'} digit first")
    if design["brackets"]:
        parts.append("questions with brackets")
    return ", ".join(parts)


def model_line(info: dict, summary: str) -> str:
    """One line: which model answers, its task, and its headline accuracy."""
    if info.get("error"):
        return f'<div class="panel warn">{esc(info["error"])}</div>'
    accuracy = (
        f" · {percent(info['accuracy'])} right ({esc(info['accuracy_measured_on'])})"
        if info.get("accuracy") is not None
        else ""
    )
    notes = "".join(f'<div class="warn" role="alert">{WARN} {esc(n)}</div>' for n in info["notes"])
    return (
        f'<div class="panel" id="model-line">Answering with <b>{esc(info["description"])}</b>: {esc(summary)}, '
        f"{esc(cell_name(info['network']['cell']))} {info['network']['encoder_units']}/"
        f"{info['network']['decoder_units']}, {esc(design_text(info['design']))}{accuracy}{notes}</div>"
    )


def model_html(info: dict) -> str:
    """The model panel."""
    if info.get("error"):
        return f'<div class="panel warn">{esc(info["error"])}</div>'
    t, n = info["task"], info["network"]
    where = "bundled with the app (offline)" if info["source"] == "bundled" else f"<code>{esc(info['source'])}</code>"
    if info.get("revision"):
        where += f" at commit <code>{esc(info['revision'])}</code>"
    if info.get("page_url"):
        where += f' (<a href="{esc(info["page_url"])}" target="_blank" rel="noopener noreferrer">model page</a>)'
    decoders = f"{plural(n['decoder_layers'], 'decoder layer')} of {n['decoder_units']} units"
    if info["design"]["decoder"] == "attention":
        kind = ATTENTION_NAMES.get(info["design"]["attention"], "")
        decoders += f" fed the character it wrote last, reading every encoder state through {esc(kind)} attention"
    else:
        decoders = f"RepeatVector({t['answer_length']}), {decoders}"
    terms = f"{t['terms']}" if t["fewest_terms"] == t["terms"] else f"{t['fewest_terms']} to {t['terms']}"
    rows = [
        ("Answering with", where),
        (
            "Task",
            f"{terms} numbers from {t['smallest']} to {t['max_term']} joined by "
            f"{esc(' '.join(t['operators']))}; input {'reversed' if t['reverse'] else 'not reversed'}, "
            f"padded on the {esc(t['padding'])}; alphabet <code>{esc(repr(t['alphabet']))}</code>",
        ),
        (
            "Network",
            f"{esc(cell_name(n['cell']))}: {plural(n['encoder_layers'], 'encoder layer')} of "
            f"{n['encoder_units']} units, {decoders}, softmax over {len(t['alphabet'])} characters",
        ),
        ("Design", esc(design_text(info["design"]))),
    ]
    metrics = info["metrics"]
    if info.get("accuracy") is not None:
        rows.append(("Accuracy", f"{percent(info['accuracy'])}: {esc(info['accuracy_measured_on'])}"))
    if metrics.get("heldout_exact_match") is not None and metrics.get("exhaustive_total"):
        rows.append(("Held-out exact match", percent(metrics["heldout_exact_match"])))
    if metrics.get("min_margin") is not None:
        rows.append(
            (
                "Smallest margin",
                f"{metrics['min_margin']:.3f} (p(right) − p(best wrong) at the weakest "
                "position of the hardest question)",
            )
        )
    if metrics.get("train_seconds") is not None:
        rows.append(("Training", f"{metrics['train_seconds']:,.0f} s, {metrics.get('samples_seen', 0):,} samples"))
    if metrics.get("note"):
        rows.append(("Note from the model folder", esc(metrics["note"])))
    if info.get("accuracy") is None:
        rows.append(("Accuracy", "none recorded for this model"))
    table = "".join(f"<tr><th>{esc(k)}</th><td>{v}</td></tr>" for k, v in rows)
    notes = "".join(f'<div class="warn">{WARN} {esc(note)}</div>' for note in info["notes"])
    return f'<div class="panel" id="model-panel"><table class="pos">{table}</table>{notes}</div>'
