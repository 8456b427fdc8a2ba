"""Experiment for issue #27 ("Show its work"): does writing the steps lift mixed3 and brackets3?

Three shapes of target, one network family (the project's attention decoder, model/network.py, trained
with teacher forcing and answered greedily, every character written by the network):

  oneshot  `12*34-56` -> `352`                       (the zoo's one-shot design, side by side)
  trail    `12*34-56` -> `408-56=352`                one answer: the expression after one operation, then
                                                     `=` and the final answer
  rewrite  `12*34-56` -> `408-56`, `408-56` -> `352` one operation per pass; the network's own output is fed
                                                     back until it writes a plain number

One operation per step, in the order a person works: the bracket first, then a `*`, then left to right.
A question of three terms has two operations, so the trail is always `E1=answer` and the rewrite always two
passes; `+`/`-`-only questions get the left-to-right trail (`12+34-56` -> `46-56=-10`).

With --reverse-numbers every number (in the question, the steps and the answer) is written units first,
its sign in front: `12*34-56` reads `21*43-65` and the trail is `804-65=253`; -47 is `-74`.

Questions are drawn on the fly: operands uniform over 0..99, every operator pattern (and bracket pattern)
equally likely; the held-out questions are never trained on. Training runs for a budget of minutes on a
learning rate that warms up and then decays (cosine) over that budget. Evaluation decodes greedily and
scores the final answer and every written step, by operator pattern and bracket pattern; the results are
printed and appended, with the command line, to bench/results/steps_experiment.md. The questions, their
steps and the encodings are bench/steps_data.py; this script builds, trains, answers and reports.

    taskset -c 1 python bench/steps_experiment.py --shape trail --task mixed3 --minutes 12
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from steps_data import (
    ALPHABET,
    SHAPES,
    Batch,
    Shape,
    chains,
    decode,
    draw,
    encode,
    keys,
    one_hot,
    pattern_names,
    self_check,
    shape_for,
    shifted,
    training_pairs,
)


# Network ------------------------------------------------------------------------------------------
def build(shape: Shape, units: int):
    from model.config import NetworkConfig
    from model.network import build_model

    net = NetworkConfig(encoder_units=units, decoder_units=units, decoder="attention")
    return build_model(shape, net)  # type: ignore[arg-type]  # Shape has the sizes build_model reads


def greedy(model, questions: np.ndarray, length: int, batch: int = 4096) -> np.ndarray:
    """(N, Q) question tokens -> (N, length) tokens written greedily, each fed back as the next input."""
    import tensorflow as tf

    call = tf.function(lambda x, p: model([x, p], training=False), reduce_retracing=True)
    out = np.zeros((len(questions), length), np.int32)
    for start in range(0, len(questions), batch):
        x = one_hot(questions[start : start + batch])
        prev = np.zeros((len(x), length, len(ALPHABET)), np.float32)
        for t in range(length):
            probs = call(x, prev).numpy()
            chosen = probs[:, t].argmax(-1)
            out[start : start + len(x), t] = chosen
            if t + 1 < length:
                prev[np.arange(len(x)), t + 1, chosen] = 1.0
    return out


def is_number(text: str) -> bool:
    body = text[1:] if text.startswith("-") else text
    return body.isdigit()


def answer_questions(model, b: Batch, shape: str, sizes: Shape, reverse: bool, partial: bool) -> dict:
    """Greedy answers: {'final_ok', 'step1_ok', 'steps_ok'} boolean arrays and what was written.

    final_ok: the last thing written is the answer; step1_ok: the first step is right; steps_ok: every step
    and the answer are right (nothing missing, nothing extra)."""
    texts, _ = chains(b, reverse, partial)
    tokens = encode([t[0] for t in texts], sizes.question_length)
    if shape in ("oneshot", "trail"):
        outputs = decode(greedy(model, tokens, sizes.answer_length))
        written = [[o] if shape == "oneshot" else o.split("=") for o in outputs]
    else:  # rewrite: feed the network's own output back until it writes a plain number (at most 8 passes)
        written = [[] for _ in texts]
        state = [t[0] for t in texts]
        active = np.arange(len(texts))
        for _ in range(8):
            if not len(active):
                break
            outs = decode(greedy(model, encode([state[i] for i in active], sizes.question_length), sizes.answer_length))
            still = []
            for i, o in zip(active.tolist(), outs, strict=True):
                written[i].append(o)
                state[i] = o
                if not is_number(o) and len(o) <= sizes.question_length:
                    still.append(i)
            active = np.array(still, np.int64)
    return {
        "final_ok": np.array([w[-1] == t[-1] for w, t in zip(written, texts, strict=True)]),
        "step1_ok": np.array([w[0] == t[1] for w, t in zip(written, texts, strict=True)]),
        "steps_ok": np.array([w == t[1:] for w, t in zip(written, texts, strict=True)]),
        "written": ["=".join(w) for w in written],
    }


# Training -----------------------------------------------------------------------------------------
def learning_rate(fraction: float, peak: float, floor: float, warmup: float = 0.03) -> float:
    """Warm up linearly over the first `warmup` of the budget, then cosine-decay to floor * peak."""
    if fraction < warmup:
        return peak * max(fraction / warmup, 0.02)
    progress = min((fraction - warmup) / (1 - warmup), 1.0)
    return peak * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress)))


def train(args: argparse.Namespace, model, sizes: Shape, heldout_keys: np.ndarray, probe: Batch) -> dict:
    import keras
    import tensorflow as tf

    # a continued run draws other training questions than the run it continues (same held-out set)
    rng = np.random.default_rng(args.seed + (7919 if args.init else 0))
    optimizer = keras.optimizers.Adam(args.lr, clipnorm=1.0)
    loss_fn = keras.losses.SparseCategoricalCrossentropy()

    @tf.function(jit_compile=args.xla)
    def step(x, prev, y):
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model([x, prev], training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    budget = args.minutes * 60
    trained_seconds, questions_seen, pairs_seen, steps_done = 0.0, 0, 0, 0
    next_probe = args.probe_every
    weights = parse_weights(args.weights)
    loss_avg = None
    history = []
    while trained_seconds < budget:
        tick = time.perf_counter()
        per_batch = args.batch // 2 if args.shape == "rewrite" else args.batch  # the rewrite: 2 pairs each
        chunk = draw(per_batch * 20, args.task == "brackets3", rng, weights)
        chunk = chunk.take(np.flatnonzero(~np.isin(keys(chunk), heldout_keys)))
        inputs, targets = training_pairs(chunk, args.shape, args.reverse_numbers, args.partial)
        fits = [
            len(i) <= sizes.question_length and len(t) <= sizes.answer_length
            for i, t in zip(inputs, targets, strict=True)
        ]
        inputs = [i for i, f in zip(inputs, fits, strict=True) if f]
        targets = [t for t, f in zip(targets, fits, strict=True) if f]
        x_all = encode(inputs, sizes.question_length)
        y_all = encode(targets, sizes.answer_length)
        order = rng.permutation(len(x_all))
        for start in range(0, len(order) - args.batch + 1, args.batch):
            rows = order[start : start + args.batch]
            now = trained_seconds + time.perf_counter() - tick
            optimizer.learning_rate.assign(learning_rate(now / budget, args.lr, args.floor))
            loss = float(step(one_hot(x_all[rows]), shifted(y_all[rows]), y_all[rows]))
            loss_avg = loss if loss_avg is None else 0.98 * loss_avg + 0.02 * loss
            pairs_seen += len(rows)
            steps_done += 1
        questions_seen += len(chunk)
        trained_seconds += time.perf_counter() - tick
        if trained_seconds >= next_probe or trained_seconds >= budget:
            next_probe += args.probe_every
            got = answer_questions(model, probe, args.shape, sizes, args.reverse_numbers, args.partial)
            row = {
                "minutes": round(trained_seconds / 60, 2),
                "questions": questions_seen,
                "pairs": pairs_seen,
                "loss": round(loss_avg or 0.0, 5),
                "lr": float(optimizer.learning_rate.numpy()),
                "final": float(got["final_ok"].mean()),
                "steps": float(got["steps_ok"].mean()),
            }
            history.append(row)
            print(json.dumps(row), flush=True)
    return {"seconds": trained_seconds, "questions": questions_seen, "pairs": pairs_seen, "history": history}


def parse_weights(text: str | None) -> dict[str, float] | None:
    """'**=3,+*=2' -> {'**': 3.0, '+*': 2.0}: relative draw weights of operator pairs (default 1 each)."""
    if not text:
        return None
    return {k: float(v) for k, v in (part.split("=") for part in text.split(","))}


# Report -------------------------------------------------------------------------------------------
def breakdown(labels: list[str], got: dict) -> list[tuple[str, int, float, float, float]]:
    """(label, count, final answer exact, first step exact, every step exact) per label, sorted by label."""
    labels_arr = np.array(labels)
    rows = []
    for label in sorted(set(labels)):
        m = labels_arr == label
        rows.append(
            (label, int(m.sum()), got["final_ok"][m].mean(), got["step1_ok"][m].mean(), got["steps_ok"][m].mean())
        )
    return rows


def table(title: str, rows: list[tuple[str, int, float, float, float]]) -> str:
    lines = [f"| {title} | questions | final answer | first step | every step |", "|---|---:|---:|---:|---:|"]
    lines += [f"| `{r[0]}` | {r[1]:,} | {100 * r[2]:.2f}% | {100 * r[3]:.2f}% | {100 * r[4]:.2f}% |" for r in rows]
    return "\n".join(lines)


def report(args: argparse.Namespace, command: str, trained: dict, held: Batch, got: dict, seconds_eval: float) -> str:
    ops, brackets = pattern_names(held)
    head = (
        f"### {args.name}: {args.shape}, {args.task}, LSTM {args.units}, "
        f"numbers {'units first' if args.reverse_numbers else 'as written'}"
        f"{', partial products' if args.partial else ''}\n\n"
        f"`{command}`\n\n"
        f"- trained {trained['seconds'] / 60:.1f} min on one core: {trained['questions']:,} questions "
        f"({trained['pairs']:,} training sequences), batch {args.batch}, peak rate {args.lr}, "
        f"weights {args.weights or 'uniform'}\n"
        f"- held out {len(held):,} uniform questions (never trained on), greedy decoding, {seconds_eval:.0f} s\n"
        f"- **final answer exact {100 * got['final_ok'].mean():.2f}%**, first step exact "
        f"{100 * got['step1_ok'].mean():.2f}%, every written step exact {100 * got['steps_ok'].mean():.2f}%; "
        f"final right but a step wrong: {int((got['final_ok'] & ~got['steps_ok']).sum())}\n\n"
    )
    parts = [head, table("operator pattern", breakdown(ops, got))]
    if args.task == "brackets3":
        parts += ["\n\n", table("bracket pattern", breakdown(brackets, got))]
        both = [f"{b.replace('.', o[1]).replace('.', o[3])}" for o, b in zip(ops, brackets, strict=True)]
        worst = sorted(breakdown(both, got), key=lambda r: r[2])[:6]
        parts += ["\n\n", table("worst 6 of 27 (operators in brackets)", worst)]
    wrong = np.flatnonzero(~got["steps_ok"])[:8]
    texts, _ = chains(held.take(wrong), args.reverse_numbers, args.partial)
    if len(wrong):
        parts.append(
            "\n\nsome wrong: "
            + "; ".join(
                f"`{t[0]}` wrote `{got['written'][i]}` (right: `{'='.join(t[1:])}`)"
                for i, t in zip(wrong, texts, strict=True)
            )
        )
    curve = " ".join(f"{h['minutes']}min:{100 * h['final']:.1f}%" for h in trained["history"])
    parts.append(f"\n\nprobe (1,000 held-out) by training minutes, final answer: {curve}\n\n")
    return "".join(parts)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--shape", choices=SHAPES, default="trail")
    p.add_argument("--task", choices=("mixed3", "brackets3"), default="mixed3")
    p.add_argument("--units", type=int, default=192)
    p.add_argument("--minutes", type=float, default=12.0)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--reverse-numbers", action="store_true", help="write every number units first")
    p.add_argument("--partial", action="store_true", help="write products of two 2+-digit numbers as partial products")
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--lr", type=float, default=5e-3)
    p.add_argument("--floor", type=float, default=0.01, help="final rate as a fraction of the peak")
    p.add_argument("--weights", default=None, help="draw weights of operator pairs, e.g. '**=3'")
    p.add_argument("--eval-size", type=int, default=20_000)
    p.add_argument("--probe-every", type=float, default=120.0, help="seconds of training between probes")
    p.add_argument("--xla", action="store_true")
    p.add_argument("--load", default=None, help="evaluate these saved weights instead of training")
    p.add_argument("--init", default=None, help="start training from these saved weights (a continued run)")
    p.add_argument("--name", default=None)
    p.add_argument("--out", default=str(ROOT / "bench/results/steps_experiment.md"))
    args = p.parse_args()
    args.name = args.name or f"{args.shape}-{args.task}-{args.units}-{'rev' if args.reverse_numbers else 'fwd'}"
    command = "taskset -c 1 python bench/steps_experiment.py " + shlex.join(sys.argv[1:])
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    self_check()
    import keras

    keras.utils.set_random_seed(args.seed)
    brackets = args.task == "brackets3"
    held = draw(args.eval_size, brackets, np.random.default_rng(10_000 + args.seed))
    held_keys = np.unique(keys(held))
    probe = held.take(np.arange(min(1000, len(held))))
    sizes = shape_for(args.shape, brackets, args.reverse_numbers, args.partial)
    model = build(sizes, args.units)
    print(
        f"{args.name}: {model.count_params():,} parameters, reads {sizes.question_length}, writes "
        f"{sizes.answer_length}; e.g. "
        f"{training_pairs(held.take(np.arange(3)), args.shape, args.reverse_numbers, args.partial)}",
        flush=True,
    )
    if args.load:  # evaluate a saved model again (e.g. on more questions); its training figures are unknown
        model.load_weights(args.load)
        trained = {"seconds": 0.0, "questions": 0, "pairs": 0, "history": []}
    else:
        if args.init:
            model.load_weights(args.init)
        trained = train(args, model, sizes, held_keys, probe)
        model.save_weights(ROOT / f"logs/{args.name}.weights.h5")
    tick = time.perf_counter()
    got = answer_questions(model, held, args.shape, sizes, args.reverse_numbers, args.partial)
    text = report(args, command, trained, held, got, time.perf_counter() - tick)
    print(text, flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if not out.exists():
        out.write_text(
            "# Written steps for mixed3 and brackets3 (issue #27)\n\nEach section: one run of "
            "`bench/steps_experiment.py`, its command, and its held-out figures.\n\n"
        )
    with out.open("a") as f:
        f.write(text)


if __name__ == "__main__":
    main()
