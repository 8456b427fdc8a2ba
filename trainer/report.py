"""The training-curve picture: loss and held-out exact-match per epoch."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; no display on servers or in CI
import matplotlib.pyplot as plt  # noqa: E402


def plot_history(history: dict, path: Path, title: str = "training") -> Path:
    """Draw loss and held-out error rates (both log scale) against samples seen.

    Errors rather than accuracy: 99.6% and 99.998% look the same on an accuracy
    axis, but differ 200-fold on a log scale of what is still wrong.
    """
    samples = history.get("samples_seen") or list(range(1, len(history.get("loss", [])) + 1))
    x = [s / 1e6 for s in samples]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 3.6), dpi=100)
    if history.get("loss"):
        ax_loss.plot(x, history["loss"], marker="o", label="training loss")
        ax_loss.set_yscale("log")
    ax_loss.set_xlabel("samples seen (millions)")
    ax_loss.set_title("loss")
    ax_loss.legend()
    for key, label in (("val_exact_match", "wrong answers"), ("val_char_accuracy", "wrong characters")):
        if history.get(key):
            # A perfect epoch has no error to draw on a log axis; show it at 0.0001%.
            ax_acc.plot(x, [max(100 * (1 - v), 1e-4) for v in history[key]], marker="o", label=label)
    ax_acc.set_yscale("log")
    ax_acc.set_xlabel("samples seen (millions)")
    ax_acc.set_ylabel("% of held-out questions")
    ax_acc.set_title("held-out errors")
    ax_acc.grid(alpha=0.3, which="both")
    ax_acc.legend(loc="upper right")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
