"""Several runs at once (--jobs): every run stored once, its lines prefixed, a failing candidate screened out."""

import json
from dataclasses import replace

import pytest

from mnist_drill.lab import sweeps
from mnist_drill.lab.parallel import Run, run_all
from mnist_drill.lab.seeds import run_seeds


@pytest.mark.slow  # trains on the full data or starts a process
def test_two_jobs_store_every_seed_and_prefix_every_line(mnist_root, tiny_config, tmp_path, capfd):
    config = replace(tiny_config, epochs=1, train_subset=256, eval_subset=128)
    histories, summary = run_seeds(config, [1, 2], tmp_path, log=lambda *_: None, jobs=2)
    assert [h.seed for h in histories] == [1, 2] and summary["seeds"] == [1, 2]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["seed1.json", "seed2.json", "summary.json"]
    assert all(h.machine["threads"] == 1 for h in histories)  # 2 cores / 2 jobs, recorded in each run's fingerprint
    lines = [line for line in capfd.readouterr().out.splitlines() if line.strip()]
    assert lines and all(line.startswith(("[seed 1] ", "[seed 2] ")) for line in lines)


def test_until_fail_starts_no_further_seed_of_a_candidate_that_missed(mnist_root, tmp_path):
    (tmp_path / "sweep.json").write_text(json.dumps({"sweep": "tiny", "base": {"step": 3}, "candidates": {
        "a": {"overrides": {}}, "b": {"overrides": {"arch": "C8 M C8 G"}}}}))
    small = dict(epochs=1, train_subset=256, eval_subset=128, batch_size=64)  # far below the target: every run misses
    lines = []
    runs = sweeps.run_sweep("tiny", [1, 2, 3], tmp_path, overrides=small, log=lines.append, spec_folder=tmp_path,
                            until_fail=True)
    assert {label: [h.seed for h in hs] for label, hs in runs.items()} == {"a": [1], "b": [1]}
    assert any("not started: a, seed 2, a, seed 3" in line for line in lines)


@pytest.mark.slow  # trains on the full data or starts a process
def test_a_failing_run_stops_the_others_and_keeps_what_finished(mnist_root, tiny_config, tmp_path):
    good = Run("good", replace(tiny_config, epochs=1, train_subset=128, eval_subset=64), tmp_path / "good.json")
    bad = Run("bad", replace(good.config, arch="C8 " * 14 + "G"), tmp_path / "bad.json")  # shrinks 28 px to nothing
    lines = []
    try:
        run_all([good, bad], 2, log=lines.append)
    except ValueError as e:
        assert "shrinks" in str(e)
    else:
        raise AssertionError("the failing run did not stop the others")
    assert any(line.startswith("bad failed: stopping") for line in lines)
    assert not (tmp_path / "bad.json").exists()


@pytest.mark.slow  # starts three processes
def test_ctrl_c_stops_every_run_with_one_line_and_keeps_only_finished_runs(mnist_root, tmp_path):
    """Ctrl-C in a terminal reaches the whole process group: the runs ignore it, the parent stops them."""
    import os
    import signal
    import subprocess
    import sys

    env = {**os.environ, "PYTHONUNBUFFERED": "1", "MNIST_DRILL_RESULTS": str(tmp_path)}
    proc = subprocess.Popen([sys.executable, "-m", "mnist_drill", "seeds", "--step", "3", "--seeds", "2", "--jobs", "2",
                             "--set", "train_subset=1024", "--set", "eval_subset=256", "--epochs", "15"],
                            env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    for line in proc.stdout:
        if "EPOCH: 2" in line:
            break
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-800:]
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err and "interrupted" in err
    assert "interrupted: stopping 2 other run(s); 0 finished and stored" in out
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]  # no History, no summary, no temp file
