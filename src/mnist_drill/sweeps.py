"""Sweeps: several candidates of one step, each with several seeds, on the validation split.

Candidates are ranked by the worst seed's minimum over epochs 10-15, never by a mean: a recipe that
holds on the seeds it was chosen on must hold with a margin to hold on seeds nobody has tried.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from tqdm.auto import tqdm

from .config import STEPS, SWEEPS, Config
from .engine import fit
from .fileio import write_json
from .layout import display, slug, summary_path, sweep_dir
from .provenance import command_line
from .results import TARGET, History

WINDOW = (10, 15)  # the epochs a candidate must hold the target in


def candidates(name: str, overrides: dict | None = None) -> dict[str, Config]:
    """The configs of sweep `name`, on the validation split, by label (plus `overrides` on each)."""
    if name not in SWEEPS:
        raise ValueError(f"no sweep named {name!r}; sweeps: {sorted(SWEEPS)}")
    sweep = SWEEPS[name]
    base = replace(sweep.base or STEPS[sweep.step], split="val")
    return {label: replace(base, name=f"{name}: {label}", **{**changes, **(overrides or {})})
            for label, changes in sweep.candidates.items()}


def run_sweep(name: str, seeds: list[int], folder: Path | None, *, overrides: dict | None = None,
              only: list[str] | None = None, smoke=None, device=None, progress: bool = True,
              log=print) -> dict[str, list[History]]:
    """Train every candidate (or those labelled in `only`) with every seed; save each run and the summary table
    of every stored run of the sweep into `folder` (None: save nothing).

    smoke: a function applied to each candidate's config (a smoke run), or None.
    """
    configs = candidates(name, overrides)
    unknown = sorted(set(only or []) - set(configs))
    if unknown:
        raise ValueError(f"sweep {name!r} has no candidate {unknown}; it has {list(configs)}")
    configs = {label: c for label, c in configs.items() if not only or label in only}
    runs: dict[str, list[History]] = {label: [] for label in configs}
    jobs = [(label, seed) for label in configs for seed in seeds]
    bar = tqdm(jobs, desc=f"sweep {name}", disable=not progress)
    for label, seed in bar:
        bar.set_postfix_str(f"{label}, seed {seed}")
        config = replace(configs[label], seed=seed)
        config = smoke(config) if smoke else config
        log(f"--- {label}, seed {seed}: {SWEEPS[name].candidates[label]} ---")
        history = fit(config, device=device, progress=False, log=log,
                      save_to=folder / slug(label) / f"seed{seed}.json" if folder is not None else None)
        history.model = None
        runs[label].append(history)
    if folder is None:
        log(format_sweep_table(sweep_rows(runs)))
        return runs
    return write_table(name, folder, overrides, log=log)  # every stored seed: running more later adds to it


def write_table(name: str, folder: Path | None = None, overrides: dict | None = None, log=print):
    """Print the table of every stored run of sweep `name` and save it as the sweep's summary; trains nothing."""
    folder = folder or sweep_dir(name)
    runs = load_sweep(name, folder)
    rows = sweep_rows(runs)
    log(format_sweep_table(rows))
    summary = {"sweep": name, "step": SWEEPS[name].step, "question": SWEEPS[name].question,
               "overrides": overrides or {}, "rows": rows, "table_command": command_line(),
               "run_commands": sorted({h.command for hs in runs.values() for h in hs}),
               "commits": sorted({h.commit for hs in runs.values() for h in hs})}
    log(f"Summary saved to {display(write_json(summary_path(folder), summary))}")
    return runs


def load_sweep(name: str, folder: Path | None = None) -> dict[str, list[History]]:
    """The stored runs of sweep `name`, by candidate label, each with its seeds in order."""
    folder = folder or sweep_dir(name)
    runs = {}
    for label in SWEEPS[name].candidates:
        paths = sorted((folder / slug(label)).glob("seed*.json"), key=lambda p: int(p.stem[4:]))
        if paths:
            runs[label] = [History.load(p) for p in paths]
    if not runs:
        raise FileNotFoundError(f"no stored runs of sweep {name!r} in {display(folder)}; "
                                f"run `python -m mnist_drill sweep {name}` first")
    return runs


def window_accs(history: History, window: tuple[int, int] = WINDOW) -> list[float]:
    """The evaluation accuracies of epochs window[0]..window[1] (fewer epochs: the last ones there are)."""
    accs = [e["eval_acc"] for e in history.epochs if window[0] <= e["epoch"] <= window[1]]
    return accs or history.eval_acc[-1:]


def sweep_rows(runs: dict[str, list[History]], window: tuple[int, int] = WINDOW) -> list[dict]:
    """One row per candidate, best first: the worst seed's minimum over the window decides the order."""
    rows = []
    for label, histories in runs.items():
        mins = [min(window_accs(h, window)) for h in histories]
        means = [sum(window_accs(h, window)) / len(window_accs(h, window)) for h in histories]
        rows.append({"label": label, "params": histories[0].params, "seeds": [h.seed for h in histories],
                     "seconds_per_epoch": sum(h.seconds_per_epoch for h in histories) / len(histories),
                     "worst_min": min(mins), "mean": sum(means) / len(means),
                     "seeds_holding": sum(m >= TARGET for m in mins), "window": list(window)})
    return sorted(rows, key=lambda r: (-r["worst_min"], r["params"]))


def format_sweep_table(rows: list[dict]) -> str:
    """The ranking: params, s/epoch, the worst seed's min over the window, the mean, seeds holding the target."""
    if not rows:
        return "(no runs)"
    lo, hi = rows[0]["window"]
    width = max(len("candidate"), *(len(r["label"]) for r in rows))
    lines = [f"{'candidate':<{width}} {'params':>7} {'s/epoch':>7} {f'worst min {lo}-{hi}':>15} "
             f"{f'mean {lo}-{hi}':>10} {f'seeds >= {TARGET}':>12}"]
    for r in rows:
        lines.append(f"{r['label']:<{width}} {r['params']:>7,} {r['seconds_per_epoch']:>7.1f} {r['worst_min']:>15.2f} "
                     f"{r['mean']:>10.2f} {r['seeds_holding']:>5} of {len(r['seeds']):<4}")
    return "\n".join(lines)


EVAL_ONLY = ("bn_refresh", "tta_shift")  # fields that change how the weights are read, never the training


def twin(name: str, label: str) -> tuple[str, str] | None:
    """The (sweep, label) of a candidate that trains exactly as candidate `label` of sweep `name` does and differs
    only in the fields of EVAL_ONLY (each of its runs is then the twin of the run with the same seed), or None."""
    config = candidates(name)[label]
    trained = replace(config, name="", **{field: getattr(Config(), field) for field in EVAL_ONLY})
    if trained == replace(config, name=""):
        return None  # it reads its weights as everyone does: nothing to pair with
    for other in SWEEPS:
        for other_label, other_config in candidates(other).items():
            if replace(other_config, name="") == trained:
                return other, other_label
    return None


def paired_rows(name: str, folder_of=sweep_dir) -> list[dict]:
    """For every candidate of sweep `name` with a twin (see `twin`): the seeds both ran, whether every train loss
    is the same (training untouched), and the worst seed's minimum and the mean over the window for both.

    folder_of: sweep name -> the folder of its stored runs (default: the cited ones).
    """
    runs = load_sweep(name, folder_of(name))
    rows = []
    for label, histories in runs.items():
        found = twin(name, label)
        if found is None:
            continue
        other, other_label = found
        try:
            twins = {h.seed: h for h in load_sweep(other, folder_of(other))[other_label]}
        except (FileNotFoundError, KeyError):
            continue
        pairs = [(h, twins[h.seed]) for h in histories if h.seed in twins]
        if not pairs:
            continue
        mins = [(min(window_accs(b)), min(window_accs(a))) for a, b in pairs]
        means = [(sum(window_accs(b)) / len(window_accs(b)), sum(window_accs(a)) / len(window_accs(a)))
                 for a, b in pairs]
        rows.append({"label": label, "twin": f"{other}: {other_label}", "seeds": [a.seed for a, _ in pairs],
                     "same_training": all(a.column("train_loss") == b.column("train_loss") for a, b in pairs),
                     "worst_min": [min(m[0] for m in mins), min(m[1] for m in mins)],
                     "mean": [sum(m[0] for m in means) / len(means), sum(m[1] for m in means) / len(means)],
                     "min_changes": [after - before for before, after in mins]})
    return rows


def format_paired_table(rows: list[dict]) -> str:
    """Each candidate against its twin: worst seed's minimum and mean over 10-15, before -> after, and each seed's
    change of its minimum."""
    if not rows:
        return "(no candidate with a stored twin)"
    width = max(len("candidate"), *(len(r["label"]) for r in rows))
    lines = [f"{'candidate':<{width}} {'seeds':>5} {'same training':>13} {'worst min twin -> this':>22} "
             f"{'mean twin -> this':>17}  change of each seed's min"]
    for r in rows:
        changes = ", ".join(f"{c:+.2f}" for c in r["min_changes"])
        lines.append(f"{r['label']:<{width}} {len(r['seeds']):>5} {'yes' if r['same_training'] else 'NO':>13} "
                     f"{r['worst_min'][0]:>13.2f} -> {r['worst_min'][1]:.2f} "
                     f"{r['mean'][0]:>8.2f} -> {r['mean'][1]:.2f}  {changes}")
    return "\n".join(lines)


def load_summary(name: str, folder: Path | None = None) -> dict:
    path = summary_path(folder or sweep_dir(name))
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"no summary of sweep {name!r} at {display(path)}; "
                                f"run `python -m mnist_drill sweep {name}` first") from None
