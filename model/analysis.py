"""What the app computes about one question or a sample on request, as plain functions returning arrays.

- `attribution`: which input characters each answer character depends on, by
  occlusion: replace one input digit at a time by every other digit that keeps
  the question valid, and measure how far the probability of the character the
  model chose moves. The carry shows: in 199+1 the hundreds digit of 200
  depends on the units digits.
- `unit_order`: an order of a layer's units that makes structure visible in a
  heatmap (by the step where each unit is most active, then by its sign).
- `pattern_scores`: for a bracket task, the share right for every bracket pattern.

The whole question space as a picture is model/question_map.py; how a model learned,
epoch by epoch, is model/learning_record.py.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .codec import encode_questions
from .config import DIGITS, OPERATORS, PAD, TaskConfig
from .forward import Network
from .questions import Questions, sample_questions


# Attribution ------------------------------------------------------------------------------------
def attribution(network: Network, task: TaskConfig, q: Questions) -> tuple[np.ndarray, str, str]:
    """(grid, what the network reads, what it answers): the grid is (answer_length, question_length), the
    mean |change| of p(chosen character) when one input character varies. The answer and the grid's rows
    are in the order the network writes (task.answer_order; model.codec.answer_texts reads it back).

    Digits vary over the other digits (1-9 for a leading digit, so every variant
    is a question the model was trained on); operators vary over the task's other
    operators; padding never varies, so its columns are 0.
    """
    text = "".join(task.chars[t] for t in encode_questions(q[:1], task)[0])
    base = network.probabilities(encode_questions(q[:1], task))[0]
    chosen = base.argmax(-1)
    reading = text[::-1] if task.reverse else text  # the question as written, left to right
    variants, owners = [], []
    for position, _char in enumerate(text):
        written = len(text) - 1 - position if task.reverse else position
        for alt in _alternatives(reading, written, task):
            variant = list(text)
            variant[position] = alt
            variants.append([task.chars.index(c) for c in variant])
            owners.append(position)
    grid = np.zeros((task.answer_length, task.question_length), dtype=np.float32)
    answer = "".join(task.chars[t] for t in chosen)
    if not variants:
        return grid, text, answer
    probs = network.probabilities(np.array(variants, dtype=np.int32))
    rows = np.arange(task.answer_length)
    moved = np.abs(probs[:, rows, chosen] - base[rows, chosen])  # (variants, answer positions)
    owners_arr = np.array(owners)
    for position in np.unique(owners_arr):
        grid[:, position] = moved[owners_arr == position].mean(axis=0)
    return grid, text, answer


def _alternatives(reading: str, i: int, task: TaskConfig) -> list[str]:
    char = reading[i]
    if char in DIGITS:
        leading = (i == 0 or reading[i - 1] not in DIGITS) and i + 1 < len(reading) and reading[i + 1] in DIGITS
        return [d for d in (DIGITS[1:] if leading else DIGITS) if d != char]
    if char in OPERATORS and char != PAD:
        return [op for op in task.operators if op != char]
    return []


# Unit order for state heatmaps ------------------------------------------------------------------
def unit_order(states: np.ndarray) -> np.ndarray:
    """(N, steps, units) activations -> an order of the units: by the step of largest mean |value|, then sign."""
    magnitude = np.abs(states).mean(axis=0)  # (steps, units)
    peak_step = magnitude.argmax(axis=0)
    sign = np.sign(states.mean(axis=(0, 1)))
    strength = magnitude.max(axis=0)
    return np.lexsort((-strength, -sign, peak_step))


# A bracket task, pattern by pattern ---------------------------------------------------------------
@dataclass
class PatternScore:
    """How often a model is right on questions of one bracket pattern (the same numbers for every pattern)."""

    label: str  # e.g. "(a·b)·c" (model.brackets.pattern_labels)
    right: int
    asked: int


def pattern_scores(network: Network, task: TaskConfig, per_pattern: int = 200, seed: int = 0) -> list[PatternScore]:
    """For a bracket task, the share right for every bracket pattern of every term count: per term count,
    one draw of `per_pattern` questions asked with each pattern in turn (so only the brackets differ)."""
    from .brackets import pattern_labels
    from .codec import encode_answers
    from .questions import answers

    drawn = sample_questions(task, 3 * per_pattern * (task.terms - task.fewest_terms + 1), np.random.default_rng(seed))
    scores = []
    for k in range(task.fewest_terms, task.terms + 1):
        rows = np.flatnonzero(drawn.counts == k)[:per_pattern]
        for pattern, label in enumerate(pattern_labels(k)):
            q = Questions(drawn.terms[rows], drawn.ops[rows], np.full(len(rows), pattern, np.int16))
            predicted = network.probabilities(encode_questions(q, task)).argmax(-1)
            right = int((predicted == encode_answers(answers(q), task)).all(axis=1).sum())
            scores.append(PatternScore(label, right, len(rows)))
    return scores
