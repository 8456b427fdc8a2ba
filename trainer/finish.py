"""After training: verify the model, draw its map and learning record, and install the finished folder.

The final check asks every question when the task can list them (else the
fixed pool and the held-out set). The map of the whole space is made from the
same measurements, so its wrong cells are exactly the exhaustive wrong count.
The folder is written in one atomic step; the exit status says whether the
run met its target: 0 if it did, 1 if it missed it (the model is kept, beside
any earlier one, never over it) or diverged (no model is written). The
headline (every question when they were all asked, else held-out; see
model.metrics.headline) is printed last.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

from model.config import NetworkConfig, TaskConfig, enumerable
from model.learning_record import LearningRecord, save_learning
from model.metrics import headline, not_held_out, percent
from model.question_map import build_map, map_axes, save_map
from model.questions import Questions
from model.storage import (
    HISTORY_FILE,
    LEARNING_FILE,
    MAP_FILE,
    METRICS_FILE,
    NETWORK_FILE,
    SETTINGS_FILE,
    TASK_CONFIG_FILE,
    write_json,
    write_keras_files,
)

from .report import plot_history
from .rundir import RunError, RunFolder
from .settings import TrainSettings
from .train import Log, Outcome, say
from .verify import margins_function, run_together, sample_lines


def finish(
    outcome: Outcome,
    task: TaskConfig,
    net: NetworkConfig,
    settings: TrainSettings,
    folder: RunFolder,
    *,
    log: Log = say,
    chief: bool = True,
    draw_map: bool = True,
) -> int:
    """Verify the trained model, write its folder (weights, task, network, settings, metrics, history, map,
    learning record, curve) in one atomic step, and return the exit status: the one place a model folder is
    written. A worker that is not the chief (chief=False) writes it to a temporary folder, then deletes it:
    only the chief's folder is kept, as in TensorFlow's multi-worker guide. RunError if the run diverged."""
    model = outcome.model
    if outcome.diverged or not all(np.isfinite(w).all() for w in model.get_weights()):
        why = outcome.diverged or "the weights are no longer finite numbers"
        folder.finish()
        raise RunError(f"the run diverged ({why}); no model was saved: try a lower --learning-rate")
    checker, complete = outcome.space, outcome.space_complete
    space = checker.questions
    what = f"every question ({len(space):,})" if complete else f"a pool of {len(space):,} questions"
    log(f"Verifying: {what} and {len(outcome.heldout):,} held out...")
    held_result, space_result = run_together(model, [(outcome.heldout, slice(None)), (checker, slice(None))])
    held = outcome.heldout.summary(*held_result)
    predicted, margins = space_result
    wrong = margins <= 0
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
        "samples_seen": int(outcome.history["samples_seen"][-1]) if outcome.history.get("samples_seen") else 0,
        "training": {**vars(settings), **{f"network_{k}": v for k, v in net.to_dict().items()}},
        "keras_version": _version("keras"),
        "tensorflow_version": _version("tensorflow"),
    }
    if complete:
        metrics.update(exhaustive_wrong=int(wrong.sum()), exhaustive_total=len(space))
    else:
        metrics.update(sample_wrong=int(wrong.sum()), sample_size=len(space))
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
    destination = folder.out if reached or not folder.has_model() else folder.below_target
    if not chief:
        destination = Path(tempfile.mkdtemp(prefix=f"{folder.out.name}.worker-")) / "model"
    whole = map_axes(task)[1]  # a map of every question: read its cells from the measurement just made
    space_map = (  # draw_map=False: no map.npz (Train your own, when drawing it would not fit in the budget)
        build_map(task, (lambda q: lookup(task, margins, q)) if whole else margins_function(model, task))
        if draw_map
        else None
    )
    record = learning_record(outcome, task)

    def write(tmp: Path) -> None:
        write_keras_files(model, tmp)
        task.save(tmp / TASK_CONFIG_FILE)
        net.save(tmp / NETWORK_FILE)
        (tmp / SETTINGS_FILE).write_text(settings.to_json() + "\n", encoding="utf-8")
        write_json(tmp / METRICS_FILE, metrics)
        (tmp / HISTORY_FILE).write_text(json.dumps(outcome.history), encoding="utf-8")
        if space_map is not None:
            save_map(space_map, tmp / MAP_FILE)
        save_learning(record, tmp / LEARNING_FILE)
        plot_history(outcome.history, tmp / "training_curve.png", title=f"{task_title(task, settings)}: how it learned")

    folder.install(write, destination)
    folder.finish()
    if not chief:
        shutil.rmtree(destination.parent, ignore_errors=True)
        destination = folder.out
    disjoint = "" if outcome.heldout_disjoint else f" ({not_held_out(outcome.polish_rounds)})"
    saved = f"Saved to {destination}" if chief else "The chief (worker 0) saves the model"
    log(
        f"Trained {outcome.train_seconds:.0f}s ({outcome.stopped}); held-out exact match "
        f"{percent(held['exact_match'])} on {held['size']:,}{disjoint}. {saved}"
    )
    if not reached:
        where = (
            f"{destination}, beside the earlier model in {folder.out}"
            if destination != folder.out
            else str(destination)
        )
        log(f"{metrics['headline']}.")
        print(
            f"error: the run missed its target ({why}); the model is in {where}, for a look",
            file=sys.stderr,
            flush=True,
        )
        return 1
    if chief:
        log(f"Use it in the app:  python app.py --model {destination}")
    log(f"{metrics['headline']}.")
    return 0


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


def task_title(task: TaskConfig, settings: TrainSettings) -> str:
    """The run's task in a few words: the preset's name when the run trains the preset's own task."""
    from .settings import PRESETS

    preset = PRESETS.get(settings.preset)
    if preset is not None and preset[0] == task:
        return settings.preset
    ops = {"+": "sums", "-": "differences", "*": "products"}
    kind = ops[task.operators] if len(task.operators) == 1 else f"'{task.operators}' questions"
    terms = f"{task.fewest_terms}-{task.terms}" if task.fewest_terms < task.terms else str(task.terms)
    digits = "digit" if task.digits == 1 else "digits"
    return f"{terms} numbers of up to {task.digits} {digits}, {kind}"


def lookup(task: TaskConfig, margins: np.ndarray, q: Questions) -> np.ndarray:
    """Margins of `q` read from the whole-space measurement (the space lists questions in all_questions order)."""
    assert enumerable(task) and task.fewest_terms == task.terms == 2 and len(task.operators) == 1
    values = task.max_term - task.smallest + 1
    return margins[(q.terms[:, 0] - task.smallest) * values + (q.terms[:, 1] - task.smallest)]


def learning_record(outcome: Outcome, task: TaskConfig) -> LearningRecord:
    h = outcome.history
    epochs = len(h.get("loss", []))
    side = len(outcome.probe_axis) if outcome.probe_axis is not None else 1
    probes = np.array(outcome.probes[-epochs:], dtype=np.uint8).reshape(epochs, side, side)
    return LearningRecord(
        samples_seen=np.array(h.get("samples_seen", []), np.int64),
        seconds=np.array(h.get("elapsed_seconds", []), np.float32),
        loss=np.array(h.get("loss", []), np.float32),
        exact_match=np.array(h.get("val_exact_match", []), np.float32),
        per_position=np.array(h.get("per_position", []), np.float32).reshape(epochs, task.answer_length),
        space_wrong=np.array(h.get("space_wrong", []), np.int64),
        probe_margin=probes,
        probe_a=np.asarray(outcome.probe_axis, np.int64),
        probe_b=np.asarray(outcome.probe_axis, np.int64),
    )


def _version(package: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "unknown"
