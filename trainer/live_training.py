"""The short training behind "Train your own": the engine's settings for it, its events, its budget with the
final checks inside it, and the run itself (started by `python -m trainer.live`, trainer/live.py).

The training is the project's one engine (trainer/train.py `Training`, with settings made here: short
epochs, no targets of its own), its final check and its folder writer (trainer/final_check.py,
trainer/saving.py), so a live model has the same history keys, metrics and files as any other.
"""

from __future__ import annotations

import base64
import dataclasses
import itertools
import json
import math
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from model.config import TaskConfig

from .live_settings import LIMITS, LiveSettings

TARGET_MARGIN = 0.2  # every question on the map right by this much ends the run early
QUESTIONS_PER_EPOCH = 12_800  # for a 64-unit network: an epoch of about a second at the default batch (128)
MIN_QUESTIONS = 1_280  # larger networks see fewer questions per epoch (they cost more each), but not fewer than this
EPOCH_SECONDS = 1.0  # about how long an epoch takes: the rate's cosine decays over the epochs the budget holds
MAX_EPOCHS = 10_000  # a cap never reached: the budget ends the run
POOL_SIZE = 10_000  # questions that stand for a task too large to list
SAVE_SECONDS = 1.5  # writing the folder (Keras files, map, record, curve) after the final check
WHOLE_SHARE = 1 / 3  # the final check asks every question (and draws the map) only within this share of the budget
MIN_TRAINING = 0.5  # seconds: a last, shorter epoch is worth starting only with at least this much left


class TrainingFailed(Exception):
    """A training that cannot go on, in one sentence for the visitor."""


class Events:
    """JSON lines to `out` (none: a rehearsal, nobody listens)."""

    def __init__(self, out: TextIO | None = None) -> None:
        self.out = out

    @classmethod
    def on_stdout(cls) -> Events:
        """Events on the process's own copy of stdout; anything else written to stdout goes to stderr."""
        sys.stdout.flush()
        out = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
        os.dup2(2, 1)  # Keras' and TensorFlow's prints can no longer break the event stream
        return cls(out)

    def emit(self, event: str, **data: Any) -> None:
        if self.out is not None:
            self.out.write(json.dumps({"event": event, **data}) + "\n")
            self.out.flush()


class Budget:
    """The visitor's seconds, counted from the first epoch; the final checks and the save are inside them."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.started: float | None = None
        self.reserve = SAVE_SECONDS  # seconds kept for the final check and the save, updated as epochs are timed

    def start(self) -> None:
        self.started = time.monotonic()

    def elapsed(self) -> float:
        return 0.0 if self.started is None else time.monotonic() - self.started

    def shown(self) -> float:
        """Seconds to show the visitor: never more than the budget."""
        return round(min(self.elapsed(), self.seconds), 2)

    def training_over(self, coming: float = 0.0) -> bool:
        """Whether `coming` more seconds of training would leave too little for the final checks."""
        return self.elapsed() + coming + self.reserve >= self.seconds


def prepare_tensorflow(rehearse: bool = False) -> None:
    """Import TensorFlow and the training code once, on one thread (the other core serves visitors); with
    `rehearse`, also run a tiny training to a throw-away folder, so TensorFlow's kernels, the engine and the
    folder writer (matplotlib included) are loaded before a visitor's click, not after it."""
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    from . import final_check, saving, train  # noqa: F401

    if rehearse:
        import shutil
        import tempfile

        scratch = Path(tempfile.mkdtemp(prefix="trainer-live-rehearsal-"))
        try:
            tiny = LiveSettings(digits=1, units=8, seconds=LIMITS["seconds"][0])
            run(tiny, scratch / "model", lambda: True, Events())
        finally:
            shutil.rmtree(scratch, ignore_errors=True)


def engine_settings(settings: LiveSettings, task: TaskConfig) -> Any:
    """The live run as the engine's settings: short epochs, no targets of its own, the budget as a cap (the
    live budget, with the final checks inside it, is kept by `Progress.should_stop` first)."""
    from .settings import TrainSettings

    scale = (64 / settings.units) ** 2  # epochs of about a second whatever the network, so the page updates often
    questions = max(MIN_QUESTIONS, min(QUESTIONS_PER_EPOCH, round(QUESTIONS_PER_EPOCH * scale)))
    # The batch size changes how many steps an epoch takes, not how many questions it is: an epoch is the same
    # amount of data whatever the batch (as on keras.io and in TensorFlow Playground), so the curves of two
    # batch sizes read side by side, epoch for epoch, and a larger batch shows what it is: fewer, larger steps.
    # Keeping the steps instead would make a 512-batch epoch four times the questions and time of today's.
    # Its time stays about the same where a step's cost grows with its questions; small batches pay each
    # step's fixed cost more often, so an epoch of 16 or 32 takes longer (the budget still ends it on time).
    # The rehearsal (prepare_tensorflow) runs the default batch only: another batch's first step is slower.
    steps = max(1, round(questions / settings.batch_size))
    return TrainSettings(
        preset="live",
        heldout_size=min(1000, max(1, task.question_count // 10)),
        samples_per_epoch=settings.batch_size * steps,
        batch_size=settings.batch_size,
        learning_rate=settings.learning_rate,
        epochs=MAX_EPOCHS,
        decay_epochs=max(2, round(settings.seconds / EPOCH_SECONDS)),  # the rate reaches its floor near the end
        time_budget=settings.seconds,
        target_margin=None,
        hard_fraction=0.0,  # the space is not re-measured after each epoch; the final check asks all of it
        space_check_size=1_000,
        pool_size=POOL_SIZE,
        seed=settings.seed,
        show_samples=5,
    )


class Progress:
    """The live run's side of the engine: each epoch as an `epoch` event, and when to stop (asked after every
    batch): the visitor's Stop, every question on the map right, or the budget with the final checks' share
    kept. It also decides whether the final check can be every question (and the map) within the budget."""

    def __init__(self, *, budget: Budget, events: Events, asked: Callable[[], bool], whole: int, checked: int):
        self.budget, self.events, self.asked = budget, events, asked
        self.whole_questions = whole  # what the final check asks when it asks every question (and draws the map)
        self.checked = checked  # what each epoch's checks ask (held-out set and probe map)
        self.check_seconds = 0.0  # the last epoch's checks and checkpoint, measured
        self.calls: list[float] = []  # when should_stop was asked since the last epoch's end
        self.reason = ""
        self.whole = True  # whether the final check is every question, and the map is drawn

    def should_stop(self) -> bool:
        self.calls.append(time.monotonic())
        if not self.reason and self.asked():
            self.reason = "stopped"
        elif not self.reason and self.budget.training_over(self.check_seconds + MIN_TRAINING):
            self.reason = "the time budget is spent"
        return bool(self.reason)

    def on_epoch(self, record: dict) -> None:
        import numpy as np

        from model.question_map import quantise

        # The engine asks after every batch (and once more after measuring): the longest gap between two asks,
        # or since the last one, is the epoch's checks (or, if a batch takes longer, that batch): an upper bound.
        times = [*self.calls, time.monotonic()]
        self.check_seconds = max(b - a for a, b in itertools.pairwise(times)) if len(times) > 1 else 0.0
        self.calls = []
        per_question = self.check_seconds / max(1, self.checked)
        whole_seconds = self.whole_questions * per_question
        self.whole = whole_seconds <= WHOLE_SHARE * self.budget.seconds
        self.budget.reserve = SAVE_SECONDS + (whole_seconds if self.whole else self.check_seconds)
        probe = np.asarray(record["probe_margin"], np.uint8)
        wrong = int((probe <= 127).sum())  # quantised margins, as the learning tab reads them: <= 127 is wrong
        self.events.emit(
            "epoch",
            epoch=record["epoch"],
            seconds=self.budget.shown(),
            budget=self.budget.seconds,
            loss=record["loss"],
            exact_match=record["val_exact_match"],
            per_position=record["per_position"],
            wrong_on_map=wrong,
            sample_lines=record["sample_lines"],
            map=base64.b64encode(probe.tobytes()).decode("ascii"),
        )
        if not math.isfinite(record["loss"]):
            raise TrainingFailed("The loss became NaN; try a lower learning rate or fewer units.")
        target = int(quantise(np.array([TARGET_MARGIN]))[0])
        if not self.reason and int(probe.min()) >= target and record["val_exact_match"] == 1.0:
            self.reason = "every question on the map is right"


def run(settings: LiveSettings, output: Path, should_stop: Callable[[], bool], events: Events) -> None:
    """Train on the engine (trainer/train.py), check the model and write its folder (final_check, saving)."""
    from model.question_map import map_axes
    from model.storage import METRICS_FILE

    from .final_check import final_check
    from .rundir import RunError, RunFolder
    from .saving import save_model
    from .settings import check_settings as check_engine_settings
    from .train import Training

    task, net = settings.task(), settings.network()
    engine = engine_settings(settings, task)
    check_engine_settings(engine, task)
    folder = RunFolder(output)
    folder.start(task, net, engine, overwrite=True)
    budget = Budget(settings.seconds)
    progress: Progress | None = None  # made once the engine has drawn its questions
    run = Training(
        task,
        net,
        engine,
        folder,
        on_epoch=lambda record: progress.on_epoch(record) if progress else None,
        should_stop=lambda: progress.should_stop() if progress else False,
        log=to_stderr,
    )
    axis, map_whole = run.probe_axis, map_axes(task)[1]
    assert axis is not None
    cells = 0 if map_whole else len(map_axes(task)[0]) ** 2  # a whole map is read from the final check itself
    progress = Progress(
        budget=budget,
        events=events,
        asked=should_stop,
        whole=len(run.heldout) + len(run.watch.space) + cells,
        checked=len(run.heldout) + len(run.probe),
    )
    given = {  # what the engine was given: the visitor's seed, rate and batch, and the epoch they make
        "seed": engine.seed,
        "learning_rate": engine.learning_rate,
        "batch_size": engine.batch_size,
        "questions_per_epoch": engine.samples_per_epoch,
    }
    events.emit(
        "start",
        side=len(axis),
        axis=axis.tolist(),
        complete=map_whole,
        questions=task.question_count,
        task=task.to_dict(),
        network=net.to_dict(),
        training=given,
        budget=settings.seconds,
    )
    budget.start()
    outcome = run.fit()
    if not progress.whole:  # every question would not fit in the budget: the probe map's questions stand for them
        outcome = dataclasses.replace(outcome, space=run.probe, space_complete=False)
    try:
        check = final_check(outcome, task, net, engine, folder, log=to_stderr)
        save_model(outcome, check, task, net, engine, folder, log=to_stderr, draw_map=progress.whole)
    except RunError as err:
        raise TrainingFailed("The training diverged; try a lower learning rate or fewer units.") from err
    metrics = json.loads((output / METRICS_FILE).read_text(encoding="utf-8"))
    events.emit(
        "done",
        folder=str(output),
        reason=progress.reason or outcome.stopped,
        metrics=metrics,
        seconds=budget.shown(),
        budget=settings.seconds,
        map_saved=progress.whole,
        training=given,
    )


def to_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)
