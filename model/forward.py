"""The network's forward pass in plain numpy, with every state and gate on record.

The app answers with this, not with Keras: it builds the network our builder
describes (`NetworkConfig`) from checked weight arrays, so a model repo's
`config.json` is never deserialised, TensorFlow is never loaded to serve, and
each intermediate (hidden and cell states, input/forget/output gates) is there
to be shown. The maths lives in model/cells.py (one step per cell, shared with
the fast verifier); this file runs it with numpy and keeps the trace.
tests/test_forward.py proves it equals Keras to 1e-5 for every cell type.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .cells import CELLS, Ops, StepRecord, decode, run_layer
from .config import NetworkConfig, TaskConfig
from .network import weight_layout


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # = 1 / (1 + e^-x), without overflow warnings


NUMPY = Ops(sigmoid=sigmoid, tanh=np.tanh)


@dataclass
class LayerTrace:
    """What one recurrent layer did, step by step: arrays of shape (N, steps, units)."""

    name: str  # "encoder 1", "decoder 1", ...
    hidden: np.ndarray  # h after each step
    cell: np.ndarray | None = None  # c after each step (LSTM only)
    gates: dict[str, np.ndarray] = field(default_factory=dict)  # e.g. "input", "forget", "output"


def layer_trace(name: str, steps: list[StepRecord], has_cell_state: bool) -> LayerTrace:
    """One layer's per-step records stacked along the step axis."""

    def stack(values: list[np.ndarray]) -> np.ndarray:
        return np.stack(values, axis=1)

    return LayerTrace(
        name,
        stack([s.hidden for s in steps]),
        stack([s.cell for s in steps]) if has_cell_state else None,
        {key: stack([s.gates[key] for s in steps]) for key in steps[0].gates},
    )


class Network:
    """The addition network as numpy arrays: tokens in, per-position probabilities out."""

    def __init__(self, task: TaskConfig, net: NetworkConfig, weights: dict[str, np.ndarray]):
        self.task, self.net = task, net
        self.cell = CELLS[net.cell]
        # weight_layout lists each recurrent layer's (kernel, recurrent, bias), encoders first, then the dense pair.
        arrays = [np.asarray(weights[path], np.float32) for path in weight_layout(task, net)]
        count = net.encoder_layers + net.decoder_layers
        layers = [self.cell.layer(*arrays[3 * i : 3 * i + 3]) for i in range(count)]
        self.encoder = layers[: net.encoder_layers]
        self.decoder = layers[net.encoder_layers :]
        self.dense = (arrays[-2], arrays[-1])
        blocks = len(self.cell.blocks)
        assert all(layer.kernel.shape[1] == blocks * layer.recurrent.shape[0] for layer in layers)

    def probabilities(self, tokens: np.ndarray) -> np.ndarray:
        """(N, question_length) token ids -> (N, answer_length, num_chars) softmax probabilities."""
        return self._forward(np.asarray(tokens), record=False)[0]

    def trace(self, tokens: np.ndarray) -> tuple[np.ndarray, list[LayerTrace]]:
        """Probabilities plus every layer's states and gates, step by step."""
        return self._forward(np.asarray(tokens), record=True)

    def _forward(self, tokens: np.ndarray, record: bool) -> tuple[np.ndarray, list[LayerTrace]]:
        encoded: list[list[StepRecord]] = []
        first = self.encoder[0]
        # One-hot times the first kernel is a row lookup.
        projected = first.kernel[tokens] + first.input_bias
        inputs = [projected[:, t] for t in range(tokens.shape[1])]
        sequence: list[np.ndarray] = []
        for depth, layer in enumerate(self.encoder):
            if depth:
                inputs = [h @ layer.kernel + layer.input_bias for h in sequence]
            steps: list[StepRecord] | None = [] if record else None
            sequence = run_layer(NUMPY, self.cell, layer, inputs, steps)
            encoded += [steps] if steps is not None else []
        decoded: list[list[StepRecord]] | None = [] if record else None
        logits = np.stack(
            decode(NUMPY, self.cell, self.decoder, self.dense, sequence[-1], self.task.answer_length, decoded), axis=1
        )
        logits -= logits.max(axis=-1, keepdims=True)
        exp = np.exp(logits)
        probabilities = exp / exp.sum(axis=-1, keepdims=True)
        if decoded is None:
            return probabilities, []
        names = [f"encoder {i + 1}" for i in range(len(self.encoder))] + [
            f"decoder {i + 1}" for i in range(len(self.decoder))
        ]
        records = encoded + decoded
        return probabilities, [
            layer_trace(name, steps, self.cell.has_cell_state) for name, steps in zip(names, records, strict=True)
        ]
