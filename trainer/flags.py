"""The trainer's flags, made from the settings' declarations (model/bounds.py), and the limits tables.

`python -m trainer.flags` prints the tables that docs/limits-and-security.md holds (tests/test_docs.py
checks they are the same).

Each task, network and training setting becomes one flag: its type, choices, help and bounds come from
the field's `Bound`, and the add3 preset's value is shown as the example. A flag's "off" value (0 or -1,
as the help says) is stored as None. Giving some flags drops preset values that belonged to the preset's
own choice (RESETS).
"""

from __future__ import annotations

import argparse
from typing import Any, NoReturn

from model.bounds import Bound, bounds

# The preset values that stop applying once a flag is given (unless they are given too).
RESETS = {
    "digits": ("largest",),  # a preset's largest number belongs to its own digit count
    "operators": ("alphabet",),  # the alphabet is made from the operators...
    "brackets": ("alphabet",),  # ...and the brackets
    "steps": ("alphabet",),  # ...and the written steps, which have their own
    # A target typed now says what success is: the preset's pass mark belonged to the preset's own target.
    "target_margin": ("pass_accuracy",),
    "target_accuracy": ("pass_accuracy",),
}
NOT_FLAGS = ("alphabet", "padding", "preset")  # set by presets only


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a bad flag is one line (argparse prints the whole usage first): every command of the
    trainer uses it."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def flag_name(field: str) -> str:
    return "--" + field.replace("_", "-")


def flag_names(config_class: type) -> tuple[str, ...]:
    """The fields of a config class that are flags, in declaration order."""
    return tuple(name for name in bounds(config_class) if name not in NOT_FLAGS)


def add_flags(group: Any, config_class: type, example: object | None = None, example_name: str = "add3") -> None:
    """One flag per declared field of `config_class`; `example` (add3's config) gives the help's example."""
    for name in flag_names(config_class):
        bound = bounds(config_class)[name]
        text = bound.flag_help()
        shown = getattr(example, name, None) if example is not None else None
        if shown is not None and not (isinstance(shown, str) and len(shown) > 12):
            text += f" ({example_name}: {_shown(shown)})"
        if bound.kind == "switch":
            group.add_argument(flag_name(name), action=argparse.BooleanOptionalAction, help=text)
        elif bound.kind == "choice":
            group.add_argument(flag_name(name), choices=bound.choices, help=text)
        else:
            kind = {"whole": int, "number": float, "text": str}[bound.kind]
            group.add_argument(flag_name(name), type=kind, help=text)


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    return f"{value:,}" if isinstance(value, int) else str(value)


def off_to_none(name: str, value: Any, bound: Bound) -> Any:
    return None if bound.off is not None and value == bound.off and not isinstance(value, bool) else value


def as_config_values(given: dict[str, Any], config_class: type) -> dict[str, Any]:
    """Values as flags or preset files give them -> values of the config: an off value becomes None, and
    each value a given one resets becomes None too (unless given as well). Unknown names are refused."""
    declared = bounds(config_class)
    unknown = sorted(set(given) - set(declared))
    if unknown:
        raise ValueError(f"unknown setting(s) for {config_class.__name__}: {', '.join(unknown)}")
    values = {name: off_to_none(name, value, declared[name]) for name, value in given.items()}
    resets = {reset: None for name in values for reset in RESETS.get(name, ()) if reset in declared}
    return {**resets, **values}


def given_flags(args: argparse.Namespace, config_class: type) -> dict[str, Any]:
    """The flags of this config class given on the command line, as typed."""
    return {name: getattr(args, name) for name in flag_names(config_class) if getattr(args, name, None) is not None}


def limits_table(*config_classes: type) -> str:
    """A Markdown table of every bounded flag: the one in docs/limits-and-security.md is this table."""
    rows = ["| flag | accepts |", "|---|---|"]
    for config_class in config_classes:
        for name in flag_names(config_class):
            bound = bounds(config_class)[name]
            if bound.kind in ("whole", "number") and bound.high is not None:
                rows.append(f"| `{flag_name(name)}` | {bound.range_text()} |")
    return "\n".join(rows) + "\n"


def limits_markdown() -> str:
    """The two tables of docs/limits-and-security.md: the trainer's flags and Train your own's settings."""
    from model.config import NetworkConfig, TaskConfig

    from .live import LiveSettings
    from .settings import TrainSettings

    return (
        "`python -m trainer` (a flag outside these bounds stops the run with one sentence, exit status 2):\n\n"
        + limits_table(TaskConfig, NetworkConfig, TrainSettings)
        + "\n*Train your own* (`python -m trainer.live`, and the tab's controls):\n\n"
        + limits_table(LiveSettings)
    )


if __name__ == "__main__":
    print(limits_markdown(), end="")
