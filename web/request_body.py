"""What a request body must be before any JSON parser reads it: plain UTF-8, and not nested too deep.

Both checks read bytes and are cheap and never recursive, so a hostile body
costs the server no more than reading it.
"""

from __future__ import annotations

import re

_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_HIGH, _LOW = rb"\\u[dD][89abAB][0-9a-fA-F]{2}", rb"\\u[dD][c-fC-F][0-9a-fA-F]{2}"
_LONE_SURROGATE = re.compile(_HIGH + rb"(?!" + _LOW + rb")|(?<!" + _HIGH + rb")" + _LOW)  # an escape without its pair


def plain_utf8(body: bytes) -> bool:
    """Whether a body is UTF-8 text a JSON parser reads as written: not UTF-16 or UTF-32 (a JSON parser would
    guess those from their NUL bytes, and the depth check below reads bytes), no byte-order mark, and no
    escaped lone surrogate (it parses, but the answer echoing it cannot be written as UTF-8: a 500)."""
    if b"\x00" in body or body.startswith(b"\xef\xbb\xbf"):
        return False
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return _LONE_SURROGATE.search(body) is None


def json_depth(body: bytes) -> int:
    """How deeply brackets nest in a JSON body (strings skipped); cheap, and never recursive."""
    depth = deepest = 0
    for byte in _STRING.sub(b"", body).translate(None, _NOT_BRACKETS):
        depth += 1 if byte in b"[{" else -1
        deepest = max(deepest, depth)
    return deepest
