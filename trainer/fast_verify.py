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

An attention model (decoder "attention") is checked the same way: the trie's
states at every level are the encoder states each question's decoder attends
over (gathered per chunk, not recomputed), and the decoder answers greedily,
fed the character it chose at the step before, inside the same compiled call.

A model with written steps (steps "rewrite") is checked with this same function once per pass, its own
output fed back (trainer/verify_steps.py): nothing here is particular to it.

The cell maths and the decoder are not written here: each step is
model/cells.py's (`Cell.advance`, `decode`), the same lines the numpy forward
pass runs, given TensorFlow's sigmoid and tanh.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import tensorflow as tf

from model.cells import ATTENTIONS, CELLS, AttentionDecoder, Ops, decode, decode_attention

CHUNK = 16384  # decoder rows per compiled call (the last chunk is padded, so one shape is compiled)
THREADS = 2  # chunks computed at once


TENSORFLOW = Ops(sigmoid=tf.sigmoid, tanh=tf.tanh, softmax=tf.nn.softmax, einsum=tf.einsum)


Arrays = list[np.ndarray]


def layer_weights(model) -> tuple[str, list[Arrays], list[Arrays], Arrays]:
    """(cell, encoder layers' [kernel, recurrent, bias], decoder layers' ditto, [dense kernel, bias])."""
    cell, encoder, decoder, dense, _ = network_weights(model)
    return cell, encoder, decoder, dense


def network_weights(model) -> tuple[str, list[Arrays], list[Arrays], Arrays, tuple[str, Arrays] | None]:
    """layer_weights, and for an attention model (its attention kind, its weights), else None.

    The repeat network's decoder is what follows the RepeatVector; the attention model's recurrent layers
    are told apart by the names our builder gives them (encoder_i, decoder_i).
    """
    import keras

    kinds = {getattr(keras.layers, cell.keras_class): name for name, cell in CELLS.items()}
    attentions = {getattr(keras.layers, a.keras_class): name for name, a in ATTENTIONS.items()}
    encoder: list[Arrays] = []
    decoder: list[Arrays] = []
    dense: Arrays | None = None
    attention: tuple[str, Arrays] | None = None
    cell: str | None = None
    seen_repeat = False
    for layer in model.layers:
        kind = next((name for cls, name in kinds.items() if isinstance(layer, cls)), None)
        arrays = [np.asarray(w, np.float32) for w in layer.get_weights()]
        if kind:
            cell = kind
            (decoder if seen_repeat or layer.name.startswith("decoder") else encoder).append(arrays)
        elif isinstance(layer, keras.layers.RepeatVector):
            seen_repeat = True
        elif type(layer) in attentions:
            attention = (attentions[type(layer)], arrays)
        elif isinstance(layer, keras.layers.Dense):
            dense = arrays
    assert cell and encoder and decoder and dense is not None, "not a network our builder makes"
    return cell, encoder, decoder, dense, attention


def prefix_trie(
    tokens: np.ndarray, levels: list[np.ndarray] | None = None
) -> tuple[list[np.ndarray], list[np.ndarray], np.ndarray]:
    """Per step: each distinct prefix's parent (index at the previous step) and its last token; and each
    question's prefix index at the last step (at every step, appended to `levels` if given).

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
        if levels is not None:
            levels.append(ids)
        parents.append(unique // vocabulary)
        last_tokens.append(unique % vocabulary)
        distinct = len(unique)
    return parents, last_tokens, ids


def fast_margins(
    model, questions: np.ndarray, answers: np.ndarray, chunk: int = CHUNK
) -> tuple[np.ndarray, np.ndarray]:
    """questions (N, L) token ids, answers (N, A) true token ids -> (predicted (N, A) int32, margins (N,) float32)."""
    cell, encoder, decoder, dense, attention = network_weights(model)
    questions = np.asarray(questions)
    n, steps = len(questions), answers.shape[1]
    if n == 0:
        return np.zeros((0, steps), np.int32), np.zeros(0, np.float32)
    # Every step but the last runs once per distinct prefix; the last one runs per question, fused with
    # the decoder, starting from its prefix's state.
    chunk = min(chunk, max(1024, 1 << (n - 1).bit_length()))  # small inputs: a small padded chunk (powers of 2)
    levels: list[np.ndarray] | None = [] if attention else None
    history: list[np.ndarray] | None = [] if attention else None
    states, parent_of_question = encode_prefixes(cell, encoder, questions, levels=levels, history=history)
    finish = _finisher(cell, len(encoder), len(decoder), steps, attention[0] if attention else None)
    weights = (
        [tf.constant(w) for layer in encoder for w in layer],
        [tf.constant(w) for layer in decoder for w in layer],
        [tf.constant(w) for w in dense + (attention[1] if attention else [])],
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
        if levels is None or history is None:
            tokens, margins_ = finish(*weights, h0, c0, last, truth)
        else:  # the encoder states before the last step, each question's, for the attention to read
            earlier = [states_k[np.pad(ids_k[rows], pad)] for states_k, ids_k in zip(history, levels, strict=True)]
            width = states[-1][0].shape[1]
            keys = np.stack(earlier, axis=1) if earlier else np.zeros((chunk, 0, width), np.float32)
            tokens, margins_ = finish(*weights, h0, c0, last, truth, tf.constant(keys))
        predicted[start : start + count] = tokens.numpy()[:count]
        margin[start : start + count] = margins_.numpy()[:count]

    # XLA runs each chunk's element-wise work on one core; two chunks at a time keep both cores busy.
    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(run, range(0, n, chunk)))
    return predicted, margin


def encode_prefixes(
    cell: str,
    encoder: list[list[np.ndarray]],
    questions: np.ndarray,
    rows: int = 65536,
    levels: list[np.ndarray] | None = None,
    history: list[np.ndarray] | None = None,
) -> tuple[list[tuple[np.ndarray, np.ndarray]], np.ndarray]:
    """Each encoder layer's (h, c) for every distinct prefix of length L-1, and each question's prefix index.

    For attention: `levels` gets each question's prefix index at every step, `history` the top layer's h
    of every distinct prefix at every step (so history[k][levels[k]] is each question's state after k+1).
    """
    units = [w[1].shape[0] for w in encoder]
    states = [(np.zeros((1, u), np.float32), np.zeros((1, u), np.float32)) for u in units]
    if questions.shape[1] == 1:
        return states, np.zeros(len(questions), np.int64)
    parents, last_tokens, ids = prefix_trie(questions[:, :-1], levels)
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
        if history is not None:
            history.append(states[-1][0])
    return states, ids


_FINISHERS: dict[tuple, Any] = {}


def _finisher(cell: str, encoder_layers: int, decoder_layers: int, steps: int, attention: str | None = None) -> Any:
    """A compiled function: the last encoder step, the decoder, softmax, argmax and margins, for one chunk.

    The weights are arguments, not constants, so one compiled function serves every call (and every epoch's
    checks during training) for networks of the same shape.
    """
    key = (cell, encoder_layers, decoder_layers, steps, attention)
    if key not in _FINISHERS:
        if attention is None:
            _FINISHERS[key] = _compile_finisher(cell, encoder_layers, steps)
        else:
            _FINISHERS[key] = _compile_attention_finisher(cell, encoder_layers, steps, attention)
    return _FINISHERS[key]


def _last_encoder_step(kind, enc: list, h0: list, c0: list, last: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Every encoder layer's last step from its prefix state: the top layer's (h, c)."""
    x = c = None
    for depth in range(len(h0)):
        layer = kind.layer(*enc[3 * depth : 3 * depth + 3])
        projected = (
            tf.gather(layer.kernel, last) + layer.input_bias if depth == 0 else x @ layer.kernel + layer.input_bias
        )
        x, c, _ = kind.advance(TENSORFLOW, layer, projected, h0[depth], c0[depth])
    return x, c


def _margins(logits: list, truth: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """(argmax per step, each question's weakest p(right) - max p(wrong))."""
    probs = tf.nn.softmax(tf.stack(logits, axis=1))  # (n, steps, chars)
    right = tf.gather(probs, truth, axis=2, batch_dims=2)
    others = tf.where(tf.one_hot(truth, tf.shape(probs)[2]) > 0, -1.0, probs)
    margin = tf.reduce_min(right - tf.reduce_max(others, axis=2), axis=1)
    return tf.argmax(probs, axis=2, output_type=tf.int32), margin


def _compile_attention_finisher(cell: str, encoder_layers: int, steps: int, attention: str) -> Any:
    kind, attend = CELLS[cell], ATTENTIONS[attention]

    @tf.function(jit_compile=True, autograph=False)
    def finish(
        enc: list, dec: list, dense: list, h0: list, c0: list, last: tf.Tensor, truth: tf.Tensor, earlier: tf.Tensor
    ) -> tuple[tf.Tensor, tf.Tensor]:
        h, c = _last_encoder_step(kind, enc[: 3 * encoder_layers], h0, c0, last)
        keys = tf.concat([earlier, h[:, None, :]], axis=1)  # (n, question_length, units)
        layers = [kind.layer(*dec[3 * depth : 3 * depth + 3]) for depth in range(len(dec) // 3)]
        decoder = AttentionDecoder(layers, attend, dense[2] if attend.has_scale else None, dense[0], dense[1])
        first = layers[0]

        def feed(step: int, logits: tf.Tensor | None) -> tf.Tensor:  # greedy: the character just chosen
            if logits is None:
                return tf.broadcast_to(first.input_bias, [tf.shape(h)[0], tf.shape(first.input_bias)[0]])
            return tf.gather(first.kernel, tf.argmax(logits, axis=-1, output_type=tf.int32)) + first.input_bias

        logits = decode_attention(TENSORFLOW, kind, decoder, keys, (h, c), steps, feed)
        return _margins(logits, truth)

    return finish


def _compile_finisher(cell: str, encoder_layers: int, steps: int) -> Any:
    kind = CELLS[cell]

    @tf.function(jit_compile=True, autograph=False)  # XLA fuses each step's gate arithmetic
    def finish(
        enc: list, dec: list, dense: list, h0: list, c0: list, last: tf.Tensor, truth: tf.Tensor
    ) -> tuple[tf.Tensor, tf.Tensor]:
        x, _ = _last_encoder_step(kind, enc, h0, c0, last)
        decoder = [kind.layer(*dec[3 * depth : 3 * depth + 3]) for depth in range(len(dec) // 3)]
        return _margins(decode(TENSORFLOW, kind, decoder, (dense[0], dense[1]), x, steps), truth)

    return finish
