"""The seq2seq LSTM from the keras.io example, sized from a TaskConfig.

encoder LSTM(s) -> RepeatVector(answer_length) -> decoder LSTM(s) -> per-step softmax.
The input is the one-hot question (question_length, num_chars); the output is
one probability row over the alphabet for each answer position.
"""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
from keras import layers  # noqa: E402

from .config import TaskConfig  # noqa: E402


def build_model(
    config: TaskConfig,
    encoder_units: int = 128,
    decoder_units: int = 128,
    encoder_layers: int = 1,
    decoder_layers: int = 1,
    unroll: bool = True,
) -> keras.Model:
    """Build the (uncompiled) addition network for `config`.

    `unroll=True` turns the short recurrences into straight-line code, which on
    a CPU is markedly faster than TensorFlow's while-loop for these 7-11 steps;
    it does not change the weights, so a model saved either way loads either way.
    """
    model = keras.Sequential(name="addition_lstm")
    model.add(keras.Input(shape=(config.question_length, config.num_chars), name="question"))
    for i in range(encoder_layers):
        last = i == encoder_layers - 1
        model.add(layers.LSTM(encoder_units, return_sequences=not last, unroll=unroll, name=f"encoder_{i}"))
    # The decoder reads the encoder's summary once per answer character.
    model.add(layers.RepeatVector(config.answer_length, name="repeat"))
    for i in range(decoder_layers):
        model.add(layers.LSTM(decoder_units, return_sequences=True, unroll=unroll, name=f"decoder_{i}"))
    model.add(layers.Dense(config.num_chars, activation="softmax", name="answer"))
    return model


def check_model_fits(model: keras.Model, config: TaskConfig) -> None:
    """Raise ValueError naming the mismatch if `model` cannot serve `config`."""
    expected_in = (config.question_length, config.num_chars)
    expected_out = (config.answer_length, config.num_chars)
    got_in = tuple(model.input_shape[1:])
    got_out = tuple(model.output_shape[1:])
    if got_in != expected_in:
        raise ValueError(
            f"the network reads questions of shape {got_in} (length, alphabet) but the task config "
            f"(digits={config.digits}, terms={config.terms}, alphabet of {config.num_chars}) needs {expected_in}")
    if got_out != expected_out:
        raise ValueError(
            f"the network writes answers of shape {got_out} (length, alphabet) but the task config "
            f"needs {expected_out}")
