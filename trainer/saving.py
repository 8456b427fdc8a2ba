"""After the final check: write the model folder (Keras files, configs, metrics, history, map, learning
record, curve) in one atomic step, where the check says it belongs.

A run that met its target replaces the output folder's model (kept until the new one is complete); one that
missed it goes beside an earlier model (<output-dir>.below-target/), never over it. A worker that is not the
chief writes its folder to a temporary place and deletes it: only the chief's is kept, as in TensorFlow's
multi-worker guide.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import numpy as np

from model.config import NetworkConfig, TaskConfig, enumerable
from model.learning_record import LearningRecord, save_learning
from model.metrics import not_held_out, percent
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

from .final_check import FinalCheck
from .outcome import Log, Outcome, say
from .report import plot_history
from .rundir import RunFolder
from .settings import TrainSettings
from .verify import margins_function


def save_model(
    outcome: Outcome,
    check: FinalCheck,
    task: TaskConfig,
    net: NetworkConfig,
    settings: TrainSettings,
    folder: RunFolder,
    *,
    log: Log = say,
    chief: bool = True,
    draw_map: bool = True,
) -> Path:
    """Write the model folder in one step and clear the work folder; return where the model is."""
    destination = folder.out if check.reached or not folder.has_model() else folder.below_target
    if not chief:
        destination = Path(tempfile.mkdtemp(prefix=f"{folder.out.name}.worker-")) / "model"
    whole = map_axes(task)[1]  # a map of every question: read its cells from the final check's margins
    question_map = (  # draw_map=False: no map.npz (Train your own, when drawing it would not fit in the budget)
        build_map(task, (lambda q: lookup(task, check.margins, q)) if whole else margins_function(outcome.model, task))
        if draw_map
        else None
    )
    record = learning_record(outcome, task)

    def write(tmp: Path) -> None:
        write_keras_files(outcome.model, tmp)
        task.save(tmp / TASK_CONFIG_FILE)
        net.save(tmp / NETWORK_FILE)
        (tmp / SETTINGS_FILE).write_text(settings.to_json() + "\n", encoding="utf-8")
        write_json(tmp / METRICS_FILE, check.metrics)
        (tmp / HISTORY_FILE).write_text(json.dumps(outcome.history), encoding="utf-8")
        if question_map is not None:
            save_map(question_map, tmp / MAP_FILE)
        save_learning(record, tmp / LEARNING_FILE)
        plot_history(outcome.history, tmp / "training_curve.png", title=f"{task_title(task, settings)}: how it learned")

    folder.install(write, destination)
    folder.close()
    if not chief:
        shutil.rmtree(destination.parent, ignore_errors=True)
        destination = folder.out
    disjoint = "" if outcome.heldout_disjoint else f" ({not_held_out(outcome.polish_rounds)})"
    saved = f"Saved to {destination}" if chief else "The chief (worker 0) saves the model"
    log(
        f"Trained {outcome.train_seconds:.0f}s ({outcome.stopped}); held-out exact match "
        f"{percent(check.held['exact_match'])} on {check.held['size']:,}{disjoint}. {saved}"
    )
    return destination


def task_title(task: TaskConfig, settings: TrainSettings) -> str:
    """The run's task in a few words: the preset's name when the run trains the preset's own task."""
    from .presets import PRESETS

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
