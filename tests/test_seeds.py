"""The seeds summary: per-epoch min/mean/max, the worst seed, and when every seed holds the target."""

import json
from dataclasses import replace

import pytest

import mnist_drill.lab.seeds
from mnist_drill.lab.results import format_seeds_table, load_history, summarize_seeds
from mnist_drill.train import History


def make(seed, accs):
    return History(config={"name": "demo"}, seed=seed, params=5000, device="cpu", versions={}, total_seconds=10.0,
                   epochs=[{"epoch": i + 1, "eval_acc": a} for i, a in enumerate(accs)])


def test_summary_statistics_and_first_epoch_all_seeds_hold():
    runs = [make(1, [99.0, 99.41, 99.45]), make(2, [99.42, 99.38, 99.40]), make(3, [99.5, 99.5, 99.6])]
    s = summarize_seeds(runs)
    assert s["per_epoch"][1] == {"epoch": 2, "min": 99.38, "mean": pytest.approx((99.41 + 99.38 + 99.5) / 3),
                                 "max": 99.5}
    assert s["first_consistent_per_seed"] == {"1": 2, "2": 3, "3": 1}
    assert s["first_consistent_all"] == 3
    assert s["worst_seed"] == 1 and s["worst_seed_min_last_epochs"] == 99.0  # its epoch 1, within the window
    later = [make(r.seed, r.one_view[:1] + [99.6] * 4 + r.one_view[1:]) for r in runs]  # 7 epochs: window 2-7
    assert summarize_seeds(later)["worst_seed"] == 2  # epoch 1 of seed 1 has left the window: 99.38 is the lowest
    assert s["last_epoch_mean"] == pytest.approx((99.45 + 99.40 + 99.6) / 3) and s["seeds_holding"] == 1
    assert "five_views" not in s and "five views" not in format_seeds_table(s)  # runs read in one view


def test_runs_read_in_five_views_are_judged_in_one_view_with_five_views_beside():
    high = [99.6] * 4
    runs = [make(1, [99.5] + high + [99.5, 99.5]), make(2, [99.45] + high + [99.5, 99.42])]  # five views
    for run, plain in zip(runs, ([99.4] + high + [99.45, 99.41], [99.38] + high + [99.5, 99.45]), strict=True):
        run.config["tta_shift"] = 1
        for epoch, acc in zip(run.epochs, plain, strict=True):
            epoch["five_acc"], epoch["eval_acc"] = epoch["eval_acc"], acc
    s = summarize_seeds(runs)  # epochs 2-7 of 7
    assert s["reading"] == "one view" and s["worst_seed_min_last_epochs"] == 99.41 and s["seeds_holding"] == 2
    assert s["last_epoch_mean"] == pytest.approx((99.41 + 99.45) / 2)
    assert s["five_views"]["worst_seed_min_last_epochs"] == 99.42 and s["five_views"]["seeds_holding"] == 2
    assert s["first_consistent_per_seed"] == {"1": 1, "2": 2}  # seed 2's one view reads 99.38 at epoch 1
    assert "five views" in format_seeds_table(s)


def test_a_five_view_run_without_its_one_view_reading_says_so(tmp_path):
    run = make(1, [99.5, 99.5])
    run.config["tta_shift"] = 1
    run = load_history(run.save(tmp_path / "old.json"))  # stored before the one view was: eval_acc held five views
    assert run.five_views == [99.5, 99.5]
    with pytest.raises(ValueError, match="before the one-view reading was recorded"):
        summarize_seeds([run])


def test_a_seed_missing_the_target_at_the_end_means_never():
    s = summarize_seeds([make(1, [99.5, 99.5]), make(2, [99.5, 99.3])])
    assert s["first_consistent_all"] is None


def test_summary_refuses_nothing_or_ragged_runs():
    with pytest.raises(ValueError, match="at least one"):
        summarize_seeds([])
    with pytest.raises(ValueError, match="different numbers of epochs"):
        summarize_seeds([make(1, [99.0]), make(2, [99.0, 99.1])])


def test_run_seeds_saves_each_history_and_a_summary_that_names_its_command(mnist_root, tiny_config, tmp_path):
    folder = tmp_path / "seeds" / tiny_config.name
    histories, summary = mnist_drill.lab.seeds.run_seeds(replace(tiny_config, epochs=1), [3, 4], folder,
                                                     identity={"step": 3, "variant": ""},
                                                     log=lambda *_: None)
    assert sorted(p.name for p in folder.iterdir()) == ["seed3.json", "seed4.json", "summary.json"]
    assert summary["seeds"] == [3, 4] and [h.seed for h in histories] == [3, 4]
    assert summary["step"] == 3 and summary["command"] and len(summary["commit"]) == 40
    assert [h.seed for h in mnist_drill.lab.seeds.load_seeds(folder)] == [3, 4]
    assert all(h.commit == summary["commit"] for h in histories)


def test_load_seeds_of_an_empty_folder_names_the_command(tmp_path):
    with pytest.raises(FileNotFoundError, match="mnist_drill seeds"):
        mnist_drill.lab.seeds.load_seeds(tmp_path)


def test_the_held_out_summaries_count_every_finished_later_five(monkeypatch, tmp_path):
    from mnist_drill.config import LAST_STEP, STEPS
    from mnist_drill.lab import layout

    monkeypatch.setattr(layout, "RESULTS_DIR", tmp_path)
    name = STEPS[LAST_STEP].name
    for seeds, finished in ((range(6, 11), True), (range(11, 16), True), (range(16, 21), False)):
        folder = layout.seeds_dir(name, seeds=seeds)
        for seed in seeds:
            run = make(seed, [99.5] * 15)
            run.config["name"] = name
            run.save(folder / f"seed{seed}.json")
        if finished:  # 16-20 still running: no summary yet, so not counted
            layout.summary_path(folder).write_text(json.dumps({"name": name, "command": f"made {seeds[0]}"}))
    parts = mnist_drill.lab.seeds.load_seed_summaries(held_out=True)
    assert [(p["seeds"][0], p["seeds_holding"], p["command"]) for p in parts] == [(6, 5, "made 6"), (11, 5, "made 11")]
    assert parts[1]["path"].endswith(f"held-out/{name}_seeds-11-15/summary.json")
    assert mnist_drill.lab.seeds.load_seed_summaries() == []  # no seeds 1-5 stored here
