"""Load: the launched app under N concurrent gradio_client users (N = 1, 8, 32).

Starts `python app.py --host 127.0.0.1 --port FREE` (localhost only) and, for each
N, runs N threads, each with its own gradio_client.Client, sending random valid
sums to /predict back to back for a fixed time. Reports requests/s, p50/p99
latency, errors (must be 0: an exception or a non-null "error" field), answers
returned for the wrong question (must be 0), answers equal to a+b (depends on the
model), and the server's resident memory (VmRSS) before and after each level.
Baseline: throughput at N=1; ratio = throughput at N / at N=1 (>1 means the
batched /predict shares model calls between callers). Note that on a small
machine the clients compete with the server for the same cores.
"""

from __future__ import annotations

import random
import sys
import tempfile
import threading
import time
from pathlib import Path

from common import finish, header, parser, percentile, rss_mib, running_app


def worker(client, deadline: float, seed: int, out: dict) -> None:
    rng = random.Random(seed)
    while time.monotonic() < deadline:
        a, b = rng.randint(0, 999), rng.randint(0, 999)
        question = f"{a}+{b}"
        started = time.perf_counter()
        try:
            result = client.predict(question, api_name="/predict")
        except Exception as err:  # a failed request is counted, never fatal to the run
            out["errors"].append(f"{type(err).__name__}: {err}"[:200])
            continue
        out["latency"].append(time.perf_counter() - started)
        if not isinstance(result, dict) or result.get("error") is not None:
            out["errors"].append(str(result)[:200])
        elif result["question"] != question or result["true_answer"] != a + b:
            out["mixed_up"] += 1
        elif result["answer"] == a + b:
            out["correct"] += 1


def level(url: str, pid: int, n: int, seconds: float) -> dict:
    from gradio_client import Client

    clients = [Client(url, verbose=False) for _ in range(n)]
    for c in clients:  # one warm request each, outside the timed window
        c.predict("1+1", api_name="/predict")
    rss_before = rss_mib(pid)
    out = {"latency": [], "errors": [], "mixed_up": 0, "correct": 0}
    deadline = time.monotonic() + seconds
    threads = [threading.Thread(target=worker, args=(c, deadline, i, out)) for i, c in enumerate(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    for c in clients:
        c.close()
    lat = out["latency"]
    done = len(lat)
    if out["errors"]:
        print(f"  N={n}: {len(out['errors'])} errors, e.g. {out['errors'][0]}", file=sys.stderr)
    return {"clients": n, "requests": done, "requests/s": done / elapsed,
            "p50 ms": percentile(lat, 50) * 1000, "p99 ms": percentile(lat, 99) * 1000,
            "errors": len(out["errors"]), "wrong question": out["mixed_up"],
            "answer == a+b": f"{out['correct'] / done:.1%}" if done else "-",
            "RSS before MiB": rss_before, "RSS after MiB": rss_mib(pid)}


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--clients", help="comma-separated concurrency levels (default 1,8,32)")
    p.add_argument("--seconds", type=float, help="time per level (default 15; quick 3)")
    args = p.parse_args()
    levels = [int(n) for n in (args.clients or "1,8,32").split(",")]
    seconds = args.seconds or (3.0 if args.quick else 15.0)
    meta = header(f"Load: launched app, {'/'.join(map(str, levels))} concurrent clients, {seconds:g} s each")

    log_path = Path(tempfile.mkdtemp(prefix="bench-load-")) / "app.log"
    with running_app(args.model, log_path) as (url, proc):
        print(f"App at {url} (pid {proc.pid}, log {log_path}); RSS at start {rss_mib(proc.pid):.0f} MiB\n", flush=True)
        rows = []
        for n in levels:
            rows.append(level(url, proc.pid, n, seconds))
            print(f"  N={n}: {rows[-1]['requests/s']:.1f} requests/s", flush=True)
        crashed = proc.poll() is not None
    base = rows[0]["requests/s"]
    for row in rows:
        row["vs N=1"] = f"{row['requests/s'] / base:.2f}x" if base else "n/a"
    growth = rows[-1]["RSS after MiB"] - rows[0]["RSS before MiB"]
    errors = sum(r["errors"] + r["wrong question"] for r in rows)
    summary = (f"Throughput at N={levels[-1]} vs N={levels[0]}: **{rows[-1]['vs N=1']}**. "
               f"Failed or mixed-up requests: {errors}. Server RSS {rows[0]['RSS before MiB']:.0f} -> "
               f"{rows[-1]['RSS after MiB']:.0f} MiB ({growth:+.0f} MiB over the run).")
    if "Traceback" in log_path.read_text() or crashed:
        summary += f"\nWARNING: the server logged a traceback or died; see {log_path}."
    finish(meta, rows, summary, args.out)
    if errors:
        sys.exit(1)


if __name__ == "__main__":
    main()
