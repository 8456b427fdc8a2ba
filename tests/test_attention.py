"""The attention decoder: Keras' own layers, replicated by the numpy pass; one weight layout for all.

For every cell with each attention (Luong dot, Bahdanau additive), a Keras model from our builder with
random weights is compared with the app's numpy network to 1e-5: teacher-forced probabilities (what
training sees), greedy answers (each step fed the character chosen before, by Keras and by numpy) and
the attention weights (against Keras' own `return_attention_scores`). The parameter count and weight
layout are Keras' own, and a model folder written by model.storage reads back (with plain
`keras.saving.load_model` too) to the same answers.
"""

from __future__ import annotations

import numpy as np
import pytest

from model.codec import encode_answers, encode_questions, one_hot, shifted_answers
from model.config import ConfigError, NetworkConfig, TaskConfig, parameter_count
from model.forward import Network
from model.network import build_model, greedy_probabilities, weight_layout
from model.questions import answers, sample_questions

TASK = TaskConfig(digits=2, terms=3, min_terms=2, operators="+-*", answer_order="lsb")
CASES = [
    NetworkConfig(cell=cell, encoder_units=16, decoder_units=16, decoder="attention", attention=attention)
    for cell in ("lstm", "gru", "simple_rnn")
    for attention in ("dot", "additive")
] + [
    NetworkConfig(encoder_units=12, decoder_units=12, encoder_layers=2, decoder_layers=2, decoder="attention"),
    NetworkConfig(
        cell="gru", encoder_units=12, decoder_units=12, decoder_layers=2, decoder="attention", attention="additive"
    ),
]


def name(net: NetworkConfig) -> str:
    return f"{net.cell}-{net.attention}-{net.encoder_layers}x{net.decoder_layers}"


def random_model(net: NetworkConfig, seed: int = 0):
    import keras

    keras.utils.set_random_seed(seed)
    model = build_model(TASK, net)
    model.set_weights([w * 1.5 for w in model.get_weights()])  # larger than usual, so gates saturate
    return model


def numpy_network(model, net: NetworkConfig) -> Network:
    return Network(TASK, net, dict(zip(weight_layout(TASK, net), model.get_weights(), strict=True)))


def keras_attention_weights(model, net: NetworkConfig, questions: np.ndarray, previous: np.ndarray) -> np.ndarray:
    """The weights Keras' attention layer computes, from the model's own decoder states and encoder states."""
    import keras

    top_decoder = model.get_layer(f"decoder_{net.decoder_layers - 1}").output
    keys = model.get_layer(f"encoder_{net.encoder_layers - 1}").output[0]
    decoded, states = keras.Model(model.inputs, [top_decoder, keys])([questions, previous])
    _, scores = model.get_layer("attention")([decoded, states], return_attention_scores=True)
    return np.asarray(scores)


@pytest.mark.parametrize("net", CASES, ids=name)
def test_numpy_attention_network_equals_keras(net):
    model = random_model(net)
    network = numpy_network(model, net)
    q = sample_questions(TASK, 400, np.random.default_rng(1))
    tokens, truth = encode_questions(q, TASK), encode_answers(answers(q), TASK)
    x = one_hot(tokens, TASK)
    forced = np.asarray(model([x, shifted_answers(truth, TASK)], training=False))
    assert np.abs(network.teacher_forced(tokens, truth) - forced).max() < 1e-5
    greedy = greedy_probabilities(model, x, TASK)
    probs, weights = network.attention_weights(tokens)
    assert np.abs(probs - greedy).max() < 1e-5
    assert (probs.argmax(-1) == greedy.argmax(-1)).all()
    assert np.abs(network.probabilities(tokens) - probs).max() == 0.0
    chosen = shifted_answers(probs.argmax(-1), TASK)
    assert weights.shape == (len(q), TASK.answer_length, TASK.question_length)
    assert np.abs(weights - keras_attention_weights(model, net, x, chosen)).max() < 1e-5
    assert weights.std() > 1e-4  # weights that differ, not a uniform 1/length everywhere
    # Greedy and teacher-forced differ where the model's own guesses differ from the truth.
    assert (greedy.argmax(-1) != truth).any()


@pytest.mark.parametrize("net", CASES[:2] + CASES[-2:], ids=name)
def test_parameter_count_and_layout_are_keras_own(net):
    model = build_model(TASK, net)
    assert parameter_count(TASK, net) == model.count_params()
    assert [w.shape for w in model.get_weights()] == list(weight_layout(TASK, net).values())


def test_the_trace_has_every_layer_step_by_step():
    net = CASES[-2]
    network = numpy_network(random_model(net), net)
    tokens = encode_questions(sample_questions(TASK, 5, np.random.default_rng(2)), TASK)
    _, traces = network.trace(tokens)
    assert [t.name for t in traces] == ["encoder 1", "encoder 2", "decoder 1", "decoder 2"]
    assert traces[2].hidden.shape == (5, TASK.answer_length, 12)
    assert set(traces[2].gates) == {"input", "forget", "output", "candidate"}


@pytest.mark.parametrize("net", [CASES[1], CASES[-2]], ids=name)
def test_storage_round_trip_and_plain_keras_load(net, tmp_path):
    import keras

    from model.storage import load_model_dir, write_keras_files
    from trainer.verify import keras_model

    model = random_model(net, seed=3)
    write_keras_files(model, tmp_path)
    TASK.save(tmp_path / "task_config.json")
    net.save(tmp_path / "network.json")
    stored = load_model_dir(tmp_path)
    assert stored.net == net and stored.task == TASK
    tokens = encode_questions(sample_questions(TASK, 200, np.random.default_rng(4)), TASK)
    x = one_hot(tokens, TASK)
    expected = greedy_probabilities(model, x, TASK)
    assert np.abs(Network(TASK, net, stored.weights).probabilities(tokens) - expected).max() < 1e-5
    assert np.abs(greedy_probabilities(keras_model(stored), x, TASK) - expected).max() < 1e-6
    plain = keras.saving.load_model(tmp_path, compile=False)  # the folder as any Keras user loads it
    assert np.abs(greedy_probabilities(plain, x, TASK) - expected).max() < 1e-6


def test_attention_options_are_checked_and_old_files_mean_repeat():
    with pytest.raises(ConfigError, match="decoder must be one of repeat, attention"):
        NetworkConfig(decoder="transformer")
    with pytest.raises(ConfigError, match="attention must be one of dot, additive"):
        NetworkConfig(decoder="attention", attention="luong")
    with pytest.raises(ConfigError, match=r"decoder_units must equal encoder_units \(128\) for the attention"):
        NetworkConfig(decoder="attention", decoder_units=64)
    assert NetworkConfig.from_dict({"cell": "gru"}).decoder == "repeat"
    old_fields = {"cell", "encoder_units", "decoder_units", "encoder_layers", "decoder_layers"}
    assert set(NetworkConfig().to_dict()) == old_fields
    back = NetworkConfig.from_json(CASES[1].to_json())
    assert (back.decoder, back.attention) == ("attention", "additive")
