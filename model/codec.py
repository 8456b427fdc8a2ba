"""Turn questions into the token rows the network reads, and answers into the rows it writes.

The network reads "535+61" as a fixed-length row of characters (padded, maybe
reversed) and one-hot encodes each character; it writes the answer the same
way, with a leading "-" for a negative answer, most significant digit first or,
for `answer_order="lsb"`, lowest digit first ("596" written "695", "-42" written
"24-", pads after). `reading_order` turns what a network wrote back into the
usual order: everything that reads a model's answer goes through it. A task with written steps
(steps "rewrite") reads and writes expressions in its own form, numbers units first (model/steps.py):
the same functions encode its questions and answers that way. Everything works on whole numpy
arrays, so encoding all 1,000,000 three-digit pairs takes well under a second.
"""

from __future__ import annotations

import numpy as np

from . import steps as stepping
from .brackets import bracket_patterns, max_pairs, opens_and_closes
from .config import OPERATORS, PAD, TaskConfig
from .questions import Questions


def char_indices(config: TaskConfig, chars: str) -> np.ndarray:
    lookup = {c: i for i, c in enumerate(config.chars)}
    return np.array([lookup[c] for c in chars], dtype=np.int32)


def _number_tokens(values: np.ndarray, width: int, config: TaskConfig) -> np.ndarray:
    """(N,) ints >= 0 -> (N, width) alphabet indices, right-aligned, blanks as PAD."""
    digit_ids = char_indices(config, "0123456789")
    pad_id = config.chars.index(PAD)
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    digits = (values[:, None] // powers) % 10
    # A leading position is blank when the number is shorter than the width;
    # the last position always shows a digit so that 0 reads "0".
    is_blank = values[:, None] < powers
    is_blank[:, -1] = False
    return np.where(is_blank, pad_id, digit_ids[digits]).astype(np.int32)


def _squeeze_pads(tokens: np.ndarray, config: TaskConfig) -> np.ndarray:
    """Move every PAD to one end of each row, keeping the text in order."""
    is_pad = tokens == config.chars.index(PAD)
    key = ~is_pad if config.padding == "left" else is_pad
    order = np.argsort(key, axis=1, kind="stable")
    return np.take_along_axis(tokens, order, axis=1)


def encode_questions(q: Questions, config: TaskConfig) -> np.ndarray:
    """Questions -> (N, question_length) alphabet indices, as the network reads them."""
    if config.rewrites:
        return stepping.encode_texts(stepping.question_texts(q), config.question_length)
    pad_id = config.chars.index(PAD)
    # Operator code -> token, with -1 ("the question has ended") -> PAD.
    op_tokens = np.array(
        [config.chars.index(op) if op in config.chars else pad_id for op in OPERATORS] + [pad_id], dtype=np.int32
    )
    counts = q.counts
    opens, closes = _bracket_counts(q, config)
    pieces = []
    for t in range(config.terms):
        if t:
            pieces.append(op_tokens[q.ops[:, t - 1]][:, None])  # code -1 picks the final PAD entry
        if opens is not None:
            pieces.append(_bracket_slots(opens[:, t], "(", config))
        digits = _number_tokens(q.terms[:, t], config.term_width, config)
        pieces.append(np.where((counts > t)[:, None], digits, pad_id))
        if closes is not None:
            pieces.append(_bracket_slots(closes[:, t], ")", config))
    tokens = _squeeze_pads(np.concatenate(pieces, axis=1), config)
    # Bracket slots leave more room than any question uses; the text is at one end, the pads at the other.
    length = config.question_length
    tokens = tokens[:, :length] if config.padding == "right" else tokens[:, tokens.shape[1] - length :]
    return tokens[:, ::-1].copy() if config.reverse else tokens


def _bracket_counts(q: Questions, config: TaskConfig) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(N, terms) how many '(' come before and ')' after each term, or (None, None) without brackets."""
    if not config.brackets:
        return None, None
    opens = np.zeros(q.terms.shape, np.int64)
    closes = np.zeros(q.terms.shape, np.int64)
    groups = np.zeros(len(q), np.int16) if q.groups is None else q.groups
    counts = q.counts
    for k in np.unique(counts).tolist():
        for g in np.unique(groups[counts == k]).tolist():
            rows = (counts == k) & (groups == g)
            before, after = opens_and_closes(bracket_patterns(k)[g], k)
            opens[rows, :k], closes[rows, :k] = before, after
    return opens, closes


def _bracket_slots(count: np.ndarray, char: str, config: TaskConfig) -> np.ndarray:
    """(N, max pairs) tokens: `count` brackets, the rest PAD (squeezed away afterwards)."""
    slots = np.arange(max_pairs(config.terms))
    return np.where(slots[None, :] < count[:, None], config.chars.index(char), config.chars.index(PAD)).astype(np.int32)


def encode_answers(values: np.ndarray, config: TaskConfig) -> np.ndarray:
    """(N,) ints -> (N, answer_length) alphabet indices in the order the network writes them.

    msb: negatives carry a "-" before their digits, padded as the task pads. lsb: the same characters
    reversed, units first and pads last, so each position is always the same column.
    """
    values = np.asarray(values, dtype=np.int64)
    if config.rewrites:  # units first, the sign in front (the design's own form of a number)
        return stepping.encode_texts([stepping.number_text(v) for v in values.tolist()], config.answer_length)
    tokens = _number_tokens(np.abs(values), config.answer_length, config)  # right-aligned
    negative = values < 0
    if negative.any():
        first_digit = config.answer_length - np.char.str_len(np.abs(values[negative]).astype(str))
        tokens[np.flatnonzero(negative), first_digit - 1] = config.chars.index("-")
    if config.answer_order == "lsb":
        return tokens[:, ::-1].copy()
    return _squeeze_pads(tokens, config)


def reading_order(tokens: np.ndarray, config: TaskConfig) -> np.ndarray:
    """(N, answer_length) answer tokens as the network wrote them -> the same answers as people read them
    (most significant digit first, padded as the task pads). The identity for msb tasks."""
    tokens = np.asarray(tokens)
    if config.rewrites:  # each number's digits back the usual way round, in place
        readable = [stepping.readable(t).ljust(tokens.shape[1], PAD) for t in stepping.decode_tokens(tokens)]
        return stepping.encode_texts(readable, tokens.shape[1])
    if config.answer_order == "msb":
        return tokens
    backwards = tokens[:, ::-1]
    if config.padding == "left":
        return backwards.copy()
    # Right padding: move the leading run of pads (the pads written last) to the end. Only that run:
    # a pad the network wrote between digits stays where it is, so a malformed answer stays malformed.
    is_pad = backwards == config.chars.index(PAD)
    lead = np.where(is_pad.all(axis=1), 0, np.argmin(is_pad, axis=1))
    length = tokens.shape[1]
    index = (np.arange(length)[None, :] + lead[:, None]) % length
    return np.take_along_axis(backwards, index, axis=1)


def answer_texts(tokens: np.ndarray, config: TaskConfig) -> list[str]:
    """(N, answer_length) answer tokens as written -> N strings as people read them (padding kept)."""
    return tokens_to_text(reading_order(tokens, config), config)


def one_hot(tokens: np.ndarray, config: TaskConfig) -> np.ndarray:
    """Alphabet indices -> float32 one-hot vectors (the network's input format)."""
    return np.eye(config.num_chars, dtype=np.float32)[tokens]


def shifted_answers(tokens: np.ndarray, config: TaskConfig) -> np.ndarray:
    """(N, answer_length) answer tokens as written -> the attention decoder's teacher-forcing input
    (N, answer_length, num_chars): at each step the character before, the all-zero vector at the first."""
    tokens = np.asarray(tokens)
    shifted = np.zeros((*tokens.shape, config.num_chars), np.float32)
    shifted[:, 1:] = one_hot(tokens[:, :-1], config)
    return shifted


def tokens_to_text(tokens: np.ndarray, config: TaskConfig) -> list[str]:
    """(N, L) alphabet indices -> N strings (padding kept)."""
    table = np.array(list(config.chars))
    return ["".join(row) for row in table[np.asarray(tokens)]]


def answer_value(text: str) -> int | None:
    """Read a decoded answer ("596 ", " -42") as a number; None if it is not one."""
    stripped = text.strip(PAD)
    digits = stripped[1:] if stripped.startswith("-") else stripped
    if not digits or not all("0" <= c <= "9" for c in digits):
        return None
    return int(stripped)
