"""The trainer's design flags for real: --decoder, --attention, --answer-order and --brackets reach the task and
the network, name the folder, refuse what cannot work in one sentence, and train models that Keras loads.

The training runs are real processes of `python -m trainer` (tests/trainer_runs.py), each a few seconds of a
1-digit task, and the finished folders are read back with plain `keras.saving.load_model`.
"""

from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np
import pytest
from trainer_runs import run_trainer

from model.codec import answer_texts, encode_questions, one_hot
from model.config import TaskConfig
from model.network import greedy_probabilities
from model.questions import all_questions, answers
from trainer.cli import build_parser, default_output, resolve
from trainer.presets import PRESETS

pytestmark = pytest.mark.slow  # trainings


def resolved(*flags: str):
    return resolve(build_parser().parse_args(list(flags)))


def test_the_design_flags_reach_the_task_and_the_network():
    task, net, _ = resolved("--decoder", "attention", "--attention", "additive", "--answer-order", "lsb")
    assert (net.decoder, net.attention, task.answer_order) == ("attention", "additive", "lsb")
    task, _, _ = resolved("--brackets", "--terms", "3", "--operators", "+-")
    assert task.brackets and task.alphabet is not None and task.alphabet.endswith("()")
    assert task.question_length == 3 * 3 + 2 + 2  # one pair of brackets at most among three numbers
    # Without them a run is the keras.io design, as before.
    task, net, _ = resolved()
    assert (net.decoder, task.answer_order, task.brackets) == ("repeat", "msb", False)


def test_each_design_flag_names_the_folder():
    args = build_parser().parse_args(["--answer-order", "lsb", "--brackets", "--decoder", "attention"])
    assert default_output(args) == Path("runs/add3-lsb-brackets-attention")
    args = build_parser().parse_args(["--preset", "sub3", "--no-brackets", "--attention", "additive"])
    assert default_output(args) == Path("runs/sub3-nobrackets-additive")


@pytest.mark.parametrize(
    ("flags", "says"),
    [
        (["--decoder", "attention", "--encoder-units", "64"], "--decoder-units must equal encoder_units (64)"),
        (["--decoder", "lstm"], "argument --decoder: invalid choice"),
        (["--answer-order", "middle"], "argument --answer-order: invalid choice"),
        (["--brackets", "--terms", "7"], "brackets"),
    ],
)
def test_a_design_that_cannot_work_is_refused_in_one_sentence(flags, says, tmp_path):
    done = run_trainer(*flags, "--output-dir", tmp_path / "out", timeout=60)
    assert done.returncode == 2
    assert says in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert not (tmp_path / "out").exists()


def test_the_zoo_presets_use_the_designs_that_meet_their_targets():
    for name in ("add5", "sub3", "mul2", "mixed3", "brackets3"):
        task, net, _ = PRESETS[name]
        assert (net.decoder, task.answer_order) == ("attention", "lsb"), name
    assert PRESETS["brackets3"][0].brackets
    for name in ("add3", "keras-io"):  # the keras.io-shaped models stay as they are, for comparison
        task, net, _ = PRESETS[name]
        assert (net.decoder, task.answer_order) == ("repeat", "msb")


def test_an_attention_model_written_units_first_learns_every_1_digit_sum_and_keras_loads_it(tmp_path):
    out = tmp_path / "attention"
    done = run_trainer(
        "--digits",
        "1",
        "--decoder",
        "attention",
        "--answer-order",
        "lsb",
        "--encoder-units",
        "32",
        "--decoder-units",
        "32",
        "--samples-per-epoch",
        "20000",
        "--batch-size",
        "128",
        "--epochs",
        "12",
        "--target-margin",
        "0.3",
        "--time-budget",
        "0",
        "--show-samples",
        "0",
        "--output-dir",
        out,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "0 wrong of all 100 questions" in done.stdout
    assert json.loads((out / "network.json").read_text())["decoder"] == "attention"
    task = TaskConfig.load(out / "task_config.json")
    assert task.answer_order == "lsb"
    model = keras.saving.load_model(out)  # what any Keras user does, no custom objects
    questions = all_questions(task)
    written = greedy_probabilities(model, one_hot(encode_questions(questions, task), task), task).argmax(-1)
    said = np.array([int(text) for text in answer_texts(written, task)])
    assert np.array_equal(said, answers(questions))


def test_a_bracket_task_trains_and_its_folder_says_so(tmp_path):
    out = tmp_path / "brackets"
    done = run_trainer(
        "--digits",
        "1",
        "--terms",
        "3",
        "--operators",
        "+-",
        "--brackets",
        "--decoder",
        "attention",
        "--answer-order",
        "lsb",
        "--encoder-units",
        "16",
        "--decoder-units",
        "16",
        "--samples-per-epoch",
        "2048",
        "--batch-size",
        "256",
        "--epochs",
        "2",
        "--target-margin",
        "-1",
        "--time-budget",
        "0",
        "--show-samples",
        "3",
        "--output-dir",
        out,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "(" in done.stdout  # the keras.io-style sample lines show bracketed questions
    task = TaskConfig.load(out / "task_config.json")
    assert task.brackets and task.terms == 3
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["exhaustive_total"] == task.question_count  # every bracketed question was asked
    # The trainer's map: one per bracket pattern of 3 numbers, the same cells asked with each pattern's brackets.
    from model.question_map import load_map

    space = load_map(out / "map.npz", task)
    assert [m.pattern for m in space.by_pattern] == [0, 1, 2]
    texts = [m.question(2, 1).texts()[0] for m in space.by_pattern]  # first number 1, second 2
    assert texts[1].startswith("(1") and texts[2].startswith("1") and "(2" in texts[2]
    assert len({text.replace("(", "").replace(")", "") for text in texts}) == 1
