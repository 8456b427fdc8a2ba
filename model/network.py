"""The seq2seq network from the keras.io example, for any TaskConfig and NetworkConfig.

encoder RNN(s) -> RepeatVector(answer_length) -> decoder RNN(s) -> per-step softmax,
with LSTM (the keras.io choice), GRU or SimpleRNN cells (each one's maths and
weight blocks: model/cells.py). `build_model` makes the Keras model the trainer
fits; `weight_layout` says, without TensorFlow, exactly which arrays (and
shapes) Keras writes to `model.weights.h5` for that network, in get_weights()
order, so a weights file from anywhere can be checked before a byte of it is trusted.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from .cells import CELLS
from .config import NetworkConfig, TaskConfig

if TYPE_CHECKING:
    import keras


def build_model(task: TaskConfig, net: NetworkConfig, unroll: bool = True) -> keras.Model:
    """Build the (uncompiled) network.

    `unroll=True` turns the short recurrences into straight-line code, which on a
    CPU is markedly faster than TensorFlow's while-loop for these 7-11 steps; it
    does not change the weights, so a model saved either way loads either way.
    """
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    from keras import layers

    rnn = getattr(layers, CELLS[net.cell].keras_class)
    model = keras.Sequential(name=f"addition_{net.cell}")
    model.add(keras.Input(shape=(task.question_length, task.num_chars), name="question"))
    for i in range(net.encoder_layers):
        last = i == net.encoder_layers - 1
        model.add(rnn(net.encoder_units, return_sequences=not last, unroll=unroll, name=f"encoder_{i}"))
    # The decoder reads the encoder's summary once per answer character.
    model.add(layers.RepeatVector(task.answer_length, name="repeat"))
    for i in range(net.decoder_layers):
        model.add(rnn(net.decoder_units, return_sequences=True, unroll=unroll, name=f"decoder_{i}"))
    model.add(layers.Dense(task.num_chars, activation="softmax", name="answer"))
    return model


def rnn_layer_paths(net: NetworkConfig) -> list[str]:
    """Where Keras stores each recurrent layer in the weights file, encoders first ("layers/lstm", "layers/lstm_1"…)."""
    count = net.encoder_layers + net.decoder_layers
    return [f"layers/{net.cell}" + (f"_{i}" if i else "") for i in range(count)]


def weight_layout(task: TaskConfig, net: NetworkConfig) -> dict[str, tuple[int, ...]]:
    """Every array in `model.weights.h5` for this network: path -> shape (all float32)."""
    cell = CELLS[net.cell]
    layout: dict[str, tuple[int, ...]] = {}
    sizes = [net.encoder_units] * net.encoder_layers + [net.decoder_units] * net.decoder_layers
    width = task.num_chars
    for path, units in zip(rnn_layer_paths(net), sizes, strict=True):
        # input kernel, recurrent kernel, bias (Keras' GRU keeps an input and a recurrent row)
        for j, shape in enumerate(cell.weight_shapes(width, units)):
            layout[f"{path}/cell/vars/{j}"] = shape
        width = units
    layout["layers/dense/vars/0"] = (net.decoder_units, task.num_chars)
    layout["layers/dense/vars/1"] = (task.num_chars,)
    return layout
