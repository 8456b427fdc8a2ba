"""A model folder is written whole or not at all, and what a killed save or an ended app left behind is removed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from model.storage import write_model_folder


def dead_pid() -> int:
    """The id of a process that has just exited."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_the_next_save_removes_what_a_killed_save_left_behind(tmp_path):
    """A save killed mid-way leaves its `.NAME.writing-PID` folder; the next save removes it."""
    out = tmp_path / "model"
    killed = tmp_path / f".model.writing-{dead_pid()}"
    killed.mkdir()
    (killed / "model.weights.h5").write_bytes(b"half")
    running = tmp_path / f".model.writing-{os.getppid()}"  # a save by a process that is still alive
    running.mkdir()
    other = tmp_path / ".other.writing-1"  # another folder's save is not this folder's business
    other.mkdir()

    write_model_folder(out, lambda folder: (folder / "config.json").write_text("{}"))

    assert (out / "config.json").read_text() == "{}"
    assert not killed.exists() and running.exists() and other.exists()


def test_a_failed_write_leaves_the_old_folder_untouched(tmp_path):
    out = tmp_path / "model"
    write_model_folder(out, lambda folder: (folder / "a.json").write_text("old"))

    def fails(folder: Path) -> None:
        (folder / "a.json").write_text("new")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_model_folder(out, fails)
    assert (out / "a.json").read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["model"]


def test_visitors_run_folders_of_an_app_that_has_ended_are_removed_at_start(tmp_path, monkeypatch):
    """The folders of models trained in the app (and their zips) are removed when the app starts again."""
    import tempfile

    from web import trainer_process

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    gone = tmp_path / f"{trainer_process.RUN_PREFIX}{dead_pid()}-abc"
    alive = tmp_path / f"{trainer_process.RUN_PREFIX}{os.getppid()}-def"  # another app, still serving
    for run in (gone, alive):
        (run / "model").mkdir(parents=True)
    trainer_process.TrainerProcessPool()  # what the app makes when it starts
    assert not gone.exists() and alive.exists()
