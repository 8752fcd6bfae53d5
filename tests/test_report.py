"""The generated report: one frontier row per recipe (seeds 1-5 and held-out 6-10 together), ranked by parameters;
the headline's smallest holding recipe; the notebooks' Result lines built from the run and its seeds."""

from mnist_drill.lab.provenance import machine_label
from mnist_drill.lab.report import format_frontier, frontier_rows, result_line, smallest_holding_phrase
from mnist_drill.lab.seeds import seeds_command
from mnist_drill.train import History


def summary(name, params, worst, holding, command="c", machines=("cpu A",), held_out=False, first=6):
    first = first if held_out else 1
    return {"name": name, "params": params, "seeds": list(range(first, first + 5)),
            "worst_seed_min_last_epochs": worst, "window": 6, "seeds_holding": holding, "per_epoch": [{}] * 15,
            "seconds_per_run_mean": 90.0, "command": command, "last_epoch_mean": 99.45, "mean_last_epochs": 99.47,
            "worst_seed": 3, "seed_mins": [worst] + [worst + 0.05] * 4, "machines": list(machines),
            "held_out": held_out, "remake": None}


def test_seeds_command_names_the_step_and_the_variant():
    assert seeds_command(5) == "python -m mnist_drill seeds --step 5 --seeds 5"
    assert seeds_command(5, "5.7k-affine") == "python -m mnist_drill seeds --step 5 --variant 5.7k-affine --seeds 5"


def test_frontier_rows_are_one_per_recipe_ordered_by_params_with_their_seeds_and_machines():
    rows = frontier_rows([summary("big", 7568, 99.41, 5), summary("small", 5680, 99.38, 3),
                          summary("late", 6000, 99.40, 5)])
    assert [r["label"] for r in rows] == ["small", "late", "big"]
    assert [r["holds"] for r in rows] == [False, True, True]
    viewed = {**summary("step", 5680, 99.36, 3), "five_views": {"worst_seed_min_last_epochs": 99.42,
                                                               "seeds_holding": 5}}
    later = {**summary("step", 5680, 99.45, 5, machines=("cpu B",), held_out=True),
             "five_views": {"worst_seed_min_last_epochs": 99.48, "seeds_holding": 5}}
    [row] = frontier_rows([viewed], [later])  # seeds 1-5 and 6-10: one recipe, one row
    assert (row["seeds"], row["holding"], row["worst_min"], row["five_holding"]) == (10, 8, 99.36, 10)
    assert len(row["seed_mins"]) == 10 and min(row["seed_mins"]) == 99.36
    assert row["machines"] == ["cpu A", "cpu B"]  # its times come from two machines, and the table says which
    assert "cpu A; cpu B" in format_frontier([row])
    [alone] = frontier_rows([], [later])  # seeds 6-10 without seeds 1-5 still get their row
    assert alone["seeds"] == 5 and alone["five_holding"] == 5
    [one_view] = frontier_rows([viewed], [summary("step", 5680, 99.45, 5, held_out=True)])
    assert one_view["five_holding"] is None  # five views only where every part was read so


def test_the_frontier_table_has_a_row_per_recipe_and_names_a_peers_source():
    rows = frontier_rows([{**summary("peer", 3762, 99.1, 0), "peer": "[someone](https://example.org)"},
                          summary("ours", 9786, 99.46, 5)])
    table = format_frontier(rows).splitlines()
    assert len(table) == 4 and "[someone](https://example.org)" in table[2] and "`ours`" in table[3]
    assert "`" not in format_frontier(rows, markdown=False)


def test_result_line_is_built_from_the_run_and_its_seeds():
    h = History(config={"name": "x"}, seed=1, params=7568, device="cpu (2 threads)", versions={},
                epochs=[{"epoch": i + 1, "eval_acc": a, "train_acc": t, "seconds": 5.0}
                        for i, (a, t) in enumerate([(99.3, 98.0), (99.45, 99.1), (99.42, 99.0)])])
    line = result_line(h, None)
    for part in ("7,568 parameters", "99.10 %", "99.45 % (epoch 2)", "99.42 %", "held from epoch 2", "5.0 s"):
        assert part in line
    assert "five views" not in line
    with_seeds = result_line(h, summary("x", 7568, 99.41, 5, "python -m mnist_drill seeds --step 5 --seeds 5"))
    assert "5 of 5" in with_seeds and "99.41 %" in with_seeds and "--step 5" in with_seeds
    h.config["tta_shift"] = 1
    for epoch, plain in zip(h.epochs, [99.2, 99.3, 99.35], strict=True):
        epoch["five_acc"], epoch["eval_acc"] = epoch["eval_acc"], plain
    line = result_line(h, None)
    assert "99.35 % (epoch 3)" in line and "never held" in line  # the claim is in one view
    assert line.index("five views") > line.index("never held")  # five views after it, labelled
    assert "held from epoch 2" in line[line.index("five views"):]


def test_a_machine_is_named_with_its_threads_and_fingerprint_and_old_runs_say_unrecorded():
    machine = {"cpu": "AMD EPYC", "cpu_capability": "AVX2", "threads": 2, "device": "cpu", "torch": "2.14.1",
               "hash": "372dbcded662"}
    assert "AMD EPYC" in machine_label(machine) and "372dbcded662" in machine_label(machine)
    assert machine_label({**machine, "threads": 1}) != machine_label(machine)  # a --jobs run's time is not comparable
    assert machine_label(None) == "unrecorded"


def test_the_headline_names_the_smallest_recipe_that_holds_on_all_ten_seeds_or_the_closest():
    first = [summary("big", 9786, 99.45, 5), summary("mid", 7568, 99.41, 5), summary("small", 5680, 99.38, 3),
             summary("only five", 4000, 99.50, 5)]
    later = [summary("big", 9786, 99.42, 5, held_out=True), summary("mid", 7568, 99.39, 4, held_out=True),
             summary("small", 5680, 99.36, 4, held_out=True)]
    phrase = smallest_holding_phrase(first, later)
    assert "`big`" in phrase and "only five" not in phrase  # "only five" has no seeds 6-10, so it does not count
    assert "`mid`" not in phrase and "10 seeds" in phrase
    assert smallest_holding_phrase(first, later, final="big").startswith("It ")
    phrase = smallest_holding_phrase(first, later[1:])  # nothing holds on all ten: the closest is named
    assert phrase.startswith("No recipe holds") and "`mid`" in phrase and "9 of 10" in phrase
    assert "`" not in smallest_holding_phrase(first, later[1:], markdown=False)
    assert smallest_holding_phrase(first, []) == "No recipe has seeds 1-10 stored yet."
    more = later + [summary("big", 9786, 99.38, 4, held_out=True, first=11)]  # a later five where one seed misses
    phrase = smallest_holding_phrase(first, more)
    assert phrase.startswith("No recipe holds") and "`mid`" in phrase and "9 of 10" in phrase  # one miss, and higher


def test_the_headline_counts_every_held_out_set_of_the_final_step(monkeypatch):
    from mnist_drill.lab import report

    monkeypatch.setattr(report, "STEPS", {6: type("Step", (), {"name": "six"})()})
    parts = [summary("six", 5680, 99.41, 5, held_out=True), summary("six", 5680, 99.39, 4, held_out=True, first=11)]
    line = report.headline({}, [summary("six", 5680, 99.45, 5)], parts)
    assert "on 14 of 15 seeds" in line and "1 image short of 99.4 %" in line
    assert "Seeds 6-10 add `--first-seed 6`. Seeds 11-15 add `--first-seed 11`." in line


def test_every_benchmark_file_is_rendered_by_one_rule_naming_its_command_machine_commit(tmp_path, monkeypatch):
    import json

    from mnist_drill.lab import benchmarks, layout

    monkeypatch.setattr(layout, "RESULTS_DIR", tmp_path)
    bench = {"command": "python benchmarks/levers.py", "commit": "6ec42c5718ec", "code_dirty": False, "rounds": 3,
             "machine": {"cpu": "AMD EPYC", "cpu_capability": "AVX2", "threads": 2, "hash": "372dbcded662"},
             "training": [{"change": "eager", "ms_per_step": 29.84, "ratio": 1.0, "rounds_ms": [1, 2]},
                          {"change": "foreach=False", "ms_per_step": 23.7, "ratio": 1.259, "rounds_ms": [1, 2]}],
             "rows": [{"jobs": 2, "images_per_second": 4348.2}]}
    (tmp_path / "benchmark_levers.json").write_text(json.dumps(bench))
    text = "\n\n".join(benchmarks.benchmark_sections())
    assert "`python benchmarks/levers.py` on AMD EPYC" in text and "`6ec42c5`" in text and "372dbcded662" in text
    assert "Speed levers for the final step" in text  # what the script's docstring says it measures
    assert "rounds: 3" in text and "| training: change | ms per step | speed × row 1 |" in text
    assert "| foreach=False | 23.7 | 1.26 |" in text and "| 2 | 4,348 |" in text and "rounds ms" not in text
