"""The launched app under N concurrent users: requests/s, latency, errors, wrong answers, memory, CPU.

Measures the server, not the harness: the users are a lightweight asyncio
client (raw HTTP/1.1 over keep-alive sockets, no HTTP library) running in its
own process, and the table reports how much CPU that client and the server
each used, so a client-bound run shows itself. Two raw routes are measured:
`/gradio_api/run/predict` (one POST, the answer in the reply: what the README
documents) and `/gradio_api/call/predict` plus its event stream (Gradio's
queued REST form). `gradio_client` is reported too, labelled, at fewer users
(its threads share the same two cores). Every answer is checked against a+b.
The baseline is the same route at 1 user, same run.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

from common import (
    QUIET_ENV,
    ROOT,
    finish,
    free_port,
    header,
    loopback_source,
    parser,
    percentile,
    rss_mib,
    stop,
    wait_until_up,
)

ROUTES = {"run": "/gradio_api/run/predict", "call": "/gradio_api/call/predict"}


def children_cpu() -> float:
    """CPU time of this process's finished children (the client processes)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# The lightweight client (runs in its own process: `python bench/load.py --client ...`) -----------
async def read_reply(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """One HTTP/1.1 response: status and body (Content-Length or chunked)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
    if "content-length" in headers:
        return status, await reader.readexactly(int(headers["content-length"]))
    body = b""
    while True:  # chunked (the event stream)
        size = int((await reader.readuntil(b"\r\n")).strip(), 16)
        if size == 0:
            await reader.readuntil(b"\r\n")
            return status, body
        body += await reader.readexactly(size + 2)


def request(method: str, path: str, body: bytes = b"") -> bytes:
    return (
        f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


async def one_user(port: int, route: str, seconds: float, seed: int, out: list) -> None:
    rng = random.Random(seed)
    # Each user is its own client address, as real users are: the server caps what one address may hold.
    source = (loopback_source(seed), 0)
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=source)
    stop_at = time.perf_counter() + seconds
    try:
        while time.perf_counter() < stop_at:
            a, b = rng.randint(0, 999), rng.randint(0, 999)
            payload = json.dumps({"data": [f"{a}+{b}"]}).encode()
            started = time.perf_counter()
            try:
                writer.write(request("POST", ROUTES[route], payload))
                status, body = await read_reply(reader)
                if route == "call" and status == 200:
                    event = json.loads(body)["event_id"]
                    writer.write(request("GET", f"{ROUTES[route]}/{event}"))
                    status, body = await read_reply(reader)
                    body = body.split(b"data: ", 1)[1].split(b"\n", 1)[0] if b"data: " in body else b"null"
                    answer = json.loads(body)[0]["answer"]
                else:
                    answer = json.loads(body)["data"][0]["answer"] if status == 200 else None
                out.append((time.perf_counter() - started, status == 200, answer == a + b))
            except (OSError, ValueError, KeyError, TypeError, IndexError, asyncio.IncompleteReadError):
                out.append((time.perf_counter() - started, False, False))
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=source)
    finally:
        writer.close()


def client_main(port: int, route: str, users: int, seconds: float) -> None:
    out: list = []

    async def everyone() -> None:
        await asyncio.gather(*(one_user(port, route, seconds, i, out) for i in range(users)))

    asyncio.run(everyone())
    print(json.dumps(out))


def gradio_client_users(url: str, users: int, seconds: float) -> list:
    from gradio_client import Client

    out: list = []
    clients = [Client(url, verbose=False) for _ in range(users)]

    def work(i: int) -> None:
        rng, stop_at = random.Random(i), time.perf_counter() + seconds
        while time.perf_counter() < stop_at:
            a, b = rng.randint(0, 999), rng.randint(0, 999)
            started = time.perf_counter()
            try:
                answer = clients[i].predict(f"{a}+{b}", api_name="/predict")["answer"]
                out.append((time.perf_counter() - started, True, answer == a + b))
            except Exception:
                out.append((time.perf_counter() - started, False, False))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(users)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for c in clients:
        c.close()
    return out


# The benchmark -----------------------------------------------------------------------------------
def measure(server: subprocess.Popen, port: int, url: str, how: str, users: int, seconds: float) -> dict:
    before_rss, before_cpu = rss_mib(server.pid), cpu_seconds(server.pid)
    started = time.perf_counter()
    if how == "gradio_client":
        client_cpu_start = time.process_time()
        out = gradio_client_users(url, users, seconds)
        client_cpu = time.process_time() - client_cpu_start
    else:  # the client in its own process; its CPU time comes back when it has been waited for
        before_children = children_cpu()
        done = subprocess.run(
            [sys.executable, __file__, "--client", str(port), how, str(users), str(seconds)],
            capture_output=True,
            text=True,
            check=True,
        )
        client_cpu = children_cpu() - before_children
        out = json.loads(done.stdout)
    wall = time.perf_counter() - started
    server_cpu = cpu_seconds(server.pid) - before_cpu
    latencies = [1000 * t for t, ok, _ in out if ok]
    label = {"run": "raw HTTP /run", "call": "raw HTTP /call + stream", "gradio_client": "gradio_client"}[how]
    return {
        "client": label,
        "users": users,
        "requests": len(out),
        "requests/s": round(len(out) / wall, 1),
        "p50 ms": round(percentile(latencies, 50), 1),
        "p99 ms": round(percentile(latencies, 99), 1),
        "errors": sum(not ok for _, ok, _ in out),
        "wrong answers": sum(ok and not right for _, ok, right in out),
        "server CPU %": round(100 * server_cpu / wall),
        "client CPU %": round(100 * client_cpu / wall),
        "RSS before MiB": round(before_rss),
        "RSS after MiB": round(rss_mib(server.pid)),
    }


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--client":
        client_main(int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), float(sys.argv[5]))
        return 0
    p = parser(__doc__, model=False)
    p.add_argument("--seconds", type=float, default=15.0, help="seconds per row (default 15)")
    args = p.parse_args()
    seconds = 4.0 if args.quick else args.seconds
    plan = (
        [("run", n) for n in (1, 8, 32, 128)]
        + [("call", n) for n in (1, 32, 128)]
        + [("gradio_client", n) for n in (1, 8, 32)]
    )
    if args.quick:
        plan = [("run", 1), ("run", 32), ("call", 32), ("gradio_client", 8)]
    if os.environ.get("LOAD_PLAN"):  # e.g. LOAD_PLAN=call:32,run:32 to measure a few rows while tuning
        plan = [(how, int(n)) for how, _, n in (item.partition(":") for item in os.environ["LOAD_PLAN"].split(","))]
    meta = header("Load: the launched app under concurrent users")
    port = free_port()
    log = Path("/tmp") / f"load_{port}.log"
    with open(log, "w") as out:
        server = subprocess.Popen(
            [sys.executable, "app.py", "--port", str(port)],
            cwd=ROOT,
            env={**os.environ, **QUIET_ENV},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    rows = []
    try:
        wait_until_up(server, url + "/", log)
        for how, users in plan:
            rows.append(measure(server, port, url, how, users, seconds))
            print(rows[-1], flush=True)
    finally:
        stop(server)
    base = {r["client"]: r["requests/s"] for r in rows if r["users"] == 1}
    for row in rows:
        row["vs 1 user"] = f"{row['requests/s'] / base[row['client']]:.2f}x" if base.get(row["client"]) else "-"
    at32 = next((r for r in rows if r["client"] == "raw HTTP /run" and r["users"] == 32), None)
    summary = (
        f"At 32 users (raw HTTP /run): **{at32['requests/s']} requests/s, p99 {at32['p99 ms']} ms**, "
        f"{at32['errors']} errors, {at32['wrong answers']} wrong answers."
        if at32
        else ""
    )
    finish(meta, rows, summary, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
