"""The network's forward pass in plain numpy, with every state and gate on record.

The app answers with this, not with Keras: it builds the network our builder
describes (`NetworkConfig`) from checked weight arrays, so a model repo's
`config.json` is never deserialised, TensorFlow is never loaded to serve, and
each intermediate (hidden and cell states, input/forget/output gates) is there
to be shown. tests/test_forward.py proves it equals Keras to 1e-5 for every
cell type. The maths is Keras' own: LSTM gates in the order i, f, c, o with
sigmoid and tanh; GRU with reset_after=True (z, r, h); SimpleRNN with tanh.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .config import NetworkConfig, TaskConfig
from .network import GATES, rnn_layer_paths


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # = 1 / (1 + e^-x), without overflow warnings


@dataclass
class LayerTrace:
    """What one recurrent layer did, step by step: arrays of shape (N, steps, units)."""

    name: str  # "encoder 1", "decoder 1", ...
    hidden: np.ndarray  # h after each step
    cell: np.ndarray | None = None  # c after each step (LSTM only)
    gates: dict[str, np.ndarray] = field(default_factory=dict)  # e.g. "input", "forget", "output"


@dataclass
class RecurrentLayer:
    cell: str
    kernel: np.ndarray  # (inputs, gates * units)
    recurrent: np.ndarray  # (units, gates * units)
    bias: np.ndarray  # (gates * units,), or (2, 3 * units) for a GRU

    @property
    def units(self) -> int:
        return self.recurrent.shape[0]

    @property
    def input_bias(self) -> np.ndarray:
        return self.bias[0] if self.cell == "gru" else self.bias

    def run(self, projected: np.ndarray, name: str, record: bool) -> tuple[np.ndarray, LayerTrace | None]:
        """Run over pre-projected inputs (N, steps, gates*units), input bias included; return h per step."""
        n, steps, _ = projected.shape
        u = self.units
        h = np.zeros((n, u), dtype=np.float32)
        c = np.zeros((n, u), dtype=np.float32)
        hidden = np.empty((n, steps, u), dtype=np.float32)
        kept: dict[str, list[np.ndarray]] = {}
        cells = []
        for t in range(steps):
            x = projected[:, t]
            if self.cell == "lstm":
                z = x + h @ self.recurrent
                i, f, o = sigmoid(z[:, :u]), sigmoid(z[:, u : 2 * u]), sigmoid(z[:, 3 * u :])
                candidate = np.tanh(z[:, 2 * u : 3 * u])
                c = f * c + i * candidate
                h = o * np.tanh(c)
                step_gates = {"input": i, "forget": f, "output": o, "candidate": candidate}
                cells.append(c)
            elif self.cell == "gru":
                rec = h @ self.recurrent + self.bias[1]
                update = sigmoid(x[:, :u] + rec[:, :u])
                reset = sigmoid(x[:, u : 2 * u] + rec[:, u : 2 * u])
                candidate = np.tanh(x[:, 2 * u :] + reset * rec[:, 2 * u :])
                h = update * h + (1.0 - update) * candidate
                step_gates = {"update": update, "reset": reset, "candidate": candidate}
            else:
                h = np.tanh(x + h @ self.recurrent)
                step_gates = {}
            hidden[:, t] = h
            if record:
                for key, value in step_gates.items():
                    kept.setdefault(key, []).append(value)
        if not record:
            return hidden, None
        trace = LayerTrace(
            name, hidden, np.stack(cells, axis=1) if cells else None, {k: np.stack(v, axis=1) for k, v in kept.items()}
        )
        return hidden, trace


class Network:
    """The addition network as numpy arrays: tokens in, per-position probabilities out."""

    def __init__(self, task: TaskConfig, net: NetworkConfig, weights: dict[str, np.ndarray]):
        self.task, self.net = task, net
        paths = rnn_layer_paths(net)
        layers = [
            RecurrentLayer(net.cell, *(np.asarray(weights[f"{p}/cell/vars/{j}"], np.float32) for j in range(3)))
            for p in paths
        ]
        self.encoder = layers[: net.encoder_layers]
        self.decoder = layers[net.encoder_layers :]
        self.dense_kernel = np.asarray(weights["layers/dense/vars/0"], np.float32)
        self.dense_bias = np.asarray(weights["layers/dense/vars/1"], np.float32)
        assert all(layer.kernel.shape[1] == GATES[net.cell] * layer.units for layer in layers)

    def probabilities(self, tokens: np.ndarray) -> np.ndarray:
        """(N, question_length) token ids -> (N, answer_length, num_chars) softmax probabilities."""
        return self._forward(np.asarray(tokens), record=False)[0]

    def trace(self, tokens: np.ndarray) -> tuple[np.ndarray, list[LayerTrace]]:
        """Probabilities plus every layer's states and gates, step by step."""
        return self._forward(np.asarray(tokens), record=True)

    def _forward(self, tokens: np.ndarray, record: bool) -> tuple[np.ndarray, list[LayerTrace]]:
        traces: list[LayerTrace] = []
        # One-hot times the first kernel is a row lookup.
        first = self.encoder[0]
        sequence, trace = first.run(first.kernel[tokens] + first.input_bias, "encoder 1", record)
        traces += [trace] if trace else []
        for i, layer in enumerate(self.encoder[1:], start=2):
            sequence, trace = layer.run(sequence @ layer.kernel + layer.input_bias, f"encoder {i}", record)
            traces += [trace] if trace else []
        summary = sequence[:, -1]
        steps = self.task.answer_length
        for i, layer in enumerate(self.decoder):
            if i == 0:  # RepeatVector: the same input at every step, so project it once
                once = summary @ layer.kernel + layer.input_bias
                projected = np.broadcast_to(once[:, None, :], (len(once), steps, once.shape[1]))
            else:
                projected = sequence @ layer.kernel + layer.input_bias
            sequence, trace = layer.run(projected, f"decoder {i + 1}", record)
            traces += [trace] if trace else []
        logits = sequence @ self.dense_kernel + self.dense_bias
        logits -= logits.max(axis=-1, keepdims=True)
        exp = np.exp(logits)
        return exp / exp.sum(axis=-1, keepdims=True), traces
