"""The fast verifier gives exactly Keras' answers, and margins to 1e-5, for every cell and for stacked layers."""

from __future__ import annotations

import numpy as np
import pytest

from model.codec import encode_answers, encode_questions, one_hot
from model.config import NetworkConfig, TaskConfig
from model.network import build_model
from model.predictor import margins
from model.questions import all_questions, answers, concat, make_questions, sample_questions
from trainer.fast_verify import fast_margins, prefix_trie

TASK = TaskConfig(digits=2, terms=3, min_terms=2, operators="+-*")


def keras_reference(model, tokens, truth, task):
    probs = np.asarray(model(one_hot(tokens, task), training=False))
    return probs.argmax(-1), margins(probs, truth).min(axis=1)


@pytest.mark.parametrize("cell", ["lstm", "gru", "simple_rnn"])
@pytest.mark.parametrize("layers", [1, 2])
def test_fast_margins_equal_keras(cell, layers):
    import keras

    keras.utils.set_random_seed(3)
    net = NetworkConfig(cell=cell, encoder_units=24, decoder_units=20, encoder_layers=layers, decoder_layers=layers)
    model = build_model(TASK, net)
    model.set_weights([w * 1.5 for w in model.get_weights()])
    q = sample_questions(TASK, 3000, np.random.default_rng(0))
    q = concat([q, q[:300]])  # duplicates share every prefix
    tokens, truth = encode_questions(q, TASK), encode_answers(answers(q), TASK)
    predicted, margin = fast_margins(model, tokens, truth, chunk=1024)
    expected_tokens, expected_margin = keras_reference(model, tokens, truth, TASK)
    assert (predicted == expected_tokens).all()
    assert np.abs(margin - expected_margin).max() < 1e-5


@pytest.mark.parametrize("cell", ["lstm", "gru", "simple_rnn"])
def test_fast_margins_equal_the_numpy_network_through_a_model_folder(cell, tmp_path):
    """Both passes run model/cells.py's step: the app's numpy network and the verifier agree on a saved model."""
    import keras

    from model.forward import Network
    from model.storage import load_model_dir, write_keras_files
    from trainer.verify import keras_model

    keras.utils.set_random_seed(4)
    net = NetworkConfig(cell=cell, encoder_units=16, decoder_units=12, encoder_layers=2, decoder_layers=2)
    model = build_model(TASK, net)
    model.set_weights([w * 1.5 for w in model.get_weights()])
    write_keras_files(model, tmp_path)
    TASK.save(tmp_path / "task_config.json")
    net.save(tmp_path / "network.json")
    stored = load_model_dir(tmp_path)
    q = sample_questions(TASK, 2000, np.random.default_rng(2))
    tokens, truth = encode_questions(q, TASK), encode_answers(answers(q), TASK)
    probs = Network(TASK, net, stored.weights).probabilities(tokens)
    predicted, margin = fast_margins(keras_model(stored), tokens, truth, chunk=1024)
    assert (predicted == probs.argmax(-1)).all()
    assert np.abs(margin - margins(probs, truth).min(axis=1)).max() < 1e-5
    assert margin.std() > 1e-3  # margins that differ from question to question, not one constant


def test_prefix_trie_shares_prefixes():
    tokens = np.array([[1, 2, 3], [1, 2, 4], [1, 5, 3], [1, 2, 3]])
    parents, _last, ids = prefix_trie(tokens)
    assert [len(p) for p in parents] == [1, 2, 3]  # "1"; "12", "15"; "123", "124", "153"
    assert ids[0] == ids[3] and len(set(ids.tolist())) == 3


def test_fast_margins_match_keras_on_the_bundled_model_and_four_sums_to_700_are_right_by_its_margin():
    import keras

    from model.storage import BUNDLED_DIR

    task = TaskConfig()
    model = keras.saving.load_model(BUNDLED_DIR, compile=False)
    every = all_questions(task)
    q = every[np.random.default_rng(5).choice(len(every), 20_000, replace=False)]
    tokens, truth = encode_questions(q, task), encode_answers(answers(q), task)
    predicted, margin = fast_margins(model, tokens, truth)
    expected_tokens, expected_margin = keras_reference(model, tokens, truth, task)
    assert (predicted == expected_tokens).all() and np.abs(margin - expected_margin).max() < 1e-5
    # Four sums to 700 whose carry runs through every digit, which a less polished model gets wrong.
    known = make_questions([[65, 635], [64, 636], [55, 645], [54, 646]])
    tokens, truth = encode_questions(known, task), encode_answers(answers(known), task)
    _, margin = fast_margins(model, tokens, truth)
    assert np.abs(margin - keras_reference(model, tokens, truth, task)[1]).max() < 1e-5
    assert (margin >= 0.5).all(), margin


@pytest.mark.parametrize(
    ("cell", "attention", "layers"), [("lstm", "dot", 1), ("gru", "additive", 2), ("simple_rnn", "dot", 1)]
)
def test_fast_margins_of_an_attention_model_equal_keras_greedy_answers(cell, attention, layers):
    """The verifier answers greedily from the trie's states, as Keras does when fed its own characters."""
    import keras

    from model.network import greedy_probabilities

    keras.utils.set_random_seed(6)
    net = NetworkConfig(
        cell=cell,
        encoder_units=16,
        decoder_units=16,
        encoder_layers=layers,
        decoder_layers=layers,
        decoder="attention",
        attention=attention,
    )
    model = build_model(TASK, net)
    model.set_weights([w * 1.5 for w in model.get_weights()])
    q = sample_questions(TASK, 2000, np.random.default_rng(7))
    q = concat([q, q[:200]])
    tokens, truth = encode_questions(q, TASK), encode_answers(answers(q), TASK)
    predicted, margin = fast_margins(model, tokens, truth, chunk=1024)
    probs = greedy_probabilities(model, one_hot(tokens, TASK), TASK)
    assert (predicted == probs.argmax(-1)).all()
    assert np.abs(margin - margins(probs, truth).min(axis=1)).max() < 1e-5
    assert margin.std() > 1e-3
