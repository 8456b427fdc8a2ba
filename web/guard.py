"""Limits every request before Gradio sees it, so no visitor can grow the server's memory.

Gradio reads a request body whole and keeps each session's inputs and outputs
in memory; this ASGI layer sits in front of it and:
- refuses a body over MAX_BODY_BYTES, from its Content-Length or, when there is
  none, by counting as it arrives (at most MAX_BODY_BYTES is ever buffered);
- refuses file uploads (the app has no file input);
- answers 503 once MAX_IN_FLIGHT requests are open at once;
- refuses a queue join (/queue/join, /call/…) for a session that already has
  MAX_UNREAD results it has not read: Gradio parks each queued result until the
  client reads it, under a session id the client chooses, so without this one
  client could park results without limit (app.py also caps how many sessions
  Gradio keeps such results for);
- fills in omitted trailing arguments (the optional model name) with null, so
  `{"data": ["535+61"]}` still works now that /predict takes a model too;
- sends direct calls of /predict (/gradio_api/run/predict) to its unbatched twin
  /predict_direct: the queued /predict is batched (concurrent callers share one
  call), and Gradio's direct route would want batch-shaped data for it;
- gives direct calls (/gradio_api/run/…) that name no session one shared
  session: without one Gradio builds a fresh copy of the whole page's component
  config for every request, which was most of the server's time under load.
  It is safe because every function here is stateless.
Each refusal is one JSON sentence with its HTTP status; the server keeps serving.
Together with Gradio's own session capacity (see app.py) this bounds memory.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

MAX_BODY_BYTES = 96 * 1024  # the largest legitimate body: a 20,000-character batch, JSON-encoded
MAX_IN_FLIGHT = 256
MAX_UNREAD = 2  # results a session may leave unread before its next queue join is refused
SHARED_SESSION = "direct-api-calls"
DIRECT_TWINS = {"predict": "predict_direct"}  # batched endpoint -> the same function for one direct call
REFUSED_PATHS = ("/gradio_api/upload", "/upload")
_NAMED_CALL = re.compile(r"/gradio_api/(run|call|api)/([A-Za-z0-9_]+)/?")
_QUEUE_JOIN = re.compile(r"/gradio_api/queue/join/?")


@dataclass
class EndpointPolicy:
    """What the guard knows of the app: each endpoint's number of inputs, and a session's unread results."""

    arity: dict[str, int] = field(default_factory=dict)
    unread: Callable[[str], int] = lambda session: 0

    @classmethod
    def of(cls, demo: Any) -> EndpointPolicy:
        arity = {fn.api_name: len(fn.inputs) for fn in demo.fns.values() if fn.api_name}

        def unread(session: str) -> int:
            """Finished results parked for `session` (its queue also holds small progress messages)."""
            waiting = demo._queue.pending_messages_per_session.get(session)
            if waiting is None:
                return 0
            return sum(getattr(m, "msg", None) == "process_completed" for m in list(waiting._queue))

        return cls(arity, unread)


class RequestGuard:
    """ASGI middleware: body size cap, no uploads, bounded concurrency."""

    def __init__(
        self,
        app: ASGIApp,
        policy: EndpointPolicy | None = None,
        max_body: int = MAX_BODY_BYTES,
        max_in_flight: int = MAX_IN_FLIGHT,
    ):
        self.app, self.policy = app, policy or EndpointPolicy()
        self.max_body, self.max_in_flight = max_body, max_in_flight
        self.in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        if any(path.endswith(p) for p in REFUSED_PATHS):
            await refuse(send, 403, "This app takes no file uploads.")
            return
        if self.in_flight >= self.max_in_flight:
            await refuse(send, 503, "The server is busy; please try again in a moment.")
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_body):
            await refuse(send, 413, f"A request body may be at most {self.max_body:,} bytes.")
            return
        self.in_flight += 1
        try:
            if scope.get("method") in ("POST", "PUT", "PATCH"):
                body = await self._read_body(receive)
                if body is None:
                    await refuse(send, 413, f"A request body may be at most {self.max_body:,} bytes.")
                    return
                body, problem = self._check_endpoint(path, body)
                if problem:
                    await refuse(send, 429, problem)
                    return
                scope = direct_twin(scope)
                receive = replay(body, receive)
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1

    def _check_endpoint(self, path: str, body: bytes) -> tuple[bytes, str | None]:
        """(body, None) to pass on, with omitted trailing arguments filled in; or (body, why it is refused)."""
        named = _NAMED_CALL.fullmatch(path)
        if not named and not _QUEUE_JOIN.fullmatch(path):
            return body, None
        try:
            data = json.loads(body or b"{}")
        except ValueError:
            return body, None  # Gradio answers malformed JSON itself
        if not isinstance(data, dict):
            return body, None
        session = data.get("session_hash")
        if (
            not (named and named.group(1) == "run")
            and isinstance(session, str)
            and self.policy.unread(session) >= MAX_UNREAD
        ):
            return body, (
                f"This session has {MAX_UNREAD} results it has not read yet; read them from its event "
                "stream before sending more."
            )
        changed = False
        if named and named.group(1) == "run" and not isinstance(session, str):
            data["session_hash"], changed = SHARED_SESSION, True
        name = (
            DIRECT_TWINS.get(named.group(2), named.group(2))
            if named and named.group(1) == "run"
            else (named.group(2) if named else None)
        )
        wanted, given = self.policy.arity.get(name or ""), data.get("data")
        if wanted is not None and isinstance(given, list) and len(given) < wanted:
            data["data"], changed = given + [None] * (wanted - len(given)), True
        return (json.dumps(data).encode() if changed else body), None

    async def _read_body(self, receive: Receive) -> bytes | None:
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


def direct_twin(scope: Scope) -> Scope:
    """The request re-addressed to a batched endpoint's unbatched twin, for a direct call; else unchanged."""
    named = _NAMED_CALL.fullmatch(scope.get("path", ""))
    if not named or named.group(1) != "run" or named.group(2) not in DIRECT_TWINS:
        return scope
    path = f"/gradio_api/run/{DIRECT_TWINS[named.group(2)]}"
    return {**scope, "path": path, "raw_path": path.encode()}


def replay(body: bytes, receive: Receive) -> Receive:
    """A receive() that hands the app the already-read body once, then waits on the real connection."""
    sent = False

    async def wrapped() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return wrapped


async def refuse(send: Send, status: int, message: str) -> None:
    payload = json.dumps({"error": message}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})
