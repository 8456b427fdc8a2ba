"""The question sets a run is built on, drawn once from one random generator: the held-out set, every
question or the pool standing for them (with its watch, space_watch.py), and keras.io's fixed draws."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from model.config import TaskConfig, distinct_count, enumerable
from model.questions import Questions, question_keys

from .data import epoch_questions, heldout_set, the_space, unique_questions
from .outcome import Log
from .settings import TrainSettings
from .space_watch import SpaceWatch
from .verify import Checker

MINING_MARGIN = 0.5  # the margin below which a question counts as hard when the run has no target margin


@dataclass(frozen=True)
class QuestionSets:
    heldout: Checker
    disjoint: bool  # the held-out set is really held out (never trained on)
    heldout_keys: np.ndarray | None  # their keys, to keep them out of training draws
    fixed: Questions | None  # keras.io: the same questions every epoch, drawn once
    watch: SpaceWatch  # every question (or the pool), measured as training goes


def prepare_questions(task: TaskConfig, s: TrainSettings, rng: np.random.Generator, *, log: Log) -> QuestionSets:
    """The held-out set, the space (or pool) and its watch, and keras.io's fixed draws, all from one rng."""
    kind = "distinct" if s.unique else "drawn once"
    log(
        f"Preparing questions: {s.heldout_size:,} held out"
        + (f", {s.train_size:,} {kind} to train on" if s.train_size else "")
        + "..."
    )
    heldout, disjoint = heldout_set(task, s.heldout_size, rng)
    held = Checker(task, heldout)
    heldout_keys = question_keys(heldout, task) if disjoint else None
    if not disjoint:
        log(
            f"Note: the task has {distinct_count(task):,} distinct questions, too few to hold "
            f"{s.heldout_size:,} out (at most a tenth), so the check set is drawn at random and also "
            "trained on: it is not held out" + ("; the headline is every question." if enumerable(task) else ".")
        )
    space, complete = the_space(task, s.pool_size, rng)
    trainable = (
        np.ones(len(space), bool) if heldout_keys is None else ~np.isin(question_keys(space, task), heldout_keys)
    )
    order = rng.permutation(len(space))
    fixed_draws = None  # keras.io: the same questions every epoch, drawn once
    if s.train_size:
        fixed_draws = (
            unique_questions(task, s.train_size, rng, heldout_keys)
            if s.unique
            else epoch_questions(task, s.train_size, space[:0], 0.0, rng, heldout_keys)
        )
    # The space is measured after each epoch when something uses it: the margin target or hard questions.
    needs_space = s.target_margin is not None or (s.hard_fraction > 0 and fixed_draws is None)
    threshold = s.target_margin if s.target_margin is not None else MINING_MARGIN
    watch = SpaceWatch(
        Checker(task, space),
        complete=complete,
        trainable=trainable,
        order=order,
        slice_size=s.space_check_size,
        threshold=threshold,
        enabled=needs_space,
    )

    return QuestionSets(heldout=held, disjoint=disjoint, heldout_keys=heldout_keys, fixed=fixed_draws, watch=watch)
