"""The "Train your own" tab: a visitor picks a small task and network and watches it learn, live.

The training runs in a subprocess (`python -m trainer.live`, niced and on one
thread, so answers to other visitors stay fast) and reports every epoch; the
page redraws the curves, the sample lines and the map of the task each time.
One training runs at a time (others see their place in the queue); sizes and
time are capped; closing the page stops it. When it ends (target, time, or
Stop) the model joins that visitor's model picker, for every other tab, and can
be downloaded as a model folder. API clients get the same as a streaming
endpoint, /train.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gradio as gr
import numpy as np
import pandas as pd

from model.serving import ServedModel
from model.storage import ModelLoadError, load_model_dir

from .html import CSS, esc
from .learning import epoch_plot, probe_picture
from .service import Service

ROOT = Path(__file__).resolve().parent.parent
OPERATOR_CHOICES = [("+ add", "+"), ("− subtract", "-"), ("× multiply", "*")]
RUNS: dict[str, Path] = {}  # session -> the stop file of its training
RUNS_LOCK = threading.Lock()
# At most one training subprocess exists at any moment, however a call arrives (the queue's limit of one
# is the usual guard; this holds even for a call that went around it). A slot freed a moment ago (the
# last run's process still exiting) is waited for briefly.
TRAINING_SLOT = threading.Lock()
SLOT_WAIT_S = 15
TRAIN_CSS = """
.progress { height: 14px; border-radius: 7px; background: var(--background-fill-secondary); overflow: hidden; }
.progress i { display: block; height: 100%; background: #2563eb; transition: width 0.3s; }
.samples { font-family: ui-monospace, Menlo, Consolas, monospace; white-space: pre; font-size: 13px; }
"""


def settings_error(digits: Any, operators: Any, terms: Any, cell: Any, units: Any, seconds: Any) -> str | None:
    """One sentence if the request is outside the caps (checked before anything starts), else None."""

    def whole(value: Any, low: int, high: int) -> bool:
        return (
            isinstance(value, (int, float))
            and not isinstance(value, bool)
            and float(value).is_integer()
            and low <= value <= high
        )

    if not whole(digits, 1, 3):
        return "Digits must be 1, 2 or 3."
    if not isinstance(operators, list) or not operators or not set(operators) <= {"+", "-", "*"}:
        return "Choose at least one operator: +, - or *."
    if not whole(terms, 2, 3):
        return "Numbers per question must be 2 or 3."
    if cell not in ("lstm", "gru", "simple_rnn"):
        return "The cell must be lstm, gru or simple_rnn."
    if not whole(units, 8, 256):
        return "Units must be a whole number from 8 to 256."
    if not whole(seconds, 5, 90):
        return "The time budget must be from 5 to 90 seconds."
    return None


def train_events(
    service: Service,
    session: str,
    digits: Any,
    operators: Any,
    terms: Any,
    reverse: Any,
    cell: Any,
    units: Any,
    seconds: Any,
) -> Iterator[dict]:
    """Run one live training; yield its events (start, epoch…, done or error) as dicts."""
    problem = settings_error(digits, operators, terms, cell, units, seconds)
    if problem:
        yield {"event": "error", "message": problem}
        return
    if not TRAINING_SLOT.acquire(timeout=SLOT_WAIT_S):
        yield {"event": "error", "message": "Another training is running; please try again when it ends."}
        return
    try:
        yield from _train_in_slot(service, session, digits, operators, terms, reverse, cell, units, seconds)
    finally:
        TRAINING_SLOT.release()


def _train_in_slot(
    service: Service,
    session: str,
    digits: Any,
    operators: Any,
    terms: Any,
    reverse: Any,
    cell: Any,
    units: Any,
    seconds: Any,
) -> Iterator[dict]:
    """train_events' work, run while holding TRAINING_SLOT."""
    run = Path(tempfile.mkdtemp(prefix="arithmetic-own-"))
    stop_file = run / "stop"
    ops = "".join(op for op in "+-*" if op in operators)
    command = [
        sys.executable,
        "-m",
        "trainer.live",
        "--digits",
        str(int(digits)),
        "--terms",
        str(int(terms)),
        "--operators",
        ops,
        "--reverse" if reverse else "--no-reverse",
        "--cell",
        cell,
        "--units",
        str(int(units)),
        "--seconds",
        str(float(seconds)),
        "--output",
        str(run / "model"),
        "--stop-file",
        str(stop_file),
    ]
    proc = subprocess.Popen(
        command,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        preexec_fn=lambda: os.nice(10),
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    with RUNS_LOCK:
        RUNS[session] = stop_file
    finished = False
    try:
        for line in proc.stdout:  # type: ignore[union-attr]
            event = json.loads(line)
            if event["event"] == "done":
                try:
                    served = ServedModel("yours", load_model_dir(event["folder"]), "trained here")
                except ModelLoadError as err:
                    yield {"event": "error", "message": f"The trained model could not be loaded: {err}."}
                    return
                event["model"] = service.own.add(served)
                event["zip"] = shutil.make_archive(str(run / event["model"]), "zip", event["folder"])
                finished = True
            yield event
            if finished:
                # "done" is the trainer's last line; what is left is its exit (a second or more while
                # TensorFlow tears down). End the event now: until it ends, the page ignores a new Train.
                return
    finally:  # the page closed, Stop, or the end: never leave a training running
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        with RUNS_LOCK:
            RUNS.pop(session, None)
        if not finished:
            shutil.rmtree(run, ignore_errors=True)


def stop(session: str) -> str:
    with RUNS_LOCK:
        stop_file = RUNS.get(session)
    if stop_file is None:
        return '<div class="panel hint">No training of yours is running.</div>'
    stop_file.touch()
    return '<div class="panel">Stopping after this epoch; the model trained so far will be saved…</div>'


def tab(service: Service, picker: Any) -> None:
    """The tab's controls and live outputs."""
    gr.Markdown(
        "Train a small network here and watch it learn: the curves, sample answers and the map of every "
        "question update after each epoch. One training runs at a time on this server."
    )
    with gr.Row():
        digits = gr.Slider(1, 3, value=2, step=1, label="Digits per number", elem_id="own-digits", min_width=160)
        terms = gr.Slider(2, 3, value=2, step=1, label="Numbers per question", elem_id="own-terms", min_width=160)
        operators = gr.CheckboxGroup(OPERATOR_CHOICES, value=["+"], label="Operators", elem_id="own-ops", min_width=200)
    with gr.Row():
        cell = gr.Radio(
            [("LSTM", "lstm"), ("GRU", "gru"), ("SimpleRNN", "simple_rnn")],
            value="lstm",
            label="Cell",
            elem_id="own-cell",
            min_width=200,
        )
        units = gr.Slider(8, 256, value=64, step=8, label="Units", elem_id="own-units", min_width=160)
        seconds = gr.Slider(5, 90, value=30, step=5, label="Time budget (s)", elem_id="own-seconds", min_width=160)
        reverse = gr.Checkbox(True, label="Reverse the input", elem_id="own-reverse", min_width=140)
    with gr.Row():
        start = gr.Button("Train", variant="primary", elem_id="own-train", min_width=120)
        halt = gr.Button("Stop", elem_id="own-stop", min_width=120)
        download = gr.DownloadButton(
            "Download the model folder (.zip)", visible=False, elem_id="own-download", min_width=200
        )
    status = gr.HTML(
        '<div class="panel hint">Choose a task and press Train.</div>',
        elem_id="own-status",
        css_template=CSS + TRAIN_CSS,
    )
    with gr.Row():
        curves = epoch_plot("Held-out exact match and wrong on the map", "%", "own-curves", min_width=300)
        picture = gr.HTML(elem_id="own-map", css_template=CSS)
    samples = gr.HTML(elem_id="own-samples", css_template=CSS + TRAIN_CSS)

    def train(d: Any, ops: Any, t: Any, rev: Any, c: Any, u: Any, s: Any, request: gr.Request) -> Iterator[tuple]:
        rows: list[dict] = []
        axis: np.ndarray | None = None
        shown: list[Any] = [gr.skip(), "", ""]  # the chart (none until there is data), the map, the sample lines
        yield (
            _status(0, float(s or 0), "Starting the trainer (TensorFlow takes a few seconds to load)…"),
            *shown,
            gr.skip(),
            gr.DownloadButton(visible=False),
        )
        for event in train_events(service, request.session_hash or "api", d, ops, t, rev, c, u, s):
            kind = event["event"]
            if kind == "error":
                yield (f'<div class="panel warn">{esc(event["message"])}</div>', *shown, gr.skip(), gr.skip())
                return
            if kind == "start":
                axis = np.array(event["axis"])
            elif kind == "epoch" and axis is not None:
                rows += [
                    {"epoch": event["epoch"], "value": 100 * event["exact_match"], "series": "held-out exact %"},
                    {
                        "epoch": event["epoch"],
                        "value": 100 * event["wrong_on_map"] / len(axis) ** 2,
                        "series": "wrong on the map %",
                    },
                ]
                margins = np.frombuffer(base64.b64decode(event["map"]), np.uint8)
                shown = [
                    _chart(rows),
                    probe_picture(margins.reshape(len(axis), len(axis)), axis, f"after epoch {event['epoch']}"),
                    f'<div class="panel samples">{esc(chr(10).join(event["samples"]))}</div>',
                ]
                text = (
                    f"Epoch {event['epoch']}: loss {event['loss']:.3f}, held-out exact "
                    f"{100 * event['exact_match']:.1f}%, {event['wrong_on_map']:,} wrong on the map"
                )
                yield (_status(event["seconds"], event["budget"], text), *shown, gr.skip(), gr.skip())
            elif kind == "done":
                metrics = event["metrics"]
                text = (
                    f"Done ({esc(event['reason'])}): <b>{esc(event['model'])}</b> is now in your model picker "
                    f"for every tab; held-out exact {100 * metrics['heldout_exact_match']:.1f}%"
                )
                if "exhaustive_wrong" in metrics:
                    text += f", {metrics['exhaustive_wrong']:,} wrong of all {metrics['exhaustive_total']:,} questions"
                yield (
                    f'<div class="panel" id="own-done">{text}.</div>',
                    *shown,
                    gr.Dropdown(choices=[*service.names(), event["model"]], value=event["model"]),
                    gr.DownloadButton(value=event["zip"], visible=True),
                )

    inputs = [digits, operators, terms, reverse, cell, units, seconds]
    start.click(
        train,
        inputs,
        [status, curves, picture, samples, picker, download],
        concurrency_limit=1,
        concurrency_id="train",
        api_visibility="private",
        api_name="train_page",
    )

    def stop_mine(request: gr.Request) -> str:
        return stop(request.session_hash or "")

    halt.click(stop_mine, None, status, api_visibility="private", queue=False)

    def train_api(
        digits: int = 2,
        operators: str = "+",
        terms: int = 2,
        reverse: bool = True,
        cell: str = "lstm",
        units: int = 64,
        seconds: float = 30,
        request: gr.Request | None = None,  # Gradio fills it in (it accepts Request or Optional[Request])
    ) -> Iterator[dict]:
        """Train a small model live: yields each epoch's figures, then the new model's name (use it as `model`
        in the other endpoints, for 30 minutes)."""
        ops = list(operators) if isinstance(operators, str) else operators
        for event in train_events(
            service, getattr(request, "session_hash", None) or "api", digits, ops, terms, reverse, cell, units, seconds
        ):
            event.pop("map", None)
            event.pop("zip", None)
            yield event

    gr.api(train_api, api_name="train", concurrency_limit=1, concurrency_id="train")


def _chart(rows: list[dict]) -> pd.DataFrame:
    """The curves' long table with fixed column types (an empty first frame must not make them categories)."""
    return pd.DataFrame(rows, columns=["epoch", "value", "series"]).astype({"epoch": int, "value": float})


def _status(elapsed: float, budget: float, text: str) -> str:
    share = min(1.0, elapsed / budget) if budget else 0.0
    left = max(0.0, budget - elapsed)
    return (
        f'<div class="panel"><div class="progress"><i style="width:{100 * share:.0f}%"></i></div>'
        f"<div>{esc(text)} · {elapsed:.0f}s of {budget:.0f}s, at most {left:.0f}s left</div></div>"
    )
