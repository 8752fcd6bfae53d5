"""Where results live; the only module that knows the results folder. Cited runs (a step's notebook run, the seeds
and sweeps the README names) and scratch runs lie apart, so a scratch run never overwrites a cited one."""

import re
from pathlib import Path

from ..paths import PROJECT_ROOT, env_flag, env_path

RESULTS_DIR = env_path("MNIST_DRILL_RESULTS", PROJECT_ROOT / "results")  # blank counts as unset
CITE_ENV = "MNIST_DRILL_CITE"  # set by `make notebooks` alone: a full run replaces its cited results/<step>.json
CITED_SEEDS, HELD_OUT_SEEDS = range(1, 6), range(6, 11)  # cited in the README; the first seeds no choice was made on


def run_path(kind: str, name: str, *, split: str = "test", seed: int | None = None, tag: str = "",
             rerun: bool = False) -> Path:
    """One run's JSON: kind "notebook" (a step's cited run, results/<name>.json) or "scratch" (results/runs/, with
    `tag` saying how it differs from its step; a `rerun` of a stored run is tagged so, its name slugged)."""
    if rerun:
        name, tag = slug(name), "_".join(t for t in ("rerun", tag) if t)
    if kind == "notebook" and split == "test":
        return RESULTS_DIR / f"{name}.json"
    if kind != "scratch" or seed is None:
        raise ValueError(f"no place for a {kind!r} run on the {split} split (seed {seed}): use notebook or scratch")
    stem = f"{name}_seed{seed}" + (f"_{slug(tag)}" if tag else "")
    return RESULTS_DIR / "runs" / ("val" if split == "val" else "") / f"{stem}.json"


def notebook_run_path(name: str) -> Path:
    """The cited results/<name>.json under `make notebooks` (CITE_ENV); else results/runs/<name>_notebook.json."""
    return run_path("notebook", name) if env_flag(CITE_ENV) else RESULTS_DIR / "runs" / f"{name}_notebook.json"


def seeds_dir(name: str, split: str = "test", tag: str = "", held_out: bool = False, *,
              seeds: range | None = None) -> Path:
    """A seeds command's folder: cited (seeds 1-5, or the held-out 6-10) when `tag` is empty, scratch otherwise.
    Given `seeds`, they decide: untagged, 6-10 and each later five (11-15, 16-20, ...) are held out, the later ones in
    a folder named by their range; any other range is scratch, named by it."""
    if seeds is not None:
        held_out = not tag and len(seeds) == 5 and seeds.start > 5 and seeds.start % 5 == 1
        if held_out and seeds != HELD_OUT_SEEDS:
            name = f"{name}_seeds-{seeds[0]}-{seeds[-1]}"
        elif not held_out and seeds != CITED_SEEDS:
            tag = "_".join(t for t in (tag, f"seeds-{seeds[0]}-{seeds[-1]}") if t)
    val = "val" if split == "val" else ""
    if tag:
        return RESULTS_DIR / "runs" / "seeds" / val / f"{name}_{slug(tag)}"
    return RESULTS_DIR / val / ("held-out" if held_out else "seeds") / name


def held_out_dirs(name: str) -> dict[int, Path]:
    """Every finished held-out set of a cited recipe on the test set (its summary written), by its first seed, in
    order: 6-10, then any later five (results/held-out/<name>_seeds-11-15, ...). seeds_dir names each one."""
    firsts = {HELD_OUT_SEEDS[0]} | {int(m[1]) for p in RESULTS_DIR.glob("held-out/*_seeds-*")
                                    if (m := re.search(r"_seeds-(\d+)-\d+$", p.name))}
    folders = {first: seeds_dir(name, seeds=range(first, first + 5)) for first in sorted(firsts)}
    return {first: p for first, p in folders.items() if p.parent.name == "held-out" and summary_path(p).is_file()}


def sweep_dir(sweep: str, tag: str = "") -> Path:
    """A sweep's folder: cited, or scratch when `tag` is set."""
    return RESULTS_DIR / "runs" / "sweeps" / f"{sweep}_{slug(tag)}" if tag else RESULTS_DIR / "val" / "sweeps" / sweep


def summary_path(folder: Path) -> Path:
    return folder / "summary.json"


def benchmark_path(name: str = "benchmark") -> Path:
    return RESULTS_DIR / f"{name}.json"


def figure_path(name: str) -> Path:
    return RESULTS_DIR / f"{name}.png"


def display(path: Path) -> str:
    """A path relative to the project root when it lies inside it."""
    try:
        return Path(path).resolve().relative_to(PROJECT_ROOT).as_posix()
    except ValueError:
        return str(path)


def slug(label: str) -> str:
    """A label as a file name: letters and digits kept, everything else an underscore."""
    return "".join(c if c.isalnum() else "_" for c in label).strip("_")
