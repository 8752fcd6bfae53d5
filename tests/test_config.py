"""The step chain: each step is the previous one plus its change; configs refuse bad values."""

from dataclasses import replace

import pytest

from mnist_drill.config import (
    ONE_CYCLE,
    STEP_1,
    STEP_2,
    STEP_3,
    STEP_4,
    STEP_5,
    STEPS,
    Config,
    diff,
    format_diff,
    smoke,
)
from mnist_drill.lab.recipes import VARIANTS, stored_config, variant


def test_chain_changes_one_idea_per_step():
    assert set(diff(STEP_1, STEP_2)) == {"rotation_deg"}
    assert set(diff(STEP_2, STEP_3)) == {"scheduler"}
    assert set(diff(STEP_3, STEP_4)) <= {"arch", "dropout", "block_order"}  # the model, and only the model
    assert set(diff(STEP_4, ONE_CYCLE)) == {"scheduler", "lr", "nesterov", "ema"}  # the recipe
    # and the smaller model it holds, with the rest of the recipe from the frontier sweeps (rounds 1, 6 and 12)
    assert set(diff(ONE_CYCLE, STEP_5)) == {"arch", "shift", "scale", "weight_decay"}


def test_steps_are_numbered_and_named_uniquely():
    assert sorted(STEPS) == list(range(1, len(STEPS) + 1))
    assert len({c.name for c in STEPS.values()}) == len(STEPS)
    assert all(c.name.startswith(f"{n:02d}_") for n, c in STEPS.items())  # the name says its place and its change
    assert all(c.epochs <= 15 for c in STEPS.values())


def test_format_diff_reads_like_the_change():
    text = format_diff(STEP_1, STEP_2)
    assert text.splitlines()[0] == "02_augmentation = 01_bn_gap plus:"
    assert "rotation_deg  0.0 -> 7.0" in text
    assert "no change" in format_diff(STEP_1, STEP_1)


@pytest.mark.parametrize("bad", [dict(epochs=0), dict(batch_size=-1), dict(dropout=1.0), dict(lr=-1),
                                 dict(momentum=1.5), dict(split="train"), dict(scheduler="cosine"),
                                 dict(train_subset=0),
                                 dict(ema=1.0), dict(ema=-0.1), dict(block_order="bn"), dict(shift=0.5),
                                 dict(scale=-0.1), dict(tta_shift=-1), dict(tta_shift=14)])
def test_bad_values_are_refused_with_the_field_named(bad):
    field = next(iter(bad))
    with pytest.raises(ValueError, match=field):
        replace(STEP_1, **bad)


def test_dict_round_trip_and_unknown_fields():
    import json

    assert Config.from_dict(STEP_5.to_dict()) == STEP_5
    assert Config.from_dict(json.loads(json.dumps(STEP_5.to_dict()))) == STEP_5
    with pytest.raises(ValueError, match="unknown Config fields"):
        Config.from_dict({**STEP_5.to_dict(), "lrr": 1})


def test_a_stored_config_with_a_removed_option_loads_when_off_and_names_the_commit_when_on():
    from mnist_drill.lab.recipes import REMOVED, RemovedOption

    old = {**STEP_5.to_dict(), **{k: off for k, (off, _) in REMOVED.items()}}  # stored while they existed, all off
    assert stored_config(old) == STEP_5
    for option, on in (("bn_refresh", 10_000), ("label_smoothing", 0.1), ("cutout", 8), ("swa_from", 10),
                       ("distill", 0.5), ("activation", "silu")):
        commit = REMOVED[option][1]
        with pytest.raises(RemovedOption, match=f"{option}=.*removed after commit {commit}: `git checkout {commit}`"):
            stored_config({**old, option: on})
    with pytest.raises(RemovedOption, match="arch='C8 A C10 G', removed after commit 3f97a0d"):
        stored_config({**old, "arch": "C8 A C10 G"})  # an arch token removed (round 23's anti-aliased pool)


def test_smoke_is_small():
    s = smoke(STEP_5)
    assert s.epochs == 1 and s.train_subset <= 4096 and s.eval_subset <= 2048
    assert diff(STEP_5, s).keys() == {"epochs", "train_subset", "eval_subset"}


def test_variants_change_only_their_overrides_and_carry_their_name():
    small = variant(5, "5.7k-affine")
    assert small.name == "05_one_cycle_5.7k-affine"
    assert diff(ONE_CYCLE, small).keys() == VARIANTS[5]["5.7k-affine"].keys() == {"arch", "shift", "scale"}
    earlier = variant(5, "7.6k-rotation")  # step 5 of the earlier releases
    assert diff(ONE_CYCLE, earlier) == {} and earlier.name == "05_one_cycle_7.6k-rotation"
    with pytest.raises(ValueError, match="step 5 has no variant 'huge'; it has"):
        variant(5, "huge")
    with pytest.raises(ValueError, match="step 1 has no variant 'small'; it has none"):
        variant(1, "small")


def test_format_config_lists_every_field_on_its_own_line():
    from dataclasses import fields

    from mnist_drill.config import format_config

    lines = format_config(STEP_1).splitlines()
    assert lines[0] == "01_bn_gap:" and len(lines) == len(fields(Config))  # the name heads, every other field a line
    assert any(line.split() == ["rotation_deg", "0.0"] for line in lines)
