"""Server memory under hostile requests: does any sequence of requests grow the app without bound?

Launches `python app.py` (from --repo, default this checkout, so an older
checkout can be measured the same way), then sends, on 127.0.0.1 only and a
bounded number of times:
  1. huge bodies: 100 MB POSTs to the predict endpoints;
  2. every function (private steps included, by fn_index) with a large payload,
     each from a fresh session id, through the queue and directly;
  3. many sessions, each leaving the largest result (/random_sums of 500) unread;
  4. file uploads;
and prints the server's resident memory (RSS) after each, the growth over idle,
and whether it still answers 535+61 correctly. The baseline is the idle RSS
measured in the same run.
"""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from common import QUIET_ENV, ROOT, finish, free_port, header, parser, rss_mib, stop, wait_until_up


def post(
    port: int, path: str, body: bytes, headers: dict | None = None, timeout: float = 60, source: str | None = None
) -> tuple[int, bytes]:
    """POST `body` from the client address `source` (default 127.0.0.1); (status, body), or (-1, why)."""
    source_address = (source, 0) if source else None
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout, source_address=source_address)
    try:
        conn.request("POST", path, body=body, headers={"content-type": "application/json", **(headers or {})})
        response = conn.getresponse()
        return response.status, response.read()
    except (OSError, http.client.HTTPException) as err:
        return -1, str(err).encode()
    finally:
        conn.close()


def huge_body(port: int, path: str, megabytes: int) -> int:
    """Stream a body of `megabytes` MB (chunked, no length up front); return the HTTP status."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    chunk = b'{"data": ["' + b"7" * (1 << 20)
    try:
        conn.putrequest("POST", path)
        conn.putheader("content-type", "application/json")
        conn.putheader("transfer-encoding", "chunked")
        conn.endheaders()
        for _ in range(megabytes):
            conn.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        conn.send(b"0\r\n\r\n")
        return conn.getresponse().status
    except (OSError, http.client.HTTPException):
        return -1  # the server closed the connection early: the body was refused
    finally:
        conn.close()


def functions(port: int) -> list[tuple[int, int]]:
    """(fn_index, number of inputs) for every function in the app's config, private ones included."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", "/config")
    config = json.loads(conn.getresponse().read())
    conn.close()
    return [(d.get("id", i), len(d.get("inputs", []))) for i, d in enumerate(config["dependencies"])]


def answers_535_61(port: int) -> bool:
    status, body = post(port, "/gradio_api/run/predict", json.dumps({"data": ["535+61", None]}).encode())
    try:
        return status == 200 and json.loads(body)["data"][0]["answer"] == 596
    except (ValueError, KeyError, TypeError, IndexError):
        return False


def main() -> int:
    p = parser(__doc__, model=False)
    p.add_argument("--repo", type=Path, default=ROOT, help="checkout whose app.py to attack (default: this one)")
    args = p.parse_args()
    sessions = 60 if args.quick else 600
    meta = header("Server memory under hostile requests")
    port = free_port()
    log_path = Path("/tmp") / f"memory_attack_{port}.log"
    with open(log_path, "w") as log:
        server = subprocess.Popen(
            [sys.executable, "app.py", "--port", str(port)],
            cwd=args.repo,
            env={**os.environ, **QUIET_ENV},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    rows: list[dict] = []

    def measure(attack: str, statuses: list[int]) -> None:
        rss = rss_mib(server.pid)
        rows.append(
            {
                "attack": attack,
                "server answered": f"HTTP {sorted(set(statuses))}" if statuses else "-",
                "RSS MiB": round(rss),
                "vs idle MiB": round(rss - idle),
                "still answers 535+61": answers_535_61(port),
            }
        )

    try:
        wait_until_up(server, f"http://127.0.0.1:{port}/", log_path)
        answers_535_61(port)
        time.sleep(2)
        idle = rss_mib(server.pid)
        measure("idle (after one answer)", [])

        measure(
            f"{2 if args.quick else 8} x 100 MB bodies",
            [huge_body(port, "/gradio_api/run/predict", 100) for _ in range(2 if args.quick else 8)],
        )

        payload = "9" * 90_000
        fns = functions(port)

        def every_function(i: int) -> int:
            fn_index, n_inputs = fns[i % len(fns)]
            data = [payload] + [None] * max(0, n_inputs - 1)
            body = {
                "data": data,
                "fn_index": fn_index,
                "session_hash": uuid.uuid4().hex,
                "event_data": None,
                "trigger_id": None,
            }
            route = "/gradio_api/queue/join" if i % 2 else "/gradio_api/run/predict"
            return post(port, route, json.dumps(body).encode())[0]

        with ThreadPoolExecutor(8) as pool:
            measure(
                f"{sessions} fresh sessions x 90 kB into every function",
                list(pool.map(every_function, range(sessions))),
            )

        random_fn = next((f for f, n in fns if n == 3), None)

        def unread(i: int) -> int:
            body = {
                "data": [500, str(i), None],
                "fn_index": random_fn,
                "session_hash": f"s{i % (sessions // 2)}",
                "event_data": None,
                "trigger_id": None,
            }
            return post(port, "/gradio_api/queue/join", json.dumps(body).encode())[0]

        with ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(unread, range(sessions * 2)))
        time.sleep(5)
        measure(f"{sessions * 2} /random_sums(500) results left unread", statuses)

        upload = (
            b'--x\r\nContent-Disposition: form-data; name="files"; filename="a.bin"\r\n\r\n'
            + b"0" * (20 << 20)
            + b"\r\n--x--\r\n"
        )
        measure(
            "5 x 20 MB uploads",
            [
                post(port, "/gradio_api/upload", upload, {"content-type": "multipart/form-data; boundary=x"})[0]
                for _ in range(5)
            ],
        )
    finally:
        stop(server)
    growth = rows[-1]["vs idle MiB"]
    finish(
        meta,
        rows,
        f"Growth over idle after every attack: **{growth:+,} MiB** (idle {rows[0]['RSS MiB']} MiB, same run).",
        args.out,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
