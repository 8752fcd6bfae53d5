"""Sweeps: several candidate recipes, several seeds each, on the validation split, ranked by the worst seed.

A sweep is data, not code: `sweep.json` in its folder (results/val/sweeps/<name>/) names its question and each
candidate, as overrides of a step (or of a step's variant) or as a whole config frozen when it ran. Every run beside
it keeps its own complete config, so an old round can be read and re-run (`train --from <run>.json`) long after
its options left the live code; EXPERIMENTS.md tells what each round found.

Candidates are ranked by the worst seed's minimum over epochs 10-15, never by a mean: a recipe that holds on the
seeds it was chosen on must hold with a margin to hold on seeds nobody has tried.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from ..config import STEPS, Config
from ..fileio import write_json
from .layout import display, slug, summary_path, sweep_dir
from .parallel import Run, run_all
from .provenance import command_line
from ..train import TARGET, History, holds, in_window, window_label
from .recipes import stored_config, variant
from .results import format_table, load_history


def definition(name: str, folder: Path | None = None) -> dict:
    """The sweep's `sweep.json`: {"sweep", "question", "base": {"step", "variant"}?, "candidates": {label: {...}}}."""
    path = (folder or sweep_dir(name)) / "sweep.json"
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise ValueError(f"no sweep named {name!r}: {display(path)} is missing; write its candidates there "
                         '({"question": ..., "base": {"step": 5}, "candidates": {"label": {"overrides": {...}}}})'
                         ) from None
    except ValueError as e:
        raise ValueError(f"{display(path)} is not valid JSON ({e}); fix or re-create it") from None


def candidates(name: str, overrides: dict | None = None, folder: Path | None = None) -> dict[str, Config]:
    """The configs of sweep `name` by label, on the validation split, plus `overrides` on each. A candidate whose
    whole config was frozen when it ran is read back as it was (recipes.stored_config names any option removed since)."""
    spec = definition(name, folder)
    configs = {}
    for label, candidate in spec["candidates"].items():
        if "config" in candidate:
            config = stored_config({**candidate["config"], "seed": 1})
        else:
            base = spec.get("base", {})
            step = base.get("step", max(STEPS))
            config = variant(step, base["variant"]) if base.get("variant") else STEPS[step]
            config = replace(config, name=f"{name}: {label}", split="val", **candidate.get("overrides", {}))
        configs[label] = replace(config, **(overrides or {}))
    return configs


def run_sweep(name: str, seeds: list[int], folder: Path | None, *, overrides: dict | None = None,
              only: list[str] | None = None, smoke=None, device=None, log=print, spec_folder: Path | None = None,
              jobs: int = 1, until_fail: bool = False) -> dict[str, list[History]]:
    """Train every candidate (or those labelled in `only`) with every seed, `jobs` runs at a time; save each run and
    the summary table of every stored run of the sweep into `folder` (None: save nothing).

    The runs go seed by seed: every candidate's seed 1, then every candidate's seed 2, and so on. until_fail: a
    candidate whose run misses the target somewhere in the window starts no further seed (only "holds on every seed"
    matters then); the runs it had already started still finish and are stored.
    smoke: a function applied to each candidate's config (a smoke run), or None.
    spec_folder: where the sweep's sweep.json is (default: its cited folder, results/val/sweeps/<name>/).
    """
    spec_folder = spec_folder or sweep_dir(name)
    configs = candidates(name, overrides, spec_folder)
    unknown = sorted(set(only or []) - set(configs))
    if unknown:
        raise ValueError(f"sweep {name!r} has no candidate {unknown}; it has {list(configs)}")
    configs = {label: c for label, c in configs.items() if not only or label in only}
    queue, label_of = [], {}
    for seed in seeds:
        for label, config in configs.items():
            config = replace(config, seed=seed)
            run = Run(f"{label}, seed {seed}", smoke(config) if smoke else config,
                      folder / slug(label) / f"seed{seed}.json" if folder is not None else None)
            queue.append(run)
            label_of[run.tag] = label

    def drop(run: Run, history: History) -> list[str]:
        if not until_fail or holds(readings(history)):
            return []
        log(f"[{run.tag}] misses {TARGET} % in epochs {window_label(len(history.epochs))}: no further seed of it")
        return [tag for tag, label in label_of.items() if label == label_of[run.tag]]

    done = run_all(queue, jobs, device=device, command=command_line(), log=log, drop=drop)
    runs: dict[str, list[History]] = {label: [] for label in configs}
    for tag, history in done.items():
        runs[label_of[tag]].append(history)
    if folder is None:
        log(format_sweep_table(sweep_rows({k: sorted(v, key=lambda h: h.seed) for k, v in runs.items() if v})))
        return runs
    return write_table(name, folder, overrides, log=log, spec_folder=spec_folder)  # running more adds to it


def write_table(name: str, folder: Path | None = None, overrides: dict | None = None, log=print,
                spec_folder: Path | None = None):
    """Print the table of every stored run of sweep `name` and save it as the sweep's summary; trains nothing."""
    folder = folder or sweep_dir(name)
    spec_folder = spec_folder or sweep_dir(name)
    runs = load_sweep(name, folder, spec_folder)
    rows = sweep_rows(runs)
    log(format_sweep_table(rows))
    summary = {"sweep": name, "question": definition(name, spec_folder).get("question", ""),
               "overrides": overrides or {}, "rows": rows, "table_command": command_line(),
               "run_commands": sorted({h.command for hs in runs.values() for h in hs}),
               "commits": sorted({h.commit for hs in runs.values() for h in hs})}
    log(f"Summary saved to {display(write_json(summary_path(folder), summary))}")
    return runs


def load_sweep(name: str, folder: Path | None = None, spec_folder: Path | None = None) -> dict[str, list[History]]:
    """The stored runs of sweep `name`, by candidate label (in the definition's order), each with its seeds in order."""
    folder = folder or sweep_dir(name)
    runs = {}
    for label in definition(name, spec_folder or folder)["candidates"]:
        paths = sorted((folder / slug(label)).glob("seed*.json"), key=lambda p: int(p.stem[4:]))
        if paths:
            runs[label] = [load_history(p) for p in paths]
    if not runs:
        raise FileNotFoundError(f"no stored runs of sweep {name!r} in {display(folder)}; "
                                f"run `python -m mnist_drill sweep {name}` first")
    return runs


def readings(history: History) -> list[float]:
    """A run's one-view accuracy per epoch; five views only for a run made before the one-view count was stored."""
    return history.one_view if all("eval_acc" in e for e in history.epochs) else history.five_views


def sweep_rows(runs: dict[str, list[History]]) -> list[dict]:
    """One row per candidate, best first: the worst seed's one-view minimum over the window decides the order (a
    candidate read in five views before the one-view count was stored is ranked, and labelled, by five views)."""
    rows = []
    for label, histories in runs.items():
        accs = [in_window(readings(h)) for h in histories]
        mins = [min(a) for a in accs]
        means = [sum(a) / len(a) for a in accs]
        five = any(not all("eval_acc" in e for e in h.epochs) for h in histories)
        rows.append({"label": label, "params": histories[0].params, "seeds": [h.seed for h in histories],
                     "seconds_per_epoch": sum(h.seconds_per_epoch for h in histories) / len(histories),
                     "worst_min": min(mins), "mean": sum(means) / len(means), "reading": "five views" if five
                     else "one view", "seeds_holding": sum(m >= TARGET for m in mins),
                     "window": window_label(len(histories[0].epochs))})
    return sorted(rows, key=lambda r: (-r["worst_min"], r["params"]))


def format_sweep_table(rows: list[dict]) -> str:
    """The ranking: params, s/epoch, the worst seed's min over the window, the mean, seeds holding the target."""
    if not rows:
        return "(no runs)"
    window = rows[0]["window"]
    header = ["candidate", "params", "s/epoch", f"worst min {window}", f"mean {window}", f"seeds >= {TARGET}"]
    return format_table(header, [[r["label"] + (" [five views]" if r.get("reading") == "five views" else ""),
                                  f"{r['params']:,}", f"{r['seconds_per_epoch']:.1f}",
                                  f"{r['worst_min']:.2f}", f"{r['mean']:.2f}",
                                  f"{r['seeds_holding']} of {len(r['seeds'])}"] for r in rows])
