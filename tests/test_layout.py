"""The results layout: one function from a run's identity to its path; scratch runs never land on cited ones."""

import pytest

from mnist_drill.lab import layout
from mnist_drill.lab.layout import RESULTS_DIR, run_path


def test_each_kind_of_run_has_its_own_place():
    assert run_path("notebook", "05_one_cycle") == RESULTS_DIR / "05_one_cycle.json"
    assert run_path("seeds", "05_one_cycle", seed=3) == RESULTS_DIR / "seeds" / "05_one_cycle" / "seed3.json"
    assert run_path("seeds", "05_one_cycle", split="val", seed=3) == (
        RESULTS_DIR / "val" / "seeds" / "05_one_cycle" / "seed3.json")
    assert run_path("sweep", "5.7k, affine", sweep="frontier", seed=2) == (
        RESULTS_DIR / "val" / "sweeps" / "frontier" / "5_7k__affine" / "seed2.json")
    assert run_path("scratch", "05_one_cycle", seed=1) == RESULTS_DIR / "runs" / "05_one_cycle_seed1.json"
    assert run_path("scratch", "05_one_cycle", seed=1, split="val", tag="epochs-1") == (
        RESULTS_DIR / "runs" / "val" / "05_one_cycle_seed1_epochs_1.json")


def test_scratch_folders_lie_apart_from_cited_ones():
    cited = layout.seeds_dir("05_one_cycle")
    scratch = layout.seeds_dir("05_one_cycle", tag="epochs-1")
    assert cited == RESULTS_DIR / "seeds" / "05_one_cycle"
    assert scratch.is_relative_to(RESULTS_DIR / "runs") and not scratch.is_relative_to(cited)
    assert layout.sweep_dir("frontier", tag="lr-0.1").is_relative_to(RESULTS_DIR / "runs")
    assert layout.summary_path(cited) == cited / "summary.json"
    held_out = layout.seeds_dir("05_one_cycle", held_out=True)
    assert held_out == RESULTS_DIR / "held-out" / "05_one_cycle" and held_out != cited
    assert run_path("held-out", "05_one_cycle", seed=7) == held_out / "seed7.json"
    assert layout.seeds_dir("05_one_cycle", tag="epochs-1", held_out=True) == scratch  # overrides stay scratch
    assert layout.sweep_dir("average", device=True) == RESULTS_DIR / "device" / "val" / "sweeps" / "average"


@pytest.mark.parametrize("args, message", [
    (("stored", "x"), "unknown kind of run"),
    (("notebook", "x", ), None),
    (("seeds", "x"), "needs its seed"),
])
def test_bad_identities_are_refused(args, message):
    if message is None:
        with pytest.raises(ValueError, match="test split"):
            run_path(*args, split="val")
        return
    with pytest.raises(ValueError, match=message):
        run_path(*args)
    with pytest.raises(ValueError, match="sweep's name"):
        run_path("sweep", "a", seed=1)
