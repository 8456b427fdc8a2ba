"""`--pattern-weights '**=8'`: some operator patterns drawn more often in training (a*b*c eight times as
often as each other pattern), as the experiment behind the written steps did for the one hard step left.
The text names patterns by their operators in order; each question is kept with its pattern's weight over
the largest, so the others keep their proportions."""

from __future__ import annotations

import numpy as np

from model.config import OPERATORS, TaskConfig
from model.questions import Questions


def parse_pattern_weights(text: object, task: TaskConfig) -> dict[str, float]:
    """'**=8,+*=2' -> {'**': 8.0, '+*': 2.0}, or ValueError with one sentence (unnamed patterns weigh 1)."""
    example = "--pattern-weights '**=8' (a*b*c drawn eight times as often as each other pattern)"
    if not isinstance(text, str) or len(text) > 200:
        raise ValueError(f"--pattern-weights must be short text such as {example}")
    weights: dict[str, float] = {}
    low, high = task.fewest_terms - 1, task.terms - 1
    count = f"{high}" if low == high else f"{low} to {high}"
    for part in text.split(","):
        key, _, number = part.strip().partition("=")
        gaps = range(task.fewest_terms - 1, task.terms)
        if not (key and set(key) <= set(task.operators) and len(key) in gaps):
            raise ValueError(
                f"--pattern-weights: {key[:20]!r} is not an operator pattern of this task: write the operators "
                f"of a question in order, {count} of {task.operators!r}, "
                f"such as {example}"
            )
        try:
            weight = float(number)
        except ValueError:
            weight = -1.0
        if not 0.01 <= weight <= 100:
            raise ValueError(f"--pattern-weights: the weight of {key} must be a number from 0.01 to 100")
        weights[key] = weight
    return weights


def weights_of(q: Questions, pattern_weights: dict[str, float]) -> np.ndarray:
    """Each question's chance of being kept: its operator pattern's weight over the largest (others weigh 1)."""
    top = max(1.0, *pattern_weights.values())
    patterns = ["".join(OPERATORS[op] for op in ops if op >= 0) for ops in q.ops.tolist()]
    return np.array([pattern_weights.get(p, 1.0) / top for p in patterns])
