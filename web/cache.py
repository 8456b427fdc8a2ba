"""A small bounded cache for pictures drawn once per model, keyed by what they show.

Keys are content fingerprints (a hash of the arrays a picture is drawn from),
never object ids: an id is reused once its object is freed, so a dropped
model's picture could be handed to a new model. The cache keeps the most
recently used entries only, so dropping models (visitors' own models expire)
never grows it.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

import numpy as np

Value = TypeVar("Value")


def fingerprint(*parts: np.ndarray | str | int | bool) -> str:
    """A hash of arrays (their dtype, shape and bytes) and plain values: equal only for equal content."""
    digest = hashlib.blake2b(digest_size=16)
    for part in parts:
        if isinstance(part, np.ndarray):
            array = np.ascontiguousarray(part)
            digest.update(f"{array.dtype.str}{array.shape}".encode())
            digest.update(array.tobytes())
        else:
            digest.update(repr(part).encode())
        digest.update(b"|")
    return digest.hexdigest()


class BoundedCache(Generic[Value]):
    """At most `size` values, least recently used dropped first; safe to share between request threads."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.items: OrderedDict[str, Value] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: str, make: Callable[[], Value]) -> Value:
        with self.lock:
            if key in self.items:
                self.items.move_to_end(key)
                return self.items[key]
        value = make()  # outside the lock: drawing takes tens of milliseconds
        with self.lock:
            self.items[key] = value
            self.items.move_to_end(key)
            while len(self.items) > self.size:
                self.items.popitem(last=False)
        return value

    def __len__(self) -> int:
        return len(self.items)
