"""One visitor's live training: its settings checked, run in the warm trainer process, its events passed on.

The events (start, epoch…, then done or error) are dicts the tab draws and
the /train endpoint streams. When the training is done, its model joins that
visitor's own models (web/own_models.py) and is zipped for download; nothing
of a run that saved no model is kept.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from model.serving import ServedModel
from model.storage import METRICS_FILE, NETWORK_FILE, TASK_CONFIG_FILE, ModelLoadError, load_model_dir
from trainer.live_settings import LiveSettings, visitor_settings
from trainer.model_card import render_folder_readme

from .service import Service
from .trainer_process import RUN_PREFIX, TRAINER_POOL, TrainerProcess

READY_WAIT = 120.0  # seconds a fresh trainer may take to import TensorFlow
OVERRUN = 30.0  # seconds past its budget after which a trainer that has not finished is killed


def settings_error(
    digits: Any,
    operators: Any,
    terms: Any,
    cell: Any,
    units: Any,
    seconds: Any,
    *,
    decoder: Any = None,
    answer_order: Any = None,
    seed: Any = None,
    learning_rate: Any = None,
    batch_size: Any = None,
) -> str | None:
    """One sentence if the request is outside what trainer.live_settings allows (checked first), else None."""
    later = (decoder, answer_order, seed, learning_rate, batch_size)
    try:
        visitor_settings(_raw(digits, operators, terms, True, cell, units, seconds, *later))
    except ValueError as err:
        return str(err)
    return None


def _raw(
    digits: Any,
    operators: Any,
    terms: Any,
    reverse: Any,
    cell: Any,
    units: Any,
    seconds: Any,
    decoder: Any = None,
    answer_order: Any = None,
    seed: Any = None,
    learning_rate: Any = None,
    batch_size: Any = None,
) -> dict:
    """The settings as trainer.live_settings checks them; the optional ones (those after the first seven) left
    out when not given (None: a client that does not send them, or a raw call the guard padded with nulls), so
    they take LiveSettings' defaults."""
    raw = {
        "digits": digits,
        "operators": operators,
        "terms": terms,
        "reverse": reverse,
        "cell": cell,
        "units": units,
        "seconds": seconds,
    }
    later = {
        "decoder": decoder,
        "answer_order": answer_order,
        "seed": seed,
        "learning_rate": learning_rate,
        "batch_size": batch_size,
    }
    return raw | {name: value for name, value in later.items() if value is not None}


def train_events(
    service: Service,
    session: str,
    digits: Any,
    operators: Any,
    terms: Any,
    reverse: Any,
    cell: Any,
    units: Any,
    seconds: Any,
    decoder: Any = None,
    answer_order: Any = None,
    seed: Any = None,
    learning_rate: Any = None,
    batch_size: Any = None,
    *,
    address: str = "",
) -> Iterator[dict]:
    """Run one live training for `session` at client `address`; yield its events (start, epoch…, done or
    error) as dicts, never a server path."""
    later = (decoder, answer_order, seed, learning_rate, batch_size)
    try:
        raw = _raw(digits, operators, terms, reverse, cell, units, seconds, *later)
        settings = visitor_settings(raw)
    except ValueError as err:
        yield {"event": "error", "message": str(err)}
        return
    process = TRAINER_POOL.take(session)
    if process is None:
        yield {"event": "error", "message": "Another training is running on this server; try again in a minute."}
        return
    run = Path(tempfile.mkdtemp(prefix=f"{RUN_PREFIX}{os.getpid()}-"))
    try:
        yield from _follow(service, (session, address), process, settings, run)
    finally:  # the page closed, Stop, or the end: never leave a training running
        TRAINER_POOL.give_back(session)
        if not any(run.glob("*.zip")):  # no model joined the visitor's picker: nothing of the run is kept
            shutil.rmtree(run, ignore_errors=True)


def _follow(
    service: Service, visitor: tuple[str, str], process: TrainerProcess, settings: LiveSettings, run: Path
) -> Iterator[dict]:
    """Hand the settings to the warm trainer and pass its events on until `done` or a failure."""
    ready = process.event(READY_WAIT)
    request = {"settings": vars(settings), "output": str(run / "model")}
    if ready is None or ready["event"] != "ready" or not process.send(json.dumps(request)):
        process.log_failure("the trainer did not start")
        yield {"event": "error", "message": "The trainer could not start; please try again in a minute."}
        return
    wait = READY_WAIT  # until the first epoch: building the network takes a few seconds
    while (event := process.event(wait)) is not None:
        kind = event.pop("event")
        folder = event.pop("folder", None)
        if kind == "start":
            wait = settings.seconds + OVERRUN
        if kind == "error":
            process.log_failure(f"the trainer refused or failed: {event.get('message', '')}")
            yield {"event": "error", "message": str(event.get("message", "The training failed."))}
            return
        if kind == "done":
            try:
                served = ServedModel("yours", load_model_dir(folder), "trained here")
            except (ModelLoadError, TypeError, OSError) as err:
                yield {"event": "error", "message": f"The trained model could not be loaded: {err}."}
                return
            event["model"] = service.own.add(served, owner=visitor[0], address=visitor[1])
            event["zip"] = str(zip_folder(Path(folder), event["model"], run))
            yield {"event": "done", **event}
            return
        yield {"event": kind, **event}
    process.end()
    process.log_failure("the trainer stopped without finishing")
    yield {
        "event": "error",
        "message": "The trainer stopped before it finished (it may have run out of memory); nothing was saved.",
    }


def zip_folder(folder: Path, name: str, run: Path) -> Path:
    """The download: `name`.zip in `run`, unpacking into one folder `name`/ that holds the model's files and a
    short README.md (trainer/model_card.py) on what the model is and how to load it with plain Keras."""

    def read(file: str) -> dict:
        return json.loads((folder / file).read_text(encoding="utf-8")) if (folder / file).is_file() else {}

    readme = render_folder_readme(name, read(TASK_CONFIG_FILE), read(METRICS_FILE), read(NETWORK_FILE) or None)
    archive = run / f"{name}.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as out:
        out.writestr(f"{name}/README.md", readme)
        for file in sorted(folder.rglob("*")):
            if file.is_file() and file.name != "README.md":
                out.write(file, f"{name}/{file.relative_to(folder).as_posix()}")
    return archive
