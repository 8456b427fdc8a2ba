"""The training-curve picture: loss, what is still wrong, and which answer position is learned first.

Errors rather than accuracy, on a log scale: 99.6% and 99.998% look the same on
an accuracy axis but differ 200-fold in what is still wrong.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; no display on servers or in CI
import matplotlib.pyplot as plt


def plot_history(history: dict, path: Path, title: str = "training") -> Path:
    """Three panels against samples seen: training loss; wrong answers; accuracy of each answer position."""
    samples = history.get("samples_seen") or list(range(1, len(history.get("loss", [])) + 1))
    x = [s / 1e6 for s in samples]
    fig, (ax_loss, ax_wrong, ax_pos) = plt.subplots(1, 3, figsize=(14, 3.8), dpi=100)
    if history.get("loss"):
        ax_loss.plot(x, history["loss"], marker="o", label="training loss")
        ax_loss.set_yscale("log")
    ax_loss.set_title("loss")
    if history.get("val_exact_match"):
        # A perfect epoch has no error to draw on a log axis; show it at 0.0001%.
        ax_wrong.plot(
            x, [max(100 * (1 - v), 1e-4) for v in history["val_exact_match"]], marker="o", label="held-out wrong (%)"
        )
    measured = [
        (xi, v) for xi, v in zip(x, history.get("space_wrong", []), strict=False) if v >= 0
    ]  # -1: not measured yet
    if measured:
        ax_wrong.plot(
            [m[0] for m in measured],
            [max(m[1], 0.5) for m in measured],
            marker="s",
            label="wrong over every question (count)",
        )
    ax_wrong.set_yscale("log")
    ax_wrong.set_title("what is still wrong")
    ax_wrong.grid(alpha=0.3, which="both")
    positions = history.get("per_position") or []
    for p in range(len(positions[0]) if positions else 0):
        ax_pos.plot(x, [100 * row[p] for row in positions], marker=".", label=f"answer position {p + 1}")
    ax_pos.set_title("held-out accuracy per answer position (%)")
    for ax in (ax_loss, ax_wrong, ax_pos):
        ax.set_xlabel("samples seen (millions)")
        if ax.lines:
            ax.legend(loc="best", fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
