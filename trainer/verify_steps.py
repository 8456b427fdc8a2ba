"""Measure a rewrite-design model (steps "rewrite") the way it answers: its own output fed back, pass by pass.

Each pass goes through the same measuring function as a one-pass model (trainer/verify.py's MARGINS, the
fast verifier): the questions first, then what the network wrote, for the rows that did not yet write a
plain number, up to model.step_predictor.max_passes. Each pass is compared with the true chain's step at
that place, so a question's margin is its weakest character over every pass: above 0 exactly when every
step and the answer are right. What it returns has the shape a one-pass model's check has:

- predicted: the last thing each question's network wrote (its final answer, as the design writes it),
  so "exact match" is the final answer reached by feeding back;
- margins: the weakest margin over every pass, so "margin > 0" is "every written step right".

The fast verifier needs nothing of its own for the design: the feed-back is this loop around it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from model import steps as stepping
from model.config import TaskConfig
from model.questions import Questions
from model.step_predictor import as_question, max_passes

Margins = Callable[[Any, np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def chain_tokens(questions: Questions, task: TaskConfig) -> np.ndarray:
    """(N, max_passes, answer_length) int8: each question's true steps, the answer last and repeated after it
    (a pass past the chain's end should have stopped: the answer there makes its margin negative)."""
    passes = max_passes(task)
    rows = []
    for chain in stepping.question_chains(questions):
        written = chain[1:] + [chain[-1]] * (passes - len(chain) + 1)
        rows.append(stepping.encode_texts(written, task.answer_length))
    return np.stack(rows).astype(np.int8) if rows else np.zeros((0, passes, task.answer_length), np.int8)


def feed_back_margins(
    margins_of: Margins, model: Any, tokens: np.ndarray, chains: np.ndarray, task: TaskConfig
) -> tuple[np.ndarray, np.ndarray]:
    """(final written tokens (N, answer_length), weakest margin over every pass (N,)) for question tokens."""
    n = len(tokens)
    final = np.zeros((n, task.answer_length), np.int32)
    margin = np.full(n, np.inf, np.float32)
    rows, current = np.arange(n), np.asarray(tokens)
    for p in range(max_passes(task)):
        if not len(rows):
            break
        predicted, margins = margins_of(model, current, chains[rows, p].astype(np.int32))
        margin[rows] = np.minimum(margin[rows], margins)
        final[rows] = predicted
        fits = (predicted[:, task.question_length :] == 0).all(1)
        going = fits & ~np.array([stepping.is_number(t) for t in stepping.decode_tokens(predicted)], bool)
        rows, current = rows[going], as_question(predicted[going], task.question_length)
    return final, margin
