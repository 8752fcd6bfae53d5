"""The numbers drawn from stored runs: a History read back from any version, and the one summary over seeds (the
window of core train.py, who holds, the worst seed) that seeds, sweeps and the report all use; plus the tables."""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path

from ..train import TARGET, WINDOW, History, first_consistent_epoch, holds, in_window, window_label
from .provenance import machine_label

# Until issue 27 a five-view run stored its five views as eval_* and its one view as plain_acc and plain_correct.
OLD_NAMES = {"eval_loss": "five_loss", "eval_acc": "five_acc", "eval_correct": "five_correct",
             "plain_acc": "eval_acc", "plain_correct": "eval_correct"}


def load_history(path: str | Path) -> History:
    """A stored History, from any version of the project; a file that is not one raises ValueError naming it."""
    try:
        data = json.loads(Path(path).read_text())
        if missing := sorted({"config", "seed", "params", "epochs"} - set(data)):
            raise ValueError(f"not a History: no {', '.join(missing)}")
        known = {f.name for f in fields(History)} - {"model"}
        return History(**{**{k: v for k, v in data.items() if k in known}, "device": data.get("device", ""),
                          "epochs": upgrade_epochs(data["config"], data["epochs"])})
    except (ValueError, TypeError, KeyError, AttributeError) as e:
        raise ValueError(f"{path}: not a readable History ({e}); re-run the command that made it") from None


def upgrade_epochs(config: dict, epochs: list[dict]) -> list[dict]:
    """Epochs under today's names (stored files are never rewritten): one view as eval_*, five views as five_*."""
    if not config.get("tta_shift"):
        return epochs
    return [e if "five_acc" in e else {OLD_NAMES.get(k, k): v for k, v in e.items()} for e in epochs]


def reading(history: History) -> tuple[str, list[float]]:
    """("one view", accuracies); ("five views", ...) only for a run stored before its one view was recorded."""
    if all("eval_acc" in epoch for epoch in history.epochs):
        return "one view", history.one_view
    return "five views", history.five_views


def window_stats(runs: list[list[float]]) -> dict:
    """Over several runs' per-epoch accuracies: the first epoch every run holds from, the lowest accuracy of the
    window, how many runs hold through it, the mean over it, and the mean of the last epoch."""
    firsts = [first_consistent_epoch(accs) for accs in runs]
    return {"first_consistent_all": None if None in firsts else max(firsts),
            "worst_seed_min_last_epochs": min(min(in_window(a)) for a in runs),
            "seeds_holding": sum(holds(a) for a in runs),
            "mean_last_epochs": sum(sum(in_window(a)) / len(in_window(a)) for a in runs) / len(runs),
            "last_epoch_mean": sum(accs[-1] for accs in runs) / len(runs)}


def summarize_seeds(histories: list[History]) -> dict:
    """Per-epoch min / mean / max over seeds in one view, the worst seed (lowest over the window), the first epoch
    every seed holds from, and window_stats; for runs read in five views, their window_stats under "five_views"."""
    if not histories:
        raise ValueError("summarize_seeds needs at least one History")
    if len(lengths := {len(h.epochs) for h in histories}) != 1:
        raise ValueError(f"histories have different numbers of epochs: {sorted(lengths)}")
    if old := next((h for h in histories if reading(h)[0] != "one view"), None):
        raise ValueError(f"{old.config.get('name')} seed {old.seed} was read in five views before the one-view "
                         "reading was recorded; re-run it for a one-view reading")
    runs = [h.one_view for h in histories]
    per_epoch = [{"epoch": epoch, "min": min(accs), "mean": sum(accs) / len(accs), "max": max(accs)}
                 for epoch, *accs in zip(histories[0].column("epoch"), *runs, strict=True)]
    worst = min(histories, key=lambda h: (min(in_window(h.one_view)), h.one_view[-1]))
    summary = {"name": histories[0].config["name"], "eval_name": histories[0].eval_name, "reading": "one view",
               "target": TARGET, "seeds": [h.seed for h in histories], "params": histories[0].params,
               "per_epoch": per_epoch, "first_consistent_per_seed": {str(h.seed): first_consistent_epoch(h.one_view)
                                                                     for h in histories},
               "worst_seed": worst.seed, "window": WINDOW,
               "seconds_per_run_mean": sum(h.total_seconds for h in histories) / len(histories),
               "seed_mins": [min(in_window(accs)) for accs in runs],  # each seed's lowest epoch in the window
               "machines": sorted({machine_label(h.machine) for h in histories}), **window_stats(runs)}
    if all(h.five_views for h in histories):
        summary["five_views"] = window_stats([h.five_views for h in histories])
    return summary


def format_seeds_table(summary: dict) -> str:
    n, first = len(summary["seeds"]), summary["first_consistent_all"]
    lines = [f"{summary['name']}: {n} seeds {summary['seeds']}, {summary['params']:,} params, "
             f"{summary['eval_name'].lower()} accuracy % in one view",
             f"{'epoch':>5} {'min':>7} {'mean':>7} {'max':>7}",
             *(f"{r['epoch']:>5} {r['min']:>7.2f} {r['mean']:>7.2f} {r['max']:>7.2f}"
               + ("  <" if r["min"] < summary["target"] else "") for r in summary["per_epoch"]),
             f"one view: {summary['seeds_holding']} of {n} seeds hold >= {summary['target']}% in every one of epochs "
             f"{window_label(len(summary['per_epoch']))} (lowest {summary['worst_seed_min_last_epochs']:.2f}%, seed "
             f"{summary['worst_seed']}); every seed from epoch: {first if first else 'never'}; "
             f"mean of the last epoch {summary['last_epoch_mean']:.2f}%",
             f"first epoch each seed holds from: {summary['first_consistent_per_seed']}"]
    if five := summary.get("five_views"):
        lines.append(f"five views (test-time augmentation), the same weights: {five['seeds_holding']} of {n} seeds "
                     f"hold (lowest {five['worst_seed_min_last_epochs']:.2f}%), "
                     f"mean of the last epoch {five['last_epoch_mean']:.2f}%")
    return "\n".join(lines)


def steps_table(histories: dict[str, History], markdown: bool = False, summaries: dict[str, dict] | None = None) -> str:
    """One row per step's notebook run (seed 1), in one view, with the machine it was made on; beside it, where
    `summaries` (by name) has the step's seeds, how many hold, the worst one's minimum and the machines they were made
    on (so no row joins one machine's run with another's seeds unsaid); and five views in a column of their own."""
    header = ["step", "params", "notebook run: best % (one view)", "last %", f"held >= {TARGET}% from", "s/epoch",
              "notebook run made on", "seeds holding, ep 10-15", "worst seed's min", "seeds made on",
              "five views (TTA): last %, seeds holding"]
    rows = []
    for name, h in histories.items():
        (best, best_epoch), first = h.best(), first_consistent_epoch(h.one_view)
        seeds, machine = (summaries or {}).get(name), machine_label(h.machine)
        five = f"{h.five_views[-1]:.2f}" if h.five_views else "-"
        if h.five_views and seeds and "five_views" in seeds:
            five += f", {seeds['five_views']['seeds_holding']} of {len(seeds['seeds'])}"
        seeds_machines = "; ".join(seeds.get("machines", [])) if seeds else "-"
        rows.append([name, f"{h.params:,}", f"{best:.2f} (ep {best_epoch})", f"{h.one_view[-1]:.2f}",
                     str(first) if first else "never", f"{h.seconds_per_epoch:.1f}", machine,
                     f"{seeds['seeds_holding']} of {len(seeds['seeds'])}" if seeds else "-",
                     f"{seeds['worst_seed_min_last_epochs']:.2f}" if seeds else "-",
                     "the same" if seeds_machines == machine else seeds_machines, five])
    return format_table(header, rows, markdown)


def format_table(header: list[str], rows: list[list], markdown: bool = False) -> str:
    """Rows as a Markdown table, or as aligned plain-text columns."""
    rows = [[str(x) for x in row] for row in rows]
    if markdown:
        return "\n".join("| " + " | ".join(r) + " |" for r in [header, ["---"] * len(header), *rows])
    widths = [max(len(x) for x in col) for col in zip(header, *rows, strict=True)]
    return "\n".join("  ".join(x.ljust(w) for x, w in zip(r, widths, strict=True)).rstrip()
                     for r in [header, *rows])
