"""Turn sums into the arrays the network reads and back, for many at once.

The network reads a question such as "535+61" as a fixed-length row of
characters (padded, maybe reversed) and one-hot encodes each character; it
writes the answer the same way. Everything here works on whole numpy arrays
of terms, so encoding all 1,000,000 three-digit pairs takes well under a
second; `parse_question` is the one place that reads a person's text.
"""

from __future__ import annotations

import re

import numpy as np

from .config import PAD, PLUS, TaskConfig


class InputError(ValueError):
    """A question the loaded model cannot answer, explained in one sentence."""


def char_indices(config: TaskConfig, chars: str) -> np.ndarray:
    lookup = {c: i for i, c in enumerate(config.alphabet)}
    return np.array([lookup[c] for c in chars], dtype=np.int32)


def _number_tokens(values: np.ndarray, width: int, config: TaskConfig) -> np.ndarray:
    """(N,) ints -> (N, width) alphabet indices, right-aligned, blanks as PAD."""
    digit_ids = char_indices(config, "0123456789")
    pad_id = config.alphabet.index(PAD)
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    digits = (values[:, None] // powers) % 10
    # A leading position is blank when the number is shorter than the width;
    # the last position always shows a digit so that 0 reads "0".
    is_blank = values[:, None] < powers
    is_blank[:, -1] = False
    return np.where(is_blank, pad_id, digit_ids[digits]).astype(np.int32)


def _squeeze_pads(tokens: np.ndarray, config: TaskConfig) -> np.ndarray:
    """Move every PAD to one end of each row, keeping the text in order."""
    is_pad = tokens == config.alphabet.index(PAD)
    key = ~is_pad if config.padding == "left" else is_pad
    order = np.argsort(key, axis=1, kind="stable")
    return np.take_along_axis(tokens, order, axis=1)


def encode_questions(terms: np.ndarray, config: TaskConfig) -> np.ndarray:
    """(N, terms) ints -> (N, question_length) alphabet indices, as the net reads them."""
    terms = np.asarray(terms, dtype=np.int64)
    n = terms.shape[0]
    plus = np.full((n, 1), config.alphabet.index(PLUS), dtype=np.int32)
    pieces = []
    for t in range(config.terms):
        if t:
            pieces.append(plus)
        pieces.append(_number_tokens(terms[:, t], config.term_width, config))
    tokens = _squeeze_pads(np.concatenate(pieces, axis=1), config)
    return tokens[:, ::-1].copy() if config.reverse else tokens


def encode_answers(sums: np.ndarray, config: TaskConfig) -> np.ndarray:
    """(N,) ints -> (N, answer_length) alphabet indices."""
    tokens = _number_tokens(np.asarray(sums, dtype=np.int64), config.answer_length, config)
    return _squeeze_pads(tokens, config)


def one_hot(tokens: np.ndarray, config: TaskConfig) -> np.ndarray:
    """Alphabet indices -> float32 one-hot vectors (the network's input format)."""
    return np.eye(config.num_chars, dtype=np.float32)[tokens]


def tokens_to_text(tokens: np.ndarray, config: TaskConfig) -> list[str]:
    """(N, L) alphabet indices -> N strings (padding kept)."""
    table = np.array(list(config.alphabet))
    return ["".join(row) for row in table[np.asarray(tokens)]]


def question_text(terms: np.ndarray | list[int]) -> str:
    """The human form of one question, e.g. [535, 61] -> "535+61"."""
    return PLUS.join(str(int(t)) for t in terms)


def answer_value(text: str) -> int | None:
    """Read a decoded answer ("596 " or " 596") as a number; None if it is not one."""
    stripped = text.strip(PAD)
    return int(stripped) if stripped.isdigit() else None


_QUESTION = re.compile(r"[0-9]+(\+[0-9]+)*")  # ASCII digits only: "٣" is not a digit the model knows
MAX_QUESTION_CHARS = 200


def parse_question(text: object, config: TaskConfig) -> list[int]:
    """Read a person's question ("535 + 61") into its terms, or raise InputError.

    Spaces are forgiven; everything the loaded model was not trained on is
    refused with a sentence that says what would work instead.
    """
    if not isinstance(text, str):
        raise InputError(f"Expected text such as '535+61', got {type(text).__name__}.")
    if len(text) > MAX_QUESTION_CHARS:
        raise InputError(f"That is {len(text):,} characters; a question has at most {MAX_QUESTION_CHARS}.")
    compact = "".join(text.split())
    example = PLUS.join(["12"] * config.terms)
    if not compact:
        raise InputError(f"Type a sum such as {example}.")
    if "-" in compact and re.fullmatch(r"[-0-9+]+", compact):
        raise InputError("Negative numbers are not part of this task: use whole numbers from "
                         f"{config.smallest} to {config.max_term}.")
    if not _QUESTION.fullmatch(compact):
        bad = sorted({c for c in compact if c not in "0123456789+"})
        what = f"the character(s) {' '.join(repr(c) for c in bad[:5])}" if bad else "a misplaced '+'"
        raise InputError(f"The question has {what}; write digits joined by '+', such as {example}.")
    parts = compact.split(PLUS)
    if len(parts) != config.terms:
        raise InputError(f"This model adds exactly {config.terms} numbers, but the question has "
                         f"{len(parts)}; try {example}.")
    terms = [int(p) for p in parts]
    for part, value in zip(parts, terms):
        if not config.smallest <= value <= config.max_term:
            raise InputError(f"{part} is outside what this model learned: each number must be from "
                             f"{config.smallest} to {config.max_term} ({config.digits} digit(s) at most).")
    return terms
