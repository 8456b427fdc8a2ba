"""`python -m trainer.live`: a small training for the app's "Train your own" tab, reported as JSON lines.

The app keeps one of these warm (`--warm`): TensorFlow imported, niced and on
one thread, waiting for one line of settings on stdin; it trains once and
exits, and the app starts the next. Each line on stdout is one event: `ready`
(warm and waiting), `start` (the task and the map's axes), `epoch` (loss,
held-out exact match, per-position accuracy, keras.io-style sample lines, the
margins of every question on the map), then `done` or `error`. Anything else
the process prints goes to stderr.

The training is the project's one engine (trainer/train.py `Training`, with
settings made here: short epochs, no targets of its own) and its one folder
writer (trainer/finish.py), so a live model has the same history keys,
metrics and files as any other. The budget is counted from the first epoch,
and the final checks are inside it: training stops early enough that
verifying and saving end by the budget (the check of every question and the
map are skipped, with a note, when they would not fit). It stops when every
question on the map is right with a clear margin, when the budget is spent, or
when told to stop (a `stop` line on stdin, or the stop file); the model
trained so far is saved as a folder `python app.py --model` and
`keras.saving.load_model` accept.

`LIMITS` and `check_settings` are the one definition of what a visitor may
ask for; the web tab imports them (this module loads TensorFlow only to train).
"""

from __future__ import annotations

import argparse
import base64
import dataclasses
import itertools
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

from model.config import ANSWER_ORDERS, CELLS, DECODERS, OPERATORS, NetworkConfig, TaskConfig

# What a visitor may ask for: whole numbers within these bounds, and the time budget in seconds.
LIMITS = {"digits": (1, 3), "terms": (2, 3), "units": (8, 256), "seconds": (5, 90)}
TARGET_MARGIN = 0.2  # every question on the map right by this much ends the run early
BATCH = 128
STEPS_PER_EPOCH = 100  # 12,800 questions for a 64-unit network: an epoch of about a second
MIN_STEPS = 10  # larger networks take fewer steps per epoch (their steps cost more), but not fewer than this
EPOCH_SECONDS = 1.0  # about how long an epoch takes: the rate's cosine decays over the epochs the budget holds
PEAK_RATE = 1e-2
MAX_EPOCHS = 10_000  # a cap never reached: the budget ends the run
POOL_SIZE = 10_000  # questions that stand for a task too large to list
SAVE_SECONDS = 1.5  # writing the folder (Keras files, map, record, curve) after the final check
WHOLE_SHARE = 1 / 3  # the final check asks every question (and draws the map) only within this share of the budget
MIN_TRAINING = 0.5  # seconds: a last, shorter epoch is worth starting only with at least this much left
MAX_REQUEST_BYTES = 4096  # the settings line a warm trainer reads
WARM_NICENESS = 10  # a warm trainer runs below the app's own threads, so visitors' answers stay fast


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
    decoder: str = "repeat"  # "repeat" (keras.io's RepeatVector) or "attention" (dot attention, teacher forcing)
    answer_order: str = "msb"  # "msb": the answer as people write it; "lsb": units digit first

    def task(self) -> TaskConfig:
        return TaskConfig(
            digits=self.digits,
            terms=self.terms,
            operators=self.operators,
            reverse=self.reverse,
            answer_order=self.answer_order,
        )

    def network(self) -> NetworkConfig:
        # One `units` for both sides: the attention decoder needs the encoder's width, and RepeatVector is happy.
        return NetworkConfig(cell=self.cell, encoder_units=self.units, decoder_units=self.units, decoder=self.decoder)


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
    if not isinstance(given["decoder"], str) or given["decoder"] not in DECODERS:
        raise ValueError(f"The decoder must be {' or '.join(DECODERS)}.")
    if not isinstance(given["answer_order"], str) or given["answer_order"] not in ANSWER_ORDERS:
        raise ValueError("The answer order must be msb (most significant digit first) or lsb (units digit first).")
    return LiveSettings(
        digits=int(given["digits"]),
        terms=int(given["terms"]),
        operators="".join(op for op in OPERATORS if op in operators),
        reverse=given["reverse"],
        cell=given["cell"],
        units=int(given["units"]),
        seconds=float(seconds),
        seed=seed,
        decoder=given["decoder"],
        answer_order=given["answer_order"],
    )


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
    p.add_argument("--decoder", default=defaults.decoder, help=f"{' or '.join(DECODERS)}")
    p.add_argument("--answer-order", default=defaults.answer_order, help="msb, or lsb: the units digit first")
    p.add_argument("--output", type=Path, help="the model folder to write")
    p.add_argument("--stop-file", type=Path, help="stop (and save) once this file exists")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    events = Events.on_stdout()
    stop = threading.Event()
    if args.warm:
        os.nice(WARM_NICENESS)  # the app starts us without a fork, so we lower our own priority
        prepare_tensorflow(rehearse=True)
        events.emit("ready")
        line = sys.stdin.readline(MAX_REQUEST_BYTES)
        if not line:
            return 0  # the app closed before it needed us
        if line.strip() == "stop":  # the visitor pressed Stop before the app had handed us the settings
            events.emit("error", message="The training was stopped before it started; nothing was trained.")
            return 0
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


def prepare_tensorflow(rehearse: bool = False) -> None:
    """Import TensorFlow and the training code once, on one thread (the other core serves visitors); with
    `rehearse`, also run a tiny training to a throw-away folder, so TensorFlow's kernels, the engine and the
    folder writer (matplotlib included) are loaded before a visitor's click, not after it."""
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    from . import finish, train  # noqa: F401

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
    steps = max(MIN_STEPS, min(STEPS_PER_EPOCH, round(STEPS_PER_EPOCH * scale)))
    return TrainSettings(
        preset="live",
        heldout_size=min(1000, max(1, task.question_count // 10)),
        samples_per_epoch=BATCH * steps,
        batch_size=BATCH,
        learning_rate=PEAK_RATE,
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
            samples=record["samples"],
            map=base64.b64encode(probe.tobytes()).decode("ascii"),
        )
        if not math.isfinite(record["loss"]):
            raise TrainingFailed("The loss became NaN; try fewer units.")
        target = int(quantise(np.array([TARGET_MARGIN]))[0])
        if not self.reason and int(probe.min()) >= target and record["val_exact_match"] == 1.0:
            self.reason = "every question on the map is right"


def run(settings: LiveSettings, output: Path, should_stop: Callable[[], bool], events: Events) -> None:
    """Train on the engine (trainer/train.py) and write the folder with its one writer (trainer/finish.py)."""
    from model.question_map import map_axes
    from model.storage import METRICS_FILE

    from .finish import finish
    from .rundir import RunError, RunFolder
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
    events.emit(
        "start",
        side=len(axis),
        axis=axis.tolist(),
        complete=map_whole,
        questions=task.question_count,
        task=task.to_dict(),
        network=net.to_dict(),
        budget=settings.seconds,
    )
    budget.start()
    outcome = run.fit()
    if not progress.whole:  # every question would not fit in the budget: the probe map's questions stand for them
        outcome = dataclasses.replace(outcome, space=run.probe, space_complete=False)
    try:
        finish(outcome, task, net, engine, folder, log=to_stderr, draw_map=progress.whole)
    except RunError as err:
        raise TrainingFailed("The training diverged; try fewer units.") from err
    metrics = json.loads((output / METRICS_FILE).read_text(encoding="utf-8"))
    events.emit(
        "done",
        folder=str(output),
        reason=progress.reason or outcome.stopped,
        metrics=metrics,
        seconds=budget.shown(),
        budget=settings.seconds,
        map_saved=progress.whole,
    )


def to_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
