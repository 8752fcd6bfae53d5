"""The generated README block and Result lines: commands come from the summaries, the frontier is ranked by
parameters with each row's margin over the target."""

from mnist_drill.lab.report import (
    all_seeds_rows,
    format_all_seeds,
    format_frontier,
    frontier_rows,
    result_line,
    seeds_command,
    smallest_holding_phrase,
)
from mnist_drill.lab.results import History


def summary(name, params, worst, holding, command, machines=("cpu A",)):
    return {"name": name, "params": params, "seeds": [1, 2, 3, 4, 5], "worst_seed_min_last_epochs": worst,
            "window": 6, "seeds_holding": holding, "per_epoch": [{}] * 15, "seconds_per_run_mean": 90.0,
            "command": command, "last_epoch_mean": 99.45, "mean_last_epochs": 99.47, "worst_seed": 3,
            "seed_mins": [worst] + [worst + 0.05] * 4, "machines": list(machines)}


def test_seeds_command_names_the_step_and_the_variant():
    assert seeds_command(5) == "python -m mnist_drill seeds --step 5 --seeds 5"
    assert seeds_command(5, "5.7k-affine") == "python -m mnist_drill seeds --step 5 --variant 5.7k-affine --seeds 5"


def test_frontier_rows_are_one_per_recipe_ordered_by_params_with_their_seeds_and_machines():
    rows = frontier_rows([summary("big", 7568, 99.41, 5, "cmd big"), summary("small", 5680, 99.38, 3, "cmd small"),
                          summary("late", 6000, 99.40, 5, "cmd late")])
    assert [r["label"] for r in rows] == ["small", "late", "big"]
    assert [r["holds"] for r in rows] == [False, True, True]
    viewed = {**summary("step", 5680, 99.36, 3, "cmd"), "five_views": {"worst_seed_min_last_epochs": 99.42,
                                                                      "seeds_holding": 5}}
    later = {**summary("step", 5680, 99.45, 5, "cmd", machines=("cpu B",)),
             "five_views": {"worst_seed_min_last_epochs": 99.48, "seeds_holding": 5}}
    [row] = frontier_rows([viewed], [later])  # seeds 1-5 and 6-10: one recipe, one row
    assert (row["seeds"], row["holding"], row["worst_min"], row["five_holding"]) == (10, 8, 99.36, 10)
    assert len(row["seed_mins"]) == 10 and min(row["seed_mins"]) == 99.36
    assert row["machines"] == ["cpu A", "cpu B"]  # its times come from two machines, and the table says which
    assert "cpu A; cpu B" in format_frontier([row])


def test_result_line_is_built_from_the_run_and_its_seeds():
    h = History(config={"name": "x"}, seed=1, params=7568, device="cpu (2 threads)", versions={},
                epochs=[{"epoch": i + 1, "eval_acc": a, "train_acc": t, "seconds": 5.0}
                        for i, (a, t) in enumerate([(99.3, 98.0), (99.45, 99.1), (99.42, 99.0)])])
    line = result_line(h, None)
    for part in ("7,568 parameters", "best train accuracy 99.10 %", "best test 99.45 % (epoch 2)",
                 "last epoch 99.42 %"):
        assert part in line
    assert "held from epoch 2" in line and "5.0 s per epoch" in line and line.endswith(".")
    assert "five views" not in line
    with_seeds = result_line(h, summary("x", 7568, 99.41, 5, "python -m mnist_drill seeds --step 5 --seeds 5"))
    assert "5 of 5 seeds hold in every epoch 10-15" in with_seeds and "99.41 %" in with_seeds
    h.config["tta_shift"] = 1
    for epoch, plain in zip(h.epochs, [99.2, 99.3, 99.35], strict=True):
        epoch["five_acc"], epoch["eval_acc"] = epoch["eval_acc"], plain
    line = result_line(h, None)
    assert "best test 99.35 % (epoch 3)" in line and "never held" in line
    assert "five views (test-time augmentation): last epoch 99.42 %, >= 99.4% held from epoch 2" in line


def test_levers_tables_give_each_lever_its_time_and_its_ratio_to_eager():
    from mnist_drill.lab.report import format_levers

    levers = {"training": [{"change": "nothing: eager", "ms_per_step": 25.0, "train_s_per_epoch": 11.7, "ratio": 1.0},
                           {"change": "channels-last", "ms_per_step": 20.0, "train_s_per_epoch": 9.4, "ratio": 1.25}],
              "evaluation": [{"change": "eager", "one_view_ms_per_1000": 57.0, "five_views_ms_per_1000": 266.0,
                              "ratio_one_view": 1.0, "ratio_five_views": 1.0}]}
    text = format_levers(levers)
    assert "| channels-last | 20.0 | 9.4 | 1.25 |" in text
    assert "| eager | 57 | 266 | 1.00, 1.00 |" in text


def test_a_machine_is_named_with_its_threads_and_fingerprint_and_old_runs_say_unrecorded():
    from mnist_drill.lab.results import machine_label

    machine = {"cpu": "AMD EPYC", "cpu_capability": "AVX2", "threads": 2, "device": "cpu", "torch": "2.14.1",
               "hash": "372dbcded662"}
    assert machine_label(machine) == "AMD EPYC (AVX2), 2 threads [372dbcded662]"
    assert machine_label({**machine, "threads": 1}) != machine_label(machine)  # a --jobs run's time is not comparable
    assert machine_label(None) == "unrecorded"


def test_the_headline_names_the_smallest_recipe_that_holds_on_all_ten_seeds_or_the_closest():
    first = [summary("big", 9786, 99.45, 5, "c"), summary("mid", 7568, 99.41, 5, "c"),
             summary("small", 5680, 99.38, 3, "c"), summary("only five", 4000, 99.50, 5, "c")]
    later = [summary("big", 9786, 99.42, 5, "c"), summary("mid", 7568, 99.39, 4, "c"),
             summary("small", 5680, 99.36, 4, "c")]
    phrase = smallest_holding_phrase(first, later)
    # "only five" has no seeds 6-10, so it does not count
    assert "`big`, 9,786 parameters** (lowest 99.42 %)" in phrase and "10 seeds" in phrase
    assert smallest_holding_phrase(first, later, final="big").startswith("It is the smallest stored recipe")
    phrase = smallest_holding_phrase(first, later[1:])
    assert phrase.startswith("No recipe holds")
    assert "`mid` (7,568 parameters), holds on 9 of 10 (lowest 99.39 %)" in phrase
    assert smallest_holding_phrase(first, []) == "No recipe has seeds 1-10 stored yet."


def test_the_seeds_1_10_table_adds_both_seed_sets_and_shows_five_views_only_where_read():
    first = [summary("small", 5680, 99.36, 3, "c"), summary("big", 9786, 99.45, 5, "c")]
    later = [summary("small", 5680, 99.39, 4, "c"), summary("big", 9786, 99.42, 5, "c")]
    for s in (first[0], later[0]):
        s["five_views"] = {"worst_seed_min_last_epochs": 99.42, "seeds_holding": 5}
    table = format_all_seeds(all_seeds_rows(first, later)).splitlines()
    assert table[2] == "| `small` | 5,680 | 7 of 10 | 99.36 % | 99.47 % | 10 of 10, 99.42 % |"
    assert table[3] == "| `big` | 9,786 | 10 of 10 | 99.42 % | 99.47 % | - |"
