"""Who may have how much work running: heavy calls share a small pool, and every call counts for its address.

A heavy call answers hundreds of questions at once (/compare_random,
/random_sums, /predict_batch, and the page's buttons that do the same). It
waits for one of HEAVY_SLOTS worker threads of its own, so light calls (/predict,
one question's views, the page itself) never wait behind it, and memory stays
bounded however many arrive. It waits on the event loop, holding no thread: a
call whose client hangs up while it waits is cancelled there (web/guard.py
cancels a request whose client has gone) and never runs.

Each client address may have HEAVY_PER_CLIENT heavy calls waiting or running,
and CALLS_PER_CLIENT calls of any kind; all addresses together HEAVY_TOTAL
heavy ones. Past that a call is refused at once with one sentence. The counts
are taken where the work runs, not where the request arrives, so MCP tool
calls, which Gradio runs after it has answered their POST (202), count too.
"""

from __future__ import annotations

import functools
import inspect
import typing
from collections import Counter
from collections.abc import Callable
from typing import Any

import anyio
import gradio as gr

from .client_address import client_of, trust_forwarded_default
from .guard import HEAVY_REFUSAL, MAX_HEAVY, MAX_HEAVY_PER_CLIENT, MAX_IN_FLIGHT_PER_CLIENT

HEAVY_SLOTS = 1  # heavy calls running at once: one core's worth, the other core stays for everyone else
HEAVY_PER_CLIENT = MAX_HEAVY_PER_CLIENT  # heavy calls waiting or running for one client address
HEAVY_TOTAL = MAX_HEAVY  # ... for all addresses together
CALLS_PER_CLIENT = MAX_IN_FLIGHT_PER_CLIENT  # calls of any kind for one address: the guard's per-address share


class Busy(Exception):
    """A call refused because its address (or everyone together) already has enough work waiting."""


def client_of_request(request: gr.Request | None) -> str:
    """The address a call counts against, as the request guard counts it (web/client_address.py)."""
    raw = getattr(request, "request", None) if request is not None else None
    scope = getattr(raw, "scope", None)
    if isinstance(scope, dict):
        return client_of(scope, trust_forwarded_default())
    return "unknown"


class WorkPool:
    """The heavy calls' worker threads and the per-address counts of work in progress."""

    def __init__(
        self,
        *,
        heavy_slots: int = HEAVY_SLOTS,
        heavy_per_client: int = HEAVY_PER_CLIENT,
        heavy_total: int = HEAVY_TOTAL,
        calls_per_client: int = CALLS_PER_CLIENT,
    ):
        self.heavy_slots = anyio.CapacityLimiter(heavy_slots)
        self.heavy_per_client, self.heavy_total, self.calls_per_client = heavy_per_client, heavy_total, calls_per_client
        self.heavy: Counter[str] = Counter()
        self.calls: Counter[str] = Counter()

    async def run(self, client: str, fn: Callable, *args: Any, heavy: bool) -> Any:
        """fn(*args) in a worker thread, counted for `client`; raises Busy when over a share."""
        if self.calls[client] >= self.calls_per_client:
            raise Busy(f"Your address already has {self.calls_per_client} calls running; wait for their results.")
        if heavy and self.heavy[client] >= self.heavy_per_client:
            raise Busy(HEAVY_REFUSAL)  # the guard's own sentence for the same share
        if heavy and self.heavy.total() >= self.heavy_total:
            raise Busy("The server is busy with large requests; please try again in a moment.")
        self.calls[client] += 1
        self.heavy[client] += heavy
        try:
            # A heavy call waits here for a slot (cancellable); a light one takes a thread of Gradio's own pool.
            limiter = self.heavy_slots if heavy else None
            return await anyio.to_thread.run_sync(fn, *args, limiter=limiter)
        finally:
            self.calls[client] -= 1
            self.heavy[client] -= heavy
            for counts in (self.calls, self.heavy):
                if counts[client] <= 0:
                    del counts[client]


WORK = WorkPool()


def pooled(
    fn: Callable[..., dict],
    *,
    heavy: bool,
    on_busy: Callable[[str], dict] | None = None,
    pool: WorkPool = WORK,
) -> Callable:
    """`fn` as a Gradio function that runs in `pool`: the same name, docstring and parameters (so the API page
    and MCP describe it as before), then a last `request: gr.Request | None` that Gradio fills in and never
    shows as an input. A refusal is `on_busy(sentence)`, by default in the error shape of `fn`'s web.service
    decorator."""
    refuse: Callable[[str], dict] = on_busy or fn.on_error  # type: ignore[attr-defined]
    own = inspect.signature(fn, eval_str=True)  # types, not strings: Gradio documents a string it cannot read as Any
    request = inspect.Parameter(
        "request", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None, annotation=gr.Request | None
    )
    signature = own.replace(parameters=[*own.parameters.values(), request])

    async def call(*args: Any, **kwargs: Any) -> dict:
        arguments = signature.bind(*args, **kwargs).arguments
        client = client_of_request(arguments.pop("request", None))
        try:
            return await pool.run(client, functools.partial(fn, **arguments), heavy=heavy)
        except Busy as err:
            return refuse(str(err))

    functools.update_wrapper(call, fn)
    call.heavy = heavy  # type: ignore[attr-defined]  # the request guard refuses a client's excess heavy calls early
    del call.__wrapped__  # type: ignore[attr-defined]  # Gradio must read the signature below, not fn's
    call.__signature__ = signature  # type: ignore[attr-defined]
    call.__annotations__ = {**typing.get_type_hints(fn), "request": gr.Request | None}
    return call


def documented_as(batched: Callable, one: Callable) -> Callable:
    """`batched` (a gr.api function with batch=True: Gradio hands it a list per parameter and wants a tuple of
    lists back) documented with the parameters and result of `one`, the function for a single call. Gradio
    derives an endpoint's API and MCP types from its function's type hints, but a client of a batched
    endpoint sends and receives one call's values (Gradio gathers them into lists), so those are its types."""

    def call(*args: Any, **kwargs: Any) -> Any:
        return batched(*args, **kwargs)

    functools.update_wrapper(call, batched)
    del call.__wrapped__  # type: ignore[attr-defined]  # Gradio must read the signature below, not batched's
    call.__signature__ = inspect.signature(one, eval_str=True)  # type: ignore[attr-defined]
    call.__annotations__ = typing.get_type_hints(one)
    return call


def heavy_handler(handler: Callable) -> Callable:
    """Mark a page event's handler that calls a heavy pooled function, so the request guard counts it too."""
    handler.heavy = True  # type: ignore[attr-defined]
    return handler
