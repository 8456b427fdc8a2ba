"""Answers with everything a person may want to see: confidences, margins, runner-up characters.

`Predictor` wraps a checked model (task + numpy network): questions in, one
`Explanation` per question out. The margin of an answer position is the
probability of the right character minus that of the best wrong one; it is
negative exactly where the model is wrong, and a question's margin is its
weakest position's (the number the whole-space map colours by).

Per-position fields are in the order the network wrote the answer (`written`:
"msb" or "lsb"); `answer_as_read`, `true_as_read` and `answer` are the usual way
round (model.codec.reading_order).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .codec import answer_texts, answer_value, encode_answers, encode_questions, tokens_to_text
from .config import TaskConfig
from .forward import Network
from .questions import Questions, answers

CHUNK = 4096  # rows per forward pass: keeps the intermediate arrays to a few MB


def margins(probs: np.ndarray, true_tokens: np.ndarray) -> np.ndarray:
    """(N, A, V) probabilities, (N, A) right tokens -> (N, A) p(right) - max p(wrong)."""
    right = np.take_along_axis(probs, true_tokens[..., None], axis=-1)[..., 0]
    others = probs.copy()
    np.put_along_axis(others, true_tokens[..., None], -1.0, axis=-1)
    return right - others.max(axis=-1)


@dataclass
class Explanation:
    """One question's prediction, position by position."""

    question: str
    network_input: str  # the padded (and maybe reversed) string the network reads
    answer_text: str  # the predicted characters as written (padding included), position by position
    answer: int | None  # the predicted number, None if the characters are not a number
    true_answer: int
    true_text: str  # the correct characters as the model was trained to write them
    position_wrong: list[bool]  # per answer position: does the character differ from the truth?
    confidence: list[float]  # per answer position: probability of the chosen character
    margin: list[float]  # per answer position: p(right) - max p(wrong)
    top: list[list[tuple[str, float]]]  # per answer position: top-k (character, probability)
    written: str = "msb"  # the order the positions above are in: "msb" or "lsb" (lowest digit first)
    answer_as_read: str = ""  # answer_text the usual way round (most significant digit first)
    true_as_read: str = ""  # true_text the usual way round

    @property
    def correct(self) -> bool:
        return not any(self.position_wrong)

    @property
    def min_confidence(self) -> float:
        return min(self.confidence)

    @property
    def min_margin(self) -> float:
        return min(self.margin)


class Predictor:
    """Batched answers from a numpy network for one task."""

    def __init__(self, task: TaskConfig, network: Network):
        self.task, self.network = task, network

    def probabilities(self, q: Questions) -> np.ndarray:
        """Questions -> (N, answer_length, num_chars) softmax probabilities."""
        tokens = encode_questions(q, self.task)
        parts = [self.network.probabilities(tokens[i : i + CHUNK]) for i in range(0, len(tokens), CHUNK)]
        return (
            np.concatenate(parts) if parts else np.zeros((0, self.task.answer_length, self.task.num_chars), np.float32)
        )

    def explain(self, q: Questions, top_k: int = 3) -> list[Explanation]:
        """Everything the app shows about each answer (see Explanation)."""
        probs = self.probabilities(q)
        truth = answers(q)
        true_tokens = encode_answers(truth, self.task)
        predicted = probs.argmax(-1)
        # Whole-batch numpy first; the per-question loop below only slices lists.
        top = np.argsort(-probs, axis=-1, kind="stable")[..., :top_k]
        top_probs = np.take_along_axis(probs, top, axis=-1).tolist()
        alphabet = np.array(list(self.task.chars))
        top_chars = alphabet[top].tolist()
        inputs = tokens_to_text(encode_questions(q, self.task), self.task)
        texts = tokens_to_text(predicted, self.task)
        truths = tokens_to_text(true_tokens, self.task)
        read = answer_texts(predicted, self.task)
        true_read = answer_texts(true_tokens, self.task)
        wrong = (predicted != true_tokens).tolist()
        confidence = probs.max(-1).tolist()
        margin = margins(probs, true_tokens).tolist()
        return [
            Explanation(
                question=question,
                network_input=inputs[i],
                answer_text=texts[i],
                answer=answer_value(read[i]),
                true_answer=int(truth[i]),
                true_text=truths[i],
                position_wrong=wrong[i],
                confidence=confidence[i],
                margin=margin[i],
                top=[list(zip(chars, ps, strict=True)) for chars, ps in zip(top_chars[i], top_probs[i], strict=True)],
                written=self.task.answer_order,
                answer_as_read=read[i],
                true_as_read=true_read[i],
            )
            for i, question in enumerate(q.texts())
        ]
