"""The server starts its children (the warm trainer) without forking itself.

A fork of the multi-threaded server while a request thread was inside OpenBLAS
deadlocked it for good: OpenBLAS's fork handler waits on its busy threads. Here
a process does what the server does at its busiest, several threads multiplying
matrices on a multi-threaded BLAS, and starts 150 children through the app's own
`web.trainer_process.spawn`; with a fork (a `preexec_fn`) this hung within about 100.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
from app_fixtures import ROOT

pytestmark = pytest.mark.slow  # processes started under load

STARTS = 150

BUSY_SERVER = textwrap.dedent(
    f"""
    import os, sys, threading
    import numpy as np
    from threadpoolctl import threadpool_limits
    from web.trainer_process import spawn

    threadpool_limits(limits=4, user_api="blas")  # a BLAS thread pool, as numpy has before the app limits it
    busy = True

    def multiply():
        a = np.random.default_rng(0).random((300, 300))
        while busy:
            a @ a

    for _ in range(6):
        threading.Thread(target=multiply, daemon=True).start()
    for started in range(1, {STARTS} + 1):
        child = spawn([sys.executable, "-S", "-c", "pass"])
        child.communicate()
    print("started", started, flush=True)
    busy = False
    os._exit(0)
    """
)


def test_starting_children_while_threads_use_blas_never_hangs():
    done = subprocess.run(
        [sys.executable, "-c", BUSY_SERVER], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0 and f"started {STARTS}" in done.stdout, done.stderr[-2000:]


def test_the_app_runs_numpy_on_one_blas_thread():
    """The app's own limit: its matrices are small, and a process with no BLAS threads has none to deadlock."""
    code = (
        "import app\nfrom threadpoolctl import threadpool_info\n"
        "print(sorted({p['num_threads'] for p in threadpool_info() if p['user_api'] == 'blas'}))"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert done.stdout.strip().splitlines()[-1] == "[1]", done.stderr[-2000:]
