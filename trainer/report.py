"""The training-curve picture: loss and held-out exact-match per epoch."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; no display on servers or in CI
import matplotlib.pyplot as plt  # noqa: E402


def plot_history(history: dict, path: Path, title: str = "training") -> Path:
    """Draw loss (log scale) and exact-match / char accuracy against samples seen."""
    samples = history.get("samples_seen") or list(range(1, len(history.get("loss", [])) + 1))
    x = [s / 1e6 for s in samples]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 3.6), dpi=100)
    if history.get("loss"):
        ax_loss.plot(x, history["loss"], marker="o", label="training loss")
        ax_loss.set_yscale("log")
    ax_loss.set_xlabel("samples seen (millions)")
    ax_loss.set_title("loss")
    ax_loss.legend()
    for key, label in (("val_exact_match", "held-out exact-match"), ("val_char_accuracy", "held-out characters")):
        if history.get(key):
            ax_acc.plot(x, [100 * v for v in history[key]], marker="o", label=label)
    ax_acc.set_xlabel("samples seen (millions)")
    ax_acc.set_ylabel("%")
    ax_acc.set_ylim(top=100.5)
    ax_acc.set_title("held-out accuracy")
    ax_acc.grid(alpha=0.3)
    ax_acc.legend(loc="lower right")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
