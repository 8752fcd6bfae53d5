"""Plots drawn from Histories: curves of one run, the misclassified digits, steps and seeds compared, and the
params-against-accuracy frontier. Every accuracy panel is zoomed on the region around the 99.4 % target.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.ticker import FuncFormatter

from ..train import TARGET, WINDOW, History, window_label

# --- the accuracy axis ---
# The view every accuracy panel starts from. 98.5-99.8 would put 99.4 at 69 % of the height (top third), so the
# range is shifted up by 0.1: 99.4 then sits at 62 %, inside the middle third the panels promise.
ACC_RANGE = (98.6, 99.9)  # percent
ACC_FLOOR = 98.2  # lowest bottom edge: with the top at 100, 99.4 is then exactly at 2/3 of the height
_PAD = 0.05  # percent above and below a curve that the range is widened to include


def accuracy_limits(values, target: float = TARGET) -> tuple[float, float]:
    """y-limits for an accuracy panel: ACC_RANGE widened to take in `values` (the last epochs' accuracies),
    never below ACC_FLOOR nor above 100, with `target` always in the middle third of the range."""
    lo, hi = ACC_RANGE
    values = list(values)
    if values:
        lo = max(min(lo, min(values) - _PAD), ACC_FLOOR)
        hi = min(max(hi, max(values) + _PAD), 100.0)
    below, above = target - lo, hi - target
    if below > 2 * above:  # target too high in the panel: raise the top
        hi = target + below / 2
    elif above > 2 * below:  # target too low: lower the bottom
        lo = target - above / 2
    return lo, hi


def _accuracy_panel(ax, curves, target: float = TARGET, last: int = WINDOW):
    """Draw `curves` (label -> (epochs, accs, plot kwargs)) on a zoomed accuracy axis with the target line.

    Points below the bottom edge are clipped; each is marked by a small triangle on the edge, and a note says so.
    """
    lo, hi = accuracy_limits([a for epochs, accs, _ in curves.values() for a in accs[-last:]], target)
    clipped = []
    for label, (epochs, accs, kwargs) in curves.items():
        (line,) = ax.plot(epochs, accs, label=label, **{"marker": "o", "ms": 4, **kwargs})
        low = [(e, a) for e, a in zip(epochs, accs, strict=True) if a < lo]
        if low:
            ax.plot([e for e, _ in low], [lo] * len(low), "v", color=line.get_color(), ms=7, clip_on=False,
                    zorder=5)
            clipped += low
    _target_line(ax, target)
    ax.set_ylim(lo, hi)
    label = "epoch"
    if clipped:  # said under the axis, where it covers no data
        e, a = min(clipped, key=lambda p: p[1])
        label += f"\n▼ {len(clipped)} point(s) below {lo:.1f} % (lowest {a:.2f} %, epoch {e})"
    ax.set_xlabel(label)
    ax.set_ylabel("accuracy (%)")
    ax.grid(alpha=0.3)
    return lo, hi


def _target_line(ax, target: float = TARGET):
    ax.axhline(target, color="red", ls="--", lw=1)
    ax.text(0.01, target, f"{target} % target", color="red", fontsize=9, ha="left", va="bottom",
            transform=ax.get_yaxis_transform())


# --- one run ---
def plot_history(history: History, title: str | None = None, size: tuple[float, float] = (15, 4.2)):
    """Accuracy (zoomed on the target) and loss, train and evaluation, and the LR, per epoch; one legend for the
    panels, under them. Give the size here, not afterwards: the layout is fitted to it."""
    epochs = history.column("epoch")
    eval_name = history.eval_name.lower()
    fig, axes = plt.subplots(1, 3, figsize=size)
    ax = axes[0]
    curves = {"train": (epochs, history.column("train_acc"), {}),
              f"{eval_name}, one view": (epochs, history.one_view, {})}
    if history.five_views:
        curves[f"{eval_name}, five views (test-time augmentation)"] = (epochs, history.five_views,
                                                                       {"ls": "--", "marker": "s", "ms": 3})
    _accuracy_panel(ax, curves)
    ax.set_title("accuracy (%)")
    ax = axes[1]
    ax.plot(epochs, history.column("train_loss"), "o-", label="train")
    if all("eval_loss" in e for e in history.epochs):
        ax.plot(epochs, history.column("eval_loss"), "o-", label=f"{eval_name}, one view")
    else:  # stored before the one-view loss of a five-view run was recorded
        ax.plot(epochs, history.column("five_loss"), "s--", label=f"{eval_name}, five views")
    ax.set(title="loss", xlabel="epoch", yscale="log")
    ax = axes[2]
    ax.plot(epochs, history.column("lr"), "o-")
    ax.set(title="learning rate (epoch start)", xlabel="epoch", yscale="log")
    for ax in axes[1:]:
        ax.grid(alpha=0.3)
    fig.suptitle(title or f"{history.config['name']} ({history.params:,} params, seed {history.seed})")
    handles, labels = axes[0].get_legend_handles_labels()  # the loss panel's curves have the same colours and names
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=9, frameon=False)
    fig.tight_layout(rect=(0, 0.08, 1, 1))  # the legend's row stays clear of the axes and their labels
    return fig


def misclassified_title(title: str, shown: int, wrong: int | None = None, total: int | None = None,
                        eval_name: str = "test") -> str:
    """'05_one_cycle: 54 of 10,000 test images wrong, first 24 shown'; without the totals, what is shown."""
    if wrong is None:
        return f"{title}: {shown} misclassified {eval_name} images shown"
    of = f" of {total:,}" if total is not None else ""
    if shown >= wrong:
        return f"{title}: {wrong:,}{of} {eval_name} images wrong, all shown"
    return f"{title}: {wrong:,}{of} {eval_name} images wrong, first {shown} shown"


def plot_misclassified(images, labels, preds, ncols: int = 8, title: str = "misclassified",
                       wrong: int | None = None, total: int | None = None, eval_name: str = "test"):
    """A grid of images (N, 28, 28) titled 'true -> predicted'.

    `title` names the step; `wrong` and `total` are the run's count of misclassified images and of images
    evaluated (e.g. eval_total - eval_correct and eval_total of the last epoch), shown in the figure's title.
    """
    n = len(images)
    heading = misclassified_title(title, n, wrong, total, eval_name)
    if n == 0:
        fig, ax = plt.subplots(figsize=(6, 1))
        ax.text(0.5, 0.5, heading, ha="center", va="center")
        ax.axis("off")
        return fig
    nrows = (n + ncols - 1) // ncols
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.6 * ncols, 1.9 * nrows + 0.4), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < n:
            ax.imshow(images[i], cmap="gray_r")
            ax.set_title(f"{int(labels[i])} -> {int(preds[i])}", fontsize=10)
    fig.suptitle(f"{heading} (true -> predicted)")
    fig.tight_layout()
    return fig


# --- several runs ---
STEPS_TITLE = "test accuracy per epoch, one view: each step's notebook run (line) and its seeds' range (band)"


def plot_compare(histories: dict[str, History], title: str = STEPS_TITLE, spread: dict[str, dict] | None = None):
    """Test accuracy per epoch of several runs in one view (solid), zoomed on the target line; a run read in five views
    also gets that reading, dashed and labelled.

    spread: {name: seeds summary} for the runs whose step has seeds: their one-view min-max band is shaded.
    """
    fig, ax = plt.subplots(figsize=(11, 5))
    curves = {}
    for name, h in histories.items():
        curves[f"{name} ({h.params:,} params)"] = (h.column("epoch"), h.one_view, {})
        if h.five_views:
            curves[f"{name}, five views (test-time augmentation)"] = (h.column("epoch"), h.five_views,
                                                                      {"ls": "--", "marker": "s", "ms": 3})
    _accuracy_panel(ax, curves)
    lo = ax.get_ylim()[0]
    for name, summary in (spread or {}).items():
        color = next((line.get_color() for line in ax.lines if line.get_label().startswith(f"{name} (")), None)
        rows = summary["per_epoch"]
        ax.fill_between([r["epoch"] for r in rows], [max(r["min"], lo) for r in rows], [r["max"] for r in rows],
                        color=color, alpha=0.15, lw=0, label=f"{name}: {len(summary['seeds'])} seeds, min-max")
    ax.set_title(title, fontsize=10)
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8, frameon=False)  # outside the data
    fig.tight_layout()
    return fig


def plot_seeds(histories: list[History], title: str | None = None):
    """One curve per seed, the target line, and the epochs 10-15 band the headline is about."""
    fig, ax = plt.subplots(figsize=(9, 5))
    _accuracy_panel(ax, {f"seed {h.seed}": (h.column("epoch"), h.one_view, {}) for h in histories})
    last = max(histories[0].column("epoch"))
    ax.axvspan(max(0.5, last - WINDOW + 0.5), last + 0.5, color="green", alpha=0.06,
               label=f"epochs {window_label(last)}")
    name = histories[0].config["name"]
    ax.set_title(title or f"{name}: {histories[0].eval_name.lower()} accuracy of {len(histories)} seeds per epoch, "
                 "one view", fontsize=10)
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8, frameon=False)  # outside the data
    fig.tight_layout()
    return fig


# where a point's number may sit, in points from the point, tried in this order until it clears every number placed
_LABEL_OFFSETS = [(6, 4), (6, -12), (-14, 4), (-14, -12), (6, 15), (6, -23), (-14, 15), (-14, -23), (16, -4),
                  (-24, -4), (6, 26), (6, -34), (-14, 26), (-14, -34)]


def _number_points(ax, points: list[tuple[float, float]], fontsize: int = 9) -> None:
    """Write 1, 2, ... beside `points`, each at the first offset whose box overlaps no number already written and no
    other point (points closer than a label's size would otherwise print their numbers on top of each other)."""
    fig = ax.figure
    scale = fig.dpi / 72  # points to pixels
    pixels = [ax.transData.transform(point) for point in points]
    marker = 4 * scale  # half a marker's side
    taken = [(x - marker, y - marker, x + marker, y + marker) for x, y in pixels]
    for number, ((x, y), point) in enumerate(zip(pixels, points, strict=True), 1):
        width, height = 0.65 * fontsize * len(str(number)) * scale, fontsize * scale
        boxes = [(x + dx * scale, y + dy * scale, x + dx * scale + width, y + dy * scale + height)
                 for dx, dy in _LABEL_OFFSETS]
        free = [box for box in boxes if not any(_overlap(box, other) for other in taken)]
        box = (free or boxes)[0]  # all taken: the first place, as before
        offset = _LABEL_OFFSETS[boxes.index(box)]
        ax.annotate(str(number), point, xytext=offset, textcoords="offset points", fontsize=fontsize)
        taken.append(box)


def _overlap(a: tuple, b: tuple) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


FRONTIER_TITLE = ("each recipe on the test set, one view: its worst seed's lowest epoch of 10-15 (marker) and the "
                  "range of its seeds' lowest epochs (bar)")


def plot_frontier(rows: list[dict], title: str = FRONTIER_TITLE):
    """One numbered point per recipe ({"label", "params", "worst_min", "seed_mins"?, "holds"?, "peer"?}): parameters
    (x) against the worst seed's one-view minimum over epochs 10-15 (y), a bar over the range of its seeds' minima,
    green where every seed holds the target, a diamond for a published recipe (a peer); the legend says so, the numbers
    are keyed beside the panel, and the y-range fits the bars and the target line."""
    from matplotlib.lines import Line2D

    rows = sorted(rows, key=lambda r: (r["params"], r["label"]))
    fig, ax = plt.subplots(figsize=(11, 5))
    values = [m for r in rows for m in r.get("seed_mins", [r["worst_min"]])] + [TARGET]
    lo, hi = min(values) - 0.04, max(values) + 0.04
    key = []
    for number, r in enumerate(rows, 1):
        colour = "tab:green" if r.get("holds", r["worst_min"] >= TARGET) else "tab:red"
        mins = r.get("seed_mins") or [r["worst_min"]]
        ax.vlines(r["params"], min(mins), max(mins), color=colour, alpha=0.5, lw=2, zorder=4)
        ax.plot(r["params"], r["worst_min"], "D" if r.get("peer") else "o", color=colour, ms=7, zorder=5)
        seeds = f", {len(mins)} seeds" if r.get("seed_mins") else ""
        key.append(f"{number}. {r['label']}: {r['params']:,} params, {r['worst_min']:.2f} %{seeds}")
    _target_line(ax, TARGET)
    ax.set_ylim(lo, hi)
    ax.margins(x=0.08)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:,.0f}"))
    ax.set_title(title, fontsize=10)
    ax.set(xlabel="parameters", ylabel="lowest one-view accuracy, epochs 10-15 (%)")
    ax.grid(alpha=0.3)
    legend = [Line2D([], [], color="tab:green", marker="o", ls="", label="every seed holds"),
              Line2D([], [], color="tab:red", marker="o", ls="", label="a seed misses"),
              Line2D([], [], color="0.4", marker="D", ls="", label="a published recipe (peer)"),
              Line2D([], [], color="0.4", lw=2, alpha=0.5, label="range of the seeds' lowest epochs")]
    ax.legend(handles=legend, loc="upper left", bbox_to_anchor=(1.02, 0.0), fontsize=8, frameon=False)
    ax.text(1.02, 1.0, "\n".join(key), transform=ax.transAxes, va="top", fontsize=8, family="monospace")
    fig.tight_layout()
    _number_points(ax, [(r["params"], r["worst_min"]) for r in rows])  # once the axes have their final size
    return fig
