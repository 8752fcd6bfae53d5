"""What a run leaves behind: the History of every epoch, saved atomically as JSON under results/,
and the numbers drawn from it (first consistent epoch, verdicts, seed summaries, tables).
"""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path

from ..train import TARGET, WINDOW, History, first_consistent_epoch, holds, in_window, window_label



def load_history(path: str | Path) -> History:
    """A stored History, from any version of the project; a file that is not one raises ValueError naming it."""
    try:
        data = json.loads(Path(path).read_text())
        missing = sorted({"config", "seed", "params", "epochs"} - set(data))
        if missing:
            raise ValueError(f"not a History: no {', '.join(missing)}")
        known = {f.name for f in fields(History)} - {"model"}
        data = {k: v for k, v in data.items() if k in known}
        return History(**{**data, "device": data.get("device", ""),
                          "epochs": upgrade_epochs(data["config"], data["epochs"])})
    except (ValueError, TypeError, KeyError, AttributeError) as e:
        raise ValueError(f"{path}: not a readable History ({e}); re-run the command that made it") from None


def upgrade_epochs(config: dict, epochs: list[dict]) -> list[dict]:
    """Epochs as this version names them, from a History stored in any version (the files are never rewritten).

    Every epoch holds the one-view reading as eval_loss, eval_acc, eval_correct and eval_total; a run that also read
    five views holds them as five_loss, five_acc and five_correct. Until issue 27, a five-view run stored the five views
    as eval_* and its one view as plain_acc and plain_correct (without its loss); before that, not at all.
    """
    if not config.get("tta_shift"):
        return epochs
    upgraded = []
    for epoch in epochs:
        if "five_acc" not in epoch:
            epoch = dict(epoch)
            for key in ("loss", "acc", "correct"):
                if f"eval_{key}" in epoch:
                    epoch[f"five_{key}"] = epoch.pop(f"eval_{key}")
            if "plain_acc" in epoch:
                epoch["eval_acc"], epoch["eval_correct"] = epoch.pop("plain_acc"), epoch.pop("plain_correct")
        upgraded.append(epoch)
    return upgraded


def machine_label(machine: dict | None) -> str:
    """A stored run's machine in a few words, "AMD EPYC (AVX2), 2 threads [372dbcded662]"; "unrecorded" for runs
    stored before fingerprints were (their times cannot be compared with any other)."""
    if not machine:
        return "unrecorded"
    where = machine.get("gpu") if machine.get("device") == "cuda" else f"{machine.get('threads')} threads"
    return f"{machine.get('cpu')} ({machine.get('cpu_capability')}), {where} [{machine.get('hash')}]"


def window_stats(runs: list[list[float]], target: float = TARGET) -> dict:
    """Over several runs' per-epoch accuracies: the first epoch every run holds from, the lowest accuracy of the
    window, how many runs hold through it, the mean over it, and the mean of the last epoch."""
    firsts = [first_consistent_epoch(accs, target) for accs in runs]
    return {"first_consistent_all": None if None in firsts else max(firsts),
            "worst_seed_min_last_epochs": min(min(in_window(a)) for a in runs),
            "seeds_holding": sum(holds(a, target) for a in runs),
            "mean_last_epochs": sum(sum(in_window(a)) / len(in_window(a)) for a in runs) / len(runs),
            "last_epoch_mean": sum(accs[-1] for accs in runs) / len(runs)}


def summarize_seeds(histories: list[History], target: float = TARGET) -> dict:
    """Per-epoch min / mean / max over seeds in one view, the worst seed, the first epoch every seed holds; and, for
    runs read in five views, the same figures in five views under "five_views".

    The worst seed is the one with the lowest one-view accuracy over the window (epochs 10-15 of 15).
    """
    if not histories:
        raise ValueError("summarize_seeds needs at least one History")
    lengths = {len(h.epochs) for h in histories}
    if len(lengths) != 1:
        raise ValueError(f"histories have different numbers of epochs: {sorted(lengths)}")
    per_epoch = []
    for i in range(lengths.pop()):
        accs = [h.one_view[i] for h in histories]
        per_epoch.append({"epoch": histories[0].epochs[i]["epoch"], "min": min(accs),
                          "mean": sum(accs) / len(accs), "max": max(accs)})
    firsts = [first_consistent_epoch(h.one_view, target) for h in histories]
    worst = min(histories, key=lambda h: (min(in_window(h.one_view)), h.one_view[-1]))
    summary = {
        "name": histories[0].config["name"],
        "eval_name": histories[0].eval_name,
        "reading": "one view",
        "target": target,
        "seeds": [h.seed for h in histories],
        "params": histories[0].params,
        "per_epoch": per_epoch,
        "first_consistent_per_seed": dict(zip([str(h.seed) for h in histories], firsts, strict=True)),
        "worst_seed": worst.seed,
        "window": WINDOW,
        "seconds_per_run_mean": sum(h.total_seconds for h in histories) / len(histories),
        "seed_mins": [min(in_window(h.one_view)) for h in histories],  # each seed's lowest epoch in the window
        "machines": sorted({machine_label(h.machine) for h in histories}),
        **window_stats([h.one_view for h in histories], target),
    }
    if all(h.five_views for h in histories):
        summary["five_views"] = window_stats([h.five_views for h in histories], target)
    return summary


def format_seeds_table(summary: dict) -> str:
    lines = [f"{summary['name']}: {len(summary['seeds'])} seeds {summary['seeds']}, "
             f"{summary['params']:,} params, {summary['eval_name'].lower()} accuracy % in one view",
             f"{'epoch':>5} {'min':>7} {'mean':>7} {'max':>7}"]
    for row in summary["per_epoch"]:
        mark = "  <" if row["min"] < summary["target"] else ""
        lines.append(f"{row['epoch']:>5} {row['min']:>7.2f} {row['mean']:>7.2f} {row['max']:>7.2f}{mark}")
    first = summary["first_consistent_all"]
    lines.append(f"one view: {summary['seeds_holding']} of {len(summary['seeds'])} seeds hold >= {summary['target']}% "
                 f"in every one of epochs {window_label(len(summary['per_epoch']))} (lowest "
                 f"{summary['worst_seed_min_last_epochs']:.2f}%, seed {summary['worst_seed']}); "
                 f"every seed from epoch: {first if first else 'never'}; "
                 f"mean of the last epoch {summary['last_epoch_mean']:.2f}%")
    lines.append(f"first epoch each seed holds from: {summary['first_consistent_per_seed']}")
    if "five_views" in summary:
        five = summary["five_views"]
        lines.append(f"five views (test-time augmentation), the same weights: {five['seeds_holding']} of "
                     f"{len(summary['seeds'])} seeds hold (lowest {five['worst_seed_min_last_epochs']:.2f}%), "
                     f"mean of the last epoch {five['last_epoch_mean']:.2f}%")
    return "\n".join(lines)


def steps_table(histories: dict[str, History], markdown: bool = False, summaries: dict[str, dict] | None = None) -> str:
    """One row per step's notebook run (seed 1), in one view: parameters, best, last, first epoch held, seconds per
    epoch and the machine that run was made on; where the step has a seeds summary in `summaries` (by name), how many
    seeds hold in epochs 10-15, the worst one's minimum and the machine(s) the seeds were made on, so that no row
    joins one machine's run with another's seeds unsaid; and, for a run read in five views, its last epoch and
    seeds in five views, in a column of their own."""
    summaries = summaries or {}
    header = ["step", "params", "notebook run: best % (one view)", "last %", f"held >= {TARGET}% from", "s/epoch",
              "notebook run made on", "seeds holding, ep 10-15", "worst seed's min", "seeds made on",
              "five views (TTA): last %, seeds holding"]
    rows = []
    for name, h in histories.items():
        best, best_epoch = h.best()
        first = first_consistent_epoch(h.one_view)
        seeds = summaries.get(name)
        five = "-"
        if h.five_views:
            five = f"{h.five_views[-1]:.2f}" + (f", {seeds['five_views']['seeds_holding']} of {len(seeds['seeds'])}"
                                                 if seeds and "five_views" in seeds else "")
        machine = machine_label(h.machine)
        seeds_machines = "; ".join(seeds.get("machines", [])) if seeds else "-"
        rows.append([name, f"{h.params:,}", f"{best:.2f} (ep {best_epoch})", f"{h.one_view[-1]:.2f}",
                     str(first) if first else "never", f"{h.seconds_per_epoch:.1f}", machine,
                     f"{seeds['seeds_holding']} of {len(seeds['seeds'])}" if seeds else "-",
                     f"{seeds['worst_seed_min_last_epochs']:.2f}" if seeds else "-",
                     "the same" if seeds_machines == machine else seeds_machines, five])
    return format_table(header, rows, markdown)


def format_table(header: list[str], rows: list[list], markdown: bool = False) -> str:
    """Rows of strings as a Markdown table, or as aligned plain-text columns."""
    rows = [[str(x) for x in row] for row in rows]
    if markdown:
        return "\n".join("| " + " | ".join(r) + " |" for r in [header, ["---"] * len(header), *rows])
    widths = [max(len(x) for x in col) for col in zip(header, *rows, strict=True)]
    return "\n".join("  ".join(x.ljust(w) for x, w in zip(r, widths, strict=True)).rstrip()
                     for r in [header, *rows])
