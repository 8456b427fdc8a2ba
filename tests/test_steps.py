"""The rewrite design's steps as data (model/steps.py), its task option and its codec: no TensorFlow here."""

from __future__ import annotations

import json

import numpy as np
import pytest

from model import steps
from model.codec import answer_texts, answer_value, encode_answers, encode_questions, tokens_to_text
from model.config import TaskConfig
from model.config_files import ConfigError
from model.questions import Questions, answers, sample_questions

MIXED3 = TaskConfig(digits=2, terms=3, operators="+-*", answer_order="lsb", steps="rewrite")
BRACKETS3 = TaskConfig(digits=2, terms=3, operators="+-*", brackets=True, answer_order="lsb", steps="rewrite")


def test_a_question_is_worked_one_operation_at_a_time_products_as_partial_products_numbers_units_first():
    q = Questions(np.array([[12, 34, 56], [92, 29, 69], [5, 3, 8]]), np.array([[2, 1], [1, 2], [0, 1]], np.int8))
    assert steps.question_chains(q) == [
        ["21*43-65", "(84+063)-65", "804-65", "253"],  # 12*34-56 -> (48+360)-56 -> 408-56 -> 352
        ["29-92*96", "29-(162+0471)", "29-1002", "-9091"],  # 92-29*69 -> 92-(29*9+29*60) -> 92-2001
        ["5+3-8", "8-8", "0"],
    ]
    assert [steps.readable(t) for t in steps.question_chains(q)[1]] == ["92-29*69", "92-(261+1740)", "92-2001", "-1909"]


def test_every_step_is_an_expression_equal_to_the_answer_and_the_chain_ends_on_it():
    rng = np.random.default_rng(1)
    for task in (MIXED3, BRACKETS3):
        q = sample_questions(task, 3000, rng)
        truth = answers(q).tolist()
        for chain, value in zip(steps.question_chains(q), truth, strict=True):
            assert steps.written_value(chain[-1]) == value
            assert all(eval(steps.readable(text).replace("--", "+")) == value for text in chain)
            assert not any(steps.is_number(text) for text in chain[:-1])
            assert len(chain) - 1 <= 2 * (task.terms - 1)  # model.step_predictor.max_passes


def test_the_lengths_hold_every_step_and_equal_the_experiments():
    # bench/steps_experiment.py trained mixed3 and brackets3 on 13 characters in and out
    assert (MIXED3.question_length, MIXED3.answer_length) == (13, 13)
    assert (BRACKETS3.question_length, BRACKETS3.answer_length) == (13, 13)
    rng = np.random.default_rng(2)
    for task in (
        BRACKETS3,
        TaskConfig(digits=3, terms=3, min_terms=2, operators="+-*", brackets=True, steps="rewrite"),
    ):
        q = sample_questions(task, 20_000, rng)
        chains = steps.question_chains(q)
        assert max(len(t) for c in chains for t in c[:-1]) <= task.question_length
        assert max(len(t) for c in chains for t in c[1:]) <= task.answer_length


def test_the_codec_writes_questions_and_answers_in_the_designs_form():
    q = Questions(np.array([[12, 34, 56], [7, 20, 3]]), np.array([[2, 1], [1, 1]], np.int8), np.array([0, 2], np.int16))
    assert tokens_to_text(encode_questions(q, BRACKETS3), BRACKETS3) == ["21*43-65     ", "7-(02-3)     "]
    tokens = encode_answers(answers(q), BRACKETS3)
    assert tokens_to_text(tokens, BRACKETS3) == ["253          ", "-01          "]
    assert [answer_value(t) for t in answer_texts(tokens, BRACKETS3)] == [352, -10]


def test_steps_are_judged_one_by_one_against_the_true_chain():
    chain = ["21*43-65", "(84+063)-65", "804-65", "253"]
    assert steps.mark_steps(["(84+063)-65", "804-65", "253"], chain) == [True, True, True]
    # a wrong step is marked even when the answer after it is right
    assert steps.mark_steps(["(84+073)-65", "804-65", "253"], chain) == [False, True, True]
    assert steps.mark_steps(["(84+063)-65", "253"], chain) == [True, False]
    assert steps.mark_steps(["(84+063)-65", "804-65", "253", "1"], chain) == [True, True, True, False]


def test_a_written_number_is_read_units_first_and_anything_else_is_not_a_number():
    assert steps.written_value("253") == 352 and steps.written_value("-74") == -47
    assert steps.written_value("804-65") is None and steps.written_value("") is None
    assert steps.is_number("0  ") and not steps.is_number("-") and not steps.is_number("(3)")


def test_the_option_round_trips_and_old_folders_mean_none():
    assert json.loads(MIXED3.to_json())["steps"] == "rewrite"
    assert TaskConfig.from_json(MIXED3.to_json()) == MIXED3
    assert MIXED3.chars == steps.ALPHABET and MIXED3.num_chars == 17
    old = TaskConfig(digits=2, terms=3, operators="+-*", brackets=True)
    assert "steps" not in json.loads(old.to_json())  # an older model's file is written back unchanged
    assert old.steps == "none" and old.chars == " +-*0123456789()" and old.question_length == 10


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ({"terms": 4}, "3 numbers of up to 3 digits"),
        ({"digits": 4}, "3 numbers of up to 3 digits"),
        ({"alphabet": " +-*0123456789()"}, "the alphabet of steps 'rewrite'"),
        ({"steps": "trail"}, "steps"),
    ],
)
def test_a_task_the_design_cannot_do_is_refused_in_one_sentence(fields, says):
    with pytest.raises(ConfigError, match=says):
        TaskConfig(**{"digits": 2, "terms": 3, "operators": "+-*", "steps": "rewrite", **fields})


def test_every_zoo_folder_loads_unchanged_as_a_one_pass_model():
    from model.storage import TASK_CONFIG_FILE, load_model_dir, zoo_folders

    for folder in zoo_folders():
        stored = load_model_dir(folder)
        assert stored.task.steps == "none" and not stored.task.rewrites
        assert stored.task.to_json() + "\n" == (folder / TASK_CONFIG_FILE).read_text(encoding="utf-8")


def test_the_model_card_says_the_model_shows_its_work_with_its_step_figures_and_a_feed_back_loop():
    from trainer.model_card import render_model_card

    net = {"encoder_units": 192, "decoder_units": 192, "decoder": "attention"}
    metrics = {"heldout_exact_match": 0.999, "heldout_steps_exact_match": 0.998, "steps_wrong": 12, "heldout_size": 50}
    card = render_model_card("someone/mixed3-steps", MIXED3.to_dict(), metrics, net=net)
    assert "It shows its work" in card and "every written step right:** 99.80%" in card
    assert "Questions with a written step wrong:** 12" in card
    assert "def units_first" in card and "for _ in range(4)" in card and "length = 13" in card
    one_pass = render_model_card(
        "someone/mixed3", TaskConfig(digits=2, terms=3, operators="+-*").to_dict(), {}, net=net
    )
    assert "shows its work" not in one_pass and "units_first" not in one_pass
