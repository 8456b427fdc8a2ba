"""The server's one trainer process: a `python -m trainer.live --warm` child, started before a visitor needs it.

The child imports TensorFlow while it waits for its settings, so a training
starts at once. At most one exists at any moment (`TrainerProcessPool`, a pool
of one slot): a training takes it, and when the training ends it is killed and
the next warm one is started. Run folders that ended servers left behind are
removed when the pool is made.
"""

from __future__ import annotations

import atexit
import collections
import json
import logging
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import IO, Any

from model.storage import process_alive

ROOT = Path(__file__).resolve().parent.parent
log = logging.getLogger(__name__)
SLOT_WAIT = 10.0  # seconds a training waits for the one trainer before it is refused (the queue orders them)
STDERR_LINES = 40  # the trainer's last stderr lines, logged when it fails
RUN_PREFIX = "arithmetic-own-"  # each training's temporary folder: arithmetic-own-<server pid>-<random>


def spawn(command: list[str]) -> subprocess.Popen:
    """Start a child of the server with pipes to talk to it, without forking the server.

    No `preexec_fn` (nor anything else that needs Python code in the child): then Python starts the child
    with vfork and exec, and no copy of this multi-threaded process ever runs. A fork while a worker thread
    is inside OpenBLAS deadlocks the whole server (OpenBLAS's fork handler waits on its busy threads).
    Whatever the child should be (niced, one thread) it makes itself: `trainer.live --warm` does.
    """
    return subprocess.Popen(
        command,
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONUNBUFFERED": "1"},
    )


class TrainerProcess:
    """One `python -m trainer.live --warm` child: its event lines in a queue, its stderr's tail kept for the log."""

    def __init__(self) -> None:
        self.proc = spawn([sys.executable, "-m", "trainer.live", "--warm"])
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.stderr: collections.deque[str] = collections.deque(maxlen=STDERR_LINES)
        self._drain(self.proc.stdout, self.lines.put)
        self._drain(self.proc.stderr, lambda line: self.stderr.append(line[:500]) if line else None)

    @staticmethod
    def _drain(stream: IO[str] | None, keep: Any) -> None:
        def read() -> None:
            assert stream is not None
            for line in iter(lambda: stream.readline(1_000_000), ""):
                keep(line)
            keep(None)  # end of output

        threading.Thread(target=read, daemon=True, name="trainer-output").start()

    def event(self, timeout: float) -> dict | None:
        """The next event, or None when the process has ended its output or sent nothing for `timeout` s."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                return None
            if line is None:
                return None
            try:
                event = json.loads(line)
            except ValueError:
                event = None
            if isinstance(event, dict) and isinstance(event.get("event"), str):
                return event
            log.warning("trainer.live printed a line that is not an event: %.200s", line)
        return None

    def send(self, line: str) -> bool:
        try:
            assert self.proc.stdin is not None
            self.proc.stdin.write(line + "\n")
            self.proc.stdin.flush()
            return True
        except (OSError, ValueError):  # it has exited: the caller reports that
            return False

    def end(self) -> int:
        """Kill it (its folder, if any, is already written) and wait: no process is left behind."""
        if self.proc.poll() is None:
            self.proc.kill()
        return self.proc.wait()

    def log_failure(self, why: str) -> None:
        tail = "".join(self.stderr).strip()
        log.warning(
            "Train your own: %s (exit status %s)%s", why, self.proc.poll(), f"; its stderr:\n{tail}" * bool(tail)
        )


def remove_runs_of_gone_servers() -> None:
    """Delete the visitors' run folders (models, zips) that app processes which have ended left behind: their
    models were only ever served by that process. A server that is still running keeps its own."""
    for run in Path(tempfile.gettempdir()).glob(f"{RUN_PREFIX}*-*"):
        pid = run.name.removeprefix(RUN_PREFIX).split("-", 1)[0]
        if pid.isdigit() and not process_alive(int(pid)):
            shutil.rmtree(run, ignore_errors=True)


class TrainerProcessPool:
    """This server's one-slot pool of trainer processes: at most one exists at any moment, warm before a
    visitor needs it.

    `warm_up` starts one if none exists; `training` hands it to one visitor (the slot: one at a time, whatever
    route the request came by), and afterwards kills it and starts the next warm one.
    """

    def __init__(self) -> None:
        remove_runs_of_gone_servers()
        self.slot = threading.Lock()  # held for a whole training
        self.lock = threading.Lock()  # guards `process`
        self.process: TrainerProcess | None = None
        self.running: dict[str, TrainerProcess] = {}  # session -> its training, for Stop

    def warm_up(self) -> None:
        with self.lock:
            if (
                self.process is not None
                and self.process.proc.poll() is not None
                and self.process not in self.running.values()
            ):
                self.process.end()  # it died while waiting (killed, out of memory): reap it, start another
                self.process = None
            if self.process is None:
                self.process = TrainerProcess()

    def take(self, session: str) -> TrainerProcess | None:
        """The warm trainer for one training, or None if another training holds the slot for too long."""
        if not self.slot.acquire(timeout=SLOT_WAIT):
            return None
        self.warm_up()
        with self.lock:
            assert self.process is not None
            self.running[session] = self.process
            return self.process

    def give_back(self, session: str) -> None:
        """End the used trainer, start the next warm one, free the slot."""
        with self.lock:
            used, self.process = self.process, None
            self.running.pop(session, None)
            if used is not None:
                used.end()
        try:
            self.warm_up()
        finally:
            self.slot.release()

    def stop(self, session: str) -> bool:
        with self.lock:
            process = self.running.get(session)
        return process is not None and process.send("stop")

    def close(self) -> None:
        """At exit: no trainer outlives the app (a warm one also exits by itself when its stdin closes)."""
        with self.lock:
            if self.process is not None:
                self.process.end()
                self.process = None


TRAINER_POOL = TrainerProcessPool()
atexit.register(TRAINER_POOL.close)
