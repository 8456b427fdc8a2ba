"""Answers of the rewrite design, step by step: the network's own output fed back until it writes a number.

For a task with steps "rewrite" (model/steps.py) one pass of the network maps an expression to the
expression after one operation. `feed_back` encodes the question, runs a pass, takes each position's
most likely character (greedy, as the network was trained to write), and feeds what was written back as
the next question, until it is a plain number or `max_passes` passes are done. It does no arithmetic:
every character of every step and of the answer is the network's, and the code only encodes, feeds back
and decodes. It takes any function from tokens to probabilities, so the numpy network (model/forward.py)
and Keras (tests) answer through the same loop.

`StepPredictor.work` gives each question's `Worked`: the steps as written with each character's
confidence, the final answer, and each step judged against the true chain (model.steps.mark_steps).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from . import steps as stepping
from .codec import encode_questions
from .config import TaskConfig
from .forward import Network
from .questions import Questions

CHUNK = 4096  # rows per forward pass, as model/predictor.py

Probabilities = Callable[[np.ndarray], np.ndarray]  # (N, question_length) tokens -> (N, answer_length, V)


@dataclass
class Pass:
    """One pass over the rows still working: which rows, their probabilities and what each wrote."""

    rows: np.ndarray  # indices of the questions this pass answered
    probabilities: np.ndarray  # (len(rows), answer_length, num_chars)
    written: np.ndarray  # (len(rows), answer_length) the chosen characters' tokens


def max_passes(task: TaskConfig) -> int:
    """The most passes a question needs: each operation once, each product once more as partial products."""
    return 2 * (task.terms - 1)


def feed_back(probabilities: Probabilities, tokens: np.ndarray, task: TaskConfig) -> list[Pass]:
    """Run the network on `tokens`, then on what it wrote, until every row wrote a plain number, wrote
    something longer than a question may be, or `max_passes` passes are done."""
    passes: list[Pass] = []
    rows = np.arange(len(tokens))
    current = np.asarray(tokens)
    for _ in range(max_passes(task)):
        if not len(rows):
            break
        probs = probabilities(current)
        written = probs.argmax(-1).astype(np.int32)
        passes.append(Pass(rows, probs, written))
        texts = stepping.decode_tokens(written)
        fits = (written[:, task.question_length :] == 0).all(1)  # anything past the question's length is pads
        going = np.array([fit and not stepping.is_number(t) for t, fit in zip(texts, fits, strict=True)], bool)
        rows, current = rows[going], as_question(written[going], task.question_length)
    return passes


def as_question(written: np.ndarray, length: int) -> np.ndarray:
    """What the network wrote, cut or padded (pad is token 0 in the design's alphabet) to a question's length."""
    out = np.zeros((len(written), length), np.int32)
    width = min(length, written.shape[1])
    out[:, :width] = written[:, :width]
    return out


@dataclass
class Step:
    """One step as the network wrote it."""

    written: str  # the characters as written, numbers units first, trailing pads dropped
    text: str  # the same the usual way round (numbers most significant digit first)
    confidence: list[float]  # probability of each written character, pads up to the end included
    right: bool  # whether it is the true chain's step at this place


@dataclass
class Worked:
    """One question worked by the network: its steps, the final answer and the verdicts."""

    question: str
    steps: list[Step]
    answer: int | None  # the last step's value when it is a plain number, else None
    true_steps: list[str]  # the true chain after the question, the usual way round, the answer last
    true_answer: int

    @property
    def correct(self) -> bool:
        """The final answer is right (judged on the number, whatever the steps were)."""
        return self.answer == self.true_answer

    @property
    def steps_right(self) -> bool:
        """Every step is right and none is missing or extra."""
        return len(self.steps) == len(self.true_steps) and all(step.right for step in self.steps)


class StepPredictor:
    """Worked answers from a numpy network for a task with written steps."""

    def __init__(self, task: TaskConfig, network: Network):
        if not task.rewrites:
            raise ValueError("StepPredictor is for tasks with steps 'rewrite'; use model.predictor.Predictor")
        self.task, self.network = task, network

    def probabilities(self, tokens: np.ndarray) -> np.ndarray:
        parts = [self.network.probabilities(tokens[i : i + CHUNK]) for i in range(0, len(tokens), CHUNK)]
        return np.concatenate(parts)

    def work(self, q: Questions) -> list[Worked]:
        """Each question's steps as the network writes them, judged against the true chain."""
        passes = feed_back(self.probabilities, encode_questions(q, self.task), self.task)
        written: list[list[tuple[str, list[float]]]] = [[] for _ in range(len(q))]
        for p in passes:
            confidence = p.probabilities.max(-1).tolist()
            for row, text, conf in zip(p.rows.tolist(), stepping.decode_tokens(p.written), confidence, strict=True):
                written[row].append((text, conf))
        out = []
        for question, steps, chain in zip(q.texts(), written, stepping.question_chains(q), strict=True):
            marks = stepping.mark_steps([text for text, _ in steps], chain)
            out.append(
                Worked(
                    question=question,
                    steps=[
                        Step(text, stepping.readable(text), conf, right)
                        for (text, conf), right in zip(steps, marks, strict=True)
                    ],
                    answer=stepping.written_value(steps[-1][0]) if steps else None,
                    true_steps=[stepping.readable(t) for t in chain[1:]],
                    true_answer=int(stepping.readable(chain[-1])),
                )
            )
        return out
