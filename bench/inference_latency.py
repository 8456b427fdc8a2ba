"""Inference latency: one question through the app's handlers vs a plain `model.predict` per request.

Three paths, same questions, same run:
- "/predict (JSON)": what the API answers (`Service.predict`): parse, encode, the
  numpy network, per-position confidences, margins and runners-up.
- "every view (the page)": what the page computes for one question: the
  /predict result, its verdict, encoding and positions HTML, the attribution
  grid (about 60 extra network passes) and the recurrent states with their
  heatmaps for one step (the Inside tab).
- "model.predict (baseline)": what a Keras user writes: encode, `model.predict`,
  argmax, decode (no explanation at all).
Single requests give p50/p99; throughput is questions/s at batches of 1, 32 and 500.
"""

from __future__ import annotations

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
    meta = header("Inference latency: the app's handlers vs model.predict")

    import keras

    from model.codec import answer_texts, answer_value, encode_questions, one_hot
    from model.network import greedy_probabilities
    from model.questions import concat, parse_question, sample_questions
    from model.serving import load_catalogue
    from web import inside, one_sum
    from web.service import Service

    service = Service(load_catalogue(None, None, [str(args.model)]))
    name = (
        next(n for n in service.names() if n == args.model.name)
        if args.model.name in service.names()
        else service.default
    )
    served = service.served(name)
    task = served.task
    keras_model = keras.saving.load_model(args.model, compile=False)
    print(f"Model: {served.description}\n", flush=True)

    def api(questions: list[str]) -> list:
        return service.predict_many(questions, [name] * len(questions))

    def page(questions: list[str]) -> list:
        out = []
        for q in questions:
            result = service.predict(q, name)
            html = [
                one_sum.verdict_html(result),
                one_sum.encoding_html(result, task),
                one_sum.positions_html(result),
                inside.depends_html(service.attribution(q, name)),
            ]
            _, traced, traces = service.trace(q, name)
            html.append(
                inside.states_html(
                    traces,
                    served.unit_orders,
                    traced["network_input"],
                    traced["answer_text"],
                    0,
                    [],
                    traced["attention"],
                )
            )
            html.append(
                inside.step_text(
                    traces,
                    traced["network_input"],
                    traced["answer_text"],
                    [p["confidence"] for p in traced["positions"]],
                    0,
                    name,
                    traced["attention"],
                )
            )
            out.append(html)
        return out

    def plain(questions: list[str]) -> list:
        q = concat([parse_question(text, task) for text in questions])
        x = one_hot(encode_questions(q, task), task)
        if served.stored.net.decoder == "attention":  # fed its own last character: one call per answer step
            probs = greedy_probabilities(keras_model, x, task)
        else:
            probs = keras_model.predict(x, verbose=0, batch_size=max(32, len(questions)))
        return [answer_value(t) for t in answer_texts(probs.argmax(-1), task)]

    questions = sample_questions(task, max(n_requests, 500), np.random.default_rng(0)).texts()
    paths = {"/predict (JSON)": api, "every view (the page)": page, "model.predict (baseline)": plain}
    for fn in paths.values():  # warm up: first calls build caches and Keras' predict function
        for size in (1, 32):
            fn(questions[:size])

    rows, p50 = [], {}
    for label, fn in paths.items():
        latencies = []
        for q in questions[:n_requests]:
            started = time.perf_counter()
            fn([q])
            latencies.append((time.perf_counter() - started) * 1000)
        p50[label] = percentile(latencies, 50)
        row = {"path": label, "requests": n_requests, "p50 ms": p50[label], "p99 ms": percentile(latencies, 99)}
        for size in (1, 32, 500):
            if label == "every view (the page)" and size > 1:
                row[f"q/s batch {size}"] = None  # the page explains one question at a time
                continue
            batch, calls, started = questions[:size], 0, time.perf_counter()
            while calls < 3 or time.perf_counter() - started < seconds:
                fn(batch)
                calls += 1
            row[f"q/s batch {size}"] = size * calls / (time.perf_counter() - started)
        rows.append(row)
        print(f"  {label}: p50 {fmt(p50[label])} ms", flush=True)

    ratio = p50["model.predict (baseline)"] / p50["/predict (JSON)"]
    summary = (
        f"/predict p50 is **{ratio:.0f}x** lower than model.predict's; the whole page for one question "
        f"(every view) has p50 **{fmt(p50['every view (the page)'])} ms** ({n_requests:,} requests each)."
    )
    finish(meta, rows, summary, args.out, ratio=ratio)


if __name__ == "__main__":
    main()
