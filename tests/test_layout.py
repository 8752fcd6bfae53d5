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
    assert layout.sweep_dir("frontier") == RESULTS_DIR / "val" / "sweeps" / "frontier"
    assert layout.sweep_dir("frontier", tag="lr-0.1").is_relative_to(RESULTS_DIR / "runs")
    assert layout.summary_path(cited) == cited / "summary.json"


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
