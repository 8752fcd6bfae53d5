"""Every experiment setting in one frozen dataclass, and the drill's steps as one chain.

Each step is the previous step plus its change, so `diff(STEP_2, STEP_3)` is the whole story of step 3.
Notebooks and the CLI take a step from `STEPS` and override only what they must. Why each choice was made, and
what was tried and rejected, is the lab journal's (EXPERIMENTS.md), not this file's.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

SCHEDULERS = ("none", "step", "onecycle", "epoch-points")
BLOCK_ORDERS = ("relu-bn", "bn-relu")  # BatchNorm after the ReLU (the reference's) or before it


@dataclass(frozen=True)
class Config:
    name: str = "01_bn_gap"
    # --- model (models.py reads the layer spec) ---
    arch: str = "C8 C16 M T8 C16 C16 C16 P16 G"
    dropout: float = 0.05  # after every conv block, or after every max-pool with dropout_after="pool"
    dropout_after: str = "conv"  # "conv" or "pool"
    block_order: str = "relu-bn"  # "relu-bn": conv -> ReLU -> BatchNorm (the reference's); "bn-relu": BN first
    conv_bias: bool = False  # a bias in every C, P and T conv and in the head (not in D's separable convs)
    # --- data ---
    crop_pad: int = 0  # pad-and-crop: each image first moved by whole pixels in [-n, n] on each axis (0 = off)
    rotation_deg: float = 0.0  # random rotation in [-deg, +deg], drawn per image
    shift: float = 0.0  # random shift of up to this fraction of the side, whole pixels, per image (RandomAffine's)
    scale: float = 0.0  # random zoom in [1 - scale, 1 + scale], per image
    augment_p: float = 1.0  # the chance an image gets the rotation/shift/zoom, and (apart) the brightness/contrast
    brightness: float = 0.0  # x -> (1 + c) x + b, clipped to [0, 1], with b in [-brightness, +brightness] ...
    contrast: float = 0.0  # ... and c in [-contrast, +contrast], drawn per image
    split: str = "test"  # "test": train on 60k, report on the test set; "val": train 50k, hold out 10k
    train_subset: int | None = None  # use only the first N training images (smoke runs, tests)
    eval_subset: int | None = None  # likewise for the evaluation set
    # --- optimisation ---
    epochs: int = 15
    batch_size: int = 128  # images per optimizer step
    lr: float = 0.05  # SGD learning rate; the peak LR under one-cycle
    momentum: float = 0.9  # SGD momentum; under one-cycle, OneCycleLR cycles it from 0.95 to 0.85 and back
    nesterov: bool = False
    weight_decay: float = 0.0  # L2 penalty, per parameter
    scheduler: str = "none"  # "none", "step" (StepLR), "onecycle" (OneCycleLR, per batch) or "epoch-points"
    epoch_lrs: tuple = ()  # "epoch-points": (epoch, LR) points; epoch e (from 0) trains at their linear interpolation
    step_size: int = 6  # StepLR: epochs between decays
    gamma: float = 0.1  # StepLR: factor at each decay
    pct_start: float = 0.2  # one-cycle: fraction of the steps spent warming up
    div_factor: float = 10.0  # one-cycle: initial LR = lr / div_factor
    final_div_factor: float = 100.0  # one-cycle: final LR = initial LR / final_div_factor
    # an average of the weights, evaluated instead of them (0 = off): batch t's decay is min(ema, (1 + t) / (w + t))
    # with w = ema_warmup (w = 1: the constant decay `ema` from the first batch); see train.weight_average
    ema: float = 0.0
    ema_warmup: float = 10.0
    # test-time augmentation (0 = off): each evaluation image is also read shifted by this many pixels up, down, left
    # and right, and the five views' probabilities are averaged; recorded (five_*) beside the one-view reading (eval_*),
    # which stays the test accuracy. Training is untouched
    tta_shift: int = 0
    seed: int = 1

    def __post_init__(self):
        checks = [
            (self.epochs > 0, f"epochs must be > 0, got {self.epochs}"),
            (self.batch_size > 0, f"batch_size must be > 0, got {self.batch_size}"),
            (self.lr > 0, f"lr must be > 0, got {self.lr}"),
            (0.0 <= self.momentum < 1.0, f"momentum must be in [0, 1), got {self.momentum}"),
            (not self.nesterov or self.momentum > 0, "nesterov needs momentum > 0"),
            (self.weight_decay >= 0, f"weight_decay must be >= 0, got {self.weight_decay}"),
            (self.step_size > 0 and 0.0 < self.gamma <= 1.0,
             f"step_size must be > 0 and gamma in (0, 1], got {self.step_size}, {self.gamma}"),
            (0.0 < self.pct_start < 1.0, f"pct_start must be in (0, 1), got {self.pct_start}"),
            (self.div_factor >= 1.0 and self.final_div_factor >= 1.0,
             f"div_factor and final_div_factor must be >= 1, got {self.div_factor}, {self.final_div_factor}"),
            (self.seed >= 0, f"seed must be >= 0, got {self.seed}"),
            (0.0 <= self.dropout < 1.0, f"dropout must be in [0, 1), got {self.dropout}"),
            (0.0 <= self.ema < 1.0, f"ema must be in [0, 1) (0 = off), got {self.ema}"),
            (0 <= self.crop_pad < 14, f"crop_pad must be in [0, 14) pixels (0 = off), got {self.crop_pad}"),
            (self.ema_warmup >= 1.0, f"ema_warmup must be >= 1 (1 = no warm-up), got {self.ema_warmup}"),
            (0 <= self.tta_shift < 14, f"tta_shift must be in [0, 14) pixels (0 = off), got {self.tta_shift}"),
            (self.block_order in BLOCK_ORDERS, f"block_order must be one of {BLOCK_ORDERS}, got {self.block_order!r}"),
            (self.rotation_deg >= 0, f"rotation_deg must be >= 0, got {self.rotation_deg}"),
            (0.0 <= self.shift < 0.5, f"shift must be in [0, 0.5) (a fraction of the image side), got {self.shift}"),
            (0.0 <= self.scale < 1.0, f"scale must be in [0, 1) (zoom in [1 - scale, 1 + scale]), got {self.scale}"),
            (self.split in ("test", "val"), f"split must be 'test' or 'val', got {self.split!r}"),
            (self.scheduler in SCHEDULERS, f"scheduler must be one of {SCHEDULERS}, got {self.scheduler!r}"),
            (self.dropout_after in ("conv", "pool"), f"dropout_after must be 'conv' or 'pool': {self.dropout_after!r}"),
            (0.0 < self.augment_p <= 1.0, f"augment_p must be in (0, 1], got {self.augment_p}"),
            (0.0 <= self.brightness < 1.0 and 0.0 <= self.contrast < 1.0,
             f"brightness and contrast must be in [0, 1), got {self.brightness}, {self.contrast}"),
            ((self.scheduler == "epoch-points") == bool(self.epoch_lrs)
             and list(self.epoch_lrs) == sorted(self.epoch_lrs), f"scheduler 'epoch-points' needs epoch_lrs, (epoch, "
             f"LR) points in epoch order, and only it; got {self.scheduler!r} with {self.epoch_lrs}"),
        ]
        for name in ("train_subset", "eval_subset"):
            value = getattr(self, name)
            checks.append((value is None or value > 0, f"{name} must be > 0 or None, got {value}"))
        problems = [message for ok, message in checks if not ok]
        if problems:
            raise ValueError("invalid Config: " + "; ".join(problems))

    def to_dict(self) -> dict:
        """The fields as plain JSON values (epoch_lrs as lists), so a saved and re-read config compares equal."""
        return {**asdict(self), "epoch_lrs": [list(point) for point in self.epoch_lrs]}

    @classmethod
    def from_dict(cls, data: dict) -> Config:
        """A Config from a saved one (lab/recipes.stored_config also reads runs made with options removed since)."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown Config fields {unknown}; this version knows {sorted(known)}")
        return cls(**{**data, "epoch_lrs": tuple(tuple(p) for p in data.get("epoch_lrs", ()))})


# --- The drill: each step is the previous one plus its change ----------------------------------------
_LEAN = "C8 M C12 C16 C16 C16 G"  # 7,568 params: step 4's model
_SMALL = "C8 M C10 C12 C14 C16 G"  # 5,680 params: the 5.7k variants' model (step 5's until round 14)
_WIDE = "C10 M C14 C18 C18 C18 G"  # 9,786 params: step 5's model
_AFFINE = dict(shift=0.1, scale=0.1)  # RandomAffine-style: up to 3 px shift, 0.9-1.1 zoom, per image

STEP_1 = Config()  # the reference's step 1: BatchNorm after every conv, GAP before the last 1x1 conv
STEP_2 = replace(STEP_1, name="02_augmentation", rotation_deg=7.0)
STEP_3 = replace(STEP_2, name="03_lr_scheduler", scheduler="step")
# the max-pool right after the first conv (full-resolution layers cost most of a CPU epoch), BN before the ReLU,
# widths 8-12-16, no dropout
STEP_4 = replace(STEP_3, name="04_lean_model", arch=_LEAN, block_order="bn-relu", dropout=0.0)
# one LR cycle to a high peak, Nesterov momentum, the test lines read an average of the weights
ONE_CYCLE = replace(STEP_4, name="05_one_cycle", scheduler="onecycle", lr=0.2, nesterov=True, ema=0.999)
# ... and a random shift and zoom, weight decay 1e-4, widths 10-14-18 (its stored seeds also read five views beside the
# one view: tta_shift=1 changes how the weights are read, never the training, so they are this step's runs too)
STEP_5 = replace(ONE_CYCLE, arch=_WIDE, weight_decay=1e-4, **_AFFINE)
# ... on the 5.7k variants' widths 8-10-12-14-16, its max-pool at stride 1 and every later conv dilated by 2: the same
# weights read the map at every offset a stride-2 pool picks one of, and the GAP averages them (no parameters added)
STEP_6 = replace(STEP_5, name="06_dilated", arch="C8 S C10 C12 C14 C16 G")

STEPS = {1: STEP_1, 2: STEP_2, 3: STEP_3, 4: STEP_4, 5: STEP_5, 6: STEP_6}
LAST_STEP = max(STEPS)


def diff(old: Config, new: Config) -> dict[str, tuple]:
    """Fields whose value differs, as {field: (old, new)}; the name is left out."""
    return {f.name: (getattr(old, f.name), getattr(new, f.name)) for f in fields(Config)
            if f.name != "name" and getattr(old, f.name) != getattr(new, f.name)}


def format_diff(old: Config, new: Config) -> str:
    changes = diff(old, new)
    if not changes:
        return f"{new.name}: no change from {old.name}"
    width = max(len(k) for k in changes)
    lines = [f"{new.name} = {old.name} plus:"]
    lines += [f"  {k:<{width}}  {a!r} -> {b!r}" for k, (a, b) in changes.items()]
    if new.ema and {"ema", "ema_warmup"} & set(changes):
        lines.append(f"  ({average_note(new)})")
    return "\n".join(lines)


def format_config(config: Config) -> str:
    """Every field, one per line: readable, and a new field adds a line instead of changing one."""
    width = max(len(f.name) for f in fields(Config))
    lines = [f"{config.name}:"] + [f"  {f.name:<{width}}  {getattr(config, f.name)!r}"
                                   for f in fields(Config) if f.name != "name"]
    return "\n".join(lines + ([f"  ({average_note(config)})"] if config.ema else []))


def training_images(config: Config) -> int:
    return config.train_subset or (50_000 if config.split == "val" else 60_000)


def average_note(config: Config) -> str:
    """What the weight average spans in this run, in words: with a warm-up, `ema` is a ceiling that may never act."""
    updates = config.epochs * -(-training_images(config) // config.batch_size)
    w, decay = config.ema_warmup, config.ema
    reached = (w * decay - 1) / (1 - decay)  # the update from which min(decay, (1 + t) / (w + t)) is `decay`
    if w <= 1 or reached <= 0:
        return f"the weight average: decay {decay} from the first update, spanning about {1 / (1 - decay):,.0f} updates"
    if reached > updates:
        return (f"the weight average: its decay (1 + t) / ({w:g} + t) at update t stays below the ceiling {decay} in "
                f"all {updates:,} updates (it would reach it at update {reached:,.0f}), so it spans about the last "
                f"1/{w - 1:g} of the updates so far: about {10 / (w - 1):.1f} epochs at epoch 10")
    return (f"the weight average: its decay (1 + t) / ({w:g} + t) at update t reaches {decay} at update "
            f"{reached:,.0f} of {updates:,} and spans about {1 / (1 - decay):,.0f} updates from there")


def smoke(config: Config) -> Config:
    """A run small enough for CI: one epoch on a 2k-image subset, evaluated on 1k images."""
    return replace(config, train_subset=2048, eval_subset=1024, epochs=1)
