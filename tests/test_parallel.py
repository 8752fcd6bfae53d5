"""Several runs at once (--jobs): every run stored once, its lines prefixed, a failing candidate screened out, a failed
run or Ctrl-C stopping the others."""

import json
from dataclasses import replace

import pytest

from mnist_drill.lab import layout, sweeps
from mnist_drill.lab.parallel import Run, run_all
from mnist_drill.lab.seeds import run_seeds
from mnist_drill.train import History


@pytest.fixture
def fake_train(monkeypatch):
    """lab.runs.train without training: 15 epochs at 99.5 %, or 99.0 % in epoch 12 for an arch with an M; saved
    where asked, as the real one saves."""
    calls = []

    def train(config, save_to=None, *, log=print, command=None, **_):
        calls.append(config.name)
        accs = [99.5] * 11 + [99.0 if "M" in config.arch else 99.5] + [99.5] * 3
        history = History(config=config.to_dict(), seed=config.seed, params=100, device="cpu", commit="c" * 40,
                          command=command or "", epochs=[{"epoch": i + 1, "eval_acc": a, "seconds": 1.0}
                                                         for i, a in enumerate(accs)])
        if save_to is not None:
            history.save(save_to)
        return history

    monkeypatch.setattr("mnist_drill.lab.runs.train", train)
    return calls


def test_one_job_runs_in_order_and_drop_takes_runs_off_the_queue(fake_train, tiny_config):
    runs = [Run(f"r{i}", replace(tiny_config, seed=i), None) for i in range(1, 5)]
    lines = []
    done = run_all(runs, 1, log=lines.append, drop=lambda run, _: ["r3", "r4"] if run.tag == "r2" else [])
    assert list(done) == ["r1", "r2"] and [h.seed for h in done.values()] == [1, 2]
    assert "--- r1 ---" in lines and any("not started: r3, r4" in line for line in lines)


def test_until_fail_starts_no_further_seed_of_a_candidate_that_missed(fake_train, tmp_path, monkeypatch):
    monkeypatch.setattr(layout, "RESULTS_DIR", tmp_path)
    folder = layout.sweep_dir("tiny")
    folder.mkdir(parents=True)
    (folder / "sweep.json").write_text(json.dumps({"sweep": "tiny", "base": {"step": 3}, "candidates": {
        "holds": {"overrides": {"arch": "C8 C8 G"}}, "misses": {"overrides": {"arch": "C8 M C8 G"}}}}))
    runs = sweeps.run_sweep("tiny", [1, 2, 3], folder, log=lambda *_: None, until_fail=True)
    assert {label: [h.seed for h in hs] for label, hs in runs.items()} == {"holds": [1, 2, 3], "misses": [1]}
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("seed*.json")) == [
        "holds/seed1.json", "holds/seed2.json", "holds/seed3.json", "misses/seed1.json"]
    rows = json.loads((folder / "summary.json").read_text())["rows"]
    assert [(r["label"], r["seeds_holding"]) for r in rows] == [("holds", 3), ("misses", 0)]


@pytest.mark.slow  # starts processes
def test_two_jobs_store_every_seed_and_prefix_every_line(mnist_root, tiny_config, tmp_path, capfd):
    config = replace(tiny_config, epochs=1, train_subset=256, eval_subset=128)
    histories, summary = run_seeds(config, [1, 2], tmp_path, log=lambda *_: None, jobs=2)
    assert [h.seed for h in histories] == [1, 2] and summary["seeds"] == [1, 2]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["seed1.json", "seed2.json", "summary.json"]
    assert all(h.machine["threads"] == 1 for h in histories)  # 2 cores / 2 jobs, recorded in each run's fingerprint
    lines = [line for line in capfd.readouterr().out.splitlines() if line.strip()]
    assert lines and all(line.startswith(("[seed 1] ", "[seed 2] ")) for line in lines)


@pytest.mark.slow  # starts processes
def test_a_failing_run_stops_the_others_and_keeps_what_finished(mnist_root, tiny_config, tmp_path):
    good = Run("good", replace(tiny_config, epochs=1, train_subset=128, eval_subset=64), tmp_path / "good.json")
    bad = Run("bad", replace(good.config, arch="C8 " * 14 + "G"), tmp_path / "bad.json")  # shrinks 28 px to nothing
    lines = []
    with pytest.raises(ValueError, match="shrinks"):
        run_all([good, bad], 2, log=lines.append)
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
                            start_new_session=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    for line in proc.stdout:
        if "EPOCH: 2" in line:
            break
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-800:]
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err and "interrupted" in err
    assert "interrupted: stopping 2 other run(s); 0 finished and stored" in out
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]  # no History, no summary, no temp file
