"""Who is a client: the address each request, stream and call counts against.

The address of the TCP peer (ASGI `client`). Behind a reverse proxy (a Hugging
Face Space: SYSTEM=spaces, or ADDITION_TRUST_FORWARDED=1) every peer is the
proxy, so there the right-most X-Forwarded-For entry is used: the address the
proxy itself saw, which a visitor cannot forge (entries to its left can be).
Elsewhere X-Forwarded-For is ignored, since anyone could send one.
"""

from __future__ import annotations

import os
from typing import Any


def trust_forwarded_default() -> bool:
    """Trust X-Forwarded-For only behind a known proxy: on a Space, or when told to."""
    return os.environ.get("SYSTEM") == "spaces" or os.environ.get("ADDITION_TRUST_FORWARDED") == "1"


def client_of(scope: dict[str, Any], trust_forwarded: bool) -> str:
    """The client address a request counts against (see the module docstring)."""
    if trust_forwarded:
        for name, value in scope.get("headers") or []:
            if name == b"x-forwarded-for":
                last = value.decode("latin-1").rsplit(",", 1)[-1].strip()
                if last:
                    return last
    peer = scope.get("client")
    return str(peer[0]) if peer else "unknown"
