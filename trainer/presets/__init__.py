"""The presets: one small TOML file each in this folder, read into (task, network, training settings).

A file holds `about` (one line for --help), an optional `based_on` (another preset it changes), and the
values that differ from the defaults under [task], [network] and [training], each with a comment saying
why. Values mean what the same flags mean: `time_budget = 0` is "no limit", as `--time-budget 0` is.
"""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path
from typing import Any

from model.config import NetworkConfig, TaskConfig

from ..flags import as_config_values
from ..settings import TrainSettings

FOLDER = Path(__file__).parent
DEFAULT = "add3"
Preset = tuple[TaskConfig, NetworkConfig, TrainSettings]


def read_preset(name: str, loaded: dict[str, Preset]) -> tuple[Preset, str]:
    """One preset file as (task, network, settings) and its one-line note."""
    data: dict[str, Any] = tomllib.loads((FOLDER / f"{name}.toml").read_text(encoding="utf-8"))
    base = data.get("based_on")
    task, net, settings = loaded[base] if base else (TaskConfig(), NetworkConfig(), TrainSettings())
    task = dataclasses.replace(task, **as_config_values(data.get("task", {}), TaskConfig))
    net = dataclasses.replace(net, **as_config_values(data.get("network", {}), NetworkConfig))
    changes = as_config_values(data.get("training", {}), TrainSettings)
    settings = dataclasses.replace(settings, preset=name, **changes)
    return (task, net, settings), str(data["about"])


def read_presets() -> tuple[dict[str, Preset], dict[str, str]]:
    """Every preset in this folder (those `based_on` another after it), plus 'default' for add3."""
    presets: dict[str, Preset] = {}
    notes: dict[str, str] = {}
    pending = sorted(path.stem for path in FOLDER.glob("*.toml"))
    while pending:
        before = len(pending)
        for name in list(pending):
            base = tomllib.loads((FOLDER / f"{name}.toml").read_text(encoding="utf-8")).get("based_on")
            if base is None or base in presets:
                presets[name], notes[name] = read_preset(name, presets)
                pending.remove(name)
        if len(pending) == before:
            raise ValueError(f"presets based on a preset that is not there: {', '.join(pending)}")
    if DEFAULT in presets:
        presets["default"] = presets[DEFAULT]
    return presets, notes


PRESETS, PRESET_NOTES = read_presets()
