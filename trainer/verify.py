"""Measure a trained model: held-out exact-match, per-position accuracy, exhaustive check.

Exact-match (every answer character right) is the number that matters for
addition; per-character accuracy flatters a model that is often one digit off.
The exhaustive check asks every ordered question of the task when there are
few enough (all 1,000,000 pairs of 3-digit numbers take seconds).
"""

from __future__ import annotations

import numpy as np

from model.codec import encode_answers, question_text, tokens_to_text
from model.config import TaskConfig
from model.predictor import Predictor

from .data import all_questions

EXHAUSTIVE_LIMIT = 2_000_000  # ordered questions; beyond this only random checks run


def heldout_metrics(predictor: Predictor, terms: np.ndarray) -> dict:
    """Exact-match and character accuracies of `predictor` on `terms`."""
    predicted = predictor.predict_tokens(terms)
    truth = encode_answers(terms.sum(1), predictor.config)
    right = predicted == truth
    return {
        "exact_match": float(right.all(1).mean()),
        "char_accuracy": float(right.mean()),
        "per_position_accuracy": [float(v) for v in right.mean(0)],
        "size": int(len(terms)),
    }


def exhaustive_feasible(config: TaskConfig) -> bool:
    return (config.max_term - config.smallest + 1) ** config.terms <= EXHAUSTIVE_LIMIT


def exhaustive_check(predictor: Predictor, show: int = 10) -> dict:
    """Ask every ordered question; return the error count and a few failures."""
    terms = all_questions(predictor.config)
    wrong_count, wrong = predictor.count_wrong(terms)
    failures = []
    if wrong_count:
        sample = terms[wrong][:show]
        guesses = tokens_to_text(predictor.predict_tokens(sample), predictor.config)
        failures = [f"{question_text(t)} = {int(t.sum())}, model says {g.strip()!r}" for t, g in zip(sample, guesses)]
    return {"wrong": wrong_count, "total": int(len(terms)), "failures": failures}


def sample_lines(predictor: Predictor, terms: np.ndarray) -> list[str]:
    """keras.io-style lines: `Q 535+61  T 596  ☑ 596`."""
    config = predictor.config
    guesses = tokens_to_text(predictor.predict_tokens(terms), config)
    width = config.question_length
    lines = []
    for row, guess in zip(terms, guesses):
        truth = str(int(row.sum()))
        mark = "☑" if guess.strip() == truth else "☒"
        lines.append(f"Q {question_text(row):<{width}} T {truth:<{config.answer_length}} {mark} {guess.strip()}")
    return lines
