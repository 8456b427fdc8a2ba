"""Training settings: one dataclass, each field declared with its bounds and help, and its JSON round trip.

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
from dataclasses import dataclass

from model.bounds import Bound, declared, first_problem
from model.config import NetworkConfig, TaskConfig, distinct_count, enumerable
from model.config_files import parse_json

from .pattern_weights import parse_pattern_weights

SCHEDULES = ("cosine", "constant")
MAX_SEED = 2**32 - 1
MAX_ARRAY_BYTES = 2 * 1024**3  # everything the trainer allocates per question, all questions together
MAX_HELDOUT = 1_000_000
MAX_BATCH = 65_536
MAX_SAMPLES_PER_EPOCH = 100_000_000
MAX_EPOCHS = 10_000
MAX_SECONDS = 7 * 24 * 3600
MAX_SHOW = 1000
MAX_LEARNING_RATE = 1e30  # Adam keeps the rate as float32; far above any useful rate, but still a number


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


@dataclass
class TrainSettings:
    """Every choice of a run besides its task and network, each declared once with its bounds and help."""

    preset: str = declared("add3", Bound("the preset the run started from", kind="text"))
    train_size: int = declared(
        0,
        Bound(
            "train on this many questions drawn once, as keras.io does (0: fresh random questions every epoch)",
            low=0,
            high=100_000_000,
        ),
    )
    unique: bool = declared(
        True, Bound("with --train-size: no question twice, as keras.io; --no-unique lets draws repeat", kind="switch")
    )
    heldout_size: int = declared(
        20_000,
        Bound(
            "held-out questions, never trained on, checked each epoch (only up to a tenth of the task's "
            "questions can really be held out; more are drawn and marked so)",
            low=1,
            high=MAX_HELDOUT,
        ),
    )
    samples_per_epoch: int = declared(
        200_000, Bound("questions per epoch; checks follow each epoch", low=1, high=MAX_SAMPLES_PER_EPOCH)
    )
    batch_size: int = declared(1024, Bound("questions per gradient step", low=1, high=MAX_BATCH))
    learning_rate: float = declared(
        1e-2,
        Bound("peak Adam learning rate", kind="number", low=0, above=True, high=MAX_LEARNING_RATE, noun="a number"),
    )
    schedule: str = declared(
        "cosine",
        Bound(
            "learning-rate schedule: cosine (warm-up, then decay to --floor) or constant",
            kind="choice",
            choices=SCHEDULES,
        ),
    )
    clipnorm: float | None = declared(
        1.0,
        Bound(
            "clip gradients to this norm",
            kind="number",
            low=0,
            above=True,
            high=1e6,
            high_text="1e6",
            noun="a number",
            off=0,
            off_means="no clipping",
        ),
    )
    epochs: int = declared(12, Bound("most epochs", low=1, high=MAX_EPOCHS))
    decay_epochs: int | None = declared(
        None,
        Bound(
            "cosine schedule: epochs over which the rate decays, after which it stays at its floor "
            "(default: all epochs)",
            low=1,
            high=MAX_EPOCHS,
        ),
    )
    floor: float = declared(
        0.1, Bound("cosine schedule: the final rate as a fraction of the peak", kind="number", low=0, high=1)
    )
    time_budget: float | None = declared(
        300.0,
        Bound(
            "seconds of training, a cap: the run skips an epoch it expects to pass it and ends one that "
            "reaches it at the next batch; that epoch's checks and the final verification come after",
            kind="number",
            low=0,
            above=True,
            high=MAX_SECONDS,
            high_text="7 days",
            noun="a number of seconds",
            off=0,
            off_means="no limit",
        ),
    )
    target_accuracy: float | None = declared(
        None,
        Bound(
            "stop once held-out exact match reaches this fraction. Without a margin target or a pass mark, "
            "the run passes by reaching it (on every question when they are listed)",
            kind="number",
            low=0,
            above=True,
            high=1,
            off=0,
            off_means="none",
        ),
    )
    target_margin: float | None = declared(
        0.5,
        Bound(
            "stop once every question (or the pool) is right by this margin, p(right) - p(best wrong) "
            "at the weakest position",
            kind="number",
            low=0,
            high=0.999,
            off=-1,
            off_means="none",
        ),
    )
    pass_accuracy: float | None = declared(
        None,
        Bound(
            "the run passes (exit 0) when its headline accuracy (every question when they can be listed, "
            "else held-out) reaches this, whether or not it stopped at its target; a --target-margin or "
            "--target-accuracy, or a task flag that changes the task, given without it drops the preset's",
            kind="number",
            low=0,
            high=1,
            off=-1,
            off_means="pass only by reaching the target",
        ),
    )
    hard_fraction: float = declared(
        0.3,
        Bound("share of each epoch drawn from the questions with the smallest margins", kind="number", low=0, high=0.9),
    )
    pattern_weights: str | None = declared(
        None,
        Bound(
            "draw some operator patterns more often, e.g. '**=8' (a*b*c eight times as often as each other "
            "pattern) or '**=8,+*=2': the operators of a question in order, = a weight from 0.01 to 100",
            kind="text",
        ),
    )
    polish_samples: int | None = declared(
        None,
        Bound(
            "after --decay-epochs, train in short rounds of this many questions, half of them the least "
            "sure ones, re-measuring those near the margin after each (default: off)",
            low=1,
            high=MAX_SAMPLES_PER_EPOCH,
        ),
    )
    # A few hard questions drawn thousands of times each pulled the others below the margin: hence a limit.
    polish_repeats: int | None = declared(
        None,
        Bound(
            "the most times a polishing round draws one hard question; the rest are fresh draws",
            low=1,
            high=MAX_SAMPLES_PER_EPOCH,
            off=0,
            off_means="no limit",
        ),
    )
    # Ending each round on the moving average damps the round-to-round swaps of questions across the margin.
    polish_ema: float | None = declared(
        None,
        Bound(
            "polishing: keep a moving average of the weights with this momentum and end each round on it",
            kind="number",
            low=0.5,
            high=0.9999,
            off=0,
            off_means="off",
        ),
    )
    space_check_size: int = declared(
        250_000,
        Bound("questions of every question (or the pool) re-measured after each epoch", low=1_000, high=10_000_000),
    )
    pool_size: int = declared(
        500_000,
        Bound("size of the random pool that stands for a task too large to list", low=1_000, high=10_000_000),
    )
    seed: int = declared(1337, Bound("random seed for data, weights and shuffling", low=0, high=MAX_SEED))
    show_samples: int = declared(
        5, Bound("held-out questions printed after each epoch, keras.io style", low=0, high=MAX_SHOW)
    )

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: str) -> TrainSettings:
        data = parse_json(text, "train_settings.json")
        if not isinstance(data, dict):
            raise ValueError("train_settings.json must hold a JSON object")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(str(k)[:40] for k in data if k not in known)
        if unknown:
            raise ValueError(f"train_settings.json has unknown field(s): {', '.join(unknown[:5])}")
        return cls(**data)


def heldout_disjoint(task: TaskConfig, size: int) -> bool:
    """Whether `size` questions can be held out: at most a tenth of the task, so training keeps the rest
    (and, for a range of term counts, at least one question of each count, see heldout_set)."""
    smallest = min(distinct_count(exactly(task, k)) for k in range(task.fewest_terms, task.terms + 1))
    return size <= distinct_count(task) // 10 and smallest >= 10


def exactly(task: TaskConfig, terms: int) -> TaskConfig:
    """The task's questions with exactly this many terms."""
    return dataclasses.replace(task, terms=terms, min_terms=None)


def fingerprint(task: TaskConfig, net: NetworkConfig, settings: TrainSettings) -> str:
    """One hash of everything that defines a run: a checkpoint only continues the run with this hash."""
    text = json.dumps([task.to_dict(), net.to_dict(), dataclasses.asdict(settings)], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def question_bytes(s: TrainSettings, task: TaskConfig) -> int:
    """About how many bytes of question arrays a run holds at its peak.

    Per question: terms and operators (9 bytes a term) and, while questions are
    encoded, a few int32/int64 working copies of their tokens (24 bytes a
    character). Held at once: the space (every question, or the pool), the
    held-out set, the fixed training draws (twice, while they are drawn) and
    one epoch's questions (twice: the arrays and the tf.data copy).
    """
    per_question = 9 * task.terms + 24 * (task.question_length + task.answer_length) + 32
    space = task.question_count if enumerable(task) else s.pool_size
    return per_question * (space + s.heldout_size + 2 * s.train_size + 2 * s.samples_per_epoch)


def check_settings(s: TrainSettings, task: TaskConfig) -> None:
    """Raise ValueError with one sentence for a setting that cannot work or does not fit the machine."""
    if not (isinstance(s.preset, str) and len(s.preset) <= 40):
        raise ValueError(f"preset must be a short name, got {str(s.preset)[:40]!r}")
    found = first_problem(s, TrainSettings)
    if found is not None:
        name, sentence = found
        raise ValueError(_flag(name) + sentence[len(name) :] if name != "unique" else sentence)
    if s.batch_size > s.samples_per_epoch:
        raise ValueError(
            f"--batch-size ({s.batch_size:,}) must not exceed --samples-per-epoch ({s.samples_per_epoch:,})"
        )
    if s.pattern_weights is not None:
        parse_pattern_weights(s.pattern_weights, task)
    need = question_bytes(s, task)
    if need > MAX_ARRAY_BYTES:
        raise ValueError(
            f"these sizes need about {need / 1024**3:.1f} GiB of question arrays, more than the "
            f"{MAX_ARRAY_BYTES // 1024**3} GiB this trainer allows: use smaller --train-size, "
            "--samples-per-epoch, --heldout-size or --pool-size"
        )
    if s.train_size and s.unique:
        held_out = s.heldout_size if heldout_disjoint(task, s.heldout_size) else 0
        available = distinct_count(task) - held_out
        if s.train_size > available:
            raise ValueError(
                f"--train-size {s.train_size:,} asks for more distinct questions than the task has "
                f"({available:,} once {held_out:,} are held out); use a smaller --train-size or "
                "--no-unique"
            )
