"""After training: check the trained model on every question (or the pool) and the held-out set, and say
whether the run met its target.

The final check asks every question when the task can list them (else the fixed pool and the held-out
set). Its margins are kept: the model folder's map of the whole question space is read from them, so the
map's wrong cells are exactly the exhaustive wrong count. The headline (every question when they were all
asked, else held-out; model.metrics.headline) is the figure the pass mark is compared with.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from model.config import NetworkConfig, TaskConfig
from model.metrics import headline, percent

from .outcome import Log, Outcome, say
from .rundir import RunError, RunFolder
from .settings import TrainSettings
from .verify import run_together, sample_lines


@dataclass(frozen=True)
class FinalCheck:
    metrics: dict[str, Any]  # metrics.json
    margins: np.ndarray  # one per question of the space (or pool), in its order
    held: dict[str, Any]  # the held-out set's summary
    reached: bool  # the run met its target (or pass mark)
    why: str  # the target and the figure, in words


def final_check(
    outcome: Outcome,
    task: TaskConfig,
    net: NetworkConfig,
    settings: TrainSettings,
    folder: RunFolder,
    *,
    log: Log = say,
) -> FinalCheck:
    """Measure the trained model; RunError (and the work folder cleared) if the run diverged."""
    model = outcome.model
    if outcome.diverged or not all(np.isfinite(w).all() for w in model.get_weights()):
        why = outcome.diverged or "the weights are no longer finite numbers"
        folder.close()
        raise RunError(f"the run diverged ({why}); no model was saved: try a lower --learning-rate")
    checker, complete = outcome.space, outcome.space_complete
    space = checker.questions
    what = f"every question ({len(space):,})" if complete else f"a pool of {len(space):,} questions"
    log(f"Verifying: {what} and {len(outcome.heldout):,} held out...")
    held_result, space_result = run_together(model, [(outcome.heldout, slice(None)), (checker, slice(None))])
    held = outcome.heldout.summary(*held_result)
    predicted, margins = space_result
    # Written steps: a question is right when its final answer is (margins > 0 also needs every step right,
    # counted on its own as steps_wrong); for one pass the two are the same.
    wrong = ~(predicted == checker.truth).all(1) if task.rewrites else margins <= 0
    metrics = {
        "heldout_exact_match": held["exact_match"],
        "heldout_char_accuracy": held["char_accuracy"],
        "heldout_per_position_accuracy": held["per_position_accuracy"],
        "heldout_size": held["size"],
        "heldout_disjoint": outcome.heldout_disjoint,
        "min_margin": float(margins.min()),
        "train_seconds": round(outcome.train_seconds, 1),
        "epochs": len(outcome.history.get("loss", [])),
        "polish_rounds": outcome.polish_rounds,
        "served_epoch": outcome.served_epoch,
        "samples_seen": int(outcome.history["samples_seen"][-1]) if outcome.history.get("samples_seen") else 0,
        "training": {**vars(settings), **{f"network_{k}": v for k, v in net.to_dict().items()}},
        "keras_version": _version("keras"),
        "tensorflow_version": _version("tensorflow"),
    }
    if complete:
        metrics.update(exhaustive_wrong=int(wrong.sum()), exhaustive_total=len(space))
    else:
        metrics.update(sample_wrong=int(wrong.sum()), sample_size=len(space))
    if task.rewrites:
        metrics.update(heldout_steps_exact_match=held["steps_exact_match"], steps_wrong=int((margins <= 0).sum()))
    if task.fewest_terms < task.terms:
        counts = space.counts
        metrics["per_term_count"] = {
            str(k): {"exact_match": float(1 - wrong[counts == k].mean()), "size": int((counts == k).sum())}
            for k in range(task.fewest_terms, task.terms + 1)
        }
    accuracy, measured_on = headline(metrics)
    metrics["headline"] = f"{percent(accuracy or 0)} right: {measured_on}"
    for line in sample_lines(task, space[wrong][:10], predicted[wrong][:10]):
        log("  wrong: " + line)
    reached, why = target_met(settings, metrics, margins)
    return FinalCheck(metrics=metrics, margins=margins, held=held, reached=reached, why=why)


def target_met(settings: TrainSettings, metrics: dict, margins: np.ndarray) -> tuple[bool, str]:
    """(passed, why): the pass mark when the run has one, else its margin or accuracy target."""
    accuracy, measured_on = headline(metrics)
    if settings.pass_accuracy is not None:
        return (
            (accuracy or 0) >= settings.pass_accuracy,
            f"{percent(accuracy or 0)} ({measured_on}), pass mark {percent(settings.pass_accuracy)}",
        )
    if settings.target_margin is not None:
        smallest = float(margins.min())
        return smallest >= settings.target_margin, f"smallest margin {smallest:.3f}, target {settings.target_margin}"
    if settings.target_accuracy is not None:
        return (
            (accuracy or 0) >= settings.target_accuracy,
            f"{percent(accuracy or 0)} ({measured_on}), target {percent(settings.target_accuracy)}",
        )
    return True, "no target"


def _version(package: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "unknown"
