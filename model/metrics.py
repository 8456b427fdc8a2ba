"""The measurements stored with a model (`metrics.json`): their schema, and how to show them.

A metrics file may come from anyone's Hub repo, so it is read against a schema:
each known field must have its type and range, anything else is dropped with a
note, and the result is always plain, finite, JSON-safe data. `percent` is the
one way figures are shown, and it never rounds 99.998% up to "100%".
"""

from __future__ import annotations

import math
from typing import Any

FRACTIONS = ("heldout_exact_match", "heldout_char_accuracy", "exact_match", "min_margin")
COUNTS = (
    "heldout_size",
    "exhaustive_wrong",
    "exhaustive_total",
    "samples_seen",
    "epochs",
    "polish_rounds",
    "sample_size",
    "sample_wrong",
)
SECONDS = ("train_seconds", "exhaustive_seconds", "seconds_to_99")
TEXTS = ("keras_version", "tensorflow_version", "note", "headline")
FLAGS = ("heldout_disjoint",)
MAX_TEXT = 300
MAX_LIST = 64


def _fraction(value: Any, low: float = 0.0) -> bool:
    return (
        isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and low <= value <= 1
    )


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**18


def _plain(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    return value is None or (isinstance(value, (bool, int, str)) and len(str(value)) <= MAX_TEXT)


def clean_metrics(data: Any) -> tuple[dict[str, Any], list[str]]:
    """(valid fields, notes about what was dropped) from a parsed metrics.json."""
    if not isinstance(data, dict):
        return {}, [f"metrics.json is not a JSON object ({type(data).__name__}); it was ignored"]
    out: dict[str, Any] = {}
    dropped: list[str] = []
    for key, value in data.items():
        ok = (
            (key in FRACTIONS and _fraction(value, -1.0 if key == "min_margin" else 0.0))
            or (key in COUNTS and _count(value))
            or (
                key in SECONDS
                and isinstance(value, (int, float))
                and not isinstance(value, bool)
                and math.isfinite(value)
                and value >= 0
            )
            or (key in TEXTS and isinstance(value, str) and len(value) <= MAX_TEXT)
            or (key in FLAGS and isinstance(value, bool))
        )
        if key == "heldout_per_position_accuracy":
            ok = isinstance(value, list) and len(value) <= MAX_LIST and all(_fraction(v) for v in value)
        if key == "training":
            ok = (
                isinstance(value, dict)
                and len(value) <= MAX_LIST
                and all(isinstance(k, str) and len(k) <= 60 and _plain(v) for k, v in value.items())
            )
        if key == "per_term_count":  # {"2": {"exact_match": ..., "size": ...}, ...}
            ok = (
                isinstance(value, dict)
                and len(value) <= MAX_LIST
                and all(
                    isinstance(v, dict) and _fraction(v.get("exact_match")) and _count(v.get("size"))
                    for v in value.values()
                )
            )
        if ok:
            out[key] = value
        else:
            dropped.append(str(key)[:40])
    if (
        _count(out.get("exhaustive_wrong"))
        and _count(out.get("exhaustive_total"))
        and out["exhaustive_wrong"] > out["exhaustive_total"]
    ):
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


def headline(metrics: dict[str, Any]) -> tuple[float | None, str]:
    """The accuracy to lead with, and what it is: every question when they were all asked, else held-out."""
    wrong, total = metrics.get("exhaustive_wrong"), metrics.get("exhaustive_total")
    if _count(wrong) and _count(total) and total:
        return 1 - wrong / total, f"{wrong:,} wrong of all {total:,} questions"
    if _fraction(metrics.get("heldout_exact_match")):
        size = metrics.get("heldout_size")
        of = f" of {size:,}" if _count(size) else ""
        where = "held-out" if metrics.get("heldout_disjoint", True) else "random (not held out)"
        return metrics["heldout_exact_match"], f"exact match on {where} questions{of}"
    return None, "no accuracy recorded"
