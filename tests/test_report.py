"""The generated README block and Result lines: commands come from the summaries, the frontier is ranked by
parameters with each row's margin over the target."""

from mnist_drill.report import format_frontier, frontier_rows, result_line, seeds_command
from mnist_drill.results import History


def summary(name, params, worst, first_all, command):
    return {"name": name, "params": params, "seeds": [1, 2, 3, 4, 5], "worst_seed_min_last_epochs": worst,
            "window": 6, "first_consistent_all": first_all, "per_epoch": [{}] * 15, "seconds_per_run_mean": 90.0,
            "command": command, "last_epoch_mean": 99.45, "worst_seed": 3}


def test_seeds_command_names_the_step_and_the_variant():
    assert seeds_command(5) == "python -m mnist_drill seeds --step 5 --seeds 5"
    assert seeds_command(5, "5.7k-affine") == "python -m mnist_drill seeds --step 5 --variant 5.7k-affine --seeds 5"


def test_frontier_rows_are_ordered_by_params_with_their_margin_and_verdict():
    rows = frontier_rows([summary("big", 7568, 99.41, 7, "cmd big"), summary("small", 5680, 99.38, None, "cmd small"),
                          summary("late", 6000, 99.40, 12, "cmd late")])
    assert [r["label"] for r in rows] == ["small", "late", "big"]
    assert [r["holds"] for r in rows] == [False, False, True]  # "late" holds only from epoch 12, not 10
    assert round(rows[2]["margin"], 2) == 0.01 and round(rows[0]["margin"], 2) == -0.02
    table = format_frontier(rows)
    assert "| small | 5,680 | 5 | 99.38 % | -0.02 | no | 90 | `cmd small` |" in table
    viewed = {**summary("step", 5680, 99.42, 8, "cmd"), "one_view": {"worst_seed_min_last_epochs": 99.36}}
    assert [r["label"] for r in frontier_rows([viewed, {**viewed, "held_out": True}])] == [
        "step (five views)", "step (five views) (seeds 6-10)"]  # a five-view reading says so


def test_result_line_is_built_from_the_run_and_its_seeds():
    h = History(config={"name": "x"}, seed=1, params=7568, device="cpu (2 threads)", versions={},
                epochs=[{"epoch": i + 1, "eval_acc": a, "seconds": 5.0} for i, a in enumerate([99.3, 99.45, 99.42])])
    line = result_line(h, None)
    assert line.startswith("**Result.** 7,568 parameters · best 99.45 % (epoch 2) · last epoch 99.42 %")
    assert "held from epoch 2" in line and "5.0 s per epoch" in line and line.endswith(".")
    with_seeds = result_line(h, summary("x", 7568, 99.41, 7, "python -m mnist_drill seeds --step 5 --seeds 5"))
    assert "every seed held from epoch 7" in with_seeds and "99.41 %" in with_seeds
