"""Train your own: a live training in the launched app, through the API and in a real browser.

Trainings here are 1- and 2-digit sums with a few seconds of budget; each
must reach a real accuracy, stream its progress, and give a model that answers
in the other tabs. Also: sizes outside the caps are refused with one sentence,
a second training waits for the first, one visitor's model is invisible to
another, and closing the page stops the training process.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from app_fixtures import ROOT, free_port
from gradio_client import Client

CHROMIUM = Path("/usr/bin/chromium")


def live_trainings() -> list[int]:
    """Process ids of running `trainer.live` processes."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if b"trainer.live" in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


@pytest.fixture(scope="module")
def server(tmp_path_factory):
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
    yield url
    proc.terminate()
    proc.wait(timeout=30)


def train(client: Client, digits: int = 1, seconds: float = 8, units: int = 32) -> list[dict]:
    job = client.submit(digits, "+", 2, True, "lstm", units, seconds, api_name="/train")
    return [event for event in job if isinstance(event, dict)] or job.outputs()


@pytest.mark.parametrize(
    "args,phrase",
    [
        ((4, "+", 2, True, "lstm", 32, 10), "Digits must be 1, 2 or 3"),
        ((2, "/", 2, True, "lstm", 32, 10), "Choose at least one operator"),
        ((2, "+", 5, True, "lstm", 32, 10), "Numbers per question must be 2 or 3"),
        ((2, "+", 2, True, "transformer", 32, 10), "The cell must be"),
        ((2, "+", 2, True, "lstm", 4096, 10), "Units must be a whole number from 8 to 256"),
        ((2, "+", 2, True, "lstm", 32, 3600), "The time budget must be from 5 to 90 seconds"),
    ],
)
def test_requests_outside_the_caps_are_refused_before_anything_starts(server, args, phrase):
    before = live_trainings()
    events = Client(server, verbose=False).predict(*args, api_name="/train")
    events = events if isinstance(events, list) else [events]
    assert events[-1]["event"] == "error" and phrase in events[-1]["message"]
    assert live_trainings() == before


def test_a_live_training_learns_streams_and_its_model_answers(server):
    client = Client(server, verbose=False)
    events = client.submit(1, "+", 2, True, "lstm", 48, 12, api_name="/train")
    seen = [e for e in events if isinstance(e, dict)]
    final = events.outputs()[-1]
    epochs = [e for e in events.outputs() if isinstance(e, dict) and e.get("event") == "epoch"]
    assert len(epochs) >= 2, seen
    assert epochs[-1]["exact_match"] > epochs[0]["exact_match"]
    assert final["event"] == "done", final
    metrics = final["metrics"]
    assert metrics["exhaustive_total"] == 100 and metrics["exhaustive_wrong"] <= 20  # 1-digit sums, a few seconds
    name = final["model"]
    answer = client.predict("3+4", name, api_name="/predict")
    assert answer["error"] is None and answer["model"] == name
    other = Client(server, verbose=False)
    assert name not in [m["name"] for m in other.predict(api_name="/models")["models"]]
    assert not live_trainings()


def test_a_second_training_waits_for_the_first(server):
    times: dict[str, list[float]] = {"a": [], "b": []}

    def run(key: str) -> None:
        for event in Client(server, verbose=False).submit(1, "+", 2, True, "lstm", 16, 6, api_name="/train"):
            if isinstance(event, dict):
                times[key].append((time.monotonic(), event.get("event")))  # type: ignore[arg-type]

    first = threading.Thread(target=run, args=("a",))
    first.start()
    time.sleep(1.0)
    second = threading.Thread(target=run, args=("b",))
    second.start()
    first.join(180)
    second.join(180)
    done_a = max(t for t, kind in times["a"] if kind == "done")
    start_b = min(t for t, kind in times["b"] if kind == "start")
    assert start_b >= done_a - 0.5, "the second training started while the first was running"


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian Chromium (/usr/bin/chromium) is not installed")
def test_in_the_browser_the_curves_and_map_update_and_the_new_model_answers(server):
    from playwright.sync_api import sync_playwright

    artifacts = ROOT / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(120_000)
        page.goto(server, wait_until="domcontentloaded")
        page.get_by_role("tab", name="Train your own").click()
        page.locator("#own-seconds input[type=number]").fill("12")
        page.locator("#own-seconds input[type=number]").press("Enter")
        page.locator("#own-train").click()
        page.get_by_text("Epoch 1:").wait_for()
        first_map = page.locator("#own-map img").get_attribute("src")
        page.get_by_text("Epoch 2:").wait_for()
        assert page.locator("#own-map img").get_attribute("src") != first_map  # the map was redrawn
        page.screenshot(path=str(artifacts / "train-own-live.png"), full_page=True)
        page.locator("#own-done").wait_for()
        name = page.locator("#own-done b").inner_text()
        # Train again at once: the page must take the click, not ignore it while the first
        # trainer process is still exiting (it did: the event ended only when the process had).
        before = set(live_trainings())
        page.locator("#own-train").click()
        deadline = time.monotonic() + 60
        while not set(live_trainings()) - before and time.monotonic() < deadline:
            time.sleep(0.2)
        again = set(live_trainings()) - before
        assert again, "a Train pressed right after a training had ended did not start another"
        assert page.locator("#model-picker input").input_value() == name
        page.screenshot(path=str(artifacts / "train-own-done.png"), full_page=True)

        # The new model answers in the other tabs while the next one trains.
        page.get_by_role("tab", name="One question").click()
        page.locator("#question textarea, #question input").first.fill("35+12")
        page.locator("#predict-button").click()
        page.locator('#verdict [data-question="35+12"]').wait_for()
        assert name in page.locator("#model-line").inner_text()

        # Closing the page stops the training (12 s of budget after TensorFlow has loaded: still running).
        assert again <= set(live_trainings()), "the second training ended before the page was closed"
        page.close()
        deadline = time.monotonic() + 30
        while again & set(live_trainings()) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert not again & set(live_trainings()), "the training kept running after the page was closed"
        browser.close()
