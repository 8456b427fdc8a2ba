"""Train your own's further settings, the seed, the learning rate and the batch size: their controls (in a closed
accordion under the tab's main ones) and /train's description of every setting (`api_doc`).

Each one's bounds and default come from its declaration in trainer/live_settings.py (`LiveSettings`, `LIMITS`),
and the tab checks a request with the same declarations before anything starts (web/training_run.py).
"""

from __future__ import annotations

import inspect
import re
from typing import Any

import gradio as gr

from model.bounds import bounds
from trainer.live_settings import LIMITS, LiveSettings

from .own_models import OwnModels


def more_settings(default: LiveSettings) -> tuple[gr.Number, gr.Dropdown, gr.Slider]:
    """The seed, the learning rate and the batch size, in a closed accordion under the main controls; their
    bounds and words come from trainer.live_settings's declarations (the tab's check says the same)."""
    declared = bounds(LiveSettings)
    with gr.Accordion("More settings: seed, learning rate, batch size", open=False, elem_id="own-more"), gr.Row():
        # No minimum/maximum: Gradio would refuse a value outside them with a bare "Error"; the tab's check
        # answers it in one sentence instead, with the bounds the info line shows.
        seed = gr.Number(
            value=default.seed,
            label="Seed",
            info=f"{declared['seed'].range_text().capitalize()}. The same seed and settings draw the same "
            "questions and start from the same weights, so a training can be repeated; change it for "
            "another start.",
            elem_id="own-seed",
            min_width=160,
        )
        rate = gr.Dropdown(
            [(f"{r:g}", r) for r in rate_choices(*LIMITS["learning_rate"], default.learning_rate)],
            value=default.learning_rate,
            label="Learning rate",
            info="How big a step each update takes: too small learns slowly, too large jumps about or "
            "diverges. It warms up, then decays over the budget.",
            elem_id="own-learning-rate",
            min_width=160,
        )
        batch = gr.Slider(
            *LIMITS["batch_size"],
            value=default.batch_size,
            step=16,
            label="Batch size",
            info="Questions per update. An epoch is the same number of questions whatever the batch: a "
            "larger batch takes fewer, smoother steps per epoch.",
            elem_id="own-batch-size",
            min_width=160,
        )
    return seed, rate, batch


def rate_choices(low: float, high: float, default: float) -> list[float]:
    """The learning rates offered, as TensorFlow Playground offers them: 1 and 3 times each power of ten from
    `low` to `high` (both ends and the default included)."""
    steps = [float(f"{m}e{k}") for k in range(-12, 3) for m in (1, 3)]  # written as text: 3e-4, not 3 * 1e-4
    return sorted({low, high, default, *(r for r in steps if low <= r <= high)})


def api_doc(train: Any) -> str:
    """/train's docstring, which the API page and the MCP tool show: each parameter's help and bounds from
    its declaration in LiveSettings, so they can never disagree with the check."""
    declared = bounds(LiveSettings)
    lines = [
        "/train: train a small model live. Yields each epoch's figures, then the new model's name (use it as "
        f"`model` in the other endpoints, for {OwnModels.OWN_SECONDS // 60} minutes). As an MCP tool it answers "
        "with the last event: the new model's name and its figures, or the sentence saying why it did not train.",
        "",
        "Args:",
    ]
    for name, parameter in inspect.signature(train).parameters.items():
        if name in declared:
            bound = declared[name]
            # The trainer's own help may name its flags (--encoder-units); the API has one `units`.
            words = re.sub(r"\s*\([^)]*--[^)]*\)", "", bound.help)
            if bound.kind in ("whole", "number"):
                words = f"{words}, {bound.range_text()}"
            elif bound.kind == "choice":
                words = f"{words}; one of {', '.join(bound.choices)}"
            lines.append(f"    {name}: {words} (default {parameter.default!r}).")
    return "\n".join(lines)
