"""The "How it learned" view: curves per epoch, and the coarse map replayed epoch by epoch.

The trainer records, after every epoch, the loss, held-out exact match, the
accuracy of each answer position (which digit is learned first) and the
answers to a fixed probe of evenly spaced questions (learning.npz). Curves
are Gradio line plots; the slider redraws the probe map of that epoch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gradio as gr
import numpy as np
import pandas as pd

from model.analysis import LearningRecord

from .html import CSS, MARGIN, WRONG_RGB, data_uri, esc, legend, margin_palette, message, png_bytes
from .service import Service

NO_RECORD = (
    "This model has no learning record: `python -m trainer` writes one (learning.npz) for every model it "
    "trains, and this one was made without it."
)


def curves(record: LearningRecord | None) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(loss, errors, per-position accuracy) as long tables for line plots, x = epoch."""
    if record is None:
        empty = pd.DataFrame({"epoch": [], "value": [], "series": []})
        return empty, empty, empty
    epochs = np.arange(1, record.epochs + 1)
    loss = pd.DataFrame({"epoch": epochs, "value": record.loss, "series": "training loss"})
    errors = [pd.DataFrame({"epoch": epochs, "value": 100 * (1 - record.exact_match), "series": "held-out wrong %"})]
    measured = record.space_wrong >= 0
    if measured.any():
        errors.append(
            pd.DataFrame(
                {
                    "epoch": epochs[measured],
                    "value": record.space_wrong[measured].astype(float),
                    "series": "wrong over every question (count)",
                }
            )
        )
    probe_wrong = (record.probe_margin <= 127).reshape(record.epochs, -1).mean(axis=1) * 100
    errors.append(pd.DataFrame({"epoch": epochs, "value": probe_wrong, "series": "probe map wrong %"}))
    positions = [
        pd.DataFrame({"epoch": epochs, "value": 100 * record.per_position[:, p], "series": f"answer position {p + 1}"})
        for p in range(record.per_position.shape[1])
    ]
    return loss, pd.concat(errors, ignore_index=True), pd.concat(positions, ignore_index=True)


def probe_picture(quantised: np.ndarray, axis: np.ndarray, caption: str) -> str:
    """A coarse map (margins as bytes, rows = second number) drawn large enough to see, with its legend."""
    rgb = margin_palette()[quantised]
    scale = max(1, 400 // quantised.shape[0])
    rgb = np.repeat(np.repeat(rgb, scale, axis=0), scale, axis=1)
    return (
        f'<div><img class="heat" style="width:min(400px,100%)" alt="map {esc(caption)}" '
        f'src="{data_uri(png_bytes(rgb))}"></div><div>{legend(MARGIN, "barely right", "sure")} '
        f'<span class="hint"><span style="color: rgb{WRONG_RGB}">■</span> wrong · x: first number '
        f"{esc(axis[0])}…{esc(axis[-1])}, y: second ({esc(caption)})</span></div>"
    )


def probe_html(record: LearningRecord | None, epoch: int, polish_rounds: int = 0) -> str:
    """The probe map after `epoch` (1-based), with that epoch's figures; the last `polish_rounds` epochs were
    polishing rounds (trainer/train.py), which the line says."""
    if record is None:
        return message(NO_RECORD)
    epoch = int(max(1, min(epoch, record.epochs)))
    quantised = record.probe_margin[epoch - 1]
    wrong = int((quantised <= 127).sum())
    polishing = (
        " A polishing round: half of its questions were the ones below the target margin, at the lowest rate."
        if epoch > record.epochs - polish_rounds
        else ""
    )
    return (
        f'<div class="panel" id="probe"><div><b>After epoch {epoch} of {record.epochs}</b> '
        f"({record.samples_seen[epoch - 1]:,} questions seen, {record.seconds[epoch - 1]:.0f} s): "
        f"held-out exact match {100 * record.exact_match[epoch - 1]:.2f}%, {wrong:,} of {quantised.size:,} "
        f"probe questions wrong.{polishing}</div>{probe_picture(quantised, record.probe_a, f'epoch {epoch}')}</div>"
    )


# The tab ------------------------------------------------------------------------------------------
@dataclass
class LearningTab:
    outputs: list[Any]
    fill: Callable[[str], tuple]


def epoch_plot(title: str, y_title: str, elem_id: str, min_width: int = 280) -> gr.LinePlot:
    """A line plot of per-epoch values: one line per `series` (the long tables `curves` builds)."""
    return gr.LinePlot(
        x="epoch",
        y="value",
        color="series",
        title=title,
        y_title=y_title,
        elem_id=elem_id,
        min_width=min_width,
        height=260,
    )


def tab(service: Service, picker: Any) -> LearningTab:
    """The "How it learned" tab: loss, errors and per-position accuracy per epoch, and the replayed probe map."""
    with gr.Row():
        loss = epoch_plot("Training loss", "loss", "curve-loss")
        errors = epoch_plot("What is still wrong", "", "curve-errors")
        positions = epoch_plot("Which answer digit is learned first", "% right", "curve-positions")
    epoch = gr.Slider(1, 2, value=1, step=1, label="Epoch: replay the probe map as it changed", elem_id="epoch")
    probe = gr.HTML(elem_id="probe-box", css_template=CSS)

    def polished(name: str) -> int:  # metrics are cleaned on load: a count is an int or absent
        return int(service.resolve(name).stored.metrics.get("polish_rounds", 0))

    def fill(name: str) -> tuple[Any, ...]:
        record = (service.resolve(name)).learning
        frames = curves(record)
        last = record.epochs if record is not None else 1
        return (*frames, gr.Slider(maximum=max(2, last), value=last), probe_html(record, last, polished(name)))

    def replay(name: str, chosen: float) -> str:
        record = (service.resolve(name)).learning
        return probe_html(record, int(chosen or 1), polished(name))

    epoch.input(replay, [picker, epoch], probe, api_visibility="private", queue=False)
    return LearningTab([loss, errors, positions, epoch, probe], fill)
