"""Bracketed questions such as (12+7)*3 and 12-(34-5): the bracket patterns, their values, their text.

A bracket pattern of k terms is the set of spans of terms it brackets, (first, last) inclusive: each span
holds 2 to k-1 terms (no brackets around one number or the whole question), and any two spans are nested
or apart, so each pattern is written exactly one way. "12-(34-5)" is pattern ((1, 2),) of 3 terms.
`bracket_patterns(k)` lists them all (3 terms: none, (0, 1), (1, 2)); a question carries the index of
its pattern in that list (`Questions.groups`). Values are computed with whole numpy arrays, span by
span, with the usual precedence inside each span (`flat_values`). Nothing here imports TensorFlow.
"""

from __future__ import annotations

import functools
from itertools import combinations

import numpy as np

Span = tuple[int, int]
Pattern = tuple[Span, ...]
MAX_BRACKET_TERMS = 5  # 5 terms have 36 patterns; more would make a question space no model here could learn


def flat_values(terms: np.ndarray, ops: np.ndarray) -> np.ndarray:
    """(N, T) terms, (N, T-1) op codes (0 +, 1 -, 2 *, -1 ended) -> values, * before + and - (exact in int64)."""
    total = np.zeros(len(terms), dtype=np.int64)
    current = terms[:, 0].astype(np.int64)  # the running product, with the sign of the + or - before it
    for gap in range(ops.shape[1]):
        op, x = ops[:, gap], terms[:, gap + 1]
        multiply, ended = op == 2, op < 0
        total = np.where(multiply | ended, total, total + current)
        current = np.where(multiply, current * x, np.where(op == 0, x, np.where(op == 1, -x, current)))
    return total + current


def _nested_or_apart(a: Span, b: Span) -> bool:
    return a[1] < b[0] or b[1] < a[0] or (a[0] <= b[0] and b[1] <= a[1]) or (b[0] <= a[0] and a[1] <= b[1])


@functools.cache
def bracket_patterns(k: int) -> tuple[Pattern, ...]:
    """Every bracket pattern of k terms, the unbracketed one first, then by number of pairs."""
    spans = [(i, i + size - 1) for size in range(2, k) for i in range(k - size + 1)]
    found = []
    for mask in range(1 << len(spans)):
        chosen = tuple(sorted(s for b, s in enumerate(spans) if mask >> b & 1))
        if all(_nested_or_apart(a, b) for a, b in combinations(chosen, 2)):
            found.append(chosen)
    return tuple(sorted(found, key=lambda p: (len(p), p)))


def max_pairs(terms: int) -> int:
    """The most bracket pairs a question of this many terms has (what the question length must allow)."""
    return max(0, terms - 2)


def opens_and_closes(pattern: Pattern, k: int) -> tuple[list[int], list[int]]:
    """How many '(' come before each term and how many ')' after it."""
    opens, closes = [0] * k, [0] * k
    for first, last in pattern:
        opens[first] += 1
        closes[last] += 1
    return opens, closes


def pattern_values(terms: np.ndarray, ops: np.ndarray, pattern: Pattern, k: int) -> np.ndarray:
    """Values of questions of k terms sharing one pattern: each bracketed span first, innermost out."""

    def value(first: int, last: int) -> np.ndarray:
        inside = [s for s in pattern if first <= s[0] and s[1] <= last and s != (first, last)]
        items, gaps, t = [], [], first
        while t <= last:
            widest = [s for s in inside if s[0] == t]
            end = max(s[1] for s in widest) if widest else t
            items.append(value(t, end) if widest else terms[:, t].astype(np.int64))
            if end < last:
                gaps.append(ops[:, end])
            t = end + 1
        if len(items) == 1:
            return items[0]
        return flat_values(np.stack(items, axis=1), np.stack(gaps, axis=1))

    return value(0, k - 1)


def bracketed_values(terms: np.ndarray, ops: np.ndarray, counts: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Each question's value, grouped by (term count, pattern) so every group is one vectorised pass."""
    out = np.zeros(len(terms), dtype=np.int64)
    for k in np.unique(counts).tolist():
        for g in np.unique(groups[counts == k]).tolist():
            rows = np.flatnonzero((counts == k) & (groups == g))
            out[rows] = pattern_values(terms[rows, :k], ops[rows, : k - 1], bracket_patterns(k)[g], k)
    return out


def bracketed_text(terms: list[int] | list[str], ops: str, pattern: Pattern) -> str:
    """'12', '-', '(34', '-', '5)' joined: the question as people write it."""
    opens, closes = opens_and_closes(pattern, len(terms))
    text = ""
    for t, term in enumerate(terms):
        text += (ops[t - 1] if t else "") + "(" * opens[t] + str(term) + ")" * closes[t]
    return text


@functools.cache
def answer_extremes(fewest: int, most: int, operators: str, smallest: int, largest: int) -> tuple[int, int]:
    """(least, greatest) value of any bracketed question: each value is linear in each term, so its
    extremes are at corners of the box of term values; all corners of every pattern and operator mix."""
    codes = np.array(["+-*".index(op) for op in operators], dtype=np.int8)
    low, high = 0, 0
    for k in range(fewest, most + 1):
        grids = np.meshgrid(*[np.array([smallest, largest])] * k, *[codes] * (k - 1), indexing="ij")
        flat = np.stack([g.ravel() for g in grids], axis=1)
        terms, ops = flat[:, :k].astype(np.int64), flat[:, k:].astype(np.int8)
        for pattern in bracket_patterns(k):
            values = pattern_values(terms, ops, pattern, k)
            low, high = min(low, int(values.min())), max(high, int(values.max()))
    return low, high


def spans_of(text: str) -> tuple[str, list[Span]] | str:
    """A compact bracketed question -> (the text without brackets, the bracketed spans of terms), or the
    one sentence that says what is wrong with its brackets."""
    stack: list[int] = []
    spans: list[Span] = []
    term = 0  # the index of the term being read or next to be read
    for i, c in enumerate(text):
        before = text[i - 1] if i else ""
        after = text[i + 1] if i + 1 < len(text) else ""
        if c == "(":
            if after == ")":
                return "The question has empty brackets ()."
            if before and before not in "+-*(":
                return f"A bracket must follow an operator, not {before!r} ('{before}(')."
            stack.append(term)
        elif c == ")":
            if not stack:
                return "A bracket closes nothing: there is a ')' without its '('."
            if before in "+-*":
                return f"A bracket cannot close right after an operator ('{before})')."
            if after and after not in "+-*)":
                return f"A closing bracket must be followed by an operator, not {after!r} (')' then '{after}')."
            spans.append((stack.pop(), term))
        elif c in "+-*" and before not in "+-*(" and before != "":
            term += 1
        elif c in "+-*" and before == "(" and c != "-":
            return f"A bracket cannot open right before an operator ('({c}')."
    if stack:
        return "A bracket is not closed: there is a '(' without its ')'."
    return text.replace("(", "").replace(")", ""), spans


def pattern_of(spans: list[Span], k: int) -> int | str:
    """The index of the spans' pattern in bracket_patterns(k), or the sentence saying why it is not one."""
    if any(first == last for first, last in spans):
        return "Brackets around a single number are not part of this task; bracket a sum or a product."
    if any((first, last) == (0, k - 1) for first, last in spans):
        return "Brackets around the whole question are not part of this task; leave them out."
    if len(set(spans)) < len(spans):
        return "Double brackets around the same numbers are not part of this task; use one pair."
    pattern = tuple(sorted(spans))
    patterns = bracket_patterns(k)
    return patterns.index(pattern) if pattern in patterns else "Those brackets overlap without nesting."


def pattern_labels(k: int) -> list[str]:
    """A short name for each pattern of k terms, in bracket_patterns order: "a·b·c", "(a·b)·c", "a·(b·c)"."""
    letters = [chr(ord("a") + t) for t in range(k)]
    return [bracketed_text(letters, "·" * (k - 1), pattern) for pattern in bracket_patterns(k)]
