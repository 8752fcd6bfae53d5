"""Plots: accuracy panels zoomed so the 99.4 % target sits in the middle third, the misclassified grid's count."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from mnist_drill.lab.plots import (  # noqa: E402
    accuracy_limits,
    plot_compare,
    plot_frontier,
    plot_history,
    plot_misclassified,
    plot_seeds,
)
from mnist_drill.train import TARGET, History  # noqa: E402


def make(seed, accs, train=None):
    train = train or [a - 0.3 for a in accs]
    epochs = [{"epoch": i + 1, "eval_acc": a, "train_acc": t, "train_loss": 0.1, "eval_loss": 0.05, "lr": 0.1,
               "eval_correct": round(a * 100), "eval_total": 10_000}
              for i, (a, t) in enumerate(zip(accs, train, strict=True))]
    return History(config={"name": "demo"}, seed=seed, params=5000, device="cpu", versions={}, total_seconds=10.0,
                   epochs=epochs)


TYPICAL = [97.8, 98.6, 98.9, 99.1, 99.2, 99.3, 99.35, 99.4, 99.42, 99.45, 99.5, 99.48, 99.5, 99.52, 99.5]
RUNS = {
    "typical": TYPICAL,
    "early epochs far below": [80.0, 95.0] + TYPICAL[2:],
    "last epochs low": [97.0, 97.5, 97.9, 98.0, 98.1, 98.2],
    "last epochs very low (smoke)": [60.0],
    "near 100": [99.7, 99.9, 99.95, 99.98],
}


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def assert_target_in_middle_third(ax):
    lo, hi = ax.get_ylim()
    assert lo + (hi - lo) / 3 <= TARGET <= lo + 2 * (hi - lo) / 3, (lo, hi)
    return lo, hi


@pytest.mark.parametrize("accs", RUNS.values(), ids=RUNS.keys())
def test_accuracy_limits_keep_the_target_in_the_middle_third(accs):
    lo, hi = accuracy_limits(accs[-6:])
    assert lo + (hi - lo) / 3 <= TARGET <= lo + 2 * (hi - lo) / 3
    assert lo >= 98.2 and hi <= 100.0


def test_the_default_view_is_the_region_that_matters():
    assert accuracy_limits([99.3, 99.5]) == (98.6, 99.9)  # 98.5-99.8 shifted up by 0.1: 99.4 at 62 %
    lo, hi = accuracy_limits([98.3, 99.45])  # a last epoch this low widens the range, with the target still centred
    assert lo == pytest.approx(98.25) and hi > 99.9


@pytest.mark.parametrize("accs", RUNS.values(), ids=RUNS.keys())
def test_plot_history_accuracy_panel(accs):
    fig = plot_history(make(1, accs))
    ax = fig.axes[0]
    lo, _ = assert_target_in_middle_third(ax)
    assert any(line.get_ydata()[0] == TARGET for line in ax.lines if len(line.get_ydata()) == 2)  # axhline
    assert any(t.get_text() == f"{TARGET} % target" for t in ax.texts)
    assert ("below" in ax.get_xlabel()) == (min(accs + [a - 0.3 for a in accs]) < lo)  # clipped: said under the axis
    assert not [t for t in ax.texts if "below" in t.get_text()]  # never inside it


def test_early_epochs_are_clipped_not_stretched():
    fig = plot_history(make(1, RUNS["early epochs far below"]))
    ax = fig.axes[0]
    assert ax.get_ylim()[0] > 98  # epoch 1 at 80 % does not pull the axis down
    assert "lowest 79.70 %, epoch 1" in ax.get_xlabel()  # the train curve of epoch 1


def test_plot_compare_and_plot_seeds_keep_the_target_in_the_middle_third():
    runs = [make(seed, accs) for seed, accs in enumerate([TYPICAL, RUNS["early epochs far below"]], start=1)]
    assert_target_in_middle_third(plot_compare({"a": runs[0], "b": runs[1]}).axes[0])
    assert_target_in_middle_third(plot_seeds(runs).axes[0])
    low = [make(1, TYPICAL[:-6] + [98.3] * 6), make(2, TYPICAL)]
    lo, _ = assert_target_in_middle_third(plot_seeds(low).axes[0])
    assert lo < 98.3  # the low last epochs of seed 1 are inside the panel


def test_misclassified_title_carries_the_count():
    images, labels, preds = np.zeros((24, 28, 28)), np.arange(24) % 10, (np.arange(24) + 1) % 10
    fig = plot_misclassified(images, labels, preds, title="05_one_cycle", wrong=54, total=10_000)
    assert fig._suptitle.get_text().startswith("05_one_cycle: 54 of 10,000 test images wrong, first 24 shown")
    fig = plot_misclassified(images[:3], labels[:3], preds[:3], title="s", wrong=3, total=10_000)
    assert "3 of 10,000 test images wrong, all shown" in fig._suptitle.get_text()
    fig = plot_misclassified(images[:0], labels[:0], preds[:0], title="s", wrong=0, total=500,
                             eval_name="validation")
    assert fig.axes[0].texts[0].get_text() == "s: 0 of 500 validation images wrong, all shown"


def row(label: str, params: int, seed_mins: list[float], peer: str | None = None) -> dict:
    """A frontier row as report.frontier_rows makes it, with what the plot reads."""
    return {"label": label, "params": params, "worst_min": min(seed_mins), "seed_mins": seed_mins,
            "holds": min(seed_mins) >= TARGET, "peer": peer}


def test_plot_frontier_fits_its_points_and_keys_every_label_apart():
    rows = [row("step 4", 7568, [99.32, 99.35]), row("step 5", 7568, [99.40, 99.41]), row("small", 5680, [99.37]),
            row("peer", 3762, [99.19], peer="a published recipe")]
    fig = plot_frontier(rows, title="frontier")
    ax = fig.axes[0]
    assert ax.get_title() == "frontier"
    lo, hi = ax.get_ylim()
    assert lo < 99.19 and TARGET < hi and hi - lo < (99.40 - 99.19) + 0.1  # fits the points, not a fixed range
    texts = [t.get_text() for t in ax.texts]
    assert [t for t in texts if t.isdigit()] == ["1", "2", "3", "4"]  # numbered points, keyed beside the panel
    key = next(t for t in texts if t.startswith("1. "))
    assert "1. peer: 3,762 params, 99.19 %, 1 seed\n" in key and "4. step 5: 7,568 params, 99.40 %, 2 seeds" in key
    markers = [line.get_marker() for line in ax.lines if line.get_marker() in ("o", "D")]
    assert markers == ["D", "o", "o", "o"]  # a peer's recipe is drawn apart from ours
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert len(legend) == 4  # both colours, the diamond and the bar are explained


def test_plot_frontier_numbers_close_points_without_overlap():
    # the stored frontier's crowd: five recipes within 20 parameters and 0.02 points of each other
    rows = [row(f"r{i}", 9768 + 4 * i, [99.38 + 0.005 * i]) for i in range(5)] + [row("small", 3762, [99.07])]
    fig = plot_frontier(rows)
    ax = fig.axes[0]
    fig.canvas.draw()
    boxes = [t.get_window_extent() for t in ax.texts if t.get_text().isdigit()]
    assert len(boxes) == 6
    assert not [(a, b) for i, a in enumerate(boxes) for b in boxes[i + 1:] if a.overlaps(b)]


def test_compare_shades_the_seeds_spread_of_the_steps_that_have_seeds():
    import matplotlib.pyplot as plt

    from mnist_drill.lab.plots import plot_compare

    runs = {"a": make(1, [99.3] * 10 + [99.5] * 5), "b": make(1, [99.2] * 15)}
    summary = {"seeds": [1, 2], "per_epoch": [{"epoch": e, "min": 99.1, "max": 99.6} for e in range(1, 16)]}
    fig = plot_compare(runs, spread={"a": summary})
    ax = fig.axes[0]
    assert len(ax.collections) == 1 and "a: 2 seeds, min-max" in [t.get_text() for t in ax.get_legend().texts]
    plt.close(fig)
