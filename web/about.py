"""The model line under the title and "The model" tab: where a model came from, what it does, how well.

Everything a model folder or repo says (notes, versions, names) is a value in a
template that escapes it (web/templates.py), so a repo cannot put markup, links
or remote images on the page.
"""

from __future__ import annotations

from markupsafe import Markup

from model.cells import CELLS
from model.metrics import percent

from .html import WARN, message, plural
from .templates import template

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


_MODEL_LINE = template(
    '<div class="panel" id="model-line">Answering with <b>{{ description }}</b>: {{ summary }}, '
    "{{ cell }} {{ encoder_units }}/{{ decoder_units }}, {{ design }}"
    "{% if accuracy is not none %} · {{ accuracy }} right ({{ measured_on }}){% endif %}"
    '{% for note in notes %}<div class="warn" role="alert">{{ warn }} {{ note }}</div>{% endfor %}</div>'
)


def model_line(info: dict, summary: str) -> Markup:
    """One line: which model answers, its task, and its headline accuracy."""
    if info.get("error"):
        return message(info["error"], "warn")
    network = info["network"]
    return _MODEL_LINE(
        description=info["description"],
        summary=summary,
        cell=cell_name(network["cell"]),
        encoder_units=network["encoder_units"],
        decoder_units=network["decoder_units"],
        design=design_text(info["design"]),
        accuracy=None if info.get("accuracy") is None else percent(info["accuracy"]),
        measured_on=info.get("accuracy_measured_on"),
        notes=info["notes"],
        warn=WARN,
    )


_WHERE = template(
    "{% if bundled %}bundled with the app (offline){% else %}<code>{{ source }}</code>{% endif %}"
    "{% if revision %} at commit <code>{{ revision }}</code>{% endif %}"
    '{% if page_url %} (<a href="{{ page_url }}" target="_blank" rel="noopener noreferrer">model page</a>){% endif %}'
)
_TASK = template(
    "{{ terms }} numbers from {{ smallest }} to {{ max_term }} joined by {{ operators }}; input {{ reversed }}, "
    "padded on the {{ padding }}; alphabet <code>{{ alphabet }}</code>"
)
_MODEL_PANEL = template(
    '<div class="panel" id="model-panel"><table class="pos">'
    "{% for name, value in rows %}<tr><th>{{ name }}</th><td>{{ value }}</td></tr>{% endfor %}</table>"
    '{% for note in notes %}<div class="warn">{{ warn }} {{ note }}</div>{% endfor %}</div>'
)


def model_html(info: dict) -> Markup:
    """The model panel."""
    if info.get("error"):
        return message(info["error"], "warn")
    t, n = info["task"], info["network"]
    where = _WHERE(
        bundled=info["source"] == "bundled",
        source=info["source"],
        revision=info.get("revision"),
        page_url=info.get("page_url"),
    )
    decoders = f"{plural(n['decoder_layers'], 'decoder layer')} of {n['decoder_units']} units"
    if info["design"]["decoder"] == "attention":
        kind = ATTENTION_NAMES.get(info["design"]["attention"], "")
        decoders += f" fed the character it wrote last, reading every encoder state through {kind} attention"
    else:
        decoders = f"RepeatVector({t['answer_length']}), {decoders}"
    terms = f"{t['terms']}" if t["fewest_terms"] == t["terms"] else f"{t['fewest_terms']} to {t['terms']}"
    task = _TASK(
        terms=terms,
        smallest=t["smallest"],
        max_term=t["max_term"],
        operators=" ".join(t["operators"]),
        reversed="reversed" if t["reverse"] else "not reversed",
        padding=t["padding"],
        alphabet=repr(t["alphabet"]),
    )
    rows: list[tuple[str, object]] = [
        ("Answering with", where),
        ("Task", task),
        (
            "Network",
            f"{cell_name(n['cell'])}: {plural(n['encoder_layers'], 'encoder layer')} of "
            f"{n['encoder_units']} units, {decoders}, softmax over {len(t['alphabet'])} characters",
        ),
        ("Design", design_text(info["design"])),
    ]
    metrics = info["metrics"]
    if info.get("accuracy") is not None:
        rows.append(("Accuracy", f"{percent(info['accuracy'])}: {info['accuracy_measured_on']}"))
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
        rows.append(("Note from the model folder", metrics["note"]))
    if info.get("accuracy") is None:
        rows.append(("Accuracy", "none recorded for this model"))
    return _MODEL_PANEL(rows=rows, notes=info["notes"], warn=WARN)
