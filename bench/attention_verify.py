"""Fast verifier speed: an attention model against a repeat model of the same size, same questions, same run.

Both networks are built by model/network.py for the 3-digit addition task (LSTM, encoder and decoder of
the same units), with random weights (speed does not depend on what the weights learned). Each is
checked by trainer/fast_verify.py's `fast_margins` on the same questions (a uniform random sample of
all 1,000,000 3-digit questions, or all of them with --all); each is warmed up on the first chunk and
timed as the best of two calls. The ratio is attention / repeat; the target is at most 2x.
"""

from __future__ import annotations

import time

import numpy as np
from common import finish, header, parser


def main() -> None:
    p = parser(__doc__, model=False)
    p.add_argument("--questions", type=int, default=100_000, help="how many of the 1,000,000 questions")
    p.add_argument("--all", action="store_true", help="all 1,000,000 questions")
    p.add_argument("--units", type=int, default=128)
    args = p.parse_args()
    meta = header("Fast verifier: attention vs repeat decoder, same task, same size")

    import keras

    from model.codec import encode_answers, encode_questions
    from model.config import NetworkConfig, TaskConfig, parameter_count
    from model.network import build_model
    from model.questions import all_questions, answers
    from trainer.fast_verify import fast_margins

    task = TaskConfig(digits=3)
    q = all_questions(task)
    count = 20_000 if args.quick else (len(q) if args.all else args.questions)
    rows_chosen = np.sort(np.random.default_rng(0).choice(len(q), size=min(count, len(q)), replace=False))
    q = q[rows_chosen]
    tokens, truth = encode_questions(q, task), encode_answers(answers(q), task)
    rows, seconds = [], {}
    for decoder in ("repeat", "attention"):
        net = NetworkConfig(encoder_units=args.units, decoder_units=args.units, decoder=decoder)
        keras.utils.set_random_seed(0)
        model = build_model(task, net)
        fast_margins(model, tokens[:2048], truth[:2048])  # compile
        times = []
        for _ in range(2):
            start = time.perf_counter()
            fast_margins(model, tokens, truth)
            times.append(time.perf_counter() - start)
        seconds[decoder] = min(times)
        rows.append(
            {
                "decoder": decoder,
                "parameters": parameter_count(task, net),
                "questions": len(q),
                "seconds": seconds[decoder],
                "questions/s": len(q) / seconds[decoder],
                "est. s for 1,000,000": seconds[decoder] * 1_000_000 / len(q),
            }
        )
    ratio = seconds["attention"] / seconds["repeat"]
    summary = f"Ratio attention / repeat: **{ratio:.2f}x** (target: at most 2x)."
    load, cores = meta["machine"]["load_1min"], meta["machine"]["cores"] or 1
    if load and load > 0.5 * cores:
        summary += f"\nThe load average was {load} on {cores} cores at the start: other work shared the CPU."
    finish(meta, rows, summary, args.out, ratio=ratio)


if __name__ == "__main__":
    main()
