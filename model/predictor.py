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

from .codec import answer_value, encode_answers, encode_questions, tokens_to_text
from .config import TaskConfig
from .network import keras

CHUNK = 16384  # rows per compiled call: large enough to be efficient, small enough for memory


class Predictor:
    """Wraps a Keras model and its TaskConfig for batched, compiled inference."""

    def __init__(self, model: keras.Model, config: TaskConfig):
        self.model = model
        self.config = config
        # The graphs take alphabet indices and one-hot them inside, which moves
        # 12x less data than feeding one-hot arrays. One trace serves every batch
        # size, so no request ever waits for a retrace.
        spec = tf.TensorSpec([None, config.question_length], tf.int32)

        def probabilities(tokens):
            return model(tf.one_hot(tokens, config.num_chars), training=False)

        def argmax(tokens):
            return tf.argmax(probabilities(tokens), axis=-1, output_type=tf.int32)

        self._probabilities = tf.function(probabilities, input_signature=[spec], autograph=False)
        self._argmax = tf.function(argmax, input_signature=[spec], autograph=False)
        # XLA fuses the unrolled LSTM steps and is ~1.7x faster on big batches, but
        # compiles once per shape, so it only ever sees full CHUNK-sized batches.
        self._argmax_xla = tf.function(argmax, jit_compile=True, autograph=False)
        warm = tf.zeros([1, config.question_length], tf.int32)  # trace now, not on the first request
        self._probabilities(warm), self._argmax(warm)

    def _run(self, graph, terms: np.ndarray, bulk_graph=None) -> list[np.ndarray]:
        terms = np.asarray(terms, dtype=np.int64).reshape(-1, self.config.terms)
        out = []
        for i in range(0, len(terms), CHUNK):
            tokens = encode_questions(terms[i:i + CHUNK], self.config)
            use = bulk_graph if bulk_graph is not None and len(tokens) == CHUNK else graph
            out.append(use(tokens).numpy())
        return out

    def probabilities(self, terms: np.ndarray) -> np.ndarray:
        """(N, terms) ints -> (N, answer_length, num_chars) softmax probabilities."""
        out = self._run(self._probabilities, terms)
        return np.concatenate(out) if out else np.zeros((0, self.config.answer_length, self.config.num_chars), np.float32)

    def predict_tokens(self, terms: np.ndarray) -> np.ndarray:
        """(N, terms) ints -> (N, answer_length) predicted alphabet indices."""
        out = self._run(self._argmax, terms, bulk_graph=self._argmax_xla)
        return np.concatenate(out) if out else np.zeros((0, self.config.answer_length), np.int32)

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
        # Whole-batch numpy first; the per-question loop below only slices lists.
        predicted = probs.argmax(-1)
        true_tokens = encode_answers(terms.sum(1), self.config)
        top = np.argsort(-probs, axis=-1)[..., :top_k]
        top_probs = np.take_along_axis(probs, top, axis=-1).tolist()
        alphabet = np.array(list(self.config.alphabet))
        top_chars = alphabet[top].tolist()
        inputs = tokens_to_text(encode_questions(terms, self.config), self.config)
        answers = tokens_to_text(predicted, self.config)
        truths = tokens_to_text(true_tokens, self.config)
        wrong = (predicted != true_tokens).tolist()
        confidence = probs.max(-1).tolist()
        return [
            Explanation(terms=row, network_input=inputs[i], answer_text=answers[i], answer=answer_value(answers[i]),
                        true_answer=sum(row), true_text=truths[i], position_wrong=wrong[i],
                        confidence=confidence[i],
                        top=[list(zip(chars, ps)) for chars, ps in zip(top_chars[i], top_probs[i])])
            for i, row in enumerate(terms.tolist())
        ]


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
