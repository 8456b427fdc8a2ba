"""`python -m trainer.evaluate MODEL_DIR`: check a trained model on fresh questions.

Runs a fresh random held-out set (uniform over the task, with a seed of your
choice) and, when the task is small enough, every possible question, printing
the error counts and a few failures. Exit status 1 if exact-match is below
--min-accuracy, so it can gate a release.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m trainer.evaluate", description=__doc__.split("\n\n")[1],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model_dir", type=Path, help="a model folder written by `python -m trainer` (or model/bundled)")
    p.add_argument("--samples", type=int, default=10_000, help="random questions to check (default 10,000)")
    p.add_argument("--seed", type=int, default=2024, help="seed for the random questions (default 2024)")
    p.add_argument("--exhaustive", action=argparse.BooleanOptionalAction, default=True,
                   help="also check every possible question when there are at most 2,000,000 (default: on)")
    p.add_argument("--show-failures", type=int, default=10, help="failures to list (default 10)")
    p.add_argument("--min-accuracy", type=float, default=0.0,
                   help="exit with status 1 if random-sample exact-match is below this fraction (default 0)")
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.samples < 1:
        parser.exit(2, f"{parser.prog}: error: --samples must be at least 1, got {args.samples}\n")
    if not 0 <= args.min_accuracy <= 1:
        parser.exit(2, f"{parser.prog}: error: --min-accuracy must be between 0 and 1\n")

    import numpy as np

    from model.config import TaskConfig
    from model.predictor import Predictor
    from model.storage import ModelLoadError, load_model_dir

    from . import verify
    from .data import sample_terms

    try:
        model, task = load_model_dir(args.model_dir)
    except ModelLoadError as err:
        parser.exit(2, f"{parser.prog}: error: {err}\n")
    predictor = Predictor(model, task)
    uniform = TaskConfig(**{**task.to_dict(), "sampling": "uniform"})
    terms = sample_terms(uniform, args.samples, np.random.default_rng(args.seed))
    measured = verify.heldout_metrics(predictor, terms)
    print(f"Random questions: {measured['exact_match']:.4%} exact-match on {len(terms):,} "
          f"({round((1 - measured['exact_match']) * len(terms)):,} wrong); "
          f"per position {', '.join(f'{v:.4%}' for v in measured['per_position_accuracy'])}")
    if args.exhaustive and verify.exhaustive_feasible(task):
        started = time.perf_counter()
        result = verify.exhaustive_check(predictor, show=args.show_failures)
        seconds = time.perf_counter() - started
        print(f"Every question: {result['wrong']:,} wrong of {result['total']:,} "
              f"({1 - result['wrong'] / result['total']:.4%} right) in {seconds:.1f}s "
              f"({result['total'] / seconds:,.0f} questions/s)")
        for line in result["failures"]:
            print("  " + line)
    elif args.exhaustive:
        print("Every question: skipped, the task has more than 2,000,000 questions.")
    return 0 if measured["exact_match"] >= args.min_accuracy else 1


if __name__ == "__main__":
    sys.exit(main())
