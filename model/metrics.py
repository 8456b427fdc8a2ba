"""The measurements stored with a model (`metrics.json`): their schema, and how to show them.

A metrics file may come from anyone's Hub repo, so it is read against a schema
(`Metrics`: strict pydantic types with bounds): each known field must have its
type and range, anything else is dropped with a note, and what is kept is
plain, finite, JSON-safe data, as it was written. `percent` is the one way
figures are shown, and it never rounds 99.998% up to "100%".
"""

from __future__ import annotations

import functools
import math
from typing import Annotated, Any

from annotated_types import Ge, Gt, Le, Lt, MaxLen
from typing_extensions import TypedDict  # pydantic reads typing.TypedDict only from Python 3.12

MAX_TEXT = 300
MAX_LIST = 64

# The schema is declared with annotated_types bounds, which pydantic reads; pydantic itself loads on first use.
# Strict (a bool is no number, "0.5" is no fraction), finite floats, no unknown field.
RULES = {"strict": True, "allow_inf_nan": False, "extra": "forbid"}  # a pydantic ConfigDict

Fraction = Annotated[float, Ge(0), Le(1)]
Count = Annotated[int, Ge(0), Lt(10**18)]
Seconds = Annotated[float, Ge(0)]
Text = Annotated[str, MaxLen(MAX_TEXT)]
Plain = bool | Annotated[int, Gt(-(10**18)), Lt(10**18)] | float | Text | None  # one training setting


class TermCount(TypedDict):
    exact_match: Fraction
    size: Count


class Metrics(TypedDict, total=False):
    """Every field metrics.json may hold; any of them may be missing."""

    heldout_exact_match: Fraction
    heldout_char_accuracy: Fraction
    exact_match: Fraction
    # Written steps (steps "rewrite"): held-out questions with every step and the answer right, and the
    # questions of the space (every one, or the pool) with some step wrong.
    heldout_steps_exact_match: Fraction
    steps_wrong: Count
    min_margin: Annotated[float, Ge(-1), Le(1)]
    heldout_size: Count
    exhaustive_wrong: Count
    exhaustive_total: Count
    samples_seen: Count
    epochs: Count
    polish_rounds: Count
    served_epoch: Count  # the epoch whose weights the folder holds (the best one, not always the last)
    sample_size: Count
    sample_wrong: Count
    train_seconds: Seconds
    exhaustive_seconds: Seconds
    seconds_to_99: Seconds
    keras_version: Text
    tensorflow_version: Text
    note: Text
    headline: Text
    heldout_disjoint: bool
    heldout_per_position_accuracy: Annotated[list[Fraction], MaxLen(MAX_LIST)]
    training: Annotated[dict[Annotated[str, MaxLen(60)], Plain], MaxLen(MAX_LIST)]
    per_term_count: Annotated[dict[str, TermCount], MaxLen(MAX_LIST)]  # {"2": {...}, "3": {...}}


TermCount.__pydantic_config__ = Metrics.__pydantic_config__ = RULES  # type: ignore[attr-defined]


@functools.cache
def schema() -> Any:
    """The pydantic validator of Metrics, built on first use: the command line never waits for pydantic."""
    from pydantic import TypeAdapter

    return TypeAdapter(Metrics)


def invalid_fields(data: dict) -> set:
    """The keys of `data` that are unknown or whose values the schema refuses."""
    from pydantic import ValidationError

    try:
        schema().validate_python(data)
    except ValidationError as err:
        return {error["loc"][0] for error in err.errors() if error["loc"]}
    return set()


def valid(name: str, value: Any) -> bool:
    """Whether `value` is what the schema allows for the field `name`."""
    return not invalid_fields({name: value})


def clean_metrics(data: Any) -> tuple[dict[str, Any], list[str]]:
    """(valid fields, notes about what was dropped) from a parsed metrics.json; valid values are kept as they are."""
    if not isinstance(data, dict):
        return {}, [f"metrics.json is not a JSON object ({type(data).__name__}); it was ignored"]
    refused = invalid_fields(data)
    out = {key: value for key, value in data.items() if key not in refused}
    dropped = [str(key)[:40] for key in data if key in refused]
    if out.get("exhaustive_wrong", 0) > out.get("exhaustive_total", math.inf):
        out.pop("exhaustive_wrong"), out.pop("exhaustive_total")
        dropped.append("exhaustive_wrong/exhaustive_total")
    fields = "an invalid field" if len(dropped) == 1 else "invalid fields"
    notes = [f"metrics.json: ignored {fields} {', '.join(dropped[:8])}"] if dropped else []
    return out, notes


def not_held_out(polish_rounds: Any) -> str:
    """Why a run's check set is not held out, in words."""
    if isinstance(polish_rounds, int) and polish_rounds > 0:
        return "not held out: its polishing rounds taught every question, these among them"
    return "not held out: the task is too small to spare them"


def percent(value: float, decimals: int = 2) -> str:
    """99.998% -> "99.998%", never "100.00%": add decimals (up to 6) until a figure below 1 reads below 100%."""
    if value >= 1:
        return f"{100:.{decimals}f}%"
    for places in range(decimals, 7):
        text = f"{100 * value:.{places}f}"
        if float(text) < 100:
            return text + "%"
    return f"{math.floor(100 * value * 1e6) / 1e6:.6f}%"


def headline(metrics: dict[str, Any], short: bool = False) -> tuple[float | None, str]:
    """The accuracy to lead with, and what it is: every question when they were all asked, else held-out.

    `short` names the basis in a few words for a list of models ("of all 1,000,000", "of 50,000 held-out");
    the figure is the same either way."""
    wrong, total = metrics.get("exhaustive_wrong"), metrics.get("exhaustive_total")
    if valid("exhaustive_total", total) and valid("exhaustive_wrong", wrong) and total:
        return 1 - wrong / total, f"of all {total:,}" if short else f"{wrong:,} wrong of all {total:,} questions"
    if valid("heldout_exact_match", metrics.get("heldout_exact_match")):
        size = metrics.get("heldout_size")
        known = valid("heldout_size", size)
        held_out = metrics.get("heldout_disjoint", True)
        if short:
            kind = "held-out" if held_out else "random"
            return metrics["heldout_exact_match"], f"of {size:,} {kind}" if known else kind
        of = f" of {size:,}" if known else ""
        where = "held-out" if held_out else "random (not held out)"
        return metrics["heldout_exact_match"], f"exact match on {where} questions{of}"
    return None, "no accuracy recorded"
