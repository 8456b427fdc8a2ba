"""Questions as numpy arrays: draw them, list them all, work out their answers, read a person's text.

A batch of questions is two arrays (`Questions`): the terms, and one operator
code per gap (an index into "+-*", or -1 once a shorter question has ended).
"12-7+30" is terms [12, 7, 30] and ops [1, 0]; a bracketed question also has
its bracket pattern (`groups`, model/brackets.py). Everything is vectorised, so
drawing, answering or listing a million questions takes well under a second;
`parse_question` is the one place that reads a person's text, and it applies
one rule everywhere: a number is ASCII digits, with no spaces inside.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from .bounds import whole_number
from .brackets import bracket_patterns, bracketed_text, bracketed_values, flat_values, pattern_of, spans_of
from .config import DIGITS, OPERATORS, TaskConfig, enumerable
from .quoting import quoted

MAX_QUESTION_CHARS = 200


class InputError(ValueError):
    """A question the loaded model cannot answer, explained in one sentence."""


@dataclass(frozen=True)
class Questions:
    """A batch of questions: terms (N, T) int64 with 0 in unused slots; ops (N, T-1) int8 codes, -1 = ended;
    groups (N,) int16, each question's index in bracket_patterns(its term count), or None: no brackets."""

    terms: np.ndarray
    ops: np.ndarray
    groups: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.terms)

    def __getitem__(self, rows: Any) -> Questions:
        return Questions(self.terms[rows], self.ops[rows], None if self.groups is None else self.groups[rows])

    @property
    def counts(self) -> np.ndarray:
        """How many terms each question has."""
        return 1 + (self.ops >= 0).sum(axis=1)

    def texts(self) -> list[str]:
        """The human form of each question, e.g. "535+61"."""
        if self.groups is not None:
            return self._bracketed_texts()
        out = []
        for terms, ops in zip(self.terms.tolist(), self.ops.tolist(), strict=True):
            text = str(terms[0])
            for op, term in zip(ops, terms[1:], strict=True):
                if op < 0:
                    break
                text += OPERATORS[op] + str(term)
            out.append(text)
        return out

    def _bracketed_texts(self) -> list[str]:
        assert self.groups is not None
        out = []
        for terms, ops, count, group in zip(
            self.terms.tolist(), self.ops.tolist(), self.counts.tolist(), self.groups.tolist(), strict=True
        ):
            signs = "".join(OPERATORS[op] for op in ops[: count - 1])
            out.append(bracketed_text(terms[:count], signs, bracket_patterns(count)[group]))
        return out


def make_questions(terms: Any, ops: str | Any = "+") -> Questions:
    """Questions from plain lists: make_questions([[535, 61]]) or make_questions([[12, 7, 30]], [[1, 0]]).

    `ops` may be one operator character used in every gap.
    """
    terms = np.asarray(terms, dtype=np.int64).reshape(len(terms), -1)
    if isinstance(ops, str):
        codes = np.full((len(terms), terms.shape[1] - 1), OPERATORS.index(ops), dtype=np.int8)
    else:
        codes = np.asarray(ops, dtype=np.int8).reshape(len(terms), terms.shape[1] - 1)
    return Questions(terms, codes)


def concat(batches: list[Questions]) -> Questions:
    groups = None
    if any(b.groups is not None for b in batches):  # unbracketed batches are pattern 0, "no brackets"
        groups = np.concatenate([np.zeros(len(b), np.int16) if b.groups is None else b.groups for b in batches])
    return Questions(np.concatenate([b.terms for b in batches]), np.concatenate([b.ops for b in batches]), groups)


def answers(q: Questions) -> np.ndarray:
    """The true answer of each question, brackets first, * before + and - (vectorised; exact in int64)."""
    if q.groups is not None:
        return bracketed_values(q.terms, q.ops, q.counts, q.groups)
    return flat_values(q.terms, q.ops)


def sample_terms(config: TaskConfig, n: int, rng: np.random.Generator) -> np.ndarray:
    """(n, terms) random term values drawn the way `config.sampling` says."""
    shape = (n, config.terms)
    low, high = config.smallest, config.max_term
    uniform = rng.integers(low, high + 1, size=shape)
    if config.sampling == "uniform":
        return uniform
    # keras.io: pick a length 1..digits, then that many random digits.
    lengths = rng.integers(1, config.digits + 1, size=shape)
    by_digits = np.clip(rng.integers(0, 10**lengths), low, high)
    if config.sampling == "digits":
        return by_digits
    return np.where(rng.random((n, 1)) < 0.5, by_digits, uniform)


def sample_questions(config: TaskConfig, n: int, rng: np.random.Generator) -> Questions:
    """n random questions: terms as `config.sampling` says, term count and operators uniform.

    A task with one operator and a fixed term count draws nothing but its terms,
    so its questions are the same as the keras.io-style generator's for a seed.
    """
    terms = sample_terms(config, n, rng)
    gaps = config.terms - 1
    if len(config.operators) == 1:
        ops = np.full((n, gaps), OPERATORS.index(config.operators), dtype=np.int8)
    else:
        codes = np.array([OPERATORS.index(op) for op in config.operators], dtype=np.int8)
        ops = codes[rng.integers(0, len(codes), size=(n, gaps))]
    if config.fewest_terms < config.terms:
        counts = rng.integers(config.fewest_terms, config.terms + 1, size=n)
        slot = np.arange(config.terms)
        terms = np.where(slot[None, :] < counts[:, None], terms, 0)
        ops = np.where(slot[None, :gaps] < counts[:, None] - 1, ops, -1).astype(np.int8)
    groups = sample_patterns(config, 1 + (ops >= 0).sum(axis=1), rng) if config.brackets else None
    return Questions(terms.astype(np.int64), ops, groups)


def sample_patterns(config: TaskConfig, counts: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A bracket pattern for each question, uniform over the patterns of its term count."""
    choices = np.array([config.pattern_count(k) if k >= 1 else 1 for k in range(config.terms + 1)])
    return np.floor(rng.random(len(counts)) * choices[counts]).astype(np.int16)


def all_questions(config: TaskConfig) -> Questions:
    """Every ordered question of the task (e.g. all 1,000,000 pairs of 0..999), for exhaustive checks."""
    if not enumerable(config):
        raise ValueError(f"the task has {config.question_count:,} questions, too many to list")
    values = np.arange(config.smallest, config.max_term + 1, dtype=np.int64)
    codes = np.array([OPERATORS.index(op) for op in config.operators], dtype=np.int8)
    batches = []
    for k in range(config.fewest_terms, config.terms + 1):
        grids = np.meshgrid(*[values] * k, *[codes] * (k - 1), indexing="ij")
        flat = [g.ravel() for g in grids]
        n = len(flat[0])
        terms = np.zeros((n, config.terms), dtype=np.int64)
        ops = np.full((n, config.terms - 1), -1, dtype=np.int8)
        terms[:, :k] = np.stack(flat[:k], axis=1)
        if k > 1:
            ops[:, : k - 1] = np.stack(flat[k:], axis=1)
        for group in range(config.pattern_count(k)):
            groups = np.full(n, group, np.int16) if config.brackets else None
            batches.append(Questions(terms, ops, groups))
    return concat(batches)


def question_keys(q: Questions, config: TaskConfig) -> np.ndarray:
    """One int64 per question, equal exactly for the same question (for + or * alone: in any order)."""
    varies = config.fewest_terms < config.terms
    used = np.arange(config.terms)[None, :] < q.counts[:, None]
    terms = np.where(used, q.terms - config.smallest + varies, 0)  # 0 marks an unused slot when counts vary
    if config.commutative:
        terms = np.sort(terms, axis=1)
    op_index = {OPERATORS.index(op): i for i, op in enumerate(config.operators)}
    ops = np.full(q.ops.shape, 0, dtype=np.int64)
    for code, i in op_index.items():
        ops[q.ops == code] = i + varies
    key = np.zeros(len(q), dtype=np.int64)
    for column in terms.T:
        key = key * (config.max_term - config.smallest + 1 + varies) + column
    for column in ops.T:
        key = key * (len(config.operators) + varies) + column
    if config.brackets:
        key = key * config.pattern_count(config.terms) + (0 if q.groups is None else q.groups)
    return key


# Reading a person's text ------------------------------------------------------------------------
_STRUCTURE = re.compile(r"[0-9]+([+*-][0-9]+)*")
_SPACE_IN_NUMBER = re.compile(r"[0-9]\s+[0-9]")


def example_questions(config: TaskConfig, count: int = 4) -> list[str]:
    """Questions this task accepts, e.g. ["535+61", "7+8", ...], made from the config alone."""
    picks = [[535, 61, 7, 20], [7, 8, 3, 6], [99, 1, 40, 2], [120, 45, 9, 11], [12, 7, 30, 4]]
    if config.digits > 3:  # lead with numbers as wide as the task's (53572+6184 for 5 digits), not 3-digit ones
        picks[0] = [int("53572819"[: config.digits]), int("61847"[: config.digits - 1]), 7, 20]
    out = []
    for i, numbers in enumerate(picks):
        k = config.fewest_terms + i % (config.terms - config.fewest_terms + 1)
        terms = [config.smallest + n % (config.max_term - config.smallest + 1) for n in (numbers * 5)[:k]]
        ops = [config.operators[(i + j) % len(config.operators)] for j in range(k - 1)]
        patterns = bracket_patterns(k) if config.brackets else ((),)
        # With brackets, every other example is bracketed (a different pattern each time, where there are some).
        pattern = patterns[1 + (i // 2) % (len(patterns) - 1)] if len(patterns) > 1 and i % 2 else ()
        text = bracketed_text(terms, "".join(ops), pattern)
        if text not in out:
            out.append(text)
    if config.brackets:  # lead with a bracketed one (the placeholder and the hints show what the task takes)
        out.sort(key=lambda text: "(" not in text)
    return out[:count]


def _describe_terms(config: TaskConfig) -> str:
    if config.fewest_terms == config.terms:
        return f"exactly {config.terms} numbers"
    return f"{config.fewest_terms} to {config.terms} numbers"


def parse_question(text: object, config: TaskConfig) -> Questions:
    """Read a person's question ("535 + 61") into a one-row Questions, or raise InputError.

    Spaces around numbers and operators are fine; a space inside a number is not
    ("5 5+1" is not 55+1). Whatever the model was not trained on is refused with
    a sentence that says what would work instead.
    """
    if not isinstance(text, str):
        raise InputError(f"Expected text such as '{example_questions(config)[0]}', got {type(text).__name__}.")
    if len(text) > MAX_QUESTION_CHARS:
        raise InputError(f"That is {len(text):,} characters; a question has at most {MAX_QUESTION_CHARS}.")
    example = example_questions(config)[0]
    ops_shown = " ".join(config.operators)
    compact = "".join(text.split())
    if not compact:
        raise InputError(f"Type a question such as {example}.")
    if _SPACE_IN_NUMBER.search(text):
        raise InputError(
            f"A number cannot contain spaces ({quoted(_SPACE_IN_NUMBER.search(text)[0])!r}); "  # type: ignore[index]
            f"join numbers with {ops_shown}, such as {example}."
        )
    bad = sorted({c for c in compact if c not in DIGITS + OPERATORS + ("()" if config.brackets else "")})
    if bad:
        shown = " ".join(repr(c) for c in bad[:5])
        characters = "characters" if len(bad) > 1 else "character"
        raise InputError(
            f"The question has the {characters} {shown}; write whole numbers joined by {ops_shown}, such as {example}."
        )
    spans: list[tuple[int, int]] = []
    if config.brackets:  # check the brackets, then read the rest as an unbracketed question
        found = spans_of(compact)
        if isinstance(found, str):
            raise InputError(found)
        compact, spans = found
    unknown = sorted({c for c in compact if c in OPERATORS and c not in config.operators})
    if unknown and not (set(unknown) == {"-"} and re.fullmatch(r"-?[0-9]+([+*]-?[0-9]+)*", compact)):
        raise InputError(f"This model only knows {ops_shown}, not {' '.join(unknown)}; try {example}.")
    if re.search(r"(^|[+*-])-[0-9]", compact):
        raise InputError(
            f"Negative numbers are not part of this task: each number is a whole number from "
            f"{config.smallest} to {config.max_term}"
            + (" (answers may be negative)." if config.negative_answers else ".")
        )
    if not _STRUCTURE.fullmatch(compact):
        raise InputError(
            f"The question has a misplaced operator; write whole numbers joined by {ops_shown}, such as {example}."
        )
    parts = re.split(r"[+*-]", compact)
    ops = re.findall(r"[+*-]", compact)
    if not config.fewest_terms <= len(parts) <= config.terms:
        raise InputError(
            f"This model answers questions of {_describe_terms(config)}, but this one has {len(parts)}; try {example}."
        )
    for part in parts:
        if len(part) > 20 or not config.smallest <= int(part) <= config.max_term:
            digits = f"{config.digits} digit" + ("s" if config.digits > 1 else "")
            raise InputError(
                f"{quoted(part)} is outside what this model learned: each number must be from "
                f"{config.smallest} to {config.max_term} ({digits} at most)."
            )
    terms = [int(p) for p in parts] + [0] * (config.terms - len(parts))
    codes = [OPERATORS.index(op) for op in ops] + [-1] * (config.terms - len(parts))
    q = make_questions([terms], [codes])
    if not config.brackets:
        return q
    group = pattern_of(spans, len(parts))
    if isinstance(group, str):
        raise InputError(group)
    return Questions(q.terms, q.ops, np.array([group], np.int16))


def parse_whole_number(value: object, what: str, low: int, high: int) -> int:
    """A count or seed sent as a number or as ASCII-digit text, within [low, high]; else InputError.

    One rule for what a number is, everywhere: "٥", "５", "²" and "①" are not numbers here.
    """
    number = whole_number(value, lenient=True)
    if isinstance(value, str) and re.fullmatch(r"[0-9]{1,20}", value.strip()):
        number = int(value.strip())
    if number is None or not low <= number <= high:
        raise InputError(f"{what} must be a whole number from {low:,} to {high:,}, got {quoted(value, 30)}.")
    return number
