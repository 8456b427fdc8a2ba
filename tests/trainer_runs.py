"""Shared helpers for the trainer tests: run `python -m trainer` for real, wait for its checkpoints, compare folders.

Every run is a separate process, as a user starts it, so exit codes, stderr and
what is left on disk are exactly what a user sees.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The smallest real run: 1-digit sums, 8-unit LSTMs, no target (so it passes), a few seconds of training.
SMALL = [
    "--digits",
    "1",
    "--encoder-units",
    "8",
    "--decoder-units",
    "8",
    "--batch-size",
    "32",
    "--samples-per-epoch",
    "640",
    "--show-samples",
    "0",
    "--target-margin",
    "-1",
    "--time-budget",
    "0",
]


def run_trainer(
    *args: str, timeout: float = 300, module: str = "trainer", cwd: Path = ROOT, **popen
) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", module, *map(str, args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        **popen,
    )


def start_trainer(*args: str, **popen) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "trainer", *map(str, args)], cwd=ROOT, **popen)


def work_folder(out: Path) -> Path:
    return out.with_name(out.name + ".partial")


def wait_for_epoch(out: Path, proc: subprocess.Popen, epoch: int, seconds: float = 240) -> int:
    """Wait until the run for `out` has checkpointed `epoch` epochs; return the epoch saved."""
    state = work_folder(out) / "state.json"
    deadline = time.time() + seconds
    while time.time() < deadline and proc.poll() is None:
        if state.is_file():
            saved = json.loads(state.read_text() or "{}").get("epoch", 0)
            if saved >= epoch:
                return saved
        time.sleep(0.1)
    raise AssertionError(f"the run ended or stalled before epoch {epoch} was saved")


def digests(folder: Path) -> dict[str, str]:
    """Every file under `folder` and its SHA-256: equal digests mean byte-identical folders."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def stderr_sentence(result: subprocess.CompletedProcess) -> str:
    """The run's last line on stderr (TensorFlow may print start-up notices before it)."""
    lines = result.stderr.strip().splitlines()
    return lines[-1] if lines else ""
