"""Faults a user can run into, each ending in one clear line that says what to do, never a traceback.

Tests whose name holds `_trains` train a model; the rest run in seconds on fakes in tmp_path.
"""

import errno
import hashlib
import os
import subprocess
import sys
import tempfile

import pytest

from mnist_drill.errors import MnistUnavailable
from mnist_drill.lab.fetch import ensure_mnist, raw_dir
from mnist_drill.paths import DATA_ENV, env_path

# --- data ---

CONTENTS = {"a-idx1-ubyte": b"alpha contents", "b-idx3-ubyte": bytes(range(200))}
SPEC = {name: (len(data), hashlib.md5(data).hexdigest()) for name, data in CONTENTS.items()}


def _writes_good_files(calls):
    def fetch(raw):
        calls.append(raw)
        for name, data in CONTENTS.items():
            (raw / name).write_bytes(data)

    return fetch


def _one_line(info) -> str:
    message = str(info.value)
    assert message and "\n" not in message
    return message


def _raw_with_one_bad_file(root):
    raw = raw_dir(root)
    raw.mkdir(parents=True)
    (raw / "a-idx1-ubyte").write_bytes(CONTENTS["a-idx1-ubyte"])
    (raw / "b-idx3-ubyte").write_bytes(CONTENTS["b-idx3-ubyte"][:-1])  # truncated
    return raw


def test_directory_in_place_of_an_idx_file(tmp_path):
    raw = raw_dir(tmp_path)
    (raw / "b-idx3-ubyte").mkdir(parents=True)
    calls, logs = [], []
    with pytest.raises(MnistUnavailable) as info:
        ensure_mnist(tmp_path, sources=[("good", _writes_good_files(calls))], spec=SPEC, log=logs.append)
    message = _one_line(info)
    assert str(raw / "b-idx3-ubyte") in message and "is a directory" in message and "remove it" in message
    assert calls == [] and (raw / "b-idx3-ubyte").is_dir()  # nothing fetched, the folder left alone
    assert any("b-idx3-ubyte (a directory)" in line for line in logs)


def test_read_only_folder_with_a_bad_file(tmp_path, monkeypatch):
    raw = _raw_with_one_bad_file(tmp_path)

    def read_only(*args, **kwargs):  # what a read-only mount or folder answers, even for root
        raise PermissionError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(tempfile, "TemporaryFile", read_only)
    calls = []
    with pytest.raises(MnistUnavailable) as info:
        ensure_mnist(tmp_path, sources=[("good", _writes_good_files(calls))], spec=SPEC, log=lambda s: None)
    message = _one_line(info)
    assert str(raw) in message and "not writable" in message and "make the folder writable" in message
    assert "b-idx3-ubyte (199 bytes, expected 200)" in message and "good copies" in message
    assert calls == [] and (raw / "b-idx3-ubyte").exists()


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_folder_with_a_bad_file_really_read_only(tmp_path):
    raw = _raw_with_one_bad_file(tmp_path)
    raw.chmod(0o555)
    try:
        with pytest.raises(MnistUnavailable, match="not writable") as info:
            ensure_mnist(tmp_path, sources=[("good", _writes_good_files([]))], spec=SPEC, log=lambda s: None)
        assert str(raw) in _one_line(info)
    finally:
        raw.chmod(0o755)


def test_data_folder_that_is_a_file(tmp_path, monkeypatch):
    not_a_folder = tmp_path / "data.txt"
    not_a_folder.write_text("not a folder")
    monkeypatch.setenv(DATA_ENV, str(not_a_folder))
    calls = []
    with pytest.raises(MnistUnavailable) as info:
        ensure_mnist(not_a_folder, sources=[("good", _writes_good_files(calls))], spec=SPEC, log=lambda s: None)
    message = _one_line(info)
    assert f"{not_a_folder} is a file, not a folder" in message and DATA_ENV in message
    assert calls == [] and not_a_folder.read_text() == "not a folder"


def test_empty_data_env_means_unset_not_the_current_folder(tmp_path):
    default = tmp_path / "default"
    assert env_path(DATA_ENV, default, {}) == default
    assert env_path(DATA_ENV, default, {DATA_ENV: ""}) == default
    assert env_path(DATA_ENV, default, {DATA_ENV: "  "}) == default
    assert env_path(DATA_ENV, default, {DATA_ENV: str(tmp_path)}) == tmp_path
    # and as the package reads it at import, from another folder
    code = "from mnist_drill.paths import DATA_DIR, PROJECT_ROOT; print(DATA_DIR == PROJECT_ROOT / 'data')"
    env = {**os.environ, DATA_ENV: ""}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert result.stdout.strip() == "True", result.stderr


def test_missing_and_bad_files_are_named(tmp_path):
    raw = raw_dir(tmp_path)
    raw.mkdir(parents=True)
    (raw / "b-idx3-ubyte").write_bytes(bytes(200))  # right size, wrong md5; a-idx1-ubyte missing
    logs = []
    with pytest.raises(MnistUnavailable) as info:
        ensure_mnist(tmp_path, sources=[], spec=SPEC, log=logs.append)
    named = "2 of 2 files missing or bad in"
    assert any(named in line and "a-idx1-ubyte (missing), b-idx3-ubyte (wrong md5)" in line for line in logs)
    message = _one_line(info)
    assert named in message and "a-idx1-ubyte (missing)" in message and "b-idx3-ubyte (wrong md5)" in message


# --- commands ---

@pytest.mark.slow  # trains on the full data or starts a process
def test_a_processed_cache_with_wrong_labels_cannot_be_trained_on_trains(mnist_root, tmp_path):
    """torchvision's MNIST class would read MNIST/processed/*.pt before the raw files: all labels 0 here."""
    import torch

    (tmp_path / "MNIST" / "raw").mkdir(parents=True)
    for f in raw_dir(mnist_root).iterdir():  # the verified raw files, linked, not copied
        (tmp_path / "MNIST" / "raw" / f.name).symlink_to(f)
    processed = tmp_path / "MNIST" / "processed"
    processed.mkdir()
    for name, n in (("training.pt", 60_000), ("test.pt", 10_000)):
        torch.save((torch.zeros(n, 28, 28, dtype=torch.uint8), torch.zeros(n, dtype=torch.int64)), processed / name)
    env = {**os.environ, DATA_ENV: str(tmp_path), "MNIST_DRILL_RESULTS": str(tmp_path / "results")}
    result = subprocess.run([sys.executable, "-m", "mnist_drill", "train", "--smoke", "--no-progress"],
                            capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr[-800:]
    assert "(100.00%)" not in result.stdout and "held from epoch 1" not in result.stdout
    assert "Test set: Average loss:" in result.stdout


def test_a_history_that_cannot_be_saved_is_kept_in_the_temp_folder(tmp_path, monkeypatch):
    from mnist_drill.errors import ResultsUnwritable
    from mnist_drill.lab.results import load_history
    from mnist_drill.lab.runs import save_history
    from mnist_drill.train import History

    history = History(config={"name": "demo"}, seed=7, params=1, device="cpu", versions={},
                      epochs=[{"epoch": 1, "eval_acc": 99.0}])
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    blocked = tmp_path / "full_disk" / "run.json"
    real_save = History.save

    def save(self, path):
        if path == blocked:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_save(self, path)

    monkeypatch.setattr(History, "save", save)
    with pytest.raises(ResultsUnwritable) as info:
        save_history(history, blocked)
    message = _one_line(info)
    kept = tmp_path / "mnist_drill_demo_seed7.json"
    assert "No space left on device" in message and str(kept) in message
    assert load_history(kept).epochs == history.epochs
