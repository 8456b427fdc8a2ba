"""How a model learned, epoch by epoch: the record the trainer writes as learning.npz and the app reads.

Each epoch keeps the samples seen, time, loss, held-out accuracy (whole answers and per
position), wrong answers over the whole space where measured, and the margins of a fixed
probe (a coarse map of at most 100 x 100 questions). `load_learning` checks every array
against the task before the app uses it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .config import TaskConfig
from .question_map import map_axes, map_questions
from .questions import Questions
from .storage import load_npz

PROBE_SIDE = 100  # the probe is a coarse map: at most 100 x 100 evenly spaced questions
MAX_EPOCHS_KEPT = 500


@dataclass
class LearningRecord:
    """How a model learned, one entry per epoch (written by the trainer as learning.npz)."""

    samples_seen: np.ndarray  # (E,) int64
    seconds: np.ndarray  # (E,) float32 training time so far
    loss: np.ndarray  # (E,) float32
    exact_match: np.ndarray  # (E,) float32 held-out exact match
    per_position: np.ndarray  # (E, answer_length) float32 held-out accuracy of each answer position
    space_wrong: np.ndarray  # (E,) int64 wrong answers over the whole space (-1 where not measured)
    probe_margin: np.ndarray  # (E, side, side) uint8 margins of the probe questions, as in QuestionMap.margin
    probe_a: np.ndarray  # (side,) first numbers of the probe columns
    probe_b: np.ndarray  # (side,) second numbers of the probe rows

    @property
    def epochs(self) -> int:
        return len(self.loss)


def probe_questions(task: TaskConfig) -> tuple[Questions, np.ndarray]:
    """The fixed questions whose answers are recorded after every epoch (a coarse map)."""
    q, axis, _ = map_questions(task, seed=1, most=PROBE_SIDE)
    return q, axis


def save_learning(record: LearningRecord, path: Path) -> None:
    np.savez_compressed(path, **{name: getattr(record, name) for name in LearningRecord.__dataclass_fields__})


def load_learning(path: Path, task: TaskConfig) -> LearningRecord:
    """Read learning.npz, checking each array's shape and type against the task before reading it."""
    side = len(map_axes(task, PROBE_SIDE)[0])
    epochs = None
    spec = {
        "samples_seen": ((epochs,), "int64"),
        "seconds": ((epochs,), "float32"),
        "loss": ((epochs,), "float32"),
        "exact_match": ((epochs,), "float32"),
        "per_position": ((epochs, task.answer_length), "float32"),
        "space_wrong": ((epochs,), "int64"),
        "probe_margin": ((epochs, side, side), "uint8"),
        "probe_a": ((side,), "int64"),
        "probe_b": ((side,), "int64"),
    }
    arrays = load_npz(path, spec)
    counts = {
        len(arrays[k])
        for k in ("samples_seen", "seconds", "loss", "exact_match", "per_position", "space_wrong", "probe_margin")
    }
    if len(counts) != 1 or counts.pop() > MAX_EPOCHS_KEPT:
        raise ValueError(f"{path.name} has arrays of different lengths or too many epochs")
    record = LearningRecord(**arrays)
    problem = learning_problem(record, task)
    if problem:
        raise ValueError(f"{path.name} {problem}")
    return record


def learning_problem(record: LearningRecord, task: TaskConfig) -> str | None:
    """What in a read learning record could not come from the trainer for this task, as a clause; None."""
    axis = map_axes(task, PROBE_SIDE)[0]
    if not (np.array_equal(record.probe_a, axis) and np.array_equal(record.probe_b, axis)):
        return "has probe axes that are not this task's"
    if not all(np.isfinite(a).all() for a in (record.seconds, record.loss, record.exact_match, record.per_position)):
        return "holds infinite or missing (NaN) figures"
    if (record.seconds < 0).any() or (record.exact_match < 0).any() or (record.per_position < 0).any():
        return "holds negative times or accuracies"
    if (record.exact_match > 1).any() or (record.per_position > 1).any():
        return "holds accuracies above 100%"
    if (record.samples_seen < 0).any() or (record.space_wrong < -1).any():
        return "holds negative counts"
    return None


def served_epoch(record: LearningRecord, metrics: Mapping[str, Any]) -> int | None:
    """The epoch whose weights the model folder holds (the trainer keeps the best epoch, not always the last).

    The trainer records it (metrics' served_epoch). A folder from before that is read by its figures: the
    final check measures the kept weights on the same held-out questions as each epoch did, so the served
    epoch is the last whose held-out exact match is the final one (and, where every question was counted,
    whose wrong count is the final one). None when neither says.
    """
    recorded = metrics.get("served_epoch")
    if isinstance(recorded, int) and 1 <= recorded <= record.epochs:
        return recorded
    final = metrics.get("heldout_exact_match")
    if not isinstance(final, float) or metrics.get("epochs") != record.epochs:
        return None
    same = np.abs(record.exact_match.astype(np.float64) - final) < 1e-6
    wrong = metrics.get("exhaustive_wrong")
    if isinstance(wrong, int) and (same & (record.space_wrong == wrong)).any():
        same &= record.space_wrong == wrong  # the trainer ranks epochs by that count first, where it is known
    found = np.flatnonzero(same)
    return int(found[-1]) + 1 if len(found) else None
