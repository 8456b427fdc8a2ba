"""Find the model the app should serve: a local folder, a Hub repo, or the bundled one.

Order: an explicit source (a folder path or a Hub repo id, from a flag or the
ADDITION_MODEL environment variable) -> the default repo id -> the model
bundled in `model/bundled`. Whatever fails on the way is recorded in
`LoadedModel.notes` so the UI can say why it is serving what it serves; the
app never fails to start because of the network.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from .config import TaskConfig
from .network import keras
from .storage import BUNDLED_DIR, ModelLoadError, load_model_dir, read_metrics

MODEL_ENV = "ADDITION_MODEL"
REVISION_ENV = "ADDITION_MODEL_REVISION"
DEFAULT_REPO_ID = ""  # set once a model is published; empty means "bundled unless told otherwise"


@dataclass
class LoadedModel:
    """A usable model and where it came from."""

    model: keras.Model
    config: TaskConfig
    metrics: dict
    source: str                 # "bundled", a folder path, or a repo id
    revision: str | None = None  # the commit sha for a Hub repo
    notes: list[str] = field(default_factory=list)  # why earlier choices were skipped

    @property
    def description(self) -> str:
        if self.source == "bundled":
            return "bundled model (offline)"
        if self.revision:
            return f"{self.source} @ {self.revision[:12]}"
        return self.source


def load_for_app(source: str | None = None, revision: str | None = None) -> LoadedModel:
    """Load the first model that works, in the order described above."""
    source = source or os.environ.get(MODEL_ENV) or DEFAULT_REPO_ID or None
    revision = revision or os.environ.get(REVISION_ENV) or None
    notes: list[str] = []
    if source:
        try:
            return _load_local(source) if Path(source).exists() else _load_repo(source, revision)
        except ModelLoadError as err:
            notes.append(f"Could not use {source}: {err}. Serving the bundled model instead.")
    model, config = load_model_dir(BUNDLED_DIR)
    return LoadedModel(model, config, read_metrics(BUNDLED_DIR), "bundled", notes=notes)


def _load_local(folder: str) -> LoadedModel:
    model, config = load_model_dir(folder)
    return LoadedModel(model, config, read_metrics(folder), str(folder))


def _load_repo(repo_id: str, revision: str | None) -> LoadedModel:
    raise ModelLoadError("loading from the Hugging Face Hub is not built yet")
