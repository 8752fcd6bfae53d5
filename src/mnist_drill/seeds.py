"""Several seeds of one config, one after another: the summary that backs a consistency claim."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from tqdm.auto import tqdm

from .config import Config
from .engine import fit
from .fileio import write_json
from .layout import display, summary_path
from .provenance import command_line
from .results import History, format_seeds_table, summarize_seeds


def run_seeds(config: Config, seeds: list[int], folder: Path | None, *, identity: dict | None = None,
              device=None, progress: bool = True, log=print) -> tuple[list[History], dict]:
    """Train `config` once per seed; save every History and the summary into `folder` (None: save nothing).

    identity: what the summary records about the run besides the numbers (step, variant, overrides); the
    exact command is added to it.
    """
    histories = []
    bar = tqdm(seeds, desc=f"{config.name} seeds", disable=not progress)
    for seed in bar:
        bar.set_postfix(seed=seed)
        log(f"--- seed {seed} ---")
        history = fit(replace(config, seed=seed), device=device, progress=False, log=log,
                      save_to=folder / f"seed{seed}.json" if folder is not None else None)
        history.model = None  # keep memory flat over many seeds
        histories.append(history)
    summary = {**summarize_seeds(histories), **(identity or {}), "command": command_line(),
               "commit": histories[0].commit, "code_dirty": histories[0].code_dirty}
    log(format_seeds_table(summary))
    if folder is not None:
        log(f"Summary saved to {display(write_json(summary_path(folder), summary))}")
    return histories, summary


def load_seeds(folder: Path) -> list[History]:
    """Every seed's History in a seeds folder, in seed order."""
    paths = sorted(Path(folder).glob("seed*.json"), key=lambda p: int(p.stem[4:]))
    if not paths:
        raise FileNotFoundError(f"no seed runs in {display(folder)}; run `python -m mnist_drill seeds` for it first")
    return [History.load(p) for p in paths]
