"""Every run records where it came from: the commit, whether the code had uncommitted changes, the command."""

import json
import subprocess
import sys

from mnist_drill.lab import layout, provenance


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


def test_the_fingerprint_hash_covers_every_field_but_itself():
    machine = provenance.machine_fingerprint("cpu")
    assert machine["hash"] == provenance.fingerprint_hash({**machine, "hash": "anything"})
    assert provenance.fingerprint_hash({**machine, "threads": machine["threads"] + 1}) != machine["hash"]


def test_every_stored_run_records_committed_clean_code():
    """Each cited History (everything under results/ but the scratch folder) names a commit of this repository and
    was made with no uncommitted change to the code: every stored number traces back to code anyone can check out."""
    shallow = subprocess.run(["git", "rev-parse", "--is-shallow-repository"], cwd=provenance.PROJECT_ROOT,
                             capture_output=True, text=True).stdout.strip() == "true"
    histories = 0
    for path in sorted(layout.RESULTS_DIR.rglob("*.json")):
        if (layout.RESULTS_DIR / "runs") in path.parents:
            continue
        data = json.loads(path.read_text())
        if not {"config", "epochs", "commit"} <= set(data):
            continue  # a summary or a benchmark
        histories += 1
        assert data["code_dirty"] is False, f"{path}: made with uncommitted code"
        assert len(data["commit"]) == 40, f"{path}: no commit recorded"
        if not shallow:
            known = subprocess.run(["git", "cat-file", "-e", data["commit"] + "^{commit}"],
                                   cwd=provenance.PROJECT_ROOT, capture_output=True)
            assert known.returncode == 0, f"{path}: commit {data['commit'][:10]} is not in this repository"
    assert histories > 100
