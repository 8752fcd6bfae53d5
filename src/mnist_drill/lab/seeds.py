"""Several seeds of one config, one after another: the summary that backs a consistency claim."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from ..config import Config
from ..fileio import write_json
from .layout import display, summary_path
from .parallel import Run, run_all
from .provenance import command_line
from ..train import History
from .results import format_seeds_table, load_history, summarize_seeds


def run_seeds(config: Config, seeds: list[int], folder: Path | None, *, identity: dict | None = None,
              device=None, log=print, jobs: int = 1) -> tuple[list[History], dict]:
    """Train `config` once per seed, `jobs` at a time; save every History and the summary into `folder` (None: save
    nothing).

    identity: what the summary records about the run besides the numbers (step, variant, overrides); the
    exact command is added to it.
    """
    runs = [Run(f"seed {seed}", replace(config, seed=seed), folder / f"seed{seed}.json" if folder is not None else None)
            for seed in seeds]
    done = run_all(runs, jobs, device=device, command=command_line(), log=log)
    histories = sorted(done.values(), key=lambda h: h.seed)
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
    return [load_history(p) for p in paths]
