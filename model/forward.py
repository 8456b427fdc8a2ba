"""The network's forward pass in plain numpy, with every state and gate (and attention weight) on record.

The app answers with this, not with Keras: it builds the network our builder
describes (`NetworkConfig`) from checked weight arrays, so a model repo's
`config.json` is never deserialised, TensorFlow is never loaded to serve, and
each intermediate (hidden and cell states, input/forget/output gates, the
attention decoder's weights over the input) is there to be shown. The maths
lives in model/cells.py (one step per cell, the decoders, the attention, shared
with the fast verifier); this file runs it with numpy and keeps the trace. An
attention model answers greedily (each step fed the character chosen before);
`teacher_forced` gives what training sees. tests/test_forward.py and
tests/test_attention.py prove it equals Keras to 1e-5.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .cells import ATTENTIONS, CELLS, AttentionDecoder, Ops, StepRecord, decode, decode_attention, run_layer_from
from .config import NetworkConfig, TaskConfig
from .network import weight_layout


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # = 1 / (1 + e^-x), without overflow warnings


def softmax(x: np.ndarray) -> np.ndarray:
    exp = np.exp(x - x.max(axis=-1, keepdims=True))
    return exp / exp.sum(axis=-1, keepdims=True)


NUMPY = Ops(sigmoid=sigmoid, tanh=np.tanh, softmax=softmax, einsum=np.einsum)


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


@dataclass
class Pass:
    """One forward pass: probabilities, and when recorded every layer's trace and the attention weights."""

    probabilities: np.ndarray  # (N, answer_length, num_chars)
    traces: list[LayerTrace]
    attention: np.ndarray | None  # (N, answer_length, question_length); None for the repeat decoder


class Network:
    """The addition network as numpy arrays: tokens in, per-position probabilities out."""

    def __init__(self, task: TaskConfig, net: NetworkConfig, weights: dict[str, np.ndarray]):
        self.task, self.net = task, net
        self.cell = CELLS[net.cell]
        # weight_layout lists each recurrent layer's (kernel, recurrent, bias), encoders first, then the
        # attention's scale (if any), then the dense pair.
        arrays = [np.asarray(weights[path], np.float32) for path in weight_layout(task, net)]
        count = net.encoder_layers + net.decoder_layers
        layers = [self.cell.layer(*arrays[3 * i : 3 * i + 3]) for i in range(count)]
        self.encoder = layers[: net.encoder_layers]
        self.decoder = layers[net.encoder_layers :]
        self.dense = (arrays[-2], arrays[-1])
        self.attention: AttentionDecoder | None = None
        if net.decoder == "attention":
            kind = ATTENTIONS[net.attention]
            scale = arrays[3 * count] if kind.has_scale else None
            self.attention = AttentionDecoder(self.decoder, kind, scale, *self.dense)
        blocks = len(self.cell.blocks)
        assert all(layer.kernel.shape[1] == blocks * layer.recurrent.shape[0] for layer in layers)

    def probabilities(self, tokens: np.ndarray) -> np.ndarray:
        """(N, question_length) token ids -> (N, answer_length, num_chars) softmax probabilities."""
        return self._forward(np.asarray(tokens), record=False).probabilities

    def trace(self, tokens: np.ndarray) -> tuple[np.ndarray, list[LayerTrace]]:
        """Probabilities plus every layer's states and gates, step by step."""
        result = self._forward(np.asarray(tokens), record=True)
        return result.probabilities, result.traces

    def attention_weights(self, tokens: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """An attention model's (probabilities, weights (N, answer_length, question_length)): how much each
        answer character (in the order written) reads each input character (in the order the network reads)."""
        if self.attention is None:
            raise ValueError("this model has no attention: its decoder is the RepeatVector one")
        result = self._forward(np.asarray(tokens), record=True)
        assert result.attention is not None
        return result.probabilities, result.attention

    def teacher_forced(self, tokens: np.ndarray, previous: np.ndarray) -> np.ndarray:
        """An attention model's probabilities when fed `previous` (N, answer_length) true answer tokens
        (as written) instead of its own: what the teacher-forcing Keras model computes in training."""
        return self._forward(np.asarray(tokens), record=False, truth=np.asarray(previous)).probabilities

    def _forward(self, tokens: np.ndarray, record: bool, truth: np.ndarray | None = None) -> Pass:
        encoded: list[list[StepRecord]] = []
        first = self.encoder[0]
        # One-hot times the first kernel is a row lookup.
        projected = first.kernel[tokens] + first.input_bias
        inputs = [projected[:, t] for t in range(tokens.shape[1])]
        sequence: list[np.ndarray] = []
        state: tuple = (None, None)
        for depth, layer in enumerate(self.encoder):
            if depth:
                inputs = [h @ layer.kernel + layer.input_bias for h in sequence]
            steps: list[StepRecord] | None = [] if record else None
            sequence, state = run_layer_from(NUMPY, self.cell, layer, inputs, record=steps)
            encoded += [steps] if steps is not None else []
        decoded: list[list[StepRecord]] | None = [] if record else None
        weights: list[np.ndarray] | None = [] if record else None
        if self.attention is None:
            summary = sequence[-1]
            steps_logits = decode(NUMPY, self.cell, self.decoder, self.dense, summary, self.task.answer_length, decoded)
        else:
            steps_logits = decode_attention(
                NUMPY,
                self.cell,
                self.attention,
                np.stack(sequence, axis=1),
                state,
                self.task.answer_length,
                self._feed(truth, len(tokens)),
                decoded,
                weights,
            )
        probabilities = softmax(np.stack(steps_logits, axis=1))
        attention = np.stack(weights, axis=1) if weights else None
        if decoded is None:
            return Pass(probabilities, [], attention)
        names = [f"encoder {i + 1}" for i in range(len(self.encoder))] + [
            f"decoder {i + 1}" for i in range(len(self.decoder))
        ]
        records = encoded + decoded
        has_c = self.cell.has_cell_state
        traces = [layer_trace(name, steps, has_c) for name, steps in zip(names, records, strict=True)]
        return Pass(probabilities, traces, attention)

    def _feed(self, truth: np.ndarray | None, rows: int):
        """The attention decoder's input at each step: the previous character, true or chosen (zeros first)."""
        first = self.decoder[0]

        def feed(step: int, logits: np.ndarray | None) -> np.ndarray:
            if step == 0 or logits is None:
                return np.broadcast_to(first.input_bias, (rows, first.input_bias.shape[0]))
            previous = truth[:, step - 1] if truth is not None else logits.argmax(-1)
            return first.kernel[previous] + first.input_bias

        return feed
