"""The arithmetic demo in a browser: pick a model, ask it a question, and see inside its answer.

Run `python app.py` (offline, on the bundled model zoo) or `python app.py
--model owner/repo`; on a Hugging Face Space it starts from the environment
alone (ADDITION_MODEL, ADDITION_MODELS, ADDITION_MODEL_REVISION). `import app`
builds `app.demo` from the environment without launching it (the tests do this).

The page is stateless: the chosen model travels with every request, so a
visitor's choice never affects anyone else and the server keeps nothing per
visitor beyond Gradio's bounded session table. The JSON API (web/service.py)
is what the page shows; its endpoints are listed in docs/api.md.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import logging
import os
import socket
import sys
from typing import Any

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no phoning home: Spaces and tests run offline

import gradio as gr
from starlette.middleware import Middleware
from threadpoolctl import threadpool_limits

from model.serving import MODEL_ENV, MODELS_ENV, REVISION_ENV, load_catalogue
from web import about, compare, controls, inside, learning, many, one_sum, question_map, train_own
from web.gradio_internals import DROPDOWN_CSS, make_queue_safe, mcp_lifespan
from web.guard import EndpointPolicy, RequestGuard
from web.html import CSS
from web.picker import picker_choices
from web.results import task_summary
from web.service import Service
from web.templates import template
from web.work import documented_as, pooled

log = logging.getLogger("app")

SESSION_CAPACITY = 100  # Gradio keeps each session's last inputs and outputs; at most this many sessions
PREDICT_BATCH = 64  # concurrent queued /predict calls answered by one function call
QUEUE_SIZE = 256  # queued calls waiting at once, all visitors together (web/guard.py bounds each visitor's share)
PARKED_SESSIONS = 64  # sessions without a waiting job whose unread results Gradio keeps (see make_queue_safe)
MCP_ENV = "ADDITION_MCP"  # "0" turns the MCP server off (as --no-mcp does)
MCP_TOOLS = {"predict": "/predict_direct"}  # MCP's predict takes one question: the unbatched twin
TITLE = "Recurrent networks that learned arithmetic"
HEADING = template(
    '<h1 class="title">{{ title }}</h1><p class="subtitle">Keras sequence-to-sequence networks read a question as '
    "characters and write the answer one character at a time. Pick a model, ask it something, and look inside its "
    "answer.</p>"
)
THEME = gr.themes.Default(
    font=["ui-sans-serif", "system-ui", "Segoe UI", "Roboto", "sans-serif"],
    font_mono=["ui-monospace", "Menlo", "Consolas", "monospace"],
)  # no web fonts to fetch


def one_blas_thread() -> None:
    """Run every numpy call of this process on one BLAS thread. The app's matrices are small, so a BLAS
    thread pool buys nothing (bench/inference_latency.py), and many request threads each waking a pool of
    BLAS threads contend for two cores; a process with no BLAS threads also cannot be caught by OpenBLAS's
    fork handler, whatever a library does."""
    threadpool_limits(limits=1, user_api="blas")


def build_demo(service: Service) -> gr.Blocks:
    """The whole UI: a model picker over one tab per view (web/*.py), and the named API endpoints."""
    one_blas_thread()
    default = service.default
    learning.install_patches()  # charts and tables in gr.HTML (patched on Gradio's class: web/gradio_internals.py)
    controls.install_patches()  # sliders whose bad values reach their views, which say what is wrong

    def header(name: str) -> str:
        served = service.resolve(name)
        return about.model_line(service.model_info(served.name), task_summary(served))

    # Files handed to visitors (trained models' zips) leave Gradio's cache after half an hour.
    with gr.Blocks(title=TITLE, delete_cache=(600, 1800)) as demo:
        gr.HTML(HEADING(title=TITLE), elem_id="title")
        with gr.Row(equal_height=False, elem_id="header-row"):
            picker = gr.Dropdown(
                choices=picker_choices(service),  # (label, name): the page sends the name
                value=default,
                label="Model",
                elem_id="model-picker",
                scale=1,
                min_width=160,
                interactive=True,
            )
            line = gr.HTML(header(default), elem_id="model-line-box", css_template=CSS, scale=4, min_width=300)
        note = gr.HTML(visible=False, elem_id="link-note", css_template=CSS)  # a ?model= link that names no model
        # "wrap": on a phone every tab keeps its visible label on a second row, not behind an unlabelled "⋯".
        with gr.Tabs(selected="one", overflow_behavior="wrap", elem_id="tabs") as tabs:
            with gr.Tab("One question", id="one"):
                one = one_sum.tab(service, picker)
            with gr.Tab("Inside the network", id="inside"):
                cells = inside.tab(service, picker, one.question, one.question.value)
            with gr.Tab("Map", id="map") as map_tab:
                map_view = question_map.tab(service, picker, tabs, one.question, one.show, one.outputs)
            with gr.Tab("How it learned", id="learning") as learning_tab:
                record = learning.tab(service, picker)
            with gr.Tab("Many questions", id="many"):
                batch = many.tab(service, picker)
            with gr.Tab("Compare", id="compare"):
                pair = compare.tab(service, picker)
            with gr.Tab("Train your own", id="train"):
                train_own.tab(service, picker, pair, note)
            with gr.Tab("The model", id="model"):
                panel = gr.HTML(about.model_html(service.model_info(default)), css_template=CSS, elem_id="model-tab")

        # The page's own events are private and take only what a visitor types or picks: no step is
        # handed data it did not produce, so none can be fed a huge or forged payload.
        private: dict[str, Any] = {"api_visibility": "private", "queue": False}
        for event in one.events:
            event.then(cells.render, cells.inputs, cells.outputs, **private)
        map_tab.select(map_view.fill, picker, map_view.outputs, **private)
        learning_tab.select(record.fill, picker, record.outputs, **private)

        def switch_model(name: str, question: str) -> tuple[Any, ...]:
            """Every view follows the new model: answered again by it, or cleared with a note saying why."""
            examples = service.examples(name)
            return (
                header(name),
                *one.on_model(service, name, question),
                gr.Textbox(placeholder="\n".join(examples[:3])),
                *many.cleared(service.resolve(name).name),
                about.model_html(service.model_info(name)),
                *map_view.fill(name),
                *record.fill(name),
            )

        picker.change(
            switch_model,
            [picker, one.question],
            [
                line,
                one.examples,
                one.question,
                *one.outputs,
                batch.lines,
                *batch.outputs,
                panel,
                *map_view.outputs,
                *record.outputs,
            ],
            **private,
        ).then(cells.render, cells.inputs, cells.outputs, **private)

        # The API: plain JSON in and out (web/service.py; docs/api.md lists them).
        def predict(question: list[str], model: list[str | None] | None = None) -> tuple[list[dict]]:
            """One question such as "535+61" (and optionally a model name) -> the answer, the true result, and
            per-position confidences, margins and runners-up. Batched: concurrent callers share one call."""
            return (service.predict_many(question, model),)

        # documented as one call (question: str, model: str | None -> dict): what a client sends and gets back
        predict_api = documented_as(predict, service.predict)
        gr.api(predict_api, api_name="predict", batch=True, max_batch_size=PREDICT_BATCH, concurrency_limit=1)
        # Direct calls (/gradio_api/run/predict, no queue) take one question; the guard sends them here.
        predict_direct = pooled(service.predict, heavy=False, on_busy=lambda why: service.error_result(None, why))
        gr.api(predict_direct, api_name="predict_direct", queue=False, api_visibility="undocumented")
        # Every call runs in web/work.py's pool, counted for its address; the heavy ones share its few slots.
        for fn, name, heavy in (
            (service.predict_batch, "predict_batch", True),
            (service.random_sums, "random_sums", True),
            (service.attribution, "attribution", False),
            (service.states, "states", False),
            (service.compare, "compare", False),
            (service.compare_random, "compare_random", True),
            (service.model_info, "model_info", False),
            (service.models, "models", False),
        ):
            gr.api(pooled(fn, heavy=heavy), api_name=name, queue=False)
        for fn in demo.fns.values():  # gr.api calls every output "1st"; these all return one JSON object
            if fn.api_name and fn.api_visibility == "public":
                for output in fn.outputs:
                    output.label = "result"
    # api_open=False: a queued function (/train, the page's Train) cannot be called directly, around
    # the queue and its one-at-a-time limit, by name or by fn_index; the guard sends direct /predict
    # calls to /predict_direct, and every other endpoint is unqueued.
    demo.queue(max_size=QUEUE_SIZE, default_concurrency_limit=2, api_open=False)
    # Gradio parks unread queued results per session in an LRU table of 2,000 sessions; bound it, and
    # never evict a session that still waits (that stops the queue for good). bench/memory_attack.py
    # measures what this buys; the guard bounds unread results and waiting jobs per session.
    make_queue_safe(demo, PARKED_SESSIONS)
    return demo


def launch(demo: gr.Blocks, host: str, port: int, block: bool = True, mcp: bool = True) -> None:
    """Start the server behind the request guard; show_error=False keeps exception text out of the page.

    With `mcp`, the named endpoints are also MCP tools at /gradio_api/mcp/, their docstrings
    the tools' descriptions; MCP requests pass the same guard as every other request."""
    app_kwargs: dict[str, Any] = {"middleware": [Middleware(RequestGuard, policy=EndpointPolicy.of(demo))]}
    if mcp:
        app_kwargs["lifespan"] = mcp_lifespan(demo, tools=MCP_TOOLS)
    demo.launch(
        server_name=host,
        server_port=port,
        share=False,
        show_error=False,
        ssr_mode=False,
        prevent_thread_lock=not block,
        quiet=not block,
        theme=THEME,
        css=PAGE_CSS + DROPDOWN_CSS,  # the page's own CSS and the lines for Gradio's dropdown
        state_session_capacity=SESSION_CAPACITY,
        max_file_size=1,
        run_history=False,
        mcp_server=mcp,
        app_kwargs=app_kwargs,
    )


PAGE_CSS = """
#title h1.title { font-size: 28px; font-weight: 700; margin: 4px 0; }
#title .subtitle { margin: 0 0 6px 0; color: var(--body-text-color-subdued); }
#predict-button { align-self: end; max-height: 44px; }
@media (max-width: 600px) { #header-row, .chart-row { flex-direction: column; } }  /* one chart a row on phones */
@media (max-width: 600px) { #header-row > * { align-self: stretch; } }  /* the picker's long labels: full width */
"""


def port_is_free(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does: a port in TIME_WAIT is free
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Serve the arithmetic demo (Gradio) on the bundled models and any folders or Hub repos you name."
    )
    parser.add_argument(
        "--model",
        default=os.environ.get(MODEL_ENV),
        help=f"the default model: a folder or a Hub repo id (default: ${MODEL_ENV}, else the bundled add3)",
    )
    parser.add_argument(
        "--models",
        default=os.environ.get(MODELS_ENV),
        help=f"more models to offer, comma-separated folders or repo ids, each optionally "
        f"repo@revision (default: ${MODELS_ENV})",
    )
    parser.add_argument(
        "--revision",
        default=os.environ.get(REVISION_ENV),
        help=f"Hub revision of --model: branch, tag or commit (default: ${REVISION_ENV})",
    )
    parser.add_argument(
        "--host",
        default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
        help="address to listen on; 0.0.0.0 for all (default: $GRADIO_SERVER_NAME or 127.0.0.1)",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("GRADIO_SERVER_PORT", "7860")),
        help="port (default: $GRADIO_SERVER_PORT or 7860)",
    )
    parser.add_argument(
        "--mcp",
        action=argparse.BooleanOptionalAction,
        default=os.environ.get(MCP_ENV, "1") != "0",
        help=f"also serve the named endpoints as MCP tools at /gradio_api/mcp/; --no-mcp or "
        f"{MCP_ENV}=0 turns it off (default: on)",
    )
    return parser.parse_args(argv)


def catalogue_from(args: argparse.Namespace) -> Service:
    extra = [s.strip() for s in (args.models or "").split(",") if s.strip()]
    return Service(load_catalogue(args.model, args.revision, extra))


def limit_malloc_arenas(arenas: int = 2) -> None:
    """Keep glibc to a few malloc arenas: by default each of the server's many worker threads gets its own,
    and freed request memory stays in them, so resident memory grows with every burst (glibc only; elsewhere
    nothing changes). bench/memory_attack.py measures the difference."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").mallopt(-8, arenas)  # -8: M_ARENA_MAX


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if not 1 <= args.port <= 65535 or not port_is_free(args.host, args.port):
        print(
            f"app.py: error: port {args.port} on {args.host} is in use or invalid; choose another with --port "
            "or GRADIO_SERVER_PORT",
            file=sys.stderr,
        )
        return 2
    limit_malloc_arenas()
    service = catalogue_from(args)
    log.info("serving %s (default %s)", ", ".join(service.names()), service.default)
    for note in service.catalogue.notes:
        log.warning("%s", note)
    launch(build_demo(service), args.host, args.port, mcp=args.mcp)
    return 0


if __name__ == "__main__":
    sys.exit(main())
else:
    # `import app` (tests, `gradio app.py`) gets a ready, unlaunched demo for the configured models.
    demo = build_demo(catalogue_from(parse_args([])))
