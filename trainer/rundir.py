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
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from model.config import ConfigError, NetworkConfig, TaskConfig
from model.storage import is_model_folder, write_model_folder

from .settings import TrainSettings, fingerprint

FULL_DISK = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}


class RunError(RuntimeError):
    """A run that cannot start, continue or finish; the message is one sentence for a person."""


@dataclass
class RunFolder:
    out: Path

    @property
    def work(self) -> Path:
        return self.out.with_name(self.out.name + ".partial")

    @property
    def checkpoint(self) -> Path:
        return self.work / "checkpoint.keras"

    @property
    def best(self) -> Path:
        return self.work / "best.weights.h5"

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
            raise RunError(f"{self.out} already holds a finished model; add --overwrite to replace it (it is kept "
                           "until the new one is complete), or choose another --output-dir")
        self.writable()
        shutil.rmtree(self.work, ignore_errors=True)
        self.guard(lambda: self._record(task, net, settings), self.work)

    def _record(self, task: TaskConfig, net: NetworkConfig, settings: TrainSettings) -> None:
        self.work.mkdir(parents=True)
        task.save(self.work / "task_config.json")
        net.save(self.work / "network.json")
        (self.work / "train_settings.json").write_text(settings.to_json() + "\n", encoding="utf-8")
        (self.work / "fingerprint").write_text(fingerprint(task, net, settings) + "\n", encoding="utf-8")

    def resume(self) -> tuple[TaskConfig, NetworkConfig, TrainSettings]:
        """The interrupted run's task, network and settings, checked against its fingerprint."""
        if not self.can_resume():
            raise RunError(f"nothing to resume in {self.out}: there is no interrupted run in {self.work}")
        try:
            task = TaskConfig.load(self.work / "task_config.json")
            net = NetworkConfig.load(self.work / "network.json")
            settings = TrainSettings.from_json((self.work / "train_settings.json").read_text(encoding="utf-8"))
            recorded = (self.work / "fingerprint").read_text(encoding="utf-8").strip()
        except (ConfigError, ValueError, TypeError, OSError) as err:
            raise RunError(f"the interrupted run in {self.work} cannot be resumed: {err}") from None
        if fingerprint(task, net, settings) != recorded:
            raise RunError(f"the checkpoint in {self.work} was made for a different task or settings "
                           "(task_config.json, network.json or train_settings.json changed since); start afresh "
                           "without --resume")
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
    def save_checkpoint(self, model: Any, state: dict) -> None:
        """The model with its optimizer, and the loop's state, each replaced atomically."""
        def write() -> None:
            tmp = self.checkpoint.with_suffix(".tmp.keras")
            model.save(tmp)
            os.replace(tmp, self.checkpoint)
            text = json.dumps(state)
            self.state.with_suffix(".tmp").write_text(text, encoding="utf-8")
            os.replace(self.state.with_suffix(".tmp"), self.state)
        self.guard(write, self.checkpoint)

    def install(self, write: Callable[[Path], None], target: Path | None = None) -> Path:
        """Write the finished model into the output folder (or `target`) in one atomic step."""
        destination = target or self.out
        self.guard(lambda: write_model_folder(destination, write), destination)
        return destination

    def finish(self) -> None:
        shutil.rmtree(self.work, ignore_errors=True)

    def guard(self, action: Callable[[], Any], what: Path) -> Any:
        """Run a write; a full disk (or any failure to write) becomes a RunError sentence."""
        try:
            return action()
        except OSError as err:
            full = err.errno in FULL_DISK or "No space left" in str(err) or "File too large" in str(err)
            reason = "the disk is full (or a file-size limit was reached)" if full else (err.strerror or str(err))
            earlier = f"; the earlier model in {self.out} is intact" if self.has_model() else ""
            raise RunError(f"could not write {what}: {reason}{earlier}") from None
        except RuntimeError as err:  # h5py reports some write failures this way
            if "write" in str(err).lower() or "space" in str(err).lower():
                raise RunError(f"could not write {what}: {str(err).splitlines()[0][:160]}") from None
            raise
