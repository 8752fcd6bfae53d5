"""Sweeps: candidates built from their step, several seeds each, ranked by the worst seed."""

from dataclasses import replace

import pytest

from mnist_drill import sweeps
from mnist_drill.config import ONE_CYCLE, SWEEPS, Sweep
from mnist_drill.results import History


def make(seed, accs, params=5000, seconds=4.0):
    return History(config={"name": "demo"}, seed=seed, params=params, device="cpu", versions={},
                   epochs=[{"epoch": i + 1, "eval_acc": a, "seconds": seconds} for i, a in enumerate(accs)])


def fifteen(low, rest=99.5):
    """15 epochs at `rest`, with `low` in epoch 12 (inside the 10-15 window) and 90 in epoch 1 (outside it)."""
    return [90.0] + [rest] * 10 + [low] + [rest] * 3


def test_rows_rank_by_the_worst_seed_not_the_mean():
    runs = {"high mean, one bad seed": [make(1, fifteen(99.30, 99.7)), make(2, fifteen(99.6, 99.7))],
            "steady": [make(1, fifteen(99.42), params=4000), make(2, fifteen(99.45), params=4000)]}
    rows = sweeps.sweep_rows(runs)
    assert [r["label"] for r in rows] == ["steady", "high mean, one bad seed"]
    assert rows[0]["worst_min"] == 99.42 and rows[0]["seeds_holding"] == 2
    assert rows[1]["worst_min"] == 99.30 and rows[1]["seeds_holding"] == 1
    assert rows[1]["mean"] > rows[0]["mean"]  # the mean would have ranked them the other way
    assert rows[0]["window"] == [10, 15]  # epoch 1's 90 % lies outside the window


def test_table_has_params_speed_worst_min_mean_and_seeds_holding():
    rows = sweeps.sweep_rows({"a": [make(1, fifteen(99.41)), make(2, fifteen(99.38))]})
    header, line = sweeps.format_sweep_table(rows).splitlines()
    assert header.split()[:3] == ["candidate", "params", "s/epoch"] and "worst min 10-15" in header
    assert line.split() == ["a", "5,000", "4.0", "99.38", "99.48", "1", "of", "2"]


def test_candidates_are_their_base_plus_their_changes_on_the_validation_split():
    configs = sweeps.candidates("frontier")
    assert list(configs) == list(SWEEPS["frontier"].candidates)
    base = SWEEPS["frontier"].base
    assert base is ONE_CYCLE and all(sweep.base is ONE_CYCLE for sweep in SWEEPS.values())  # the stored runs' base
    label = "7.6k, rotation (step 5)"  # step 5 of the earlier releases
    assert configs[label] == replace(ONE_CYCLE, name=f"frontier: {label}", split="val")
    for label, config in configs.items():
        assert config.split == "val"
        changes = SWEEPS["frontier"].candidates[label]
        assert {k: getattr(config, k) for k in changes} == changes
        assert all(getattr(config, k) == getattr(base, k) for k in ("lr", "scheduler", "epochs") if k not in changes)
    assert all(c.lr == 0.1 for c in sweeps.candidates("frontier", {"lr": 0.1}).values())
    with pytest.raises(ValueError, match="no sweep named 'nope'"):
        sweeps.candidates("nope")


def test_sweep_runs_every_candidate_with_every_seed_and_stores_them(mnist_root, tiny_config, tmp_path, monkeypatch):
    monkeypatch.setitem(SWEEPS, "tiny", Sweep(3, {"a": {}, "b": {"arch": "C8 M C8 G"}}, "test"))
    small = dict(epochs=1, train_subset=256, eval_subset=128, batch_size=64)
    runs = sweeps.run_sweep("tiny", [1, 2], tmp_path, overrides=small, progress=False, log=lambda *_: None)
    assert {label: [h.seed for h in hs] for label, hs in runs.items()} == {"a": [1, 2], "b": [1, 2]}
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.json")) == [
        "a/seed1.json", "a/seed2.json", "b/seed1.json", "b/seed2.json", "summary.json"]
    summary = sweeps.load_summary("tiny", tmp_path)
    assert summary["sweep"] == "tiny" and summary["overrides"] == small and len(summary["rows"]) == 2
    assert summary["table_command"] and summary["run_commands"] and len(summary["commits"][0]) == 40
    assert {label: len(hs) for label, hs in sweeps.load_sweep("tiny", tmp_path).items()} == {"a": 2, "b": 2}


def test_every_stored_frontier_run_is_its_candidate_as_defined_now():
    """The sweep's definitions may be rewritten (steps move on), but each must still name what was run."""
    from dataclasses import replace

    from mnist_drill.config import Config

    configs = sweeps.candidates("frontier")
    stored = sweeps.load_sweep("frontier")
    assert set(stored) <= set(configs) and len(stored) >= 3
    for label, runs in stored.items():
        for h in runs:
            assert Config.from_dict(h.config) == replace(configs[label], seed=h.seed), label


def test_twins_train_alike_and_differ_only_in_how_the_weights_are_read():
    assert sweeps.twin("tta", "5.7k, affine, weight decay 1e-4, TTA 1 px") == (
        "frontier", "5.7k, affine, weight decay 1e-4")
    assert sweeps.twin("batchnorm", "7.6k, rotation (step 5), BN refreshed") == ("frontier", "7.6k, rotation (step 5)")
    assert sweeps.twin("frontier", "5.7k, affine") is None  # reads its weights as every run does


def test_paired_rows_compare_each_seed_with_its_twin(mnist_root, tiny_config, tmp_path, monkeypatch):
    monkeypatch.setitem(SWEEPS, "plain", Sweep(3, {"a": {}}, "test"))
    monkeypatch.setitem(SWEEPS, "shifted", Sweep(3, {"a, TTA": {"tta_shift": 1}}, "test"))
    small = dict(epochs=2, train_subset=256, eval_subset=128, batch_size=64)
    folder_of = tmp_path.joinpath
    sweeps.run_sweep("plain", [1, 2], folder_of("plain"), overrides=small, progress=False, log=lambda *_: None)
    shifted = sweeps.run_sweep("shifted", [2], folder_of("shifted"), overrides=small, progress=False,
                               log=lambda *_: None)["a, TTA"][0]
    [row] = sweeps.paired_rows("shifted", folder_of)
    assert row["twin"] == "plain: a" and row["seeds"] == [2] and row["same_training"]
    plain = History.load(folder_of("plain") / "a" / "seed2.json")
    before, after = min(sweeps.window_accs(plain)), min(sweeps.window_accs(shifted))
    assert row["worst_min"] == [before, after] and row["min_changes"] == [after - before]
    table = sweeps.format_paired_table([row])
    assert "a, TTA" in table.splitlines()[1] and "yes" in table.splitlines()[1]
    assert sweeps.format_paired_table([]) == "(no candidate with a stored twin)"
