"""Save and load a trained model folder: Keras 3's own files plus our task config.

A model folder holds what `model.save(folder, zipped=False)` writes (and what
Keras puts on the Hub): `config.json`, `metadata.json`, `model.weights.h5`,
beside `task_config.json` (the TaskConfig) and, when known, `metrics.json`.
So `keras.saving.load_model(folder)` works for any Keras user, and our loader
additionally checks that the network and the task config agree.

Loading is safe: Keras `safe_mode` stays on (no lambdas, no pickle) and no
code from the folder is run.
"""

from __future__ import annotations

import json
from pathlib import Path

from .config import ConfigError, TaskConfig
from .network import check_model_fits, keras

TASK_CONFIG_FILE = "task_config.json"
METRICS_FILE = "metrics.json"
KERAS_FILES = ("config.json", "metadata.json", "model.weights.h5")
BUNDLED_DIR = Path(__file__).resolve().parent / "bundled"


class ModelLoadError(RuntimeError):
    """A model folder that cannot be used, with a sentence saying why."""


def save_model_dir(model: keras.Model, config: TaskConfig, folder: str | Path,
                   metrics: dict | None = None) -> Path:
    """Write `model` (weights only, no optimizer state) and its task config to `folder`."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    # A clone carries the architecture and weights but not the optimizer, which
    # would triple the file size and mean nothing to someone using the model.
    inference_copy = keras.Sequential.from_config(model.get_config())
    inference_copy.set_weights(model.get_weights())
    inference_copy.save(folder, zipped=False)
    config.save(folder / TASK_CONFIG_FILE)
    if metrics is not None:
        (folder / METRICS_FILE).write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    return folder


def read_metrics(folder: str | Path) -> dict:
    """The metrics stored with a model, or {} when there are none or they are unreadable."""
    try:
        data = json.loads((Path(folder) / METRICS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def load_model_dir(folder: str | Path) -> tuple[keras.Model, TaskConfig]:
    """Load a model folder and check it; raise ModelLoadError naming what is wrong."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ModelLoadError(f"{folder} is not a model folder (it does not exist or is not a directory)")
    missing = [name for name in (*KERAS_FILES, TASK_CONFIG_FILE) if not (folder / name).is_file()]
    if missing:
        raise ModelLoadError(f"{folder} lacks {', '.join(missing)}")
    try:
        config = TaskConfig.load(folder / TASK_CONFIG_FILE)
    except (ConfigError, TypeError, OSError, UnicodeDecodeError) as err:
        raise ModelLoadError(f"{TASK_CONFIG_FILE} in {folder} is invalid: {err}") from None
    try:
        model = keras.saving.load_model(folder, compile=False, safe_mode=True)
    except Exception as err:  # Keras raises many kinds for a bad file; all mean "unusable".
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ModelLoadError(
            f"the Keras files in {folder} could not be loaded (truncated, corrupt or not matching "
            f"each other): {first_line[:300]}") from None
    try:
        check_model_fits(model, config)
    except ValueError as err:
        raise ModelLoadError(f"{folder}: {err}") from None
    return model, config
