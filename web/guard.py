"""Limits every request before Gradio sees it, so no visitor, crowd or single client can lock the server.

An ASGI layer in front of Gradio. Each limit answers with one JSON sentence
and its HTTP status; the server keeps serving. It:
- refuses a body over MAX_BODY_BYTES (from its Content-Length, else counted as
  it arrives: at most that much is ever buffered), a body that takes longer
  than BODY_DEADLINE_S to arrive (a trickled body holds nothing for long), and
  a JSON body nested deeper than MAX_JSON_DEPTH (it would cost a RecursionError);
- refuses file uploads (the app has no file input);
- refuses a direct call of a heavy function (web/work.py) from a client with
  MAX_HEAVY_PER_CLIENT of them open, before Gradio spends anything on it, and
  cancels a request whose client hangs up before it is answered;
- counts ordinary requests and long-lived streams apart: each open page holds a
  heartbeat stream, and a queued result arrives on an event stream, so streams
  must not use up the request limit. Requests: MAX_IN_FLIGHT at once, one
  client at most MAX_IN_FLIGHT_PER_CLIENT; bodies still arriving: MAX_READING,
  one client MAX_READING_PER_CLIENT; streams: MAX_STREAMS, one client
  MAX_STREAMS_PER_CLIENT. One client holding hundreds of sockets is limited
  alone;
- bounds each visitor's share of the queue (web/queue_share.py): waiting calls
  per session and per client address, unread results, waiting trainings;
- fills in omitted trailing arguments (the optional model name) with null, so
  `{"data": ["535+61"]}` works: Gradio itself wants every argument;
- checks every call's data (/run, /call, /queue/join; by name or fn_index) against
  its function's input components (web/call_schema.py): a bad input is refused
  with 400 and one sentence naming it, never repeating the value; a forged
  fn_index with 400, an unknown name with 404;
- sends direct calls of /predict (/gradio_api/run/predict) to its unbatched twin
  /predict_direct: the queued /predict is batched, and Gradio's direct route
  would want batch-shaped data for it;
- gives direct calls (/gradio_api/run/…) that name no session one shared
  session: without one Gradio builds a fresh copy of the whole page's component
  config for every request. It is safe because every direct function is stateless.

Who is a client is web/client_address.py's to say (behind a Space's proxy, the
address the proxy saw). The body checks are web/request_body.py's, the ASGI
plumbing web/asgi.py's. Gradio's routes and body fields are read through web/gradio_internals.py.
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from . import gradio_internals as gi
from .asgi import ASGIApp, Receive, Scope, Send, refuse, replay, until_client_leaves
from .call_schema import CallSchema, FunctionSchema
from .client_address import client_of, trust_forwarded_default
from .queue_share import Joining, QueueShare
from .request_body import json_depth, plain_utf8

MAX_BODY_BYTES = 96 * 1024  # the largest legitimate body: a 20,000-character batch, JSON-encoded
BODY_DEADLINE_S = 10.0  # a body takes at most this long to arrive (a real one takes milliseconds)
MAX_JSON_DEPTH = 32  # the deepest legitimate body (an MCP call) nests about 5 levels
MAX_IN_FLIGHT = 256  # ordinary requests being answered at once
MAX_IN_FLIGHT_PER_CLIENT = 48  # ... by one client address: six addresses cannot fill the server, a class can work
MAX_READING = 256  # requests whose body is still arriving
MAX_READING_PER_CLIENT = 16
MAX_STREAMS = 2048  # open heartbeat, event and MCP streams (each an idle socket, a few kB)
MAX_STREAMS_PER_CLIENT = 64  # a household or office behind one address may have many pages open
MAX_HEAVY = 32  # direct calls of heavy functions (hundreds of questions each, web/work.py) open at once
MAX_HEAVY_PER_CLIENT = 4  # ... from one client address: the rest are refused here, before Gradio reads them
HEAVY_REFUSAL = (
    f"Your address already has {MAX_HEAVY_PER_CLIENT} large requests waiting or running; wait for their results."
)
SHARED_SESSION = "direct-api-calls"
DIRECT_TWINS = {"predict": "predict_direct"}  # batched endpoint -> the same function for one direct call
REFUSED_PATHS = ("/gradio_api/upload", "/upload")


@dataclass
class EndpointPolicy:
    """What the guard knows of the app: endpoints' inputs and queues, unread results, and the queue's jobs."""

    schema: CallSchema | None = None  # what each function's inputs accept (None: calls are not checked)
    queue_of: dict[str | int, str] = field(default_factory=dict)  # api name or fn_index -> concurrency id
    unread: Callable[[str], int] = lambda session: 0
    jobs: Callable[[], Iterable[gi.Job]] = lambda: ()
    choices: Callable[[str | None, int], list | None] = lambda session, component: None  # a session's choices now
    heavy: frozenset[int] = frozenset()  # fn_index of each function that runs in web/work.py's heavy pool

    @classmethod
    def of(cls, demo: Any) -> EndpointPolicy:
        queue_of: dict[str | int, str] = {index: fn.concurrency_id for index, fn in demo.fns.items()}
        queue_of.update({fn.api_name: fn.concurrency_id for fn in demo.fns.values() if fn.api_name})
        return cls(
            CallSchema.of(demo),
            queue_of,
            lambda session: gi.unread_results(demo, session),
            lambda: gi.jobs(demo),
            lambda session, component: gi.session_choices(demo, session, component),
            frozenset(index for index, fn in demo.fns.items() if getattr(fn.fn, "heavy", False)),
        )


@dataclass
class Tally:
    """Open things of one kind (requests, bodies arriving, streams): in all and per client address."""

    limit: int
    per_client: int
    total: int = 0
    by_client: Counter[str] = field(default_factory=Counter)

    def full_for(self, client: str) -> bool:
        return self.total >= self.limit or self.by_client[client] >= self.per_client

    def add(self, client: str, step: int) -> None:
        self.total += step
        self.by_client[client] += step
        if self.by_client[client] <= 0:
            del self.by_client[client]


class RequestGuard:
    """ASGI middleware: body size, time and depth caps, no uploads, bounded requests, streams and queue use."""

    def __init__(
        self,
        app: ASGIApp,
        policy: EndpointPolicy | None = None,
        max_body: int = MAX_BODY_BYTES,
        max_in_flight: int = MAX_IN_FLIGHT,
        trust_forwarded: bool | None = None,
    ):
        self.app, self.policy = app, policy or EndpointPolicy()
        self.max_body = max_body
        self.trust_forwarded = trust_forwarded_default() if trust_forwarded is None else trust_forwarded
        self.requests = Tally(max_in_flight, min(max_in_flight, MAX_IN_FLIGHT_PER_CLIENT))
        self.reading = Tally(MAX_READING, MAX_READING_PER_CLIENT)
        self.streams = Tally(MAX_STREAMS, MAX_STREAMS_PER_CLIENT)
        self.heavy = Tally(MAX_HEAVY, MAX_HEAVY_PER_CLIENT)
        self.share = QueueShare(
            self.policy.unread,
            self.policy.jobs,
            lambda job: client_of(getattr(job.request, "scope", {}), self.trust_forwarded),
        )

    @property
    def in_flight(self) -> int:
        return self.requests.total

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path, client = scope.get("path", ""), client_of(scope, self.trust_forwarded)
        if any(path.endswith(p) for p in REFUSED_PATHS):
            await refuse(send, 403, "This app takes no file uploads.")
        elif scope.get("method") == "GET" and gi.STREAMS.fullmatch(path):
            await self._stream(scope, receive, send, client)
        else:
            await self._request(scope, receive, send, client)

    async def _stream(self, scope: Scope, receive: Receive, send: Send, client: str) -> None:
        if self.streams.full_for(client):
            await refuse(send, 429, "Too many open pages or event streams from your address; close some and retry.")
            return
        self.streams.add(client, 1)
        try:
            await self.app(scope, receive, send)
        finally:
            self.streams.add(client, -1)

    async def _request(self, scope: Scope, receive: Receive, send: Send, client: str) -> None:
        if self.requests.full_for(client):
            busy = self.requests.total >= self.requests.limit
            await refuse(send, 503 if busy else 429, "The server is busy; please try again in a moment.")
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_body):
            await refuse(send, 413, f"A request body may be at most {self.max_body:,} bytes.")
            return
        joining: Joining | None = None
        heavy = False  # a direct call of a heavy function, counted in self.heavy
        gone = asyncio.Event()  # set when the client hangs up
        self.requests.add(client, 1)
        try:
            if scope.get("method") in ("POST", "PUT", "PATCH"):
                body, status, problem = await self._read_body(receive, client)
                if problem is None:
                    body, joining, status, problem, heavy = self._check_call(scope.get("path", ""), body, client)
                if problem is None and heavy and self.heavy.full_for(client):
                    status, problem, heavy = 429, HEAVY_REFUSAL, False
                if problem is not None:
                    await refuse(send, status, problem)
                    return
                if joining is not None:
                    self.share.joining.append(joining)
                if heavy:
                    self.heavy.add(client, 1)
                await until_client_leaves(self.app(direct_twin(scope), replay(body, gone), send), receive, gone)
            else:
                await self.app(scope, receive, send)
        finally:
            self.requests.add(client, -1)
            if joining is not None:
                self.share.joining.remove(joining)
            if heavy:
                self.heavy.add(client, -1)

    async def _read_body(self, receive: Receive, client: str) -> tuple[bytes, int, str | None]:
        """(body, 200, None), or (b"", status, why) when it is too large, too slow or too deep."""
        if self.reading.full_for(client):
            return b"", 429, "Too many requests from your address are still sending their bodies."
        self.reading.add(client, 1)
        try:
            body = await asyncio.wait_for(self._receive_capped(receive), BODY_DEADLINE_S)
        except TimeoutError:
            return b"", 408, f"A request body must arrive within {BODY_DEADLINE_S:.0f} seconds."
        finally:
            self.reading.add(client, -1)
        if body is None:
            return b"", 413, f"A request body may be at most {self.max_body:,} bytes."
        if not plain_utf8(body):
            return b"", 400, "A request body must be UTF-8 text, without NUL characters or lone surrogates."
        if json_depth(body) > MAX_JSON_DEPTH:
            return b"", 400, f"A JSON body may nest at most {MAX_JSON_DEPTH} levels deep."
        return body, 200, None

    async def _receive_capped(self, receive: Receive) -> bytes | None:
        """The whole body, or None as soon as it passes the cap (the rest is never buffered)."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return b"".join(chunks)
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                return None
            chunks.append(chunk)
            if not message.get("more_body"):
                return b"".join(chunks)

    def _check_call(self, path: str, body: bytes, client: str) -> tuple[bytes, Joining | None, int, str | None, bool]:
        """(body to pass on, the queue join it is, 200, None, whether it is a direct call of a heavy function),
        or (body, None, status, why it is refused, False)."""
        body, joining, status, problem, fn = self._checked_call(path, body, client)
        direct = bool((named := gi.NAMED_CALL.fullmatch(path)) and named.group(1) in ("run", "api"))
        return body, joining, status, problem, direct and fn is not None and fn.index in self.policy.heavy

    def _checked_call(
        self, path: str, body: bytes, client: str
    ) -> tuple[bytes, Joining | None, int, str | None, FunctionSchema | None]:
        """(body to pass on, the queue join it is, 200, None, its function if known), or (body, None, status,
        why it is refused, None)."""
        named = gi.NAMED_CALL.fullmatch(path)
        if not named and not gi.QUEUE_JOIN.fullmatch(path):
            return body, None, 200, None, None
        try:
            data = json.loads(body or b"{}")
        except ValueError:
            return body, None, 200, None, None  # Gradio answers malformed JSON itself (422, without the body)
        if not isinstance(data, dict):
            return body, None, 400, "A call's body must be a JSON object.", None
        route = named.group(1) if named else "queue/join"
        direct = route == "run"
        name = (DIRECT_TWINS.get(named.group(2), named.group(2)) if direct else named.group(2)) if named else None
        if route == "call/v2":  # keyword arguments, not `data`: their names are checked (web/call_schema.py)
            fn, status, problem = self._function(name=name, index=None, public_only=True)
            if fn is not None and problem is None:
                status, problem = 400, fn.keyword_problem(data)
        else:
            problem = gi.call_body_problem(data)
            status, fn = 400, None
            if problem is None:
                # /call/{name} reads no fn_index (Gradio's SimplePredictBody has none); the others prefer it
                index = None if route == "call" else data.get("fn_index")
                fn, status, problem = self._function(name=name, index=index)
        if problem is not None:
            return body, None, status, problem, None
        changed = gi.rewrite_call_body(
            data, session=SHARED_SESSION if direct else None, arity=fn.arity if fn and route != "call/v2" else None
        )
        if fn is not None and route != "call/v2":
            batched = data.get("batched") is True
            if not batched:
                filled = fn.filled(data["data"])
                changed = changed or any(a is not b for a, b in zip(filled, data["data"], strict=True))
                data["data"] = filled
            session = data.get("session_hash")
            choices_now = functools.partial(self.policy.choices, session)
            problem = fn.problem(data["data"], batched=batched, choices_now=choices_now)
            if problem is not None:
                return body, None, 400, problem, None
        call = gi.CallBody.of(data)
        joining = None
        if route not in ("run", "api"):  # a direct call never joins the queue: Gradio runs it at once or refuses it
            # the function Gradio will run: a /call/ body's fn_index must not make a training look like another call
            key: str | int | None = fn.index if fn else call.fn_index if call.fn_index is not None else name
            joining = Joining(call.session, client, self.policy.queue_of.get(key) if key is not None else None)
            refused = self.share.refusal(joining)
            if refused:
                return body, None, *refused, None
        return (json.dumps(data).encode() if changed else body), joining, 200, None, fn

    def _function(
        self, *, name: str | None, index: object, public_only: bool = False
    ) -> tuple[FunctionSchema | None, int, str | None]:
        """The function a call is for (None when the guard knows no schema), or why it names none."""
        schema = self.policy.schema
        if schema is None:
            return None, 200, None
        fn, status, problem = schema.function(name=name, index=index)
        if fn is not None and public_only and not fn.public:
            return None, 404, "This app has no API endpoint by that name."
        return fn, status, problem


def direct_twin(scope: Scope) -> Scope:
    """The request re-addressed to a batched endpoint's unbatched twin, for a direct call; else unchanged."""
    named = gi.NAMED_CALL.fullmatch(scope.get("path", ""))
    if not named or named.group(1) != "run" or named.group(2) not in DIRECT_TWINS:
        return scope
    path = f"/gradio_api/run/{DIRECT_TWINS[named.group(2)]}"
    return {**scope, "path": path, "raw_path": path.encode()}
