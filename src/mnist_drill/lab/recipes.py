"""The lab's recipes beside the steps: the named variants run on the test set (`--variant NAME`), the published
peers run under this project's protocol (its loop, its log, seeds 1-5, one view) as variants of the final step, and
the options removed from Config that stored runs may still name. Each peer's source, recipe and every departure from
it: EXPERIMENTS.md, "A peer under our protocol" and "A second peer under our protocol"."""

from __future__ import annotations

from dataclasses import replace

from ..config import _AFFINE, _SMALL, _WIDE, ONE_CYCLE, STEPS, Config

# adilsammar/woolly-of-cv's 3,762-parameter network, from its description (EXPERIMENTS.md: the departures)
PEER_3762 = dict(arch="P4 P4 P4 M P8 P8 P8 M P8 P8 P8 G", conv_bias=True, dropout=0.01, dropout_after="pool",
                 block_order="bn-relu", batch_size=32, lr=0.1, momentum=0.0, nesterov=False, weight_decay=0.0, ema=0.0,
                 scheduler="epoch-points", epoch_lrs=((0, 0.05), (2, 0.1), (8, 0.01), (12, 0.0025), (15, 0.0)),
                 rotation_deg=7.0, shift=0.09, scale=0.09, augment_p=0.5, brightness=0.2, contrast=0.2, tta_shift=0)
# Shwethaamrutha/TSAI-S6's 6,260-parameter `Final_Model.py`, from its source (EXPERIMENTS.md: the departures)
PEER_6260 = dict(arch="P8 P10 M P12 M P16 P16 G", conv_bias=True, dropout=0.0, block_order="bn-relu", batch_size=128,
                 lr=0.05, momentum=0.98, nesterov=False, weight_decay=5e-5, ema=0.0, scheduler="onecycle",
                 pct_start=0.05, div_factor=10.0, final_div_factor=100.0, crop_pad=2, rotation_deg=7.0, shift=0.1,
                 scale=0.0, tta_shift=0)

# config name -> where the recipe was published (a Markdown link), for the frontier's "peer" column
PEERS = {"05_one_cycle_3.8k-peer": "[adilsammar/woolly-of-cv](https://github.com/adilsammar/woolly-of-cv/tree/main/"
                                   "assets/mnist), 3,762 parameters, 99.52 % in one run",
         "05_one_cycle_6.3k-peer": "[Shwethaamrutha/TSAI-S6](https://github.com/Shwethaamrutha/TSAI-S6), 6,260 "
                                   "parameters, 99.40-99.44 % in epochs 13-15 of one run"}

# Named variants of a step, run on the test set beside it (`--variant NAME` on train and seeds): label -> overrides
# of the variant's base (VARIANT_BASES, else the step itself). EXPERIMENTS.md says which round each came from.
VARIANTS = {
    5: {"7.6k-rotation": dict(),  # the one-cycle recipe alone, on step 4's model
        "5.7k-affine": dict(arch=_SMALL, **_AFFINE),
        "5.7k-affine-wd": dict(arch=_SMALL, weight_decay=1e-4, **_AFFINE),  # the next one read in one view only
        # step 5 until round 14, on 5,680 parameters: holds on every seed 1-10 in five views, not in one
        "5.7k-affine-wd-tta": dict(arch=_SMALL, weight_decay=1e-4, tta_shift=1, **_AFFINE),
        "9.8k": dict(arch=_WIDE),  # step 5's model with the one-cycle recipe alone
        "4.5k-separable": dict(arch="C8 M D24 D32 D32 D32 G", weight_decay=1e-4, **_AFFINE),
        "3.8k-peer": PEER_3762, "6.3k-peer": PEER_6260},  # published recipes under our protocol (PEERS: whose)
}
VARIANT_BASES = {5: ONE_CYCLE}


def variant(step: int, name: str) -> Config:
    """Step `step` with the overrides of its variant `name`, named "<step name>_<name>"."""
    options = VARIANTS.get(step, {})
    if name not in options:
        hint = "".join(f"; step {s} has it: add --step {s}" for s, names in VARIANTS.items() if name in names)
        raise ValueError(f"step {step} has no variant {name!r}; it has {sorted(options) or 'none'}{hint}")
    return replace(VARIANT_BASES.get(step, STEPS[step]), name=f"{STEPS[step].name}_{name}", **options[name])


# Options removed from Config: a stored run that left them off still loads; one that used them names the last commit
# that has them (EXPERIMENTS.md tells what each round found). Option -> (its "off" value, the last commit with it).
REMOVED = {
    "bn_refresh": (0, "93b60e4"), "elastic_alpha": (0.0, "93b60e4"), "elastic_sigma": (4.0, "93b60e4"),
    "label_smoothing": (0.0, "93b60e4"), "lr_points": ([[0.0, 0.25], [2.0, 1.0], [8.0, 0.1], [15.0, 0.0]], "93b60e4"),
    "bn_momentum": (0.1, "84040a5"), "ghost_batch": (0, "84040a5"), "cutout": (0, "84040a5"),
    "swa_from": (0, "84040a5"), "pipeline": ("fast", "84040a5"), "num_workers": (2, "84040a5"),
    "activation": ("relu", "3f97a0d"), "distill": (0.0, "3f97a0d"), "distill_temperature": (2.0, "3f97a0d"),
    "distill_shift": (0, "3f97a0d"), "distill_from": (1, "3f97a0d")}
REMOVED_VALUES = {"scheduler": ("linear", "93b60e4")}  # option -> (a value it no longer takes, the last commit)
REMOVED_TOKENS = {"A": "3f97a0d"}  # arch token -> the last commit that builds it (A: round 23's anti-aliased pool)


class RemovedOption(ValueError):
    """A stored run made with an option this version no longer has."""


def stored_config(data: dict) -> Config:
    """The Config a stored run ran, from its saved dict (JSON values: lists, never tuples): removed options it left
    off are dropped; one it used raises RemovedOption (one line naming the commit that can re-run it)."""
    used = [(k, v, commit) for k, (v, commit) in REMOVED_VALUES.items() if data.get(k) == v]
    used += [(k, data[k], commit) for k, (off, commit) in REMOVED.items() if k in data and data[k] != off]
    used += [("arch", data["arch"], commit) for token, commit in REMOVED_TOKENS.items()
             if token in str(data.get("arch", "")).split()]
    if used:
        name, value, commit = used[0]
        raise RemovedOption(f"made with option {name}={value!r}, removed after commit {commit}: "
                            f"`git checkout {commit}` to re-run it")
    return Config.from_dict({k: v for k, v in data.items() if k not in REMOVED})
