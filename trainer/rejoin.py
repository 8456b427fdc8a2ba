"""A worker of a multi-worker run that lost another starts itself again, to wait for it and continue.

TensorFlow cannot go on in a process whose collectives were aborted ("Restart
your program to reset"), so the worker replaces itself (os.execv) with the same
command: the new process waits for every worker to join, and they all continue
from the last epoch each of them saved (distribute.agree_where_to_start). The
waiting is bounded: `--connect-timeout` seconds from the first try, at most
MAX_REJOINS restarts in one run. Two environment variables carry the count and
the clock across the restart.
"""

from __future__ import annotations

import os
import sys
import time

MAX_REJOINS = 5
COUNT = "TRAINER_REJOINS"
SINCE = "TRAINER_JOINING_SINCE"
RETRY_PAUSE = 2.0  # seconds between tries to join: a restarted peer's old connections need a moment to close


def start_clock() -> None:
    """The join deadline counts from this worker's first start (kept across restarts)."""
    os.environ.setdefault(SINCE, str(time.time()))


def seconds_left(timeout: float) -> float:
    """Of `timeout`, the seconds left since this worker began trying to join (the start, or the last loss)."""
    since = float(os.environ.get(SINCE, time.time()))
    return max(0.0, timeout - (time.time() - since))


def again(why: str, lost_worker: bool) -> None:
    """Replace this process with the same command; return instead when a lost worker has already made it
    restart MAX_REJOINS times. A failed try to join keeps the deadline's clock; a lost worker restarts it."""
    if lost_worker:
        count = int(os.environ.get(COUNT, "0"))
        if count >= MAX_REJOINS:
            return
        os.environ[COUNT] = str(count + 1)
        os.environ[SINCE] = str(time.time())
    print(f"Worker: {why}; starting again to wait for every worker and continue from the last saved epoch.", flush=True)
    sys.stderr.flush()
    time.sleep(RETRY_PAUSE)
    os.execv(sys.executable, [sys.executable, "-m", "trainer", *sys.argv[1:]])
