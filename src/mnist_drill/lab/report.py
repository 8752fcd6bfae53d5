"""RESULTS.md, the README's headline and the notebooks' Result lines, generated from results/ (`python -m mnist_drill
report`): no result is typed by hand. Every claim is in one view; a five-view reading is shown beside it, labelled."""

import io
import json
from pathlib import Path

import matplotlib.pyplot as plt

from .. import models
from ..config import STEPS
from ..errors import ReportError
from ..fileio import atomic_write_bytes
from ..paths import PROJECT_ROOT
from ..train import TARGET, History, held_phrase
from . import inspection, layout, plots
from .benchmarks import benchmark_sections
from .provenance import machine_label
from .results import format_seeds_table, format_table, load_history, steps_table
from .seeds import cited_seed_configs, load_seed_summaries, seeds_command

START, END = "<!-- report:start -->", "<!-- report:end -->"
RESULT_START, RESULT_END = "<!-- result:start -->", "<!-- result:end -->"


def load_step_histories() -> dict[str, History]:
    """The stored notebook run of each step that has one, in step order."""
    try:
        return {c.name: load_history(p) for c in STEPS.values() if (p := layout.run_path("notebook", c.name)).is_file()}
    except ValueError as e:
        raise ReportError(f"{e}: re-run its notebook (`make notebooks`)") from None


def frontier_rows(summaries: list[dict], held_out: list[dict] | None = None) -> list[dict]:
    """One row per recipe, smallest first: its seeds 1-5 and held-out sets (`parts`) as one, in one view and five."""
    by_recipe: dict[str, list[dict]] = {}
    for s in summaries + (held_out or []):
        by_recipe.setdefault(s["name"], []).append(s)
    rows = []
    for name, parts in by_recipe.items():
        n, holding = sum(len(p["seeds"]) for p in parts), sum(p["seeds_holding"] for p in parts)
        five = [p["five_views"] for p in parts] if all("five_views" in p for p in parts) else None
        rows.append({"label": name, "params": parts[0]["params"], "seeds": n, "parts": parts, "holding": holding,
                     "holds": holding == n, "peer": parts[0].get("peer"),
                     "worst_min": min(p["worst_seed_min_last_epochs"] for p in parts),
                     "mean": sum(p["mean_last_epochs"] * len(p["seeds"]) for p in parts) / n,
                     "seed_mins": [m for p in parts for m in p["seed_mins"]],
                     "machines": sorted({m for p in parts for m in p["machines"]}),
                     "seconds": sum(p["seconds_per_run_mean"] * len(p["seeds"]) for p in parts) / n,
                     "five_holding": sum(f["seeds_holding"] for f in five) if five else None,
                     "five_worst_min": min(f["worst_seed_min_last_epochs"] for f in five) if five else None})
    return sorted(rows, key=lambda r: (r["params"], r["label"]))


def format_frontier(rows: list[dict], markdown: bool = True) -> str:
    """The frontier table, with each recipe's multiply-adds per image, its seconds per run on one machine
    (benchmarks/frontier.py, where stored), and its stored runs' own seconds with the machines they were made on."""
    configs, q = {c.name: c for _, _, c in cited_seed_configs()}, "`" if markdown else ""
    bench = layout.benchmark_path("benchmark_frontier")
    one = {r["name"]: r["seconds_per_run"] for r in json.loads(bench.read_text())["rows"]} if bench.is_file() else {}
    return format_table(
        ["recipe", "params", "multiply-adds per image", "seeds holding (one view)", "worst seed's min, ep 10-15",
         "mean, ep 10-15", "five views (TTA): holding, worst min", f"s per run, one machine ({bench.name})",
         "s per run (stored runs)", "stored runs made on"],
        [[f"{q}{r['label']}{q}" + (f" (peer: {r['peer']})" if r["peer"] and markdown else " (peer)" * bool(r["peer"])),
          f"{r['params']:,}",
          f"{inspection.count_macs(models.build_model(configs[r['label']])):,}" if r["label"] in configs else "-",
          f"{r['holding']} of {r['seeds']}", f"{r['worst_min']:.2f} %", f"{r['mean']:.2f} %",
          "-" if r["five_holding"] is None else f"{r['five_holding']} of {r['seeds']}, {r['five_worst_min']:.2f} %",
          f"{one[r['label']]:.0f}" if r["label"] in one else "-", f"{r['seconds']:.0f}", "; ".join(r["machines"])]
         for r in rows], markdown=markdown)


def smallest_holding_phrase(summaries: list[dict], held_out: list[dict], markdown: bool = True,
                            final: str | None = None) -> str:
    """The smallest recipe that holds in one view on every one of its seeds, 1-10 or more ("it" if `final`), else the
    closest: the fewest seeds missing, then the highest lowest epoch."""
    rows = [r for r in frontier_rows(summaries, held_out) if len(r["parts"]) > 1]  # those with held-out seeds too
    if not rows:
        return "No recipe has seeds 1-10 stored yet."
    r = next((r for r in rows if r["holds"]), min(rows, key=lambda r: (r["seeds"] - r["holding"], -r["worst_min"])))
    name = f"`{r['label']}` ({r['params']:,} parameters, lowest {r['worst_min']:.2f} %)"
    text = (("It" if r["label"] == final else f"**{name}**") + " is the smallest stored recipe that holds in one view "
            f"on every one of its {r['seeds']} seeds." if r["holds"] else "No recipe holds in one view on every one "
            f"of its seeds yet; the closest is {name}: {r['holding']} of {r['seeds']}.")
    return text if markdown else text.replace("**", "").replace("`", "")


def headline(histories: dict[str, History], summaries: list[dict], held_out: list[dict]) -> str:
    """The README's first numbers: the final step in one view on its seeds, the five-view reading beside it."""
    final = STEPS[max(STEPS)].name
    if not (r := next((r for r in frontier_rows(summaries, held_out) if r["label"] == final), None)):
        return f"No seeds of the final step ({final}) are stored yet: run `{seeds_command(max(STEPS))}`."
    margin, first, run = round((r["worst_min"] - TARGET) * 100), r["parts"][0], histories.get(final)  # margin: images
    unit = "image" + "s" * (abs(margin) != 1)
    return (f"**The final step, `{final}` ({r['params']:,} parameters), holds in one view on {r['holding']} of "
            f"{r['seeds']} seeds.** Its lowest epoch of 10-15 reads {r['worst_min']:.2f} %"
            + (f", a margin of {margin} test {unit}." if r["holds"] else f", {-margin} {unit} short of {TARGET} %.")
            + (f" Read in five views, it holds on {r['five_holding']} of {r['seeds']} (lowest "
               f"{r['five_worst_min']:.2f} %)." if r["five_holding"] is not None else "")
            + f" Seeds {first['seeds'][0]}-{first['seeds'][-1]} were made by `{first['command']}`"
            + (f"; `{first['remake']}` re-makes them today." if first["remake"] else ".")
            + "".join(f" Seeds {p['seeds'][0]}-{p['seeds'][-1]} add `--first-seed {p['seeds'][0]}`."
                      for p in r["parts"][1:])
            + " " + smallest_holding_phrase(summaries, held_out, final=final)
            + (f" One run of the final step (`make run`) took {run.total_seconds / 60:.1f} minutes in its notebook, on "
               f"{machine_label(run.machine)}." if run else "") + " Every table is in [RESULTS.md](RESULTS.md).")


def render(histories: dict[str, History], summaries: list[dict], held_out: list[dict], block: str) -> str:
    """RESULTS.md, one paragraph a string: the headline (`block`), the steps, the frontier, every recipe's seeds, the
    benchmarks; and the two figures."""
    if not histories:
        raise ReportError(f"no step results in {layout.display(layout.RESULTS_DIR)}; run `make notebooks` first")

    def figure(fig, name: str, alt: str) -> str:  # rendered in memory, written in one rename
        fig.savefig(buffer := io.BytesIO(), format="png", dpi=110, bbox_inches="tight")
        plt.close(fig)
        return f"![{alt}]({layout.display(atomic_write_bytes(layout.figure_path(name), buffer.getvalue()))})"

    by_name, rows = {s["name"]: s for s in summaries}, frontier_rows(summaries, held_out)
    spread = {n: s for n, s in by_name.items() if n in histories}
    out = ["# Results", "Generated by `python -m mnist_drill report` from `results/`; do not edit by hand. One "
           "view, five views, *holds* and margin are defined in the [README](README.md).",
           block, "## The steps", "Each step's notebook run (seed 1, "
           "`results/<step>.json`) and its seeds 1-5 where stored (`results/seeds/<step>/`):",
           steps_table(histories, markdown=True, summaries=by_name),
           figure(plots.plot_compare(histories, spread=spread), "steps", plots.STEPS_TITLE)]
    if rows:
        out += ["## The frontier", "Every recipe with seeds stored on the test set, one view, smallest first; its "
                "seeds 1-5 and its held-out seeds (6-10, and any later five; run after every choice was made) make one "
                "row. Multiply-adds: one image's pass through the convs. Seconds per run: the mean of its stored runs, "
                "comparable only between rows made on the same machine (fingerprint in brackets; threads count: "
                "`--jobs` runs take one each). Recipes no longer stored are in [EXPERIMENTS.md](EXPERIMENTS.md).",
                format_frontier(rows),
                figure(plots.plot_frontier(rows), "frontier", plots.FRONTIER_TITLE), "## Seeds",
                f"Per epoch, in one view; `<` marks an epoch some seed reads below {TARGET} %."]
    order = [c.name for _, _, c in cited_seed_configs()]
    for r in sorted(rows, key=lambda r: order.index(r["label"])):
        out += [f"### `{r['label']}`"] + [  # seeds 1-5, then the held-out sets
            f"Seeds {s['seeds'][0]}-{s['seeds'][-1]}{' (held out)' * s['held_out']}, made by `{s['command']}`"
            + (f"; `{s['remake']}` re-makes them today" if s["remake"] else "") + f" (`{s['path']}`):\n\n```\n"
            f"{format_seeds_table(s)}\n```" for s in r["parts"]]
    return "\n\n".join(out + benchmark_sections()) + "\n"


def result_line(history: History, summary: dict | None) -> str:
    """A notebook's Result: its stored run and its step's seeds (where stored), in one view, then five where read."""
    (best, best_epoch), five, s = history.best(), history.five_views, summary
    line = (f"**Result** (test accuracy, one view). {history.params:,} parameters · best train accuracy "
            f"{max(history.column('train_acc')):.2f} % · best test {best:.2f} % (epoch {best_epoch}) · last epoch "
            f"{history.one_view[-1]:.2f} % · {held_phrase(history.one_view)}"
            + (f" · five views (test-time augmentation): last epoch {five[-1]:.2f} %, "
               f"{held_phrase(five)}" if five else "")
            + f" · {history.seconds_per_epoch:.1f} s per epoch (this notebook's run: seed 1, on "
            f"{machine_label(history.machine)})")
    if s:
        line += (f". Over seeds {s['seeds'][0]}-{s['seeds'][-1]} (`{s['command']}`), one view: "
                 f"{s['seeds_holding']} of {len(s['seeds'])} seeds hold in every epoch 10-15; the worst seed's lowest "
                 f"accuracy there is {s['worst_seed_min_last_epochs']:.2f} %; mean of the last epoch "
                 f"{s['last_epoch_mean']:.2f} %"
                 + (f"; five views (test-time augmentation): {s['five_views']['seeds_holding']} of {len(s['seeds'])} "
                    f"hold, lowest {s['five_views']['worst_seed_min_last_epochs']:.2f} %" if "five_views" in s else ""))
    return line + "."


def write_report(readme: Path = PROJECT_ROOT / "README.md", notebooks: Path = PROJECT_ROOT / "notebooks",
                 results_md: Path | None = None) -> str:
    """Write RESULTS.md, the README's headline block and the notebooks' Result lines; return RESULTS.md's text."""
    def replace(path: Path, text: str, start: str, end: str, block: str) -> str:  # `block` between the markers
        if start not in text or end not in text:
            raise ReportError(f"{layout.display(path)} has no {start} ... {end} block; add the markers where it goes")
        return text.split(start, 1)[0] + start + block + end + text.split(start, 1)[1].split(end, 1)[1]

    readme_text = readme.read_text()
    replace(readme, readme_text, START, END, "")  # no markers: fail before writing anything
    histories, summaries, held_out = load_step_histories(), load_seed_summaries(), load_seed_summaries(held_out=True)
    block = headline(histories, summaries, held_out)
    body = render(histories, summaries, held_out, block)
    atomic_write_bytes(results_md := results_md or readme.with_name("RESULTS.md"), body.encode())
    atomic_write_bytes(readme, replace(readme, readme_text, START, END, f"\n{block}\n").encode())
    by_name = {s["name"]: s for s in summaries}
    for name, history in histories.items():  # each Result line, JSON-escaped into its notebook's own text
        line = json.dumps(result_line(history, by_name.get(name)), ensure_ascii=False)[1:-1]
        if (path := notebooks / f"{name}.ipynb").is_file() and (
                new := replace(path, text := path.read_text(), RESULT_START, RESULT_END, line)) != text:
            atomic_write_bytes(path, new.encode())
    print(f"{layout.display(results_md)} written; the README's headline: {block}")
    return body
