"""The questions a run trains and checks on, as `Questions` arrays.

- The held-out set: drawn uniformly over the task and never trained on, when the
  task is large enough to spare it (at most a tenth of its distinct questions);
  otherwise it is drawn with repetition and marked as not held out.
- The space: every question when they can be listed (all 1,000,000 pairs of
  3-digit numbers), else a fixed random pool standing for them. Its margins,
  measured as training goes, are the stopping rule and the teacher: each epoch
  mixes fresh draws with the questions the model is least sure of.
- Unique training draws (keras.io's recipe: no question twice).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from model.config import TaskConfig, distinct_count, enumerable
from model.questions import Questions, all_questions, concat, question_keys, sample_questions

from .pattern_weights import weights_of
from .settings import exactly, heldout_disjoint


def uniform(task: TaskConfig) -> TaskConfig:
    return dataclasses.replace(task, sampling="uniform")


def heldout_set(task: TaskConfig, size: int, rng: np.random.Generator) -> tuple[Questions, bool]:
    """(questions, disjoint): uniform over the task; unique and kept out of training when the task allows.

    A range of term counts is held out count by count: questions draw their count uniformly, so the 2-term
    questions of a 2-4 term task are a third of every draw but a ten-thousandth of its distinct questions.
    Drawn as one set, 50,000 unique questions took nearly all of them, and training never saw them. Each
    count gives its share of the set from at most a tenth of its own questions (with repeats when that
    tenth is smaller than the share), so the set stays uniform over counts and training keeps the rest.
    """
    disjoint = heldout_disjoint(task, size)
    if not disjoint:
        return sample_questions(uniform(task), size, rng), False
    if task.fewest_terms == task.terms:
        return unique_questions(uniform(task), size, rng), True
    counts = list(range(task.fewest_terms, task.terms + 1))
    parts = []
    for i, k in enumerate(counts):
        share = size // len(counts) + (i < size % len(counts))
        one_count = uniform(exactly(task, k))
        tenth = unique_questions(one_count, min(share, distinct_count(one_count) // 10), rng)
        if len(tenth) < share:
            tenth = tenth[rng.integers(0, len(tenth), share)]
        parts.append(widen(tenth, task.terms))
    held = concat(parts)
    return held[rng.permutation(len(held))], True


def widen(q: Questions, terms: int) -> Questions:
    """Questions of fewer terms in the arrays of a task with more: absent terms 0, absent operators -1."""
    missing = terms - q.terms.shape[1]
    return Questions(
        np.pad(q.terms, ((0, 0), (0, missing))),
        np.pad(q.ops, ((0, 0), (0, missing)), constant_values=-1).astype(np.int8),
        q.groups,  # a bracket pattern is numbered among its own term count's patterns: it stays valid
    )


def unique_questions(
    task: TaskConfig, size: int, rng: np.random.Generator, exclude: np.ndarray | None = None
) -> Questions:
    """`size` different questions (for + alone or * alone, order does not make two questions different)."""
    seen = np.array([], dtype=np.int64) if exclude is None else np.unique(exclude)  # a held-out set may repeat
    available = distinct_count(task) - len(seen)
    if size > available:
        raise ValueError(f"asked for {size:,} distinct questions but the task has only {available:,} left")
    chosen: list[Questions] = []
    have = 0
    while have < size:
        batch = sample_questions(task, max(2 * (size - have), 1024), rng)
        if have > 0.9 * available and enumerable(task):  # nearly exhausted: draw from what is left
            every = all_questions(task)
            batch = every[rng.permutation(len(every))]
        keys = question_keys(batch, task)
        _, first = np.unique(keys, return_index=True)
        first.sort()  # keep the random draw order
        fresh = first[~np.isin(keys[first], seen)][: size - have]
        chosen.append(batch[fresh])
        seen = np.union1d(seen, keys[fresh])
        have += len(fresh)
    return concat(chosen)


def the_space(task: TaskConfig, pool_size: int, rng: np.random.Generator) -> tuple[Questions, bool]:
    """(questions, complete): every question of the task, or a fixed uniform pool when there are too many."""
    if enumerable(task):
        return all_questions(task), True
    return sample_questions(uniform(task), pool_size, rng), False


def epoch_questions(
    task: TaskConfig,
    count: int,
    hard: Questions,
    hard_share: float,
    rng: np.random.Generator,
    heldout_keys: np.ndarray | None,
    *,
    max_repeats: int | None = None,
    pattern_weights: dict[str, float] | None = None,
) -> Questions:
    """`count` training questions: fresh draws as the task samples them, plus a share of the hard ones,
    drawn with replacement (at most `max_repeats` draws per hard question on average, when given).
    `pattern_weights` ({"**": 8.0}) draws those operator patterns that many times as often as the others."""
    from_hard = round(count * hard_share) if len(hard) else 0
    if max_repeats is not None:
        from_hard = min(from_hard, max_repeats * len(hard))
    parts = [hard[rng.integers(0, len(hard), from_hard)]] if from_hard else []
    need = count - from_hard
    while need > 0:
        draws = sample_questions(task, need, rng)
        if pattern_weights:
            draws = draws[rng.random(len(draws)) < weights_of(draws, pattern_weights)]
        if heldout_keys is not None:  # the held-out questions are never trained on
            draws = draws[~np.isin(question_keys(draws, task), heldout_keys)]
        parts.append(draws)
        need -= len(draws)
    batch = concat(parts)
    return batch[rng.permutation(len(batch))]
