"""Measure a Keras model on questions: exact match, per-position accuracy, margins, keras.io-style samples.

Everything goes through `MARGINS` (trainer/fast_verify.py's `fast_margins`),
which gives each question's predicted characters and margin; exact match is
"every character right", the number that matters for arithmetic. Each call
compiles the model's current weights once (a few seconds), so the checks after
an epoch go through one call together (`run_together`). A task with written steps (steps "rewrite") is
measured by feeding the network's own output back (trainer/verify_steps.py): `predicted` is then its final
answer and a margin above 0 means every step right.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from model.codec import answer_texts, encode_answers, encode_questions
from model.config import TaskConfig
from model.questions import Questions, answers

from .fast_verify import fast_margins
from .verify_steps import chain_tokens, feed_back_margins

# (keras model, question tokens, true answer tokens) -> (predicted tokens, margins): the one function that
# measures; any function with this signature (e.g. one calling the Keras model in chunks) can replace it.
MARGINS = fast_margins


class Checker:
    """A fixed set of questions, encoded once, that a model is measured on again and again."""

    def __init__(self, task: TaskConfig, questions: Questions):
        self.task, self.questions = task, questions
        self.tokens = encode_questions(questions, task)
        self.truth = encode_answers(answers(questions), task)  # the final answer, for written steps too
        self.chains = chain_tokens(questions, task) if task.rewrites else None

    def __len__(self) -> int:
        return len(self.questions)

    def run(self, model: Any, rows: slice | np.ndarray = slice(None)) -> tuple[np.ndarray, np.ndarray]:
        """(predicted tokens, margins) for the chosen rows."""
        return measure(self.task, model, self.tokens[rows], self.truth[rows], self.chains, rows)

    def metrics(self, model: Any) -> dict:
        return self.summary(*self.run(model))

    def summary(self, predicted: np.ndarray, margins: np.ndarray) -> dict:
        """Exact match, character and per-position accuracy of this set's (predicted, margins)."""
        right = predicted == self.truth
        steps = {"steps_exact_match": float((margins > 0).mean())} if self.task.rewrites else {}
        return {
            **steps,
            "exact_match": float(right.all(1).mean()),
            "char_accuracy": float(right.mean()),
            "per_position_accuracy": [float(v) for v in right.mean(0)],
            "size": len(self),
            "min_margin": float(margins.min()),
            "margins": margins,
            "predicted": predicted,
        }


def run_together(model: Any, parts: list[tuple[Checker, slice | np.ndarray]]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Checker.run for several (checker, rows) in one call: one compilation of the weights instead of several."""
    tokens = [checker.tokens[rows] for checker, rows in parts]
    truth = [checker.truth[rows] for checker, rows in parts]
    task = parts[0][0].task
    chains = np.concatenate([checker.chains[rows] for checker, rows in parts]) if task.rewrites else None  # type: ignore[index]
    predicted, margins = measure(task, model, np.concatenate(tokens), np.concatenate(truth), chains)
    ends = np.cumsum([len(t) for t in tokens])[:-1]
    return list(zip(np.split(predicted, ends), np.split(margins, ends), strict=True))


def measure(
    task: TaskConfig,
    model: Any,
    tokens: np.ndarray,
    truth: np.ndarray,
    chains: np.ndarray | None,
    rows: slice | np.ndarray = slice(None),
) -> tuple[np.ndarray, np.ndarray]:
    """MARGINS for one pass, or fed back pass by pass for written steps (`chains`: the true steps, whose
    `rows` are the ones measured)."""
    if chains is None:
        return MARGINS(model, tokens, truth)
    return feed_back_margins(MARGINS, model, tokens, chains[rows], task)


def keras_model(stored: Any) -> Any:
    """A Keras model with a checked model folder's weights (model.storage.StoredModel), for MARGINS.

    Built by our own builder from network.json, never from the folder's Keras config.
    """
    from model.network import build_model, weight_layout

    model = build_model(stored.task, stored.net)
    # weight_layout lists the arrays in the order Keras' get_weights() returns them.
    model.set_weights([stored.weights[path] for path in weight_layout(stored.task, stored.net)])
    return model


def margins_function(model: Any, task: TaskConfig):
    """A MarginFn for model/question_map.py (the map): questions -> margins."""

    def margins_of(q: Questions) -> np.ndarray:
        return Checker(task, q).run(model)[1]

    return margins_of


def sample_lines(task: TaskConfig, questions: Questions, predicted: np.ndarray) -> list[str]:
    """keras.io-style lines: `Q 535+61  T 596  ☑ 596`."""
    guesses = answer_texts(predicted, task)  # the usual way round, whatever order the network writes
    truths = answers(questions)
    width = task.question_length
    lines = []
    for text, truth, guess in zip(questions.texts(), truths.tolist(), guesses, strict=True):
        mark = "☑" if guess.strip() == str(truth) else "☒"
        lines.append(f"Q {text:<{width}} T {truth!s:<{task.answer_length}} {mark} {guess.strip()}")
    return lines
