"""The rewrite design answered by feeding the network's own output back (model/step_predictor.py): the numpy
network and Keras write the same steps, and the experiment's networks (bench/steps_experiment.py) load into
the one the builder makes for the same task, answering the same."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from trainer_runs import ROOT

from model.codec import encode_questions, one_hot
from model.config import NetworkConfig, TaskConfig
from model.forward import Network
from model.network import build_model, greedy_probabilities, weight_layout
from model.questions import Questions, sample_questions
from model.step_predictor import StepPredictor, feed_back, max_passes
from model.steps import ALPHABET

BRACKETS3 = TaskConfig(digits=2, terms=3, operators="+-*", brackets=True, steps="rewrite")
NET = NetworkConfig(encoder_units=16, decoder_units=16, decoder="attention")


def scramble(model, seed: int) -> None:
    """Random weights large enough that what the network writes varies from row to row, leaning to `+` so
    that it writes expressions to feed back, and never `=` (the experiment joins its steps with it)."""
    rng = np.random.default_rng(seed)
    weights = [rng.normal(0, 0.6, w.shape).astype(np.float32) for w in model.get_weights()]
    weights[-1][ALPHABET.index("+")] += 1.5  # the last array is the output layer's bias
    weights[-1][ALPHABET.index("=")] = -30.0
    model.set_weights(weights)


def random_network(task: TaskConfig, net: NetworkConfig, seed: int):
    import keras

    keras.utils.set_random_seed(seed)
    model = build_model(task, net)
    scramble(model, seed)
    return model, dict(zip(weight_layout(task, net), model.get_weights(), strict=True))


def test_numpy_and_keras_write_the_same_steps_pass_by_pass():
    model, weights = random_network(BRACKETS3, NET, 3)
    numpy_net = Network(BRACKETS3, NET, weights)
    tokens = encode_questions(sample_questions(BRACKETS3, 64, np.random.default_rng(0)), BRACKETS3)

    def keras_probabilities(rows: np.ndarray) -> np.ndarray:
        return greedy_probabilities(model, one_hot(rows, BRACKETS3), BRACKETS3)

    ours, theirs = (
        feed_back(numpy_net.probabilities, tokens, BRACKETS3),
        feed_back(keras_probabilities, tokens, BRACKETS3),
    )
    assert len(ours) == len(theirs) >= 2  # the output was fed back at least once
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_array_equal(a.rows, b.rows)
        np.testing.assert_allclose(a.probabilities, b.probabilities, atol=1e-5)
        np.testing.assert_array_equal(a.written, b.written)
    assert len(ours) <= max_passes(BRACKETS3)


@pytest.mark.parametrize("brackets", [False, True])
def test_an_experiment_network_loads_into_the_builders_network_and_writes_the_same_steps(brackets):
    sys.path.insert(0, str(ROOT / "bench"))
    import steps_experiment as experiment
    from steps_data import draw

    sizes = experiment.shape_for("rewrite", brackets, True, True)  # the experiment's --reverse-numbers --partial
    model = experiment.build(sizes, 16)
    task = TaskConfig(digits=2, terms=3, operators="+-*", brackets=brackets, steps="rewrite")
    assert (sizes.question_length, sizes.answer_length, sizes.num_chars) == (
        task.question_length,
        task.answer_length,
        task.num_chars,
    )
    scramble(model, 4)
    weights = dict(zip(weight_layout(task, NET), model.get_weights(), strict=True))  # the layout checks the shapes
    batch = draw(40, brackets, np.random.default_rng(5))
    theirs = experiment.answer_questions(model, batch, "rewrite", sizes, True, True)["written"]
    q = Questions(batch.terms, batch.ops.astype(np.int8), batch.groups.astype(np.int16) if brackets else None)
    worked = StepPredictor(task, Network(task, NET, weights)).work(q)
    for ours, written in zip(worked, theirs, strict=True):
        # the experiment feeds back up to 8 times, the product at most max_passes: the same steps as far as both go
        assert [step.written for step in ours.steps] == written.split("=")[: len(ours.steps)]


def test_the_predictor_is_only_for_the_rewrite_design():
    task = TaskConfig(digits=2, terms=3, operators="+-*")
    weights = dict(zip(weight_layout(task, NET), build_model(task, NET).get_weights(), strict=True))
    with pytest.raises(ValueError, match="rewrite"):
        StepPredictor(task, Network(task, NET, weights))


def test_the_trainers_check_feeds_back_as_the_predictor_does():
    from model.steps import decode_tokens
    from trainer.verify import Checker

    model, weights = random_network(BRACKETS3, NET, 5)
    q = sample_questions(BRACKETS3, 200, np.random.default_rng(6))
    summary = Checker(BRACKETS3, q).metrics(model)  # the fast verifier, once per pass
    worked = StepPredictor(BRACKETS3, Network(BRACKETS3, NET, weights)).work(q)
    assert decode_tokens(summary["predicted"]) == [w.steps[-1].written for w in worked]
    assert ((summary["margins"] > 0) == np.array([w.steps_right for w in worked])).all()
