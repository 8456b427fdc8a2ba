"""The task an addition model solves: how sums are drawn, written and padded.

One `TaskConfig` travels with every trained model (as `task_config.json`), so the
trainer, the Hub loader and the app agree on exactly what the network reads and
writes. Everything here is plain data plus a JSON round trip; the arithmetic of
string lengths lives here too because it is what ties the config to the
network's input and output shapes.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

PAD = " "
PLUS = "+"
DIGITS = "0123456789"
SAMPLINGS = ("digits", "uniform", "mixed")
PADDINGS = ("right", "left")


class ConfigError(ValueError):
    """A task config that cannot describe a working addition task."""


@dataclass(frozen=True)
class TaskConfig:
    """What one model learned to do.

    digits:   the most digits a term may have (3 means terms up to 999).
    terms:    how many numbers are added ("535+61" has 2 terms).
    reverse:  feed the question reversed ("535+61 " is read as " 16+535"),
              which shortens the path from a digit to its column's answer.
    alphabet: the characters, in one-hot order; must hold 0-9, "+" and " ".
    padding:  "right" pads text with trailing spaces (keras.io), "left" with
              leading spaces (the tutorial).
    sampling: how training terms are drawn: "digits" picks a length 1..digits
              then its digits (keras.io), "uniform" picks a value uniformly,
              "mixed" draws half of each.
    smallest: the least term value (the tutorial draws from 1).
    largest:  the greatest term value; None means 10**digits - 1.
    """

    digits: int = 3
    terms: int = 2
    reverse: bool = True
    alphabet: str = " +0123456789"
    padding: str = "right"
    sampling: str = "mixed"
    smallest: int = 0
    largest: int | None = None

    def __post_init__(self) -> None:
        validate(self)

    # Derived sizes -------------------------------------------------------
    @property
    def max_term(self) -> int:
        return 10**self.digits - 1 if self.largest is None else self.largest

    @property
    def term_width(self) -> int:
        """Characters the largest term needs."""
        return len(str(self.max_term))

    @property
    def question_length(self) -> int:
        return self.terms * self.term_width + (self.terms - 1)

    @property
    def answer_length(self) -> int:
        return len(str(self.terms * self.max_term))

    @property
    def num_chars(self) -> int:
        return len(self.alphabet)

    # JSON round trip -----------------------------------------------------
    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict) -> "TaskConfig":
        if not isinstance(data, dict):
            raise ConfigError(f"task config must be a JSON object, got {type(data).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"task config has unknown field(s): {', '.join(unknown)}")
        return cls(**data)

    @classmethod
    def from_json(cls, text: str) -> "TaskConfig":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise ConfigError(f"task config is not valid JSON: {err}") from None
        return cls.from_dict(data)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(self.to_json() + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> "TaskConfig":
        return cls.from_json(Path(path).read_text(encoding="utf-8"))


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def validate(config: TaskConfig) -> None:
    """Raise ConfigError with one clear sentence if the config is unusable."""
    _check(_is_int(config.digits) and 1 <= config.digits <= 9,
           f"digits must be a whole number from 1 to 9, got {config.digits!r}")
    _check(_is_int(config.terms) and 2 <= config.terms <= 18,
           f"terms must be a whole number from 2 to 18, got {config.terms!r}")
    _check(isinstance(config.reverse, bool), f"reverse must be true or false, got {config.reverse!r}")
    _check(isinstance(config.alphabet, str), "alphabet must be a string")
    _check(len(set(config.alphabet)) == len(config.alphabet),
           f"alphabet has repeated characters: {config.alphabet!r}")
    missing = sorted(set(DIGITS + PLUS + PAD) - set(config.alphabet))
    _check(not missing, f"alphabet {config.alphabet!r} lacks {''.join(missing)!r}")
    _check(config.padding in PADDINGS, f"padding must be one of {PADDINGS}, got {config.padding!r}")
    _check(config.sampling in SAMPLINGS, f"sampling must be one of {SAMPLINGS}, got {config.sampling!r}")
    _check(_is_int(config.smallest) and config.smallest >= 0,
           f"smallest must be a whole number >= 0, got {config.smallest!r}")
    if config.largest is not None:
        _check(_is_int(config.largest) and 1 <= config.largest < 10**config.digits,
               f"largest must be a whole number from 1 to {10**config.digits - 1}, got {config.largest!r}")
    _check(config.smallest < config.max_term,
           f"smallest ({config.smallest}) must be below the largest term ({config.max_term})")
    # Questions are told apart by one 64-bit number (trainer/data.py); keep the count of them below 10**18.
    _check((config.max_term + 1) ** config.terms <= 10**18,
           f"{config.terms} terms of up to {config.digits} digits make more questions than this project can "
           f"handle (at most 10**18): use fewer terms or digits")


def sample_terms(config: TaskConfig, n: int, rng: np.random.Generator) -> np.ndarray:
    """(n, terms) random term values drawn the way `config.sampling` says."""
    shape = (n, config.terms)
    low, high = config.smallest, config.max_term
    uniform = rng.integers(low, high + 1, size=shape)
    if config.sampling == "uniform":
        return uniform
    # keras.io: pick a length 1..digits, then that many random digits.
    lengths = rng.integers(1, config.digits + 1, size=shape)
    by_digits = np.clip(rng.integers(0, 10**lengths), low, high)
    if config.sampling == "digits":
        return by_digits
    return np.where(rng.random((n, 1)) < 0.5, by_digits, uniform)
