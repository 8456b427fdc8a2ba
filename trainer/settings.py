"""Training settings: one dataclass with its JSON round trip, the presets, and their bounds.

`TrainSettings` holds every choice a run makes besides the task (TaskConfig)
and the network (NetworkConfig). It is written beside the checkpoint, so
`--resume` continues exactly the run that was interrupted, and with the model,
so its card can say how it was trained. Every number is bounded by what the
machine can do, checked before any work starts.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass
from typing import Any

from model.config import NetworkConfig, TaskConfig, parse_json

SCHEDULES = ("cosine", "constant")
MAX_SEED = 2**32 - 1
MAX_ARRAY_BYTES = 2 * 1024**3  # everything the trainer allocates per question, all questions together
MAX_HELDOUT = 1_000_000
MAX_BATCH = 65_536
MAX_SAMPLES_PER_EPOCH = 100_000_000
MAX_EPOCHS = 10_000
MAX_SECONDS = 7 * 24 * 3600
MAX_SHOW = 1000


@dataclass
class TrainSettings:
    preset: str = "add3"
    train_size: int = 0               # unique (keras.io) draws made up front; 0 = fresh random draws every epoch
    heldout_size: int = 20_000        # never-trained-on questions for exact match after every epoch
    samples_per_epoch: int = 200_000  # questions trained on between two checks
    batch_size: int = 1024
    learning_rate: float = 1e-2
    schedule: str = "cosine"          # warm up, then cosine decay to a tenth of the peak over all epochs
    clipnorm: float | None = 1.0
    epochs: int = 12                  # the most epochs
    time_budget: float | None = 120.0  # seconds of training; stops after the epoch that passes it
    target_accuracy: float | None = None  # stop once held-out exact match reaches this (None: use the margin)
    target_margin: float | None = 0.5    # stop once every question (or the whole pool) is right by this margin
    hard_fraction: float = 0.3        # share of each epoch drawn from the questions with the smallest margins
    space_check_size: int = 250_000   # questions of the whole space (or the pool) re-measured after each epoch
    pool_size: int = 500_000          # the pool that stands for the space when it is too large to list
    seed: int = 1337
    show_samples: int = 5             # held-out questions printed after each epoch, keras.io style

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: str) -> TrainSettings:
        data = parse_json(text, "train_settings.json")
        if not isinstance(data, dict):
            raise ValueError("train_settings.json must hold a JSON object")
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def fingerprint(task: TaskConfig, net: NetworkConfig, settings: TrainSettings) -> str:
    """One hash of everything that defines a run: a checkpoint only continues the run with this hash."""
    text = json.dumps([task.to_dict(), net.to_dict(), dataclasses.asdict(settings)], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# Presets: (task, network, settings). Each zoo model is one `python -m trainer --preset NAME`.
ADD3 = (TaskConfig(), NetworkConfig(), TrainSettings())
PRESETS: dict[str, tuple[TaskConfig, NetworkConfig, TrainSettings]] = {
    "add3": ADD3,
    "add2": (TaskConfig(digits=2), NetworkConfig(),
             TrainSettings(preset="add2", samples_per_epoch=100_000, epochs=20, time_budget=120)),
    "add5": (TaskConfig(digits=5), NetworkConfig(encoder_units=256, decoder_units=256),
             TrainSettings(preset="add5", samples_per_epoch=400_000, epochs=40, time_budget=540, target_margin=None,
                           target_accuracy=0.9999, heldout_size=100_000, hard_fraction=0.3)),
    "add-terms": (TaskConfig(digits=2, terms=4, min_terms=2), NetworkConfig(encoder_units=192, decoder_units=192),
                  TrainSettings(preset="add-terms", samples_per_epoch=300_000, epochs=40, time_budget=540,
                                target_margin=None, target_accuracy=0.999, heldout_size=50_000)),
    "sub3": (TaskConfig(operators="-"), NetworkConfig(),
             TrainSettings(preset="sub3", epochs=30, time_budget=540, target_margin=0.2)),
    "mixed3": (TaskConfig(digits=2, terms=3, operators="+-*"), NetworkConfig(encoder_units=256, decoder_units=256),
               TrainSettings(preset="mixed3", samples_per_epoch=300_000, epochs=60, time_budget=540,
                             target_margin=None, target_accuracy=0.99, heldout_size=50_000, learning_rate=5e-3)),
    "mul2": (TaskConfig(digits=2, operators="*"), NetworkConfig(encoder_units=256, decoder_units=256),
             TrainSettings(preset="mul2", samples_per_epoch=200_000, epochs=60, time_budget=540, target_margin=0.1,
                           learning_rate=5e-3)),
    "gru3": (TaskConfig(), NetworkConfig(cell="gru"),
             TrainSettings(preset="gru3", target_margin=None, target_accuracy=None)),
    "rnn3": (TaskConfig(), NetworkConfig(cell="simple_rnn"),
             TrainSettings(preset="rnn3", target_margin=None, target_accuracy=None)),
    # The keras.io example's own recipe: 50,000 distinct questions (45,000 to train on), batch 32,
    # Adam(1e-3), 30 epochs, per-character loss; only compared, so it has no target to miss.
    "keras-io": (TaskConfig(sampling="digits"), NetworkConfig(),
                 TrainSettings(preset="keras-io", train_size=45_000, heldout_size=5_000, samples_per_epoch=45_000,
                               batch_size=32, learning_rate=1e-3, schedule="constant", clipnorm=None, epochs=30,
                               time_budget=None, target_margin=None, hard_fraction=0.0, show_samples=10)),
    # The tutorial: three terms from 1..10, no reversal, left padding, 75,000 random sums in one pass,
    # batch 32; LSTM(100) encoder, LSTM(50) decoder.
    "brownlee": (TaskConfig(digits=2, terms=3, reverse=False, alphabet="0123456789+ ", padding="left",
                            sampling="uniform", smallest=1, largest=10),
                 NetworkConfig(encoder_units=100, decoder_units=50),
                 TrainSettings(preset="brownlee", heldout_size=1_000, samples_per_epoch=75_000, batch_size=32,
                               learning_rate=1e-3, schedule="constant", clipnorm=None, epochs=1, time_budget=None,
                               target_margin=None, hard_fraction=0.0, show_samples=10)),
}
PRESETS["default"] = ADD3


def bytes_per_question(task: TaskConfig) -> int:
    """What the trainer holds per question: terms and operators (int64/int8), tokens in and out, a margin."""
    return 8 * task.terms + task.terms + task.question_length + task.answer_length + 4


def check_settings(s: TrainSettings, task: TaskConfig) -> None:
    """Raise ValueError with one sentence for a setting that cannot work or does not fit the machine."""
    def whole(value: Any, low: int, high: int) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high

    def positive(value: Any, high: float) -> bool:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) \
            and 0 < value <= high

    checks = [
        (whole(s.seed, 0, MAX_SEED), f"--seed must be a whole number from 0 to {MAX_SEED:,}, got {s.seed!r}"),
        (whole(s.heldout_size, 1, MAX_HELDOUT),
         f"--heldout-size must be from 1 to {MAX_HELDOUT:,}, got {s.heldout_size!r}"),
        (whole(s.batch_size, 1, MAX_BATCH), f"--batch-size must be from 1 to {MAX_BATCH:,}, got {s.batch_size!r}"),
        (whole(s.samples_per_epoch, 1, MAX_SAMPLES_PER_EPOCH),
         f"--samples-per-epoch must be from 1 to {MAX_SAMPLES_PER_EPOCH:,}, got {s.samples_per_epoch!r}"),
        (whole(s.epochs, 1, MAX_EPOCHS), f"--epochs must be from 1 to {MAX_EPOCHS:,}, got {s.epochs!r}"),
        (positive(s.learning_rate, 1.0), f"--learning-rate must be a number above 0 and at most 1, "
                                         f"got {s.learning_rate!r}"),
        (s.clipnorm is None or positive(s.clipnorm, 1e6), f"--clipnorm must be a positive number, got {s.clipnorm!r}"),
        (s.time_budget is None or positive(s.time_budget, MAX_SECONDS),
         f"--time-budget must be from 1 second to 7 days, got {s.time_budget!r}"),
        (s.target_accuracy is None or positive(s.target_accuracy, 1.0),
         f"--target-accuracy must be above 0 and at most 1, got {s.target_accuracy!r}"),
        (s.target_margin is None or (isinstance(s.target_margin, (int, float)) and 0 <= s.target_margin < 1),
         f"--target-margin must be from 0 to below 1, got {s.target_margin!r}"),
        (isinstance(s.hard_fraction, (int, float)) and 0 <= s.hard_fraction <= 0.9,
         f"--hard-fraction must be from 0 to 0.9, got {s.hard_fraction!r}"),
        (whole(s.space_check_size, 1_000, 10_000_000),
         f"--space-check-size must be from 1,000 to 10,000,000, got {s.space_check_size!r}"),
        (whole(s.pool_size, 1_000, 10_000_000), f"--pool-size must be from 1,000 to 10,000,000, got {s.pool_size!r}"),
        (whole(s.train_size, 0, 100_000_000), f"--train-size must be from 0 to 100,000,000, got {s.train_size!r}"),
        (s.schedule in SCHEDULES, f"--schedule must be one of {', '.join(SCHEDULES)}, got {s.schedule!r}"),
        (whole(s.show_samples, 0, MAX_SHOW), f"--show-samples must be from 0 to {MAX_SHOW}, got {s.show_samples!r}"),
    ]
    for ok, message in checks:
        if not ok:
            raise ValueError(message)
    if s.batch_size > s.samples_per_epoch:
        raise ValueError(f"--batch-size ({s.batch_size:,}) must not exceed --samples-per-epoch "
                         f"({s.samples_per_epoch:,})")
    held = max(s.train_size, s.samples_per_epoch) + s.heldout_size + s.pool_size + s.space_check_size
    need = held * bytes_per_question(task)
    if need > MAX_ARRAY_BYTES:
        raise ValueError(f"these sizes need about {need / 1024**3:.1f} GiB of question arrays, more than the "
                         f"{MAX_ARRAY_BYTES // 1024**3} GiB this trainer allows: use smaller --train-size, "
                         "--samples-per-epoch, --heldout-size or --pool-size")
