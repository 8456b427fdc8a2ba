"""The written steps of the "rewrite" design: a question worked one operation at a time, as text.

A person works `12*34-56` on paper one operation at a time: the bracket first, then a `*`, then left
to right. The rewrite design (TaskConfig.steps == "rewrite") makes the network do exactly one such
operation per pass, its own output fed back as the next question, until it writes a plain number. This
module is the one definition of those steps (bench/steps_data.py imports it), pure Python with no
TensorFlow and no network:

- `reduce_once` is one operation; `chain` applies it until one number is left.
- A product of two numbers of two or more digits is first written as the bracketed sum of its partial
  products, one per digit of the shorter factor, units first (`12*34` -> `(48+360)`), so that no step
  needs a multiplication table bigger than one digit by a number (issue #27's experiment: the products
  written whole were the wall, 26-61% right; as partial products 99.97%).
- Every number is written units first with its sign in front (`408` -> `804`, `-47` -> `-74`), so each
  digit comes after the carry it needs (the experiment's other lever). Both choices are part of the
  design, not separate options.

`question_chains` gives each question's chain as the texts the network reads and writes (question,
steps..., answer); `readable` turns such a text back into the usual order for people.
"""

from __future__ import annotations

import functools
import re

import numpy as np

from .brackets import bracket_patterns, opens_and_closes

OPS = "+-*"
# The experiment's alphabet (bench/steps_experiment.py), kept so its trained weights load as they are:
# `=` joined the steps of its "trail" shape; the rewrite never reads or writes it.
ALPHABET = " +-*0123456789()="
PAD = " "
MAX_TERMS = 3  # the longest chain's length is found by working extreme questions (`longest`): cheap up to 3 terms
MAX_DIGITS = 3

Token = int | str  # a number, or one of "+-*()"


def partial_products(x: int, y: int) -> list[int] | None:
    """x*y as the products by each digit of the shorter factor (the second on a tie), units first:
    408*56 -> [2448, 20400]; None when that factor has one digit (the product is one step)."""
    n, m = (x, y) if len(str(abs(y))) <= len(str(abs(x))) else (y, x)
    if abs(m) < 10:
        return None
    sign = -1 if m < 0 else 1
    digits = str(abs(m))[::-1]
    return [sign * n * int(d) * 10**i for i, d in enumerate(digits)]


def apply(x: int, op: str, y: int) -> int:
    return x + y if op == "+" else x - y if op == "-" else x * y


def reduce_once(tokens: list[Token], partial: bool = True) -> list[Token]:
    """One step a person writes: inside the (innermost, last) bracket first, else the first `*`, else the
    leftmost + or -. With `partial`, a product of two 2+-digit numbers first becomes the bracketed sum of
    its partial products."""
    if "(" in tokens:
        lo = max(i for i, t in enumerate(tokens) if t == "(")
        hi = tokens.index(")", lo)
        inner = reduce_once(tokens[lo + 1 : hi], partial)
        if len(inner) == 1:  # the bracket is done: drop it
            return tokens[:lo] + inner + tokens[hi + 1 :]
        return tokens[: lo + 1] + inner + tokens[hi:]
    ops = [i for i, t in enumerate(tokens) if t in ("+", "-", "*")]
    star = [i for i in ops if tokens[i] == "*"]
    i = star[0] if star else ops[0]
    x, op, y = tokens[i - 1], tokens[i], tokens[i + 1]
    assert isinstance(x, int) and isinstance(y, int) and isinstance(op, str)
    parts = partial_products(x, y) if partial and op == "*" else None
    if parts is None:
        middle: list[Token] = [apply(x, op, y)]
    else:
        middle = [parts[0]]
        for p in parts[1:]:
            middle += ["+", p]
        if len(tokens) > 3:
            middle = ["(", *middle, ")"]
    return tokens[: i - 1] + middle + tokens[i + 2 :]


def chain(tokens: list[Token], partial: bool = True) -> list[list[Token]]:
    """The question, every step, and the answer (a one-number list) last."""
    out = [tokens]
    while len(out[-1]) > 1:
        out.append(reduce_once(out[-1], partial))
    return out


def number_text(value: int, reverse: bool = True) -> str:
    digits = str(abs(value))
    return ("-" if value < 0 else "") + (digits[::-1] if reverse else digits)


def expression_text(tokens: list[Token], reverse: bool = True) -> str:
    return "".join(number_text(t, reverse) if isinstance(t, int) else t for t in tokens)


def question_tokens(terms: list[int], ops: list[int], group: int | None) -> list[Token]:
    """One question (its used terms, op codes into "+-*", bracket pattern index or None) as tokens."""
    k = len(terms)
    opens, closes = opens_and_closes(bracket_patterns(k)[group] if group is not None else (), k)
    out: list[Token] = []
    for t, term in enumerate(terms):
        if t:
            out.append(OPS[ops[t - 1]])
        out += ["("] * opens[t] + [int(term)] + [")"] * closes[t]
    return out


def _rows(q) -> list[list[Token]]:
    groups = q.groups.tolist() if q.groups is not None else [None] * len(q)
    rows = zip(q.terms.tolist(), q.ops.tolist(), q.counts.tolist(), groups, strict=True)
    return [question_tokens(terms[:k], ops[: k - 1], g) for terms, ops, k, g in rows]


def question_texts(q) -> list[str]:  # q: model.questions.Questions (which imports the config)
    """Each question as the network of this design reads it (numbers units first): `12*34-56` -> `21*43-65`."""
    return [expression_text(tokens) for tokens in _rows(q)]


def question_chains(q) -> list[list[str]]:  # q: model.questions.Questions (which imports the config)
    """Each question's chain as the design writes it: [question, step, ..., answer], numbers units first."""
    return [[expression_text(step) for step in chain(tokens)] for tokens in _rows(q)]


def is_number(text: str) -> bool:
    """Whether a written text (pads stripped) is one plain number: the end of the feed-back."""
    text = text.strip(PAD)
    body = text[1:] if text.startswith("-") else text
    return body.isdigit()


def readable(text: str) -> str:
    """A written text the usual way round for people: every number's digits most significant first
    (`804-65` -> `408-56`); anything else the network wrote stays as written."""
    return re.sub(r"[0-9]+", lambda m: m.group(0)[::-1], text.strip(PAD))


def written_value(text: str) -> int | None:
    """A written plain number's value (`253` -> 352, `-74` -> -47); None when it is not one."""
    return int(readable(text)) if is_number(text) else None


def extremes(smallest: int, largest: int) -> list[int]:
    """Values whose chains are as long as any: the range's ends and each power of ten's neighbours (a
    number's length is what matters; tests/test_steps.py checks random questions fit)."""
    found = {smallest, smallest + 1, largest}
    power = 1
    while power <= largest:
        found |= {power - 1, power, 9 * power, 9 * power + 1}
        power *= 10
    return sorted(v for v in found if smallest <= v <= largest)


@functools.cache
def longest(fewest: int, most: int, operators: str, brackets: bool, smallest: int, largest: int) -> tuple[int, int]:
    """(longest text the network reads, longest it writes) over the chains of every extreme question."""
    values = np.array(extremes(smallest, largest))
    codes = [OPS.index(op) for op in operators]
    reads, writes = 0, 0
    for k in range(fewest, most + 1):
        grid = np.meshgrid(*[values] * k, *[codes] * (k - 1), indexing="ij")
        rows = np.stack([g.ravel() for g in grid], axis=1).tolist()
        for group in range(len(bracket_patterns(k)) if brackets else 1):
            for row in rows:
                texts = [expression_text(s) for s in chain(question_tokens(row[:k], row[k:], group))]
                reads = max(reads, *map(len, texts[:-1]))
                writes = max(writes, *map(len, texts[1:]))
    return reads, writes


def encode_texts(texts: list[str], length: int) -> np.ndarray:
    """Texts -> (N, length) indices into ALPHABET, padded on the right; ValueError for a text too long."""
    lookup = {c: i for i, c in enumerate(ALPHABET)}
    out = np.zeros((len(texts), length), np.int32)
    for i, text in enumerate(texts):
        if len(text) > length:
            raise ValueError(f"{text!r} is longer than {length} characters")
        out[i, : len(text)] = [lookup[c] for c in text]
    return out


def decode_tokens(tokens: np.ndarray) -> list[str]:
    """(N, L) indices into ALPHABET -> the texts, trailing pads dropped."""
    table = np.array(list(ALPHABET))
    return ["".join(row).rstrip(PAD) for row in table[np.asarray(tokens)]]


def mark_steps(written: list[str], chain: list[str]) -> list[bool]:
    """Each written step judged against the true chain (the question first, as `question_chains` gives it):
    the i-th written step is right when it is exactly the chain's i-th step; a step past the chain's end is
    wrong. A wrong step is marked wrong even when the final answer happens to be right."""
    truth = chain[1:]
    return [i < len(truth) and text.strip(PAD) == truth[i] for i, text in enumerate(written)]
