"""Each setting declared once: its type, bounds, default and one line of help.

A config class declares a field as `declared(default, Bound(...))`. From that one
declaration come the check (`problem`, one sentence naming the field), the
trainer's flag and its `--help` text (`trainer/flags.py`), the limits of the app's
Train-your-own controls (`Bound.narrowed`: the same field, tighter bounds) and the
limits table in docs/limits-and-security.md (`trainer/flags.py limits_table`).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Literal

Kind = Literal["whole", "number", "choice", "switch", "text"]


@dataclass(frozen=True)
class Bound:
    """What values a setting takes, and how to say so in one sentence.

    kind:     "whole" (an int, never a bool), "number" (an int or float, finite), "choice" (one of
              `choices`), "switch" (True or False) or "text" (any string; its own checks say more).
    low/high: inclusive bounds; `above` makes the low bound strict ("above 0").
    off:      the flag value that switches the setting off (stored as None), and `off_means` says what
              that does: "0 = no limit".
    noun/unit/high_text: the words of the sentence ("a whole number", "seconds", "7 days").
    lenient:  accept a float that is a whole number (sliders and JSON numbers send 3.0).
    """

    help: str
    kind: Kind = "whole"
    low: float | None = None
    high: float | None = None
    above: bool = False
    choices: tuple[str, ...] = ()
    off: float | None = None
    off_means: str = ""
    noun: str | None = None
    unit: str = ""
    high_text: str = ""
    label: str = ""
    lenient: bool = False

    def narrowed(self, *, low: float, high: float, label: str, **words: Any) -> Bound:
        """The same setting with tighter bounds and a label a visitor reads (Train your own)."""
        return dataclasses.replace(self, **{"lenient": True, **words, "low": low, "high": high, "label": label})

    # Words ------------------------------------------------------------------------------
    def range_text(self) -> str:
        """'a whole number from 1 to 65,536 (0 = no limit)': the bounds as a sentence's ending."""
        if self.kind == "choice":
            return "one of " + ", ".join(self.choices)
        if self.kind == "switch":
            return "true or false"
        noun = self.noun if self.noun is not None else {"whole": "a whole number", "number": ""}.get(self.kind, "")
        high = self.high_text or _number(self.high)
        if self.above:
            text = f"above {_number(self.low)} and at most {high}"
        else:
            text = f"from {_number(self.low)} to {high}" + (f" {self.unit}" if self.unit else "")
        off = f" ({_number(self.off)} = {self.off_means})" if self.off_means else ""
        return (f"{noun} " if noun else "") + text + off

    def flag_help(self) -> str:
        """The help line of this setting's flag: what it does, then its bounds."""
        if self.kind in ("choice", "switch", "text"):
            return self.help
        words = self.range_text()
        for noun in ("a whole number ", "a number of seconds ", "a number ", "from "):
            words = words.removeprefix(noun)
        return f"{self.help}: {words}"


def _number(value: float | None) -> str:
    if value is None:
        return "?"
    if isinstance(value, int) or (float(value).is_integer() and abs(value) < 1e15):
        return f"{int(value):,}"
    return f"{value:g}"


def whole_number(value: object, *, lenient: bool = False) -> int | None:
    """The int a value stands for, or None: never a bool; with `lenient`, a float such as 3.0 too."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if lenient and isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    return None


def fits(value: object, bound: Bound) -> bool:
    """Whether the value is one this setting takes."""
    if bound.kind == "choice":
        return isinstance(value, str) and value in bound.choices
    if bound.kind == "switch":
        return isinstance(value, bool)
    if bound.kind == "text":
        return isinstance(value, str)
    if bound.kind == "whole":
        number: float | None = whole_number(value, lenient=bound.lenient)
    else:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        number = float(value) if ok else None  # type: ignore[arg-type]
    if number is None:
        return False
    low_ok = bound.low is None or (number > bound.low if bound.above else number >= bound.low)
    return low_ok and (bound.high is None or number <= bound.high)


def problem(name: str, value: object, bound: Bound) -> str | None:
    """None if the value fits, else one sentence: 'batch_size must be a whole number from 1 to 65,536, got 0'.

    With a label (Train your own), the sentence is the visitor's: 'Units must be … 256.' without the value.
    """
    if fits(value, bound):
        return None
    if bound.label and bound.kind == "choice":
        return f"{bound.label} must be {', '.join(bound.choices[:-1])} or {bound.choices[-1]}."
    if bound.label:
        return f"{bound.label} must be {bound.range_text()}."
    shown = repr(value)[:40] if bound.kind in ("choice", "text") else repr(value)
    return f"{name} must be {bound.range_text()}, got {shown}"


def declared(default: Any, bound: Bound) -> Any:
    """A dataclass field with its default and its bound (read back with `bound_of`)."""
    return dataclasses.field(default=default, metadata={"bound": bound})


def bound_of(cls: type, name: str) -> Bound:
    """The declared bound of one field of a config class."""
    for field in dataclasses.fields(cls):
        if field.name == name:
            return field.metadata["bound"]
    raise KeyError(name)


def bounds(cls: type) -> dict[str, Bound]:
    """Every declared field of a config class and its bound, in declaration order."""
    return {f.name: f.metadata["bound"] for f in dataclasses.fields(cls) if "bound" in f.metadata}


def first_problem(values: object, cls: type, names: tuple[str, ...] | None = None) -> tuple[str, str] | None:
    """(field, sentence) for the first declared field of `values` that does not fit, or None.

    None passes for a field whose declared type allows it ("int | None")."""
    for field in dataclasses.fields(cls):
        bound = field.metadata.get("bound")
        if bound is None or (names is not None and field.name not in names):
            continue
        name, value = field.name, getattr(values, field.name)
        if value is None and "None" in str(field.type):
            continue
        sentence = problem(name, value, bound)
        if sentence is not None:
            return name, sentence
    return None
