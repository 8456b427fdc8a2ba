"""The written-steps experiment's data: questions of three terms, their steps, and the network's encodings.

Pure numpy, no TensorFlow: `draw` makes questions (operands 0..99, every operator and bracket
pattern equally likely unless weighted), `chains` works each one a step at a time as a person
would (the bracket first, then a `*`, then left to right; optionally a product as the sum of
its partial products, every number optionally units first), `training_pairs` turns them into
the (question, target) texts of each shape (oneshot, trail, rewrite), and `encode`/`decode`/
`one_hot`/`shifted` move between texts and the network's arrays. `self_check` holds the steps'
arithmetic to model.brackets. bench/steps_experiment.py trains and scores on these. The steps themselves
(one operation, the chain, partial products, numbers units first) are model/steps.py's, the product's
one definition; this file adds the experiment's draws, shapes and arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from model.steps import ALPHABET, OPS, chain, decode_tokens, encode_texts, expression_text, question_tokens

encode, decode = encode_texts, decode_tokens  # texts <-> (N, length) alphabet indices, the product's own

BRACKETS = ("a.b.c", "(a.b).c", "a.(b.c)")  # bracket patterns of 3 terms, as model/brackets.py orders them
SHAPES = ("oneshot", "trail", "rewrite")


# Questions and their steps (pure functions) -------------------------------------------------------
@dataclass(frozen=True)
class Batch:
    """N questions of three terms: terms (N, 3) ints 0..99, ops (N, 2) codes into "+-*", groups (N,) bracket
    pattern (0 none, 1 (a.b).c, 2 a.(b.c))."""

    terms: np.ndarray
    ops: np.ndarray
    groups: np.ndarray

    def __len__(self) -> int:
        return len(self.terms)

    def take(self, rows: np.ndarray) -> Batch:
        return Batch(self.terms[rows], self.ops[rows], self.groups[rows])


def draw(n: int, brackets: bool, rng: np.random.Generator, weights: dict[str, float] | None = None) -> Batch:
    """n questions, operands uniform; operator patterns uniform unless `weights` ({"**": 3.0}) favours some."""
    terms = rng.integers(0, 100, size=(n, 3))
    if weights:
        combos = [(i, j) for i in range(3) for j in range(3)]
        p = np.array([weights.get(OPS[i] + OPS[j], 1.0) for i, j in combos])
        picks = rng.choice(len(combos), size=n, p=p / p.sum())
        ops = np.array(combos)[picks]
    else:
        ops = rng.integers(0, 3, size=(n, 2))
    groups = rng.integers(0, 3, size=n) if brackets else np.zeros(n, np.int64)
    return Batch(terms, ops, groups)


def keys(b: Batch) -> np.ndarray:
    """One int per distinct question."""
    return (
        ((b.terms[:, 0] * 100 + b.terms[:, 1]) * 100 + b.terms[:, 2]) * 27
        + (b.ops[:, 0] * 3 + b.ops[:, 1]) * 3
        + b.groups
    )


def chains(b: Batch, reverse: bool, partial: bool) -> tuple[list[list[str]], np.ndarray]:
    """(each question's chain as texts: question, steps..., answer; answers as ints)."""
    texts, values = [], []
    for (a, bb, c), (op1, op2), g in zip(b.terms.tolist(), b.ops.tolist(), b.groups.tolist(), strict=True):
        steps = chain(question_tokens([a, bb, c], [op1, op2], g), partial)
        texts.append([expression_text(s, reverse) for s in steps])
        values.append(steps[-1][0])
    return texts, np.array(values, np.int64)


def pattern_names(b: Batch) -> tuple[list[str], list[str]]:
    """('a*b-c' style operator patterns, 'a.(b.c)' style bracket patterns) of each question."""
    ops = [f"a{OPS[i]}b{OPS[j]}c" for i, j in b.ops.tolist()]
    return ops, [BRACKETS[g] for g in b.groups.tolist()]


# Encoding -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Shape:
    """What the network reads and writes: sizes in characters (duck-types TaskConfig for build_model)."""

    question_length: int
    answer_length: int
    num_chars: int = len(ALPHABET)


def shape_for(shape: str, brackets: bool, reverse: bool, partial: bool) -> Shape:
    """The longest question and target, found on questions built from extreme operands."""
    extremes = [0, 1, 9, 10, 11, 19, 50, 89, 90, 91, 98, 99]
    grid = (
        np.array(np.meshgrid(extremes, extremes, extremes, range(3), range(3), range(3 if brackets else 1)))
        .reshape(6, -1)
        .T
    )
    b = Batch(grid[:, :3], grid[:, 3:5], grid[:, 5])
    inputs, targets = training_pairs(b, shape, reverse, partial)
    return Shape(max(map(len, inputs)), max(map(len, targets)))


def training_pairs(b: Batch, shape: str, reverse: bool, partial: bool) -> tuple[list[str], list[str]]:
    """(inputs, targets) for a batch of questions; the rewrite makes one pair per step of each question."""
    texts, _ = chains(b, reverse, partial)
    if shape == "oneshot":
        return [t[0] for t in texts], [t[-1] for t in texts]
    if shape == "trail":
        return [t[0] for t in texts], ["=".join(t[1:]) for t in texts]
    pairs = [(t[i], t[i + 1]) for t in texts for i in range(len(t) - 1)]
    return [p[0] for p in pairs], [p[1] for p in pairs]


def one_hot(tokens: np.ndarray) -> np.ndarray:
    return np.eye(len(ALPHABET), dtype=np.float32)[tokens]


def shifted(tokens: np.ndarray) -> np.ndarray:
    """Teacher forcing input: the character before each position, all-zero at the first."""
    out = np.zeros((*tokens.shape, len(ALPHABET)), np.float32)
    out[:, 1:] = one_hot(tokens[:, :-1])
    return out


def self_check() -> None:
    """The steps' arithmetic agrees with the project's own answers (model.brackets) on random questions."""
    from model.brackets import bracketed_values

    rng = np.random.default_rng(0)
    b = draw(20_000, True, rng)
    want = bracketed_values(b.terms, b.ops.astype(np.int8), np.full(len(b), 3), b.groups.astype(np.int16))
    for partial in (False, True):
        texts, values = chains(b, False, partial)
        assert (values == want).all(), "the steps disagree with model.brackets"
        for t in texts[:2000]:  # every written step is an expression equal to the question
            assert all(eval(step.replace("--", "+")) == int(t[-1]) for step in t), t
    example = Batch(np.array([[12, 34, 56]]), np.array([[2, 1]]), np.array([0]))
    assert chains(example, True, False)[0][0] == ["21*43-65", "804-65", "253"]
    assert chains(example, False, True)[0][0] == ["12*34-56", "(48+360)-56", "408-56", "352"]
