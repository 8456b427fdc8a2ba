"""Prediction latency while a visitor trains a model: one-sum p50/p99 with and without a live training.

Starts `python app.py`, then times single questions, one after another, from
one raw-HTTP client (the direct `/gradio_api/run/predict` route, a kept-alive
connection): first with the server idle, then while a "Train your own" run
(started through the streaming `/train` endpoint with gradio_client, the way
an API client does) trains a 2-digit model in its niced, single-threaded
subprocess. The client sends one request at a time, so it needs little CPU:
what is measured is the server. The training's own result (seconds, wrong
answers over all 10,000 questions, why it stopped) is reported too, with its
budget honesty: seconds from the request to the first epoch and to `done`
against the budget (the trainer is warm: TensorFlow is loaded before the
request; the budget counts from the first epoch, the final checks included).
`--heaviest` trains the largest allowed run instead (3 digits, 3 numbers,
`+-*`, LSTM(256), 90 s): the one whose final checks once held the slot 152 s.
"""

from __future__ import annotations

import http.client
import json
import tempfile
import threading
import time
from pathlib import Path

from common import finish, fmt, header, parser, percentile, running_app


def ask(conn: http.client.HTTPConnection, question: str) -> float:
    """One /run/predict round trip in ms; raise on a wrong answer or an error."""
    body = json.dumps({"data": [question]})
    started = time.perf_counter()
    conn.request("POST", "/gradio_api/run/predict", body, {"Content-Type": "application/json"})
    reply = conn.getresponse().read()
    elapsed = (time.perf_counter() - started) * 1000
    result = json.loads(reply)["data"][0]
    a, b = map(int, question.split("+"))
    if result.get("answer") != a + b:
        raise SystemExit(f"wrong or failed answer for {question}: {str(result)[:300]}")
    return elapsed


def measure(conn: http.client.HTTPConnection, n: int, seed: int, until=None) -> list[float]:
    """n questions in a row (or fewer, when `until()` turns true first)."""
    latencies = []
    for i in range(n):
        if until is not None and until():
            break
        a, b = (seed * 7919 + i * 104729) % 1000, (seed * 31 + i * 7) % 1000
        latencies.append(ask(conn, f"{a}+{b}"))
    return latencies


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--requests", type=int, help="questions per condition (default 2000; quick 200)")
    p.add_argument("--seconds", type=float, help="the training's time budget (default 60; quick 10)")
    p.add_argument("--heaviest", action="store_true", help="train the largest allowed run (90 s budget)")
    args = p.parse_args()
    n = args.requests or (200 if args.quick else 2000)
    budget = 90.0 if args.heaviest else args.seconds or (10.0 if args.quick else 60.0)
    # (digits, operators, terms, reverse, cell, units): what the measured training is, and its name
    task, what = (
        ((3, "+-*", 3, True, "lstm", 256), "3-digit '+-*' LSTM(256) on 3 numbers")
        if args.heaviest
        else (
            (2, "+", 2, True, "lstm", 64),
            "2-digit LSTM(64)",
        )
    )
    meta = header("One-sum latency with and without a live training")

    from gradio_client import Client

    log = Path(tempfile.mkdtemp(prefix="bench-busy-")) / "app.log"
    with running_app(args.model, log) as (url, _proc):
        # A first, short training starts the server's trainer (a page opening does that for a visitor); the
        # measured one then finds the next trainer warm, TensorFlow loaded, as a visitor's Train click does.
        list(Client(url, verbose=False).submit(1, "+", 2, True, "lstm", 8, 5, api_name="/train"))
        time.sleep(15)  # the next trainer loads TensorFlow (niced) before the idle latency is measured
        host, port = url.removeprefix("http://").split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=60)
        measure(conn, 50, 0)  # warm-up
        idle = measure(conn, n, 1)
        print(f"idle: p50 {fmt(percentile(idle, 50))} ms", flush=True)

        events: list[dict] = []
        started = threading.Event()
        done = threading.Event()

        def train() -> None:
            client = Client(url, verbose=False)
            t0 = time.perf_counter()
            for event in client.submit(*task, budget, api_name="/train"):
                event["wall"] = time.perf_counter() - t0
                events.append(event)
                if event.get("event") == "epoch":
                    started.set()  # the model is built and training: measure from here
            done.set()
            started.set()

        threading.Thread(target=train, daemon=True).start()
        started.wait(timeout=300)
        conn.close()  # idle longer than the server's keep-alive while the training started: a fresh connection
        conn = http.client.HTTPConnection(host, int(port), timeout=60)
        measure(conn, 5, 3)
        busy = measure(conn, n, 2, until=done.is_set)
        print(f"training: p50 {fmt(percentile(busy, 50))} ms over {len(busy)} requests", flush=True)
        done.wait(timeout=budget + 300)
        conn.close()

    last = events[-1] if events else {}
    if last.get("event") != "done":
        raise SystemExit(f"the training did not finish: {str(last)[:300]}")
    metrics = last["metrics"]
    epochs = [e for e in events if e.get("event") == "epoch"]
    first_epoch, to_done = epochs[0]["wall"] if epochs else float("nan"), last["wall"]
    rows = [
        {"condition": "idle", "requests": len(idle), "p50 ms": percentile(idle, 50), "p99 ms": percentile(idle, 99)},
        {
            "condition": "a training running",
            "requests": len(busy),
            "p50 ms": percentile(busy, 50),
            "p99 ms": percentile(busy, 99),
        },
    ]
    ratio = percentile(busy, 50) / percentile(idle, 50)
    summary = (
        f"While a {what} trained (stopped after {metrics['train_seconds']} s and {len(epochs)} epochs: "
        f"{last['reason']}; {metrics['headline']}), "
        f"one-sum p50 went from {fmt(percentile(idle, 50))} to {fmt(percentile(busy, 50))} ms ({ratio:.2f}x) and "
        f"p99 from {fmt(percentile(idle, 99))} to {fmt(percentile(busy, 99))} ms. From the request: first epoch "
        f"after {first_epoch:.1f} s, done after {to_done:.1f} s on a {budget:.0f} s budget (the clock showed "
        f"{max(e['seconds'] for e in epochs):.1f} s at most)."
    )
    finish(meta, rows, summary, args.out, ratio=ratio, training=metrics, first_epoch_s=first_epoch, done_s=to_done)


if __name__ == "__main__":
    main()
