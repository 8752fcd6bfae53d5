"""The seeds summary: per-epoch min/mean/max, the worst seed, and when every seed holds the target."""

from dataclasses import replace

import pytest

import mnist_drill.seeds
from mnist_drill.results import History, format_seeds_table, summarize_seeds


def make(seed, accs):
    return History(config={"name": "demo"}, seed=seed, params=5000, device="cpu", versions={}, total_seconds=10.0,
                   epochs=[{"epoch": i + 1, "test_acc": a} for i, a in enumerate(accs)])


def test_summary_statistics_and_first_epoch_all_seeds_hold():
    runs = [make(1, [99.0, 99.41, 99.45]), make(2, [99.42, 99.38, 99.40]), make(3, [99.5, 99.5, 99.6])]
    s = summarize_seeds(runs)
    assert s["per_epoch"][1] == {"epoch": 2, "min": 99.38, "mean": pytest.approx((99.41 + 99.38 + 99.5) / 3),
                                 "max": 99.5}
    assert s["first_consistent_per_seed"] == {"1": 2, "2": 3, "3": 1}
    assert s["first_consistent_all"] == 3
    assert s["worst_seed"] == 1 and s["worst_seed_min_last_epochs"] == 99.0  # its epoch 1, within the window
    assert summarize_seeds(runs, window=2)["worst_seed"] == 2  # over epochs 2-3 only: 99.38
    assert s["last_epoch_mean"] == pytest.approx((99.45 + 99.40 + 99.6) / 3)
    table = format_seeds_table(s)
    assert "every seed >= 99.4% from epoch: 3" in table and "worst seed: 1" in table


def test_a_seed_missing_the_target_at_the_end_means_never():
    s = summarize_seeds([make(1, [99.5, 99.5]), make(2, [99.5, 99.3])])
    assert s["first_consistent_all"] is None
    assert "from epoch: never" in format_seeds_table(s)


def test_summary_refuses_nothing_or_ragged_runs():
    with pytest.raises(ValueError, match="at least one"):
        summarize_seeds([])
    with pytest.raises(ValueError, match="different numbers of epochs"):
        summarize_seeds([make(1, [99.0]), make(2, [99.0, 99.1])])


def test_run_seeds_saves_each_history_and_the_summary(mnist_root, tiny_config, tmp_path, monkeypatch):
    monkeypatch.setattr(mnist_drill.seeds, "RESULTS_DIR", tmp_path)
    histories, summary = mnist_drill.seeds.run_seeds(replace(tiny_config, epochs=1), [3, 4], progress=False,
                                                     log=lambda *_: None)
    folder = tmp_path / "seeds" / tiny_config.name
    assert sorted(p.name for p in folder.iterdir()) == ["seed3.json", "seed4.json", "summary.json"]
    assert summary["seeds"] == [3, 4] and [h.seed for h in histories] == [3, 4]
    assert [h.seed for h in mnist_drill.seeds.load_seeds(replace(tiny_config, epochs=1))] == [3, 4]


def test_sweep_table_shows_each_variant_with_its_params_accuracy_and_speed():
    runs = {"narrow": make(1, [99.0, 99.41, 99.45]), "a much longer label": make(1, [99.5, 99.3, 99.6])}
    for h in runs.values():
        h.epochs = [{**e, "seconds": 4.0} for e in h.epochs]
    lines = mnist_drill.seeds.format_sweep_table(runs, last=2).splitlines()
    assert lines[0].split()[:2] == ["variant", "params"] and lines[0].endswith("s/epoch")
    assert lines[1].split() == ["narrow", "5,000", "99.41", "99.43", "99.45", "2", "4.0"]
    assert lines[2].startswith("a much longer label") and lines[2].split()[-2:] == ["3", "4.0"]


def test_exploration_table_groups_runs_by_label_over_their_seeds(tmp_path):
    import json

    def run(label, seed, low, mean):
        return {"label": label, "seed": seed, "params": 5680, "min_epochs_10_15": low, "mean_epochs_10_15": mean}

    path = tmp_path / "exploration.json"
    path.write_text(json.dumps({"note": "", "runs": [run("a", 1, 99.3, 99.4), run("b", 1, 99.1, 99.2),
                                                     run("a", 2, 99.2, 99.5)]}))
    lines = mnist_drill.seeds.format_exploration_table(path).splitlines()
    assert lines[1].split() == ["a", "1,2", "5,680", "99.20", "99.45"]  # worst of the seeds, mean of the means
    assert lines[2].split() == ["b", "1", "5,680", "99.10", "99.20"]
