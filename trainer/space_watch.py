"""What a run knows of the whole question space: each question's latest margin, and which to re-measure next.

The space is every question when the task can list them, else a fixed pool that
stands for them. Measuring all of it after every epoch would cost as much as the
training, so the run measures nothing while held-out exact match is below
MEASURE_FROM (early on nearly every question is wrong), then all of it once, then
a rotating slice plus every question near the threshold: those are the ones a
step can push below it. The margins pick the next epoch's hard questions, and
the run stops on them only after re-measuring every stale one on the current weights.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .verify import Checker

MEASURE_FROM = 0.99  # the whole space is measured once held-out exact match passes this: earlier it is mostly wrong
# Questions whose margin is below the threshold plus this band are re-measured after every epoch: they are the
# ones a step can push below it. The rest of the space is re-measured a rotating slice at a time.
WATCH_BAND = 0.4


class SpaceWatch:
    """The space's questions (encoded once), their latest margins and the epoch each was measured after."""

    def __init__(
        self,
        space: Checker,
        *,
        complete: bool,
        trainable: np.ndarray,
        order: np.ndarray,
        slice_size: int,
        threshold: float,
        enabled: bool,
    ):
        self.space, self.complete, self.trainable, self.order = space, complete, trainable, order
        self.slice_size, self.threshold, self.enabled = min(slice_size, len(space)), threshold, enabled
        self.margins = np.full(len(space), np.nan, np.float32)
        self.measured_at = np.full(len(space), -1, np.int32)
        self.cursor = 0

    @property
    def measured(self) -> bool:
        return bool(np.isfinite(self.margins).any())

    @property
    def wrong(self) -> int:
        """How many questions were wrong when last measured; -1 before any was measured."""
        return int(np.sum(self.margins <= 0)) if self.measured else -1

    @property
    def headline_wrong(self) -> int:
        """The wrong count that ranks a run's epochs: every question's, once measured; -1 for a pool, which
        is trained on (held-out exact match ranks those runs), and before any measurement."""
        return self.wrong if self.complete else -1

    @property
    def smallest_margin(self) -> float:
        return float(np.nanmin(self.margins)) if self.measured else -1.0

    def next_rows(self, heldout_exact: float) -> np.ndarray | None:
        """Take the next questions to measure, given the last epoch's held-out exact match, and move the
        cursor past them: None before it is worth it, then all of them once, then the next rotating slice
        plus every question still below the threshold plus the band. Each call takes a new slice."""
        if not self.enabled:
            return None
        if not self.measured:
            return np.arange(len(self.space)) if heldout_exact >= MEASURE_FROM else None
        rows = self.order[np.arange(self.cursor, self.cursor + self.slice_size) % len(self.space)]
        self.cursor = (self.cursor + self.slice_size) % len(self.space)
        return np.union1d(rows, np.flatnonzero(self.margins < self.threshold + WATCH_BAND))

    def record(self, rows: np.ndarray, margins: np.ndarray, epoch: int) -> None:
        self.margins[rows] = margins
        self.measured_at[rows] = epoch

    def hard(self, teach_all: bool) -> np.ndarray:
        """The questions below the threshold that may be trained on (all of them with teach_all)."""
        return np.flatnonzero((self.margins < self.threshold) & (self.trainable | teach_all))

    def all_right_by(self, margin: float, model: Any, epoch: int) -> bool:
        """Whether every question is right by margin, re-measuring on the current weights any question last
        measured after an earlier epoch before saying yes."""
        if not (np.isfinite(self.margins).all() and float(self.margins.min()) >= margin):
            return False
        stale = np.flatnonzero(self.measured_at < epoch)
        if len(stale):
            self.record(stale, self.space.run(model, stale)[1], epoch)
        return float(self.margins.min()) >= margin

    def name(self) -> str:
        return "every question" if self.complete else f"a pool of {len(self.space):,}"

    def describe(self, rows: np.ndarray | None) -> str:
        """One phrase for the epoch line: what is known of the space, and how much of it is fresh."""
        if not self.enabled:
            return ""
        if not self.measured:
            return f"{self.name()}: measured once held-out exact match passes {MEASURE_FROM:.0%}"
        fresh = 0 if rows is None else len(rows) / len(self.space)
        return f"{self.name()}: {self.wrong:,} wrong, smallest margin {self.smallest_margin:.3f}" + (
            "" if fresh == 1 else f" ({fresh:.0%} re-measured now, the rest earlier)"
        )

    # Checkpoints -------------------------------------------------------------------------------
    def progress(self) -> dict[str, np.ndarray]:
        return {"margins": self.margins, "measured_at": self.measured_at}

    def restore(self, saved: Any) -> None:
        """The margins of a checkpoint's progress.npz (ignored when they are another space's)."""
        if saved["margins"].shape == self.margins.shape:
            self.margins, self.measured_at = saved["margins"], saved["measured_at"]
