"""Many runs, one after another: several seeds of one config (the summary that backs a consistency
claim), or several variants of one step on the validation split (the sweeps that chose a recipe).
"""

from __future__ import annotations

import json
from dataclasses import replace

from tqdm.auto import tqdm

from .config import Config
from .engine import fit
from .paths import RESULTS_DIR
from .results import History, first_consistent_epoch, format_seeds_table, summarize_seeds, write_json


def seeds_dir(config: Config):
    base = RESULTS_DIR / "val" if config.split == "val" else RESULTS_DIR
    return base / "seeds" / config.name


def run_seeds(config: Config, seeds: list[int], *, device=None, save: bool = True, progress: bool = True,
              log=print) -> tuple[list[History], dict]:
    """Train `config` once per seed; save every History and the summary; print the summary table."""
    folder = seeds_dir(config)
    histories = []
    bar = tqdm(seeds, desc=f"{config.name} seeds", disable=not progress)
    for seed in bar:
        bar.set_postfix(seed=seed)
        log(f"--- seed {seed} ---")
        history = fit(replace(config, seed=seed), device=device, progress=False, log=log,
                      save_to=folder / f"seed{seed}.json" if save else None)
        history.model = None  # keep memory flat over many seeds
        histories.append(history)
    summary = summarize_seeds(histories)
    log(format_seeds_table(summary))
    if save:
        write_json(folder / "summary.json", summary)
        log(f"Summary saved to {folder / 'summary.json'}")
    return histories, summary


def load_seeds(config: Config) -> list[History]:
    folder = seeds_dir(config)
    return [History.load(p) for p in sorted(folder.glob("seed*.json"), key=lambda p: int(p.stem[4:]))]


def sweep_dir(config: Config):
    return RESULTS_DIR / "val" / "sweeps" / config.name


def run_sweep(config: Config, variants: dict[str, dict], *, device=None, save: bool = True,
              progress: bool = True, log=print) -> dict[str, History]:
    """Train each variant (config plus its overrides) on the validation split; print and save a table."""
    base = replace(config, split="val")
    histories = {}
    bar = tqdm(variants.items(), desc=f"{config.name} sweep", total=len(variants), disable=not progress)
    for label, overrides in bar:
        log(f"--- {label}: {overrides} ---")
        history = fit(replace(base, **overrides), device=device, progress=False, log=log,
                      save_to=sweep_dir(config) / f"{_slug(label)}.json" if save else None)
        history.model = None
        histories[label] = history
    log(format_sweep_table(histories))
    return histories


def load_sweep(config: Config, variants: dict[str, dict]) -> dict[str, History]:
    """The stored sweep runs of `variants`, by label; raises FileNotFoundError naming the command to run."""
    folder = sweep_dir(config)
    missing = [label for label in variants if not (folder / f"{_slug(label)}.json").is_file()]
    if missing:
        raise FileNotFoundError(f"no stored sweep runs {missing} in {folder}; "
                                f"run `python -m mnist_drill sweep --step N` for {config.name} first")
    return {label: History.load(folder / f"{_slug(label)}.json") for label in variants}


def format_sweep_table(histories: dict[str, History], last: int = 6) -> str:
    """Per variant: params, min and mean validation accuracy over the last epochs, when it held, s/epoch."""
    width = max(len("variant"), *(len(label) for label in histories))
    lines = [f"{'variant':<{width}} {'params':>7} {f'min last {last}':>11} {f'mean last {last}':>12} "
             f"{'last':>6} {'held >= 99.4 from':>17} {'s/epoch':>7}"]
    for label, h in histories.items():
        tail = h.test_acc[-last:]
        first = first_consistent_epoch(h)
        lines.append(f"{label:<{width}} {h.params:>7,} {min(tail):>11.2f} {sum(tail) / len(tail):>12.2f} "
                     f"{tail[-1]:>6.2f} {first if first else '-':>17} {h.seconds_per_epoch:>7.1f}")
    return "\n".join(lines)


def _slug(label: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in label).strip("_")


def format_exploration_table(path=None) -> str:
    """The exploration runs (results/val/exploration.json) grouped by label: seeds, params, and the worst
    and mean validation accuracy over epochs 10-15, averaged over the label's seeds."""
    path = path or RESULTS_DIR / "val" / "exploration.json"
    groups: dict[str, list[dict]] = {}
    for run in json.loads(path.read_text())["runs"]:
        groups.setdefault(run["label"], []).append(run)
    width = max(len("label"), *(len(label) for label in groups))
    lines = [f"{'label':<{width}} {'seeds':<9} {'params':>7} {'min 10-15':>9} {'mean 10-15':>10}"]
    for label, runs in groups.items():
        seeds = ",".join(str(r["seed"]) for r in runs)
        worst = min(r["min_epochs_10_15"] for r in runs)
        mean = sum(r["mean_epochs_10_15"] for r in runs) / len(runs)
        lines.append(f"{label:<{width}} {seeds:<9} {runs[0]['params']:>7,} {worst:>9.2f} {mean:>10.2f}")
    return "\n".join(lines)
