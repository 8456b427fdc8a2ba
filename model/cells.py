"""Each recurrent cell's maths in one place: its Keras class, its weight blocks, its bias layout and its step.

A cell is one row of `CELLS`. Everything else derives from that row: the Keras
layer the builder makes (model/network.py), the weights file layout and the
parameter count (network.weight_layout, config.parameter_count), and the step
that both the numpy forward pass (model/forward.py) and the fast verifier's
XLA code (trainer/fast_verify.py) run through `run_layer` / `decode` below.

A step is written once against `Ops` (sigmoid and tanh; `+`, `*`, `@` and
slicing are the same in numpy and TensorFlow), so numpy and TensorFlow run the
same lines. The maths is Keras' own: LSTM blocks in the order i, f, c, o; GRU
with reset_after=True (z, r, h; an input and a recurrent bias); SimpleRNN with tanh.
Adding a cell is adding a step function and a row; adding a decoder is a
function beside `decode`. Nothing here imports numpy or TensorFlow.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

Array = Any  # a numpy array or a TensorFlow tensor: the steps use only what both have


class Ops(NamedTuple):
    """The element-wise functions a step needs from its array library."""

    sigmoid: Callable[[Array], Array]
    tanh: Callable[[Array], Array]


# A step: (ops, projected input x with its input bias, rec = h @ U + recurrent bias, h, c) -> (h, c, gates).
Step = Callable[[Ops, Array, Array, Array, Array], tuple[Array, Array, dict[str, Array]]]


def _blocks(z: Array, count: int) -> list[Array]:
    """The `count` equal column blocks of z (`...` so a 1-D bias splits too)."""
    u = z.shape[-1] // count
    return [z[..., k * u : (k + 1) * u] for k in range(count)]


def lstm_step(ops: Ops, x: Array, rec: Array, h: Array, c: Array) -> tuple[Array, Array, dict[str, Array]]:
    i, f, g, o = _blocks(x + rec, 4)
    i, f, g, o = ops.sigmoid(i), ops.sigmoid(f), ops.tanh(g), ops.sigmoid(o)
    c = f * c + i * g
    return o * ops.tanh(c), c, {"input": i, "forget": f, "output": o, "candidate": g}


def gru_step(ops: Ops, x: Array, rec: Array, h: Array, c: Array) -> tuple[Array, Array, dict[str, Array]]:
    """Keras' reset_after=True: the reset gate scales the recurrent part of the candidate, bias included."""
    xz, xr, xh = _blocks(x, 3)
    rz, rr, rh = _blocks(rec, 3)
    update, reset = ops.sigmoid(xz + rz), ops.sigmoid(xr + rr)
    candidate = ops.tanh(xh + reset * rh)
    return update * h + (1.0 - update) * candidate, c, {"update": update, "reset": reset, "candidate": candidate}


def simple_rnn_step(ops: Ops, x: Array, rec: Array, h: Array, c: Array) -> tuple[Array, Array, dict[str, Array]]:
    return ops.tanh(x + rec), c, {}


@dataclass(frozen=True)
class LayerWeights:
    """One recurrent layer's arrays, its bias split the way its cell adds it."""

    kernel: Array  # (inputs, blocks * units)
    recurrent: Array  # (units, blocks * units)
    input_bias: Array  # (blocks * units,), added to the projected input
    recurrent_bias: Array | None  # (blocks * units,) added to h @ U (GRU), or None


@dataclass(frozen=True)
class Cell:
    """One recurrent cell: everything the builder, the loader and both forward passes need to know."""

    name: str  # as in network.json
    keras_class: str  # the keras.layers class
    blocks: tuple[str, ...]  # the column blocks of each kernel, in Keras' order
    bias_rows: int  # 1: one bias; 2: Keras' GRU keeps an input and a recurrent bias
    has_cell_state: bool  # LSTM carries c beside h
    step: Step

    def weight_shapes(self, inputs: int, units: int) -> tuple[tuple[int, ...], ...]:
        """Shapes of (kernel, recurrent kernel, bias) as Keras stores them."""
        width = len(self.blocks) * units
        bias = (width,) if self.bias_rows == 1 else (self.bias_rows, width)
        return (inputs, width), (units, width), bias

    def parameter_count(self, inputs: int, units: int) -> int:
        return len(self.blocks) * units * (inputs + units + self.bias_rows)

    def layer(self, kernel: Array, recurrent: Array, bias: Array) -> LayerWeights:
        """The arrays Keras stores (kernel, recurrent kernel, bias), as the step reads them."""
        if self.bias_rows == 1:
            return LayerWeights(kernel, recurrent, bias, None)
        return LayerWeights(kernel, recurrent, bias[0], bias[1])

    def advance(
        self, ops: Ops, layer: LayerWeights, x: Array, h: Array | None, c: Array | None
    ) -> tuple[Array, Array, dict[str, Array]]:
        """One step from projected input x (input bias included): (h, c, gates).

        h None means the first step, from zeros, which needs no h @ U at all.
        """
        if h is None:
            rec = 0.0 if layer.recurrent_bias is None else layer.recurrent_bias
            return self.step(ops, x, rec, 0.0, 0.0)
        rec = h @ layer.recurrent
        if layer.recurrent_bias is not None:
            rec = rec + layer.recurrent_bias
        return self.step(ops, x, rec, h, c)


CELLS: dict[str, Cell] = {
    cell.name: cell
    for cell in (
        Cell("lstm", "LSTM", ("input", "forget", "candidate", "output"), 1, True, lstm_step),
        Cell("gru", "GRU", ("update", "reset", "candidate"), 2, False, gru_step),
        Cell("simple_rnn", "SimpleRNN", ("hidden",), 1, False, simple_rnn_step),
    )
}


@dataclass
class StepRecord:
    """What one step of one layer computed (kept only when a trace is asked for)."""

    hidden: Array
    cell: Array  # c (LSTM), else whatever the step carried
    gates: dict[str, Array]


def run_layer(
    ops: Ops, cell: Cell, layer: LayerWeights, inputs: Sequence[Array], record: list[StepRecord] | None = None
) -> list[Array]:
    """Run one layer from zeros over per-step projected inputs (input bias included): h after each step."""
    h = c = None
    outputs = []
    for x in inputs:
        h, c, gates = cell.advance(ops, layer, x, h, c)
        outputs.append(h)
        if record is not None:
            record.append(StepRecord(h, c, gates))
    return outputs


def decode(
    ops: Ops,
    cell: Cell,
    layers: Sequence[LayerWeights],
    dense: tuple[Array, Array],
    summary: Array,
    steps: int,
    records: list[list[StepRecord]] | None = None,
) -> list[Array]:
    """The RepeatVector decoder: the encoder's summary read at every step, then the dense layer: logits per step.

    The first layer's input is the same at every step, so it is projected once. `records`, if given,
    gets one list of StepRecord per layer.
    """
    first = layers[0]
    inputs = [summary @ first.kernel + first.input_bias] * steps
    outputs: list[Array] = []
    for depth, layer in enumerate(layers):
        if depth:
            inputs = [h @ layer.kernel + layer.input_bias for h in outputs]
        record: list[StepRecord] | None = None if records is None else []
        outputs = run_layer(ops, cell, layer, inputs, record)
        if records is not None and record is not None:
            records.append(record)
    kernel, bias = dense
    return [h @ kernel + bias for h in outputs]
