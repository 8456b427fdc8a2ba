"""Exhaustive check speed: all 1,000,000 three-digit questions, against the machine's peak.

Times `trainer.verify.exhaustive_check` (Predictor.count_wrong: numpy encoding and
one compiled tf.function call per model.predictor.CHUNK questions) and reports questions/s and the
fraction of the machine's float32 peak it reaches. The FLOPs per question are
computed from the loaded network's layer sizes (matrix multiplies only, 2 FLOPs per
multiply-add; gate non-linearities are ignored), e.g. for the default model:
  encoder  7 steps x 4 gates x (12 + 128 + 1) x 128 MACs
  decoder  4 steps x 4 gates x (128 + 128 + 1) x 128 MACs
  dense    4 steps x 128 x 12 MACs
The "peak" is what TensorFlow's own big float32 matmul achieves on this machine in
the same run. The baseline is `model.predict` (same batch size) on the same questions.
"""

from __future__ import annotations

import time

import numpy as np

from common import finish, header, parser


def flops_per_question(model) -> tuple[int, list[str]]:
    """2 x multiply-adds per question, from the model's LSTM and Dense layers; plus the working."""
    macs, lines = 0, []
    for layer in model.layers:
        shape = layer.input.shape  # (batch, steps, features)
        kind = type(layer).__name__
        if kind == "LSTM":
            steps, d, u = shape[1], shape[-1], layer.units
            n = steps * 4 * (d + u + 1) * u
            lines.append(f"{layer.name}: {steps} steps x 4 gates x ({d} + {u} + 1) x {u} = {n:,} MACs")
        elif kind == "Dense":
            steps, d, u = shape[1], shape[-1], layer.units
            n = steps * d * u
            lines.append(f"{layer.name}: {steps} steps x {d} x {u} = {n:,} MACs")
        else:
            continue
        macs += n
    return 2 * macs, lines


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


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--questions", type=int, help="quick mode only: how many of the 1M questions (default 50,000)")
    args = p.parse_args()
    meta = header("Exhaustive check: all 3-digit questions vs machine peak")

    from model.codec import encode_answers, encode_questions, one_hot
    from model.predictor import CHUNK, Predictor
    from model.storage import load_model_dir
    from trainer import verify
    from trainer.data import all_questions

    model, config = load_model_dir(args.model)
    predictor = Predictor(model, config)
    flops, working = flops_per_question(model)
    print("FLOPs per question = 2 x (" + " + ".join(w.split(" = ")[1].replace(" MACs", "") for w in working)
          + f") = {flops:,}\n  " + "\n  ".join(working) + "\n", flush=True)

    n = 1024 if args.quick else 2048
    peak, peak_seconds = matmul_peak(n, 3 if args.quick else 10)
    rows = [{"path": f"TF matmul {n}x{n} float32 (peak)", "questions": None, "seconds": peak_seconds,
             "questions/s": None, "GFLOP/s": peak / 1e9, "of peak": "100%", "wrong": None}]

    terms = all_questions(config)
    if args.quick:
        terms = terms[np.random.default_rng(0).permutation(len(terms))[: args.questions or 50_000]]
    started = time.perf_counter()
    if args.quick:
        wrong, _ = predictor.count_wrong(terms)
    else:
        wrong = verify.exhaustive_check(predictor)["wrong"]
    ours = time.perf_counter() - started

    started = time.perf_counter()
    probs = model.predict(one_hot(encode_questions(terms, config), config), batch_size=CHUNK, verbose=0)
    baseline_wrong = int((probs.argmax(-1) != encode_answers(terms.sum(1), config)).any(1).sum())
    baseline = time.perf_counter() - started

    for name, seconds, count in [("Predictor.count_wrong (exhaustive_check)", ours, wrong),
                                 (f"model.predict, batch {CHUNK:,}", baseline, baseline_wrong)]:
        rate = len(terms) / seconds
        rows.append({"path": name, "questions": len(terms), "seconds": seconds, "questions/s": rate,
                     "GFLOP/s": rate * flops / 1e9, "of peak": f"{rate * flops / peak:.1%}", "wrong": count})
    summary = (f"{len(terms):,} questions in {ours:.1f} s with the Predictor = {rows[1]['of peak']} of this "
               f"machine's matmul peak ({peak / 1e9:.0f} GFLOP/s at {flops:,} FLOPs/question). "
               f"Ratio vs model.predict: **{baseline / ours:.2f}x** faster.")
    if wrong != baseline_wrong:
        summary += f"\nWARNING: the two paths disagree on the wrong count ({wrong} vs {baseline_wrong})."
    finish(meta, rows, summary, args.out, flops_per_question=flops, peak_flops=peak, ratio=baseline / ours)


if __name__ == "__main__":
    main()
