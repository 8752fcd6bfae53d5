"""Training and evaluation: `fit(config) -> History`, from `train_epoch`, `evaluate` and a weight average.

Logs what the reference's notebooks logged (a tqdm bar per epoch, then the train and test lines), so runs compare
line by line. The goal is defined here too: a run holds when every epoch of its window reads >= TARGET in one view.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.optim.swa_utils import AveragedModel
from tqdm.auto import tqdm

from . import augment
from .config import Config
from .data import make_loaders
from .devices import Compiled, device_name, pick_device
from .fileio import write_json
from .models import build_model, count_params
from .paths import DATA_DIR, env_flag

TARGET = 99.4  # test accuracy %, in one view, to hold in every epoch of the window
WINDOW = 6  # the window: a run's last WINDOW epochs, epochs 10-15 of 15
TEXT_PROGRESS_ENV = "MNIST_DRILL_TEXT_PROGRESS"  # set by `make notebooks`: finished bars as text, no widgets
# reading a number back from a GPU waits for its queue: there the bar's text is refreshed every this many batches
GPU_REFRESH_BATCHES = 50


# --- the goal -------------------------------------------------------------------------------------------------
def in_window(accs: list[float]) -> list[float]:
    """The accuracies of a run's window: its last WINDOW epochs (all of a run of fewer epochs)."""
    return list(accs)[-WINDOW:]


def window_label(epochs: int = 15) -> str:
    """"10-15" for a 15-epoch run: the epochs its window covers."""
    return f"{max(1, epochs - WINDOW + 1)}-{epochs}"


def holds(accs: list[float], target: float = TARGET) -> bool:
    """Whether every epoch of the window reads >= target."""
    return min(in_window(accs)) >= target


def first_consistent_epoch(accs: list[float], target: float = TARGET) -> int | None:
    """The epoch (from 1) from which every later accuracy stays >= target; None if the last one misses it."""
    first = None
    for number in range(len(accs), 0, -1):
        if accs[number - 1] < target:
            break
        first = number
    return first


# --- what a run leaves behind ----------------------------------------------------------------------------------
@dataclass
class History:
    config: dict
    seed: int
    params: int
    device: str
    versions: dict = field(default_factory=dict)
    eval_name: str = "Test"  # "Test", or "Validation" on the val split
    epochs: list[dict] = field(default_factory=list)  # one dict per epoch, see fit
    total_seconds: float = 0.0
    started_at: str = ""
    commit: str = ""  # provenance, filled in by the lab (lab/provenance.py): git HEAD when the run started,
    code_dirty: bool | None = None  # whether the code differed from it,
    command: str = ""  # what made the run,
    machine: dict | None = None  # and the machine's fingerprint (None in runs stored before it was recorded)
    draws: dict | None = None  # a digest of the first batches' seeded draws (data.TensorLoader.draws)
    compiled: bool = False  # trained through torch.compile: other kernels, other last digits
    model: object = field(default=None, repr=False, compare=False)  # the trained model; not saved

    def column(self, key: str) -> list:
        return [epoch[key] for epoch in self.epochs]

    @property
    def one_view(self) -> list[float]:
        """Accuracy % of every epoch, one forward pass per image: the reading every claim is made in."""
        return self.column("eval_acc")

    @property
    def five_views(self) -> list[float] | None:
        """Accuracy % of every epoch in five views (tta_shift), or None for a run that read one view only."""
        return self.column("five_acc") if self.config.get("tta_shift") else None

    @property
    def seconds_per_epoch(self) -> float:
        return sum(self.column("seconds")) / max(len(self.epochs), 1)

    def best(self) -> tuple[float, int]:
        """(best one-view accuracy, its epoch), the earliest epoch on a tie."""
        accs = self.one_view
        i = max(range(len(accs)), key=lambda k: (accs[k], -k))
        return accs[i], self.epochs[i]["epoch"]

    def to_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "model"}

    def save(self, path: str | Path) -> Path:
        return write_json(path, self.to_dict())


def verdict(history: History) -> str:
    (best, best_epoch), one, five = history.best(), history.one_view, history.five_views
    line = f"Verdict: best {best:.2f}% at epoch {best_epoch} | {held_phrase(one)} | last {one[-1]:.2f}%"
    if five:
        line += f" | five views (test-time augmentation): {held_phrase(five)}, last {five[-1]:.2f}%"
    return (f"{line} | {history.params:,} params | {history.total_seconds:.1f} s total "
            f"({history.seconds_per_epoch:.1f} s/epoch on {history.device})")


def held_phrase(accs: list[float]) -> str:
    """">= 99.4% held from epoch 4", from the run's accuracies per epoch."""
    first = first_consistent_epoch(accs)
    return f">= {TARGET}% held from epoch {first}" if first else f">= {TARGET}% never held to the last epoch"


# --- the weight average ----------------------------------------------------------------------------------------
def weight_average(model: torch.nn.Module, decay: float, warm_up: float = 10.0) -> AveragedModel:
    """An exponential moving average of `model`'s weights and BatchNorm statistics, for evaluation.

    Update t moves the average by 1 - min(decay, (1 + t) / (w + t)), w = `warm_up` (w = 10 is TensorFlow's
    ExponentialMovingAverage with num_updates; w = 1 is a constant decay). With w = 10 it reaches 0.999 only at update
    8,990, beyond the 7,035 updates of 15 epochs at batch 128: it spans about the last 1/9 of the updates so far.
    """

    @torch.no_grad()
    def ema_with_warm_up(averaged: list, current: list, num_averaged: torch.Tensor) -> None:
        if not averaged[0].is_floating_point():  # num_batches_tracked: eval mode never reads it
            torch._foreach_copy_(averaged, current)
            return
        t = int(average.n_averaged) + 1  # the count on the CPU: reading `num_averaged` would wait for a GPU
        torch._foreach_lerp_(averaged, current, 1.0 - min(decay, (1 + t) / (warm_up + t)))

    average = AveragedModel(model, multi_avg_fn=ema_with_warm_up, use_buffers=True)
    average.module.eval().requires_grad_(False)
    return average


# --- evaluation ------------------------------------------------------------------------------------------------
@torch.no_grad()
def evaluate(model, loader, tta_shift: int = 0, background: float = 0.0) -> dict:
    """Read every batch in eval mode, one view per image: the epoch's eval_loss (mean), eval_acc (%), eval_correct and
    eval_total. tta_shift > 0: each image is also read shifted by that many pixels right, left, down and up (uncovered
    pixels get `background`, the normalised 0), and the five views' mean probability is read beside the one view, from
    the same forward passes, as five_loss, five_acc and five_correct."""
    model.eval()
    loss, correct, five_loss, five_correct, seen = 0.0, 0, 0.0, 0, 0
    for x, y in loader:
        if tta_shift:
            log_probs = view_log_probs(model, x, tta_shift, background)
            output, five = log_probs[0], average_views(log_probs)
            five_loss += F.nll_loss(five, y, reduction="sum").item()
            five_correct += (five.argmax(1) == y).sum().item()
        else:
            output = model(x)
        loss += F.nll_loss(output, y, reduction="sum").item()
        correct += (output.argmax(1) == y).sum().item()
        seen += len(y)
    one = {"eval_loss": loss / seen, "eval_acc": 100.0 * correct / seen, "eval_correct": correct, "eval_total": seen}
    if not tta_shift:
        return one
    return {**one, "five_loss": five_loss / seen, "five_acc": 100.0 * five_correct / seen, "five_correct": five_correct}


def view_log_probs(model, x: torch.Tensor, pixels: int, background: float) -> torch.Tensor:
    """(5, N, classes) log-probabilities of the batch itself, then shifted by `pixels` right, left, down and up."""
    views = [(0, 0), (pixels, 0), (-pixels, 0), (0, pixels), (0, -pixels)]
    return torch.stack([model(augment.shift(x, dx, dy, background)) for dx, dy in views])


def average_views(log_probs: torch.Tensor) -> torch.Tensor:
    """The log of the mean probability over the views (the first dimension of `log_probs`)."""
    return torch.logsumexp(log_probs, 0) - math.log(len(log_probs))


# --- training --------------------------------------------------------------------------------------------------
def set_seed(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch; return a CPU generator (seeded alike) for shuffling and augmentation."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def train_epoch(model, loader, optimizer, scheduler=None, progress=True, average=None, forward=None):
    """One pass over `loader`; steps a per-batch scheduler and the weight average. Returns (mean loss, accuracy %).

    forward: what computes the outputs (a compiled `model`), `model` itself by default. The sums stay on the device
    and are read back only for the bar's text, so a GPU is not made to wait on every batch."""
    model.train()
    forward = forward or model
    device = next(model.parameters()).device
    wide = torch.float32 if device.type == "mps" else torch.float64  # MPS has no float64
    loss_sum = torch.zeros((), dtype=wide, device=device)
    correct = torch.zeros((), dtype=torch.int64, device=device)
    seen, refresh = 0, 1 if device.type == "cpu" else GPU_REFRESH_BATCHES
    live = progress and not env_flag(TEXT_PROGRESS_ENV)
    bar = tqdm(loader, total=len(loader), disable=not live, mininterval=0.5, leave=True)
    start = time.perf_counter()
    for batch_id, (x, y) in enumerate(bar):
        optimizer.zero_grad(set_to_none=True)
        output = forward(x)
        loss = F.nll_loss(output, y)  # output holds log-probabilities
        loss.backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        if average is not None:
            average.update_parameters(model)
        loss_sum += loss.detach().to(wide) * len(y)
        correct += (output.argmax(1) == y).sum()
        seen += len(y)
        if live and batch_id % refresh == 0:
            bar.set_description(describe_batch(loss, batch_id, correct, seen), refresh=False)
    description = describe_batch(loss, batch_id, correct, seen)
    if live:
        bar.set_description(description, refresh=False)
    bar.close()
    if progress and (not live or hasattr(bar, "container")):  # text mode, or a Jupyter widget bar
        # a stored notebook keeps only a widget's first frame: write the finished bar as a line of text
        print(tqdm.format_meter(len(loader), len(loader), time.perf_counter() - start, prefix=description))
    return loss_sum.item() / seen, 100.0 * correct.item() / seen


def describe_batch(loss: torch.Tensor, batch_id: int, correct: torch.Tensor, seen: int) -> str:
    """The bar's text, as the reference's notebooks printed it: the batch's loss, its number, the running accuracy."""
    return f"Loss={loss.item():.4f} Batch_id={batch_id} Accuracy={100 * correct.item() / seen:.2f}"


def make_optimizer(model, config: Config, steps_per_epoch: int):
    """SGD and the config's scheduler; returns (optimizer, scheduler or None, whether it steps per batch)."""
    points = config.scheduler == "epoch-points"  # the LR of each epoch is read off its points: a base LR of 1
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0 if points else config.lr, momentum=config.momentum,
                                nesterov=config.nesterov, weight_decay=config.weight_decay)
    if points:
        epochs, lrs = zip(*config.epoch_lrs, strict=True)
        return optimizer, torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda epoch: float(np.interp(epoch, epochs, lrs))), False
    if config.scheduler == "step":
        return optimizer, torch.optim.lr_scheduler.StepLR(optimizer, config.step_size, config.gamma), False
    if config.scheduler == "onecycle":  # it also cycles the momentum, 0.95 -> 0.85 -> 0.95
        return optimizer, torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=config.lr, epochs=config.epochs, steps_per_epoch=steps_per_epoch,
            pct_start=config.pct_start, div_factor=config.div_factor, final_div_factor=config.final_div_factor,
            anneal_strategy="cos"), True
    return optimizer, None, False


def fit(config: Config, *, device: str | None = None, progress: bool = True, log=print, stop_after: int | None = None,
        data_root: Path = DATA_DIR, compile: bool = False, record: dict | None = None) -> History:
    """Train `config` from scratch and return its History, with the trained (or averaged) model attached.

    stop_after: train only the first N epochs of the run (its schedule unchanged), e.g. to verify a stored run.
    compile: train through torch.compile (devices.Compiled); evaluation always runs eagerly.
    record: History fields to fill in (the lab's provenance: commit, command, machine, versions).
    """
    device = pick_device(device)
    generator = set_seed(config.seed)
    loaders = make_loaders(config, device, generator, data_root)
    model = build_model(config).to(device)
    optimizer, scheduler, per_batch = make_optimizer(model, config, len(loaders.train))
    average = weight_average(model, config.ema, config.ema_warmup) if config.ema else None
    forward = Compiled(model, device, log) if compile else model
    evaluated = average.module if average else model  # what the test lines and the History report
    history = History(config=config.to_dict(), seed=config.seed, params=count_params(model),
                      device=device_name(device), eval_name=loaders.eval_name, compiled=compile,
                      started_at=datetime.now(timezone.utc).isoformat(timespec="seconds"), **(record or {}))
    start = time.perf_counter()
    for epoch in range(1, (config.epochs if stop_after is None else min(config.epochs, stop_after)) + 1):
        lr = optimizer.param_groups[0]["lr"]
        log(f"EPOCH: {epoch} LR: {lr:.6g}")
        epoch_start = time.perf_counter()
        train_loss, train_acc = train_epoch(model, loaders.train, optimizer, scheduler if per_batch else None,
                                            progress, average, forward)
        reading = evaluate(evaluated, loaders.eval, config.tta_shift, -loaders.mean / loaders.std)
        if scheduler is not None and not per_batch:
            scheduler.step()
        seconds = time.perf_counter() - epoch_start
        five = f" | five views {reading['five_acc']:.2f}%" if config.tta_shift else ""
        log(f"Train set: Average loss: {train_loss:.4f}, Accuracy: {train_acc:.2f}%")
        log(f"{loaders.eval_name} set: Average loss: {reading['eval_loss']:.4f}, Accuracy: {reading['eval_correct']}/"
            f"{reading['eval_total']} ({reading['eval_acc']:.2f}%){five} | LR {lr:.6g} | {seconds:.1f} s")
        history.epochs.append({"epoch": epoch, "lr": lr, "train_loss": train_loss, "train_acc": train_acc, **reading,
                               "seconds": seconds})
    history.total_seconds = time.perf_counter() - start
    history.draws = loaders.train.draws
    history.model = evaluated
    log(verdict(history))
    return history

