"""Sweeps: candidates built from their step, several seeds each, ranked by the worst seed."""

import json
from dataclasses import replace

import pytest

from mnist_drill.config import STEPS
from mnist_drill.lab import layout, sweeps
from mnist_drill.lab.results import load_history
from mnist_drill.train import History


def define(monkeypatch, results, name, candidates, base=None):
    """Sweep `name` in a results folder of its own; returns the sweep's folder."""
    monkeypatch.setattr(layout, "RESULTS_DIR", results)
    folder = layout.sweep_dir(name)
    folder.mkdir(parents=True, exist_ok=True)
    spec = {"question": "test", "base": base or {"step": 3}, "candidates": candidates}
    (folder / "sweep.json").write_text(json.dumps(spec))
    return folder


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
    assert rows[0]["window"] == "10-15"  # epoch 1's 90 % lies outside the window


def test_table_has_params_speed_worst_min_mean_and_seeds_holding():
    rows = sweeps.sweep_rows({"a": [make(1, fifteen(99.41)), make(2, fifteen(99.38))]})
    header, line = sweeps.format_sweep_table(rows).splitlines()
    assert header.split()[:3] == ["candidate", "params", "s/epoch"] and "worst min 10-15" in header
    assert line.split() == ["a", "5,000", "4.0", "99.38", "99.48", "1", "of", "2"]


def test_candidates_are_their_base_plus_their_changes_on_the_validation_split(tmp_path, monkeypatch):
    define(monkeypatch, tmp_path, "mine", {"a": {"overrides": {}}, "b": {"overrides": {"arch": "C8 M C8 G"}}},
           base={"step": 5, "variant": "7.6k-rotation"})
    configs = sweeps.candidates("mine")
    assert list(configs) == ["a", "b"] and all(c.split == "val" for c in configs.values())
    assert configs["a"] == replace(STEPS[5], name="mine: a", split="val", arch="C8 M C12 C16 C16 C16 G",
                                   weight_decay=0.0, tta_shift=0, shift=0.0, scale=0.0)
    assert configs["b"].arch == "C8 M C8 G"
    assert all(c.lr == 0.1 for c in sweeps.candidates("mine", {"lr": 0.1}).values())
    with pytest.raises(ValueError, match="no sweep named 'nope'"):
        sweeps.candidates("nope")


def test_every_stored_sweep_run_is_the_candidate_frozen_beside_it():
    """An archived round is data: each run's config is the one its sweep.json froze (the seed aside)."""
    from mnist_drill.config import Config
    from mnist_drill.lab.layout import sweep_dir
    from mnist_drill.lab.recipes import REMOVED

    # a run older than a setting ran without it: at its "off" value
    off = {**Config().to_dict(), **{k: value for k, (value, _) in REMOVED.items()}}
    for folder in sorted(sweep_dir("frontier").parent.glob("*/sweep.json")):
        spec = json.loads(folder.read_text())
        for label, candidate in spec["candidates"].items():
            for run in sorted((folder.parent / sweeps.slug(label)).glob("seed*.json")):
                stored = json.loads(run.read_text())["config"]
                frozen = {**candidate["config"], "seed": stored["seed"]}
                assert {k: stored.get(k, off[k]) for k in frozen} == frozen, (folder.parent.name, label)


def test_sweep_runs_every_candidate_with_every_seed_and_stores_them(mnist_root, tmp_path, monkeypatch):
    folder = define(monkeypatch, tmp_path, "tiny", {"a": {"overrides": {}}, "b": {"overrides": {"arch": "C8 M C8 G"}}})
    small = dict(epochs=1, train_subset=256, eval_subset=128, batch_size=64)
    runs = sweeps.run_sweep("tiny", [1, 2], folder, overrides=small, log=lambda *_: None)
    assert {label: [h.seed for h in hs] for label, hs in runs.items()} == {"a": [1, 2], "b": [1, 2]}
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.json")) == [
        "a/seed1.json", "a/seed2.json", "b/seed1.json", "b/seed2.json", "summary.json", "sweep.json"]
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["sweep"] == "tiny" and summary["overrides"] == small and len(summary["rows"]) == 2
    assert summary["table_command"] and summary["run_commands"] and len(summary["commits"][0]) == 40
    assert sweeps.write_table("tiny", log=lambda *_: None).keys() == {"a", "b"}  # the table alone trains nothing


def test_rows_rank_five_view_runs_by_their_one_view_reading(tmp_path):
    def viewed(seed, five, one=None):
        h = make(seed, fifteen(five))
        h.config["tta_shift"] = 1
        if one is not None:  # stored as before issue 27: eval_acc held the five views, plain_acc the one view
            for epoch, plain in zip(h.epochs, fifteen(one), strict=True):
                epoch["plain_acc"], epoch["plain_correct"] = plain, round(plain * 100)
        return load_history(h.save(tmp_path / f"{five}_{one}.json"))

    rows = {r["label"]: r for r in sweeps.sweep_rows({"recorded": [viewed(1, 99.45, 99.38)],
                                                      "older": [viewed(1, 99.45)]})}
    assert rows["recorded"]["worst_min"] == 99.38 and rows["recorded"]["reading"] == "one view"
    assert rows["older"]["worst_min"] == 99.45 and rows["older"]["reading"] == "five views"
    table = sweeps.format_sweep_table(list(rows.values()))
    assert "older [five views]" in table and "recorded [five views]" not in table


def test_the_table_of_a_sweep_with_no_stored_runs_is_one_line(tmp_path, monkeypatch, capsys):
    import mnist_drill.__main__ as cli

    monkeypatch.setattr(layout, "RESULTS_DIR", tmp_path)
    folder = tmp_path / "val" / "sweeps" / "empty"
    folder.mkdir(parents=True)
    (folder / "sweep.json").write_text(json.dumps({"base": {"step": 5}, "candidates": {"a": {"overrides": {}}}}))
    assert cli.main(["sweep", "empty", "--table"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no stored runs of sweep 'empty'" in err[0] and "sweep empty" in err[0]
