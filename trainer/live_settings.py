"""What a visitor may ask of "Train your own": `LiveSettings`, each field the trainer's own setting
(model/config.py, trainer/settings.py) narrowed to what a short training on the server can do.

`LIMITS` and `visitor_settings` come from these declarations; the app's tab builds its controls from them
and checks a request with them before anything starts (this module loads no TensorFlow).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from model.bounds import Bound, bound_of, bounds, declared, problem
from model.config import OPERATORS, NetworkConfig, TaskConfig

from .settings import TrainSettings


def _narrowed(config_class: type, name: str, low: float, high: float, label: str, **words: Any) -> Bound:
    return bound_of(config_class, name).narrowed(low=low, high=high, label=label, **words)


@dataclass(frozen=True)
class LiveSettings:
    """One visitor's training: the task, the network, the time budget and how it learns (seed, learning rate,
    batch size), each field the trainer's own setting (model/config.py, trainer/settings.py) with the tighter
    bounds a visitor may ask for."""

    digits: int = declared(2, _narrowed(TaskConfig, "digits", 1, 3, "Digits"))
    terms: int = declared(2, _narrowed(TaskConfig, "terms", 2, 3, "Numbers per question", noun=""))
    operators: str = declared("+", bound_of(TaskConfig, "operators"))
    reverse: bool = declared(True, dataclasses.replace(bound_of(TaskConfig, "reverse"), label="Reverse"))
    cell: str = declared("lstm", dataclasses.replace(bound_of(NetworkConfig, "cell"), label="The cell"))
    units: int = declared(
        64,
        _narrowed(NetworkConfig, "encoder_units", 8, 256, "Units", help="units per layer, encoder and decoder alike"),
    )
    seconds: float = declared(
        30.0,
        _narrowed(
            TrainSettings,
            "time_budget",
            5,
            90,
            "The time budget",
            help="the time budget, final checks included",
            noun="",
            unit="seconds",
            above=False,
            off_means="",
            high_text="",
        ),
    )
    decoder: str = declared("repeat", dataclasses.replace(bound_of(NetworkConfig, "decoder"), label="The decoder"))
    answer_order: str = declared(
        "msb", dataclasses.replace(bound_of(TaskConfig, "answer_order"), label="The answer order")
    )
    seed: int = declared(
        0,
        _narrowed(
            TrainSettings,
            "seed",
            0,
            999_999,  # plenty of different draws, and a number a visitor reads and types at a glance
            "The seed",
            help="the seed: the same seed and settings draw the same questions and start from the same weights",
        ),
    )
    learning_rate: float = declared(
        1e-2,
        _narrowed(
            TrainSettings,
            "learning_rate",
            1e-4,
            0.1,  # Adam on these networks learns nothing useful in 90 s below, and often diverges above
            "The learning rate",
            help="the peak learning rate of Adam (reached after a short warm-up, then decayed over the budget)",
            above=False,
        ),
    )
    batch_size: int = declared(
        128,
        _narrowed(
            TrainSettings,
            "batch_size",
            16,
            512,  # smaller batches make an epoch many slow steps on one thread; larger ones few, long ones
            "The batch size",
            help="questions per gradient step",
        ),
    )

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


def _plain(number: float) -> float:
    """An int where the bound is a whole number (a slider shows 5, not 5.0), else the float."""
    return int(number) if float(number).is_integer() else number


# What a visitor may ask for, as (low, high), for every numeric setting: the app's controls are made from these.
LIMITS = {
    name: (_plain(bound.low), _plain(bound.high))
    for name, bound in bounds(LiveSettings).items()
    if bound.kind in ("whole", "number") and bound.low is not None and bound.high is not None
}


def visitor_settings(raw: Mapping[str, Any]) -> LiveSettings:
    """The settings, or ValueError with one sentence a visitor can act on. Nothing is allocated first."""
    unknown = sorted(str(k)[:30] for k in raw if k not in {f.name for f in dataclasses.fields(LiveSettings)})
    if unknown:
        raise ValueError(f"Unknown setting: {unknown[0]}.")
    given = {**dataclasses.asdict(LiveSettings()), **raw}
    operators = given["operators"]
    if isinstance(operators, (list, tuple)) and all(isinstance(op, str) for op in operators):
        operators = "".join(operators)
    if not isinstance(operators, str) or not operators or len(operators) > 3 or not set(operators) <= set(OPERATORS):
        raise ValueError("Choose at least one operator: +, - or *.")
    for name, bound in bounds(LiveSettings).items():
        sentence = problem(name, given[name], bound) if name != "operators" else None
        if sentence is not None:
            raise ValueError(sentence)
    return LiveSettings(
        digits=int(given["digits"]),
        terms=int(given["terms"]),
        operators="".join(op for op in OPERATORS if op in operators),
        reverse=given["reverse"],
        cell=given["cell"],
        units=int(given["units"]),
        seconds=float(given["seconds"]),
        seed=int(given["seed"]),
        learning_rate=float(given["learning_rate"]),
        batch_size=int(given["batch_size"]),
        decoder=given["decoder"],
        answer_order=given["answer_order"],
    )
