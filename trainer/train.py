"""Fit the addition LSTM: data -> model -> epochs with checks -> verified output folder.

Each epoch ends with a held-out exact-match check (and a few keras.io-style
sample lines), so the run can stop as soon as the target is met or the time
budget is spent, and keep the best weights it saw. Keras' BackupAndRestore
writes a checkpoint after every epoch; `--resume` continues from it.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from model.codec import encode_answers, encode_questions
from model.config import TaskConfig
from model.network import build_model, keras
from model.predictor import Predictor
from model.storage import save_model_dir

from . import verify
from .data import count_distinct_questions, make_questions, sample_terms, unordered_keys
from .report import plot_history
from .settings import TrainSettings, save_settings

import tensorflow as tf  # noqa: E402  (after model.network sets the Keras backend)

CHECKPOINT_DIR = "checkpoint"
HISTORY_FILE = "history.json"


def make_splits(task: TaskConfig, settings: TrainSettings, rng: np.random.Generator):
    """Held-out questions (uniform over the task, like the exhaustive check) and training questions.

    Training never sees a held-out question, in either order, unless the task
    is so small (the tutorial's 220 questions) that every question is seen.
    """
    distinct = count_distinct_questions(task)
    separable = settings.heldout_size <= distinct // 10
    heldout_task = dataclasses.replace(task, sampling="uniform")
    heldout = make_questions(heldout_task, settings.heldout_size, rng, unique=separable)
    exclude = unordered_keys(heldout, task) if separable else None
    if settings.unique:
        return heldout, make_questions(task, settings.train_size, rng, exclude=exclude)
    # Independent draws repeat the common short questions, which keeps the model
    # right on 0+7 as well as 535+61; drop held-out ones and top up.
    train = np.zeros((0, task.terms), dtype=np.int64)
    while len(train) < settings.train_size:
        draws = sample_terms(task, settings.train_size - len(train), rng)
        if exclude is not None:
            draws = draws[~np.isin(unordered_keys(draws, task), exclude)]
        train = np.concatenate([train, draws])
    return heldout, train


def make_dataset(task: TaskConfig, terms: np.ndarray, settings: TrainSettings, seed: int) -> tf.data.Dataset:
    """An endless, shuffled stream of (one-hot question, answer indices) batches."""
    x = encode_questions(terms, task).astype(np.int8)
    y = encode_answers(terms.sum(1), task).astype(np.int8)
    depth = task.num_chars
    return (tf.data.Dataset.from_tensor_slices((x, y))
            # Draws are already in random order; the buffer re-mixes repeated epochs.
            .shuffle(min(len(x), 100_000), seed=seed, reshuffle_each_iteration=True)
            .repeat()
            .batch(settings.batch_size, drop_remainder=True)
            .map(lambda q, a: (tf.one_hot(tf.cast(q, tf.int32), depth), tf.cast(a, tf.int32)),
                 num_parallel_calls=tf.data.AUTOTUNE)
            .prefetch(tf.data.AUTOTUNE))


def make_optimizer(settings: TrainSettings, steps_per_epoch: int) -> keras.optimizers.Optimizer:
    total = steps_per_epoch * settings.epochs
    rate = settings.learning_rate
    if settings.schedule == "cosine":
        # A short warm-up keeps Adam's first large steps from saturating the LSTM
        # gates; the decay to zero at the end is what turns 99.9% into 99.99%.
        warmup = max(1, total // 20)
        rate = keras.optimizers.schedules.CosineDecay(
            0.0, decay_steps=max(1, total - warmup), warmup_target=settings.learning_rate, warmup_steps=warmup)
    return keras.optimizers.Adam(rate, clipnorm=settings.clipnorm)


class EpochCheck(keras.callbacks.Callback):
    """After each epoch: held-out exact-match, sample lines, history file, best weights, stopping."""

    def __init__(self, task, settings, heldout, out_dir: Path, history: dict, started: float):
        super().__init__()
        self.task, self.settings, self.heldout = task, settings, heldout
        self.out_dir, self.history, self.started = out_dir, history, started
        self.best_path = out_dir / CHECKPOINT_DIR / "best.weights.h5"
        self.rng = np.random.default_rng(settings.seed + 1)
        self.predictor: Predictor | None = None

    def on_train_begin(self, logs=None):
        self.predictor = Predictor(self.model, self.task)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        measured = verify.heldout_metrics(self.predictor, self.heldout)
        logs["val_exact_match"] = measured["exact_match"]
        logs["val_char_accuracy"] = measured["char_accuracy"]
        elapsed = time.time() - self.started
        samples = (epoch + 1) * self.settings.samples_per_epoch
        for key, value in {**logs, "elapsed_seconds": elapsed, "samples_seen": samples}.items():
            self.history.setdefault(key, [])
            self.history[key] = self.history[key][:epoch] + [float(value)]
        best_so_far = max(self.history["val_exact_match"][:-1], default=-1.0)
        if measured["exact_match"] > best_so_far or not self.best_path.exists():
            self.best_path.parent.mkdir(parents=True, exist_ok=True)
            self.model.save_weights(self.best_path)
        (self.out_dir / HISTORY_FILE).write_text(json.dumps(self.history), encoding="utf-8")

        per_epoch = elapsed / (epoch + 1)
        eta = per_epoch * (self.settings.epochs - epoch - 1)
        print(f"epoch {epoch + 1}/{self.settings.epochs}: loss {logs.get('loss', float('nan')):.4f}  "
              f"held-out exact-match {measured['exact_match']:.4%}  chars {measured['char_accuracy']:.4%}  "
              f"samples {samples:,}  elapsed {elapsed:.0f}s  ETA {eta:.0f}s", flush=True)
        if self.settings.show_samples:
            picks = self.heldout[self.rng.choice(len(self.heldout), min(self.settings.show_samples, len(self.heldout)),
                                                 replace=False)]
            print("\n".join(verify.sample_lines(self.predictor, picks)), flush=True)

        if measured["exact_match"] >= self.settings.target_accuracy:
            print(f"Target exact-match {self.settings.target_accuracy:.4%} reached; stopping.", flush=True)
            self.model.stop_training = True
        elif self.settings.time_budget and elapsed >= self.settings.time_budget:
            print(f"Time budget of {self.settings.time_budget:.0f}s spent; stopping.", flush=True)
            self.model.stop_training = True


def train(task: TaskConfig, settings: TrainSettings, out_dir: Path, resume: bool = False) -> dict:
    """Run training into `out_dir` and return the final metrics."""
    out_dir.mkdir(parents=True, exist_ok=True)
    task.save(out_dir / "task_config.json")
    save_settings(settings, out_dir / "train_settings.json")
    keras.utils.set_random_seed(settings.seed)
    rng = np.random.default_rng(settings.seed)

    print(f"Generating data: {settings.train_size:,} training and {settings.heldout_size:,} held-out questions...",
          flush=True)
    heldout, train_terms = make_splits(task, settings, rng)
    dataset = make_dataset(task, train_terms, settings, settings.seed)
    steps = settings.samples_per_epoch // settings.batch_size

    model = build_model(task, settings.encoder_units, settings.decoder_units,
                        settings.encoder_layers, settings.decoder_layers)
    model.compile(optimizer=make_optimizer(settings, steps), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])

    history: dict = {}
    history_path = out_dir / HISTORY_FILE
    if resume and history_path.exists():
        history = json.loads(history_path.read_text(encoding="utf-8"))
    started = time.time() - (history.get("elapsed_seconds") or [0.0])[-1]

    callbacks = [
        EpochCheck(task, settings, heldout, out_dir, history, started),
        # After EpochCheck, so a checkpoint never runs ahead of the history file.
        keras.callbacks.BackupAndRestore(str(out_dir / CHECKPOINT_DIR / "backup"), double_checkpoint=True),
    ]
    verbose = 1 if sys.stdout.isatty() else 0  # a live bar in a terminal; logs get our epoch line only
    try:
        model.fit(dataset, epochs=settings.epochs, steps_per_epoch=steps, callbacks=callbacks, verbose=verbose)
    except KeyboardInterrupt:
        print(f"\nInterrupted. The last finished epoch is saved; continue with:\n"
              f"  python -m trainer --output-dir {out_dir} --resume", flush=True)
        raise SystemExit(130) from None
    train_seconds = time.time() - started

    best_path = out_dir / CHECKPOINT_DIR / "best.weights.h5"
    if best_path.exists():
        model.load_weights(best_path)
    metrics = finish(model, task, settings, heldout, history, train_seconds, out_dir)
    shutil.rmtree(out_dir / CHECKPOINT_DIR, ignore_errors=True)
    return metrics


def finish(model, task, settings, heldout, history, train_seconds, out_dir: Path) -> dict:
    """Verify the best model and write the output folder."""
    predictor = Predictor(model, task)
    print("Verifying on the held-out set...", flush=True)
    measured = verify.heldout_metrics(predictor, heldout)
    metrics = {
        "heldout_exact_match": measured["exact_match"],
        "heldout_char_accuracy": measured["char_accuracy"],
        "heldout_per_position_accuracy": measured["per_position_accuracy"],
        "heldout_size": measured["size"],
        "exhaustive_wrong": None,
        "exhaustive_total": None,
        "train_seconds": round(train_seconds, 1),
        "samples_seen": int(history["samples_seen"][-1]) if history.get("samples_seen") else 0,
        "epochs": len(history.get("loss", [])),
        "training": asdict(settings),
        "keras_version": keras.__version__,
        "tensorflow_version": tf.__version__,
    }
    if verify.exhaustive_feasible(task):
        started = time.time()
        exhaustive = verify.exhaustive_check(predictor)
        metrics["exhaustive_wrong"], metrics["exhaustive_total"] = exhaustive["wrong"], exhaustive["total"]
        metrics["exhaustive_seconds"] = round(time.time() - started, 1)
        print(f"Exhaustive check: {exhaustive['wrong']:,} wrong of {exhaustive['total']:,} questions "
              f"({metrics['exhaustive_seconds']}s).", flush=True)
        for line in exhaustive["failures"]:
            print("  " + line)
    save_model_dir(model, task, out_dir, metrics)
    (out_dir / HISTORY_FILE).write_text(json.dumps(history), encoding="utf-8")
    plot_history(history, out_dir / "training_curve.png", title=f"{settings.preset} run")
    print(f"Held-out exact-match {metrics['heldout_exact_match']:.4%} on {metrics['heldout_size']:,} questions; "
          f"trained {train_seconds:.0f}s on {metrics['samples_seen']:,} samples. Saved to {out_dir}", flush=True)
    return metrics
