"""Shared helpers for the app tests: a free port and the app served in-process.

Each test module launches the app once (module-scoped fixtures); launching is
what costs time, so the tests themselves only talk to the running server.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # the test machines have no network
if str(ROOT) not in sys.path:  # `import app` must work however pytest was started
    sys.path.insert(0, str(ROOT))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def served_app() -> Iterator[tuple[str, object]]:
    """Launch `app.demo` (the model from ADDITION_MODEL, else the bundled one) on 127.0.0.1; yield (url, app)."""
    import app

    port = free_port()
    app.launch(app.demo, "127.0.0.1", port, block=False)
    try:
        yield f"http://127.0.0.1:{port}", app
    finally:
        app.demo.close()


@contextmanager
def error_log() -> Iterator[list[logging.LogRecord]]:
    """Every ERROR-level record logged in this process while the block runs (a traceback is one)."""

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    records: list[logging.LogRecord] = []
    handler = Collect(logging.ERROR)
    logging.getLogger().addHandler(handler)
    try:
        yield records
    finally:
        logging.getLogger().removeHandler(handler)
