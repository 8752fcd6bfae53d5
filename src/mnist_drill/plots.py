"""Plots drawn from Histories: curves of one run, the misclassified digits, steps and seeds compared."""

from __future__ import annotations

import matplotlib.pyplot as plt

from .results import TARGET, History


def plot_history(history: History, title: str | None = None):
    """Accuracy and loss (train and test) and the LR, per epoch."""
    epochs = history.column("epoch")
    eval_name = history.eval_name.lower()
    fig, axes = plt.subplots(1, 3, figsize=(15, 3.8))
    ax = axes[0]
    ax.plot(epochs, history.column("train_acc"), "o-", label="train")
    ax.plot(epochs, history.test_acc, "o-", label=eval_name)
    ax.axhline(TARGET, color="red", ls="--", lw=1, label=f"{TARGET}%")
    ax.set_ylim(max(min(history.test_acc + history.column("train_acc")) - 0.5, 90), 100)
    ax.set(title="accuracy (%)", xlabel="epoch")
    ax.legend()
    ax = axes[1]
    ax.plot(epochs, history.column("train_loss"), "o-", label="train")
    ax.plot(epochs, history.column("test_loss"), "o-", label=eval_name)
    ax.set(title="loss", xlabel="epoch", yscale="log")
    ax.legend()
    ax = axes[2]
    ax.plot(epochs, history.column("lr"), "o-")
    ax.set(title="learning rate (at the start of each epoch)", xlabel="epoch", yscale="log")
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.suptitle(title or f"{history.config['name']} ({history.params:,} params, seed {history.seed})")
    fig.tight_layout()
    return fig


def plot_misclassified(images, labels, preds, ncols: int = 8, title: str = "misclassified test digits"):
    """A grid of images (N, 28, 28) titled 'true -> predicted'."""
    n = len(images)
    if n == 0:
        fig, ax = plt.subplots(figsize=(4, 1))
        ax.text(0.5, 0.5, "no misclassified digits", ha="center", va="center")
        ax.axis("off")
        return fig
    nrows = (n + ncols - 1) // ncols
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.6 * ncols, 1.9 * nrows), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < n:
            ax.imshow(images[i], cmap="gray_r")
            ax.set_title(f"{int(labels[i])} -> {int(preds[i])}", fontsize=10,
                         color="black")
    fig.suptitle(f"{title} (true -> predicted)")
    fig.tight_layout()
    return fig


def plot_compare(histories: dict[str, History], title: str = "test accuracy per epoch, all steps"):
    """Evaluation accuracy per epoch of several runs, with the target line."""
    fig, ax = plt.subplots(figsize=(9, 5))
    for name, h in histories.items():
        ax.plot(h.column("epoch"), h.test_acc, "o-", ms=4, label=f"{name} ({h.params:,} params)")
    ax.axhline(TARGET, color="red", ls="--", lw=1, label=f"{TARGET}% target")
    low = min(min(h.test_acc[2:] or h.test_acc) for h in histories.values())
    ax.set_ylim(max(low - 0.1, 97.5), 100)
    ax.set(title=title, xlabel="epoch", ylabel="accuracy (%)")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    return fig


def plot_seeds(histories: list[History], title: str | None = None):
    """One curve per seed, the target line, and the epochs 10-15 band the headline is about."""
    fig, ax = plt.subplots(figsize=(9, 5))
    for h in histories:
        ax.plot(h.column("epoch"), h.test_acc, "o-", ms=4, label=f"seed {h.seed}")
    ax.axhline(TARGET, color="red", ls="--", lw=1, label=f"{TARGET}% target")
    ax.axvspan(9.5, max(histories[0].column("epoch")) + 0.5, color="green", alpha=0.06, label="epochs 10-15")
    ax.set_ylim(99.0, 99.8)
    name = histories[0].config["name"]
    ax.set(title=title or f"{name}: {histories[0].eval_name.lower()} accuracy of {len(histories)} seeds",
           xlabel="epoch", ylabel="accuracy (%)")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", ncol=2)
    fig.tight_layout()
    return fig
