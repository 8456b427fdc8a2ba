"""Exhaustive check speed: all 1,000,000 three-digit questions, three ways, against the machine's peak.

Each path starts from the same token arrays and ends with each question's
predicted characters and margin (p(right) - p(best wrong) at its weakest position):

- `fast_margins` (trainer/fast_verify.py): prefix trie for the encoder, one
  input projection for the decoder, XLA-compiled chunks;
- the Predictor's path (model/predictor.py): the numpy network in
  model.predictor.CHUNK-row chunks (the app's forward pass; it replaced the
  compiled `Predictor.count_wrong`), margins in numpy;
- `model.predict` on the one-hot input (the baseline), margins in numpy.

FLOPs per question are matrix-multiply work only (2 FLOPs per multiply-add; bias
adds, gate non-linearities and softmax are ignored), counted for what each path
really multiplies: Keras multiplies the one-hot input by the first kernel at
every step, the numpy network looks the rows up, and fast_margins also runs the
encoder once per distinct prefix (its FLOPs depend on the questions; the trie
over these questions is counted). The "peak" is TensorFlow's own big float32
matmul on this machine in the same run. Every path is warmed up first and timed
as the best of two calls. The ratio is model.predict / fast_margins.
"""

from __future__ import annotations

import time

import numpy as np
from common import finish, header, parser

KERAS_BATCH = 8192  # model.predict batch size


def network_shape(model) -> tuple[list[tuple[int, int, int]], list[tuple[int, int, int]], tuple[int, int]]:
    """([(inputs, units, gates)] for encoder layers, the same for decoder layers, (dense inputs, chars))."""
    import keras

    encoder: list[tuple[int, int, int]] = []
    decoder: list[tuple[int, int, int]] = []
    dense, after_repeat = (0, 0), False
    for layer in model.layers:
        if isinstance(layer, keras.layers.RNN):
            kernel, recurrent = layer.get_weights()[:2]
            (decoder if after_repeat else encoder).append(
                (kernel.shape[0], recurrent.shape[0], kernel.shape[1] // recurrent.shape[0])
            )
        elif isinstance(layer, keras.layers.RepeatVector):
            after_repeat = True
        elif isinstance(layer, keras.layers.Dense):
            dense = layer.get_weights()[0].shape
    return encoder, decoder, dense


def path_flops(model, tokens: np.ndarray, answer_length: int) -> dict[str, tuple[float, str]]:
    """Per path: (FLOPs per question, how they add up)."""
    from trainer.fast_verify import prefix_trie

    encoder, decoder, (dense_in, chars) = network_shape(model)
    n, length = tokens.shape
    steps = answer_length
    rec = [u * g * u for _, u, g in encoder]  # h @ U, one step
    inp = [d * g * u for d, u, g in encoder]  # x @ W, one step
    dec_rec = [u * g * u for _, u, g in decoder]
    dec_inp = [d * g * u for d, u, g in decoder]
    dense = steps * dense_in * chars

    keras_enc = length * (sum(rec) + sum(inp))  # the one-hot input is a real matmul in Keras
    keras_dec = steps * (sum(dec_rec) + sum(dec_inp))
    keras_macs = keras_enc + keras_dec + dense

    lookup_enc = length * (sum(rec) + sum(inp[1:]))  # first layer: row lookup
    once_dec = dec_inp[0] + steps * sum(dec_rec) + steps * sum(dec_inp[1:])
    numpy_macs = lookup_enc + once_dec + dense

    # fast_margins: every distinct prefix of length 1..L-1 once (h @ U even from the zero root state),
    # the last encoder step per question, then the decoder whose first step starts from zeros (no h @ U).
    rows = sum(len(p) for p in prefix_trie(tokens[:, :-1])[0]) / n if length > 1 else 0.0
    per_step = sum(rec) + sum(inp[1:])
    fast_enc = (rows + 1) * per_step
    fast_dec = dec_inp[0] + (steps - 1) * sum(dec_rec) + steps * sum(dec_inp[1:])
    fast_macs = fast_enc + fast_dec + dense

    return {
        "keras": (
            2 * keras_macs,
            f"2 x ({keras_enc:,} encoder [{length} steps, one-hot matmul] + {keras_dec:,} "
            f"decoder [{steps} steps] + {dense:,} dense) MACs",
        ),
        "numpy": (
            2 * numpy_macs,
            f"2 x ({lookup_enc:,} encoder [{length} steps, row lookup] + {once_dec:,} "
            f"decoder [input projection once] + {dense:,} dense) MACs",
        ),
        "fast": (
            2 * fast_macs,
            f"2 x ({fast_enc:,.0f} encoder [{rows + 1:.3f} step-rows per question: trie "
            f"{rows:.3f} + last step 1] + {fast_dec:,} decoder [projection once, first step "
            f"from zeros] + {dense:,} dense) MACs",
        ),
    }


def matmul_peak(n: int, repeats: int) -> tuple[float, float]:
    """Best float32 FLOP/s of an n x n TensorFlow matmul over `repeats` runs (and its seconds)."""
    import tensorflow as tf

    a = tf.random.normal([n, n], dtype=tf.float32)
    b = tf.random.normal([n, n], dtype=tf.float32)
    tf.linalg.matmul(a, b).numpy()  # warm-up
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        tf.linalg.matmul(a, b).numpy()
        best = min(best, time.perf_counter() - started)
    return 2 * n**3 / best, best


def timed(run) -> tuple[tuple[np.ndarray, np.ndarray], float, float]:
    """(run()'s result, wall seconds, CPU seconds of this process)."""
    cpu, wall = time.process_time(), time.perf_counter()
    result = run()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--questions", type=int, help="quick mode only: how many of the 1M questions (default 50,000)")
    args = p.parse_args()
    meta = header("Exhaustive check: all 3-digit questions, three paths, vs machine peak")

    import keras

    from model.codec import encode_answers, encode_questions, one_hot
    from model.predictor import CHUNK, Predictor, margins
    from model.questions import all_questions, answers
    from model.storage import load_model_dir
    from trainer.fast_verify import CHUNK as FAST_CHUNK
    from trainer.fast_verify import fast_margins

    stored = load_model_dir(args.model)
    task = stored.task
    model = keras.saving.load_model(args.model, compile=False)
    predictor = Predictor(task, stored.network())

    questions = all_questions(task)
    if args.quick:
        questions = questions[np.random.default_rng(0).permutation(len(questions))[: args.questions or 50_000]]
    tokens, truth = encode_questions(questions, task), encode_answers(answers(questions), task)
    flops = path_flops(model, tokens, task.answer_length)
    print(
        "FLOPs per question (matrix multiplies only):\n"
        + "\n".join(f"  {name}: {value:,.0f} = {working}" for name, (value, working) in flops.items())
        + "\n",
        flush=True,
    )

    n = 1024 if args.quick else 2048
    peak, peak_seconds = matmul_peak(n, 3 if args.quick else 10)
    rows = [
        {
            "path": f"TF matmul {n}x{n} float32 (peak)",
            "questions": None,
            "seconds": peak_seconds,
            "CPU s": None,
            "questions/s": None,
            "FLOPs/question": None,
            "GFLOP/s": peak / 1e9,
            "of peak": "100%",
            "wrong": None,
            "rows unlike Keras": None,
        }
    ]

    def run_fast() -> tuple[np.ndarray, np.ndarray]:
        return fast_margins(model, tokens, truth)

    def run_numpy() -> tuple[np.ndarray, np.ndarray]:  # what Predictor.probabilities does, from tokens
        probs = [predictor.network.probabilities(tokens[i : i + CHUNK]) for i in range(0, len(tokens), CHUNK)]
        return (
            np.concatenate([q.argmax(-1) for q in probs]),
            np.concatenate([margins(q, truth[i * CHUNK : (i + 1) * CHUNK]).min(1) for i, q in enumerate(probs)]),
        )

    def run_keras() -> tuple[np.ndarray, np.ndarray]:
        probs = model.predict(one_hot(tokens, task), batch_size=KERAS_BATCH, verbose=0)
        return probs.argmax(-1), margins(probs, truth).min(1)

    # Warm up every path, as a training run is warm from its second check on: Keras traces its predict
    # function once; fast_margins compiles its function once per chunk shape (two full chunks here: a
    # smaller warm-up compiled a smaller shape, and the timed call paid about a second to compile its own).
    fast_margins(model, tokens[: 2 * FAST_CHUNK], truth[: 2 * FAST_CHUNK])
    model.predict(one_hot(tokens[:KERAS_BATCH], task), batch_size=KERAS_BATCH, verbose=0)
    paths = [
        ("fast_margins (trainer/fast_verify.py)", "fast", run_fast),
        (f"Predictor's numpy network, {CHUNK:,}-row chunks", "numpy", run_numpy),
        (f"model.predict, batch {KERAS_BATCH:,} (baseline)", "keras", run_keras),
    ]
    results = {}
    for name, key, run in paths:
        # Best of two calls, as the peak is a best of several: the first call of a path also pays for
        # first-touching its large arrays, which a training run's later checks reuse.
        (predicted, margin), seconds, cpu = min((timed(run) for _ in range(2)), key=lambda r: r[1])
        print(f"{name}: {seconds:.2f} s", flush=True)
        results[key] = (predicted, margin, seconds)
        rows.append(
            {
                "path": name,
                "questions": len(tokens),
                "seconds": seconds,
                "CPU s": cpu,
                "questions/s": len(tokens) / seconds,
                "FLOPs/question": flops[key][0],
                "GFLOP/s": len(tokens) / seconds * flops[key][0] / 1e9,
                "of peak": f"{len(tokens) / seconds * flops[key][0] / peak:.1%}",
                "wrong": int((margin <= 0).sum()),
            }
        )
    keras_tokens = results["keras"][0]
    for row, key in zip(rows[1:], ("fast", "numpy", "keras"), strict=True):
        row["rows unlike Keras"] = int((results[key][0] != keras_tokens).any(1).sum())
    print()

    fast, baseline, numpy_s = results["fast"][2], results["keras"][2], results["numpy"][2]
    summary = (
        f"{len(tokens):,} questions in {fast:.2f} s with fast_margins ({rows[1]['of peak']} of this machine's "
        f"matmul peak of {peak / 1e9:.0f} GFLOP/s at {flops['fast'][0]:,.0f} FLOPs/question; "
        f"{flops['keras'][0] / flops['fast'][0]:.1f}x fewer FLOPs than Keras). "
        f"Ratio vs model.predict: **{baseline / fast:.2f}x** faster ({numpy_s / fast:.2f}x vs the numpy network)."
    )
    disagree = [str(row["path"]) for row in rows[1:] if row["rows unlike Keras"]]
    if disagree:
        summary += f"\nWARNING: answers differ from model.predict's argmax: {', '.join(disagree)}."
    load, cores = meta["machine"]["load_1min"], meta["machine"]["cores"] or 1
    if load and load > 0.5 * cores:
        summary += f"\nThe load average was {load} on {cores} cores at the start: other work shared the CPU."
    finish(
        meta,
        rows,
        summary,
        args.out,
        flops_per_question={k: v[0] for k, v in flops.items()},
        peak_flops=peak,
        ratio=baseline / fast,
    )


if __name__ == "__main__":
    main()
