"""The app's numpy on one BLAS thread against OpenBLAS's default pool: what does the limit cost?

The server runs every numpy call on one BLAS thread (app.one_blas_thread). This
times what the API answers, in one process and one run, with the BLAS pool at
1 thread and at the machine's default (threadpoolctl switches it between
rows): one question (/predict), and the heavy calls of 500 questions
(/random_sums, /predict_batch, /compare_random). Alone, and with 4 threads
asking at once (as concurrent visitors do). Ratio: one thread's time over the
default pool's (below 1: one thread is faster).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from common import finish, header, parser, percentile
from threadpoolctl import threadpool_info, threadpool_limits

CONCURRENT = 4


def timed(call: Callable[[], object], repeats: int, threads: int) -> float:
    """Median seconds of one call, with `threads` callers at once."""
    call()  # warm
    seconds: list[float] = []

    def one(_: int) -> None:
        started = time.perf_counter()
        call()
        seconds.append(time.perf_counter() - started)

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(one, range(repeats * threads)))
    return percentile(seconds, 50)


def main() -> None:
    p = parser(__doc__, model=False)
    p.add_argument("--repeats", type=int, default=20, help="calls per cell and caller (default 20; quick 3)")
    args = p.parse_args()
    repeats = 3 if args.quick else args.repeats
    meta = header("numpy on one BLAS thread vs the default pool")

    from model.serving import load_catalogue
    from web.service import Service

    service = Service(load_catalogue(None, None, []))
    default_threads = max(i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas")
    calls: dict[str, Callable[[], object]] = {
        "/predict add3": lambda: service.predict("535+61", "add3"),
        "/predict mixed3": lambda: service.predict("12*34-56", "mixed3"),
        "/random_sums 500 mixed3": lambda: service.random_sums(500, 1, "mixed3"),
        "/predict_batch 500 add5": lambda: service.predict_batch("\n".join(["12345+67890"] * 500), "add5"),
        "/compare_random 500 add3 vs add3-attention": lambda: service.compare_random(500, 1, "add3", "add3-attention"),
    }
    rows: list[dict[str, Any]] = []
    for name, call in calls.items():
        for callers in (1, CONCURRENT):
            ms = {}
            for blas in (1, default_threads):
                with threadpool_limits(limits=blas, user_api="blas"):
                    ms[blas] = 1000 * timed(call, repeats, callers)
            rows.append(
                {
                    "call": name,
                    "callers at once": callers,
                    "1 BLAS thread ms": round(ms[1], 2),
                    f"{default_threads} BLAS threads ms": round(ms[default_threads], 2),
                    "ratio": f"{ms[1] / ms[default_threads]:.2f}x",
                }
            )
    worst = max(rows, key=lambda r: float(r["ratio"][:-1]))
    summary = (
        f"Largest ratio (one thread's time over {default_threads} threads'): {worst['ratio']} for {worst['call']} "
        f"with {worst['callers at once']} caller(s) at once."
    )
    finish(meta, rows, summary, args.out)


if __name__ == "__main__":
    main()
