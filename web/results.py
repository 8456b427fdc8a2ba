"""The shapes of the API's answers: errors that never raise, JSON-safe numbers, a prediction as JSON.

Every endpoint answers one dict with an "error" field; `guarded` turns any
failure into such a dict (one sentence for the visitor, the traceback to the
server log), and the helpers here build the rest of each answer's shape.
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from model.questions import InputError
from model.serving import ServedModel

log = logging.getLogger("app")

INTERNAL_ERROR = "Something went wrong inside the app while answering; it has been logged. Please try again."


def guarded(on_error: Callable[[str], dict]) -> Callable:
    """Turn any unexpected exception into a clear result; the traceback goes to the server log only."""

    def decorate(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except InputError as err:
                return on_error(str(err))
            except Exception:
                log.exception("%s failed", fn.__name__)
                return on_error(INTERNAL_ERROR)

        wrapper.on_error = on_error  # type: ignore[attr-defined]  # the shape of its answer to a refusal too
        return wrapper

    return decorate


def table_error(message: str) -> dict:
    return {
        "rows": [],
        "total": 0,
        "valid": 0,
        "correct": 0,
        "accuracy": None,
        "seed": None,
        "model": None,
        "error": message,
    }


def plain_error(message: str) -> dict:
    return {"error": message}


def finite(value: Any) -> Any:
    """JSON-safe numbers: NaN and infinities (which strict parsers reject) become None, recursively."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [finite(v) for v in value]
    return value


def attention_grid(served: ServedModel, tokens: np.ndarray) -> list[list[float]] | None:
    """An attention model's weights for one question: one row per answer character (in the order written),
    one column per input character (as the network reads them), each row summing to 1; None for a
    RepeatVector model, which has no attention."""
    if served.stored.net.decoder != "attention":
        return None
    _, weights = served.network.attention_weights(tokens[:1])
    return np.round(weights[0], 4).tolist()


def task_summary(served: ServedModel) -> str:
    """ "3-digit addition, 2 numbers" style text for a model's task."""
    t = served.task
    names = {"+": "addition", "-": "subtraction", "*": "multiplication"}
    what = names[t.operators] if len(t.operators) == 1 else "mixed " + " ".join(t.operators)
    terms = f"{t.terms} numbers" if t.fewest_terms == t.terms else f"{t.fewest_terms}-{t.terms} numbers"
    return f"{t.digits}-digit {what}, {terms}" + (", with brackets" if t.brackets else "")


def result_dict(ex: Any) -> dict:
    """One Explanation as the /predict JSON object."""
    return {
        "question": ex.question,
        "network_input": ex.network_input,
        "answer": ex.answer,
        "answer_text": ex.answer_text,  # as written, position by position (see "written")
        "answer_as_read": ex.answer_as_read,  # the usual way round
        "written": ex.written,  # "msb", or "lsb": the network wrote the lowest digit first
        "true_answer": ex.true_answer,
        "true_text": ex.true_text,
        "true_as_read": ex.true_as_read,
        "correct": ex.correct,
        "min_confidence": ex.min_confidence,
        "min_margin": ex.min_margin,
        "positions": [
            {
                "index": p,
                "char": ex.answer_text[p],
                "confidence": ex.confidence[p],
                "margin": ex.margin[p],
                "true_char": ex.true_text[p],
                "wrong": ex.position_wrong[p],
                "top": [{"char": c, "probability": prob} for c, prob in ex.top[p]],
            }
            for p in range(len(ex.answer_text))
        ],
        "error": None,
    }
