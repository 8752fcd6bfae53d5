"""Where every run's results live: one function from a run's identity to its path.

This is the only module that knows the results folder. Cited runs (a step's notebook run, the seeds
and sweeps the README names) and scratch runs (anything that differs from what a step defines) live
in separate places, so a scratch run can never overwrite a cited one.
"""

from __future__ import annotations

from pathlib import Path

from ..paths import PROJECT_ROOT, env_flag, env_path

RESULTS_DIR = env_path("MNIST_DRILL_RESULTS", PROJECT_ROOT / "results")  # blank counts as unset

# kind of run -> what it is
KINDS = {
    "notebook": "a step's full run, made by its notebook (results/<name>.json)",
    "seeds": "one seed of `seeds` on a step or variant exactly as defined (results/[val/]seeds/<name>/)",
    "held-out": "one of seeds 6-10 of a step as defined, run after every choice was made (results/held-out/<name>/)",
    "sweep": "one seed of one candidate of a named sweep, validation split (results/val/sweeps/<sweep>/)",
    "scratch": "anything else: `train`, and runs with overrides (results/runs/)",
}


CITE_ENV = "MNIST_DRILL_CITE"  # set by `make notebooks` alone: a full run replaces its cited results/<step>.json


def notebook_run_path(name: str) -> Path:
    """Where a notebook saves its full run: the cited results/<name>.json only when MNIST_DRILL_CITE is set (`make
    notebooks` sets it); a notebook run by hand (Jupyter's Run all, nbconvert) writes the scratch
    results/runs/<name>_notebook.json, which git ignores, so it never touches a cited result."""
    if env_flag(CITE_ENV):
        return run_path("notebook", name)
    return RESULTS_DIR / "runs" / f"{name}_notebook.json"


def results_dir() -> Path:
    return RESULTS_DIR


def device_dir() -> Path:
    """Runs made on a lent GPU by tools/device_run.sh keep the same layout in a results folder of their own, so they
    never mix with this machine's: results/device/runs/ (the final step's full run), results/device/val/sweeps/."""
    return RESULTS_DIR / "device"


def run_path(kind: str, name: str, *, split: str = "test", seed: int | None = None, sweep: str = "",
             tag: str = "") -> Path:
    """The JSON path of one run.

    kind: one of KINDS; name: the config's name (step name, or "<step>_<variant>"), or a sweep
    candidate's label for kind "sweep"; tag: what makes a scratch run differ from its step, if anything.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown kind of run {kind!r}; use one of {sorted(KINDS)}")
    if kind == "notebook":
        if split != "test":
            raise ValueError("a notebook's run is on the test split; validation runs belong to a sweep")
        return RESULTS_DIR / f"{name}.json"
    if seed is None:
        raise ValueError(f"a {kind} run needs its seed")
    if kind in ("seeds", "held-out"):
        return seeds_dir(name, split, held_out=kind == "held-out") / f"seed{seed}.json"
    if kind == "sweep":
        if not sweep:
            raise ValueError("a sweep run needs the sweep's name")
        return sweep_dir(sweep) / slug(name) / f"seed{seed}.json"
    stem = f"{name}_seed{seed}" + (f"_{slug(tag)}" if tag else "")
    return RESULTS_DIR / "runs" / ("val" if split == "val" else "") / f"{stem}.json"


def seeds_dir(name: str, split: str = "test", tag: str = "", held_out: bool = False) -> Path:
    """The folder of a seeds command: cited when `tag` is empty, scratch (results/runs/seeds/) otherwise.

    held_out: the step's held-out seeds (6-10), which no choice was made on, instead of seeds 1-5.
    """
    if tag:
        return RESULTS_DIR / "runs" / "seeds" / ("val" if split == "val" else "") / f"{name}_{slug(tag)}"
    return RESULTS_DIR / ("val" if split == "val" else "") / ("held-out" if held_out else "seeds") / name


def sweep_dir(sweep: str, tag: str = "", device: bool = False) -> Path:
    """A sweep's folder: cited, scratch when `tag` is set, or the cited one of its GPU runs when `device`."""
    if tag:
        return RESULTS_DIR / "runs" / "sweeps" / f"{sweep}_{slug(tag)}"
    return (device_dir() if device else RESULTS_DIR) / "val" / "sweeps" / sweep


def summary_path(folder: Path) -> Path:
    """The summary beside the runs of a seeds folder or a sweep folder."""
    return folder / "summary.json"


def benchmark_path(name: str = "benchmark") -> Path:
    """A benchmark's result: `make bench` writes benchmark.json; benchmarks/average.py benchmark_average.json."""
    return RESULTS_DIR / f"{name}.json"


def figure_path(name: str) -> Path:
    return RESULTS_DIR / f"{name}.png"


def display(path: Path) -> str:
    """A path as a reader should see it: relative to the project root when it lies inside it."""
    try:
        return Path(path).resolve().relative_to(PROJECT_ROOT).as_posix()
    except ValueError:
        return str(path)


def slug(label: str) -> str:
    """A label as a file name: letters and digits kept, everything else an underscore."""
    return "".join(c if c.isalnum() else "_" for c in label).strip("_")
