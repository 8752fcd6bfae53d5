"""Training: `fit(config) -> History`, built from `train_epoch` and `evaluate`, plus seeding and
device choice. Logs what the seed's notebooks logged, so runs compare line by line.
"""

from __future__ import annotations

import copy
import platform
import random
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from .config import Config
from .loaders import make_loaders
from .models import build_model, count_params
from .paths import DATA_DIR, PROJECT_ROOT, RESULTS_DIR
from .results import History, verdict


class DeviceUnavailable(RuntimeError):
    pass


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


class WeightAverage:
    """An exponential moving average of a model's weights and BatchNorm statistics, kept beside it.

    Evaluating the average instead of the live weights smooths out the last batches' noise. The decay
    warms up as (1 + t) / (10 + t), so the first epochs are not dominated by the initial weights.
    """

    def __init__(self, model: torch.nn.Module, decay: float):
        self.model = copy.deepcopy(model).eval().requires_grad_(False)
        self.decay = decay
        self.updates = 0
        pairs = [(a, m) for a, m in zip(self.model.state_dict().values(), model.state_dict().values(), strict=True)
                 if a.is_floating_point()]  # num_batches_tracked is not averaged; eval mode never reads it
        self._averaged, self._live = [a for a, _ in pairs], [m for _, m in pairs]

    @torch.no_grad()
    def update(self) -> None:
        self.updates += 1
        decay = min(self.decay, (1 + self.updates) / (10 + self.updates))
        torch._foreach_lerp_(self._averaged, self._live, 1.0 - decay)


def train_epoch(model, loader, optimizer, scheduler=None, label_smoothing=0.0, progress=True, average=None):
    """One pass over `loader`; steps a per-batch scheduler and the weight average. Returns (mean loss, accuracy %)."""
    model.train()
    total_loss, correct, seen = 0.0, 0, 0
    bar = tqdm(loader, total=len(loader), disable=not progress, mininterval=0.5, leave=True)
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
            average.update()
        loss_value = loss.item()
        total_loss += loss_value * len(y)
        correct += (output.argmax(1) == y).sum().item()
        seen += len(y)
        bar.set_description(f"Loss={loss_value:.4f} Batch_id={batch_id} Accuracy={100 * correct / seen:.2f}",
                            refresh=False)
    bar.close()
    if progress and hasattr(bar, "container"):  # a Jupyter widget bar (tqdm.notebook)
        # a saved notebook keeps only a widget's first frame as text: keep the last one readable too
        print(bar.format_meter(**bar.format_dict))
    return total_loss / seen, 100.0 * correct / seen


@torch.no_grad()
def evaluate(model, loader) -> tuple[float, int, int]:
    """(mean loss, correct, total) over `loader`, in eval mode."""
    model.eval()
    total_loss, correct, seen = 0.0, 0, 0
    for x, y in loader:
        output = model(x)
        total_loss += F.nll_loss(output, y, reduction="sum").item()
        correct += (output.argmax(1) == y).sum().item()
        seen += len(y)
    return total_loss / seen, correct, seen


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
    return optimizer, scheduler, per_batch


def library_versions() -> dict:
    import torchvision

    return {"python": platform.python_version(), "torch": torch.__version__,
            "torchvision": torchvision.__version__, "numpy": np.__version__}


def fit(config: Config, *, device: str | None = None, progress: bool = True, log=print,
        save_to: str | Path | None = "auto", data_root: Path = DATA_DIR) -> History:
    """Train `config` from scratch and return its History (with the trained model attached).

    save_to: a JSON path; "auto" saves to results/<name>.json ("val/<name>.json" on the validation
    split); None saves nothing (smoke runs, tests).
    """
    device = pick_device(device)
    generator = set_seed(config.seed)
    loaders = make_loaders(config, device, generator, data_root)
    model = build_model(config).to(device)
    optimizer, scheduler, per_batch = make_optimizer(model, config, len(loaders.train))
    average = WeightAverage(model, config.ema) if config.ema else None
    evaluated = average.model if average else model  # what the test lines and the History report
    history = History(config=config.to_dict(), seed=config.seed, params=count_params(model),
                      device=_device_name(device), versions=library_versions(), eval_name=loaders.eval_name,
                      started_at=datetime.now(timezone.utc).isoformat(timespec="seconds"))
    start = time.perf_counter()
    for epoch in range(1, config.epochs + 1):
        lr = optimizer.param_groups[0]["lr"]
        log(f"EPOCH: {epoch} LR: {lr:.6g}")
        epoch_start = time.perf_counter()
        train_loss, train_acc = train_epoch(model, loaders.train, optimizer, scheduler if per_batch else None,
                                            config.label_smoothing, progress, average)
        eval_loss, correct, total = evaluate(evaluated, loaders.eval)
        if scheduler is not None and not per_batch:
            scheduler.step()
        seconds = time.perf_counter() - epoch_start
        test_acc = 100.0 * correct / total
        log(f"Train set: Average loss: {train_loss:.4f}, Accuracy: {train_acc:.2f}%")
        log(f"{loaders.eval_name} set: Average loss: {eval_loss:.4f}, Accuracy: {correct}/{total} "
            f"({test_acc:.2f}%) | LR {lr:.6g} | {seconds:.1f} s")
        history.epochs.append({"epoch": epoch, "lr": lr, "train_loss": train_loss, "train_acc": train_acc,
                               "test_loss": eval_loss, "test_acc": test_acc, "test_correct": correct,
                               "test_total": total, "seconds": seconds})
    history.total_seconds = time.perf_counter() - start
    history.model = evaluated
    log(verdict(history))
    if save_to is not None:
        path = default_result_path(config) if save_to == "auto" else Path(save_to)
        history.save(path)
        log(f"History saved to {_display(path)}")
    return history


def default_result_path(config: Config) -> Path:
    folder = RESULTS_DIR / "val" if config.split == "val" else RESULTS_DIR
    return folder / f"{config.name}.json"


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(PROJECT_ROOT))
    except ValueError:
        return str(path)


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
