"""verify: a stored run's first epochs, re-run at HEAD, must give the same numbers; any difference is printed."""

import json
from dataclasses import replace

import pytest

from mnist_drill.engine import fit
from mnist_drill.results import History
from mnist_drill.verify import differences, verify


def make(accs, params=100):
    return History(config={"name": "x"}, seed=1, params=params, device="cpu", versions={},
                   epochs=[{"epoch": i + 1, "eval_acc": a, "lr": 0.1} for i, a in enumerate(accs)])


def test_differences_name_the_epoch_the_column_and_both_values():
    assert differences(make([99.0, 99.1]), make([99.0, 99.1]), 2) == []
    assert differences(make([99.0, 99.1]), make([99.0, 99.2]), 2) == ["epoch 2 eval_acc: stored 99.1, now 99.2"]
    assert differences(make([99.0, 99.1]), make([99.0, 99.2]), 1) == []  # only the epochs asked for
    assert differences(make([99.0]), make([99.0], params=101), 1)[0] == "params: stored 100, now 101"


def test_a_stored_run_reproduces_and_a_tampered_one_does_not(mnist_root, tiny_config, tmp_path):
    path = tmp_path / "run.json"
    fit(replace(tiny_config, epochs=3), save_to=path, progress=False, log=lambda *_: None)
    lines = []
    assert verify(path, epochs=2, log=lines.append) is True
    assert lines[-1].startswith("IDENTICAL: the first 2 epochs")
    data = json.loads(path.read_text())
    data["epochs"][1]["eval_correct"] += 1
    path.write_text(json.dumps(data))
    lines.clear()
    assert verify(path, epochs=2, log=lines.append) is False
    assert any("epoch 2 eval_correct: stored" in line for line in lines)
    with pytest.raises(ValueError, match="holds 3 epochs"):
        verify(path, epochs=4)
