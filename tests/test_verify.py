"""verify: exact where numbers are portable, exact on the same machine, within measured bands on another; a run the
code no longer makes fails on every machine."""

import json
from dataclasses import replace

import pytest

from mnist_drill.config import LAST_STEP, STEPS
from mnist_drill.lab import layout
from mnist_drill.lab.provenance import fingerprint_hash, machine_fingerprint
from mnist_drill.lab.runs import train
from mnist_drill.lab.verify import TOLERANCE, band, compare, round_trip_problem, same_machine, verify
from mnist_drill.train import History

MACHINE = {"cpu": "Some CPU", "cpu_capability": "AVX2", "threads": 2, "torch": "2.14.1", "device": "cpu"}
OTHER = {**MACHINE, "cpu_capability": "AVX512"}


def make(correct, machine=MACHINE, lr=(0.1, 0.2), params=100, draws=None):
    return History(config={"name": "x"}, seed=1, params=params, device="cpu", versions={}, machine=machine,
                   draws=draws, epochs=[{"epoch": i + 1, "lr": lr[i], "eval_correct": c, "eval_total": 10_000,
                                         "train_loss": 0.3 / (i + 1)} for i, c in enumerate(correct)])


def test_same_machine_compares_fingerprints_by_their_fields():
    assert same_machine(make([1]), make([1]))
    assert not same_machine(make([1]), make([1], machine=OTHER))
    assert not same_machine(make([1], machine=None), make([1]))  # an old run: an unknown machine
    tampered = {**MACHINE, "hash": "feedfacecafe", "cpu": "Another CPU"}
    assert not same_machine(make([1], machine={**MACHINE, "hash": "feedfacecafe"}), make([1], machine=tampered))


def test_the_same_machine_demands_every_number():
    result = compare(make([9899, 9921]), make([9898, 9921]), 2)
    assert result.tier == "same machine" and result.problems == ["epoch 1 eval_correct: stored 9899, now 9898"]
    assert compare(make([9899, 9921]), make([9899, 9921]), 2).ok


def test_another_machine_allows_the_measured_band_and_no_more():
    allowed = round(TOLERANCE["eval_correct"] * 10_000)
    near = compare(make([9899, 9921]), make([9899 - allowed, 9921], machine=OTHER), 2)
    assert near.tier == "another machine" and near.ok and len(near.moved) == 1
    far = compare(make([9899, 9921]), make([9899 - allowed - 1, 9921], machine=OTHER), 2)
    assert not far.ok and len(far.problems) == 1
    strict = compare(make([9899, 9921]), make([9898, 9921], machine=OTHER), 2, strict=True)
    assert strict.tier == "another machine, strict" and not strict.ok


def test_the_band_is_the_recipes_own_measured_move_and_never_less_than_35_images():
    assert band("eval_correct", 9899, 9850, 10_000, "04_lean_model") == (49, 276)  # step 4: constant LR from batch 1
    assert band("eval_correct", 9899, 9850, 10_000, "05_one_cycle") == (49, 36)  # the final step warms up
    assert band("eval_correct", 9899, 9850, 10_000, "some variant") == (49, 35)
    assert band("eval_correct", 990, 985, 1_000, "05_one_cycle") == (5, 4)  # scaled to the evaluated images


@pytest.mark.parametrize("fresh", [
    make([9899, 9921], machine=OTHER, lr=(0.1, 0.25)),  # another LR at epoch 2
    make([9899, 9921], machine=OTHER, params=101),
    make([9899, 9921], machine=OTHER, draws={"batches": 4, "sha256": "bbbb"}),
])
def test_what_is_portable_is_exact_on_every_machine(fresh):
    stored = make([9899, 9921], draws={"batches": 4, "sha256": "aaaa"})
    result = compare(stored, fresh, 2)
    assert result.tier == "another machine" and not result.ok


def test_a_config_must_round_trip():
    assert round_trip_problem(STEPS[LAST_STEP].to_dict()) is None
    assert "cannot be loaded" in round_trip_problem({**STEPS[LAST_STEP].to_dict(), "made_up": 1})


def test_every_run_records_its_machine_and_its_draws(mnist_root, tiny_config):
    a = train(tiny_config, progress=False, log=lambda *_: None)
    b = train(replace(tiny_config, seed=2), progress=False, log=lambda *_: None)
    assert a.machine == machine_fingerprint("cpu") and a.machine["hash"] == fingerprint_hash(a.machine)
    assert a.draws["batches"] == 4 and a.draws != b.draws  # another seed draws another order and other angles


def test_a_run_made_with_other_threads_here_is_re_run_with_as_many(tmp_path, monkeypatch):
    """The thread count is part of the fingerprint: a run made with --jobs (fewer threads) is re-run as it was made."""
    import os

    import torch

    if (os.cpu_count() or 1) < 2:
        pytest.skip("needs two cores")
    here = torch.get_num_threads()
    made_with = 2 if here == 1 else 1
    machine = {**machine_fingerprint("cpu"), "threads": made_with}
    stored = make([9899, 9921], machine={**machine, "hash": fingerprint_hash(machine)})
    stored.config = STEPS[LAST_STEP].to_dict()
    path = stored.save(tmp_path / "run.json")
    threads = []

    def fake_train(config, save_to=None, **_):
        threads.append(torch.get_num_threads())
        return History(**{**stored.to_dict(), "machine": machine_fingerprint("cpu")})

    monkeypatch.setattr("mnist_drill.lab.runs.train", fake_train)
    lines = []
    assert verify(path, epochs=2, log=lines.append) is True
    assert threads == [made_with] and torch.get_num_threads() == here and "tier: same machine" in "\n".join(lines)


@pytest.mark.slow  # trains on the full data or starts a process
def test_verify_in_every_tier_and_a_tampered_run_fails_everywhere(mnist_root, tiny_config, tmp_path):
    path = tmp_path / "run.json"
    train(replace(tiny_config, epochs=3), path, progress=False, log=lambda *_: None)
    lines = []
    assert verify(path, epochs=2, log=lines.append) is True
    assert "tier: same machine" in "\n".join(lines) and lines[-1].startswith("IDENTICAL")
    data = json.loads(path.read_text())

    def verify_altered(change, strict=False):
        altered = json.loads(json.dumps(data))
        change(altered)
        path.write_text(json.dumps(altered))
        lines.clear()
        return verify(path, epochs=2, strict=strict, log=lines.append)

    def other_machine(d):
        d["machine"]["cpu_capability"] = "AVX512_OTHER"  # the path every CI machine but this one takes

    assert verify_altered(other_machine) is True and any(line.startswith("CONSISTENT") for line in lines)
    assert verify_altered(other_machine, strict=True) is True  # the numbers are in fact equal here

    def fewer_correct(d):
        other_machine(d)
        d["epochs"][0]["eval_correct"] -= 60

    def other_lr(d):
        other_machine(d)
        d["epochs"][1]["lr"] *= 1.5

    def other_draws(d):
        other_machine(d)
        d["draws"]["sha256"] = "0" * 16

    for change in (fewer_correct, other_lr, other_draws):
        assert verify_altered(change) is False, change.__name__
        assert lines[-1].startswith("  ") and any(line.startswith("DIFFERENT") for line in lines)
    with pytest.raises(ValueError, match="holds 3 epochs"):
        verify(path, epochs=4)


@pytest.mark.slow  # trains on the full data or starts a process
def test_the_final_steps_stored_run_tampered_by_60_images_fails_here(mnist_root, tmp_path):
    """The check a reviewer makes on any machine, on the real stored run: 60 fewer test images right at epoch 1."""
    data = json.loads(layout.run_path("notebook", STEPS[LAST_STEP].name).read_text())
    one_view = "plain_correct" if "plain_correct" in data["epochs"][0] else "eval_correct"  # stored before issue 27
    data["epochs"][0][one_view] -= 60
    path = tmp_path / "tampered.json"
    path.write_text(json.dumps(data))
    lines = []
    assert verify(path, epochs=1, log=lines.append) is False
    assert any("epoch 1 eval_correct" in line for line in lines)
