"""Training settings: one dataclass, its JSON round trip, the presets, and their checks.

`TrainSettings` holds every choice a run makes besides the task itself (the
TaskConfig). It is written to `train_settings.json` in the output folder, so
`--resume` continues exactly the run that was interrupted and the model card
can say how a model was trained.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

from model.config import TaskConfig

SCHEDULES = ("cosine", "constant")


@dataclass
class TrainSettings:
    preset: str = "default"
    train_size: int = 2_400_000      # training questions generated up front
    heldout_size: int = 50_000       # never-trained-on questions for exact-match
    unique: bool = False             # keras.io: no question twice; otherwise independent random draws
    samples_per_epoch: int = 400_000  # how much one epoch trains on (one held-out check per epoch)
    batch_size: int = 512
    learning_rate: float = 1e-2
    schedule: str = "cosine"          # warm up then cosine-decay to zero over all epochs
    clipnorm: float | None = 1.0
    epochs: int = 6
    time_budget: float | None = 300.0  # seconds of training; stops after the epoch that passes it
    # Stop early only once all 50,000 held-out questions are right: fewer can
    # pass by luck while a million-question check would still find ~100 errors.
    target_accuracy: float = 1.0
    encoder_units: int = 128
    decoder_units: int = 128
    encoder_layers: int = 1
    decoder_layers: int = 1
    seed: int = 1337
    show_samples: int = 10             # validation questions printed after each epoch

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: str) -> "TrainSettings":
        data = json.loads(text)
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


# Each preset is (task, settings). The keras-io and brownlee presets reproduce
# the two seed documents: their data generation, sizes, batch and optimizer.
PRESETS: dict[str, tuple[TaskConfig, TrainSettings]] = {
    "default": (TaskConfig(), TrainSettings()),
    "keras-io": (
        TaskConfig(sampling="digits"),
        # 50k unique questions of which 10% are held out => 45k to train on; Adam(1e-3).
        TrainSettings(preset="keras-io", train_size=45_000, heldout_size=5_000, unique=True, samples_per_epoch=45_000,
                      batch_size=32, learning_rate=1e-3, schedule="constant", clipnorm=None, epochs=30,
                      time_budget=None, target_accuracy=1.0),
    ),
    "brownlee": (
        # Three terms from 1..10, no reversal, left padding, alphabet 0-9 '+' ' '.
        TaskConfig(digits=2, terms=3, reverse=False, alphabet="0123456789+ ", padding="left",
                   sampling="uniform", smallest=1, largest=10),
        # 75,000 fresh random sums, one pass, batch 32; LSTM(100) encoder, LSTM(50) decoder.
        TrainSettings(preset="brownlee", train_size=75_000, heldout_size=1_000, unique=False,
                      samples_per_epoch=75_000, batch_size=32, learning_rate=1e-3, schedule="constant",
                      clipnorm=None, epochs=1, time_budget=None, target_accuracy=1.0,
                      encoder_units=100, decoder_units=50),
    ),
}


def check_settings(settings: TrainSettings, task: TaskConfig, distinct: int) -> None:
    """Raise ValueError with one clear sentence for settings that cannot work."""
    s = settings
    checks = [
        (s.train_size >= 1, f"--train-size must be at least 1, got {s.train_size}"),
        (s.heldout_size >= 1, f"--heldout-size must be at least 1, got {s.heldout_size}"),
        (s.batch_size >= 1, f"--batch-size must be at least 1, got {s.batch_size}"),
        (s.learning_rate > 0, f"--learning-rate must be positive, got {s.learning_rate}"),
        (s.epochs >= 1, f"--epochs must be at least 1, got {s.epochs}"),
        (s.samples_per_epoch >= s.batch_size,
         f"--samples-per-epoch ({s.samples_per_epoch}) must be at least one batch ({s.batch_size})"),
        (s.time_budget is None or s.time_budget > 0, f"--time-budget must be positive, got {s.time_budget}"),
        (0 < s.target_accuracy <= 1, f"--target-accuracy must be in (0, 1], got {s.target_accuracy}"),
        (min(s.encoder_units, s.decoder_units) >= 1, "--encoder-units and --decoder-units must be at least 1"),
        (min(s.encoder_layers, s.decoder_layers) >= 1, "--encoder-layers and --decoder-layers must be at least 1"),
        (s.clipnorm is None or s.clipnorm > 0, f"--clipnorm must be positive, got {s.clipnorm}"),
        (s.schedule in SCHEDULES, f"--schedule must be one of {', '.join(SCHEDULES)}"),
        (s.show_samples >= 0, f"--show-samples must be 0 or more, got {s.show_samples}"),
    ]
    for ok, message in checks:
        if not ok:
            raise ValueError(message)
    if s.unique and s.train_size + s.heldout_size > distinct:
        raise ValueError(
            f"--train-size {s.train_size:,} plus --heldout-size {s.heldout_size:,} is more than the "
            f"{distinct:,} distinct questions of a {task.terms}-term, {task.digits}-digit task "
            f"(use --no-unique to draw questions with repetition)")


def save_settings(settings: TrainSettings, path: Path) -> None:
    path.write_text(settings.to_json() + "\n", encoding="utf-8")
