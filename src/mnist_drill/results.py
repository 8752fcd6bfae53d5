"""What a run leaves behind: the History of every epoch, saved atomically as JSON under results/,
and the numbers drawn from it (first consistent epoch, verdicts, seed summaries, tables).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from pathlib import Path

from .fileio import write_json

TARGET = 99.4  # test accuracy, percent, to hold in every epoch from some epoch to the last


@dataclass
class History:
    config: dict
    seed: int
    params: int
    device: str
    versions: dict
    eval_name: str = "Test"  # what the eval_* columns were measured on: "Test", or "Validation" on the val split
    epochs: list[dict] = field(default_factory=list)  # one dict per epoch, see engine.fit
    total_seconds: float = 0.0
    started_at: str = ""
    commit: str = ""  # git HEAD when the run started ("unknown" outside a checkout)
    code_dirty: bool | None = None  # whether src/ and the other code paths differed from that commit
    command: str = ""  # what made the run
    # the machine's fingerprint (provenance.machine_fingerprint); None in runs stored before it was recorded
    machine: dict | None = None
    # a digest of the first batches' seeded draws (shuffle order, augmentation parameters), made by the CPU generator:
    # the same on every machine for the same code and seed (loaders.TensorLoader.draws); None where not recorded
    draws: dict | None = None
    model: object = field(default=None, repr=False, compare=False)  # the trained model; not saved

    # --- per-epoch columns ---
    def column(self, key: str) -> list:
        return [epoch[key] for epoch in self.epochs]

    @property
    def eval_acc(self) -> list[float]:
        """Accuracy % on the evaluation set of every epoch (the test set, or the validation split)."""
        return self.column("eval_acc")

    @property
    def seconds_per_epoch(self) -> float:
        return sum(self.column("seconds")) / max(len(self.epochs), 1)

    def best(self) -> tuple[float, int]:
        """(best accuracy, its epoch), the earliest epoch on a tie."""
        accs = self.eval_acc
        i = max(range(len(accs)), key=lambda k: (accs[k], -k))
        return accs[i], self.epochs[i]["epoch"]

    # --- JSON ---
    def to_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "model"}

    @classmethod
    def from_dict(cls, data: dict) -> History:
        known = {f.name for f in fields(cls)} - {"model"}
        missing = sorted({"config", "seed", "params", "epochs"} - set(data))
        if missing:
            raise ValueError(f"not a History: no {', '.join(missing)}")
        data = {k: v for k, v in data.items() if k in known}
        data["epochs"] = [_renamed(epoch) for epoch in data["epochs"]]
        return cls(**data)

    def save(self, path: str | Path) -> Path:
        return write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | Path) -> History:
        """Read a History; a file that is not one raises ValueError naming the file."""
        try:
            return cls.from_dict(json.loads(Path(path).read_text()))
        except (ValueError, TypeError, KeyError, AttributeError) as e:
            raise ValueError(f"{path}: not a readable History ({e}); re-run the command that made it") from None


# Histories saved before the columns were renamed called the evaluation set's numbers test_*
_OLD_KEYS = {"test_acc": "eval_acc", "test_loss": "eval_loss", "test_correct": "eval_correct",
             "test_total": "eval_total"}


def _renamed(epoch: dict) -> dict:
    return {_OLD_KEYS.get(k, k): v for k, v in epoch.items()}


def first_consistent_epoch(history_or_accs, target: float = TARGET) -> int | None:
    """The epoch from which every later accuracy stays >= target, or None if the last one misses it.

    Accepts a History or a list of per-epoch accuracies (epochs numbered from 1).
    """
    if isinstance(history_or_accs, History):
        accs, numbers = history_or_accs.eval_acc, history_or_accs.column("epoch")
    else:
        accs = list(history_or_accs)
        numbers = list(range(1, len(accs) + 1))
    first = None
    for number, acc in zip(reversed(numbers), reversed(accs), strict=True):
        if acc < target:
            break
        first = number
    return first


def verdict(history: History, target: float = TARGET) -> str:
    best, best_epoch = history.best()
    first = first_consistent_epoch(history, target)
    held = f">= {target}% held from epoch {first}" if first else f">= {target}% not held at the end"
    return (f"Verdict: best {best:.2f}% at epoch {best_epoch} | {held} | last {history.eval_acc[-1]:.2f}% | "
            f"{history.params:,} params | {history.total_seconds:.1f} s total "
            f"({history.seconds_per_epoch:.1f} s/epoch on {history.device})")


def summarize_seeds(histories: list[History], target: float = TARGET, window: int = 6) -> dict:
    """Per-epoch min / mean / max over seeds, the worst seed, and the first epoch every seed holds.

    The worst seed is the one with the lowest accuracy over the last `window` epochs (epochs 10-15 of 15).
    """
    if not histories:
        raise ValueError("summarize_seeds needs at least one History")
    lengths = {len(h.epochs) for h in histories}
    if len(lengths) != 1:
        raise ValueError(f"histories have different numbers of epochs: {sorted(lengths)}")
    per_epoch = []
    for i in range(lengths.pop()):
        accs = [h.eval_acc[i] for h in histories]
        per_epoch.append({"epoch": histories[0].epochs[i]["epoch"], "min": min(accs),
                          "mean": sum(accs) / len(accs), "max": max(accs)})
    firsts = [first_consistent_epoch(h, target) for h in histories]
    worst = min(histories, key=lambda h: (min(h.eval_acc[-window:]), h.eval_acc[-1]))
    return {
        "name": histories[0].config["name"],
        "eval_name": histories[0].eval_name,
        "target": target,
        "seeds": [h.seed for h in histories],
        "params": histories[0].params,
        "per_epoch": per_epoch,
        "first_consistent_per_seed": dict(zip([str(h.seed) for h in histories], firsts, strict=True)),
        "first_consistent_all": None if None in firsts else max(firsts),
        "worst_seed": worst.seed,
        "worst_seed_min_last_epochs": min(worst.eval_acc[-window:]),
        "window": window,
        "last_epoch_mean": per_epoch[-1]["mean"],
        "seconds_per_run_mean": sum(h.total_seconds for h in histories) / len(histories),
        **one_view(histories, target, window),
    }


def one_view(histories: list[History], target: float = TARGET, window: int = 6) -> dict:
    """For runs read in five views (Config.tta_shift): what the same weights read from the unshifted images alone,
    recorded beside every epoch (plain_acc); {} for runs read in one view."""
    if not all("plain_acc" in epoch for h in histories for epoch in h.epochs):
        return {}
    mins = [min(h.column("plain_acc")[-window:]) for h in histories]
    return {"one_view": {"worst_seed_min_last_epochs": min(mins), "seeds_holding": sum(m >= target for m in mins),
                         "last_epoch_mean": sum(h.column("plain_acc")[-1] for h in histories) / len(histories)}}


def format_seeds_table(summary: dict) -> str:
    lines = [f"{summary['name']}: {len(summary['seeds'])} seeds {summary['seeds']}, "
             f"{summary['params']:,} params, {summary['eval_name'].lower()} accuracy %",
             f"{'epoch':>5} {'min':>7} {'mean':>7} {'max':>7}"]
    for row in summary["per_epoch"]:
        mark = "  <" if row["min"] < summary["target"] else ""
        lines.append(f"{row['epoch']:>5} {row['min']:>7.2f} {row['mean']:>7.2f} {row['max']:>7.2f}{mark}")
    first = summary["first_consistent_all"]
    lines.append(f"every seed >= {summary['target']}% from epoch: {first if first else 'never'}"
                 f" | per seed: {summary['first_consistent_per_seed']} | worst seed: {summary['worst_seed']}"
                 f" | mean of the last epoch: {summary['last_epoch_mean']:.2f}%")
    if "one_view" in summary:
        single = summary["one_view"]
        lines.append(f"the unshifted view alone (the same weights): lowest {single['worst_seed_min_last_epochs']:.2f}% "
                     f"in the last {summary['window']} epochs, {single['seeds_holding']} of {len(summary['seeds'])} "
                     f"seeds hold, mean of the last epoch {single['last_epoch_mean']:.2f}%")
    return "\n".join(lines)


def steps_table(histories: dict[str, History], markdown: bool = False, summaries: dict[str, dict] | None = None) -> str:
    """One row per run: parameters, best, last, first consistent epoch, seconds per epoch; and, for the runs
    whose step has a seeds summary in `summaries` (by name), the worst seed's minimum over the last epochs."""
    summaries = summaries or {}
    header = ["step", "params", "best %", "last %", f"held >= {TARGET}% from", "s/epoch", "seeds: worst min, ep 10-15"]
    rows = []
    for name, h in histories.items():
        best, best_epoch = h.best()
        first = first_consistent_epoch(h)
        seeds = summaries.get(name)
        spread = (f"{seeds['worst_seed_min_last_epochs']:.2f} ({len(seeds['seeds'])} seeds)" if seeds else "-")
        rows.append([name, f"{h.params:,}", f"{best:.2f} (ep {best_epoch})", f"{h.eval_acc[-1]:.2f}",
                     str(first) if first else "-", f"{h.seconds_per_epoch:.1f}", spread])
    if markdown:
        out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        out += ["| " + " | ".join(r) + " |" for r in rows]
        return "\n".join(out)
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=True)]
    return "\n".join("  ".join(str(x).ljust(w) for x, w in zip(r, widths, strict=True)) for r in [header, *rows])
