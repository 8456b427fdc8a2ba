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

Decoders (`DECODERS`): "repeat" is keras.io's (the encoder's summary at every
answer step, `decode`); "attention" (`decode_attention`) starts from the last
encoder layer's final state, is fed the character it wrote last (the all-zero
vector before the first) and, after its last layer, reads every encoder state
through Keras' attention layer (`ATTENTIONS`: "dot" is `layers.Attention`,
Luong; "additive" is `layers.AdditiveAttention`, Bahdanau); the dense layer
reads [decoder state, context].
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

Array = Any  # a numpy array or a TensorFlow tensor: the steps use only what both have


class Ops(NamedTuple):
    """The functions a step needs from its array library (attention adds a softmax and an einsum)."""

    sigmoid: Callable[[Array], Array]
    tanh: Callable[[Array], Array]
    softmax: Callable[[Array], Array]  # over the last axis
    einsum: Callable[..., Array]


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
    return run_layer_from(ops, cell, layer, inputs, record=record)[0]


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


# Attention ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Attention:
    """One Keras attention layer: its class, its weights and its scores (Keras' own maths, no masks)."""

    name: str  # as in network.json
    keras_class: str  # the keras.layers class, built with its defaults
    has_scale: bool  # AdditiveAttention keeps a scale vector (use_scale=True); dot Attention has no weights

    def weight_shapes(self, units: int) -> tuple[tuple[int, ...], ...]:
        return ((units,),) if self.has_scale else ()

    def attend(self, ops: Ops, query: Array, keys: Array, scale: Array | None) -> tuple[Array, Array]:
        """query (N, D), keys = values (N, T, D) -> (context (N, D), weights (N, T))."""
        if self.has_scale:
            scores = ops.einsum("ntd,d->nt", ops.tanh(query[:, None, :] + keys), scale)
        else:
            scores = ops.einsum("nd,ntd->nt", query, keys)
        weights = ops.softmax(scores)
        return ops.einsum("nt,ntd->nd", weights, keys), weights


ATTENTIONS: dict[str, Attention] = {
    a.name: a for a in (Attention("dot", "Attention", False), Attention("additive", "AdditiveAttention", True))
}
DECODERS = ("repeat", "attention")


def run_layer_from(
    ops: Ops,
    cell: Cell,
    layer: LayerWeights,
    inputs: Sequence[Array],
    state: tuple[Array | None, Array | None] = (None, None),
    record: list[StepRecord] | None = None,
) -> tuple[list[Array], tuple[Array | None, Array | None]]:
    """`run_layer` from a given (h, c) ((None, None): zeros): h after each step, and the final (h, c)."""
    h, c = state
    outputs = []
    for x in inputs:
        h, c, gates = cell.advance(ops, layer, x, h, c)
        outputs.append(h)
        if record is not None:
            record.append(StepRecord(h, c, gates))
    return outputs, (h, c)


# (step, the previous step's logits or None at step 0) -> the first decoder layer's projected input
Feed = Callable[[int, Array | None], Array]


@dataclass
class AttentionDecoder:
    """An attention decoder's arrays: its recurrent layers, the attention's scale (or None), the dense pair."""

    layers: Sequence[LayerWeights]
    attention: Attention
    scale: Array | None
    dense_kernel: Array  # (decoder units + encoder units, chars): [state, context] @ kernel
    dense_bias: Array


def decode_attention(
    ops: Ops,
    cell: Cell,
    decoder: AttentionDecoder,
    keys: Array,
    state: tuple[Array, Array | None],
    steps: int,
    feed: Feed,
    records: list[list[StepRecord]] | None = None,
    weights: list[Array] | None = None,
) -> list[Array]:
    """The attention decoder, step by step: logits per step.

    keys: the last encoder layer's states (N, T, D); state: its final (h, c), where the first decoder
    layer starts (the others start from zeros). `feed` gives each step's input (teacher forcing: the
    true previous character; answering: the one just chosen). `records` gets one list of StepRecord
    per layer, `weights` each step's attention weights (N, T).
    """
    count = len(decoder.layers)
    hs: list[Array | None] = [state[0]] + [None] * (count - 1)
    cs: list[Array | None] = [state[1]] + [None] * (count - 1)
    units = decoder.layers[-1].recurrent.shape[0]
    first_record = 0 if records is None else len(records)
    if records is not None:
        records.extend([] for _ in range(count))
    logits: list[Array] = []
    for t in range(steps):
        x = feed(t, logits[-1] if logits else None)
        for depth, layer in enumerate(decoder.layers):
            if depth:
                x = hs[depth - 1] @ layer.kernel + layer.input_bias
            hs[depth], cs[depth], gates = cell.advance(ops, layer, x, hs[depth], cs[depth])
            if records is not None:
                records[first_record + depth].append(StepRecord(hs[depth], cs[depth], gates))
        top = hs[-1]
        context, attention = decoder.attention.attend(ops, top, keys, decoder.scale)
        if weights is not None:
            weights.append(attention)
        kernel = decoder.dense_kernel
        logits.append(top @ kernel[:units] + context @ kernel[units:] + decoder.dense_bias)
    return logits
