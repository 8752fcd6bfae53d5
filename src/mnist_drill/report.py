"""Every number the README and the notebooks' Result lines show, generated from results/.

`python -m mnist_drill report` rewrites the block between the report markers in README.md and the Result
line between the result markers of each notebook's first cell, so no result is typed by hand.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

from . import layout
from .config import STEPS, VARIANTS, variant
from .errors import ReportError
from .fileio import atomic_write_bytes
from .paths import PROJECT_ROOT
from .results import TARGET, History, first_consistent_epoch, format_seeds_table, steps_table

START, END = "<!-- report:start -->", "<!-- report:end -->"
RESULT_START, RESULT_END = "<!-- result:start -->", "<!-- result:end -->"


def _load_json(path: Path, command: str) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise ReportError(f"{layout.display(path)} cannot be read ({type(e).__name__}); re-run `{command}`") from None


def load_step_histories() -> dict[str, History]:
    """The stored notebook run of each step that has one, in step order."""
    found = {}
    for config in STEPS.values():
        path = layout.run_path("notebook", config.name)
        if path.is_file():
            try:
                found[config.name] = History.load(path)
            except ValueError as e:
                raise ReportError(f"{e}: re-run notebooks/{config.name}.ipynb") from None
    return found


def cited_seed_configs() -> list:
    """Every step and variant, in order: the ones whose `seeds` summary the report shows when it exists."""
    configs = []
    for number, config in STEPS.items():
        configs.append((number, "", config))
        configs += [(number, name, variant(number, name)) for name in VARIANTS.get(number, {})]
    return configs


def load_seed_summaries(held_out: bool = False) -> list[dict]:
    """The stored `seeds` summaries of every step and variant: seeds 1-5, or the held-out seeds 6-10."""
    summaries = []
    for number, name, config in cited_seed_configs():
        path = layout.summary_path(layout.seeds_dir(config.name, held_out=held_out))
        if path.is_file():
            command = seeds_command(number, name) + (" --first-seed 6" if held_out else "")
            summary = _load_json(path, command)
            if "command" not in summary or "worst_seed_min_last_epochs" not in summary:
                raise ReportError(f"{layout.display(path)} is from an older version; re-run `{command}`")
            if summary["name"] != config.name:  # made under another name (step 5 before it was redefined): shown
                # with the command that repeats it now; its Histories keep the command and commit that made it
                summary = {**summary, "name": config.name, "command": command}
            summaries.append({**summary, "path": layout.display(path), "held_out": held_out})
    return summaries


def seeds_command(step: int, variant_name: str = "", seeds: int = 5) -> str:
    return (f"python -m mnist_drill seeds --step {step}" + (f" --variant {variant_name}" if variant_name else "")
            + f" --seeds {seeds}")


def save_figure(fig, path: Path) -> Path:
    """Save a matplotlib figure atomically (rendered in memory, then written in one rename)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format=path.suffix.lstrip("."), dpi=110, bbox_inches="tight")
    return atomic_write_bytes(path, buffer.getvalue())


def frontier_rows(summaries: list[dict]) -> list[dict]:
    """One row per seeds summary: params against the worst seed's minimum over the last epochs."""
    rows = []
    for s in summaries:
        label = (s["name"] + (" (five views)" if "one_view" in s else "")
                 + (" (seeds 6-10)" if s.get("held_out") else ""))
        rows.append({"label": label, "params": s["params"], "seeds": len(s["seeds"]),
                     "worst_min": s["worst_seed_min_last_epochs"], "margin": s["worst_seed_min_last_epochs"] - TARGET,
                     "window": s["window"], "holds": s["first_consistent_all"] is not None
                     and s["first_consistent_all"] <= len(s["per_epoch"]) - s["window"] + 1,
                     "seconds": s["seconds_per_run_mean"], "command": s["command"]})
    return sorted(rows, key=lambda r: r["params"])


def format_frontier(rows: list[dict]) -> str:
    lines = ["| run | params | seeds | worst seed's min, last 6 epochs | margin over 99.4 | holds | s per run "
             "| command |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['label']} | {r['params']:,} | {r['seeds']} | {r['worst_min']:.2f} % | "
                     f"{r['margin']:+.2f} | {'yes' if r['holds'] else 'no'} | {r['seconds']:.0f} | "
                     f"`{r['command']}` |")
    return "\n".join(lines)


def render() -> str:
    """The README block: steps table and plot, the frontier, the seeds tables, the benchmark."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .plots import plot_compare, plot_frontier

    histories = load_step_histories()
    if not histories:
        raise ReportError(f"no step results in {layout.display(layout.results_dir())}; run the notebooks "
                          "(`make notebooks`) first")
    summaries = load_seed_summaries()
    held_out = load_seed_summaries(held_out=True)
    # check everything can be read before the first figure is written
    bench_path = layout.benchmark_path()
    bench = _load_json(bench_path, "make bench") if bench_path.is_file() else None
    by_name = {s["name"]: s for s in summaries}
    parts = ["Generated by `python -m mnist_drill report` from `results/` (each step's notebook run: seed 1, "
             "`results/<step>.json`; the last column from the step's five seeds where they exist).", "",
             steps_table(histories, markdown=True, summaries=by_name), ""]
    fig = plot_compare(histories, spread={name: s for name, s in by_name.items() if name in histories})
    plot_path = save_figure(fig, layout.figure_path("steps"))
    plt.close(fig)
    parts += [f"![test accuracy per epoch, all steps, with the seeds' spread]({layout.display(plot_path)})", ""]
    if summaries:
        rows = frontier_rows(summaries + held_out)
        fig = plot_frontier(rows, title="every run taken to the test set: worst seed's min over epochs 10-15")
        frontier_path = save_figure(fig, layout.figure_path("frontier"))
        plt.close(fig)
        parts += ["**The frontier**: every recipe taken to the test set, five seeds each; a row holds when every "
                  "seed is ≥ 99.4 % in every one of epochs 10-15, and the margin is how far its worst epoch of its "
                  "worst seed sits above 99.4 % (0.01 = one test image). A row marked (seeds 6-10) is a step's "
                  "held-out seeds, run after every choice was made.", "", format_frontier(rows), "",
                  f"![params against the worst seed's minimum]({layout.display(frontier_path)})", ""]
    for s in summaries:
        parts += [f"Seeds of `{s['name']}`, from `{s['command']}` (`{s['path']}`):", "",
                  "```", format_seeds_table(s), "```", ""]
    for s in held_out:
        parts += [f"Held-out seeds of `{s['name']}` (seeds 6-10, run after every choice was made), from "
                  f"`{s['command']}` (`{s['path']}`):", "", "```", format_seeds_table(s), "```", ""]
    if bench is not None:
        parts += ["Speed, from `make bench` (`benchmarks/speed.py`, all rows measured in one run, "
                  f"`{layout.display(bench_path)}`; the two step-3 rows run {bench['rows'][0]['epochs']} epochs "
                  "each, start-up included):", "", format_benchmark(bench), ""]
    return "\n".join(parts).rstrip() + "\n"


def format_benchmark(bench: dict) -> str:
    lines = ["| set-up | params | epochs | s/epoch | wall s |", "|---|---|---|---|---|"]
    for r in bench["rows"]:
        lines.append(f"| {r['label']} | {r['params']:,} | {r['epochs']} | {r['seconds_per_epoch']:.1f} | "
                     f"{r['wall_seconds']:.1f} |")
    lines += ["", f"On {bench['device']} ({bench['cpu_threads']} threads): the fast pipeline alone is "
              f"{bench['speedup_pipeline_alone_per_epoch']:.2f}x faster per epoch than the classic DataLoader on "
              f"the same step-3 model; the final step is {bench['speedup_final_vs_seed_style_per_epoch']:.2f}x "
              f"faster per epoch than the reference-style set-up, and its full run takes "
              f"{bench['final_full_run_wall_seconds']:.0f} s wall time, evaluation included."]
    return "\n".join(lines)


def result_line(history: History, summary: dict | None) -> str:
    """A notebook's Result, from its stored run (and its step's seeds summary when there is one)."""
    best, best_epoch = history.best()
    first = first_consistent_epoch(history)
    line = (f"**Result.** {history.params:,} parameters · best {best:.2f} % (epoch {best_epoch}) · last epoch "
            f"{history.eval_acc[-1]:.2f} % · ≥ 99.4 % held from epoch {first if first else 'never'} · "
            f"{history.seconds_per_epoch:.1f} s per epoch (this notebook's run: seed 1, on {history.device})")
    if summary:
        every = summary["first_consistent_all"]
        line += (f". Over seeds {summary['seeds'][0]}-{summary['seeds'][-1]} (`{summary['command']}`): "
                 + (f"every seed held from epoch {every}" if every else "not every seed held at the end")
                 + f"; the worst seed's lowest accuracy in the last {summary['window']} epochs is "
                 f"{summary['worst_seed_min_last_epochs']:.2f} %; mean of the last epoch "
                 f"{summary['last_epoch_mean']:.2f} %")
    return line + "."


def _replace_block(text: str, start: str, end: str, block: str, where: str) -> str:
    if start not in text or end not in text:
        raise ReportError(f"{where} has no {start} ... {end} block; add the two markers where the report goes")
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{start}{block}{end}{tail}"


def write_notebook_results(notebooks: Path = PROJECT_ROOT / "notebooks") -> list[Path]:
    """Rewrite the Result line of each notebook whose step has a stored run; returns the notebooks changed."""
    import nbformat

    histories = load_step_histories()
    summaries = {s["name"]: s for s in load_seed_summaries()}
    changed = []
    for config in STEPS.values():
        path = notebooks / f"{config.name}.ipynb"
        if config.name not in histories or not path.is_file():
            continue
        nb = nbformat.read(path, as_version=4)
        line = result_line(histories[config.name], summaries.get(config.name))
        source = _replace_block(nb.cells[0].source, RESULT_START, RESULT_END, line, layout.display(path))
        if source != nb.cells[0].source:
            nb.cells[0].source = source
            atomic_write_bytes(path, (nbformat.writes(nb) + "\n").encode())
            changed.append(path)
    return changed


def write_report(readme: Path = PROJECT_ROOT / "README.md", notebooks: Path = PROJECT_ROOT / "notebooks") -> str:
    """Rewrite the README's report block and the notebooks' Result lines; return the README block."""
    text = readme.read_text()
    _replace_block(text, START, END, "", layout.display(readme))  # no markers: fail before writing anything
    block = render()
    atomic_write_bytes(readme, _replace_block(text, START, END, "\n" + block, layout.display(readme)).encode())
    for path in write_notebook_results(notebooks):
        print(f"Result line updated in {layout.display(path)}")
    print(block)
    return block
