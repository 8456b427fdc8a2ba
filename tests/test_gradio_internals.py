"""The Gradio internals the app relies on (web/gradio_internals.py): the version, the queue's safety, and
the two component patches (gr.HTML's postprocess, gr.Slider's preprocess).

The first test fails loudly on a Gradio the module was not written for: then
re-read gradio/queueing.py and gradio/routes.py and update the module. The
queue tests run a tiny real Gradio app in this process (one queued function
that waits until the test lets it finish) and drive more waiting sessions than
the parked-session table holds: the queue must keep answering.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor

import gradio as gr
import pytest
from app_fixtures import free_port
from gradio.queueing import EventQueue, Queue
from gradio.utils import LRUCache

from web import gradio_internals as gi

TABLE = 8  # parked sessions the tiny app keeps: far fewer than the sessions the tests make wait
WAITING = 20


def test_the_module_was_written_for_the_installed_gradio():
    assert gi.version_supported(), (
        f"web/gradio_internals.py was written for Gradio {gi.WRITTEN_FOR}.x, this is Gradio {gr.__version__}: "
        "re-read gradio/queueing.py and gradio/routes.py, check every internal it touches, then update WRITTEN_FOR"
    )
    assert not gi.version_supported("6.32.0") and not gi.version_supported("5.31.0")
    queue = Queue(False, 1, 1, 4, gr.Blocks())
    for name in ("pending_messages_per_session", "event_queue_per_concurrency_id", "active_jobs", "send_message"):
        assert hasattr(queue, name), f"Gradio's Queue has no {name} any more"
    assert isinstance(queue.pending_messages_per_session, LRUCache)
    assert {"queue", "concurrency_id"} <= vars(EventQueue("x", 1)).keys()
    assert gr.EventData(None, {"x": 1})._data == {"x": 1}
    # What the component patches assume: Gradio rebuilds a component from constructor_args, gr.HTML's own
    # postprocess takes text, and gr.Slider's own preprocess refuses a value out of range (why it is patched).
    html_postprocess = getattr(gr.HTML.postprocess, "__wrapped__", gr.HTML.postprocess)
    assert html_postprocess(gr.HTML(render=False), "<b>x</b>") == "<b>x</b>"
    slider_preprocess = getattr(gr.Slider.preprocess, "__wrapped__", gr.Slider.preprocess)
    slider = gr.Slider(1, 11, elem_classes=["marker"], render=False)
    assert slider.constructor_args["elem_classes"] == ["marker"]  # the mark survives a rebuild
    with pytest.raises(gr.Error):
        slider_preprocess(slider, 50)


def test_the_component_patches_sit_on_the_class_and_never_stack():
    gi.convert_html_values(lambda component, value: f"<i>{value}</i>" if isinstance(value, int) else value)
    gi.unchecked_sliders("let-through")
    gi.unchecked_sliders("let-through")  # installing again replaces, never wraps the patch itself
    assert gr.Slider.preprocess.__wrapped__.__qualname__ == "Slider.preprocess"
    assert gr.HTML.postprocess.__wrapped__.__qualname__ == "HTML.postprocess"
    plot = gr.HTML(render=False)
    rebuilt = type(plot)(**{**plot.constructor_args, "render": False})  # as Gradio rebuilds a session's copy
    assert plot.postprocess(7) == rebuilt.postprocess(7) == "<i>7</i>" and plot.postprocess("<b>x</b>") == "<b>x</b>"
    lenient = gr.Slider(1, 11, elem_classes=["let-through"], render=False)
    assert type(lenient)(**{**lenient.constructor_args, "render": False}).preprocess(50) == 50
    with pytest.raises(gr.Error):
        gr.Slider(1, 11, render=False).preprocess(50)  # a slider without the class is checked as before
    from web import controls, learning

    controls.install_patches()  # the app's own patches again, for the tests after this one
    learning.install_patches()


def test_call_bodies_are_read_and_rewritten_as_gradio_expects():
    body = {"data": ["535+61"], "fn_index": 3, "session_hash": None}
    assert gi.CallBody.of(body) == gi.CallBody(["535+61"], None, 3)
    assert gi.CallBody.of({"data": "x", "fn_index": True, "session_hash": 5}) == gi.CallBody(None, None, None)
    assert gi.rewrite_call_body(body, session="shared", arity=2)
    assert body == {"data": ["535+61", None], "fn_index": 3, "session_hash": "shared"}
    assert not gi.rewrite_call_body(body, session="other", arity=2)  # a session it names is kept
    for path in (
        "/gradio_api/heartbeat/abc",
        "/gradio_api/queue/data",
        "/gradio_api/call/predict/0f3a",
        "/gradio_api/call/v2/predict/x1",
    ):
        assert gi.STREAMS.fullmatch(path), path
    for path in ("/gradio_api/call/predict", "/gradio_api/run/predict", "/gradio_api/queue/join", "/"):
        assert not gi.STREAMS.fullmatch(path), path


@pytest.fixture
def tiny_app():
    """A real Gradio app with one queued function that waits for `release`; yields (url, demo, release)."""
    release = threading.Event()

    def slow(text: str) -> str:
        release.wait(60)
        return text.upper()

    with gr.Blocks() as demo:
        gr.api(slow, api_name="slow", concurrency_limit=1)
    demo.queue(max_size=100)
    gi.make_queue_safe(demo, TABLE)
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        yield f"http://127.0.0.1:{port}", demo, release
    finally:
        release.set()
        demo.close()


def join(url: str, session: str, text: str) -> dict:
    body = {"data": [text], "fn_index": 0, "session_hash": session, "event_data": None, "trigger_id": None}
    request = urllib.request.Request(
        url + "/gradio_api/queue/join", json.dumps(body).encode(), {"content-type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def result(url: str, session: str) -> str | None:
    """The session's result from its event stream (None if the stream ends without one)."""
    with urllib.request.urlopen(f"{url}/gradio_api/queue/data?session_hash={session}", timeout=60) as stream:
        for line in stream:
            if line.startswith(b"data: "):
                message = json.loads(line[6:])
                if message.get("msg") == "process_completed":
                    return message["output"]["data"][0] if message.get("success") else None
    return None


def call(url: str, text: str) -> str:
    """A fresh queued call through /call/slow, as an API client makes it."""
    request = urllib.request.Request(
        url + "/gradio_api/call/slow", json.dumps({"data": [text]}).encode(), {"content-type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        event_id = json.loads(response.read())["event_id"]
    with urllib.request.urlopen(f"{url}/gradio_api/call/slow/{event_id}", timeout=60) as stream:
        lines = [line for line in stream if line.startswith(b"data: ")]
    return json.loads(lines[-1][6:])[0]


def wait_until(condition, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_more_waiting_sessions_than_the_table_holds_never_stop_the_queue(tiny_app):
    url, demo, release = tiny_app
    sessions = [uuid.uuid4().hex for _ in range(WAITING)]
    for i, session in enumerate(sessions):
        join(url, session, f"s{i}")
    wait_until(lambda: sum(1 for _ in gi.jobs(demo)) == WAITING)
    assert len(demo._queue.pending_messages_per_session) == WAITING > TABLE  # no waiting session was evicted
    release.set()
    with ThreadPoolExecutor(WAITING) as pool:
        answers = list(pool.map(lambda s: result(url, s), sessions))
    assert answers == [f"S{i}" for i in range(WAITING)]
    assert not demo._queue.stopped and call(url, "after") == "AFTER"
    for i in range(3 * TABLE):  # sessions that finished and left results unread are evicted as before
        join(url, uuid.uuid4().hex, f"idle{i}")
    wait_until(lambda: not any(True for _ in gi.jobs(demo)))
    join(url, uuid.uuid4().hex, "one more")
    assert len(demo._queue.pending_messages_per_session) <= TABLE + 1


def test_a_message_for_a_session_that_is_gone_is_dropped_not_fatal(tiny_app):
    """Without the guard around send_message, the queue's loop died of a KeyError here ("Queue is stopped")."""
    url, demo, release = tiny_app
    gone, kept = uuid.uuid4().hex, uuid.uuid4().hex
    join(url, uuid.uuid4().hex, "running")  # holds the one worker, so the next two wait
    join(url, gone, "gone")
    join(url, kept, "kept")
    wait_until(lambda: sum(1 for _ in gi.jobs(demo)) == 3)
    del demo._queue.pending_messages_per_session[gone]  # as Gradio's own table evicted a waiting session
    release.set()
    assert result(url, kept) == "KEPT"
    assert not demo._queue.stopped and call(url, "still") == "STILL"


def test_gradios_own_table_stops_the_queue_which_is_why_the_module_exists():
    """The failure make_queue_safe prevents, on this Gradio: if this ever fails, Gradio fixed it itself."""
    release = threading.Event()

    def slow(text: str) -> str:
        release.wait(60)
        return text

    with gr.Blocks() as demo:
        gr.api(slow, api_name="slow", concurrency_limit=1)
    demo.queue(max_size=100)
    demo._queue.pending_messages_per_session.max_size = TABLE  # what app.py did before
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    url = f"http://127.0.0.1:{port}"
    try:
        for i in range(TABLE + 4):
            join(url, uuid.uuid4().hex, f"s{i}")
        release.set()
        wait_until(lambda: demo._queue.stopped, 10)
    finally:
        release.set()
        demo.close()
