"""Options that only rejected explorations used, removed from the live Config: a stored run that left them off still
loads, and one that used them names the last commit that has them (EXPERIMENTS.md tells what each round found)."""

from __future__ import annotations

LAST_WITH_REMOVED = "93b60e4"
REMOVED = {"bn_refresh": 0, "elastic_alpha": 0.0, "elastic_sigma": 4.0, "label_smoothing": 0.0,  # the "off" values
           "lr_points": [[0.0, 0.25], [2.0, 1.0], [8.0, 0.1], [15.0, 0.0]]}
REMOVED_VALUES = {"scheduler": "linear"}


class RemovedOption(ValueError):
    """A stored run made with an option this version no longer has."""


def without_removed(data: dict) -> dict:
    """`data` without the removed options it leaves off; RemovedOption (one line) for one it uses."""
    used = [(k, v) for k, v in REMOVED_VALUES.items() if data.get(k) == v]
    used += [(k, data[k]) for k, off in REMOVED.items() if k in data and _plain(data[k]) != off]
    if used:
        name, value = used[0]
        raise RemovedOption(f"made with option {name}={value!r}, removed after commit {LAST_WITH_REMOVED}: "
                            f"`git checkout {LAST_WITH_REMOVED}` to re-run it")
    return {k: v for k, v in data.items() if k not in REMOVED}


def _plain(value):
    return [_plain(v) for v in value] if isinstance(value, (list, tuple)) else value
