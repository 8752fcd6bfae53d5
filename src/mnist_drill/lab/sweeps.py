"""Sweeps: candidates, several seeds each, on the validation split, ranked by the worst seed's minimum over the window
(never a mean: a recipe must hold with a margin to hold on seeds nobody has tried). A sweep is data: its sweep.json
names the question and candidates (overrides of a step or variant, or a config frozen when it ran), and each run
beside it keeps its whole config, so an old round re-runs (`train --from`) after its options have left the code."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from ..config import STEPS, Config
from ..errors import ReportError
from ..fileio import write_json
from ..train import TARGET, History, holds, window_label
from .layout import display, slug, summary_path, sweep_dir
from .parallel import Run, run_all
from .provenance import command_line
from .recipes import stored_config, variant
from .results import format_table, load_history, reading, window_stats
from .seeds import seed_paths


def definition(name: str) -> dict:
    """The sweep's `sweep.json`: {"sweep", "question", "base": {"step", "variant"}?, "candidates": {label: {...}}}."""
    path = sweep_dir(name) / "sweep.json"
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise ValueError(f"no sweep named {name!r}: {display(path)} is missing; write its candidates there "
                         '({"question": ..., "base": {"step": 5}, "candidates": {"label": {"overrides": {...}}}})'
                         ) from None
    except ValueError as e:
        raise ValueError(f"{display(path)} is not valid JSON ({e}); fix or re-create it") from None


def candidates(name: str, overrides: dict | None = None) -> dict[str, Config]:
    """The candidates' configs by label, on the validation split, with `overrides` on each; a frozen config is read
    back as it ran (recipes.stored_config)."""
    spec = definition(name)
    base, configs = spec.get("base", {}), {}
    for label, candidate in spec["candidates"].items():
        if "config" in candidate:  # the base is read only for a candidate made of overrides: it may be gone
            config = stored_config({**candidate["config"], "seed": 1})
        else:
            step = base.get("step", max(STEPS))
            config = replace(variant(step, base["variant"]) if base.get("variant") else STEPS[step],
                             name=f"{name}: {label}", split="val", **candidate.get("overrides", {}))
        configs[label] = replace(config, **(overrides or {}))
    return configs


def run_sweep(name: str, seeds: list[int], folder: Path | None, *, overrides: dict | None = None,
              only: list[str] | None = None, smoke=None, device=None, log=print, jobs: int = 1,
              until_fail: bool = False) -> dict[str, list[History]]:
    """Train every candidate (or those in `only`) with every seed, seed by seed, `jobs` at a time (smoke: applied to
    each config); save each run and the table of every stored run of the sweep in `folder` (None: save nothing), and
    return those runs. until_fail: a candidate that misses the target in the window starts no further seed."""
    configs = candidates(name, overrides)
    if unknown := sorted(set(only or []) - set(configs)):
        raise ValueError(f"sweep {name!r} has no candidate {unknown}; it has {list(configs)}")
    todo = [(label, seed) for seed in seeds for label in configs if not only or label in only]  # seed by seed
    label_of = {f"{label}, seed {seed}": label for label, seed in todo}
    queue = [Run(f"{label}, seed {seed}", smoke(config) if smoke else config,
                 folder / slug(label) / f"seed{seed}.json" if folder else None)
             for label, seed in todo for config in [replace(configs[label], seed=seed)]]

    def drop(run: Run, history: History) -> list[str]:  # until_fail: the candidate's further seeds
        if not until_fail or holds(reading(history)[1]):
            return []
        log(f"[{run.tag}] misses {TARGET} % in epochs {window_label(len(history.epochs))}: no further seed of it")
        return [tag for tag, label in label_of.items() if label == label_of[run.tag]]

    done = run_all(queue, jobs, device=device, command=command_line(), log=log, drop=drop)
    if folder is not None:
        return write_table(name, folder, overrides, log=log)  # running more adds to it
    runs = {label: hs for label in configs
            if (hs := sorted((h for tag, h in done.items() if label_of[tag] == label), key=lambda h: h.seed))}
    log(format_sweep_table(sweep_rows(runs)))
    return runs


def write_table(name: str, folder: Path | None = None, overrides: dict | None = None,
                log=print) -> dict[str, list[History]]:
    """Table every stored run of sweep `name` (by candidate, seeds in order) and save it as the summary; trains
    nothing. Returns the runs."""
    folder, spec = folder or sweep_dir(name), definition(name)
    runs = {label: [load_history(p) for p in ps] for label in spec["candidates"]
            if (ps := seed_paths(folder / slug(label)))}
    if not runs:
        raise ReportError(f"no stored runs of sweep {name!r} in {display(folder)}; "
                          f"run `python -m mnist_drill sweep {name}` first")
    log(format_sweep_table(rows := sweep_rows(runs)))
    summary = {"sweep": name, "question": spec.get("question", ""), "overrides": overrides or {}, "rows": rows,
               "table_command": command_line(), "run_commands": sorted({h.command for hs in runs.values() for h in hs}),
               "commits": sorted({h.commit for hs in runs.values() for h in hs})}
    log(f"Summary saved to {display(write_json(summary_path(folder), summary))}")
    return runs


def sweep_rows(runs: dict[str, list[History]]) -> list[dict]:
    """One row per candidate, best first by the worst seed's minimum over the window (in one view; in five views,
    labelled so, for a candidate stored before its one view was recorded)."""
    rows = []
    for label, histories in runs.items():
        views = [reading(h) for h in histories]
        stats = window_stats([accs for _, accs in views])
        rows.append({"label": label, "params": histories[0].params, "seeds": [h.seed for h in histories],
                     "seconds_per_epoch": sum(h.seconds_per_epoch for h in histories) / len(histories),
                     "worst_min": stats["worst_seed_min_last_epochs"], "mean": stats["mean_last_epochs"],
                     "reading": "five views" if any(view == "five views" for view, _ in views) else "one view",
                     "seeds_holding": stats["seeds_holding"], "window": window_label(len(histories[0].epochs))})
    return sorted(rows, key=lambda r: (-r["worst_min"], r["params"]))


def format_sweep_table(rows: list[dict]) -> str:
    if not rows:
        return "(no runs)"
    w = rows[0]["window"]
    return format_table(["candidate", "params", "s/epoch", f"worst min {w}", f"mean {w}", f"seeds >= {TARGET}"],
                        [[r["label"] + (" [five views]" if r.get("reading") == "five views" else ""),
                          f"{r['params']:,}", f"{r['seconds_per_epoch']:.1f}", f"{r['worst_min']:.2f}",
                          f"{r['mean']:.2f}", f"{r['seeds_holding']} of {len(r['seeds'])}"] for r in rows])
