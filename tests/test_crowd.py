"""A crowd, or one client with many sockets, cannot lock the server or stop its queue.

The launched app (`python app.py`, in a subprocess) is visited by many clients
over raw sockets. Distinct clients are distinct loopback source addresses
(127.0.0.2, 127.0.0.3, … are all loopback on Linux), which is how the guard
(web/guard.py) tells clients apart; the app and the raw HTTP are in tests/crowd_http.py.
The per-session, per-client and training limits on a queue that really is full are
tests/test_crowd_guard.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack

import pytest
from crowd_http import (  # noqa: F401  (the fixture server)
    answers,
    call,
    connect,
    open_page,
    request,
    server_fixture,
    slow_body,
    status_of,
    training_processes,
)

from web import guard

pytestmark = pytest.mark.slow  # the app, served

PAGES, ACTIVE = 300, 32


# The launched app ---------------------------------------------------------------------------------------
def test_300_open_pages_and_32_active_users_all_get_answers(server):
    """An open page's heartbeat stream does not count against the 256 open requests, so GET / and
    /run/predict still answer everyone while 300 pages are open."""
    port, *_ = server
    with ExitStack() as stack:
        statuses = []
        for i in range(PAGES):
            sock, status = open_page(f"127.0.0.{2 + i // 15}", port)  # 20 addresses, 15 pages each
            stack.callback(sock.close)
            statuses.append(status)
        assert statuses == [200] * PAGES
        with ThreadPoolExecutor(ACTIVE) as pool:
            visits = list(pool.map(lambda i: answers(f"127.0.1.{i + 1}", port), range(ACTIVE)))
        assert visits == [True] * ACTIVE


def test_one_client_holding_many_sockets_is_limited_alone(server):
    """One address's streams and trickled bodies are capped; everyone else is answered; a body that
    does not arrive in time gets 408 and frees its place."""
    port, *_ = server
    greedy, other = "127.0.3.1", "127.0.3.2"
    with ExitStack() as stack:
        pages = []
        for _ in range(guard.MAX_STREAMS_PER_CLIENT + 100):
            sock, status = open_page(greedy, port)
            stack.callback(sock.close)
            pages.append(status)
        assert pages.count(200) == guard.MAX_STREAMS_PER_CLIENT and set(pages) == {200, 429}
        started = time.monotonic()
        trickles = [slow_body(greedy, port) for _ in range(guard.MAX_READING_PER_CLIENT)]
        for sock in trickles:
            stack.callback(sock.close)
        time.sleep(0.5)  # let the server take each one up
        status, body = request(greedy, port, "POST", "/gradio_api/run/predict", {"data": ["1+1"]})
        assert status == 429 and b"still sending their bodies" in body
        assert answers(other, port) and open_page(other, port)[1] == 200
        trickles[0].settimeout(guard.BODY_DEADLINE_S + 10)
        assert status_of(trickles[0]) == 408 and time.monotonic() - started < guard.BODY_DEADLINE_S + 5
    assert answers(greedy, port)  # its sockets closed, the greedy client is served like anyone
    deadline = time.monotonic() + 10
    while (page := open_page(greedy, port))[1] != 200 and time.monotonic() < deadline:
        page[0].close()
        time.sleep(0.2)  # the server notices the closed streams within moments
    assert page[1] == 200
    page[0].close()


def test_a_handful_of_addresses_holding_mcp_streams_lock_nobody_out(server):
    """GET /gradio_api/mcp/ with Accept: text/event-stream stays open; counted as an ordinary request, two
    addresses holding 128 each would fill the 256 open requests and every page would get 503."""
    port, *_ = server
    assert 5 * guard.MAX_IN_FLIGHT_PER_CLIENT < guard.MAX_IN_FLIGHT  # no handful of addresses fills the server
    head = "GET /gradio_api/mcp/ HTTP/1.1\r\nHost: app\r\nAccept: application/json, text/event-stream\r\n\r\n"
    with ExitStack() as stack:
        held = []
        for source in ("127.0.9.1", "127.0.9.2"):
            for _ in range(128):
                sock = connect(source, port)
                stack.callback(sock.close)
                sock.sendall(head.encode())
                held.append(status_of(sock))
        assert held.count(200) == 2 * guard.MAX_STREAMS_PER_CLIENT and set(held) <= {200, 429}
        assert all(answers(f"127.0.9.{3 + i}", port) for i in range(3))


WAVES = 3
# The attackers, in a process of their own (as they are): each wave 4 addresses x 64 compare_random(500) calls
# at once, each hanging up after 2 s.
ABANDONING = """
import json, socket, sys, time
from concurrent.futures import ThreadPoolExecutor
port, waves = int(sys.argv[1]), int(sys.argv[2])
body = json.dumps({"data": [500, None, "add3", "add3-attention"]}).encode()
head = ("POST /gradio_api/run/compare_random HTTP/1.1\\r\\nHost: app\\r\\nContent-Type: application/json\\r\\n"
        f"Content-Length: {len(body)}\\r\\n\\r\\n").encode()
def call(i):
    sock = socket.socket()
    sock.bind((f"127.0.10.{1 + i % 4}", 0))
    sock.connect(("127.0.0.1", port))
    sock.sendall(head + body)
    time.sleep(2)
    sock.close()
with ThreadPoolExecutor(256) as pool:
    for _ in range(waves):
        list(pool.map(call, range(256)))
"""


def test_calls_whose_clients_hang_up_are_dropped_and_light_calls_stay_fast(server):
    """Waves of 4 addresses x 64 compare_random(500) calls that hang up after 2 s: heavy calls share a small
    pool of their own, an address's excess ones are refused before Gradio reads them, and a call whose client
    has gone is dropped before it runs, so /predict stays fast and the server answers once they have gone."""
    port, *_ = server
    attack = subprocess.Popen([sys.executable, "-c", ABANDONING, str(port), str(WAVES)])
    latencies: list[float] = []
    while attack.poll() is None:
        started = time.monotonic()
        status, answer = request("127.0.10.9", port, "POST", "/gradio_api/run/predict", {"data": ["535+61"]})
        assert status == 200 and b'"answer":596' in answer.replace(b" ", b"")
        latencies.append(time.monotonic() - started)
    gone = time.monotonic()
    assert attack.returncode == 0
    latencies.sort()
    p99 = latencies[int(0.99 * (len(latencies) - 1))]
    assert len(latencies) >= 20 and p99 <= 1.0, f"/predict p99 {p99:.2f}s during the attack ({len(latencies)} calls)"
    while True:
        started = time.monotonic()
        assert answers("127.0.10.10", port)
        if time.monotonic() - started <= 0.5:
            break
        assert time.monotonic() - gone < 10, "the server still answered slowly 10 s after the attackers left"


def test_queued_functions_cannot_be_called_directly(server):
    """A direct call (/gradio_api/run/train) would skip the queue and its one-at-a-time limit: it is refused."""
    port, proc, _ = server
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/config", timeout=30) as response:
        config = json.loads(response.read())
    queued = [d["id"] for d in config["dependencies"] if d.get("queue") is not False and d.get("api_name") != "predict"]
    assert queued, "the app has queued functions (the Train button, /train)"
    settings = [1, "+", 2, True, "lstm", 8, 5]
    attempts = [("/gradio_api/run/train", {"data": settings}), ("/gradio_api/api/train", {"data": settings})]
    page = [1, ["+"], 2, True, "lstm", 8, 5, "repeat", "msb"]  # as the Train button sends them (the guard checks)
    attempts += [("/gradio_api/run/predict", {"data": page, "fn_index": i}) for i in queued]
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda a: request("127.0.0.1", port, "POST", a[0], a[1]), attempts * 2))
    for status, body in results:
        assert status == 404 and b"does not accept direct HTTP POST requests" in body
    assert training_processes(proc) == 0


def test_trainings_wait_a_few_minutes_at_most_and_one_runs_at_a_time(server):
    """Trainings cannot fill the whole queue: one that would wait long is told so at once; others get in."""
    port, proc, _ = server
    running = call("127.0.4.1", port, "train", [1, "+", 2, True, "lstm", 8, 5])
    assert running[0] == 200
    time.sleep(0.5)  # it leaves the queue for the one training slot
    # Settings outside the caps still wait their turn in the queue (then fail at once, costing nothing).
    waiting = [call(f"127.0.4.{2 + i}", port, "train", [9, "+", 2, True, "lstm", 8, 5]) for i in range(2)]
    assert [status for status, _ in waiting] == [200, 200]
    status, body = call("127.0.4.9", port, "train", [1, "+", 2, True, "lstm", 8, 5])
    assert status == 503 and b"trainings are already waiting" in body and b"few minutes" in body
    status, body = call("127.0.4.9", port, "predict", ["535+61"])
    assert status == 200, body  # the queue itself still takes everyone else's calls
    event = json.loads(running[1])["event_id"]
    peak = 0
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/gradio_api/call/train/{event}", timeout=120) as stream:
        for line in stream:
            peak = max(peak, training_processes(proc))
            if line.startswith(b"event: complete") or line.startswith(b"event: error"):
                break
    assert peak <= 1
