"""The seq2seq network from the keras.io example, for any TaskConfig and NetworkConfig, with either decoder.

repeat (keras.io): encoder RNN(s) -> RepeatVector(answer_length) -> decoder RNN(s) -> per-step softmax.
attention: encoder RNN(s) keeping every state -> decoder RNN(s) fed the previous answer character,
starting from the encoder's final state -> Keras attention over the encoder states -> softmax over
[decoder state, context]. LSTM (the keras.io choice), GRU or SimpleRNN cells; each one's maths and
weight blocks, and the attention's: model/cells.py.

`build_model` makes the Keras model the trainer fits (and storage saves): for attention, the
teacher-forcing model, whose inputs are [question, answer shifted right] (model.codec.shifted_answers)
— plain Keras layers, so `keras.saving.load_model` reads it with no custom objects. Answering is greedy:
`greedy_probabilities` with Keras, model/forward.py with numpy, trainer/fast_verify.py with XLA.
`weight_layout` says, without TensorFlow, exactly which arrays (and shapes) Keras writes to
`model.weights.h5` for that network, in get_weights() order, so a weights file from anywhere can be
checked before a byte of it is trusted; the parameter count is its sum.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import numpy as np

from .cells import ATTENTIONS, CELLS
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
    if net.decoder == "attention":
        return _attention_model(task, net, unroll)
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


def _attention_model(task: TaskConfig, net: NetworkConfig, unroll: bool) -> keras.Model:
    """The teacher-forcing model: [question (Q, V), previous answer characters (A, V)] -> (A, V) softmax."""
    import keras
    from keras import layers

    rnn = getattr(layers, CELLS[net.cell].keras_class)
    question = keras.Input(shape=(task.question_length, task.num_chars), name="question")
    previous = keras.Input(shape=(task.answer_length, task.num_chars), name="previous")
    states = question
    for i in range(net.encoder_layers - 1):
        states = rnn(net.encoder_units, return_sequences=True, unroll=unroll, name=f"encoder_{i}")(states)
    last = net.encoder_layers - 1
    top = rnn(net.encoder_units, return_sequences=True, return_state=True, unroll=unroll, name=f"encoder_{last}")
    keys, *final = top(states)  # every state of the last encoder layer, and its final (h, c) or (h,)
    decoded = previous
    for i in range(net.decoder_layers):
        layer = rnn(net.decoder_units, return_sequences=True, unroll=unroll, name=f"decoder_{i}")
        decoded = layer(decoded, initial_state=final) if i == 0 else layer(decoded)
    attention = getattr(layers, ATTENTIONS[net.attention].keras_class)(name="attention")
    context = attention([decoded, keys])
    joined = layers.Concatenate(name="state_and_context")([decoded, context])
    answer = layers.Dense(task.num_chars, activation="softmax", name="answer")(joined)
    return keras.Model([question, previous], answer, name=f"addition_{net.cell}_attention")


def greedy_probabilities(model: keras.Model, questions: np.ndarray, task: TaskConfig) -> np.ndarray:
    """An attention model's answers with Keras: (N, Q, V) one-hot questions -> (N, A, V) probabilities,
    each step fed the character chosen at the step before (the model is causal, so step t's output
    depends only on the characters fed up to t)."""
    previous = np.zeros((len(questions), task.answer_length, task.num_chars), np.float32)
    probs = np.zeros_like(previous)
    for t in range(task.answer_length):
        probs = np.asarray(model([questions, previous], training=False))
        if t + 1 < task.answer_length:
            previous[np.arange(len(questions)), t + 1, probs[:, t].argmax(-1)] = 1.0
    return probs


def rnn_layer_paths(net: NetworkConfig) -> list[str]:
    """Where Keras stores each recurrent layer in the weights file, encoders first ("layers/lstm", "layers/lstm_1"…)."""
    count = net.encoder_layers + net.decoder_layers
    return [f"layers/{net.cell}" + (f"_{i}" if i else "") for i in range(count)]


def weight_layout(task: TaskConfig, net: NetworkConfig) -> dict[str, tuple[int, ...]]:
    """Every array in `model.weights.h5` for this network: path -> shape (all float32), in get_weights() order."""
    cell = CELLS[net.cell]
    layout: dict[str, tuple[int, ...]] = {}
    sizes = [net.encoder_units] * net.encoder_layers + [net.decoder_units] * net.decoder_layers
    widths = [task.num_chars] + [net.encoder_units] * (net.encoder_layers - 1)
    # The attention decoder's first layer reads the previous answer character, not the encoder.
    first_decoder_input = task.num_chars if net.decoder == "attention" else net.encoder_units
    widths += [first_decoder_input] + [net.decoder_units] * (net.decoder_layers - 1)
    for path, width, units in zip(rnn_layer_paths(net), widths, sizes, strict=True):
        # input kernel, recurrent kernel, bias (Keras' GRU keeps an input and a recurrent row)
        for j, shape in enumerate(cell.weight_shapes(width, units)):
            layout[f"{path}/cell/vars/{j}"] = shape
    dense_input = net.decoder_units
    if net.decoder == "attention":
        attention = ATTENTIONS[net.attention]
        for j, shape in enumerate(attention.weight_shapes(net.encoder_units)):
            layout[f"layers/{_snake(attention.keras_class)}/vars/{j}"] = shape
        dense_input += net.encoder_units  # [decoder state, context]
    layout["layers/dense/vars/0"] = (dense_input, task.num_chars)
    layout["layers/dense/vars/1"] = (task.num_chars,)
    return layout


def _snake(name: str) -> str:
    """Keras' path name for a layer class: AdditiveAttention -> additive_attention."""
    return "".join("_" + c.lower() if c.isupper() and i else c.lower() for i, c in enumerate(name))
