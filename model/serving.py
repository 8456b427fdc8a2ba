"""Which models the app serves, loaded once at start-up, in bounded time and memory.

The catalogue is: the bundled zoo (model/zoo, always there, offline), plus
any folders or Hub repos named in ADDITION_MODELS (comma-separated, each
optionally `repo@revision`), plus ADDITION_MODEL, which also chooses the
default (else DEFAULT_REPO_ID, else the zoo's default). Whatever fails on the
way becomes a note the page shows; the app never fails to start because of a
model or the network, and all Hub fetches together get START_SECONDS.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from .analysis import unit_order
from .codec import encode_questions
from .config import TaskConfig
from .forward import Network
from .hub import download_repo, is_repo_id, repo_page_url, scrub
from .learning_record import LearningRecord, load_learning
from .predictor import Predictor
from .question_map import QuestionMap, load_map
from .questions import sample_questions
from .storage import (
    BUNDLED_DIR,
    LEARNING_FILE,
    MAP_FILE,
    ModelLoadError,
    StoredModel,
    load_model_dir,
    read_json_file,
    zoo_folders,
)

MODEL_ENV = "ADDITION_MODEL"
MODELS_ENV = "ADDITION_MODELS"
REVISION_ENV = "ADDITION_MODEL_REVISION"
DEFAULT_REPO_ID = ""  # set once a model is published; empty means "the bundled zoo unless told otherwise"
START_SECONDS = 30.0  # the most start-up may wait for the Hub, all models together (ADDITION_HUB_TIMEOUT)
TIMEOUT_ENV = "ADDITION_HUB_TIMEOUT"
MAX_EXTRA_MODELS = 10  # models named in ADDITION_MODEL and ADDITION_MODELS together
MAX_WEIGHT_BYTES = 256_000_000  # all served models' weights together
T = TypeVar("T")


@dataclass
class ServedModel:
    """A checked model the app can answer with, and where it came from."""

    name: str  # what the picker and the API call it
    stored: StoredModel
    source: str  # "bundled", a folder path, or a repo id
    revision: str | None = None  # the commit sha, for a Hub repo
    notes: list[str] = field(default_factory=list)
    network: Network = field(init=False)
    predictor: Predictor = field(init=False)
    question_map: QuestionMap | None = field(init=False)  # the whole-space map the trainer stored (map.npz)
    learning: LearningRecord | None = field(init=False)  # how the model learned (learning.npz)

    def __post_init__(self) -> None:
        if self.stored.task.steps != "none":  # the views answer in one pass; they would judge step 1 as the answer
            raise ModelLoadError(
                f"{self.name} writes its work step by step (--steps {self.stored.task.steps}), which this app "
                "does not show yet; python -m trainer.evaluate and model.step_predictor answer with it"
            )
        self.network = self.stored.network()
        self.predictor = Predictor(self.stored.task, self.network)
        # Read and checked now, so a bad file is a note at load time, never an error when a visitor opens a tab.
        self.question_map = self._analysis(MAP_FILE, load_map)
        self.learning = self._analysis(LEARNING_FILE, load_learning)

    @property
    def task(self) -> TaskConfig:
        return self.stored.task

    @property
    def description(self) -> str:
        if self.source == "bundled":
            return f"{self.name} (bundled, offline)"
        if self.revision:
            return f"{self.source} @ {self.revision[:12]}"
        # A folder's name is its path's last part: the path alone says it once ("runs/add4", not "add4 (runs/add4)").
        return self.source if self.name in self.source else f"{self.name} ({self.source})"

    @property
    def page_url(self) -> str | None:
        """The Hub page of exactly this commit, for a link; None unless from the Hub."""
        return repo_page_url(self.source, self.revision) if self.revision else None

    def _analysis(self, name: str, load: Callable[[Path, TaskConfig], T]) -> T | None:
        """An analysis file the folder carries, read and checked; None, with a note, when absent or invalid."""
        path = self.stored.folder / name
        if not path.is_file():
            return None
        try:
            return load(path, self.task)
        except Exception as err:  # untrusted bytes: whatever fails to parse, the model still answers
            reason = str(err).splitlines()[0][:200] if str(err) else type(err).__name__
            self.notes.append(f"{name} was ignored: {reason.rstrip('.')}.")
            return None

    @functools.cached_property
    def unit_orders(self) -> list[np.ndarray]:
        """For each layer, an order of its units that shows structure (from 256 sample questions)."""
        q = sample_questions(self.task, 256, np.random.default_rng(0))
        _, traces = self.network.trace(encode_questions(q, self.task))
        return [unit_order(t.hidden) for t in traces]

    @property
    def weight_bytes(self) -> int:
        return sum(w.nbytes for w in self.stored.weights.values())


@dataclass
class Catalogue:
    models: dict[str, ServedModel]
    default: str
    notes: list[str] = field(default_factory=list)  # start-up problems, for the page and the log

    def get(self, name: object) -> ServedModel | None:
        """The model called `name`; the default for None or ""; None for an unknown name."""
        if name is None or name == "":
            return self.models[self.default]
        return self.models.get(name) if isinstance(name, str) else None


def hub_seconds() -> float:
    """The start-up budget for the Hub: ADDITION_HUB_TIMEOUT seconds (1 to 300), else START_SECONDS."""
    text = os.environ.get(TIMEOUT_ENV, "")
    return min(300.0, max(1.0, float(text))) if text.replace(".", "", 1).isdigit() else START_SECONDS


def load_catalogue(
    source: str | None = None, revision: str | None = None, extra: list[str] | None = None, seconds: float | None = None
) -> Catalogue:
    """Load the zoo, the extra sources and the default source; never raises."""
    deadline = time.monotonic() + (seconds if seconds is not None else hub_seconds())
    models: dict[str, ServedModel] = {}
    notes: list[str] = []
    zoo_default = _load_zoo(models, notes)
    source = source or os.environ.get(MODEL_ENV) or DEFAULT_REPO_ID or None
    revision = revision or os.environ.get(REVISION_ENV) or None
    if extra is None:
        extra = [s.strip() for s in os.environ.get(MODELS_ENV, "").split(",") if s.strip()]
    wanted = ([(source, revision)] if source else []) + [(s, None) for s in extra]  # the default first
    if len(wanted) > MAX_EXTRA_MODELS:
        notes.append(
            f"Only the first {MAX_EXTRA_MODELS} extra models are served; {len(wanted) - MAX_EXTRA_MODELS} "
            "more were named."
        )
        wanted = wanted[:MAX_EXTRA_MODELS]
    default = zoo_default
    budget = MAX_WEIGHT_BYTES - sum(m.weight_bytes for m in models.values())
    for spec, rev in wanted:
        try:
            served = load_source(spec, rev, max(1.0, deadline - time.monotonic()))
        except ModelLoadError as err:
            fallback = f" Serving {default} instead." if spec == source else ""
            notes.append(scrub(f"Could not use {spec}: {err}.{fallback}"))
            continue
        if served.weight_bytes > budget:
            notes.append(f"Skipped {spec}: the served models' weights would pass {MAX_WEIGHT_BYTES // 10**6} MB.")
            continue
        budget -= served.weight_bytes
        served.name = _unique(served.name, models)
        models[served.name] = served
        notes += served.notes
        if spec == source:
            default = served.name
    return Catalogue(models, default, notes)


def _load_zoo(models: dict[str, ServedModel], notes: list[str]) -> str:
    """Every bundled model; returns the default one's name (the zoo's 'default', else the first)."""
    folders = zoo_folders() or [BUNDLED_DIR]
    for folder in folders:
        name = folder.name
        try:
            models[name] = ServedModel(name, load_model_dir(folder), "bundled")
        except ModelLoadError as err:  # a broken checkout; say so and serve the rest
            notes.append(f"The bundled model {name} could not be loaded: {err}.")
    if not models:
        raise RuntimeError("no bundled model could be loaded: the checkout is incomplete")
    index = read_json_file(folders[0].parent / "index.json")
    wanted = index.get("default") if isinstance(index, dict) else None
    return wanted if wanted in models else next(iter(models))


def load_source(spec: str, revision: str | None, seconds: float) -> ServedModel:
    """A folder path or a Hub repo id (`owner/name` or `owner/name@revision`) as a ServedModel."""
    if "@" in spec and revision is None and not Path(spec).exists():
        spec, revision = spec.split("@", 1)
    path = Path(spec).expanduser()
    if path.is_dir():
        return ServedModel(path.name or str(path), load_model_dir(path), str(path))
    if _looks_like_folder(spec):
        raise ModelLoadError(f"no such folder: {spec}; if you meant a Hub repo, use its id, owner/name")
    if not is_repo_id(spec):
        raise ModelLoadError(f"{spec[:80]!r} is neither a model folder nor a Hub repo id (owner/name)")
    folder, sha, notes = download_repo(spec, revision, seconds)
    try:
        stored = load_model_dir(folder)
    except ModelLoadError as err:  # name the repo and commit, not a cache path
        raise ModelLoadError(str(err).replace(str(folder), f"{spec} @ {sha[:12]}")) from None
    name = spec + (f"@{revision}" if revision else "")
    return ServedModel(name, stored, spec, revision=sha, notes=notes)


def _looks_like_folder(spec: str) -> bool:
    """A path rather than owner/name: starts like a path, or its first part is a folder here (runs/…)."""
    if spec.startswith((".", "/", "~")) or "\\" in spec or spec.count("/") != 1:
        return True
    return Path(spec.split("/")[0]).is_dir()


def _unique(name: str, taken: dict[str, Any]) -> str:
    candidate, i = name, 2
    while candidate in taken:
        candidate, i = f"{name} ({i})", i + 1
    return candidate
