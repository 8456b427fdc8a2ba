"""answer_order "lsb": the network writes the answer lowest digit first; everything reads it back the usual way.

The codec's round trip is checked against Python's own numbers, old folders (whose task_config.json says
nothing of the order) load as "msb" and write back unchanged, and a small lsb model with random weights
gives the same answers through Keras, the app's numpy network (the Predictor) and the fast verifier.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from model.codec import answer_texts, answer_value, encode_answers, encode_questions, one_hot, tokens_to_text
from model.config import ConfigError, NetworkConfig, TaskConfig
from model.questions import answers, sample_questions
from model.storage import ZOO_DIR

LSB_TASKS = [
    TaskConfig(digits=2, operators="-", answer_order="lsb"),
    TaskConfig(digits=2, operators="-", answer_order="lsb", padding="left"),
    TaskConfig(digits=3, answer_order="lsb"),
    TaskConfig(digits=2, terms=3, min_terms=2, operators="+-*", answer_order="lsb"),
]


def test_lsb_writes_units_first_and_the_sign_after_the_digits():
    task = TaskConfig(digits=2, operators="-", answer_order="lsb")
    written = encode_answers(np.array([596 % 100, -42, 0, 10, -9]), task)
    assert tokens_to_text(written, task) == ["69 ", "24-", "0  ", "01 ", "9- "]
    assert answer_texts(written, task) == ["96 ", "-42", "0  ", "10 ", "-9 "]


@pytest.mark.parametrize("task", LSB_TASKS, ids=lambda t: f"{t.digits}d-{t.operators}-{t.padding}")
def test_lsb_round_trip_reads_back_pythons_numbers_padded_as_msb(task):
    q = sample_questions(task, 3000, np.random.default_rng(1))
    truth = answers(q)
    written = encode_answers(truth, task)
    assert [answer_value(t) for t in answer_texts(written, task)] == truth.tolist()
    msb = TaskConfig(**{**task.to_dict(), "answer_order": "msb"})
    assert answer_texts(written, task) == tokens_to_text(encode_answers(truth, msb), msb)
    # Units digit always at the first position: each position is one column.
    units = np.array([int(str(abs(v))[-1]) for v in truth.tolist()])
    assert (written[:, 0] == np.array([task.chars.index(str(d)) for d in units])).all()


def test_a_pad_written_between_digits_is_not_closed_up():
    task = TaskConfig(digits=2, answer_order="lsb")
    pad, five, nine = task.chars.index(" "), task.chars.index("5"), task.chars.index("9")
    malformed = np.array([[five, pad, nine]])  # written "5 9"
    assert answer_value(answer_texts(malformed, task)[0]) is None


def test_answer_order_is_checked_and_absent_means_msb():
    with pytest.raises(ConfigError, match="answer_order must be one of msb, lsb"):
        TaskConfig(answer_order="backwards")
    assert TaskConfig.from_dict({"digits": 2}).answer_order == "msb"
    assert "answer_order" not in TaskConfig().to_dict()  # old files are written back as they were
    assert TaskConfig.from_json(TaskConfig(answer_order="lsb").to_json()).answer_order == "lsb"


@pytest.mark.parametrize("folder", sorted(p.parent for p in ZOO_DIR.glob("*/task_config.json")), ids=lambda p: p.name)
def test_every_zoo_folder_loads_in_its_order_and_writes_back_unchanged(folder):
    """A folder from before the field says nothing and is msb; one written units first says lsb."""
    written = json.loads((folder / "task_config.json").read_text())
    task = TaskConfig.load(folder / "task_config.json")
    assert task.answer_order == written.get("answer_order", "msb")
    assert written.get("answer_order") != "msb"  # msb, the default, is left out, as older files leave it
    assert json.loads(task.to_json()) == written


@pytest.mark.parametrize("decoder", ["repeat", "attention"])
def test_a_tiny_lsb_model_answers_alike_through_keras_numpy_and_the_fast_verifier(decoder):
    import keras

    from model.forward import Network
    from model.network import build_model, greedy_probabilities, weight_layout
    from model.predictor import Predictor
    from trainer.fast_verify import fast_margins
    from trainer.verify import Checker, sample_lines

    task = LSB_TASKS[-1]
    net = NetworkConfig(encoder_units=16, decoder_units=16, decoder=decoder)
    keras.utils.set_random_seed(5)
    model = build_model(task, net)
    model.set_weights([w * 2.0 for w in model.get_weights()])
    q = sample_questions(task, 500, np.random.default_rng(3))
    tokens = encode_questions(q, task)
    x = one_hot(tokens, task)
    keras_probs = greedy_probabilities(model, x, task) if decoder == "attention" else model(x, training=False)
    keras_tokens = np.asarray(keras_probs).argmax(-1)
    checker = Checker(task, q)
    fast_tokens, _ = fast_margins(model, checker.tokens, checker.truth, chunk=1024)
    weights = dict(zip(weight_layout(task, net), model.get_weights(), strict=True))
    explained = Predictor(task, Network(task, net, weights)).explain(q)
    assert (fast_tokens == keras_tokens).all()
    read = answer_texts(keras_tokens, task)
    assert [e.answer_as_read for e in explained] == read
    assert [e.answer for e in explained] == [answer_value(t) for t in read]
    assert [e.answer_text for e in explained] == tokens_to_text(keras_tokens, task)  # as written
    assert {e.written for e in explained} == {"lsb"}
    # The truth, read by the verifier's own lines, is right everywhere: the check reads lsb the usual way.
    assert checker.summary(checker.truth, np.ones(len(q)))["exact_match"] == 1.0
    lines = sample_lines(task, q, checker.truth)
    assert all("☑" in line for line in lines)
    assert [e.true_as_read.strip() for e in explained] == [str(v) for v in answers(q).tolist()]
