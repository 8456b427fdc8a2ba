"""The guard (web/guard.py) in front of a queue that stays full: per-session, per-client and training limits.

A second, tiny Gradio app with one queued function that waits until the test lets it finish,
behind the same guard, makes jobs wait for as long as a test needs, so the limits are checked
on a queue that really is full. Also: whom the guard takes for the client, and the one training
slot that a call around the queue still finds taken.
"""

from __future__ import annotations

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import gradio as gr
import pytest
from app_fixtures import free_port
from crowd_http import call, request
from starlette.middleware import Middleware

from web import guard
from web import queue_share as share
from web.gradio_internals import make_queue_safe

pytestmark = pytest.mark.slow  # a served Gradio app


# The guard in front of a queue that stays full for as long as a test needs ----------------------------------
@pytest.fixture
def held_queue():
    """A tiny Gradio app behind the guard: /slow and /train wait until `release`; yields (port, release).
    (Its /train shares the real training queue's id, so the guard treats it as a training.)"""
    release = threading.Event()

    def slow(text: str) -> str:
        release.wait(60)
        return text

    def train(text: str) -> str:
        release.wait(60)
        return text

    with gr.Blocks() as demo:
        gr.api(slow, api_name="slow", concurrency_limit=1)
        gr.api(train, api_name="train", concurrency_limit=1, concurrency_id=share.TRAINING_QUEUE)
    demo.queue(max_size=200, api_open=False)
    make_queue_safe(demo, 8)
    port = free_port()
    middleware = [Middleware(guard.RequestGuard, policy=guard.EndpointPolicy.of(demo), trust_forwarded=False)]
    demo.launch(
        server_name="127.0.0.1",
        server_port=port,
        prevent_thread_lock=True,
        quiet=True,
        app_kwargs={"middleware": middleware},
    )
    try:
        yield port, release
    finally:
        release.set()
        demo.close()


def join(source: str, port: int, session: str, fn_index: int = 0) -> tuple[int, bytes]:
    body = {"data": ["x"], "fn_index": fn_index, "session_hash": session, "event_data": None, "trigger_id": None}
    return request(source, port, "POST", "/gradio_api/queue/join", body)


def test_one_client_cannot_fill_the_queue(held_queue):
    """Waiting jobs are capped per session and per client address; others still get in."""
    port, release = held_queue
    session = uuid.uuid4().hex
    mine = [join("127.0.5.1", port, session)[0] for _ in range(share.MAX_JOBS_PER_SESSION + 2)]
    assert mine == [200] * share.MAX_JOBS_PER_SESSION + [429, 429]
    fresh = [join("127.0.5.1", port, uuid.uuid4().hex) for _ in range(share.MAX_JOBS_PER_CLIENT + 10)]
    accepted = share.MAX_JOBS_PER_CLIENT - share.MAX_JOBS_PER_SESSION
    assert [status for status, _ in fresh] == [200] * accepted + [429] * (len(fresh) - accepted)
    assert b"Your address already has" in fresh[-1][1]
    assert call("127.0.5.1", port, "slow", ["x"])[0] == 429  # /call/ joins count too
    assert all(join("127.0.5.2", port, uuid.uuid4().hex)[0] == 200 for _ in range(3))
    release.set()


def test_a_class_behind_one_address_is_not_refused(held_queue):
    """32 visitors calling back to back from one address (a class) are all let in: the queue counts
    visitors by session first, and an address's share is wide enough for a class."""
    port, release = held_queue
    sessions = [uuid.uuid4().hex for _ in range(32)]
    calls = sessions + sessions[:8]  # each visitor's call waiting, a quarter of them with the next one joining
    assert [join("127.0.14.1", port, session)[0] for session in calls] == [200] * len(calls)
    assert len(calls) <= guard.MAX_IN_FLIGHT_PER_CLIENT
    release.set()


def test_a_burst_of_joins_from_one_client_never_passes_its_cap(held_queue):
    """256 joins at once: joins the guard let through but Gradio has not queued yet count as waiting."""
    port, _ = held_queue
    with ThreadPoolExecutor(32) as pool:
        statuses = list(pool.map(lambda _: join("127.0.6.1", port, uuid.uuid4().hex)[0], range(256)))
    assert statuses.count(200) == share.MAX_JOBS_PER_CLIENT and statuses.count(429) == 256 - share.MAX_JOBS_PER_CLIENT


def test_waiting_trainings_are_capped_overall(held_queue):
    port, _ = held_queue
    first = join("127.0.7.1", port, uuid.uuid4().hex, fn_index=1)
    time.sleep(0.3)  # it leaves the queue for the one worker: it runs, it does not wait
    statuses = [first] + [join(f"127.0.7.{i + 2}", port, uuid.uuid4().hex, fn_index=1) for i in range(4)]
    told = 4 - share.MAX_WAITING_TRAININGS  # one runs, MAX_WAITING_TRAININGS wait, the rest are told now
    assert [s for s, _ in statuses] == [200] * (1 + share.MAX_WAITING_TRAININGS) + [503] * told
    assert b"please try again in a few minutes" in statuses[-1][1]


def test_one_address_holds_at_most_one_training(held_queue):
    """An address holds one training, running or waiting: one holding more would leave everyone else's Train a 503."""
    port, _ = held_queue
    running = join("127.0.8.1", port, uuid.uuid4().hex, fn_index=1)
    time.sleep(0.3)  # it leaves the queue for the one worker
    again = [join("127.0.8.1", port, uuid.uuid4().hex, fn_index=1) for _ in range(3)]  # fresh sessions, same address
    assert running[0] == 200 and [status for status, _ in again] == [429] * 3
    assert b"one at a time per address" in again[0][1]
    assert join("127.0.8.2", port, uuid.uuid4().hex, fn_index=1)[0] == 200  # another visitor still waits its turn


def test_the_client_is_the_peer_unless_a_proxy_is_trusted():
    scope = {"client": ("10.0.0.5", 4000), "headers": [(b"x-forwarded-for", b"6.6.6.6, 203.0.113.7")]}
    assert guard.client_of(scope, trust_forwarded=False) == "10.0.0.5"
    assert guard.client_of(scope, trust_forwarded=True) == "203.0.113.7"  # the entry the proxy itself added
    assert guard.client_of({"client": None, "headers": []}, trust_forwarded=True) == "unknown"


def test_a_training_never_starts_while_another_holds_the_slot(monkeypatch):
    """Whatever arrives: even a call that went around the queue finds the one training slot taken."""
    from web import trainer_process, training_run

    monkeypatch.setattr(trainer_process, "SLOT_WAIT", 0.2)
    spawned: list = []
    monkeypatch.setattr(trainer_process.subprocess, "Popen", lambda *a, **k: spawned.append(a))  # would start one
    assert trainer_process.TRAINER_POOL.slot.acquire(timeout=5)  # as a running training holds it
    try:
        events = list(training_run.train_events(None, "s", 1, ["+"], 2, True, "lstm", 8, 5))  # type: ignore[arg-type]
    finally:
        trainer_process.TRAINER_POOL.slot.release()
    assert events == [
        {"event": "error", "message": "Another training is running on this server; try again in a minute."}
    ]
    assert spawned == [] and not trainer_process.TRAINER_POOL.slot.locked()
