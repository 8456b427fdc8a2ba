"""`python -m trainer.live`: a small training for the app's "Train your own" tab, reported as JSON lines.

The app runs this in a subprocess (niced, one thread) so that training never
starves the server answering other visitors. Each line on stdout is one event:
`start` (the task and the map's axes), `epoch` (loss, held-out exact match,
per-position accuracy, keras.io-style sample lines, and the margins of every
question on the map), then `done` (the model folder) or `error`. It stops when
every question on the map is right with a clear margin, when its time budget is
spent, or when the stop file appears (the visitor pressed Stop); in each case
the model trained so far is saved, as a folder `python app.py --model` and
`keras.saving.load_model` accept. Every size is capped before TensorFlow loads.
"""

from __future__ import annotations

import argparse
import base64
import json
import math
import sys
import time
from pathlib import Path

from model.config import CELLS, NetworkConfig, TaskConfig, enumerable

LIMITS = {"digits": (1, 3), "terms": (2, 3), "units": (8, 256), "seconds": (5, 90)}
TARGET_MARGIN = 0.2  # every question on the map right by this much ends the run early
BATCH = 128
STEPS_PER_EPOCH = 100  # 12,800 questions: an epoch of a second or two, so the page updates often


def emit(event: str, **data) -> None:
    print(json.dumps({"event": event, **data}), flush=True)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m trainer.live", description=__doc__.split("\n\n")[0])
    p.add_argument("--digits", type=int, default=2)
    p.add_argument("--terms", type=int, default=2)
    p.add_argument("--min-terms", type=int)
    p.add_argument("--operators", default="+")
    p.add_argument("--reverse", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--cell", choices=CELLS, default="lstm")
    p.add_argument("--units", type=int, default=64)
    p.add_argument("--seconds", type=float, default=30)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--output", type=Path, required=True, help="the model folder to write")
    p.add_argument("--stop-file", type=Path, help="stop (and save) once this file exists")
    return p


def check(args: argparse.Namespace) -> tuple[TaskConfig, NetworkConfig]:
    """The task and network, or ValueError with one sentence; sizes are capped for a shared server."""
    for name, (low, high) in LIMITS.items():
        value = getattr(args, name)
        if not (isinstance(value, (int, float)) and math.isfinite(value) and low <= value <= high):
            raise ValueError(f"{name} must be from {low} to {high}, got {value!r}")
    task = TaskConfig(
        digits=args.digits, terms=args.terms, min_terms=args.min_terms, operators=args.operators, reverse=args.reverse
    )
    return task, NetworkConfig(cell=args.cell, encoder_units=args.units, decoder_units=args.units)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        task, net = check(args)
    except ValueError as err:
        emit("error", message=str(err))
        return 2
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)  # leave the other core to the server
    tf.config.threading.set_inter_op_parallelism_threads(1)
    try:
        run(task, net, args)
    except Exception as err:  # reported as one sentence to the page; the traceback goes to stderr
        import traceback

        traceback.print_exc()
        emit(
            "error",
            message=f"the training failed: {str(err).splitlines()[0][:200] if str(err) else type(err).__name__}",
        )
        return 1
    return 0


def run(task: TaskConfig, net: NetworkConfig, args: argparse.Namespace) -> None:
    import keras
    import numpy as np
    import tensorflow as tf

    from model.analysis import LearningRecord, build_map, map_questions, quantise, save_learning, save_map
    from model.codec import encode_answers, encode_questions
    from model.network import build_model
    from model.questions import all_questions, answers, sample_questions
    from model.storage import (
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
    from .verify import Checker, sample_lines

    keras.utils.set_random_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    heldout, _ = heldout_set(task, min(1000, max(1, task.question_count // 10)), rng)
    held = Checker(task, heldout)
    grid, axis, complete = map_questions(task, seed=1, most=100)
    on_map = Checker(task, grid)
    emit(
        "start",
        side=len(axis),
        axis=axis.tolist(),
        complete=complete,
        questions=task.question_count,
        task=task.to_dict(),
        network=net.to_dict(),
    )
    model = build_model(task, net)
    peak = 1e-2
    model.compile(optimizer=keras.optimizers.Adam(peak, clipnorm=1.0), loss="sparse_categorical_crossentropy")
    history: dict[str, list] = {k: [] for k in ("loss", "exact", "per_position", "seconds", "samples", "wrong")}
    probes = []
    started, epoch, reason = time.time(), 0, ""
    while not reason:
        elapsed = time.time() - started
        # Cosine decay over the time budget, to a tenth of the peak: the run ends at a low rate whenever it ends.
        model.optimizer.learning_rate.assign(
            peak * (0.1 + 0.45 * (1 + math.cos(math.pi * min(1, elapsed / args.seconds))))
        )
        q = sample_questions(task, BATCH * STEPS_PER_EPOCH, rng)
        x = tf.one_hot(encode_questions(q, task), task.num_chars)
        result = model.fit(x, encode_answers(answers(q), task), batch_size=BATCH, epochs=1, verbose=0, shuffle=False)
        loss = float(result.history["loss"][-1])
        epoch += 1
        predicted, held_margins = held.run(model)
        measured = held.summary(predicted, held_margins)
        _, margins = on_map.run(model)
        probes.append(quantise(margins).reshape(len(axis), len(axis)))
        elapsed = time.time() - started
        wrong = int((margins <= 0).sum())
        for key, value in (
            ("loss", loss),
            ("exact", measured["exact_match"]),
            ("per_position", measured["per_position_accuracy"]),
            ("seconds", elapsed),
            ("samples", epoch * BATCH * STEPS_PER_EPOCH),
            ("wrong", wrong),
        ):
            history[key].append(value)
        picks = rng.choice(len(held), min(5, len(held)), replace=False)
        emit(
            "epoch",
            epoch=epoch,
            seconds=round(elapsed, 2),
            budget=args.seconds,
            loss=loss,
            exact_match=measured["exact_match"],
            per_position=measured["per_position_accuracy"],
            wrong_on_map=wrong,
            samples=sample_lines(task, heldout[picks], predicted[picks]),
            map=base64.b64encode(probes[-1].tobytes()).decode("ascii"),
        )
        if not math.isfinite(loss):
            raise RuntimeError("the loss became NaN; try fewer units")
        if wrong == 0 and float(margins.min()) >= TARGET_MARGIN and measured["exact_match"] == 1.0:
            reason = "every question on the map is right"
        elif elapsed >= args.seconds:
            reason = "the time budget is spent"
        elif args.stop_file is not None and args.stop_file.exists():
            reason = "stopped"

    # Verify and save: every question when the task is small enough, else the map's questions.
    every = all_questions(task) if enumerable(task, 20_000) else grid
    _, final_margins = Checker(task, every).run(model)
    metrics = {
        "heldout_exact_match": history["exact"][-1],
        "heldout_size": len(held),
        "heldout_disjoint": True,
        "train_seconds": round(time.time() - started, 1),
        "samples_seen": history["samples"][-1],
        "epochs": epoch,
        "min_margin": float(final_margins.min()),
        "note": f"trained live in the app ({reason})",
    }
    if enumerable(task, 20_000):
        metrics.update(exhaustive_wrong=int((final_margins <= 0).sum()), exhaustive_total=len(every))
    else:
        metrics.update(sample_wrong=int((final_margins <= 0).sum()), sample_size=len(every))
    space_map = build_map(task, lambda questions: Checker(task, questions).run(model)[1], seed=0)
    record = LearningRecord(
        samples_seen=np.array(history["samples"], np.int64),
        seconds=np.array(history["seconds"], np.float32),
        loss=np.array(history["loss"], np.float32),
        exact_match=np.array(history["exact"], np.float32),
        per_position=np.array(history["per_position"], np.float32),
        space_wrong=np.full(epoch, -1, np.int64),
        probe_margin=np.array(probes, np.uint8),
        probe_a=axis,
        probe_b=axis,
    )

    def write(folder: Path) -> None:
        write_keras_files(model, folder)
        task.save(folder / TASK_CONFIG_FILE)
        net.save(folder / NETWORK_FILE)
        write_json(folder / METRICS_FILE, metrics)
        save_map(space_map, folder / MAP_FILE)
        save_learning(record, folder / LEARNING_FILE)

    write_model_folder(args.output, write)
    emit("done", folder=str(args.output), reason=reason, metrics=metrics)


if __name__ == "__main__":
    sys.exit(main())
