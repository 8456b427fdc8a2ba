"""Each setting is declared once: change one bound in one place (in a copy of the code) and the flag's
--help, its one-sentence error, the docs' limits table and Train your own's slider and check all follow."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # builds the app's tab in a subprocess

ROOT = Path(__file__).resolve().parent.parent


def copy_of_the_code(tmp_path: Path) -> Path:
    copy = tmp_path / "code"
    for part in ("model", "trainer", "web"):
        shutil.copytree(ROOT / part, copy / part, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "app.py", copy / "app.py")
    return copy


def change_once(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} is not written exactly once in {path.name}"
    path.write_text(text.replace(old, new), encoding="utf-8")


def run(copy: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=copy, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def edited(tmp_path_factory) -> Path:
    copy = copy_of_the_code(tmp_path_factory.mktemp("declared"))
    change_once(copy / "trainer/settings.py", "MAX_BATCH = 65_536", "MAX_BATCH = 4_096")
    change_once(copy / "trainer/live_settings.py", '"encoder_units", 8, 256,', '"encoder_units", 8, 128,')
    change_once(copy / "trainer/live_settings.py", "512,  # smaller batches", "256,  # smaller batches")
    change_once(copy / "trainer/live_settings.py", "0.1,  # Adam", "0.03,  # Adam")
    return copy


def test_a_trainer_bound_changed_in_one_place_changes_the_help_the_error_and_the_docs_table(edited, tmp_path):
    shown = run(edited, "-m", "trainer", "--help")
    assert shown.returncode == 0 and "questions per gradient step: 1 to 4,096" in " ".join(shown.stdout.split())
    refused = run(edited, "-m", "trainer", "--batch-size", "5000", "--output-dir", str(tmp_path / "out"))
    assert refused.returncode == 2
    assert "--batch-size must be a whole number from 1 to 4,096, got 5000" in refused.stderr
    table = run(edited, "-m", "trainer.flags").stdout
    assert "| `--batch-size` | a whole number from 1 to 4,096 |" in table
    assert not (tmp_path / "out").exists()


def test_a_train_your_own_bound_changed_in_one_place_changes_the_control_the_check_and_the_flag(edited, tmp_path):
    probe = """
import json
import gradio as gr
from model.serving import load_catalogue
from web import train_own, training_run
from web.service import Service

with gr.Blocks() as demo:
    train_own.tab(Service(load_catalogue(None, None, [])), gr.Dropdown(), (gr.Dropdown(), gr.Dropdown()), gr.HTML())
control = {b.elem_id: b for b in demo.blocks.values() if getattr(b, "elem_id", None)}
print(json.dumps({
    "maximum": control["own-units"].maximum,
    "refused": training_run.settings_error(1, ["+"], 2, "lstm", 129, 5),
    "taken": training_run.settings_error(1, ["+"], 2, "lstm", 128, 5),
    "batch": control["own-batch-size"].maximum,
    "batch_refused": training_run.settings_error(1, ["+"], 2, "lstm", 8, 5, batch_size=272),
    "rates": [value for _, value in control["own-learning-rate"].choices],
    "rate_refused": training_run.settings_error(1, ["+"], 2, "lstm", 8, 5, learning_rate=0.1),
}))
"""
    built = run(edited, "-c", probe)
    assert built.returncode == 0, built.stderr[-2000:]
    tab = json.loads(built.stdout.strip().splitlines()[-1])
    assert tab["maximum"] == 128
    assert "Units must be a whole number from 8 to 128" in tab["refused"]
    assert tab["taken"] is None
    assert tab["batch"] == 256 and tab["batch_refused"] == "The batch size must be a whole number from 16 to 256."
    assert max(tab["rates"]) == 0.03 and 0.1 not in tab["rates"]
    assert tab["rate_refused"] == "The learning rate must be a number from 0.0001 to 0.03."
    live = run(edited, "-m", "trainer.live", "--units", "129", "--output", str(tmp_path / "own"))
    assert live.returncode == 2
    assert json.loads(live.stdout.strip().splitlines()[-1])["message"] == "Units must be a whole number from 8 to 128."
    shown = " ".join(run(edited, "-m", "trainer.live", "--help").stdout.split())
    assert "8 to 128" in shown and "questions per gradient step: 16 to 256" in shown
