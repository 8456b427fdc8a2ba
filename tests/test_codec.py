"""The codec: padding, reversal, one-hot, every operator, term ranges, negative answers, parsing a person's text.

`answers` is checked against Python's own arithmetic on the question text: an independent oracle that
knows nothing of our operator codes or precedence handling.
"""

import re

import numpy as np
import pytest

from model.codec import answer_value, encode_answers, encode_questions, one_hot, tokens_to_text
from model.config import ConfigError, TaskConfig
from model.questions import InputError, answers, make_questions, parse_question, sample_questions

KERAS_IO = TaskConfig()
BROWNLEE = TaskConfig(
    digits=2,
    terms=3,
    reverse=False,
    alphabet="0123456789+ ",
    padding="left",
    sampling="uniform",
    smallest=1,
    largest=10,
)


def python_says(text: str) -> int:
    """The value of a question, by Python: only after checking it is digits and operators, nothing else."""
    assert re.fullmatch(r"[0-9]+([+*-][0-9]+)*", text), text
    return eval(text, {"__builtins__": {}}, {})


def texts(tokens: np.ndarray, task: TaskConfig) -> list[str]:
    return tokens_to_text(tokens, task)


def test_keras_io_padding_and_reversal_match_the_example():
    # keras.io pads '12+345' to '12+345 ' and reverses it to ' 543+21'; answers are right-padded.
    q = make_questions([[12, 345], [535, 61], [0, 0], [999, 999]])
    assert texts(encode_questions(q, KERAS_IO), KERAS_IO) == [" 543+21", " 16+535", "    0+0", "999+999"]
    assert texts(encode_answers(answers(q), KERAS_IO), KERAS_IO) == ["357 ", "596 ", "0   ", "1998"]


def test_tutorial_pads_on_the_left_and_does_not_reverse():
    q = make_questions([[10, 1, 5], [3, 4, 5]])
    assert texts(encode_questions(q, BROWNLEE), BROWNLEE) == ["  10+1+5", "   3+4+5"]
    assert texts(encode_answers(np.array([30, 3]), BROWNLEE), BROWNLEE) == ["30", " 3"]


TASKS = [
    TaskConfig(digits=1, terms=2, reverse=False),
    TaskConfig(digits=2, terms=2, padding="left"),
    TaskConfig(digits=3, terms=3),
    TaskConfig(digits=4, terms=4, reverse=False, padding="left"),
    TaskConfig(digits=5, terms=2),
    TaskConfig(digits=3, operators="-"),
    TaskConfig(digits=2, operators="*", padding="left"),
    TaskConfig(digits=2, terms=3, operators="+-*"),
    TaskConfig(digits=2, terms=4, min_terms=2, operators="+-*", reverse=False),
    TaskConfig(digits=1, terms=5, min_terms=3, operators="-*", padding="left"),
    BROWNLEE,
]


@pytest.mark.parametrize(
    "task",
    TASKS,
    ids=lambda t: f"d{t.digits}-t{t.fewest_terms}..{t.terms}-{t.operators}-{'rev' if t.reverse else 'fwd'}-{t.padding}",
)
def test_round_trip_matches_pythons_arithmetic(task):
    q = sample_questions(task, 500, np.random.default_rng(task.digits * 10 + task.terms))
    truth = answers(q)
    questions = texts(encode_questions(q, task), task)
    written = texts(encode_answers(truth, task), task)
    for text, question, answer, value in zip(q.texts(), questions, written, truth.tolist(), strict=True):
        assert value == python_says(text)
        assert len(question) == task.question_length and len(answer) == task.answer_length
        readable = question[::-1] if task.reverse else question
        assert readable.strip() == text  # the network reads exactly the question, padded at one end
        pad = readable.strip().ljust if task.padding == "right" else readable.strip().rjust
        assert readable == pad(task.question_length)
        assert answer_value(answer) == value
        assert answer == (
            answer.strip().ljust(task.answer_length)
            if task.padding == "right"
            else answer.strip().rjust(task.answer_length)
        )
    if "-" in task.operators and "*" not in task.operators:
        assert (truth < 0).any()  # negative answers were really exercised
    if task.fewest_terms < task.terms:
        assert set(q.counts.tolist()) == set(range(task.fewest_terms, task.terms + 1))


def test_extremes_fit_the_answer_width():
    for task in TASKS:
        low, high = task.smallest, task.max_term
        k = task.terms
        for ops in {o * (k - 1) for o in task.operators}:
            worst = [
                make_questions([[high] * k], [[{"+": 0, "-": 1, "*": 2}[o] for o in ops]]),
                make_questions([[low] + [high] * (k - 1)], [[{"+": 0, "-": 1, "*": 2}[o] for o in ops]]),
            ]
            for q in worst:
                value = int(answers(q)[0])
                assert value == python_says(q.texts()[0])
                assert answer_value(texts(encode_answers(np.array([value]), task), task)[0]) == value


def test_one_hot_has_a_single_one_per_step_at_the_character():
    tokens = encode_questions(make_questions([[535, 61]]), KERAS_IO)
    x = one_hot(tokens, KERAS_IO)
    assert x.shape == (1, 7, 12) and x.dtype == np.float32
    assert np.all(x.sum(-1) == 1)
    assert "".join(KERAS_IO.chars[i] for i in x[0].argmax(-1)) == " 16+535"


def test_parse_question_accepts_spaces_and_refuses_everything_else():
    q = parse_question(" 535 + 61 ", KERAS_IO)
    assert q.texts() == ["535+61"] and int(answers(q)[0]) == 596
    mixed = TaskConfig(digits=2, terms=3, min_terms=2, operators="+-*")
    spaced = parse_question("12 - 7*3", mixed)
    assert spaced.texts() == ["12-7*3"] and int(answers(spaced)[0]) == -9 == python_says("12-7*3")
    cases = {
        "": "Type a question",
        "abc": "character",
        "5+": "misplaced operator",
        "1234+5": "outside what this model learned",
        "1+2+3": "exactly 2 numbers",
        "-5+3": "Negative numbers",
        "5 5+1": "cannot contain spaces",
        "5-3": "only knows +",
        "x" * 10_000: "at most 200",
    }
    for question, fragment in cases.items():
        with pytest.raises(InputError, match=fragment):
            parse_question(question, KERAS_IO)
    with pytest.raises(InputError, match="Expected text"):
        parse_question(None, KERAS_IO)


def test_config_json_round_trip_and_clear_errors():
    for task in TASKS:
        assert TaskConfig.from_json(task.to_json()) == task
    for bad, fragment in [
        ({"digits": 0}, "digits"),
        ({"terms": 1}, "terms"),
        ({"alphabet": "0123456789+"}, "lacks"),
        ({"colour": "red"}, "unknown"),
        ({"largest": 1000}, "largest"),
        ({"operators": "/"}, "operators"),
        ({"min_terms": 3}, "min_terms"),
        ({"terms": 7}, "larger than this project handles"),
    ]:
        with pytest.raises(ConfigError, match=fragment):
            TaskConfig.from_dict({**TaskConfig().to_dict(), **bad})
    with pytest.raises(ConfigError, match="not valid JSON"):
        TaskConfig.from_json("{nope")


def test_only_ascii_digits_count():
    with pytest.raises(InputError, match="character"):
        parse_question("٣+４", KERAS_IO)
