"""Where a run keeps its work, so nothing finished is ever lost or mixed with something unfinished.

A run writes its checkpoint, settings and history to `<output-dir>.partial/`
and touches the output folder only once, at the end, through an atomic swap
(model/storage.py): the output folder is always either the earlier complete
model or the new complete one. The work folder carries a fingerprint of the
task, network and settings; `--resume` continues only the run it belongs to.
A full disk or a file-size limit becomes one sentence, with everything earlier
left intact.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from model.config import NetworkConfig, TaskConfig
from model.config_files import ConfigError, read_small_text
from model.storage import is_model_folder, write_model_folder

from .settings import TrainSettings, fingerprint

FULL_DISK = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}


class RunError(RuntimeError):
    """A run that cannot start, continue or finish; the message is one sentence for a person."""


@dataclass
class RunFolder:
    out: Path

    def __post_init__(self) -> None:
        self.out = Path(self.out)
        if self.out.name in ("", ".", ".."):  # "." or "..": name the folder itself, so siblings can be named
            self.out = self.out.resolve()
        if not self.out.name:
            raise RunError(f"{self.out} cannot be an output folder; choose a folder such as runs/add3")

    @property
    def work(self) -> Path:
        return self.out.with_name(self.out.name + ".partial")

    @property
    def below_target(self) -> Path:
        return self.out.with_name(self.out.name + ".below-target")

    @property
    def checkpoint(self) -> Path:
        return self.work / "checkpoint.keras"

    @property
    def best(self) -> Path:
        return self.work / "best-weights.npz"

    @property
    def state(self) -> Path:
        return self.work / "state.json"

    def has_model(self) -> bool:
        return self.out.is_dir() and is_model_folder(self.out)

    def can_resume(self) -> bool:
        return self.checkpoint.is_file() and self.state.is_file()

    # Starting and resuming --------------------------------------------------------------
    def start(self, task: TaskConfig, net: NetworkConfig, settings: TrainSettings, overwrite: bool) -> None:
        """A fresh run: refuse to replace a finished model unasked; clear any stale work; record the run."""
        if self.has_model() and not overwrite:
            raise RunError(
                f"{self.out} already holds a finished model; add --overwrite to replace it (it is kept "
                "until the new one is complete), or choose another --output-dir"
            )
        if self.out.exists() and not self.has_model() and (not self.out.is_dir() or any(self.out.iterdir())):
            # The swap at the end replaces the whole folder: never with someone's other files in it.
            raise RunError(
                f"{self.out} exists and is not a model folder; choose another --output-dir (a new "
                "or empty folder, or one holding a model)"
            )
        self.writable()
        if self.can_resume():
            print(
                f"Note: starting afresh discards the interrupted run in {self.work} (--resume would have "
                "continued it).",
                flush=True,
            )
        shutil.rmtree(self.work, ignore_errors=True)
        self.guard(lambda: self._record(task, net, settings), self.work)

    def _record(self, task: TaskConfig, net: NetworkConfig, settings: TrainSettings) -> None:
        self.work.mkdir(parents=True)
        task.save(self.work / "task_config.json")
        net.save(self.work / "network.json")
        (self.work / "train_settings.json").write_text(settings.to_json() + "\n", encoding="utf-8")
        (self.work / "fingerprint").write_text(fingerprint(task, net, settings) + "\n", encoding="utf-8")

    def belongs_to(self, task: TaskConfig, net: NetworkConfig, settings: TrainSettings) -> bool:
        """Whether the work folder holds an interrupted run of exactly this task, network and settings."""
        try:
            recorded = read_small_text(self.work / "fingerprint").strip()
        except (OSError, ConfigError):
            return False
        return self.can_resume() and recorded == fingerprint(task, net, settings)

    def resume(self) -> tuple[TaskConfig, NetworkConfig, TrainSettings]:
        """The interrupted run's task, network and settings, checked against its fingerprint."""
        if not self.can_resume():
            raise RunError(f"nothing to resume for {self.out}: there is no interrupted run in {self.work}")
        try:
            task = TaskConfig.load(self.work / "task_config.json")
            net = NetworkConfig.load(self.work / "network.json")
            settings = TrainSettings.from_json(read_small_text(self.work / "train_settings.json"))
            recorded = read_small_text(self.work / "fingerprint").strip()
            state = json.loads(read_small_text(self.state, limit=10_000_000))
        except (ConfigError, ValueError, TypeError, OSError) as err:
            raise RunError(f"the interrupted run in {self.work} cannot be resumed: {err}") from None
        made = fingerprint(task, net, settings)
        if made != recorded or not isinstance(state, dict) or state.get("fingerprint") != made:
            raise RunError(
                f"the checkpoint in {self.work} was made for a different task or settings "
                "(task_config.json, network.json or train_settings.json changed since); start afresh "
                "without --resume"
            )
        return task, net, settings

    def writable(self) -> None:
        try:
            self.out.parent.mkdir(parents=True, exist_ok=True)
            probe = self.out.parent / f".{self.out.name}.write-test"
            probe.write_text("ok")
            probe.unlink()
        except OSError as err:
            raise RunError(f"cannot write to {self.out.parent}: {err.strerror or err}") from None

    # Saving -----------------------------------------------------------------------------
    def save_checkpoint(
        self, model: Any, state: dict, progress: dict[str, np.ndarray], weights: list, keep_previous: bool = False
    ) -> None:
        """The model with its optimizer, the best weights so far, and the loop's state, each replaced atomically.

        Every file is made in memory and written with plain file writes, so a full
        disk is an OSError here (h5py, writing a file itself, can crash instead).
        keep_previous: first copy the last epoch's files to previous/ (a worker of a
        multi-worker run may have to step back to it, see step_back).
        """
        from model.storage import keras_archive

        def write() -> None:
            if keep_previous and self.state.is_file():
                self._keep_previous()
            replace_file(self.checkpoint, keras_archive(model))
            if weights:
                replace_file(self.best, npz_bytes({f"w{i}": w for i, w in enumerate(weights)}))
            replace_file(self.work / "progress.npz", npz_bytes(progress))
            replace_file(self.state, json.dumps(state).encode())  # last: it marks the epoch as saved

        self.guard(write, self.checkpoint)

    @property
    def previous(self) -> Path:
        return self.work / "previous"

    def _keep_previous(self) -> None:
        """previous/ becomes a copy of the saved epoch; its state.json, written last, says it is whole."""
        self.previous.mkdir(exist_ok=True)
        (self.previous / self.state.name).unlink(missing_ok=True)
        for path in (self.checkpoint, self.best, self.work / "progress.npz"):
            if path.is_file():
                replace_file(self.previous / path.name, path.read_bytes())
            else:
                (self.previous / path.name).unlink(missing_ok=True)
        replace_file(self.previous / self.state.name, self.state.read_bytes())

    def saved_epoch(self) -> int:
        """The last epoch the work folder saved (0: none)."""
        try:
            return int(json.loads(read_small_text(self.state, limit=10_000_000))["epoch"])
        except (OSError, ConfigError, ValueError, KeyError, TypeError):
            return 0

    def step_back(self, epoch: int) -> None:
        """Make the kept previous epoch the saved one; RunError unless it is `epoch`. The workers of a
        multi-worker run all continue from the last epoch every one of them saved: a worker killed while
        saving may be one epoch behind the others."""
        try:
            kept = int(json.loads(read_small_text(self.previous / self.state.name, limit=10_000_000))["epoch"])
        except (OSError, ConfigError, ValueError, KeyError, TypeError):
            kept = -1
        if kept != epoch:
            raise RunError(
                f"the workers saved different epochs and {self.work} does not keep epoch {epoch}; start every "
                f"worker afresh (remove {self.work} and the other workers' folders)"
            )
        self.state.unlink()  # until the previous files are all in place, there is nothing to resume
        for path in (self.checkpoint, self.best, self.work / "progress.npz", self.state):
            kept_file = self.previous / path.name
            if kept_file.is_file():
                os.replace(kept_file, path)
            else:
                path.unlink(missing_ok=True)

    def load_checkpoint(self, expected: Any) -> Any:
        """The checkpoint's Keras model, refused unless its weights have the shapes of `expected` (the
        network this run records): a checkpoint is read as data, like any file in the work folder."""
        import keras

        try:
            model = keras.saving.load_model(self.checkpoint, compile=True, safe_mode=True)
        except Exception as err:  # a damaged or foreign file: Keras raises many kinds
            raise RunError(
                f"the checkpoint in {self.work} cannot be read ({type(err).__name__}); start afresh without --resume"
            ) from None
        if [tuple(w.shape) for w in model.get_weights()] != [tuple(w.shape) for w in expected.get_weights()]:
            raise RunError(
                f"the checkpoint in {self.work} is not the network recorded with it (network.json); start "
                "afresh without --resume"
            )
        return model

    def load_best(self) -> list[np.ndarray] | None:
        if not self.best.is_file():
            return None
        with np.load(self.best) as saved:
            return [saved[f"w{i}"] for i in range(len(saved.files))]

    def install(self, write: Callable[[Path], None], target: Path | None = None) -> Path:
        """Write the finished model into the output folder (or `target`) in one atomic step."""
        destination = target or self.out
        self.guard(lambda: write_model_folder(destination, write), destination)
        return destination

    def close(self) -> None:
        """The run is over: its work folder goes."""
        shutil.rmtree(self.work, ignore_errors=True)

    def guard(self, action: Callable[[], Any], what: Path) -> Any:
        """Run a write; a full disk (or any other failure to write) becomes a RunError sentence."""
        try:
            return action()
        except OSError as err:
            full = err.errno in FULL_DISK
            reason = (
                "the disk is full (or a file-size limit or quota was reached)" if full else (err.strerror or str(err))
            )
            earlier = f"; the earlier model in {self.out} is intact" if self.has_model() else ""
            resume = "; free some space, then continue with --resume" if full and self.can_resume() else ""
            raise RunError(f"could not write {what}: {reason}{earlier}{resume}") from None


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    import io

    buffer = io.BytesIO()
    # allow_pickle=True is numpy's default; named, so mypy doesn't check **arrays against that bool parameter.
    np.savez(buffer, allow_pickle=True, **arrays)
    return buffer.getvalue()


def replace_file(path: Path, data: bytes) -> None:
    """Write `data` to a temporary sibling, then rename it over `path`: readers see the old or the new file."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)
