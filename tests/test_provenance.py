"""Every run records where it came from: the commit, whether the code had uncommitted changes, the command."""

import subprocess
import sys

from mnist_drill import provenance


def test_commit_is_head_and_versions_are_named():
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=provenance.PROJECT_ROOT, capture_output=True,
                          text=True).stdout.strip()
    record = provenance.provenance("make something")
    assert record["commit"] == head and len(head) == 40 and provenance.git_commit() == head
    assert record["command"] == "make something"
    assert record["code_dirty"] in (True, False)
    assert set(record["versions"]) == {"python", "torch", "torchvision", "numpy"}


def test_code_dirty_sees_code_but_not_results(tmp_path, monkeypatch):
    repo = tmp_path / "repo"
    (repo / "src").mkdir(parents=True)
    (repo / "results").mkdir()
    (repo / "src" / "a.py").write_text("x = 1\n")
    for cmd in (["init", "-q"], ["add", "."], ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "c"]):
        subprocess.run(["git", *cmd], cwd=repo, check=True)
    monkeypatch.setattr(provenance, "PROJECT_ROOT", repo)
    assert provenance.code_dirty() is False
    (repo / "results" / "run.json").write_text("{}")
    assert provenance.code_dirty() is False  # a new result is not a code change
    (repo / "src" / "a.py").write_text("x = 2\n")
    assert provenance.code_dirty() is True
    monkeypatch.setattr(provenance, "PROJECT_ROOT", tmp_path / "nowhere")
    assert provenance.git_commit() == "unknown" and provenance.code_dirty() is None


def test_command_line_reads_like_what_was_typed(monkeypatch):
    monkeypatch.setattr(sys, "argv", ["/x/src/mnist_drill/__main__.py", "seeds", "--step", "5", "--set", "arch=C8 G"])
    assert provenance.command_line() == "python -m mnist_drill seeds --step 5 --set 'arch=C8 G'"
    monkeypatch.setattr(sys, "argv", ["benchmarks/speed.py", "--short-epochs", "2"])
    assert provenance.command_line() == "python benchmarks/speed.py --short-epochs 2"
