"""`python -m trainer.evaluate MODEL_DIR`: check a trained model on fresh questions, and on every question.

Asks fresh random questions (uniform over the task, with a seed of your
choice) and, when the task can list them (at most 2,000,000), every question,
printing the error counts, the accuracy for each number of terms when the task
has a range of them, for each operator pattern ("a+b*c") and each bracket pattern
("(a·b)·c") when there is more than one, and a few failures. A model with written steps (steps "rewrite")
answers by feeding its own output back: its figures are the final answer's, then every written step's.
The folder is read and checked as untrusted data (model.storage.load_model_dir); the network is rebuilt from its
network.json, never from Keras' config. Exit status 1 if the headline accuracy
(every question when they were all asked, else the random questions) is below
--min-accuracy, or a pattern of at least 100 random questions is below
--min-pattern-accuracy, so it can gate a release; 2 for a bad flag or an unusable folder.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from .flags import OneLineParser

MAX_SAMPLES = 1_000_000
MAX_SEED = 2**32 - 1
MIN_PATTERN_QUESTIONS = 100  # fewer random questions of a pattern say too little to fail a model on

if TYPE_CHECKING:
    from model.questions import Questions


def build_parser() -> argparse.ArgumentParser:
    p = OneLineParser(
        prog="python -m trainer.evaluate",
        description=__doc__.split("\n\n")[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Example: python -m trainer.evaluate runs/add3 --min-accuracy 0.999",
    )
    p.add_argument("model_dir", type=Path, help="a model folder written by `python -m trainer` (or model/zoo/add3)")
    p.add_argument(
        "--samples", type=int, default=10_000, help=f"random questions to check, 1 to {MAX_SAMPLES:,} (default 10,000)"
    )
    p.add_argument("--seed", type=int, default=2024, help="seed for the random questions (default 2024)")
    p.add_argument(
        "--exhaustive",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also check every possible question when there are at most 2,000,000 (default: on)",
    )
    p.add_argument("--show-failures", type=int, default=10, help="failures to list, 0 to 1,000 (default 10)")
    p.add_argument(
        "--min-accuracy",
        type=float,
        default=0.0,
        help="exit with status 1 if the headline accuracy is below this fraction (default 0)",
    )
    p.add_argument(
        "--min-pattern-accuracy",
        type=float,
        default=0.0,
        help="exit with status 1 if any pattern of at least 100 random questions is below this fraction: each "
        "bracket pattern for a task with brackets, else each operator pattern (default 0)",
    )
    return p


def check_args(args: argparse.Namespace) -> str | None:
    """One sentence for the first bad value, or None."""
    if not 1 <= args.samples <= MAX_SAMPLES:
        return f"--samples must be from 1 to {MAX_SAMPLES:,}, got {args.samples}"
    if not 0 <= args.seed <= MAX_SEED:
        return f"--seed must be from 0 to {MAX_SEED:,}, got {args.seed}"
    if not 0 <= args.show_failures <= 1000:
        return f"--show-failures must be from 0 to 1,000, got {args.show_failures}"
    if not 0 <= args.min_accuracy <= 1:  # False for NaN too
        return f"--min-accuracy must be from 0 to 1, got {args.min_accuracy}"
    if not 0 <= args.min_pattern_accuracy <= 1:
        return f"--min-pattern-accuracy must be from 0 to 1, got {args.min_pattern_accuracy}"
    return None


def by_term_count(counts: np.ndarray, right: np.ndarray, low: int, high: int) -> str:
    parts = [
        f"{k} terms {right[counts == k].mean():.4%} of {(counts == k).sum():,}"
        for k in range(low, high + 1)
        if (counts == k).any()
    ]
    return "  by number of terms: " + "; ".join(parts)


@dataclasses.dataclass(frozen=True)
class PatternScore:
    """How the model did on the questions of one pattern."""

    pattern: str  # "a+b*c" (operators) or "(a·b)·c" (brackets)
    questions: int
    right: int

    @property
    def wrong(self) -> int:
        return self.questions - self.right

    @property
    def accuracy(self) -> float:
        return self.right / self.questions


def pattern_scores(
    questions: Questions, right: np.ndarray, kind: Literal["operators", "brackets"]
) -> list[PatternScore]:
    """The accuracy for each operator pattern ("a+b*c") or bracket pattern ("(a·b)·c") among the questions,
    given which were answered right; fewer terms first, then in "+-*" order or bracket_patterns order."""
    from model.brackets import pattern_labels
    from model.config import OPERATORS

    if len(right) != len(questions):
        raise ValueError(f"right has {len(right):,} entries for {len(questions):,} questions")
    counts = questions.counts
    if kind == "brackets":
        if questions.groups is None:
            raise ValueError("these questions have no brackets, so they have no bracket patterns")
        keys = np.column_stack([counts, questions.groups])
    else:
        keys = np.column_stack([counts, questions.ops])  # an ended gap (-1) sorts before every operator
    found, which = np.unique(keys, axis=0, return_inverse=True)
    which = which.reshape(-1)
    asked = np.bincount(which, minlength=len(found))
    got = np.bincount(which, weights=right.astype(np.float64), minlength=len(found))
    scores = []
    for row, key in enumerate(found.tolist()):
        k = key[0]
        if kind == "brackets":
            label = pattern_labels(k)[key[1]]
        else:
            letters = [chr(ord("a") + t) for t in range(k)]
            label = letters[0] + "".join(OPERATORS[op] + x for op, x in zip(key[1:k], letters[1:], strict=True))
        scores.append(PatternScore(label, int(asked[row]), int(got[row])))
    return scores


def pattern_lines(title: str, scores: list[PatternScore]) -> list[str]:
    """A small table: pattern, questions, right %, wrong."""
    width = max(len("pattern"), *(len(s.pattern) for s in scores))
    head = f"    {'pattern':<{width}}  {'questions':>10}  {'right':>9}  {'wrong':>8}"
    rows = [f"    {s.pattern:<{width}}  {s.questions:>10,}  {s.accuracy:>9.4%}  {s.wrong:>8,}" for s in scores]
    return [f"  by {title}:", head, *rows]


def pattern_failure(scores: list[PatternScore], floor: float) -> str | None:
    """One sentence naming the worst pattern of enough questions below the floor, or None."""
    below = [s for s in scores if s.questions >= MIN_PATTERN_QUESTIONS and s.accuracy < floor]
    if not below:
        return None
    worst = min(below, key=lambda s: s.accuracy)
    others = f" ({len(below) - 1:,} more patterns are below it too)" if len(below) > 1 else ""
    return (
        f"pattern {worst.pattern} is {worst.accuracy:.4%} right on {worst.questions:,} random questions, "
        f"below --min-pattern-accuracy {floor:.4%}{others}"
    )


def print_patterns(questions: Questions, right: np.ndarray, brackets: bool, what: str) -> list[PatternScore]:
    """Print the operator (and bracket) pattern tables of `right`; return the ones a pattern floor gates."""
    by_operators = pattern_scores(questions, right, "operators")
    if len(by_operators) > 1:
        print("\n".join(pattern_lines(f"operator pattern (random questions{what})", by_operators)))
    if not brackets:
        return by_operators
    by_brackets = pattern_scores(questions, right, "brackets")
    if len(by_brackets) > 1:
        print("\n".join(pattern_lines(f"bracket pattern (random questions{what})", by_brackets)))
    return by_brackets


def failure_lines(checker, predicted: np.ndarray, wrong: np.ndarray, show: int) -> list[str]:
    from model.codec import answer_texts
    from model.questions import answers

    rows = np.flatnonzero(wrong)[:show]
    q = checker.questions[rows]
    guesses = answer_texts(predicted[rows], checker.task)  # the usual way round, whatever order it was written in
    return [
        f"  {text} = {truth}, model says {guess.strip()!r}"
        for text, truth, guess in zip(q.texts(), answers(q).tolist(), guesses, strict=True)
    ]


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    problem = check_args(args)
    if problem:
        parser.exit(2, f"{parser.prog}: error: {problem}\n")

    from model.config import enumerable
    from model.questions import all_questions, sample_questions
    from model.storage import ModelLoadError, load_model_dir

    try:
        stored = load_model_dir(args.model_dir)
    except ModelLoadError as err:
        parser.exit(2, f"{parser.prog}: error: {err}\n")
    task = stored.task

    from .cli import quiet_tensorflow

    quiet_tensorflow()
    from .verify import Checker, keras_model

    model = keras_model(stored)
    uniform = dataclasses.replace(task, sampling="uniform")
    random = Checker(task, sample_questions(uniform, args.samples, np.random.default_rng(args.seed)))
    measured = random.metrics(model)
    right = (measured["predicted"] == random.truth).all(1)
    print(
        f"Random questions: {measured['exact_match']:.4%} exact-match on {len(random):,} "
        f"({int((~right).sum()):,} wrong); "
        f"per position {', '.join(f'{v:.4%}' for v in measured['per_position_accuracy'])}"
    )
    ranged = task.fewest_terms < task.terms
    if ranged:
        print(by_term_count(random.questions.counts, right, task.fewest_terms, task.terms))
    gated = print_patterns(random.questions, right, task.brackets, "" if not task.rewrites else ", final answer")
    if task.rewrites:  # a margin above 0: every written step (and the answer) right
        steps_right = measured["margins"] > 0
        print(
            f"Every written step right: {steps_right.mean():.4%} of {len(random):,} "
            f"({int((right & ~steps_right).sum()):,} with the right final answer after a wrong step)"
        )
        print_patterns(random.questions, steps_right, task.brackets, ", every written step")
    headline = measured["exact_match"]
    if args.exhaustive and enumerable(task):
        started = time.perf_counter()
        every = Checker(task, all_questions(task))
        predicted, margins = every.run(model)
        seconds = time.perf_counter() - started
        wrong = ~(predicted == every.truth).all(1) if task.rewrites else margins <= 0  # the final answer
        headline = 1 - wrong.mean()
        print(
            f"Every question: {int(wrong.sum()):,} wrong of {len(every):,} ({headline:.4%} right) in "
            f"{seconds:.1f}s ({len(every) / seconds:,.0f} questions/s)"
        )
        if ranged:
            print(by_term_count(every.questions.counts, ~wrong, task.fewest_terms, task.terms))
        print("\n".join(failure_lines(every, predicted, wrong, args.show_failures)) or "  (no failures)")
    elif args.exhaustive:
        print(f"Every question: skipped, the task has {task.question_count:,} questions (more than 2,000,000).")
    failed = False
    if headline < args.min_accuracy:
        print(f"error: {headline:.4%} is below --min-accuracy {args.min_accuracy:.4%}", file=sys.stderr)
        failed = True
    weakest = pattern_failure(gated, args.min_pattern_accuracy)
    if weakest:
        print(f"error: {weakest}.", file=sys.stderr)
        failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
