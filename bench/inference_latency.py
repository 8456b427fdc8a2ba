"""Inference latency: the app's /predict handler vs a plain `model.predict` per request.

The handler is exactly what /predict runs (`AdditionService.predict_many`, imported
from app.py without launching it): parse -> encode -> one compiled tf.function call
-> decode -> per-position confidences and top-3. The baseline is what a Keras user
would write: encode, `model.predict(x, verbose=0)`, argmax, decode (no confidences).
We time >= 1,000 single requests per path (p50/p99), then throughput in questions/s
for batches of 1, 32 and 1,024. Ratio = model.predict p50 / handler p50.
"""

from __future__ import annotations

import os
import time

import numpy as np

from common import finish, fmt, header, parser, percentile


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--requests", type=int, help="single requests timed per path (default 1000; quick 100)")
    p.add_argument("--seconds", type=float, help="time per throughput cell (default 3; quick 0.5)")
    args = p.parse_args()
    n_requests = args.requests or (100 if args.quick else 1000)
    seconds = args.seconds or (0.5 if args.quick else 3.0)
    meta = header("Inference latency: /predict handler vs model.predict")

    os.environ["ADDITION_MODEL"] = str(args.model)  # so `import app` builds its demo on the same model
    import app
    from model.codec import answer_value, encode_questions, one_hot, parse_question, tokens_to_text

    loaded = app.load_for_app(str(args.model))
    service = app.AdditionService(loaded)  # the object behind /predict; compiles and warms up
    model, config = loaded.model, loaded.config
    print(f"Model: {loaded.description}\n", flush=True)

    def handler(questions: list[str]) -> list:
        return service.predict_many(questions)

    def plain(questions: list[str]) -> list:
        terms = np.array([parse_question(q, config) for q in questions])
        probs = model.predict(one_hot(encode_questions(terms, config), config), verbose=0,
                              batch_size=max(32, len(questions)))
        return [answer_value(t) for t in tokens_to_text(probs.argmax(-1), config)]

    rng = np.random.default_rng(0)
    pairs = rng.integers(0, config.max_term + 1, size=(max(n_requests, 1024), config.terms))
    questions = ["+".join(map(str, row)) for row in pairs]
    paths = {"handler (/predict)": handler, "model.predict": plain}
    for fn in paths.values():  # warm both up (model.predict builds its function on the first call)
        for size in (1, 32, 1024):
            fn(questions[:size])

    rows, p50 = [], {}
    for name, fn in paths.items():
        latencies = []
        for q in questions[:n_requests]:
            started = time.perf_counter()
            fn([q])
            latencies.append((time.perf_counter() - started) * 1000)
        p50[name] = percentile(latencies, 50)
        row = {"path": name, "requests": n_requests, "p50 ms": p50[name], "p99 ms": percentile(latencies, 99)}
        for size in (1, 32, 1024):
            batch, calls, started = questions[:size], 0, time.perf_counter()
            while calls < 3 or time.perf_counter() - started < seconds:
                fn(batch)
                calls += 1
            row[f"q/s batch {size}"] = size * calls / (time.perf_counter() - started)
        rows.append(row)
        print(f"  {name}: p50 {fmt(p50[name])} ms", flush=True)

    ratio = p50["model.predict"] / p50["handler (/predict)"]
    summary = (f"Ratio (model.predict p50 / handler p50): **{ratio:.1f}x** faster per single request "
               f"through the app's handler ({n_requests:,} requests each).")
    finish(meta, rows, summary, args.out, ratio=ratio)


if __name__ == "__main__":
    main()
