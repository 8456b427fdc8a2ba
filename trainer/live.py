"""`python -m trainer.live`: a small training for the app's "Train your own" tab, reported as JSON lines.

The app keeps one of these warm (`--warm`): TensorFlow imported, niced and on
one thread, waiting for one line of settings on stdin; it trains once and
exits, and the app starts the next. Each line on stdout is one event: `ready`
(warm and waiting), `start` (the task and the map's axes), `epoch` (loss,
held-out exact match, per-position accuracy, keras.io-style sample lines, the
margins of every question on the map), then `done` or `error`. Anything else
the process prints goes to stderr. The budget is counted from the first
epoch, and the final checks are inside it: training stops early enough that
verifying and saving end by the budget. It stops when every question on the
map is right with a clear margin, when the budget is spent, or when told to
stop (a `stop` line on stdin, or the stop file); the model trained so far is
saved as a folder `python app.py --model` and `keras.saving.load_model` accept.

`LIMITS` and `check_settings` are the one definition of what a visitor may
ask for; the web tab imports them (this module loads TensorFlow only to train).
"""

from __future__ import annotations

import argparse
import base64
import dataclasses
import json
import math
import os
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from model.config import CELLS, OPERATORS, NetworkConfig, TaskConfig

# What a visitor may ask for: whole numbers within these bounds, and the time budget in seconds.
LIMITS = {"digits": (1, 3), "terms": (2, 3), "units": (8, 256), "seconds": (5, 90)}
TARGET_MARGIN = 0.2  # every question on the map right by this much ends the run early
BATCH = 128
STEPS_PER_EPOCH = 100  # 12,800 questions: an epoch of a second or two, so the page updates often
EXHAUSTIVE_LIMIT = 20_000  # tasks with at most this many questions are checked on all of them after each epoch
SAVE_SECONDS = 0.75  # writing the folder (Keras files, map, record) after the final check
MAP_SHARE = 1 / 3  # the whole-space map is drawn only when it fits in this share of the budget
MIN_TRAINING = 0.5  # seconds: a last, shorter epoch is worth starting only with at least this much left
MAX_REQUEST_BYTES = 4096  # the settings line a warm trainer reads


class TrainingFailed(Exception):
    """A training that cannot go on, in one sentence for the visitor."""


@dataclass(frozen=True)
class LiveSettings:
    """One visitor's training: the task, the network and the time budget, all within LIMITS."""

    digits: int = 2
    terms: int = 2
    operators: str = "+"
    reverse: bool = True
    cell: str = "lstm"
    units: int = 64
    seconds: float = 30.0
    seed: int = 0

    def task(self) -> TaskConfig:
        return TaskConfig(digits=self.digits, terms=self.terms, operators=self.operators, reverse=self.reverse)

    def network(self) -> NetworkConfig:
        return NetworkConfig(cell=self.cell, encoder_units=self.units, decoder_units=self.units)


def _whole(value: Any, name: str) -> bool:
    low, high = LIMITS[name]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return False
    return float(value).is_integer() and low <= value <= high


def check_settings(raw: Mapping[str, Any]) -> LiveSettings:
    """The settings, or ValueError with one sentence a visitor can act on. Nothing is allocated first."""
    unknown = sorted(str(k)[:30] for k in raw if k not in {f.name for f in dataclasses.fields(LiveSettings)})
    if unknown:
        raise ValueError(f"Unknown setting: {unknown[0]}.")
    given = {**dataclasses.asdict(LiveSettings()), **raw}
    if not _whole(given["digits"], "digits"):
        raise ValueError("Digits must be a whole number from {} to {}.".format(*LIMITS["digits"]))
    operators = given["operators"]
    if isinstance(operators, (list, tuple)) and all(isinstance(op, str) for op in operators):
        operators = "".join(operators)
    if not isinstance(operators, str) or not operators or len(operators) > 3 or not set(operators) <= set(OPERATORS):
        raise ValueError("Choose at least one operator: +, - or *.")
    if not _whole(given["terms"], "terms"):
        raise ValueError("Numbers per question must be from {} to {}.".format(*LIMITS["terms"]))
    if not isinstance(given["reverse"], bool):
        raise ValueError("Reverse must be true or false.")
    if given["cell"] not in CELLS:
        raise ValueError(f"The cell must be {', '.join(CELLS[:-1])} or {CELLS[-1]}.")
    if not _whole(given["units"], "units"):
        raise ValueError("Units must be a whole number from {} to {}.".format(*LIMITS["units"]))
    seconds = given["seconds"]
    low, high = LIMITS["seconds"]
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not low <= seconds <= high:
        raise ValueError(f"The time budget must be from {low} to {high} seconds.")
    seed = given["seed"]
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**32:
        raise ValueError("The seed must be a whole number from 0 to 2**32-1.")
    return LiveSettings(
        digits=int(given["digits"]),
        terms=int(given["terms"]),
        operators="".join(op for op in OPERATORS if op in operators),
        reverse=given["reverse"],
        cell=given["cell"],
        units=int(given["units"]),
        seconds=float(seconds),
        seed=seed,
    )


class Events:
    """JSON lines on the process's own copy of stdout; anything else written to stdout goes to stderr."""

    def __init__(self) -> None:
        sys.stdout.flush()
        self.out: TextIO = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
        os.dup2(2, 1)  # Keras' and TensorFlow's prints can no longer break the event stream

    def emit(self, event: str, **data: Any) -> None:
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


def stdin_stop(stop: threading.Event) -> None:
    """Watch stdin after the settings: a `stop` line asks for a stop; end of input means the app is gone."""

    def watch() -> None:
        for line in sys.stdin:
            if line.strip() == "stop":
                stop.set()
        os._exit(0)  # the app closed our stdin: it is gone or killing us; nobody reads the result

    threading.Thread(target=watch, daemon=True, name="stdin-stop").start()


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m trainer.live", description=__doc__.split("\n\n")[0])
    p.add_argument("--warm", action="store_true", help="import TensorFlow, then wait for one JSON request on stdin")
    defaults = LiveSettings()
    p.add_argument("--digits", type=int, default=defaults.digits)
    p.add_argument("--terms", type=int, default=defaults.terms)
    p.add_argument("--operators", default=defaults.operators)
    p.add_argument("--reverse", action=argparse.BooleanOptionalAction, default=defaults.reverse)
    p.add_argument("--cell", default=defaults.cell)
    p.add_argument("--units", type=int, default=defaults.units)
    p.add_argument("--seconds", type=float, default=defaults.seconds, help="the time budget, final checks included")
    p.add_argument("--seed", type=int, default=defaults.seed)
    p.add_argument("--output", type=Path, help="the model folder to write")
    p.add_argument("--stop-file", type=Path, help="stop (and save) once this file exists")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    events = Events()
    stop = threading.Event()
    if args.warm:
        prepare_tensorflow()
        events.emit("ready")
        line = sys.stdin.readline(MAX_REQUEST_BYTES)
        if not line:
            return 0  # the app closed before it needed us
        try:
            request = json.loads(line)
            settings = check_settings(request["settings"])
            output = Path(request["output"])
        except (ValueError, KeyError, TypeError) as err:
            message = str(err) if isinstance(err, ValueError) and not isinstance(err, json.JSONDecodeError) else ""
            events.emit("error", message=message or "The training request could not be read.")
            return 2
        stdin_stop(stop)
        should_stop = stop.is_set
    else:
        if args.output is None:
            build_parser().error("--output is required without --warm")
        raw = {f.name: getattr(args, f.name) for f in dataclasses.fields(LiveSettings)}
        try:
            settings = check_settings(raw)
        except ValueError as err:
            events.emit("error", message=str(err))
            return 2
        output, stop_file = args.output, args.stop_file
        should_stop = (lambda: stop_file.exists()) if stop_file else stop.is_set
        prepare_tensorflow()
    try:
        run(settings, output, should_stop, events)
    except TrainingFailed as err:
        events.emit("error", message=str(err))
        return 1
    except Exception:  # the traceback goes to stderr, which the app logs; the page gets one sentence, no paths
        import traceback

        traceback.print_exc()
        events.emit("error", message="The training failed on the server; nothing was saved.")
        return 1
    return 0


def prepare_tensorflow() -> None:
    """Import TensorFlow and the training code once, on one thread (the other core serves visitors)."""
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    import keras
    import numpy as np

    from model.codec import encode_answers, encode_questions
    from model.network import build_model
    from model.questions import answers, sample_questions

    from .verify import Checker, run_together

    # One tiny fit and check: TensorFlow's kernels and Keras' machinery load now, not after the visitor's click.
    task = TaskConfig(digits=1)
    model = build_model(task, NetworkConfig(encoder_units=8, decoder_units=8))
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
    q = sample_questions(task, BATCH, np.random.default_rng(0))
    x = tf.one_hot(encode_questions(q, task), task.num_chars)
    model.fit(x, encode_answers(answers(q), task), batch_size=BATCH, epochs=1, verbose=0)
    run_together(model, [(Checker(task, q), slice(None))])


def run(settings: LiveSettings, output: Path, should_stop: Callable[[], bool], events: Events) -> None:
    import keras
    import numpy as np
    import tensorflow as tf

    from model.analysis import LearningRecord, build_map, map_axes, map_questions, quantise, save_learning, save_map
    from model.codec import encode_answers, encode_questions
    from model.config import enumerable
    from model.network import build_model
    from model.questions import Questions, all_questions, answers, sample_questions
    from model.storage import (
        HISTORY_FILE,
        LEARNING_FILE,
        MAP_FILE,
        METRICS_FILE,
        NETWORK_FILE,
        TASK_CONFIG_FILE,
        write_json,
        write_keras_files,
        write_model_folder,
    )

    from .data import heldout_set
    from .verify import Checker, margins_function, run_together, sample_lines

    task, net = settings.task(), settings.network()
    keras.utils.set_random_seed(settings.seed)
    rng = np.random.default_rng(settings.seed)
    heldout, disjoint = heldout_set(task, min(1000, max(1, task.question_count // 10)), rng)
    held = Checker(task, heldout)
    grid, axis, complete = map_questions(task, seed=1, most=100)
    on_map = Checker(task, grid)
    every = Checker(task, all_questions(task)) if enumerable(task, EXHAUSTIVE_LIMIT) else None
    map_cells = len(map_axes(task)[0]) ** 2
    events.emit(
        "start",
        side=len(axis),
        axis=axis.tolist(),
        complete=complete,
        questions=task.question_count,
        task=task.to_dict(),
        network=net.to_dict(),
        budget=settings.seconds,
    )
    model = build_model(task, net)
    peak = 1e-2
    model.compile(optimizer=keras.optimizers.Adam(peak, clipnorm=1.0), loss="sparse_categorical_crossentropy")
    budget = Budget(settings.seconds)
    history: dict[str, list] = {}
    probes: list[Any] = []
    check_seconds, draw_map, epoch, reason, trained = 0.0, True, 0, "", 0

    class Deadline(keras.callbacks.Callback):
        """Ends an epoch between batches when the budget's training part is spent (Keras 3 checks per batch)."""

        def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
            self.began = time.monotonic()

        def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
            nonlocal trained
            trained += BATCH
            # A long epoch is cut short too, so that the page updates at least every tenth of the budget.
            long = time.monotonic() - self.began > max(1.0, settings.seconds / 10)
            if long or budget.training_over(check_seconds) or should_stop():
                self.model.stop_training = True

    # Trace the checks once before the clock starts, so that the first epoch's check time predicts the others
    # (the share of the budget the final checks need is planned from it). Tracing the training step is part
    # of the first epoch.
    run_together(model, [(held, slice(None))])
    parts: list[tuple[Checker, Any]] = [(held, slice(None)), (on_map, slice(None))]
    parts += [(every, slice(None))] if every else []
    budget.start()
    while not reason:
        # Cosine decay over the budget's training part, to a tenth of the peak: the run ends at a low rate.
        share = min(1.0, budget.elapsed() / max(1.0, settings.seconds - budget.reserve))
        model.optimizer.learning_rate.assign(peak * (0.1 + 0.45 * (1 + math.cos(math.pi * share))))
        q = sample_questions(task, BATCH * STEPS_PER_EPOCH, rng)
        x = tf.one_hot(encode_questions(q, task), task.num_chars)
        result = model.fit(
            x,
            encode_answers(answers(q), task),
            batch_size=BATCH,
            epochs=1,
            verbose=0,
            shuffle=False,
            callbacks=[Deadline()],
        )
        loss = float(result.history["loss"][-1])
        epoch += 1
        checked = time.monotonic()
        results = run_together(model, parts)
        check_seconds = time.monotonic() - checked
        measured = held.summary(*results[0])
        margins = results[1][1]
        space_wrong = int((results[2][1] <= 0).sum()) if every else -1
        probes.append(quantise(margins).reshape(len(axis), len(axis)))
        # What the final map would cost at this epoch's measured speed; drawn only when it fits in the budget.
        map_seconds = map_cells * check_seconds / sum(len(c) for c, _ in parts)
        draw_map = map_seconds <= MAP_SHARE * settings.seconds
        budget.reserve = SAVE_SECONDS + (map_seconds if draw_map else 0.0)
        wrong = int((margins <= 0).sum())
        for key, value in (
            ("loss", loss),
            ("val_exact_match", measured["exact_match"]),
            ("val_char_accuracy", measured["char_accuracy"]),
            ("elapsed_seconds", budget.elapsed()),
            ("samples_seen", trained),
            ("space_wrong", space_wrong),
            ("per_position", measured["per_position_accuracy"]),
        ):
            history.setdefault(key, []).append(value)
        picks = rng.choice(len(held), min(5, len(held)), replace=False)
        events.emit(
            "epoch",
            epoch=epoch,
            seconds=budget.shown(),
            budget=settings.seconds,
            loss=loss,
            exact_match=measured["exact_match"],
            per_position=measured["per_position_accuracy"],
            wrong_on_map=wrong,
            samples=sample_lines(task, heldout[picks], measured["predicted"][picks]),
            map=base64.b64encode(probes[-1].tobytes()).decode("ascii"),
        )
        if not math.isfinite(loss):
            raise TrainingFailed("The loss became NaN; try fewer units.")
        if wrong == 0 and float(margins.min()) >= TARGET_MARGIN and measured["exact_match"] == 1.0:
            reason = "every question on the map is right"
        elif budget.training_over(check_seconds + MIN_TRAINING):
            reason = "the time budget is spent"
        elif should_stop():
            reason = "stopped"

    # The final numbers are the last epoch's checks (they measured the final weights); the map is one more pass.
    final = results[2] if every else results[1]
    final_questions: Questions = every.questions if every else grid
    _, final_margins = final
    metrics: dict[str, Any] = {
        "heldout_exact_match": history["val_exact_match"][-1],
        "heldout_size": len(held),
        "heldout_disjoint": disjoint,
        "train_seconds": round(history["elapsed_seconds"][-1], 1),
        "samples_seen": history["samples_seen"][-1],
        "epochs": epoch,
        "min_margin": float(final_margins.min()),
        "note": f"trained live in the app ({reason})",
    }
    if every:
        metrics.update(exhaustive_wrong=int((final_margins <= 0).sum()), exhaustive_total=len(final_questions))
    else:
        metrics.update(sample_wrong=int((final_margins <= 0).sum()), sample_size=len(final_questions))
    space_map = build_map(task, margins_function(model, task), seed=0) if draw_map else None
    if space_map is not None and space_map.complete and not every:
        metrics.update(exhaustive_wrong=len(space_map.wrong), exhaustive_total=space_map.cells)
    record = LearningRecord(
        samples_seen=np.array(history["samples_seen"], np.int64),
        seconds=np.array(history["elapsed_seconds"], np.float32),
        loss=np.array(history["loss"], np.float32),
        exact_match=np.array(history["val_exact_match"], np.float32),
        per_position=np.array(history["per_position"], np.float32),
        space_wrong=np.array(history["space_wrong"], np.int64),
        probe_margin=np.array(probes, np.uint8),
        probe_a=axis,
        probe_b=axis,
    )

    def write(folder: Path) -> None:
        write_keras_files(model, folder)
        task.save(folder / TASK_CONFIG_FILE)
        net.save(folder / NETWORK_FILE)
        write_json(folder / METRICS_FILE, metrics)
        (folder / HISTORY_FILE).write_text(json.dumps(history), encoding="utf-8")
        if space_map is not None:
            save_map(space_map, folder / MAP_FILE)
        save_learning(record, folder / LEARNING_FILE)

    write_model_folder(output, write)
    events.emit(
        "done",
        folder=str(output),
        reason=reason,
        metrics=metrics,
        seconds=budget.shown(),
        budget=settings.seconds,
        map_saved=space_map is not None,
    )


if __name__ == "__main__":
    sys.exit(main())
