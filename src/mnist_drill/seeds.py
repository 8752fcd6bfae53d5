"""Several seeds of one config, one after another, and the summary that backs a consistency claim."""

from __future__ import annotations

from dataclasses import replace

from tqdm.auto import tqdm

from .config import Config
from .engine import fit
from .paths import RESULTS_DIR
from .results import History, format_seeds_table, summarize_seeds, write_json


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
