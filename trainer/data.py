"""Random addition questions for training and evaluation, as numpy arrays.

Terms are drawn as the TaskConfig says ("digits" like keras.io, "uniform", or
"mixed"), and a set of questions can be made unique (no two with the same
unordered terms, like keras.io's `seen` set) and disjoint from another set,
which is how the held-out set stays unseen by training.
"""

from __future__ import annotations

import math

import numpy as np

from model.config import TaskConfig, sample_terms  # noqa: F401  (sample_terms is re-exported)


def unordered_keys(terms: np.ndarray, config: TaskConfig) -> np.ndarray:
    """One integer per question that is equal for 535+61 and 61+535."""
    base = config.max_term + 1
    key = np.zeros(len(terms), dtype=np.int64)
    for column in np.sort(terms, axis=1).T:
        key = key * base + column
    return key


def count_distinct_questions(config: TaskConfig) -> int:
    """How many different unordered questions the task has (multisets of terms)."""
    values = config.max_term - config.smallest + 1
    return math.comb(values + config.terms - 1, config.terms)


def make_questions(
    config: TaskConfig,
    size: int,
    rng: np.random.Generator,
    exclude: np.ndarray | None = None,
    unique: bool = True,
) -> np.ndarray:
    """`size` random questions (n, terms), unique by unordered key and none in `exclude` keys."""
    if not unique:
        return sample_terms(config, size, rng)
    available = count_distinct_questions(config) - (0 if exclude is None else len(exclude))
    if size > available:
        raise ValueError(f"asked for {size:,} distinct questions but the task has only {available:,} left")
    chosen: list[np.ndarray] = []
    seen = np.array([], dtype=np.int64) if exclude is None else np.unique(exclude)
    have = 0
    while have < size:
        batch = sample_terms(config, max(2 * (size - have), 1024), rng)
        if have > 0.9 * available:  # nearly exhausted: draw from what is left directly
            batch = _remaining(config, seen, rng)
        keys = unordered_keys(batch, config)
        _, first = np.unique(keys, return_index=True)
        first.sort()  # keep the random draw order
        batch, keys = batch[first], keys[first]
        fresh = ~np.isin(keys, seen)
        batch, keys = batch[fresh][: size - have], keys[fresh][: size - have]
        chosen.append(batch)
        seen = np.union1d(seen, keys)
        have += len(batch)
    return np.concatenate(chosen)


def _remaining(config: TaskConfig, seen: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Every unordered question not in `seen`, shuffled (used only for near-exhaustive sets)."""
    every = all_questions(config)
    every = every[np.all(np.diff(every, axis=1) >= 0, axis=1)]  # one order of each question
    every = every[~np.isin(unordered_keys(every, config), seen)]
    return rng.permutation(every)


def all_questions(config: TaskConfig) -> np.ndarray:
    """Every ordered question (e.g. all 1,000,000 pairs of 0..999), for exhaustive checks."""
    values = np.arange(config.smallest, config.max_term + 1)
    grids = np.meshgrid(*[values] * config.terms, indexing="ij")
    return np.stack([g.ravel() for g in grids], axis=1)
