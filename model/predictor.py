"""Fast answers from a loaded model: one compiled call for a whole batch.

`model.predict` costs tens of milliseconds per call in set-up alone; a
`tf.function` traced once for any batch size answers a single question in
about a millisecond and a million in seconds. Everything the app shows
(answers, confidences, runner-up characters) is derived from the probability
array returned here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from .codec import answer_value, encode_answers, encode_questions, one_hot, tokens_to_text
from .config import TaskConfig
from .network import keras

CHUNK = 8192  # rows per compiled call: large enough to be efficient, small enough for memory


class Predictor:
    """Wraps a Keras model and its TaskConfig for batched, compiled inference."""

    def __init__(self, model: keras.Model, config: TaskConfig):
        self.model = model
        self.config = config
        spec = tf.TensorSpec([None, config.question_length, config.num_chars], tf.float32)
        # One trace serves every batch size, so no request ever waits for a retrace.
        self._forward = tf.function(lambda x: model(x, training=False), input_signature=[spec])
        self._forward(tf.zeros([1, config.question_length, config.num_chars]))  # warm up now, not on the first request

    def probabilities(self, terms: np.ndarray) -> np.ndarray:
        """(N, terms) ints -> (N, answer_length, num_chars) softmax probabilities."""
        terms = np.asarray(terms, dtype=np.int64).reshape(-1, self.config.terms)
        out = [self._forward(one_hot(encode_questions(terms[i:i + CHUNK], self.config), self.config)).numpy()
               for i in range(0, len(terms), CHUNK)]
        return np.concatenate(out) if out else np.zeros((0, self.config.answer_length, self.config.num_chars), np.float32)

    def predict_tokens(self, terms: np.ndarray) -> np.ndarray:
        """(N, terms) ints -> (N, answer_length) predicted alphabet indices."""
        return self.probabilities(terms).argmax(-1)

    def count_wrong(self, terms: np.ndarray) -> tuple[int, np.ndarray]:
        """How many questions get a wrong answer, and a boolean mask of which."""
        terms = np.asarray(terms, dtype=np.int64)
        wrong = np.zeros(len(terms), dtype=bool)
        for i in range(0, len(terms), CHUNK):
            part = terms[i:i + CHUNK]
            predicted = self.predict_tokens(part)
            wrong[i:i + CHUNK] = (predicted != encode_answers(part.sum(1), self.config)).any(1)
        return int(wrong.sum()), wrong

    def explain(self, terms: np.ndarray, top_k: int = 3) -> list["Explanation"]:
        """Everything a person may want to see about each answer (see Explanation)."""
        terms = np.asarray(terms, dtype=np.int64).reshape(-1, self.config.terms)
        probs = self.probabilities(terms)
        question_tokens = encode_questions(terms, self.config)
        true_tokens = encode_answers(terms.sum(1), self.config)
        order = np.argsort(-probs, axis=-1)[..., :top_k]
        alphabet = np.array(list(self.config.alphabet))
        results = []
        for i, row in enumerate(terms):
            predicted = probs[i].argmax(-1)
            text = "".join(alphabet[predicted])
            results.append(Explanation(
                terms=[int(t) for t in row],
                network_input=tokens_to_text(question_tokens[i:i + 1], self.config)[0],
                answer_text=text,
                answer=answer_value(text),
                true_answer=int(row.sum()),
                true_text="".join(alphabet[true_tokens[i]]),
                position_wrong=[bool(p != t) for p, t in zip(predicted, true_tokens[i])],
                confidence=[float(probs[i, p, c]) for p, c in enumerate(predicted)],
                top=[[(str(alphabet[c]), float(probs[i, p, c])) for c in order[i, p]]
                     for p in range(self.config.answer_length)],
            ))
        return results


@dataclass
class Explanation:
    """One question's prediction, position by position."""

    terms: list[int]
    network_input: str          # the padded (and maybe reversed) string the network reads
    answer_text: str            # the predicted characters, padding included
    answer: int | None          # the predicted number, None if the characters are not a number
    true_answer: int
    true_text: str              # the correct characters, padded as the model was trained
    position_wrong: list[bool]  # per answer position: does the character differ from the truth?
    confidence: list[float]     # per answer position: probability of the chosen character
    top: list[list[tuple[str, float]]]  # per answer position: top-k (character, probability)

    @property
    def correct(self) -> bool:
        return not any(self.position_wrong)

    @property
    def min_confidence(self) -> float:
        return min(self.confidence)
