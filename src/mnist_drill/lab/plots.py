"""Plots drawn from Histories: one run, the misclassified digits, steps and seeds compared, the params-accuracy
frontier. Every accuracy panel is zoomed so the 99.4 % target sits in its middle third."""

from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter

from ..train import TARGET, WINDOW, History, window_label

# 98.5-99.8 shifted up by 0.1, so 99.4 sits at 62 % of the height; never below ACC_FLOOR (99.4 at 2/3 with top 100)
ACC_RANGE, ACC_FLOOR, _PAD = (98.6, 99.9), 98.2, 0.05  # percent
FIVE = {"ls": "--", "marker": "s", "ms": 3}  # how a five-view (test-time augmentation) curve is drawn
STEPS_TITLE = "test accuracy per epoch, one view: each step's notebook run (line) and its seeds' range (band)"
FRONTIER_TITLE = ("each recipe on the test set, one view: its worst seed's lowest epoch of 10-15 (marker) and the "
                  "range of its seeds' lowest epochs (bar)")


def accuracy_limits(values, target: float = TARGET) -> tuple[float, float]:
    """y-limits: ACC_RANGE widened to take in `values` (the last epochs), within [ACC_FLOOR, 100], with `target`
    always in the middle third."""
    lo, hi = ACC_RANGE
    if values := list(values):
        lo, hi = max(min(lo, min(values) - _PAD), ACC_FLOOR), min(max(hi, max(values) + _PAD), 100.0)
    hi = max(hi, target + (target - lo) / 2)  # the target too high in the panel: raise the top
    return min(lo, target - (hi - target) / 2), hi  # too low: lower the bottom


def _target_line(ax, target: float = TARGET):
    ax.axhline(target, color="red", ls="--", lw=1)
    ax.text(0.01, target, f"{target} % target", color="red", fontsize=9, va="bottom",
            transform=ax.get_yaxis_transform())


def _accuracy_panel(ax, curves: dict):
    """Draw `curves` (label -> (epochs, accs, plot kwargs)) zoomed on the target; a point below the bottom edge is
    marked by a triangle on it, and the x-label (under the axis, over no data) says how many and the lowest."""
    lo, hi = accuracy_limits([a for _, accs, _ in curves.values() for a in accs[-WINDOW:]])
    clipped, label = [], "epoch"
    for name, (epochs, accs, kwargs) in curves.items():
        (line,) = ax.plot(epochs, accs, label=name, **{"marker": "o", "ms": 4, **kwargs})
        low = [(e, a) for e, a in zip(epochs, accs, strict=True) if a < lo]
        if low:
            ax.plot([e for e, _ in low], [lo] * len(low), "v", color=line.get_color(), ms=7, clip_on=False, zorder=5)
        clipped += low
    if clipped:
        e, a = min(clipped, key=lambda p: p[1])
        label += f"\n▼ {len(clipped)} point(s) below {lo:.1f} % (lowest {a:.2f} %, epoch {e})"
    _target_line(ax)
    ax.set(ylim=(lo, hi), xlabel=label, ylabel="accuracy (%)")
    ax.grid(alpha=0.3)


def _legend_outside(fig, ax, title: str):
    ax.set_title(title, fontsize=10)
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8, frameon=False)
    fig.tight_layout()
    return fig


def plot_history(history: History, title: str | None = None, size: tuple[float, float] = (15, 4.2)):
    """Accuracy (zoomed), loss and LR per epoch, one legend under the panels. Give the size here: the layout fits it."""
    epochs, name = history.column("epoch"), history.eval_name.lower()
    fig, axes = plt.subplots(1, 3, figsize=size)
    curves = {"train": (epochs, history.column("train_acc"), {}), f"{name}, one view": (epochs, history.one_view, {})}
    if history.five_views:
        curves[f"{name}, five views (test-time augmentation)"] = (epochs, history.five_views, FIVE)
    _accuracy_panel(axes[0], curves)
    axes[0].set_title("accuracy (%)")
    axes[1].plot(epochs, history.column("train_loss"), "o-", epochs, history.column("eval_loss"), "o-")
    axes[2].plot(epochs, history.column("lr"), "o-")
    for ax, name in zip(axes[1:], ("loss", "learning rate (epoch start)"), strict=True):
        ax.set(title=name, xlabel="epoch", yscale="log")
        ax.grid(alpha=0.3)
    fig.suptitle(title or f"{history.config['name']} ({history.params:,} params, seed {history.seed})")
    handles, labels = axes[0].get_legend_handles_labels()  # the loss curves share these colours and names
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=9, frameon=False)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return fig


def plot_misclassified(images, labels, preds, wrong: int, total: int, title: str = "misclassified",
                       eval_name: str = "test", ncols: int = 8):
    """A grid of images (N, 28, 28) titled 'true -> predicted'; `wrong` of `total` images evaluated (the run's count)
    go into the title: '05_one_cycle: 54 of 10,000 test images wrong, first 24 shown'."""
    n = len(images)
    heading = f"{title}: {wrong:,} of {total:,} {eval_name} images wrong, {'all' if n >= wrong else f'first {n}'} shown"
    if n == 0:
        fig, ax = plt.subplots(figsize=(6, 1))
        ax.text(0.5, 0.5, heading, ha="center", va="center")
        ax.axis("off")
        return fig
    rows = (n + ncols - 1) // ncols
    fig, axes = plt.subplots(rows, ncols, figsize=(1.6 * ncols, 1.9 * rows + 0.4), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < n:
            ax.imshow(images[i], cmap="gray_r")
            ax.set_title(f"{int(labels[i])} -> {int(preds[i])}", fontsize=10)
    fig.suptitle(f"{heading} (true -> predicted)")
    fig.tight_layout()
    return fig


def plot_compare(histories: dict[str, History], title: str = STEPS_TITLE, spread: dict[str, dict] | None = None):
    """Several runs' test accuracy per epoch in one view (five views dashed, where read); `spread` ({name: seeds
    summary}) shades the min-max band of those runs' seeds."""
    fig, ax = plt.subplots(figsize=(11, 5))
    curves = {}
    for name, h in histories.items():
        curves[f"{name} ({h.params:,} params)"] = (h.column("epoch"), h.one_view, {})
        if h.five_views:
            curves[f"{name}, five views (test-time augmentation)"] = (h.column("epoch"), h.five_views, FIVE)
    _accuracy_panel(ax, curves)
    lo = ax.get_ylim()[0]
    for name, summary in (spread or {}).items():
        color = next((line.get_color() for line in ax.lines if line.get_label().startswith(f"{name} (")), None)
        rows = summary["per_epoch"]
        ax.fill_between([r["epoch"] for r in rows], [max(r["min"], lo) for r in rows], [r["max"] for r in rows],
                        color=color, alpha=0.15, lw=0, label=f"{name}: {len(summary['seeds'])} seeds, min-max")
    return _legend_outside(fig, ax, title)


def plot_seeds(histories: list[History], title: str | None = None):
    """One curve per seed, the target line, and the band of the window (epochs 10-15) the claims are about."""
    fig, ax, h = *plt.subplots(figsize=(9, 5)), histories[0]
    _accuracy_panel(ax, {f"seed {run.seed}": (run.column("epoch"), run.one_view, {}) for run in histories})
    last = max(h.column("epoch"))
    ax.axvspan(max(0.5, last - WINDOW + 0.5), last + 0.5, color="green", alpha=0.06,
               label=f"epochs {window_label(last)}")
    return _legend_outside(fig, ax, title or f"{h.config['name']}: {h.eval_name.lower()} accuracy of {len(histories)} "
                           "seeds per epoch, one view")


# where a point's number may sit, in points from the point, tried in turn until it clears every number placed
_OFFSETS = [(6, 4), (6, -12), (-14, 4), (-14, -12), (6, 15), (6, -23), (-14, 15), (-14, -23), (16, -4), (-24, -4),
            (6, 26), (6, -34), (-14, 26), (-14, -34)]


def _number_points(ax, points: list[tuple[float, float]], fontsize: int = 9) -> None:
    """Write 1, 2, ... beside `points`, each where its box overlaps no number already written and no point."""
    scale = ax.figure.dpi / 72  # points to pixels
    pixels = [ax.transData.transform(point) for point in points]
    taken = [(x - 4 * scale, y - 4 * scale, x + 4 * scale, y + 4 * scale) for x, y in pixels]
    for number, ((x, y), point) in enumerate(zip(pixels, points, strict=True), 1):
        w, h = 0.65 * fontsize * len(str(number)) * scale, fontsize * scale
        boxes = [(x + dx * scale, y + dy * scale, x + dx * scale + w, y + dy * scale + h) for dx, dy in _OFFSETS]
        free = [b for b in boxes if not any(b[0] < o[2] and o[0] < b[2] and b[1] < o[3] and o[1] < b[3]
                                            for o in taken)]
        box = (free or boxes)[0]
        ax.annotate(str(number), point, xytext=_OFFSETS[boxes.index(box)], textcoords="offset points",
                    fontsize=fontsize)
        taken.append(box)


def plot_frontier(rows: list[dict], title: str = FRONTIER_TITLE):
    """One numbered point per recipe (a row of report.frontier_rows): params against the worst seed's one-view minimum
    over epochs 10-15, a bar over its seeds' minima, green where every seed holds, a diamond for a published recipe
    (peer); the numbers are keyed beside the panel."""
    rows = sorted(rows, key=lambda r: (r["params"], r["label"]))
    fig, ax = plt.subplots(figsize=(11, 5))
    values = [m for r in rows for m in r["seed_mins"]] + [TARGET]
    key = []
    for number, r in enumerate(rows, 1):
        colour, mins = "tab:green" if r["holds"] else "tab:red", r["seed_mins"]
        ax.vlines(r["params"], min(mins), max(mins), color=colour, alpha=0.5, lw=2, zorder=4)
        ax.plot(r["params"], r["worst_min"], "D" if r["peer"] else "o", color=colour, ms=7, zorder=5)
        key.append(f"{number}. {r['label']}: {r['params']:,} params, {r['worst_min']:.2f} %, {len(mins)} seed"
                   + "s" * (len(mins) > 1))
    _target_line(ax)
    ax.set_ylim(min(values) - 0.04, max(values) + 0.04)
    ax.margins(x=0.08)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:,.0f}"))
    ax.set(xlabel="parameters", ylabel="lowest one-view accuracy, epochs 10-15 (%)")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    legend = [Line2D([], [], color=c, marker=m, ls=ls, lw=2, alpha=a, label=t) for c, m, ls, a, t in [
        ("tab:green", "o", "", 1, "every seed holds"), ("tab:red", "o", "", 1, "a seed misses"),
        ("0.4", "D", "", 1, "a published recipe (peer)"), ("0.4", "", "-", 0.5, "range of the seeds' lowest epochs")]]
    ax.legend(handles=legend, loc="upper left", bbox_to_anchor=(1.02, 0.0), fontsize=8, frameon=False)
    ax.text(1.02, 1.0, "\n".join(key), transform=ax.transAxes, va="top", fontsize=8, family="monospace")
    fig.tight_layout()
    _number_points(ax, [(r["params"], r["worst_min"]) for r in rows])  # once the axes have their final size
    return fig
