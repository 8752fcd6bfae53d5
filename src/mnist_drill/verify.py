"""Does a stored run still reproduce? Re-run its first epochs with the code at HEAD and compare every number.

On the same kind of machine (device and thread count) the numbers must be identical: the seed fixes the
initial weights, the shuffles and the augmentation. A difference means the code changed what the run computes.
"""

from __future__ import annotations

from pathlib import Path

from .config import Config
from .engine import fit
from .layout import display
from .results import History

COMPARED = ("lr", "train_loss", "train_acc", "eval_loss", "eval_acc", "eval_correct", "eval_total")


def differences(stored: History, fresh: History, epochs: int) -> list[str]:
    """One line per number that differs in the first `epochs` epochs; empty when they all agree."""
    lines = []
    for old, new in zip(stored.epochs[:epochs], fresh.epochs[:epochs], strict=True):
        for key in COMPARED:
            if old.get(key) != new.get(key):
                lines.append(f"epoch {old['epoch']} {key}: stored {old.get(key)!r}, now {new.get(key)!r}")
    if stored.params != fresh.params:
        lines.insert(0, f"params: stored {stored.params:,}, now {fresh.params:,}")
    return lines


def verify(path: str | Path, epochs: int = 2, device: str | None = "cpu", log=print) -> bool:
    """Re-run the first `epochs` epochs of the History at `path`; print the verdict and any difference."""
    stored = History.load(path)
    if epochs > len(stored.epochs):
        raise ValueError(f"{display(Path(path))} holds {len(stored.epochs)} epochs; ask for at most that many")
    config = Config.from_dict(stored.config)
    log(f"Verifying {display(Path(path))}: {config.name}, seed {config.seed}, first {epochs} of {config.epochs} "
        f"epochs (stored at commit {stored.commit[:10] or 'unknown'} on {stored.device})")
    fresh = fit(config, device=device, progress=False, log=lambda line: log("  " + line), stop_after=epochs)
    if fresh.device != stored.device:
        log(f"note: stored on {stored.device}, re-run on {fresh.device}: numbers may differ for that reason alone")
    diffs = differences(stored, fresh, epochs)
    if diffs:
        log(f"DIFFERENT: {len(diffs)} number(s) changed since the stored run:")
        for line in diffs:
            log("  " + line)
        return False
    log(f"IDENTICAL: the first {epochs} epochs reproduce exactly ({len(COMPARED)} numbers per epoch)")
    return True
