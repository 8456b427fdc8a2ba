"""The addition demo in a browser: type a sum and see inside the LSTM's prediction.

Run `python app.py` (offline, on the bundled model) or `python app.py --model
owner/repo`; on a Hugging Face Space it starts from the environment alone.
`import app` builds `app.demo` from the environment (ADDITION_MODEL,
ADDITION_MODEL_REVISION) without launching it, which is how the tests use it.

API contract: every endpoint returns one JSON object and never raises for bad
input. Its "error" field is null on success, or one sentence saying what was
wrong with the request (also for a failure inside the app, whose traceback is
logged on the server only). Endpoints: /predict (one sum), /predict_batch
(one sum per line), /random_sums (N sampled like the training data) and
/model_info. /predict is batched: concurrent callers share one model call.
"""

from __future__ import annotations

import argparse
import functools
import logging
import os
from typing import Any, Callable

import numpy as np

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no phoning home: Spaces and tests run offline

import gradio as gr  # noqa: E402

import app_views as views  # noqa: E402
from model.codec import MAX_QUESTION_CHARS, InputError, one_hot, parse_question, question_text  # noqa: E402
from model.config import sample_terms  # noqa: E402
from model.hub import MODEL_ENV, REVISION_ENV, LoadedModel, load_for_app  # noqa: E402
from model.predictor import Explanation, Predictor  # noqa: E402

log = logging.getLogger("app")

MAX_LINES = 1000           # sums per /predict_batch request
MAX_BATCH_CHARS = 100_000  # characters per /predict_batch request, checked before splitting lines
MAX_RANDOM = 1000          # sums per /random_sums request
PREDICT_BATCH = 64         # concurrent /predict requests answered by one model call
INTERNAL_ERROR = "Something went wrong inside the app while answering; it has been logged. Please try again."


def _guarded(on_error: Callable[[str], Any]) -> Callable:
    """Turn any unexpected exception into a clear result; the traceback goes to the server log only."""
    def decorate(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except Exception:
                log.exception("%s failed", fn.__name__)
                return on_error(INTERNAL_ERROR)
        return wrapper
    return decorate


def _table_error(message: str) -> dict:
    return {"rows": [], "total": 0, "valid": 0, "correct": 0, "accuracy": None, "seed": None, "error": message}


def _whole_number(value: object, what: str, low: int, high: int) -> int:
    """Read a count or seed sent as a number or text; raise InputError saying the allowed range."""
    number = None
    if isinstance(value, (int, float)) and not isinstance(value, bool) and float(value).is_integer():
        number = int(value)
    elif isinstance(value, str) and value.strip().isdigit():
        number = int(value.strip())
    if number is None or not low <= number <= high:
        raise InputError(f"{what} must be a whole number from {low:,} to {high:,}, got {views.shorten(value, 30)}.")
    return number


class AdditionService:
    """One loaded model behind the app: every public method returns a JSON-able dict and never raises."""

    def __init__(self, loaded: LoadedModel):
        self.loaded = loaded
        self.config = loaded.config
        self.predictor = Predictor(loaded.model, loaded.config)  # compiles and warms up once, at startup

    # One sum ---------------------------------------------------------------
    def explain(self, questions: list[object]) -> list[dict]:
        """Many questions -> one /predict result each; the valid ones share a single model call."""
        results: list[dict | None] = [None] * len(questions)
        accepted: list[tuple[int, list[int]]] = []
        for i, text in enumerate(questions):
            try:
                accepted.append((i, parse_question(text, self.config)))
            except InputError as err:
                results[i] = self._error_result(text, str(err))
        if accepted:
            explanations = self.predictor.explain(np.array([terms for _, terms in accepted]))
            for (i, _), explanation in zip(accepted, explanations):
                results[i] = self._result(explanation)
        return results  # type: ignore[return-value]

    def predict(self, question: object) -> dict:
        """/predict for one question (the UI and the batched endpoint both end up in `explain`)."""
        return self.predict_many([question])[0]

    def predict_many(self, questions: list[object]) -> list[dict]:
        try:
            return self.explain(questions)
        except Exception:
            log.exception("predict failed")
            return [self._error_result(q, INTERNAL_ERROR) for q in questions]

    def _result(self, ex: Explanation) -> dict:
        tokens = np.array([[self.config.alphabet.index(c) for c in ex.network_input]])
        return {
            "question": question_text(ex.terms), "terms": ex.terms, "network_input": ex.network_input,
            "one_hot": one_hot(tokens, self.config)[0].astype(int).tolist(),
            "answer": ex.answer, "answer_text": ex.answer_text,
            "true_answer": ex.true_answer, "true_text": ex.true_text,
            "correct": ex.correct, "min_confidence": ex.min_confidence,
            "positions": [{"index": p, "char": ex.answer_text[p], "confidence": ex.confidence[p],
                           "true_char": ex.true_text[p], "wrong": ex.position_wrong[p],
                           "top": [{"char": c, "probability": prob} for c, prob in ex.top[p]]}
                          for p in range(len(ex.answer_text))],
            "error": None,
        }

    @staticmethod
    def _error_result(question: object, message: str) -> dict:
        empty = dict.fromkeys(["terms", "network_input", "one_hot", "answer", "answer_text", "true_answer",
                               "true_text", "correct", "min_confidence", "positions"])
        return {**empty, "question": views.shorten(question), "error": message}

    # Many sums -------------------------------------------------------------
    @_guarded(_table_error)
    def predict_batch(self, text: object) -> dict:
        """/predict_batch: one sum per line (blank lines skipped) -> table rows and exact-match accuracy."""
        if not isinstance(text, str):
            return _table_error(f"Expected text with one sum per line, got {type(text).__name__}.")
        if len(text) > MAX_BATCH_CHARS:
            return _table_error(f"That is {len(text):,} characters; paste at most {MAX_BATCH_CHARS:,} at once.")
        lines = [line for line in text.splitlines() if line.strip()]
        if not lines:
            return _table_error("Paste one sum per line, such as 535+61.")
        if len(lines) > MAX_LINES:
            return _table_error(f"That is {len(lines):,} sums; paste at most {MAX_LINES:,} at once.")
        return self._table(lines)

    @_guarded(_table_error)
    def random_sums(self, n: object, seed: object = None) -> dict:
        """/random_sums: N sums drawn like the training data (seeded, so a run can be repeated)."""
        try:
            n = _whole_number(n, "The number of sums", 1, MAX_RANDOM)
            seed = np.random.SeedSequence().entropy % 2**32 if seed in (None, "") else \
                _whole_number(seed, "The seed", 0, 2**32 - 1)
        except InputError as err:
            return _table_error(str(err))
        terms = sample_terms(self.config, n, np.random.default_rng(seed))
        return {**self._table([question_text(t) for t in terms]), "seed": int(seed)}

    def _table(self, questions: list[str]) -> dict:
        rows = []
        for q, r in zip(questions, self.explain(questions)):
            ok = r["error"] is None
            rows.append({"question": r["question"] if ok else views.shorten(q), "error": r["error"],
                         "true_answer": r["true_answer"], "correct": r["correct"], "min_confidence":
                         r["min_confidence"], "prediction": r["answer_text"].strip() if ok else None})
        valid = [r for r in rows if r["error"] is None]
        correct = sum(r["correct"] for r in valid)
        return {"rows": rows, "total": len(rows), "valid": len(valid), "correct": correct,
                "accuracy": correct / len(valid) if valid else None, "seed": None, "error": None}

    # The model -------------------------------------------------------------
    def model_info(self) -> dict:
        """/model_info: where the model came from, its task, its published accuracy and load notes."""
        c, metrics = self.config, self.loaded.metrics
        return {
            "source": self.loaded.source, "revision": self.loaded.revision,
            "description": self.loaded.description, "offline": self.loaded.source == "bundled",
            "page_url": self.loaded.page_url,  # the Hub page of this commit, if from the Hub
            "digits": c.digits, "terms": c.terms, "reverse": c.reverse, "padding": c.padding,
            "sampling": c.sampling, "alphabet": c.alphabet, "smallest": c.smallest, "largest": c.max_term,
            "question_length": c.question_length, "answer_length": c.answer_length,
            "heldout_exact_match": metrics.get("heldout_exact_match"),
            "exhaustive_wrong": metrics.get("exhaustive_wrong"),
            "exhaustive_total": metrics.get("exhaustive_total"),
            "metrics": metrics, "notes": list(self.loaded.notes),
            "limits": {"question_chars": MAX_QUESTION_CHARS, "batch_lines": MAX_LINES,
                       "batch_chars": MAX_BATCH_CHARS, "random_sums": MAX_RANDOM},
            "error": None,
        }


def _examples(service: AdditionService) -> list[str]:
    """Example questions that fit the loaded model, plus one it must refuse."""
    c = service.config
    wanted = ["535+61", "999+999", "7+8", "100+900", "+".join([str(c.max_term)] * c.terms)]
    fits = []
    for q in dict.fromkeys(wanted):
        try:
            parse_question(q, c)
            fits.append(q)
        except InputError:
            pass
    return fits[:4] + ["+".join(["1" + "0" * c.digits] + ["1"] * (c.terms - 1))]


def build_demo(loaded: LoadedModel) -> gr.Blocks:
    """The whole UI for one loaded model; every user-facing function is also a named API endpoint."""
    service = AdditionService(loaded)
    info = service.model_info()
    show_one = functools.partial(_show_one, alphabet=service.config.alphabet, reverse=service.config.reverse)

    def predict(questions: list) -> tuple[list[dict]]:
        """One sum such as "535+61" -> the answer, the true sum, and per-position confidences and top-3."""
        return (service.predict_many(questions),)  # batch=True: Gradio hands us many callers' sums at once

    with gr.Blocks(title="An LSTM that learned to add") as demo:
        gr.Markdown("# An LSTM that learned to add\nA Keras sequence-to-sequence LSTM reads a sum as characters "
                    "and writes the answer one character at a time. Type a sum and look inside its prediction.")
        gr.Markdown(f"Answering with **{info['description']}**: {info['terms']} numbers of up to "
                    f"{info['digits']} digits." + "".join(f"\n\n{views.WARN} **{n}**" for n in info["notes"]),
                    elem_id="model-line")
        with gr.Tab("One sum"):
            with gr.Row(equal_height=True):
                question = gr.Textbox(label="Sum", placeholder="535+61", elem_id="question", scale=4,
                                      max_length=MAX_QUESTION_CHARS)
                button = gr.Button("Predict", variant="primary", elem_id="predict-button", scale=1)
            examples = gr.Examples(_examples(service), inputs=question, label="Examples (click one)")
            verdict = gr.HTML(views.START, css_template=views.CSS, elem_id="verdict")
            with gr.Row():
                with gr.Column():
                    gr.Markdown("### What the network reads")
                    encoding = gr.HTML(css_template=views.CSS, elem_id="encoding")
                with gr.Column():
                    gr.Markdown("### What it answers, position by position")
                    positions = gr.HTML(css_template=views.CSS, elem_id="positions")
            with gr.Accordion("The /predict API result (JSON)", open=False):
                raw_one = gr.JSON(elem_id="predict-json")
        with gr.Tab("Many sums"):
            with gr.Row():
                with gr.Column(scale=3):
                    lines = gr.Textbox(label="One sum per line", lines=6, elem_id="lines",
                                       placeholder="535+61\n12+7\n999+1", max_length=MAX_BATCH_CHARS)
                    check = gr.Button("Check these sums", elem_id="batch-button")
                with gr.Column(scale=2):
                    count = gr.Number(label=f"How many random sums (1 to {MAX_RANDOM:,})", value=20,
                                      precision=0, elem_id="n-random")
                    seed = gr.Textbox(label="Seed (optional, to repeat a draw)", elem_id="seed")
                    sample = gr.Button("Sample random sums", elem_id="random-button")
            summary = gr.Markdown(elem_id="batch-summary")
            table = gr.Dataframe(headers=views.TABLE_HEADERS, interactive=False, wrap=True,
                                 elem_id="batch-table", column_widths=["6%", "16%", "14%", "14%", "14%", "36%"])
            with gr.Accordion("The API result (JSON)", open=False):
                raw_many = gr.JSON(elem_id="batch-json")
        with gr.Tab("The model"):
            gr.Markdown(views.model_markdown(info), elem_id="model-panel")
            with gr.Accordion("The /model_info API result (JSON)", open=False):
                gr.JSON(info, elem_id="model-json")

        # preprocess=False hands the raw JSON value to our functions, so a non-string argument
        # from an API client gets our clear message instead of being silently turned into text.
        one = dict(fn=predict, inputs=question, outputs=raw_one, api_name="predict", batch=True,
                   max_batch_size=PREDICT_BATCH, preprocess=False, concurrency_limit=1)
        typed = gr.on([button.click, question.submit], **one)
        # Clicking an example runs the same function, privately, so the API keeps a single /predict.
        example = examples.load_input_event.then(**{**one, "api_name": "example", "api_visibility": "private"})
        for event in (typed, example):
            event.then(show_one, raw_one, [verdict, encoding, positions], api_visibility="private", queue=False)
        check.click(service.predict_batch, lines, raw_many, api_name="predict_batch", preprocess=False
                    ).then(_show_many, raw_many, [summary, table], api_visibility="private", queue=False)
        sample.click(service.random_sums, [count, seed], raw_many, api_name="random_sums", preprocess=False
                     ).then(_show_many, raw_many, [summary, table], api_visibility="private", queue=False)
        gr.api(service.model_info, api_name="model_info")
    demo.queue(max_size=512, default_concurrency_limit=2)
    return demo


def _show_one(result: dict, alphabet: str, reverse: bool) -> tuple[str, str, str]:
    result = result or {"error": "No result."}
    return views.verdict_html(result), views.encoding_html(result, alphabet, reverse), views.positions_html(result)


def _show_many(result: dict) -> tuple[str, list[list]]:
    result = result or _table_error("No result.")
    return views.table_summary(result), views.table_rows(result)


def launch(demo: gr.Blocks, host: str, port: int, block: bool = True) -> None:
    """Start the server; show_error=False keeps internal exception text (never a traceback) out of the UI."""
    demo.launch(server_name=host, server_port=port, share=False, show_error=False, ssr_mode=False,
                prevent_thread_lock=not block, quiet=not block)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Serve the LSTM addition demo (Gradio).")
    parser.add_argument("--model", default=os.environ.get(MODEL_ENV),
                        help=f"model folder or Hugging Face repo id (default: ${MODEL_ENV}, else the bundled model)")
    parser.add_argument("--revision", default=os.environ.get(REVISION_ENV),
                        help=f"Hub revision: branch, tag or commit (default: ${REVISION_ENV})")
    parser.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
                        help="address to listen on; 0.0.0.0 for all (default: $GRADIO_SERVER_NAME or 127.0.0.1)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", "7860")),
                        help="port (default: $GRADIO_SERVER_PORT or 7860)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    loaded = load_for_app(args.model, args.revision)
    log.info("serving %s", loaded.description)
    for note in loaded.notes:
        log.warning("%s", note)
    launch(build_demo(loaded), args.host, args.port)


if __name__ == "__main__":
    main()
else:
    # `import app` (tests, `gradio app.py`) gets a ready, unlaunched demo for the configured model.
    demo = build_demo(load_for_app())
