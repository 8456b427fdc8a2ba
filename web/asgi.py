"""The ASGI pieces the request guard is built from: the message types, a body handed on after it was read,
an answer cancelled when its client hangs up, and a refusal as one JSON sentence."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def replay(body: bytes, gone: asyncio.Event) -> Receive:
    """A receive() that hands the app the already-read body once, then says when the client has gone."""
    sent = False

    async def wrapped() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await gone.wait()
        return {"type": "http.disconnect"}

    return wrapped


async def until_client_leaves(answer: Awaitable[None], receive: Receive, gone: asyncio.Event) -> None:
    """Run `answer` (the app answering a request whose body has been read), but cancel it if the client hangs
    up first: work nobody will read is dropped, and a call still waiting for its turn (web/work.py) never runs.
    The real connection is read here alone; the app learns of the hang-up through `gone`."""

    async def watch() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        gone.set()

    answering, watching = asyncio.ensure_future(answer), asyncio.ensure_future(watch())
    try:
        await asyncio.wait({answering, watching}, return_when=asyncio.FIRST_COMPLETED)
        if answering.done():
            answering.result()  # its error, if it failed, is the server's to log
        else:
            answering.cancel()
            await asyncio.wait({answering})  # a call already running in a thread finishes first
    finally:
        watching.cancel()
        answering.cancel()


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
