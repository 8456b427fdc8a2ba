"""The app the Train-your-own tests train in: started once per module, stopped with Ctrl-C, no trainer left behind.

Also the ways the tests call it (`train` through gradio_client, `train_from` over raw HTTP from
a chosen client address), how they find the app's trainer processes, and the screenshot helper.
A test module imports the fixtures app_server, server and app_pid from here.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from app_fixtures import ROOT, free_port
from gradio_client import Client
from screenshots import record

CHROMIUM = Path("/usr/bin/chromium")


def live_trainings(parent: int) -> list[int]:
    """Process ids of the `trainer.live` processes the app with pid `parent` started (other runs on the
    machine have their own)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if b"trainer.live" not in (entry / "cmdline").read_bytes():
                    continue
                status = (entry / "status").read_text()
            except OSError:
                continue
            ppid = int(next(line.split()[1] for line in status.splitlines() if line.startswith("PPid:")))
            if ppid == parent:
                found.append(int(entry.name))
    return found


def set_slider(page, elem_id: str, value: str) -> None:
    """Type `value` into a slider's number box as a visitor does (type, Enter, leave the box), and wait until
    the slider itself shows it: only then is it the value the page sends with the next click."""
    from playwright.sync_api import expect

    box = page.locator(f"#{elem_id} input[type=number]")
    box.fill(value)
    box.press("Enter")
    box.blur()
    expect(page.locator(f"#{elem_id} input[type=range]")).to_have_value(value)


def wait_for(condition, seconds: float, step: float = 0.1):
    deadline = time.monotonic() + seconds
    while not (result := condition()) and time.monotonic() < deadline:
        time.sleep(step)
    return result


@pytest.fixture(scope="module", name="app_server")
def app_server_fixture(tmp_path_factory):
    """(url, app process, log path); at the end, the app is stopped and no trainer it started may be left."""
    port = free_port()
    log = tmp_path_factory.mktemp("own") / "app.log"
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONUNBUFFERED": "1"}
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, "app.py", "--port", str(port)], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while True:
        try:
            urllib.request.urlopen(url, timeout=2)
            break
        except OSError:
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.3)
    yield url, proc, log
    trainers = live_trainings(proc.pid)
    proc.send_signal(signal.SIGINT)  # as Ctrl-C does
    try:
        proc.wait(timeout=60)  # Gradio's shutdown lets open streams end first; on a loaded machine that can take long
    except subprocess.TimeoutExpired:
        proc.terminate()
        proc.wait(timeout=30)
    left = wait_for(lambda: [pid for pid in trainers if Path(f"/proc/{pid}").exists()] == [], 30)
    for pid in trainers:  # never leave one behind, even when the check below fails
        if Path(f"/proc/{pid}").exists():
            os.kill(pid, signal.SIGKILL)
    assert left, f"trainer processes {trainers} outlived the app"


@pytest.fixture(scope="module", name="server")
def server_fixture(app_server):
    return app_server[0]


@pytest.fixture(scope="module", name="app_pid")
def app_pid_fixture(app_server):
    return app_server[1].pid


def train(client: Client, digits: int = 1, seconds: float = 6, units: int = 32) -> list[dict]:
    job = client.submit(digits, "+", 2, True, "lstm", units, seconds, api_name="/train")
    return [event for event in job if isinstance(event, dict)] or job.outputs()


def train_from(server: str, source: str, settings: list) -> list[tuple[float, str]]:
    """A /train call from the client address `source`, over raw HTTP: (time, kind) of each event it streams."""
    host, port = server.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=180, source_address=(source, 0))
    conn.request("POST", "/gradio_api/call/train", json.dumps({"data": settings}), {"Content-Type": "application/json"})
    answer = conn.getresponse()
    assert answer.status == 200, answer.read()
    event_id = json.loads(answer.read())["event_id"]
    conn.request("GET", f"/gradio_api/call/train/{event_id}")
    seen = []
    for line in conn.getresponse():
        if line.startswith(b"data:") and (values := json.loads(line[5:])) and isinstance(values, list):
            seen += [(time.monotonic(), event.get("event")) for event in values if isinstance(event, dict)]
    conn.close()
    return seen


def shot(page, artifacts: Path, name: str, what: str) -> None:
    """A full-page screenshot into test-artifacts/ (and docs/ with ADDITION_SCREENSHOTS=docs: tests/screenshots.py)
    of a model trained here, so no zoo model's fingerprint goes with it."""
    png = page.screenshot(full_page=True, animations="disabled")
    (artifacts / name).write_bytes(png)
    record(
        png, name, [], f"{what} (made by tests/test_train_own.py: a model trained live in the test, not one of the zoo)"
    )
