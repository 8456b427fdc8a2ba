"""`python -m trainer --steps rewrite` for real: the folder it writes loads back (model/storage.py) and
answers step by step through the predictor, and what it writes is the network's (random weights get the
steps wrong)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from trainer_runs import run_trainer

from model.questions import parse_question, sample_questions
from model.serving import ServedModel
from model.step_predictor import StepPredictor
from model.storage import ModelLoadError, load_model_dir, read_metrics

pytestmark = pytest.mark.slow  # trainings

TINY = ["--decoder", "attention", "--batch-size", "128", "--target-margin", "-1", "--show-samples", "2"]


def test_a_rewrite_run_writes_a_folder_that_loads_and_answers_step_by_step(tmp_path):
    out = tmp_path / "steps"
    done = run_trainer(
        *("--digits", "1", "--terms", "3", "--operators", "+-", "--brackets", "--steps", "rewrite"),
        *("--encoder-units", "16", "--decoder-units", "16", "--samples-per-epoch", "1024", "--epochs", "1"),
        *("--time-budget", "0", "--pattern-weights", "+-=4", "--output-dir", out, *TINY),
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "final answer; every step" in done.stdout  # the epoch line says what its exact match measures
    stored = load_model_dir(out)
    assert stored.task.steps == "rewrite" and stored.task.brackets
    metrics, notes = read_metrics(out)
    assert not notes  # the step figures are in the schema
    # every step right means the answer right, so the step figures are never the better ones
    assert metrics["heldout_steps_exact_match"] <= metrics["heldout_exact_match"]
    assert metrics["exhaustive_wrong"] <= metrics["steps_wrong"] <= metrics["exhaustive_total"]
    assert json.loads((out / "train_settings.json").read_text())["pattern_weights"] == "+-=4"
    with pytest.raises(ModelLoadError, match="step by step"):  # the app's views answer in one pass: not served
        ServedModel("steps", stored, str(out))
    worked = StepPredictor(stored.task, stored.network()).work(parse_question("(1+2)-3", stored.task))[0]
    assert worked.true_steps == ["3-3", "0"] and worked.true_answer == 0
    assert 1 <= len(worked.steps) <= 4 and all(
        len(step.confidence) == stored.task.answer_length for step in worked.steps
    )


def test_a_trained_rewrite_model_writes_its_steps_and_random_weights_do_not(tmp_path):
    out = tmp_path / "learned"
    done = run_trainer(
        *("--digits", "1", "--terms", "3", "--operators", "+", "--steps", "rewrite"),
        *("--encoder-units", "48", "--decoder-units", "48", "--samples-per-epoch", "8192", "--epochs", "10"),
        *("--target-accuracy", "0.98", "--time-budget", "240", "--output-dir", out, *TINY),
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    stored = load_model_dir(out)
    q = sample_questions(stored.task, 300, np.random.default_rng(0))
    learned = StepPredictor(stored.task, stored.network()).work(q)
    assert np.mean([w.steps_right for w in learned]) >= 0.9
    rng = np.random.default_rng(1)
    scrambled = {path: rng.normal(0, 0.3, w.shape).astype(np.float32) for path, w in stored.weights.items()}
    stored.weights = scrambled
    guessed = StepPredictor(stored.task, stored.network()).work(q)
    assert np.mean([w.steps_right for w in guessed]) < 0.05 and np.mean([w.correct for w in guessed]) < 0.2
