"""Every Gradio internal the app relies on, in one place, written for one Gradio version.

Gradio has no public API for what the request guard and the queue safety need
(who is waiting in the queue, a session's unread results, the shape of a call's
body, a click's raw event data), nor for two things the views need (an HTML
component that draws a chart or a table, a slider whose bad value reaches the
handler), so this module reads and patches Gradio's own objects. Nothing else
in the app touches a private Gradio name or patches a Gradio class.
WRITTEN_FOR is the version this was read against; tests/test_gradio_internals.py
fails loudly on any other, so an upgrade means re-reading gradio/queueing.py,
gradio/routes.py and the patched components, not finding out in production.
"""

from __future__ import annotations

import contextlib
import functools
import json
import re
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import gradio as gr
from gradio.queueing import Queue
from gradio.utils import LRUCache

WRITTEN_FOR = "6.31"  # major.minor of the Gradio this module was read against

# Routes (gradio/routes.py, all under /gradio_api): Gradio publishes no list of them, and the guard must know a
# call before Gradio reads it. Direct calls: POST /run|/api/{name}; queued calls: POST /call/{name} (then
# GET /call/{name}/{event_id}) or POST /queue/join (then GET /queue/data).
NAMED_CALL = re.compile(r"/gradio_api/(run|api|call/v2|call)/([A-Za-z0-9_]+)/?")
QUEUE_JOIN = re.compile(r"/gradio_api/queue/join/?")
# Long-lived responses (GET): each open page holds a heartbeat stream, a queued call's result arrives on an
# event stream, and an MCP client may hold a server-sent-events stream, on the SSE transport (/mcp/sse) or the
# streamable HTTP one (/mcp, /mcp/http, with Accept: text/event-stream; without it, a short landing page).
STREAMS = re.compile(
    r"/gradio_api/(heartbeat/[^/]+|queue/data|call/(v2/)?[A-Za-z0-9_]+/[A-Za-z0-9_-]+|mcp|mcp/sse|mcp/http)/?"
)
MCP_ROUTES = re.compile(r"/gradio_api/mcp(/.*)?")


def version_supported(version: str | None = None) -> bool:
    """Whether this module was written for `version` (default: the installed Gradio)."""
    version = version or gr.__version__
    return version == WRITTEN_FOR or version.startswith(WRITTEN_FOR + ".")


# A call's JSON body ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CallBody:
    """The fields of a call's body the guard reads: {"data": [...], "session_hash": ..., "fn_index": ...}."""

    data: list | None
    session: str | None
    fn_index: int | None

    @classmethod
    def of(cls, body: dict) -> CallBody:
        data, session, index = body.get("data"), body.get("session_hash"), body.get("fn_index")
        return cls(
            data if isinstance(data, list) else None,
            session if isinstance(session, str) else None,
            index if isinstance(index, int) and not isinstance(index, bool) else None,
        )


# The fields of Gradio's PredictBody (gradio/data_classes.py) and the JSON types each takes (null too, except
# data). Pydantic answers a field of another type with a 422 that repeats the value sent, however large.
CALL_FIELDS: dict[str, tuple[type, str]] = {
    "data": (list, "a list"),
    "session_hash": (str, "text"),
    "event_id": (str, "text"),
    "oauth_token": (str, "text"),
    "fn_index": (int, "a whole number"),
    "trigger_id": (int, "a whole number"),
    "simple_format": (bool, "true or false"),
    "batched": (bool, "true or false"),
}


def call_body_problem(body: dict) -> str | None:
    """One sentence naming the first field of a call's body that Gradio would refuse for its type, else None."""
    for name, (kind, wanted) in CALL_FIELDS.items():
        value = body.get(name)
        if value is None and name != "data":
            continue
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            return f"A call's {name} must be {wanted}."
    return None


def rewrite_call_body(body: dict, *, session: str | None = None, arity: int | None = None) -> bool:
    """Give the call `session` if it names none, and pad its data with nulls to `arity`; True if changed."""
    changed = False
    if session is not None and not isinstance(body.get("session_hash"), str):
        body["session_hash"], changed = session, True
    data = body.get("data")
    if arity is not None and isinstance(data, list) and len(data) < arity:
        body["data"], changed = data + [None] * (arity - len(data)), True
    return changed


def session_choices(demo: gr.Blocks, session: str | None, component: int) -> list | None:
    """The values of the choices `session`'s copy of a component holds now (a handler that returns, say,
    gr.Dropdown(choices=...) replaces that copy, and Gradio checks a value against it), or None when the
    session has none yet (Gradio would make it from the configured component). Gradio has no public way to
    read a session's copy of a component; the guard needs it to refuse a bad choice with a sentence."""
    state = demo.state_holder.session_data.get(session) if session else None  # never creates a session
    block = state.blocks_config.blocks.get(component) if state is not None else None
    choices = getattr(block, "choices", None)
    if choices is None:
        return None
    return [c[1] if isinstance(c, tuple | list) and len(c) == 2 else c for c in choices]


# The queue ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Job:
    """A queued call waiting or running: its session, the HTTP request that joined it, and its queue."""

    session: str
    request: Any  # the fastapi.Request of the join (its scope says who sent it)
    concurrency_id: str
    running: bool


def jobs(demo: gr.Blocks) -> Iterator[Job]:
    """Every job waiting in the queue or running now (Gradio's queue has no public view of its jobs)."""
    queue: Queue = demo._queue
    for concurrency_id, events in list(queue.event_queue_per_concurrency_id.items()):
        for event in list(events.queue):
            yield Job(event.session_hash, event.request, concurrency_id, running=False)
    for batch in list(queue.active_jobs):
        for event in batch or ():
            yield Job(event.session_hash, event.request, event.concurrency_id, running=True)


def unread_results(demo: gr.Blocks, session: str) -> int:
    """Finished results parked for `session` that its client has not read (its queue also holds progress);
    Gradio has no public count of them."""
    waiting = demo._queue.pending_messages_per_session.get(session)
    if waiting is None:
        return 0
    return sum(getattr(m, "msg", None) == "process_completed" for m in list(waiting._queue))


class ParkedSessions(LRUCache):
    """Gradio's table of per-session message queues, which never evicts a session that has a job.

    Gradio's table drops the oldest session when full; if that session still has a job waiting, the
    queue's loop raises KeyError on its next message and stops for good ("Queue is stopped"). Here
    only sessions with no waiting or running job are evicted; those with one are bounded by the
    queue's max_size and its workers, so the table holds at most max_size idle sessions plus those.
    An idle session's unread results can still be dropped (as Gradio's own table drops them) if max_size
    newer sessions arrive before its client reads them.
    """

    def __init__(self, max_size: int, demo: gr.Blocks):
        super().__init__(max_size)
        self.demo = demo

    def __setitem__(self, key: Any, value: Any) -> None:
        if key in self:
            self.move_to_end(key)
        elif len(self) >= self.max_size:
            busy = {job.session for job in jobs(self.demo)}
            idle = [session for session in self if session not in busy]  # oldest first
            for session in idle[: len(self) - self.max_size + 1]:
                del self[session]
                # its undelivered event ids go with it (Gradio would keep them for ever)
                self.demo._queue.pending_event_ids_session.pop(session, None)
        OrderedDict.__setitem__(self, key, value)


def make_queue_safe(demo: gr.Blocks, parked_sessions: int) -> None:
    """Bound the parked-session table without ever evicting a waiting job, and let a message to a
    session that is gone be dropped instead of stopping the queue's loop. Call after demo.queue()."""
    queue: Queue = demo._queue
    table = ParkedSessions(parked_sessions, demo)
    table.update(queue.pending_messages_per_session)
    queue.pending_messages_per_session = table
    deliver = queue.send_message

    def send_message(event: Any, event_message: Any) -> None:
        if event.session_hash in queue.pending_messages_per_session:
            deliver(event, event_message)  # else nobody can read it: the session's table entry is gone

    queue.send_message = send_message  # type: ignore[method-assign]


# Events ---------------------------------------------------------------------------------------------------
def event_payload(evt: Any) -> Any:
    """The raw data a custom HTML component sent with its event, as gr.EventData keeps it (`_data`). Its
    public attributes (evt.row) look keys up in that data and fail on anything but a dict; a page can send
    anything, and the handler checks the whole payload itself (question_map.cell_question)."""
    return getattr(evt, "_data", None)


# The MCP server ----------------------------------------------------------------------------------------
def mcp_lifespan(demo: gr.Blocks, *, tools: dict[str, str]) -> Callable[[Any], Any]:
    """A server lifespan that shapes the MCP tools before the first request: points each tool in `tools` at
    another endpoint (e.g. "predict" at the unbatched "/predict_direct", whose arguments are one question,
    not a batch), and has tools answer in JSON. Gradio makes a tool of every public endpoint as it is, and
    writes a result as a Python repr."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        server = getattr(demo, "mcp_server_obj", None)
        if server is not None:
            every = demo.get_api_info(all_endpoints=True)["named_endpoints"]
            for tool, endpoint in tools.items():
                server.api_info["named_endpoints"][endpoint] = every[endpoint]
                server.tool_to_endpoint[tool] = endpoint
            # Gradio writes each result as str(result), a Python repr; every endpoint here returns one JSON
            # object, so a tool's text content is that object as JSON (the app has no file outputs).
            server.postprocess_output_data = functools.partial(json_tool_content, server.types)
        yield

    return lifespan


def json_tool_content(types: Any, data: list, root_url: str) -> list:
    """An MCP tool's outputs as text content: JSON for objects and lists, the text itself otherwise."""
    return [
        types.TextContent(type="text", text=json.dumps(output) if isinstance(output, dict | list) else str(output))
        for output in data
    ]


# Components ----------------------------------------------------------------------------------------------
# Both patches sit on the class, not an instance: Gradio rebuilds a session's copy of a component from its
# constructor arguments (e.g. when a handler returns gr.Slider(maximum=...)), which would drop an instance's
# own method, and a gr.HTML subclass gets a generated .pyi stub written beside it. Each install replaces the
# last one (Gradio's own method is kept in __wrapped__), so installing twice never stacks.
def _gradios_own(method: Callable) -> Callable:
    return getattr(method, "__wrapped__", method)


def convert_html_values(convert: Callable[[gr.HTML, Any], Any]) -> None:
    """Let every gr.HTML show a value that is not HTML text (a chart, a table): `convert(component, value)`
    turns it into HTML (or returns it unchanged) before Gradio's own postprocess sees it."""
    gradio_postprocess = _gradios_own(gr.HTML.postprocess)

    @functools.wraps(gradio_postprocess)
    def postprocess(self: gr.HTML, value: Any) -> Any:
        return gradio_postprocess(self, convert(self, value))

    gr.HTML.postprocess = postprocess  # type: ignore[method-assign]


def unchecked_sliders(marker: str) -> None:
    """Let a gr.Slider with the CSS class `marker` hand its value to the handler as sent. Gradio's own
    preprocess raises on a value out of range, which a page launched with show_error=False shows as a bare
    red "Error" (the handler checks it instead and says what is wrong); other sliders stay checked."""
    gradio_preprocess = _gradios_own(gr.Slider.preprocess)

    @functools.wraps(gradio_preprocess)
    def preprocess(self: gr.Slider, payload: Any) -> Any:
        if marker in (self.elem_classes or []):
            return payload
        return gradio_preprocess(self, payload)

    gr.Slider.preprocess = preprocess  # type: ignore[method-assign]


# Gradio's Dropdown (6.31) draws its chevron (.icon-wrap, absolutely placed, 20 px wide, 20 px from the right)
# over the right end of its text input, so a long choice ran under the arrow: the text stops short of it, and
# a choice too long for the box ends in an ellipsis. These are Gradio's own class names, for the page's CSS.
DROPDOWN_CSS = """
.wrap-inner .secondary-wrap input[role="combobox"] { padding-right: 28px; text-overflow: ellipsis; }
"""
