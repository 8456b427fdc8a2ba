"""Controls whose values reach the view as sent, so that the view answers a bad one with a sentence.

Gradio checks a slider's value against its range itself and, finding it out
of range, raises an error that the page (launched with show_error=False) shows
as a bare red "Error" and the server logs as a failure. Sliders made here skip
that check (marked by a CSS class, which install_patches tells Gradio to let
through: web/gradio_internals.py; other sliders keep it), and their views
check every value themselves (a whole number, within range) and say what is
wrong.
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from model.bounds import whole_number
from model.quoting import quoted

from . import gradio_internals

LENIENT = "lenient"  # the CSS class that marks such a slider; it survives Gradio rebuilding the component


def install_patches() -> None:
    """Let lenient sliders' values through unchecked; call once, where the app is built."""
    gradio_internals.unchecked_sliders(LENIENT)


def lenient_slider(*args: Any, **kwargs: Any) -> gr.Slider:
    """A gr.Slider whose value reaches the handler unchecked (the handler checks it: see `in_range`)."""
    classes = kwargs.pop("elem_classes", None) or []
    return gr.Slider(*args, elem_classes=[*([classes] if isinstance(classes, str) else classes), LENIENT], **kwargs)


def in_range(value: object, low: int, high: int, what: str) -> tuple[int, str]:
    """(the value to show, "" or one sentence): a bad value shows the nearest good one, and says so."""
    number = whole_number(value, lenient=True)  # a number box or slider sends 2.0 for 2
    if number is not None and low <= number <= high:
        return number, ""
    nearest = low if number is None or number < low else high
    return nearest, f"The {what} is a whole number from {low} to {high}, not {quoted(value, 20)}: showing {nearest}."
