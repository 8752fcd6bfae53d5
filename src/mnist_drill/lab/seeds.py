"""Several seeds of one config: the summary that backs a consistency claim, and every cited recipe's stored seeds."""

import json
from dataclasses import replace
from pathlib import Path

from ..config import STEPS, Config
from ..errors import ReportError
from ..fileio import write_json
from ..train import History
from .layout import display, held_out_dirs, seeds_dir, summary_path
from .parallel import Run, run_all
from .provenance import command_line
from .recipes import PEERS, VARIANTS, variant
from .results import format_seeds_table, load_history, summarize_seeds
from .runs import check_writable


def run_seeds(config: Config, seeds: list[int], folder: Path | None, *, identity: dict | None = None,
              device=None, log=print, jobs: int | None = 1) -> tuple[list[History], dict]:
    """Train `config` once per seed, `jobs` at a time (None: one per core); save each History and the summary (with
    `identity`: step, variant, overrides; and the command) into `folder` (None: save nothing)."""
    if folder is not None:
        check_writable(summary_path(folder))  # fail now, not after the last run
        if summary_path(folder).exists():
            log(f"note: this run replaces the stored seeds in {display(folder)}")
    runs = [Run(f"seed {seed}", replace(config, seed=seed), folder / f"seed{seed}.json" if folder else None)
            for seed in seeds]
    histories = sorted(run_all(runs, jobs, device=device, command=command_line(), log=log).values(),
                       key=lambda h: h.seed)
    summary = {**summarize_seeds(histories), **(identity or {}), "command": command_line(),
               "commit": histories[0].commit, "code_dirty": histories[0].code_dirty}
    log(format_seeds_table(summary))
    if folder is not None:
        log(f"Summary saved to {display(write_json(summary_path(folder), summary))}")
    return histories, summary


def seed_paths(folder: Path) -> list[Path]:
    return sorted(Path(folder).glob("seed*.json"), key=lambda p: int(p.stem[4:]))


def load_seeds(folder: Path) -> list[History]:
    """Every seed's History in a folder, in seed order."""
    if not (paths := seed_paths(folder)):
        raise FileNotFoundError(f"no seed runs in {display(folder)}; run `python -m mnist_drill seeds` for it first")
    return [load_history(p) for p in paths]


def cited_seed_configs() -> list:
    """(step, variant name or "", config) of every step and its variants, in order: the recipes the report cites."""
    return [(n, v, variant(n, v) if v else c) for n, c in STEPS.items() for v in ["", *VARIANTS.get(n, {})]]


def seeds_command(step: int, variant_name: str = "") -> str:
    variant_flag = f" --variant {variant_name}" if variant_name else ""
    return f"python -m mnist_drill seeds --step {step}{variant_flag} --seeds 5"


def load_seed_summaries(held_out: bool = False) -> list[dict]:
    """Every cited recipe's stored seeds 1-5 (or its held-out sets: 6-10, 11-15, ...) summarised afresh, with the
    command that made them."""
    summaries = []
    for number, name, config in cited_seed_configs():
        for first, folder in (held_out_dirs(config.name) if held_out else {1: seeds_dir(config.name)}).items():
            if not (path := summary_path(folder)).is_file():
                continue
            command = seeds_command(number, name) + f" --first-seed {first}" * held_out
            try:
                assert "command" in (stored := json.loads(path.read_text())), "stored by an older version"
                summary = summarize_seeds(load_seeds(path.parent))
            except (AssertionError, OSError, ValueError) as e:
                raise ReportError(f"{display(path.parent)}: {e}; re-run `{command}`") from None
            made = stored["command"] + f"` at `{stored.get('commit', '')[:7]}" * ("commit" in stored)
            summaries.append({**summary, "name": config.name, "peer": PEERS.get(config.name), "held_out": held_out,
                              "command": made, "path": display(path),
                              "remake": command if stored["name"] != config.name else None})  # made as another name
    return summaries
