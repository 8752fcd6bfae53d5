"""Training: `fit(config) -> History`, built from `train_epoch` and `evaluate`, plus seeding and
device choice. Logs what the seed's notebooks logged, so runs compare line by line.
"""

from __future__ import annotations

import copy
import math
import random
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.optim.swa_utils import AveragedModel
from tqdm.auto import tqdm

from . import augment
from .config import Config
from .errors import DeviceUnavailable, ResultsUnwritable
from .layout import display
from .loaders import make_loaders
from .models import build_model, count_params
from .paths import DATA_DIR, env_flag
from .provenance import machine_fingerprint, provenance
from .results import History, verdict

TEXT_PROGRESS_ENV = "MNIST_DRILL_TEXT_PROGRESS"  # set by `make notebooks`: finished bars as text, no widgets


def set_seed(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch; return a CPU generator (seeded alike) for shuffling and augmentation."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def pick_device(requested: str | None = None) -> torch.device:
    """cuda, then mps, then cpu; a requested device that is not available raises DeviceUnavailable."""
    if requested in (None, "", "auto"):
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    device = torch.device(requested)
    available = {
        "cpu": True,
        "cuda": torch.cuda.is_available(),
        "mps": bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()),
    }.get(device.type, False)
    if not available:
        raise DeviceUnavailable(f"device {requested!r} is not available on this machine; "
                                "use --device cpu, or leave --device out to pick the best one")
    return device


def weight_average(model: torch.nn.Module, decay: float, warm_up: float = 10.0) -> AveragedModel:
    """An exponential moving average of a model's weights and BatchNorm statistics, kept beside it.

    torch's AveragedModel does the bookkeeping (use_buffers=True averages the BN statistics too); the update is
    get_ema_multi_avg_fn's lerp, with the decay of update t warmed up as min(decay, (1 + t) / (w + t)), w = `warm_up`
    (w = 10 is TensorFlow's ExponentialMovingAverage with num_updates), so the first epochs are not dominated by the
    early weights; w = 1 is a constant decay. Evaluating the average instead of the live weights smooths out the
    last batches' noise.

    The warm-up reaches `decay` only at update t = (w * decay - 1) / (1 - decay): with w = 10, 8,990 for 0.999 and
    4,490 for 0.998; with w = 2, 998 for 0.999. A 15-epoch run at batch 128 has 7,035 updates (5,865 on the
    validation split), so with w = 10 a cap of 0.999 or more is never reached and the average spans about t / 9 of
    the updates so far (about an epoch at epoch 10): decays of 0.999 and 0.9995 give the same run, digit for digit.
    """

    @torch.no_grad()
    def ema_with_warm_up(averaged: list, current: list, num_averaged: torch.Tensor) -> None:
        if not averaged[0].is_floating_point():  # num_batches_tracked: eval mode never reads it
            torch._foreach_copy_(averaged, current)
            return
        t = int(num_averaged) + 1  # this update's number; the first update copies the weights
        torch._foreach_lerp_(averaged, current, 1.0 - min(decay, (1 + t) / (warm_up + t)))

    average = AveragedModel(model, multi_avg_fn=ema_with_warm_up, use_buffers=True)
    average.module.eval().requires_grad_(False)
    return average


@torch.no_grad()
def refreshed_batchnorm(model: torch.nn.Module, loader) -> torch.nn.Module:
    """A copy of `model` whose BatchNorm statistics are recomputed from `loader`'s images; `model` is left as it is.

    The statistics become a plain mean over the batches (momentum None, as torch.optim.swa_utils.update_bn does), and
    only the BatchNorm layers run in training mode, so dropout draws nothing and no random number is used.
    """
    fresh = copy.deepcopy(model).eval()
    norms = [m for m in fresh.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None
        norm.train()
    for x, _ in loader:
        fresh(x)
    return fresh.eval()


def train_epoch(model, loader, optimizer, scheduler=None, label_smoothing=0.0, progress=True, average=None):
    """One pass over `loader`; steps a per-batch scheduler and the weight average. Returns (mean loss, accuracy %)."""
    model.train()
    total_loss, correct, seen = 0.0, 0, 0
    live = progress and not text_progress()
    bar = tqdm(loader, total=len(loader), disable=not live, mininterval=0.5, leave=True)
    start, description = time.perf_counter(), ""
    for batch_id, (x, y) in enumerate(bar):
        optimizer.zero_grad(set_to_none=True)
        output = model(x)
        loss = F.nll_loss(output, y) if not label_smoothing else F.cross_entropy(
            output, y, label_smoothing=label_smoothing)  # output holds log-probabilities
        loss.backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        if average is not None:
            average.update_parameters(model)
        loss_value = loss.item()
        total_loss += loss_value * len(y)
        correct += (output.argmax(1) == y).sum().item()
        seen += len(y)
        description = f"Loss={loss_value:.4f} Batch_id={batch_id} Accuracy={100 * correct / seen:.2f}"
        if live:
            bar.set_description(description, refresh=False)
    bar.close()
    if progress and (not live or hasattr(bar, "container")):  # text mode, or a Jupyter widget bar
        # a stored notebook keeps only a widget's first frame: write the finished bar as a line of text
        print(tqdm.format_meter(len(loader), len(loader), time.perf_counter() - start, prefix=description))
    return total_loss / seen, 100.0 * correct / seen


def text_progress() -> bool:
    """True when the environment asks for progress as text lines, for notebooks executed to be stored."""
    return env_flag(TEXT_PROGRESS_ENV)


@torch.no_grad()
def evaluate(model, loader, tta_shift: int = 0, background: float = 0.0) -> tuple[float, int, int]:
    """(mean loss, correct, total) over `loader`, in eval mode.

    tta_shift > 0: each image is read five times, as itself and shifted by `tta_shift` pixels up, down, left and
    right (uncovered pixels get `background`, the normalised 0), and the output is the log of the mean probability.
    """
    if tta_shift:
        return evaluate_views(model, loader, tta_shift, background)[:3]
    model.eval()
    total_loss, correct, seen = 0.0, 0, 0
    for x, y in loader:
        output = model(x)
        total_loss += F.nll_loss(output, y, reduction="sum").item()
        correct += (output.argmax(1) == y).sum().item()
        seen += len(y)
    return total_loss / seen, correct, seen


@torch.no_grad()
def evaluate_views(model, loader, pixels: int, background: float) -> tuple[float, int, int, int]:
    """(mean loss, correct, total, correct with one view): the five-view reading of `evaluate`, and how many images
    the same weights get right from the unshifted view alone, from the same forward passes."""
    model.eval()
    total_loss, correct, plain_correct, seen = 0.0, 0, 0, 0
    for x, y in loader:
        log_probs = view_log_probs(model, x, pixels, background)
        output = average_views(log_probs)
        total_loss += F.nll_loss(output, y, reduction="sum").item()
        correct += (output.argmax(1) == y).sum().item()
        plain_correct += (log_probs[0].argmax(1) == y).sum().item()
        seen += len(y)
    return total_loss / seen, correct, seen, plain_correct


def view_log_probs(model, x: torch.Tensor, pixels: int, background: float) -> torch.Tensor:
    """(5, N, classes) log-probabilities of the batch itself, then shifted by `pixels` right, left, down and up."""
    views = [(0, 0), (pixels, 0), (-pixels, 0), (0, pixels), (0, -pixels)]
    return torch.stack([model(augment.shift(x, dx, dy, background)) for dx, dy in views])


def average_views(log_probs: torch.Tensor) -> torch.Tensor:
    """The log of the mean probability over the views (the first dimension of `log_probs`)."""
    return torch.logsumexp(log_probs, 0) - math.log(len(log_probs))


def make_optimizer(model, config: Config, steps_per_epoch: int):
    optimizer = torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum,
                                nesterov=config.nesterov, weight_decay=config.weight_decay)
    per_batch, scheduler = False, None
    if config.scheduler == "step":
        scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=config.step_size, gamma=config.gamma)
    elif config.scheduler == "onecycle":
        scheduler = torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=config.lr, epochs=config.epochs, steps_per_epoch=steps_per_epoch,
            pct_start=config.pct_start, div_factor=config.div_factor,
            final_div_factor=config.final_div_factor, anneal_strategy="cos")
        per_batch = True
    elif config.scheduler == "linear":
        epochs_at, factors = zip(*config.lr_points, strict=True)
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: float(np.interp(step / steps_per_epoch, epochs_at, factors)))
        per_batch = True
    return optimizer, scheduler, per_batch


def fit(config: Config, *, save_to: str | Path | None = None, device: str | None = None, progress: bool = True,
        log=print, command: str | None = None, stop_after: int | None = None, data_root: Path = DATA_DIR) -> History:
    """Train `config` from scratch and return its History (with the trained model attached).

    save_to: the JSON path to save the History to (layout.run_path gives it), or None to save nothing.
    command: what made this run, recorded in the History (default: this process's command line).
    stop_after: train only the first N epochs of the run (its schedule unchanged), e.g. to verify a stored run.
    """
    device = pick_device(device)
    if save_to is not None:
        check_writable(Path(save_to))  # fail now, not after the last epoch
    origin = provenance(command)
    generator = set_seed(config.seed)
    loaders = make_loaders(config, device, generator, data_root)
    model = build_model(config).to(device)
    optimizer, scheduler, per_batch = make_optimizer(model, config, len(loaders.train))
    average = weight_average(model, config.ema, config.ema_warmup) if config.ema else None
    evaluated = average.module if average else model  # what the test lines and the History report
    evaluated_now = evaluated  # with config.bn_refresh: a copy with its own BatchNorm statistics, made every epoch
    history = History(config=config.to_dict(), seed=config.seed, params=count_params(model),
                      device=_device_name(device), versions=origin["versions"], eval_name=loaders.eval_name,
                      started_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                      commit=origin["commit"], code_dirty=origin["code_dirty"], command=origin["command"],
                      machine=machine_fingerprint(device))
    start = time.perf_counter()
    for epoch in range(1, min(config.epochs, stop_after or config.epochs) + 1):
        lr = optimizer.param_groups[0]["lr"]
        log(f"EPOCH: {epoch} LR: {lr:.6g}")
        epoch_start = time.perf_counter()
        train_loss, train_acc = train_epoch(model, loaders.train, optimizer, scheduler if per_batch else None,
                                            config.label_smoothing, progress, average)
        if loaders.bn_images is not None:
            evaluated_now = refreshed_batchnorm(evaluated, loaders.bn_images)
        extra = {}
        if config.tta_shift:
            eval_loss, correct, total, plain = evaluate_views(evaluated_now, loaders.eval, config.tta_shift,
                                                              -loaders.mean / loaders.std)
            extra = {"plain_correct": plain, "plain_acc": 100.0 * plain / total}  # the unshifted view alone
        else:
            eval_loss, correct, total = evaluate(evaluated_now, loaders.eval)
        if scheduler is not None and not per_batch:
            scheduler.step()
        seconds = time.perf_counter() - epoch_start
        eval_acc = 100.0 * correct / total
        log(f"Train set: Average loss: {train_loss:.4f}, Accuracy: {train_acc:.2f}%")
        log(f"{loaders.eval_name} set: Average loss: {eval_loss:.4f}, Accuracy: {correct}/{total} "
            f"({eval_acc:.2f}%){views_note(extra)} | LR {lr:.6g} | {seconds:.1f} s")
        history.epochs.append({"epoch": epoch, "lr": lr, "train_loss": train_loss, "train_acc": train_acc,
                               "eval_loss": eval_loss, "eval_acc": eval_acc, "eval_correct": correct,
                               "eval_total": total, **extra, "seconds": seconds})
    history.total_seconds = time.perf_counter() - start
    history.draws = getattr(loaders.train, "draws", None)  # the fast pipeline's; the DataLoader's are not digested
    history.model = evaluated_now
    log(verdict(history))
    if save_to is not None:
        log(f"History saved to {display(save_history(history, Path(save_to)))}")
    return history


def views_note(extra: dict) -> str:
    """", five views; one view 99.38%" for a test-time-averaged reading, "" otherwise."""
    return f", five views; one view {extra['plain_acc']:.2f}%" if extra else ""


def check_writable(path: Path) -> None:
    """Raise ResultsUnwritable (one line, with the fix) unless a file can be written at `path`."""
    import tempfile

    folder = path.parent
    try:
        if path.is_dir():
            raise IsADirectoryError(f"{path} is a folder")
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as e:
        raise ResultsUnwritable(f"cannot write results to {path} ({e.strerror or e}); "
                                "free the path or point MNIST_DRILL_RESULTS at a writable folder") from None


def save_history(history: History, path: Path) -> Path:
    """Save; when that fails (disk full, folder gone), keep the History in the temp folder and say where."""
    try:
        return history.save(path)
    except OSError as e:
        import tempfile

        fallback = Path(tempfile.gettempdir()) / f"mnist_drill_{history.config['name']}_seed{history.seed}.json"
        history.save(fallback)
        raise ResultsUnwritable(f"could not save the History to {path} ({e.strerror or e}); "
                                f"it was kept in {fallback}: copy it where it belongs") from None


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    if device.type == "cpu":
        return f"cpu ({torch.get_num_threads()} threads)"
    return device.type


@torch.no_grad()
def misclassified(history: History, limit: int = 24, data_root: Path = DATA_DIR):
    """The first `limit` evaluation images the trained model gets wrong: (images 0-1, labels, preds)."""
    if history.model is None:
        raise ValueError("this History has no model attached; only fit() returns one")
    model = history.model.eval()
    device = next(model.parameters()).device
    config = Config.from_dict(history.config)
    loaders = make_loaders(config, device, torch.Generator().manual_seed(0), data_root)
    images, labels, preds = [], [], []
    for x, y in loaders.eval:
        pred = model(x).argmax(1)
        wrong = pred != y
        images.append((x[wrong] * loaders.std + loaders.mean).squeeze(1).cpu())
        labels.append(y[wrong].cpu())
        preds.append(pred[wrong].cpu())
    return torch.cat(images)[:limit], torch.cat(labels)[:limit], torch.cat(preds)[:limit]
