"""What a training hands to the steps after it: the trained model, its history and its check sets."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .verify import Checker

Log = Callable[[str], None]


def say(line: str) -> None:
    print(line, flush=True)


@dataclass(kw_only=True)
class Outcome:
    model: Any
    history: dict[str, list]
    heldout: Checker
    heldout_disjoint: bool
    space: Checker  # every question, or the fixed pool standing for them
    space_complete: bool
    train_seconds: float
    diverged: str | None = None  # why, if the loss or the weights stopped being numbers
    stopped: str = ""  # the stopping reason, for the log
    probes: list[np.ndarray] = field(default_factory=list)  # per epoch: quantised probe margins
    probe_axis: np.ndarray | None = None
    polish_rounds: int = 0  # how many of the epochs were polishing rounds
    served_epoch: int = 0  # the epoch whose weights the model keeps (the best by held-out and every-question checks)
