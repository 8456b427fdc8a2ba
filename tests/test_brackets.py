"""Bracketed questions: patterns, values, text, encoding, parsing, sampling, enumeration.

Values are checked against Python's own arithmetic on the question text (an oracle that knows nothing of
our patterns or precedence handling); the parser's refusals are one sentence each.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from model.brackets import bracket_patterns, pattern_labels
from model.codec import encode_questions, tokens_to_text
from model.config import ConfigError, TaskConfig
from model.questions import (
    InputError,
    all_questions,
    answers,
    parse_question,
    question_keys,
    sample_patterns,
    sample_questions,
)

TASK = TaskConfig(digits=2, terms=3, min_terms=2, operators="+-*", brackets=True)


def python_says(text: str) -> int:
    """The value of a question by Python, only after checking it is digits, operators and brackets."""
    assert re.fullmatch(r"[0-9+*()-]+", text), text
    return eval(text, {"__builtins__": {}}, {})


def test_pattern_counts_and_the_example_patterns():
    assert [len(bracket_patterns(k)) for k in (2, 3, 4)] == [1, 3, 11]
    assert bracket_patterns(3) == ((), ((0, 1),), ((1, 2),))
    assert pattern_labels(3) == ["a·b·c", "(a·b)·c", "a·(b·c)"]  # for the Map, by bracket pattern
    q = parse_question("12-(34-5)", TASK)
    assert q.groups is not None and bracket_patterns(3)[int(q.groups[0])] == ((1, 2),)


@pytest.mark.parametrize(
    "task",
    [TASK, TaskConfig(digits=1, terms=5, min_terms=3, operators="+-*", brackets=True, reverse=False, padding="left")],
    ids=["2d3t", "1d5t-left"],
)
def test_values_and_network_text_match_pythons_arithmetic(task):
    q = sample_questions(task, 4000, np.random.default_rng(0))
    texts = q.texts()
    assert answers(q).tolist() == [python_says(t) for t in texts]
    assert any("(" in t for t in texts) and any("(" not in t for t in texts)
    read = tokens_to_text(encode_questions(q, task), task)
    read = [r[::-1] if task.reverse else r for r in read]
    assert [r.strip() for r in read] == texts
    assert {len(r) for r in read} == {task.question_length}
    assert max(len(t) for t in texts) <= task.question_length


def test_every_question_of_a_small_task_is_listed_once_with_its_true_value():
    task = TaskConfig(digits=1, terms=4, min_terms=3, operators="-*", brackets=True)
    q = all_questions(task)
    assert len(q) == task.question_count == 10**3 * 4 * 3 + 10**4 * 8 * 11
    assert len(np.unique(question_keys(q, task))) == len(q)
    sample = np.random.default_rng(1).choice(len(q), 3000, replace=False)
    assert answers(q[sample]).tolist() == [python_says(t) for t in q[sample].texts()]
    values = answers(q)
    assert (values.max(), values.min()) == (task.largest_answer, task.smallest_answer)


def test_patterns_are_drawn_uniformly_for_each_term_count():
    counts = np.array([3] * 30_000 + [4] * 33_000)
    task = TaskConfig(digits=1, terms=4, min_terms=3, operators="+", brackets=True)
    groups = sample_patterns(task, counts, np.random.default_rng(2))
    three = np.bincount(groups[counts == 3], minlength=3)
    four = np.bincount(groups[counts == 4], minlength=11)
    assert len(three) == 3 and len(four) == 11  # never a pattern that does not exist
    assert np.abs(three / 10_000 - 1).max() < 0.05 and np.abs(four / 3_000 - 1).max() < 0.08


@pytest.mark.parametrize(
    ("text", "value"),
    [("(12+7)*3", 57), ("12-(34-5)", -17), (" ( 12 + 7 ) * 3 ", 57), ("1+(2*3)", 7), ("(9-8)*7", 7), ("9*8", 72)],
)
def test_the_parser_reads_brackets_with_precedence(text, value):
    assert answers(parse_question(text, TASK)).tolist() == [value]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("(12+7", "A bracket is not closed"),
        ("12+7)", "A bracket closes nothing"),
        ("()+12", "empty brackets"),
        ("1(2+3)", "A bracket must follow an operator"),
        ("(1+2)3", "A closing bracket must be followed by an operator"),
        ("(1+)2", "A bracket cannot close right after an operator"),
        ("(*1+2)+3", "A bracket cannot open right before an operator"),
        ("((1+2))*3", "Double brackets"),
        ("(5)+1", "Brackets around a single number"),
        ("(1+2*3)", "Brackets around the whole question"),
        ("(-5)+1", "Negative numbers are not part of this task"),
        ("(1+2)*", "misplaced operator"),
        ("(1+2)*(3+4)", "questions of 2 to 3 numbers, but this one has 4"),
    ],
)
def test_bad_brackets_get_one_sentence(text, message):
    with pytest.raises(InputError, match=re.escape(message)) as caught:
        parse_question(text, TASK)
    assert str(caught.value).count(". ") == 0 and str(caught.value).endswith(".")


def test_a_task_without_brackets_refuses_them_and_old_files_mean_none():
    with pytest.raises(InputError, match="the character"):
        parse_question("(1+2)*3", TaskConfig(digits=2, terms=3, operators="+*"))
    assert TaskConfig.from_dict({"digits": 2}).brackets is False
    assert "brackets" not in TaskConfig().to_dict()
    assert "(" not in TaskConfig(operators="+-*").chars and TASK.chars.endswith("()")
    assert TASK.question_length == 3 * 2 + 2 + 2
    with pytest.raises(ConfigError, match="terms must be at most 5 with brackets"):
        TaskConfig(terms=6, digits=1, brackets=True)
    with pytest.raises(ConfigError, match="brackets must be true or false"):
        TaskConfig(brackets="yes")
    with pytest.raises(ConfigError, match="lacks"):
        TaskConfig(brackets=True, alphabet=" +0123456789")


def test_a_bracket_task_model_reads_its_questions_alike_in_numpy_and_the_fast_verifier():
    import keras

    from model.codec import encode_answers
    from model.config import NetworkConfig
    from model.forward import Network
    from model.network import build_model, weight_layout
    from trainer.fast_verify import fast_margins

    task = TaskConfig(digits=2, terms=3, min_terms=2, operators="+-*", brackets=True, answer_order="lsb")
    net = NetworkConfig(encoder_units=12, decoder_units=12, decoder="attention", attention="additive")
    keras.utils.set_random_seed(8)
    model = build_model(task, net)
    model.set_weights([w * 1.5 for w in model.get_weights()])
    q = sample_questions(task, 1000, np.random.default_rng(9))
    tokens, truth = encode_questions(q, task), encode_answers(answers(q), task)
    probs = Network(task, net, dict(zip(weight_layout(task, net), model.get_weights(), strict=True))).probabilities(
        tokens
    )
    predicted, _ = fast_margins(model, tokens, truth, chunk=1024)
    assert (predicted == probs.argmax(-1)).all()
