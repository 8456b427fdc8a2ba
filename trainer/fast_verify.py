"""Ask a trained network every question of its task fast enough to steer training: answers and margins.

`fast_margins` gives, for each question, the predicted characters and its
margin (p(right) - p(best wrong) at the weakest answer position; <= 0 exactly
when an answer is wrong). Three things make it several times cheaper than
calling the Keras model on every question:

- Questions share prefixes: reversed, padded questions such as " 16+535" start
  like every other question with the same second number. A prefix trie, built
  level by level with numpy, lets the encoder run each step once per distinct
  prefix (all 1,000,000 3-digit pairs: ~1.1 million encoder steps instead of 7
  million).
- The one-hot input times the first kernel is a row lookup.
- The decoder reads the same vector at every step (RepeatVector), so its input
  projection is computed once per question instead of once per step.

FLOPs per question for the default network (LSTM 128, 3-digit sums): encoder
~1.11 steps x 131k (h @ U) = 146k; decoder 131k (input projection, once) +
3 x 131k (h @ U; the first step starts from zero) + 4 x 3k (dense) = 536k;
~0.68 MFLOP in all, against 2.08 MFLOP for the plain network. The result
equals Keras' own argmax (tests/test_fast_verify.py).

The cell maths and the decoder are not written here: each step is
model/cells.py's (`Cell.advance`, `decode`), the same lines the numpy forward
pass runs, given TensorFlow's sigmoid and tanh.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import tensorflow as tf

from model.cells import CELLS, Ops, decode

CHUNK = 16384  # decoder rows per compiled call (the last chunk is padded, so one shape is compiled)
THREADS = 2  # chunks computed at once


TENSORFLOW = Ops(sigmoid=tf.sigmoid, tanh=tf.tanh, softmax=tf.nn.softmax, einsum=tf.einsum)


def layer_weights(model) -> tuple[str, list[list[np.ndarray]], list[list[np.ndarray]], list[np.ndarray]]:
    """(cell, encoder layers' [kernel, recurrent, bias], decoder layers' ditto, [dense kernel, bias])."""
    import keras

    kinds = {getattr(keras.layers, cell.keras_class): name for name, cell in CELLS.items()}
    encoder: list[list[np.ndarray]] = []
    decoder: list[list[np.ndarray]] = []
    dense: list[np.ndarray] | None = None
    cell: str | None = None
    seen_repeat = False
    for layer in model.layers:
        kind = next((name for cls, name in kinds.items() if isinstance(layer, cls)), None)
        if kind:
            cell = kind
            (decoder if seen_repeat else encoder).append([np.asarray(w, np.float32) for w in layer.get_weights()])
        elif isinstance(layer, keras.layers.RepeatVector):
            seen_repeat = True
        elif isinstance(layer, keras.layers.Dense):
            dense = [np.asarray(w, np.float32) for w in layer.get_weights()]
    assert cell and encoder and decoder and dense is not None, "not a network our builder makes"
    return cell, encoder, decoder, dense


def prefix_trie(tokens: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray], np.ndarray]:
    """Per step: each distinct prefix's parent (index at the previous step) and its last token; and each
    question's prefix index at the last step.

    Prefix keys are bounded (parent index x vocabulary + token), so distinct keys are found by marking
    them in a flag array and counting, in linear time rather than by sorting.
    """
    n, length = tokens.shape
    ids = np.zeros(n, dtype=np.int64)
    parents, last_tokens = [], []
    vocabulary = int(tokens.max()) + 1 if n else 1
    distinct = 1
    for k in range(length):
        keys = ids * vocabulary + tokens[:, k]
        present = np.zeros(distinct * vocabulary, dtype=bool)
        present[keys] = True
        unique = np.flatnonzero(present)
        rank = np.cumsum(present) - 1
        ids = rank[keys]
        parents.append(unique // vocabulary)
        last_tokens.append(unique % vocabulary)
        distinct = len(unique)
    return parents, last_tokens, ids


def fast_margins(
    model, questions: np.ndarray, answers: np.ndarray, chunk: int = CHUNK
) -> tuple[np.ndarray, np.ndarray]:
    """questions (N, L) token ids, answers (N, A) true token ids -> (predicted (N, A) int32, margins (N,) float32)."""
    cell, encoder, decoder, dense = layer_weights(model)
    questions = np.asarray(questions)
    n, steps = len(questions), answers.shape[1]
    if n == 0:
        return np.zeros((0, steps), np.int32), np.zeros(0, np.float32)
    # Every step but the last runs once per distinct prefix; the last one runs per question, fused with
    # the decoder, starting from its prefix's state.
    chunk = min(chunk, max(1024, 1 << (n - 1).bit_length()))  # small inputs: a small padded chunk (powers of 2)
    states, parent_of_question = encode_prefixes(cell, encoder, questions)
    finish = _finisher(cell, len(encoder), len(decoder), steps)
    weights = (
        [tf.constant(w) for layer in encoder for w in layer],
        [tf.constant(w) for layer in decoder for w in layer],
        [tf.constant(w) for w in dense],
    )
    predicted = np.empty((n, steps), np.int32)
    margin = np.empty(n, np.float32)

    def run(start: int) -> None:
        rows = slice(start, start + chunk)
        count = len(questions[rows])
        pad = ((0, chunk - count),)
        parent = np.pad(parent_of_question[rows], pad)
        h0 = [tf.constant(h[parent]) for h, _ in states]
        c0 = [tf.constant(c[parent]) for _, c in states]
        last = tf.constant(np.pad(questions[rows, -1], pad).astype(np.int32))
        truth = tf.constant(np.pad(answers[rows], (*pad, (0, 0))).astype(np.int32))
        tokens, margins_ = finish(*weights, h0, c0, last, truth)
        predicted[start : start + count] = tokens.numpy()[:count]
        margin[start : start + count] = margins_.numpy()[:count]

    # XLA runs each chunk's element-wise work on one core; two chunks at a time keep both cores busy.
    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(run, range(0, n, chunk)))
    return predicted, margin


def encode_prefixes(
    cell: str, encoder: list[list[np.ndarray]], questions: np.ndarray, rows: int = 65536
) -> tuple[list[tuple[np.ndarray, np.ndarray]], np.ndarray]:
    """Each encoder layer's (h, c) for every distinct prefix of length L-1, and each question's prefix index."""
    units = [w[1].shape[0] for w in encoder]
    states = [(np.zeros((1, u), np.float32), np.zeros((1, u), np.float32)) for u in units]
    if questions.shape[1] == 1:
        return states, np.zeros(len(questions), np.int64)
    parents, last_tokens, ids = prefix_trie(questions[:, :-1])
    kind = CELLS[cell]
    arrays = [kind.layer(*weights) for weights in encoder]  # numpy, for the input projections
    tensors = [kind.layer(*(tf.constant(w) for w in weights)) for weights in encoder]  # for the steps
    for parent, token in zip(parents, last_tokens, strict=True):
        new_states = []
        x = np.empty((0, 0), np.float32)  # the previous layer's output; depth 0 reads the tokens instead
        for depth, layer in enumerate(arrays):
            kernel, input_bias = layer.kernel, layer.input_bias
            h_parent, c_parent = states[depth]
            h_out = np.empty((len(parent), units[depth]), np.float32)
            c_out = np.empty_like(h_out)
            for s in range(0, len(parent), rows):  # bounded intermediates
                index = parent[s : s + rows]
                projected = (
                    kernel[token[s : s + rows]] + input_bias if depth == 0 else x[s : s + rows] @ kernel + input_bias
                )
                h, c, _ = kind.advance(
                    TENSORFLOW,
                    tensors[depth],
                    tf.constant(projected),
                    tf.constant(h_parent[index]),
                    tf.constant(c_parent[index]),
                )
                h_out[s : s + rows], c_out[s : s + rows] = h.numpy(), c.numpy()
            new_states.append((h_out, c_out))
            x = h_out
        states = new_states
    return states, ids


_FINISHERS: dict[tuple, Any] = {}


def _finisher(cell: str, encoder_layers: int, decoder_layers: int, steps: int) -> Any:
    """A compiled function: the last encoder step, the decoder, softmax, argmax and margins, for one chunk.

    The weights are arguments, not constants, so one compiled function serves every call (and every epoch's
    checks during training) for networks of the same shape.
    """
    key = (cell, encoder_layers, decoder_layers, steps)
    if key not in _FINISHERS:
        _FINISHERS[key] = _compile_finisher(cell, encoder_layers, steps)
    return _FINISHERS[key]


def _compile_finisher(cell: str, encoder_layers: int, steps: int) -> Any:
    kind = CELLS[cell]

    @tf.function(jit_compile=True, autograph=False)  # XLA fuses each step's gate arithmetic
    def finish(
        enc: list, dec: list, dense: list, h0: list, c0: list, last: tf.Tensor, truth: tf.Tensor
    ) -> tuple[tf.Tensor, tf.Tensor]:
        x = None
        for depth in range(encoder_layers):
            layer = kind.layer(*enc[3 * depth : 3 * depth + 3])
            projected = (
                tf.gather(layer.kernel, last) + layer.input_bias if depth == 0 else x @ layer.kernel + layer.input_bias
            )
            x, _, _ = kind.advance(TENSORFLOW, layer, projected, h0[depth], c0[depth])
        decoder = [kind.layer(*dec[3 * depth : 3 * depth + 3]) for depth in range(len(dec) // 3)]
        logits = tf.stack(decode(TENSORFLOW, kind, decoder, (dense[0], dense[1]), x, steps), axis=1)
        probs = tf.nn.softmax(logits)  # (n, steps, chars)
        right = tf.gather(probs, truth, axis=2, batch_dims=2)
        others = tf.where(tf.one_hot(truth, tf.shape(probs)[2]) > 0, -1.0, probs)
        margin = tf.reduce_min(right - tf.reduce_max(others, axis=2), axis=1)
        return tf.argmax(probs, axis=2, output_type=tf.int32), margin

    return finish
