"""Every number RESULTS.md, the README's headline and the notebooks' Result lines show, generated from results/.

`python -m mnist_drill report` writes RESULTS.md whole, rewrites the headline between the report markers in
README.md and the Result line between the result markers of each notebook's first cell, so no result is typed by
hand. Every claim is made in one view (one forward pass per test image); a five-view reading (test-time
augmentation) is shown beside it, labelled, never alone.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

from ..config import STEPS
from ..errors import ReportError
from ..fileio import atomic_write_bytes
from ..paths import PROJECT_ROOT
from ..train import TARGET, History, first_consistent_epoch, held_phrase
from . import layout
from .provenance import describe_machine
from .recipes import PEERS, VARIANTS, variant
from .results import format_seeds_table, format_table, load_history, machine_label, steps_table, summarize_seeds
from .seeds import load_seeds

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
                found[config.name] = load_history(path)
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
            stored = _load_json(path, command)
            if "command" not in stored:
                raise ReportError(f"{layout.display(path)} is from an older version; re-run `{command}`")
            try:  # the figures are recomputed from the seeds' Histories, in one view (and five, where read so)
                summary = summarize_seeds(load_seeds(path.parent))
            except (FileNotFoundError, ValueError) as e:
                raise ReportError(f"{layout.display(path.parent)}: {e}; re-run `{command}`") from None
            # the command that made the runs, at its commit; a folder made under another name (the final step, made as
            # a variant before it became the step) also gets the command that re-makes it today
            made = f"{stored['command']}` at `{stored['commit'][:7]}" if stored.get("commit") else stored["command"]
            summary.update(name=config.name, command=made, peer=PEERS.get(config.name),
                           remake=command if stored["name"] != config.name else None)
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


def frontier_rows(summaries: list[dict], held_out: list[dict] | None = None) -> list[dict]:
    """One row per recipe: its seeds 1-5 and held-out seeds 6-10 together (combined), with its multiply-adds per image,
    each seed's one-view minimum over epochs 10-15, the seconds per run and the machines they were measured on."""
    later = {s["name"]: s for s in held_out or []}
    first = {s["name"] for s in summaries}
    configs = {c.name: c for _, _, c in cited_seed_configs()}  # once, not per row
    rows = []
    for s in summaries + [s for s in held_out or [] if s["name"] not in first]:  # seeds 6-10 alone: their own row
        parts = [s] + ([later[s["name"]]] if s["name"] in later and s is not later[s["name"]] else [])
        row = combined(parts)
        row.update(label=s["name"], macs=recipe_macs(configs.get(s["name"])), peer=s.get("peer"), command=s["command"],
                   seed_mins=[m for x in parts for m in x.get("seed_mins", [x["worst_seed_min_last_epochs"]])],
                   holds=row["holding"] == row["seeds"], machines=sorted({m for x in parts for m in x["machines"]}),
                   seconds=sum(x["seconds_per_run_mean"] * len(x["seeds"]) for x in parts) / row["seeds"])
        rows.append(row)
    return sorted(rows, key=lambda r: (r["params"], r["label"]))


def recipe_macs(config) -> int | None:
    """Multiply-adds per image of a recipe's config (None for a recipe no longer defined)."""
    from ..models import build_model
    from .inspection import count_macs

    return count_macs(build_model(config)) if config else None


def format_frontier(rows: list[dict], speed: dict | None = None) -> str:
    """The frontier table; with `speed` (benchmarks/frontier.py's file), a column of seconds per run of every recipe
    measured on that one machine, beside the stored runs' own seconds and machines."""
    header = ["recipe", "params", "multiply-adds per image", "seeds holding (one view)", "worst seed's min, ep 10-15",
              "mean, ep 10-15", "five views (TTA): holding, worst min", "s per run (stored runs)", "measured on"]
    one_machine = {r["name"]: r["seconds_per_run"] for r in speed["rows"]} if speed else {}
    if speed:
        header.append(f"s per run, all on {machine_label(speed['machine'])}")
    table = []
    for r in rows:
        five = "-"
        if r["five_holding"] is not None:
            five = f"{r['five_holding']} of {r['seeds']}, {r['five_worst_min']:.2f} %"
        table.append([f"`{r['label']}`" + (f" (peer: {r['peer']})" if r["peer"] else ""), f"{r['params']:,}",
                      f"{r['macs']:,}" if r["macs"] else "-", f"{r['holding']} of {r['seeds']}",
                      f"{r['worst_min']:.2f} %", f"{r['mean']:.2f} %", five, f"{r['seconds']:.0f}",
                      "; ".join(r["machines"])]
                     + ([f"{one_machine[r['label']]:.0f}" if r["label"] in one_machine else "-"] if speed else []))
    return format_table(header, table, markdown=True)


def headline(histories: dict[str, History], summaries: list[dict], held_out: list[dict]) -> str:
    """The README's first numbers: the final step in one view on its seeds, the five-view reading beside it."""
    final = STEPS[max(STEPS)]
    by_name = {s["name"]: s for s in summaries}
    rows = [s for s in (by_name.get(final.name), {x["name"]: x for x in held_out}.get(final.name)) if s]
    if not rows:
        return f"No seeds of the final step ({final.name}) are stored yet: run `{seeds_command(max(STEPS))}`."
    c = combined(rows)
    holds_all = c["holding"] == c["seeds"]
    margin = round((c["worst_min"] - TARGET) * 100)  # test images of 10,000
    sentences = [f"**The final step, `{final.name}` ({c['params']:,} parameters), holds in one view on {c['holding']} "
                 f"of {c['seeds']} seeds.**",
                 f"Its lowest epoch of 10-15 reads {c['worst_min']:.2f} %"
                 + (f", a margin of {margin} test images." if holds_all
                    else f", {-margin} images short of {TARGET} %.")]
    if c["five_holding"] is not None:
        sentences.append(f"Read in five views, it holds on {c['five_holding']} of {c['seeds']} (lowest "
                         f"{c['five_worst_min']:.2f} %).")
    made = f"Seeds {'6-10' if rows[0].get('held_out') else '1-5'} were made by `{rows[0]['command']}`"
    sentences.append(made + (f"; `{rows[0]['remake']}` re-makes them today." if rows[0].get("remake") else "."))
    if len(rows) > 1:
        sentences.append("Seeds 6-10 add `--first-seed 6`.")
    sentences.append(smallest_holding_phrase(summaries, held_out, final=final.name))
    run = histories.get(final.name)
    if run is not None:  # what `make run` costs: the same 15 epochs, as its notebook ran them
        sentences.append(f"One run of it (`make run`) took {run.total_seconds / 60:.1f} minutes in its notebook, on "
                         f"{machine_label(run.machine)}.")
    sentences.append("Every table is in [RESULTS.md](RESULTS.md).")
    return " ".join(sentences)


def all_seeds_rows(summaries: list[dict], held_out: list[dict]) -> list[dict]:
    """One row per recipe with both seeds 1-5 and held-out seeds 6-10 stored: its seeds, how many hold in one view,
    its lowest one-view epoch of 10-15, smallest recipe first."""
    later = {s["name"]: s for s in held_out}
    rows = [combined([s, later[s["name"]]]) for s in summaries if s["name"] in later]
    return sorted(rows, key=lambda r: (r["params"], r["name"]))


def combined(parts: list[dict]) -> dict:
    """Seeds summaries of one recipe (seeds 1-5, 6-10) as one row: its seeds, how many hold in one view, the lowest
    epoch of 10-15, the mean over them; the same in five views where every part was read so (else None)."""
    seeds = sum(len(x["seeds"]) for x in parts)
    row = {"name": parts[0]["name"], "params": parts[0]["params"], "seeds": seeds,
           "holding": sum(x["seeds_holding"] for x in parts),
           "worst_min": min(x["worst_seed_min_last_epochs"] for x in parts),
           "mean": sum(x["mean_last_epochs"] * len(x["seeds"]) for x in parts) / seeds,
           "five_holding": None, "five_worst_min": None}
    if all("five_views" in x for x in parts):
        row.update(five_holding=sum(x["five_views"]["seeds_holding"] for x in parts),
                   five_worst_min=min(x["five_views"]["worst_seed_min_last_epochs"] for x in parts))
    return row


def format_all_seeds(rows: list[dict], markdown: bool = True) -> str:
    """Every recipe with seeds 1-10 stored, smallest first: seeds holding and the lowest epoch of 10-15 in one view,
    the same in five views where read."""
    header = ["recipe", "params", "seeds holding (one view)", "lowest, ep 10-15", "mean, ep 10-15",
              "five views (TTA): holding, lowest"]
    table = [[f"`{r['name']}`" if markdown else r["name"], f"{r['params']:,}", f"{r['holding']} of {r['seeds']}",
              f"{r['worst_min']:.2f} %", f"{r['mean']:.2f} %",
              "-" if r["five_holding"] is None else f"{r['five_holding']} of {r['seeds']}, {r['five_worst_min']:.2f} %"]
             for r in rows]
    return format_table(header, table, markdown=markdown)


def smallest_holding_phrase(summaries: list[dict], held_out: list[dict], markdown: bool = True,
                            final: str | None = None) -> str:
    """The smallest recipe that holds in one view on every stored seed of 1-10, or, if none does, the closest;
    `final` (the final step's name), when it is that recipe, is called "it"."""
    if not markdown:
        return smallest_holding_phrase(summaries, held_out, final=final).replace("**", "").replace("`", "")
    rows = all_seeds_rows(summaries, held_out)
    if not rows:
        return "No recipe has seeds 1-10 stored yet."
    holding = [r for r in rows if r["holding"] == r["seeds"]]
    if holding:
        r = holding[0]
        if r["name"] == final:
            return f"It is the smallest stored recipe that holds in one view on every one of its {r['seeds']} seeds."
        return (f"**The smallest recipe that holds in one view on every one of its {r['seeds']} seeds: `{r['name']}`, "
                f"{r['params']:,} parameters** (lowest {r['worst_min']:.2f} %).")
    r = max(rows, key=lambda r: (r["holding"], r["worst_min"], -r["params"]))
    return (f"No recipe holds in one view on every one of seeds 1-10 yet; the closest, `{r['name']}` "
            f"({r['params']:,} parameters), holds on {r['holding']} of {r['seeds']} (lowest {r['worst_min']:.2f} %).")


def render(histories: dict[str, History], summaries: list[dict], held_out: list[dict]) -> str:
    """RESULTS.md from the stored runs: the steps table and plot, the frontier, the seeds tables, the benchmark."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .plots import plot_compare, plot_frontier

    if not histories:
        raise ReportError(f"no step results in {layout.display(layout.results_dir())}; run the notebooks "
                          "(`make notebooks`) first")
    # check everything can be read before the first figure is written
    bench_path = layout.benchmark_path()
    bench = _load_json(bench_path, "make bench") if bench_path.is_file() else None
    levers_path = layout.benchmark_path("benchmark_levers")
    levers = _load_json(levers_path, "make bench") if levers_path.is_file() else None
    speed_path = layout.benchmark_path("benchmark_frontier")
    speed = _load_json(speed_path, "python benchmarks/frontier.py") if speed_path.is_file() else None
    jobs_path = layout.benchmark_path("benchmark_jobs")
    jobs = _load_json(jobs_path, "python benchmarks/jobs.py") if jobs_path.is_file() else None
    by_name = {s["name"]: s for s in summaries}
    parts = ["# Results", "", "Generated by `python -m mnist_drill report` from `results/`; do not edit by hand. "
             "**Test accuracy means one view**: one forward pass per test image, as the reference and every published "
             "result count it. A run read in five views (test-time augmentation: the image and its one-pixel shifts, "
             "probabilities averaged) shows that reading in columns of its own, labelled. A recipe *holds* when every "
             f"seed is ≥ {TARGET} % in every one of epochs 10-15; its margin is how far its worst epoch of its worst "
             "seed sits above (0.01 = one test image).", "", headline(histories, summaries, held_out), "",
             "## The steps", "", "Each step's notebook run (seed 1, `results/<step>.json`), and its five seeds where "
             "they exist (`results/seeds/<step>/`):", "", steps_table(histories, markdown=True, summaries=by_name), ""]
    fig = plot_compare(histories, spread={name: s for name, s in by_name.items() if name in histories})
    plot_path = save_figure(fig, layout.figure_path("steps"))
    plt.close(fig)
    parts += [f"![test accuracy per epoch of every step, one view: its notebook run as a line, its seeds' range shaded]"
              f"({layout.display(plot_path)})", ""]
    if summaries:
        rows = frontier_rows(summaries, held_out)
        fig = plot_frontier(rows)
        frontier_path = save_figure(fig, layout.figure_path("frontier"))
        plt.close(fig)
        parts += ["## The frontier", "", "Every recipe whose seeds are stored on the test set, in one view: seeds 1-5, "
                  "and seeds 6-10 (run after every choice was made) where stored, as one row. Multiply-adds count one "
                  "image's pass through the convs. Seconds per run are the mean of the recipe's stored runs, on the "
                  "machine(s) named beside them: compare them only between rows measured on the same machine (the "
                  "fingerprint in brackets; threads included, since runs made side by side with `--jobs` take one "
                  "thread each). Recipes that went to the test set and are no longer stored are listed in "
                  "[EXPERIMENTS.md](EXPERIMENTS.md)."
                  + (f" The last column times every recipe on one machine (`python benchmarks/frontier.py`, in `make "
                     f"bench`, at `{speed['commit'][:7]}`): {speed['batches']} timed training batches and one reading "
                     "of the test set each, scaled to a run, the median of "
                     f"{speed['rounds']} rounds." if speed else ""), "", format_frontier(rows, speed), "",
                  f"![params against the worst seed's one-view minimum]({layout.display(frontier_path)})", ""]
    ten = all_seeds_rows(summaries, held_out)
    if ten:
        parts += ["## Seeds 1-10", "", "Every recipe with seeds 1-5 and the held-out seeds 6-10 stored, smallest "
                  "first: how many of its ten seeds hold in one view, and its lowest epoch of 10-15 over all ten. "
                  + smallest_holding_phrase(summaries, held_out), "", format_all_seeds(ten), ""]
    parts += ["## Seeds", ""]
    for s in summaries:
        again = f"; `{s['remake']}` re-makes them today" if s.get("remake") else ""
        parts += [f"Seeds of `{s['name']}`, made by `{s['command']}`{again} (`{s['path']}`):", "",
                  "```", format_seeds_table(s), "```", ""]
    for s in held_out:
        again = f"; `{s['remake']}` re-makes them today" if s.get("remake") else ""
        parts += [f"Held-out seeds of `{s['name']}` (seeds 6-10, run after every choice was made), made by "
                  f"`{s['command']}`{again} (`{s['path']}`):", "", "```", format_seeds_table(s), "```", ""]
    if bench is not None:
        where = f", on {describe_machine(bench['fingerprint'])}" if bench.get("fingerprint") else ""
        parts += ["## Speed", "", "From `make bench` (`benchmarks/speed.py`, all rows measured in one run, "
                  f"`{layout.display(bench_path)}`{where}; the two step-3 rows run {bench['rows'][0]['epochs']} "
                  "epochs each, start-up included):", "", format_benchmark(bench), ""]
    if levers is not None:
        parts += ["### Speed levers", "", "From `make bench` (`benchmarks/levers.py`, "
                  f"`{layout.display(levers_path)}`, on {describe_machine(levers['machine'])}): each lever alone "
                  f"against eager PyTorch on the final step as it stood at `{levers['commit'][:7]}`, each in a fresh "
                  f"process, the median of {levers['rounds']} "
                  "rounds taken in turn. Only a lever that pays here goes into the engine.", "",
                  format_levers(levers), ""]
    if jobs is not None:
        parts += ["### Runs side by side (`--jobs`)", "", f"From `python benchmarks/jobs.py` (`make bench`, "
                  f"`{layout.display(jobs_path)}`, on {machine_label(jobs['machine'])}, at `{jobs['commit'][:7]}`): "
                  f"the same {jobs['runs']} runs of `{jobs['config']}` ({jobs['epochs']} epochs each on all 60,000 "
                  "training images), one after the other and then side by side, in one run:", "",
                  format_table(["--jobs", "threads per run", "wall s", "training images per s"],
                               [[r["jobs"], r["threads_per_run"], f"{r['wall_seconds']:.1f}",
                                 f"{r['images_per_second']:,.0f}"] for r in jobs["rows"]], markdown=True), "",
                  f"`--jobs 2` trains {jobs['ratio']:.2f}× the images per second of `--jobs 1` here.", ""]
    return "\n".join(parts).rstrip() + "\n"


def format_benchmark(bench: dict) -> str:
    lines = [format_table(["set-up", "params", "epochs", "s/epoch", "wall s"],
                          [[r["label"], f"{r['params']:,}", r["epochs"], f"{r['seconds_per_epoch']:.1f}",
                            f"{r['wall_seconds']:.1f}"] for r in bench["rows"]], markdown=True)]
    lines += ["", f"On {bench['device']} ({bench['cpu_threads']} threads): the fast pipeline alone is "
              f"{bench['speedup_pipeline_alone_per_epoch']:.2f}x faster per epoch than the classic DataLoader on "
              f"the same step-3 model; the final step is {bench['speedup_final_vs_seed_style_per_epoch']:.2f}x "
              f"faster per epoch than the reference-style set-up, and its full run takes "
              f"{bench['final_full_run_wall_seconds']:.0f} s wall time, evaluation included."]
    return "\n".join(lines)


def format_levers(levers: dict) -> str:
    """The two tables of benchmarks/levers.py: training (ms per step of 128) and evaluation (ms per 1,000 images)."""
    training = format_table(["training: what changes", "ms per step", "train s per epoch", "× eager"],
                            [[r["change"], f"{r['ms_per_step']:.1f}", f"{r['train_s_per_epoch']:.1f}",
                              f"{r['ratio']:.2f}"] for r in levers["training"]], markdown=True)
    rows = [[e["change"], f"{e['one_view_ms_per_1000']:.0f}", f"{e['five_views_ms_per_1000']:.0f}",
             f"{e['ratio_one_view']:.2f}, {e['ratio_five_views']:.2f}"] for e in levers["evaluation"]]
    evaluation = format_table(["evaluation: what changes", "one view, ms per 1,000", "five views, ms per 1,000",
                               "× eager (one, five)"], rows, markdown=True)
    return training + "\n\n" + evaluation


def result_line(history: History, summary: dict | None) -> str:
    """A notebook's Result, from its stored run (and its step's seeds summary when there is one), in one view; a run
    read in five views gives that reading after it, labelled."""
    best, best_epoch = history.best()
    line = (f"**Result** (test accuracy, one view). {history.params:,} parameters · best train accuracy "
            f"{max(history.column('train_acc')):.2f} % · best test {best:.2f} % (epoch {best_epoch}) · last epoch "
            f"{history.one_view[-1]:.2f} % · {held_phrase(first_consistent_epoch(history.one_view))}")
    if history.five_views:
        line += (f" · five views (test-time augmentation): last epoch {history.five_views[-1]:.2f} %, "
                 f"{held_phrase(first_consistent_epoch(history.five_views))}")
    line += (f" · {history.seconds_per_epoch:.1f} s per epoch (this notebook's run: seed 1, on "
             f"{machine_label(history.machine)})")
    if summary:
        n = len(summary["seeds"])
        line += (f". Over seeds {summary['seeds'][0]}-{summary['seeds'][-1]} (`{summary['command']}`), one view: "
                 f"{summary['seeds_holding']} of {n} seeds hold in every epoch 10-15; the worst seed's lowest "
                 f"accuracy there is {summary['worst_seed_min_last_epochs']:.2f} %; mean of the last epoch "
                 f"{summary['last_epoch_mean']:.2f} %")
        if "five_views" in summary:
            five = summary["five_views"]
            line += (f"; five views (test-time augmentation): {five['seeds_holding']} of {n} hold, lowest "
                     f"{five['worst_seed_min_last_epochs']:.2f} %")
    return line + "."


def _replace_block(text: str, start: str, end: str, block: str, where: str) -> str:
    if start not in text or end not in text:
        raise ReportError(f"{where} has no {start} ... {end} block; add the two markers where the report goes")
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{start}{block}{end}{tail}"


def write_notebook_results(notebooks: Path, histories: dict[str, History], summaries: list[dict]) -> list[Path]:
    """Rewrite the Result line of each notebook whose step has a stored run; returns the notebooks changed."""
    import nbformat

    summaries = {s["name"]: s for s in summaries}
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


def write_report(readme: Path = PROJECT_ROOT / "README.md", notebooks: Path = PROJECT_ROOT / "notebooks",
                 results_md: Path | None = None) -> str:
    """Write RESULTS.md, the README's headline block and the notebooks' Result lines; return RESULTS.md's text."""
    results_md = results_md or readme.with_name("RESULTS.md")
    text = readme.read_text()
    _replace_block(text, START, END, "", layout.display(readme))  # no markers: fail before writing anything
    stored = load_step_histories(), load_seed_summaries(), load_seed_summaries(held_out=True)  # read once
    body = render(*stored)
    block = headline(*stored)
    atomic_write_bytes(results_md, body.encode())
    atomic_write_bytes(readme, _replace_block(text, START, END, f"\n{block}\n", layout.display(readme)).encode())
    for path in write_notebook_results(notebooks, *stored[:2]):
        print(f"Result line updated in {layout.display(path)}")
    print(f"{layout.display(results_md)} written; the README's headline: {block}")
    return body
