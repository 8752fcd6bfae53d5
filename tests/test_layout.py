"""The results layout: one place per kind of run; scratch runs never land on cited ones."""

import pytest

from mnist_drill.lab import layout
from mnist_drill.lab.layout import RESULTS_DIR, run_path


def test_notebook_and_scratch_runs_have_their_own_places():
    assert run_path("notebook", "05_one_cycle") == RESULTS_DIR / "05_one_cycle.json"
    assert run_path("scratch", "05_one_cycle", seed=1) == RESULTS_DIR / "runs" / "05_one_cycle_seed1.json"
    assert run_path("scratch", "05_one_cycle", seed=1, split="val", tag="epochs-1") == (
        RESULTS_DIR / "runs" / "val" / "05_one_cycle_seed1_epochs_1.json")


def test_scratch_folders_lie_apart_from_cited_ones():
    cited = layout.seeds_dir("05_one_cycle")
    scratch = layout.seeds_dir("05_one_cycle", tag="epochs-1")
    assert cited == RESULTS_DIR / "seeds" / "05_one_cycle"
    assert layout.seeds_dir("05_one_cycle", split="val") == RESULTS_DIR / "val" / "seeds" / "05_one_cycle"
    assert scratch.is_relative_to(RESULTS_DIR / "runs") and not scratch.is_relative_to(cited)
    assert layout.seeds_dir("05_one_cycle", held_out=True) == RESULTS_DIR / "held-out" / "05_one_cycle"
    assert layout.seeds_dir("05_one_cycle", tag="epochs-1", held_out=True) == scratch  # overrides stay scratch
    held_out = RESULTS_DIR / "held-out"
    assert layout.seeds_dir("05_one_cycle", seeds=range(6, 11)) == held_out / "05_one_cycle"
    assert layout.seeds_dir("05_one_cycle", seeds=range(11, 16)) == held_out / "05_one_cycle_seeds-11-15"
    for scratch_range in (range(12, 17), range(11, 14), range(1, 11)):  # not one of the blocks of five
        assert layout.seeds_dir("05_one_cycle", seeds=scratch_range).is_relative_to(RESULTS_DIR / "runs")
    assert layout.sweep_dir("frontier") == RESULTS_DIR / "val" / "sweeps" / "frontier"
    assert layout.sweep_dir("frontier", tag="lr-0.1").is_relative_to(RESULTS_DIR / "runs")
    assert layout.summary_path(cited) == cited / "summary.json"


def test_finished_held_out_sets_are_found_in_seed_order(monkeypatch, tmp_path):
    monkeypatch.setattr(layout, "RESULTS_DIR", tmp_path)
    for seeds in (range(16, 21), range(6, 11), range(11, 16), range(21, 26)):
        folder = layout.seeds_dir("06_dilated", seeds=seeds)
        folder.mkdir(parents=True)
        if seeds.start != 21:  # 21-25 still running: no summary yet
            layout.summary_path(folder).write_text("{}")
    for stray in ("06_dilated_seeds-11-15.bak", "06_dilated_seeds-x", "06_dilated_seeds-11-13",
                  "06_dilated.wide_seeds-11-15", "x06_dilated_seeds-26-30"):  # none of them a later five of it
        (tmp_path / "held-out" / stray).mkdir()
        layout.summary_path(tmp_path / "held-out" / stray).write_text("{}")
    found = layout.held_out_dirs("06_dilated")
    assert [(first, p.name) for first, p in found.items()] == [
        (6, "06_dilated"), (11, "06_dilated_seeds-11-15"), (16, "06_dilated_seeds-16-20")]
    assert layout.held_out_dirs("06_dilated.wide") == {11: tmp_path / "held-out" / "06_dilated.wide_seeds-11-15"}


def test_a_notebook_run_is_cited_only_under_make_notebooks(monkeypatch):
    monkeypatch.delenv(layout.CITE_ENV, raising=False)
    assert layout.notebook_run_path("01_bn_gap").is_relative_to(RESULTS_DIR / "runs")
    monkeypatch.setenv(layout.CITE_ENV, "1")
    assert layout.notebook_run_path("01_bn_gap") == run_path("notebook", "01_bn_gap")


@pytest.mark.parametrize("kind, kwargs", [
    ("stored", {"seed": 1}),  # no such kind
    ("notebook", {"split": "val"}),  # a notebook's run is on the test split
    ("scratch", {}),  # a scratch run needs its seed
])
def test_bad_identities_are_refused(kind, kwargs):
    with pytest.raises(ValueError):
        run_path(kind, "x", **kwargs)
