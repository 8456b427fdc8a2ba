"""The "Train your own" tab: a visitor picks a small task and network and watches it learn, live.

The training runs in the server's one warm trainer process
(web/trainer_process.py; other trainings wait in the queue), niced and on one
thread so answers to other visitors stay fast; web/training_run.py runs it and
passes its events on. It reports every epoch; the page redraws the curves, the
sample lines and the map of the task each time. Sizes and time are capped by
trainer.live_settings's LIMITS; closing the page stops it. When it ends (target, time,
or Stop) the model joins that visitor's model picker, for every other tab, and
can be downloaded as a model folder. API clients get the same as a streaming
endpoint, /train.
"""

from __future__ import annotations

import base64
import inspect
from collections.abc import Iterator
from typing import Any

import gradio as gr
import numpy as np
import pandas as pd
from markupsafe import Markup

from trainer.live_settings import LIMITS, LiveSettings

from .html import CSS, message
from .learning import epoch_plot, probe_picture
from .own_link import open_link, reopen_link
from .own_settings import api_doc, more_settings
from .picker import picker_choices
from .service import Service
from .templates import template
from .trainer_process import TRAINER_POOL
from .training_run import train_events
from .work import client_of_request

OPERATOR_CHOICES = [("+ add", "+"), ("− subtract", "-"), ("× multiply", "*")]
DECODER_CHOICES = [("RepeatVector (keras.io)", "repeat"), ("Attention", "attention")]
ANSWER_ORDER_CHOICES = [("most significant digit first", "msb"), ("units first", "lsb")]
TRAIN_CSS = """
.progress { height: 14px; border-radius: 7px; background: var(--background-fill-secondary); overflow: hidden; }
.progress i { display: block; height: 100%; background: #2563eb; transition: width 0.3s; }
.samples { font-family: ui-monospace, Menlo, Consolas, monospace; white-space: pre; font-size: 13px; }
"""


_PANEL = template('<div class="panel">{{ text }}</div>')


def stop(session: str) -> Markup:
    if not TRAINER_POOL.stop(session):
        return message("No training of yours is running.")
    return _PANEL(text="Stopping at the next batch; the model trained so far will be checked and saved…")


def tab(service: Service, picker: Any, pair: tuple[Any, Any], note: Any) -> None:
    """The tab's controls and live outputs. A finished model joins the model `picker` and Compare's `pair` (A
    and B); a page opened with `?model=<name>` shows that model everywhere, or says in `note` that there is
    none of that name."""
    model_a, model_b = pair
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
    seed, rate, batch = more_settings(default)
    with gr.Row():
        start = gr.Button("Train", variant="primary", elem_id="own-train", min_width=120)
        halt = gr.Button("Stop", elem_id="own-stop", min_width=120)
        download = gr.DownloadButton(
            "Download the model folder (.zip)", visible=False, elem_id="own-download", min_width=200
        )
    status = gr.HTML(
        message("Choose a task and press Train."),
        elem_id="own-status",
        css_template=CSS + TRAIN_CSS,
    )
    with gr.Row():
        curves = epoch_plot("Held-out exact match and wrong on the map", "%", "own-curves", min_width=300)
        picture = gr.HTML(elem_id="own-map", css_template=CSS)
    samples = gr.HTML(elem_id="own-samples", css_template=CSS + TRAIN_CSS)

    def train_page(
        d: Any,
        ops: Any,
        t: Any,
        rev: Any,
        c: Any,
        u: Any,
        s: Any,
        dec: Any,
        order: Any,
        seed: Any,
        rate: Any,
        batch: Any,
        request: gr.Request,
    ) -> Iterator[tuple]:
        rows: list[dict] = []
        unchanged = (gr.skip(), gr.skip())  # Compare's A and B: they change only when a model is done
        axis: np.ndarray | None = None
        shown: list[Any] = [gr.skip(), "", ""]  # the chart (none until there is data), the map, the sample lines
        yield (
            _status(0, float(s or 0), "Preparing the questions and the network; the budget starts at the first epoch…"),
            *shown,
            gr.skip(),
            gr.DownloadButton(visible=False),
            *unchanged,
        )
        session, address = request.session_hash or "api", client_of_request(request)
        later = (dec, order, seed, rate, batch)
        for event in train_events(service, session, d, ops, t, rev, c, u, s, *later, address=address):
            kind = event["event"]
            if kind == "error":
                yield (message(event["message"], "warn"), *shown, gr.skip(), gr.skip(), *unchanged)
                return
            if kind == "start":
                axis = np.array(event["axis"])
                given = event["training"]  # what the engine was given, so the visitor sees their settings took
                text = (
                    f"Training (seed {given['seed']}, learning rate {given['learning_rate']:g}, batch "
                    f"{given['batch_size']}): the budget counts from the first epoch, the final checks included…"
                )
                yield (_status(0, event["budget"], text), *shown, gr.skip(), gr.skip(), *unchanged)
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
                    message("\n".join(event["sample_lines"]), "samples"),
                ]
                text = (
                    f"Epoch {event['epoch']}: loss {event['loss']:.3f}, held-out exact "
                    f"{100 * event['exact_match']:.1f}%, {event['wrong_on_map']:,} wrong on the map"
                )
                yield (_status(event["seconds"], event["budget"], text), *shown, gr.skip(), gr.skip(), *unchanged)
            elif kind == "done":
                # Every picker offers this session's kept models (a newer one may have pushed out the oldest).
                own = service.own.names_of(session)
                choices = [*service.names(), *own]
                yield (
                    done_html(event),
                    *shown,
                    gr.Dropdown(choices=picker_choices(service, own), value=event["model"]),
                    gr.DownloadButton(value=event["zip"], visible=True),
                    gr.Dropdown(choices=choices),
                    gr.Dropdown(choices=choices),
                )

    # Start the trainer when a page opens, so that TensorFlow has loaded by the time Train is pressed.
    gr.on(None, TRAINER_POOL.warm_up, None, None, api_visibility="private", queue=False)

    inputs = [digits, operators, terms, reverse, cell, units, seconds, decoder, answer_order, seed, rate, batch]
    start.click(
        train_page,
        inputs,
        [status, curves, picture, samples, picker, download, model_a, model_b],
        concurrency_limit=1,
        concurrency_id="train",
        api_visibility="private",
        api_name="train_page",
        trigger_mode="always_last",  # a click that lands while the last training's event is ending runs after it
    )

    # A page opened with ?model=<name> (the link a finished training shows): that model in every picker.
    def opened(request: gr.Request) -> tuple:
        return open_link(service, request.query_params.get("model"), request.session_hash or "")

    gr.on(
        None,
        opened,
        None,
        [picker, model_a, model_b, status, note],
        api_visibility="private",
        queue=False,
    )

    def stop_mine(request: gr.Request) -> str:
        return stop(request.session_hash or "")

    halt.click(stop_mine, None, status, api_visibility="private", queue=False)

    def train(  # the MCP tool takes its name from the function
        digits: int = 2,
        operators: str = "+",
        terms: int = 2,
        reverse: bool = True,
        cell: str = "lstm",
        units: int = 64,
        seconds: float = 30,
        decoder: str | None = "repeat",
        answer_order: str | None = "msb",
        seed: int | None = default.seed,
        learning_rate: float | None = default.learning_rate,
        batch_size: int | None = default.batch_size,
        request: gr.Request | None = None,  # Gradio fills it in (it accepts Request or Optional[Request])
    ) -> Iterator[dict]:
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
            seed,
            learning_rate,
            batch_size,
            address=client_of_request(request),
        ):
            event.pop("map", None)
            event.pop("zip", None)
            yield event

    # Gradio documents a function by its type hints: each event is one JSON object, so say dict (it reads a
    # generator's Iterator[dict] as Any), with the hints resolved (this module postpones annotations).
    train.__doc__ = api_doc(train)
    train.__signature__ = inspect.signature(train, eval_str=True).replace(  # type: ignore[attr-defined]
        return_annotation=dict
    )
    gr.api(train, api_name="train", concurrency_limit=1, concurrency_id="train")


def _chart(rows: list[dict]) -> pd.DataFrame:
    """The curves' long table with fixed column types (an empty first frame must not make them categories)."""
    return pd.DataFrame(rows, columns=["epoch", "value", "series"]).astype({"epoch": int, "value": float})


_STATUS = template(
    '<div class="panel"><div class="progress"><i style="width:{{ share }}%"></i></div>'
    "<div>{{ text }} · {{ elapsed }}s of {{ budget }}s, at most {{ left }}s left</div></div>"
)


def _status(elapsed: float, budget: float, text: str) -> Markup:
    """The progress bar and clock: seconds since the first epoch, never more than the budget."""
    elapsed = min(max(0.0, elapsed), budget)
    share = elapsed / budget if budget else 0.0
    left = budget - elapsed
    return _STATUS(
        share=f"{100 * share:.0f}", text=text, elapsed=f"{elapsed:.0f}", budget=f"{budget:.0f}", left=f"{left:.0f}"
    )


_DONE = template(
    '<div class="panel" id="own-done">Done ({{ reason }}): <b>{{ model }}</b> is now in your model picker for every '
    "tab and in Compare, and {{ link }}; held-out exact {{ exact }}%"
    "{% if wrong is not none %}, {{ wrong }} wrong of all {{ total }} questions"
    "{% endif %}; training took {{ trained }} s (the figure its model page shows), and with the final checks "
    "{{ seconds }} s of the {{ budget }} s budget were used"
    "{% if given %} (seed {{ given.seed }}, learning rate {{ rate }}, batch {{ given.batch_size }}){% endif %}"
    "{% if not map_saved %} (the map of every question did not fit in the budget: its Map tab stays empty){% endif %}"
    ".</div>"
)


def done_html(event: dict) -> Markup:
    """The line that ends a training: why it stopped, the new model's name, and how well it does."""
    metrics = event["metrics"]
    exhaustive = "exhaustive_wrong" in metrics
    return _DONE(
        reason=event["reason"],
        model=event["model"],
        exact=f"{100 * metrics['heldout_exact_match']:.1f}",
        wrong=f"{metrics['exhaustive_wrong']:,}" if exhaustive else None,
        total=f"{metrics['exhaustive_total']:,}" if exhaustive else None,
        trained=f"{metrics['train_seconds']:,.0f}",
        seconds=f"{event['seconds']:.0f}",
        budget=f"{event['budget']:.0f}",
        map_saved=event.get("map_saved", True),
        link=reopen_link(event["model"]),
        given=event.get("training"),  # the seed, rate and batch the engine used
        rate=f"{event['training']['learning_rate']:g}" if event.get("training") else "",
    )
