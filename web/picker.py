"""The model picker's choices: each model by name, with a one-line description and its headline accuracy.

A choice is (label, value): the label reads e.g. "add3 — 3-digit addition, LSTM · 100.00% of all 1,000,000",
the value stays the model's name, so what the page sends (and the API's `model`, and ?model= links) is the
name alone. The accuracy is model.metrics.headline's, written by `percent`: the same figure the model line
under the title shows, with its basis in a few words.
"""

from __future__ import annotations

from collections.abc import Iterable

from model.config import TaskConfig
from model.metrics import headline, percent
from model.serving import ServedModel

from .about import cell_name
from .service import Service

SEPARATOR = " — "  # between the name and its description: a label starts with the name and this
OPERATION = {"+": "addition", "-": "subtraction", "*": "multiplication"}


def task_words(task: TaskConfig) -> str:
    """The task in a few words: "3-digit addition", "2-digit addition, 2-4 numbers", "2-digit + - *, 3 numbers"."""
    what = OPERATION[task.operators] if len(task.operators) == 1 else " ".join(task.operators)
    parts = [f"{task.digits}-digit {what}"]
    if task.terms > 2:
        fewest = "" if task.fewest_terms == task.terms else f"{task.fewest_terms}-"
        parts.append(f"{fewest}{task.terms} numbers")
    if task.brackets:
        parts.append("brackets")
    return ", ".join(parts)


def model_label(served: ServedModel) -> str:
    """The picker's line for one model: name, task, cell (and attention), and its headline accuracy."""
    net = served.stored.net
    network = cell_name(net.cell) + (" + attention" if net.decoder == "attention" else "")
    accuracy, basis = headline(served.stored.metrics, short=True)
    figure = f"{percent(accuracy)} {basis}" if accuracy is not None else "no accuracy recorded"
    return f"{served.name}{SEPARATOR}{task_words(served.task)}, {network} · {figure}"


def name_of(label: str) -> str:
    """The model name a picker label starts with (a bare name is its own)."""
    return label.split(SEPARATOR, 1)[0]


def picker_choices(service: Service, extra: Iterable[str] = ()) -> list[tuple[str, str]]:
    """(label, name) for every served model, then for each of `extra` (a visitor's own models' names)."""
    return [(model_label(service.resolve(name)), name) for name in [*service.names(), *extra]]
