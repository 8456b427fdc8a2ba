"""Crowds and greedy clients against the launched app: do the active users still get answers, and fast?

Launches `python app.py` and measures, in one run, on 127.0.0.1 only:
  1. 32 active users alone: each its own loopback address and kept-alive
     connection, asking /gradio_api/run/predict in a loop: requests/s, p50, p99,
     errors (every answer is checked against a+b);
  2. the same 32 users while 300 pages are open (300 heartbeat streams, as open
     browser tabs hold, from 20 addresses);
  3. the same 32 users while one client holds 500 sockets (heartbeat streams
     and trickled bodies from one address): what that client got, and what the
     others see;
  4. the same 32 users while 4 addresses send 64 compare_random(500) calls
     each and hang up after 2 s, wave after wave; then how long until the
     server answers within 0.5 s again once they have gone;
  5. a hostile soak (--soak seconds): huge and trickled bodies, deeply nested
     JSON, fresh sessions feeding 90 kB into every function, unread results,
     bursts of streams, all at once from several threads: the server's RSS idle,
     peak (sampled every 0.5 s) and after (10 s later), and whether it still
     answers 535+61.
Rows 2 to 4 are compared with row 1 (same run, same users).
"""

from __future__ import annotations

import http.client
import json
import random
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

from common import finish, header, loopback_source, parser, percentile, rss_mib, running_app
from memory_attack import answers_535_61, functions, huge_body, post

USERS, PAGES, GREEDY_SOCKETS = 32, 300, 500


# The active users ---------------------------------------------------------------------------------------
def active_users(port: int, seconds: float) -> dict:
    """USERS users, each on its own address, asking sums for `seconds`: requests/s, p50/p99 ms, errors."""
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()

    def user(i: int) -> None:
        rng = random.Random(i)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30, source_address=(loopback_source(i), 0))
        stop_at = time.perf_counter() + seconds
        while time.perf_counter() < stop_at:
            a, b = rng.randint(0, 999), rng.randint(0, 999)
            started = time.perf_counter()
            try:
                conn.request(
                    "POST",
                    "/gradio_api/run/predict",
                    json.dumps({"data": [f"{a}+{b}"]}),
                    {"content-type": "application/json"},
                )
                response = conn.getresponse()
                good = response.status == 200 and json.loads(response.read())["data"][0]["answer"] == a + b
            except (OSError, http.client.HTTPException, ValueError, KeyError, TypeError):
                good = False
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30, source_address=(loopback_source(i), 0))
            with lock:
                if good:
                    latencies.append(time.perf_counter() - started)
                else:
                    errors[0] += 1
        conn.close()

    started = time.perf_counter()
    threads = [threading.Thread(target=user, args=(i,)) for i in range(USERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    return {
        "requests/s": round(len(latencies) / elapsed, 1),
        "p50 ms": round(1000 * percentile(latencies, 50), 1),
        "p99 ms": round(1000 * percentile(latencies, 99), 1),
        "errors": errors[0],
    }


# Open pages, greedy sockets ---------------------------------------------------------------------------------
def connect(source: str, port: int) -> socket.socket:
    sock = socket.socket()
    sock.bind((source, 0))
    sock.settimeout(30)
    sock.connect(("127.0.0.1", port))
    return sock


def status_of(sock: socket.socket) -> int:
    try:
        head = sock.recv(64)
        return int(head.split(b" ", 2)[1]) if head else -1
    except (OSError, ValueError, IndexError):
        return -1


def open_page(source: str, port: int, stack: ExitStack) -> int:
    """A heartbeat stream, as an open page holds, left open until `stack` closes; returns its status."""
    sock = connect(source, port)
    stack.callback(sock.close)
    sock.sendall(f"GET /gradio_api/heartbeat/{uuid.uuid4().hex} HTTP/1.1\r\nHost: app\r\n\r\n".encode())
    return status_of(sock)


def trickle(source: str, port: int, stack: ExitStack) -> socket.socket:
    """A POST promising 100 bytes that sends one."""
    sock = connect(source, port)
    stack.callback(sock.close)
    sock.sendall(b"POST /gradio_api/run/predict HTTP/1.1\r\nHost: app\r\nContent-Length: 100\r\n\r\n{")
    return sock


def greedy_client(port: int, stack: ExitStack) -> str:
    """One address opens GREEDY_SOCKETS sockets: streams, then trickled bodies. Says what it got."""
    source = "127.0.9.1"
    streams = [open_page(source, port, stack) for _ in range(GREEDY_SOCKETS - 40)]
    trickles = [trickle(source, port, stack) for _ in range(40)]
    time.sleep(1)
    refused_now = 0
    for sock in trickles:
        sock.settimeout(0.05)
        refused_now += status_of(sock) == 429
    return (
        f"streams {streams.count(200)} open, {streams.count(429)} refused (429); "
        f"trickled bodies {40 - refused_now} held, {refused_now} refused at once"
    )


# Abandoned heavy calls --------------------------------------------------------------------------------------
ABANDONING_ADDRESSES, ABANDONED_CALLS, HANG_UP_S = 4, 64, 2.0


def abandoned_heavy_calls(port: int, stop: threading.Event) -> None:
    """ABANDONING_ADDRESSES addresses x ABANDONED_CALLS compare_random(500) calls that hang up after HANG_UP_S,
    again and again until `stop`."""
    body = json.dumps({"data": [500, None, "add3", "add3-attention"]}).encode()
    head = (
        "POST /gradio_api/run/compare_random HTTP/1.1\r\nHost: app\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()

    def call(i: int) -> None:
        try:
            sock = connect(f"127.0.10.{1 + i % ABANDONING_ADDRESSES}", port)
            sock.sendall(head + body)
            time.sleep(HANG_UP_S)
            sock.close()
        except OSError:
            pass

    with ThreadPoolExecutor(ABANDONING_ADDRESSES * ABANDONED_CALLS) as pool:
        while not stop.is_set():
            list(pool.map(call, range(ABANDONING_ADDRESSES * ABANDONED_CALLS)))


def recovery_seconds(port: int, limit: float = 120.0) -> float:
    """Seconds until one /predict is answered within 0.5 s (the attackers have just gone)."""
    started = time.monotonic()
    while time.monotonic() - started < limit:
        asked = time.monotonic()
        status, _ = post(port, "/gradio_api/run/predict", b'{"data": ["535+61"]}', timeout=limit)
        if status == 200 and time.monotonic() - asked <= 0.5:
            break
    return round(time.monotonic() - started, 1)


# The hostile soak -------------------------------------------------------------------------------------------
def soak(port: int, server_pid: int, seconds: float) -> dict:
    """Mixed hostile traffic from 6 threads for `seconds`; RSS idle, peak and 10 s after."""
    fns = functions(port)
    random_fn = next((f for f, n in fns if n == 3), None)
    payload = "9" * 90_000

    def every_function(i: int) -> None:
        fn_index, n_inputs = fns[i % len(fns)]
        body = {"data": [payload] + [None] * max(0, n_inputs - 1), "fn_index": fn_index,
                "session_hash": uuid.uuid4().hex, "event_data": None, "trigger_id": None}  # fmt: skip
        post(port, "/gradio_api/queue/join" if i % 2 else "/gradio_api/run/predict", json.dumps(body).encode())

    def unread(i: int) -> None:
        body = {"data": [500, str(i), None], "fn_index": random_fn, "session_hash": f"s{i % 300}",
                "event_data": None, "trigger_id": None}  # fmt: skip
        post(port, "/gradio_api/queue/join", json.dumps(body).encode())

    def streams(i: int) -> None:
        with ExitStack() as stack:
            for _ in range(50):
                open_page(loopback_source(i % 40), port, stack)

    def trickled(i: int) -> None:
        with ExitStack() as stack:
            trickle(loopback_source(i % 40), port, stack)
            time.sleep(2)

    attacks: list[Callable[[int], object]] = [
        lambda i: huge_body(port, "/gradio_api/run/predict", 5),
        lambda i: post(port, "/gradio_api/run/predict", b"[" * 90_000),
        every_function,
        unread,
        streams,
        trickled,
    ]
    idle = rss_mib(server_pid)
    peak = idle
    stop_at = time.monotonic() + seconds
    counter = iter(range(10**9))
    lock = threading.Lock()

    def worker(_: int) -> None:
        while time.monotonic() < stop_at:
            with lock:
                i = next(counter)
            attacks[i % len(attacks)](i)

    with ThreadPoolExecutor(6) as pool:
        running = [pool.submit(worker, w) for w in range(6)]
        while not all(f.done() for f in running):
            peak = max(peak, rss_mib(server_pid))
            time.sleep(0.5)
    time.sleep(10)
    after = rss_mib(server_pid)
    return {"idle": round(idle), "peak": round(peak), "after": round(after), "answers": answers_535_61(port)}


def main() -> int:
    p = parser(__doc__, model=False)
    p.add_argument("--seconds", type=float, default=10.0, help="seconds per active-users row (default 10)")
    p.add_argument("--soak", type=float, default=300.0, help="seconds of hostile soak (default 300; 0 skips it)")
    p.add_argument(
        "--abandoned-only", action="store_true", help="only rows 1 and 4: the users alone, then with abandoned calls"
    )
    args = p.parse_args()
    seconds, soak_seconds = (3.0, 20.0) if args.quick else (args.seconds, args.soak)
    meta = header("Crowds and greedy clients against the launched app")
    rows: list[dict] = []
    log = Path("/tmp") / f"crowd_{uuid.uuid4().hex[:8]}.log"
    with running_app(None, log) as (url, server):
        port = int(url.rsplit(":", 1)[1])
        answers_535_61(port)
        rows.append({"situation": f"{USERS} active users alone", **active_users(port, seconds), "note": "-"})
        if not args.abandoned_only:
            with ExitStack() as stack:
                pages = [open_page(f"127.0.2.{2 + i // 15}", port, stack) for i in range(PAGES)]
                note = f"{pages.count(200)} of {PAGES} pages' streams open"
                situation = f"{USERS} users + {PAGES} open pages"
                rows.append({"situation": situation, **active_users(port, seconds), "note": note})
            with ExitStack() as stack:
                note = greedy_client(port, stack)
                situation = f"{USERS} users + one client holding {GREEDY_SOCKETS} sockets"
                rows.append({"situation": situation, **active_users(port, seconds), "note": note})
        stop = threading.Event()
        attack = threading.Thread(target=abandoned_heavy_calls, args=(port, stop))
        attack.start()
        time.sleep(HANG_UP_S)  # the first wave is in
        under_attack = active_users(port, seconds)
        stop.set()
        attack.join()
        note = f"answered within 0.5 s again {recovery_seconds(port)} s after the attackers left"
        situation = (
            f"{USERS} users + {ABANDONING_ADDRESSES} addresses x {ABANDONED_CALLS} compare_random(500) "
            f"hanging up after {HANG_UP_S:.0f} s"
        )
        rows.append({"situation": situation, **under_attack, "note": note})
        memory = soak(port, server.pid, soak_seconds) if soak_seconds > 0 else None
    base = rows[0]
    for row in rows:
        row["vs alone"] = f"{row['requests/s'] / base['requests/s']:.2f}x" if base["requests/s"] else "-"
    summary = f"Alone: {base['requests/s']} requests/s, p99 {base['p99 ms']} ms. "
    for row in rows[1:]:
        summary += (
            f"{row['situation']}: {row['requests/s']} requests/s, p99 {row['p99 ms']} ms, {row['errors']} errors"
            + (f" ({row['note']})" if row["note"] != "-" else "")
            + ". "
        )
    if memory:
        summary += (
            f"\n\nHostile soak ({soak_seconds:.0f} s): RSS idle {memory['idle']} MiB, peak {memory['peak']} MiB "
            f"(**{memory['peak'] - memory['idle']:+} MiB**), after {memory['after']} MiB "
            f"({memory['after'] - memory['idle']:+} MiB); still answers 535+61: {memory['answers']}."
        )
    finish(meta, rows, summary, args.out, memory=memory)
    return 0


if __name__ == "__main__":
    sys.exit(main())
