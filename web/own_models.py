"""The models visitors trained in the app ("Train your own"): a small table, each entry reached by a secret name."""

from __future__ import annotations

import secrets
import shutil
import threading
import time
from collections.abc import Callable

from model.serving import ServedModel


class OwnModels:
    """Models visitors trained in the app: at most MAX_OWN, each kept for OWN_SECONDS.

    A model is reached by its name alone, `yours-` and 48 random bits: only the session that trained it
    learns it, so no other visitor sees it in their picker or in /models (a bearer name: whoever has it can
    use the model). A new model pushes out its own session's oldest when that session has PER_OWNER, else its
    own address's oldest when that address has PER_ADDRESS (one visitor with many tabs or sessions); only
    when the table is full of other addresses' models does the oldest of all go. So one address can never
    push out another visitor's model while fewer than MAX_OWN - PER_ADDRESS others are kept. Its folder is
    deleted when it goes.
    """

    MAX_OWN = 16
    PER_OWNER = 2  # per session
    PER_ADDRESS = 4
    OWN_SECONDS = 30 * 60
    MAX_OPENED = 4096  # sessions remembered as having opened a model by its link (the oldest forgotten first)

    def __init__(self) -> None:
        self.models: dict[str, tuple[float, ServedModel]] = {}
        self.owners: dict[str, tuple[str, str]] = {}  # model name -> the (session, address) that trained it
        self.opened: dict[str, str] = {}  # session -> the model it opened with a ?model= link
        self.lock = threading.Lock()

    def add(self, served: ServedModel, owner: str = "", address: str = "") -> str:
        with self.lock:
            self._expire()
            self._drop_oldest_while(lambda who: who[0] == owner, self.PER_OWNER)
            self._drop_oldest_while(lambda who: who[1] == address, self.PER_ADDRESS)
            self._drop_oldest_while(lambda who: True, self.MAX_OWN)
            served.name = f"yours-{secrets.token_hex(6)}"
            self.models[served.name] = (time.monotonic(), served)
            self.owners[served.name] = (owner, address)
            return served.name

    def _drop_oldest_while(self, whose: Callable[[tuple[str, str]], bool], limit: int) -> None:
        """Drop the oldest of the models `whose` picks until fewer than `limit` of them are left."""
        while len(picked := [name for name, who in self.owners.items() if whose(who)]) >= limit:
            self._drop(min(picked, key=lambda name: self.models[name][0]))

    def get(self, name: object) -> ServedModel | None:
        with self.lock:
            self._expire()
            entry = self.models.get(name) if isinstance(name, str) else None
            return entry[1] if entry else None

    def open(self, name: str, session: str) -> None:
        """Remember that `session` opened `name` by its link, so its pickers keep offering it."""
        with self.lock:
            self.opened.pop(session, None)
            self.opened[session] = name
            while len(self.opened) > self.MAX_OPENED:
                del self.opened[next(iter(self.opened))]

    def names_of(self, owner: str) -> list[str]:
        """The names of the models still kept that the session `owner` trained or opened by a link, oldest
        first."""
        with self.lock:
            self._expire()
            mine = {n for n, who in self.owners.items() if who[0] == owner}
            if self.opened.get(owner) in self.models:
                mine.add(self.opened[owner])
            return sorted(mine, key=lambda n: self.models[n][0])

    def _expire(self) -> None:
        now = time.monotonic()
        for name in [k for k, (t, _) in self.models.items() if now - t > self.OWN_SECONDS]:
            self._drop(name)

    def _drop(self, name: str) -> None:
        _, served = self.models.pop(name)
        self.owners.pop(name, None)
        shutil.rmtree(served.stored.folder.parent, ignore_errors=True)  # the run's temporary folder
