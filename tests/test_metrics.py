"""metrics.json is read against a strict schema (model/metrics.py): every zoo file passes unchanged, hostile
fields are dropped one by one with a note, and the rest is kept as it was written."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from model.metrics import clean_metrics, headline
from model.storage import ZOO_DIR

ZOO_METRICS = sorted(ZOO_DIR.glob("*/metrics.json"))


def test_the_zoo_has_metrics_files():
    assert len(ZOO_METRICS) >= 8


@pytest.mark.parametrize("path", ZOO_METRICS, ids=lambda p: p.parent.name)
def test_every_zoo_metrics_file_is_kept_whole_and_unchanged(path):
    data = json.loads(path.read_text())
    cleaned, notes = clean_metrics(data)
    assert notes == [] and cleaned == data
    assert all(type(cleaned[k]) is type(data[k]) for k in data)  # an int stays an int (no 1 -> 1.0)


def a_note_naming(notes: list[str], fields: str) -> bool:
    """One note that says which fields were ignored (its wording may say "field(s)" or "an invalid field")."""
    return len(notes) == 1 and notes[0].startswith("metrics.json: ignored ") and notes[0].endswith(" " + fields)


GOOD = {
    "heldout_exact_match": 0.99,
    "exhaustive_wrong": 3,
    "exhaustive_total": 1_000_000,
    "min_margin": -0.25,
    "train_seconds": 12,
    "note": "hello",
    "heldout_disjoint": True,
    "heldout_per_position_accuracy": [1, 0.5],
    "training": {"seed": 7, "learning_rate": 0.01, "schedule": "cosine", "polish_samples": None, "unique": False},
    "per_term_count": {"2": {"exact_match": 1.0, "size": 10}},
}

HOSTILE = [
    ("heldout_exact_match", True),  # a bool is not a number
    ("heldout_exact_match", "0.5"),
    ("heldout_exact_match", 1.5),
    ("heldout_exact_match", float("nan")),
    ("min_margin", -2.0),
    ("exhaustive_total", 10**18),
    ("exhaustive_total", 1.0),  # a count is a whole number
    ("epochs", -1),
    ("train_seconds", float("inf")),
    ("train_seconds", -1),
    ("note", "x" * 301),
    ("note", 5),
    ("heldout_disjoint", 1),
    ("heldout_per_position_accuracy", [0.5] * 65),
    ("heldout_per_position_accuracy", [0.5, 2]),
    ("training", {"k" * 61: 1}),
    ("training", {"nested": {"a": 1}}),
    ("training", {"big": 10**400}),  # more than a float holds
    ("training", {f"k{i}": 1 for i in range(65)}),
    ("per_term_count", {"2": {"exact_match": 1.0}}),
    ("per_term_count", {"2": {"exact_match": 1.0, "size": 10, "junk": [1] * 1000}}),
    ("per_term_count", [1, 2]),
]


def test_good_fields_are_kept_as_written():
    cleaned, notes = clean_metrics(GOOD)
    assert cleaned == GOOD and notes == []
    assert headline(cleaned) == (1 - 3 / 1_000_000, "3 wrong of all 1,000,000 questions")


@pytest.mark.parametrize(("field", "value"), HOSTILE, ids=lambda v: str(v)[:30])
def test_a_hostile_field_is_dropped_alone_with_a_note(field, value):
    cleaned, notes = clean_metrics({**GOOD, field: value})
    assert cleaned == {k: v for k, v in GOOD.items() if k != field}
    assert a_note_naming(notes, field), notes


def test_unknown_fields_more_wrong_than_asked_and_non_objects():
    cleaned, notes = clean_metrics({"colour": "red", "exhaustive_wrong": 5, "exhaustive_total": 4, "epochs": 2})
    assert cleaned == {"epochs": 2}
    assert a_note_naming(notes, "colour, exhaustive_wrong/exhaustive_total"), notes
    assert clean_metrics([1]) == ({}, ["metrics.json is not a JSON object (list); it was ignored"])
    assert headline({}) == (None, "no accuracy recorded")
    held_out = {"heldout_exact_match": 0.5, "heldout_size": 10}
    assert headline(held_out) == (0.5, "exact match on held-out questions of 10")


def test_pydantic_loads_only_when_a_metrics_file_is_read():
    """The trainer's command line imports model.storage; it should not wait ~0.1 s for pydantic to check a flag."""
    code = (
        "import sys, model.storage; before = 'pydantic' in sys.modules; from model.metrics import clean_metrics; "
        "clean_metrics({'epochs': 1}); print(before, 'pydantic' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "True"]
