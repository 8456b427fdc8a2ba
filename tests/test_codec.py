"""The codec: padding, reversal, one-hot and the parsing of a person's question."""

import numpy as np
import pytest

from model.codec import (InputError, encode_answers, encode_questions, one_hot, parse_question,
                         tokens_to_text)
from model.config import ConfigError, TaskConfig

KERAS_IO = TaskConfig()
BROWNLEE = TaskConfig(digits=2, terms=3, reverse=False, alphabet="0123456789+ ", padding="left",
                      sampling="uniform", smallest=1, largest=10)


def text(terms, config, answers=False):
    terms = np.array(terms)
    tokens = encode_answers(terms.sum(1), config) if answers else encode_questions(terms, config)
    return tokens_to_text(tokens, config)


def test_keras_io_padding_and_reversal_match_the_example():
    # keras.io pads '12+345' to '12+345 ' and reverses it to ' 543+21'; answers are right-padded.
    assert text([[12, 345], [535, 61], [0, 0], [999, 999]], KERAS_IO) == [" 543+21", " 16+535", "    0+0", "999+999"]
    assert text([[12, 345], [535, 61], [0, 0], [999, 999]], KERAS_IO, answers=True) == ["357 ", "596 ", "0   ", "1998"]


def test_tutorial_pads_on_the_left_and_does_not_reverse():
    assert text([[10, 1, 5], [3, 4, 5]], BROWNLEE) == ["  10+1+5", "   3+4+5"]
    assert text([[10, 10, 10], [1, 1, 1]], BROWNLEE, answers=True) == ["30", " 3"]


@pytest.mark.parametrize("digits,terms,reverse,padding", [
    (1, 2, False, "right"), (2, 2, True, "left"), (3, 3, True, "right"), (4, 4, False, "left"), (5, 2, True, "right")])
def test_round_trip_for_several_sizes(digits, terms, reverse, padding):
    config = TaskConfig(digits=digits, terms=terms, reverse=reverse, padding=padding)
    rng = np.random.default_rng(digits * 10 + terms)
    values = rng.integers(0, 10**digits, size=(200, terms))
    questions = text(values, config)
    answers = text(values, config, answers=True)
    for row, question, answer in zip(values, questions, answers):
        assert len(question) == config.question_length and len(answer) == config.answer_length
        readable = question[::-1] if reverse else question
        assert readable.strip() == "+".join(str(v) for v in row)
        padded = readable.strip().ljust if padding == "right" else readable.strip().rjust
        assert readable == padded(config.question_length)
        assert int(answer.strip()) == row.sum()
        assert answer == (answer.strip().ljust(config.answer_length) if padding == "right"
                          else answer.strip().rjust(config.answer_length))


def test_one_hot_has_a_single_one_per_step_at_the_character():
    tokens = encode_questions(np.array([[535, 61]]), KERAS_IO)
    x = one_hot(tokens, KERAS_IO)
    assert x.shape == (1, 7, 12) and x.dtype == np.float32
    assert np.all(x.sum(-1) == 1)
    assert "".join(KERAS_IO.alphabet[i] for i in x[0].argmax(-1)) == " 16+535"


def test_parse_question_accepts_spaces_and_refuses_everything_else():
    assert parse_question(" 535 + 61 ", KERAS_IO) == [535, 61]
    cases = {
        "": "Type a sum",
        "abc": "character",
        "5+": "misplaced",
        "1234+5": "outside what this model learned",
        "1+2+3": "exactly 2 numbers",
        "-5+3": "Negative",
        "x" * 10_000: "at most",
    }
    for question, fragment in cases.items():
        with pytest.raises(InputError, match=fragment):
            parse_question(question, KERAS_IO)
    with pytest.raises(InputError, match="Expected text"):
        parse_question(None, KERAS_IO)


def test_config_json_round_trip_and_clear_errors():
    assert TaskConfig.from_json(BROWNLEE.to_json()) == BROWNLEE
    for bad, fragment in [({"digits": 0}, "digits"), ({"terms": 1}, "terms"), ({"alphabet": "0123456789+"}, "lacks"),
                          ({"colour": "red"}, "unknown"), ({"largest": 1000}, "largest"),
                          ({"terms": 7}, "more questions than")]:
        with pytest.raises(ConfigError, match=fragment):
            TaskConfig.from_dict({**TaskConfig().to_dict(), **bad})
    with pytest.raises(ConfigError, match="not valid JSON"):
        TaskConfig.from_json("{nope")


def test_only_ascii_digits_count():
    with pytest.raises(InputError, match="character"):
        parse_question("٣+４", KERAS_IO)
