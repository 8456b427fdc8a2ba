"""The "Train your own" tab: a visitor picks a small task and network and watches it learn, live.

The training runs in a subprocess (`python -m trainer.live`, niced and on one
thread, so answers to other visitors stay fast) that is started before it is
needed: warm, TensorFlow imported, waiting for its settings. It reports every
epoch; the page redraws the curves, the sample lines and the map of the task
each time. At most one training subprocess exists at any moment
(`TrainerProcessPool`; others wait in the queue); sizes and time are capped by
trainer.live's LIMITS; closing the page stops it. When it ends (target, time,
or Stop) the model joins that visitor's model picker, for every other tab, and
can be downloaded as a model folder. API clients get the same as a streaming endpoint, /train.
"""

from __future__ import annotations

import atexit
import base64
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
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import gradio as gr
import numpy as np
import pandas as pd

from model.serving import ServedModel
from model.storage import ModelLoadError, load_model_dir, process_alive
from trainer.live import LIMITS, LiveSettings, check_settings

from .html import CSS, esc
from .learning import epoch_plot, probe_picture
from .service import Service
from .work import client_of_request

ROOT = Path(__file__).resolve().parent.parent
log = logging.getLogger(__name__)
OPERATOR_CHOICES = [("+ add", "+"), ("− subtract", "-"), ("× multiply", "*")]
DECODER_CHOICES = [("RepeatVector (keras.io)", "repeat"), ("Attention", "attention")]
ANSWER_ORDER_CHOICES = [("most significant digit first", "msb"), ("units first", "lsb")]
SLOT_WAIT = 10.0  # seconds a training waits for the one trainer before it is refused (the queue orders them)
READY_WAIT = 120.0  # seconds a fresh trainer may take to import TensorFlow
OVERRUN = 30.0  # seconds past its budget after which a trainer that has not finished is killed
STDERR_LINES = 40  # the trainer's last stderr lines, logged when it fails
RUN_PREFIX = "arithmetic-own-"  # each training's temporary folder: arithmetic-own-<server pid>-<random>
TRAIN_CSS = """
.progress { height: 14px; border-radius: 7px; background: var(--background-fill-secondary); overflow: hidden; }
.progress i { display: block; height: 100%; background: #2563eb; transition: width 0.3s; }
.samples { font-family: ui-monospace, Menlo, Consolas, monospace; white-space: pre; font-size: 13px; }
"""


def spawn(command: list[str]) -> subprocess.Popen:
    """Start a child of the server with pipes to talk to it, without forking the server.

    No `preexec_fn` (nor anything else that needs Python code in the child): then Python starts the child
    with vfork and exec, and no copy of this multi-threaded process ever runs. A fork while a worker thread
    was inside OpenBLAS deadlocked the whole server (OpenBLAS's fork handler waits on its busy threads).
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


def settings_error(
    digits: Any,
    operators: Any,
    terms: Any,
    cell: Any,
    units: Any,
    seconds: Any,
    *,
    decoder: Any = None,
    answer_order: Any = None,
) -> str | None:
    """One sentence if the request is outside trainer.live's LIMITS (checked before anything starts), else None."""
    try:
        check_settings(_raw(digits, operators, terms, True, cell, units, seconds, decoder, answer_order))
    except ValueError as err:
        return str(err)
    return None


def _raw(
    digits: Any,
    operators: Any,
    terms: Any,
    reverse: Any,
    cell: Any,
    units: Any,
    seconds: Any,
    decoder: Any = None,
    answer_order: Any = None,
) -> dict:
    """The settings as trainer.live checks them; the newer choices left out when not given (None: an older
    client, or a raw call the guard padded with nulls), so they take LiveSettings' defaults."""
    raw = {
        "digits": digits,
        "operators": operators,
        "terms": terms,
        "reverse": reverse,
        "cell": cell,
        "units": units,
        "seconds": seconds,
    }
    later = {"decoder": decoder, "answer_order": answer_order}
    return raw | {name: value for name, value in later.items() if value is not None}


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
    decoder: Any = None,
    answer_order: Any = None,
    *,
    address: str = "",
) -> Iterator[dict]:
    """Run one live training for `session` at client `address`; yield its events (start, epoch…, done or
    error) as dicts, never a server path."""
    try:
        settings = check_settings(_raw(digits, operators, terms, reverse, cell, units, seconds, decoder, answer_order))
    except ValueError as err:
        yield {"event": "error", "message": str(err)}
        return
    process = TRAINER_POOL.take(session)
    if process is None:
        yield {"event": "error", "message": "Another training is running on this server; try again in a minute."}
        return
    run = Path(tempfile.mkdtemp(prefix=f"{RUN_PREFIX}{os.getpid()}-"))
    try:
        yield from _follow(service, (session, address), process, settings, run)
    finally:  # the page closed, Stop, or the end: never leave a training running
        TRAINER_POOL.give_back(session)
        if not any(run.glob("*.zip")):  # no model joined the visitor's picker: nothing of the run is kept
            shutil.rmtree(run, ignore_errors=True)


def _follow(
    service: Service, visitor: tuple[str, str], process: TrainerProcess, settings: LiveSettings, run: Path
) -> Iterator[dict]:
    """Hand the settings to the warm trainer and pass its events on until `done` or a failure."""
    ready = process.event(READY_WAIT)
    request = {"settings": vars(settings), "output": str(run / "model")}
    if ready is None or ready["event"] != "ready" or not process.send(json.dumps(request)):
        process.log_failure("the trainer did not start")
        yield {"event": "error", "message": "The trainer could not start; please try again in a minute."}
        return
    wait = READY_WAIT  # until the first epoch: building the network takes a few seconds
    while (event := process.event(wait)) is not None:
        kind = event.pop("event")
        folder = event.pop("folder", None)
        if kind == "start":
            wait = settings.seconds + OVERRUN
        if kind == "error":
            process.log_failure(f"the trainer refused or failed: {event.get('message', '')}")
            yield {"event": "error", "message": str(event.get("message", "The training failed."))}
            return
        if kind == "done":
            try:
                served = ServedModel("yours", load_model_dir(folder), "trained here")
            except (ModelLoadError, TypeError, OSError) as err:
                yield {"event": "error", "message": f"The trained model could not be loaded: {err}."}
                return
            event["model"] = service.own.add(served, owner=visitor[0], address=visitor[1])
            event["zip"] = shutil.make_archive(str(run / event["model"]), "zip", str(folder))
            yield {"event": "done", **event}
            return
        yield {"event": kind, **event}
    process.end()
    process.log_failure("the trainer stopped without finishing")
    yield {
        "event": "error",
        "message": "The trainer stopped before it finished (it may have run out of memory); nothing was saved.",
    }


def stop(session: str) -> str:
    if not TRAINER_POOL.stop(session):
        return '<div class="panel hint">No training of yours is running.</div>'
    return '<div class="panel">Stopping at the next batch; the model trained so far will be checked and saved…</div>'


def tab(service: Service, picker: Any) -> None:
    """The tab's controls and live outputs."""
    gr.Markdown(
        "Train a small network here and watch it learn: the curves, sample answers and the map of every "
        "question update after each epoch. One training runs at a time on this server."
    )
    default = LiveSettings()
    with gr.Row():
        digits = gr.Slider(
            *LIMITS["digits"],
            value=default.digits,
            step=1,
            label="Digits per number",
            elem_id="own-digits",
            min_width=160,
        )
        terms = gr.Slider(
            *LIMITS["terms"],
            value=default.terms,
            step=1,
            label="Numbers per question",
            elem_id="own-terms",
            min_width=160,
        )
        operators = gr.CheckboxGroup(OPERATOR_CHOICES, value=["+"], label="Operators", elem_id="own-ops", min_width=200)
    with gr.Row():
        cell = gr.Radio(
            [("LSTM", "lstm"), ("GRU", "gru"), ("SimpleRNN", "simple_rnn")],
            value="lstm",
            label="Cell",
            elem_id="own-cell",
            min_width=200,
        )
        units = gr.Slider(
            *LIMITS["units"], value=default.units, step=8, label="Units", elem_id="own-units", min_width=160
        )
        seconds = gr.Slider(
            *LIMITS["seconds"],
            value=default.seconds,
            step=5,
            label="Time budget (s), from the first epoch, final checks included",
            elem_id="own-seconds",
            min_width=160,
        )
        reverse = gr.Checkbox(True, label="Reverse the input", elem_id="own-reverse", min_width=140)
    with gr.Row():
        decoder = gr.Radio(
            DECODER_CHOICES,
            value=default.decoder,
            label="Decoder",
            info="RepeatVector hands every answer step one summary of the question; attention lets each step "
            "look back at every input character (it trains on the true previous character).",
            elem_id="own-decoder",
            min_width=240,
        )
        answer_order = gr.Radio(
            ANSWER_ORDER_CHOICES,
            value=default.answer_order,
            label="Answer written",
            info="Units first, each digit comes after the carry it needs; answers are always shown the usual way.",
            elem_id="own-answer-order",
            min_width=240,
        )
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

    def train(
        d: Any, ops: Any, t: Any, rev: Any, c: Any, u: Any, s: Any, dec: Any, order: Any, request: gr.Request
    ) -> Iterator[tuple]:
        rows: list[dict] = []
        axis: np.ndarray | None = None
        shown: list[Any] = [gr.skip(), "", ""]  # the chart (none until there is data), the map, the sample lines
        yield (
            _status(0, float(s or 0), "Preparing the questions and the network; the budget starts at the first epoch…"),
            *shown,
            gr.skip(),
            gr.DownloadButton(visible=False),
        )
        session, address = request.session_hash or "api", client_of_request(request)
        for event in train_events(service, session, d, ops, t, rev, c, u, s, dec, order, address=address):
            kind = event["event"]
            if kind == "error":
                yield (f'<div class="panel warn">{esc(event["message"])}</div>', *shown, gr.skip(), gr.skip())
                return
            if kind == "start":
                axis = np.array(event["axis"])
                text = "Training: the budget counts from the first epoch, the final checks included…"
                yield (_status(0, event["budget"], text), *shown, gr.skip(), gr.skip())
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
                text += f"; trained {event['seconds']:.0f}s of {event['budget']:.0f}s"
                if not event.get("map_saved", True):
                    text += " (the map of every question did not fit in the budget: its Map tab stays empty)"
                yield (
                    f'<div class="panel" id="own-done">{text}.</div>',
                    *shown,
                    gr.Dropdown(choices=[*service.names(), event["model"]], value=event["model"]),
                    gr.DownloadButton(value=event["zip"], visible=True),
                )

    # Start the trainer when a page opens, so that TensorFlow has loaded by the time Train is pressed.
    gr.on(None, TRAINER_POOL.warm_up, None, None, api_visibility="private", queue=False)

    inputs = [digits, operators, terms, reverse, cell, units, seconds, decoder, answer_order]
    start.click(
        train,
        inputs,
        [status, curves, picture, samples, picker, download],
        concurrency_limit=1,
        concurrency_id="train",
        api_visibility="private",
        api_name="train_page",
        trigger_mode="always_last",  # a click that lands while the last training's event is ending runs after it
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
        decoder: str | None = "repeat",
        answer_order: str | None = "msb",
        request: gr.Request | None = None,  # Gradio fills it in (it accepts Request or Optional[Request])
    ) -> Iterator[dict]:
        """Train a small model live: yields each epoch's figures, then the new model's name (use it as `model`
        in the other endpoints, for 30 minutes). decoder: "repeat" (keras.io) or "attention"; answer_order:
        "msb", or "lsb" (units digit first; per_position is then in that order). Both optional (null: the
        default), so older callers keep working."""
        ops = list(operators) if isinstance(operators, str) else operators
        session = getattr(request, "session_hash", None) or "api"
        for event in train_events(
            service,
            session,
            digits,
            ops,
            terms,
            reverse,
            cell,
            units,
            seconds,
            decoder,
            answer_order,
            address=client_of_request(request),
        ):
            event.pop("map", None)
            event.pop("zip", None)
            yield event

    gr.api(train_api, api_name="train", concurrency_limit=1, concurrency_id="train")


def _chart(rows: list[dict]) -> pd.DataFrame:
    """The curves' long table with fixed column types (an empty first frame must not make them categories)."""
    return pd.DataFrame(rows, columns=["epoch", "value", "series"]).astype({"epoch": int, "value": float})


def _status(elapsed: float, budget: float, text: str) -> str:
    """The progress bar and clock: seconds since the first epoch, never more than the budget."""
    elapsed = min(max(0.0, elapsed), budget)
    share = elapsed / budget if budget else 0.0
    left = budget - elapsed
    return (
        f'<div class="panel"><div class="progress"><i style="width:{100 * share:.0f}%"></i></div>'
        f"<div>{esc(text)} · {elapsed:.0f}s of {budget:.0f}s, at most {left:.0f}s left</div></div>"
    )
