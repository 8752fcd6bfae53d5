"""Training: `fit(config) -> History`, built from `train_epoch` and `evaluation.evaluate`, plus seeding.
Logs what the reference's notebooks logged, so runs compare line by line.
"""

from __future__ import annotations

import random
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from .averaging import uniform_average, weight_average
from .config import Config
from .devices import Compiled, device_name, pick_device
from .errors import ResultsUnwritable
from .evaluation import evaluate
from .fileio import probe_writable
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


def text_progress() -> bool:
    """True when the environment asks for progress as text lines, for notebooks executed to be stored."""
    return env_flag(TEXT_PROGRESS_ENV)


# Reading a number back from a GPU waits for every kernel queued before it, so on a GPU the bar's text is refreshed
# every this many batches; on the CPU, where reading costs nothing, after every batch
GPU_REFRESH_BATCHES = 50


def train_epoch(model, loader, optimizer, scheduler=None, progress=True, average=None, forward=None):
    """One pass over `loader`; steps a per-batch scheduler and the weight average. Returns (mean loss, accuracy %).

    forward: what computes the outputs (a compiled `model`, see devices.Compiled), `model` itself by default.
    The sums stay on the device (float64 and int64: the same numbers as Python's float and int; float32 on MPS) and
    are read back only for the bar's text, so a GPU is not made to wait on every batch."""
    model.train()
    forward = forward or model
    device = next(model.parameters()).device  # where the batches are too
    wide = torch.float32 if device.type == "mps" else torch.float64  # MPS has no float64
    loss_sum = torch.zeros((), dtype=wide, device=device)
    correct = torch.zeros((), dtype=torch.int64, device=device)
    seen, refresh = 0, 1 if device.type == "cpu" else GPU_REFRESH_BATCHES
    live = progress and not text_progress()
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
        loss_sum += loss.detach().to(wide) * len(y)  # what float(loss) * len(y) gives, without reading it back
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
    if config.scheduler == "onecycle":
        return optimizer, torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=config.lr, epochs=config.swa_from - 1 if config.swa_from else config.epochs,
            steps_per_epoch=steps_per_epoch,
            pct_start=config.pct_start, div_factor=config.div_factor,
            final_div_factor=config.final_div_factor, anneal_strategy="cos"), True
    return optimizer, None, False


def fit(config: Config, *, save_to: str | Path | None = None, device: str | None = None, progress: bool = True,
        log=print, command: str | None = None, stop_after: int | None = None, data_root: Path = DATA_DIR,
        compile: bool = False) -> History:
    """Train `config` from scratch and return its History (with the trained model attached).

    save_to: the JSON path to save the History to (layout.run_path gives it), or None to save nothing.
    command: what made this run, recorded in the History (default: this process's command line).
    stop_after: train only the first N epochs of the run (its schedule unchanged), e.g. to verify a stored run.
    compile: train through torch.compile (with CUDA graphs on a GPU; devices.Compiled), falling back to eager with one
    line where it cannot compile. Off by default: on the 2-core CPUs measured it did not pay (benchmarks/levers.py),
    and its numbers differ from the eager run's in the last digits. Evaluation always runs eagerly.
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
    forward = Compiled(model, device, log) if compile else model
    evaluated = average.module if average else model  # what the test lines and the History report
    history = History(config=config.to_dict(), seed=config.seed, params=count_params(model),
                      device=device_name(device), versions=origin["versions"], eval_name=loaders.eval_name,
                      started_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                      commit=origin["commit"], code_dirty=origin["code_dirty"], command=origin["command"],
                      machine=machine_fingerprint(device), compiled=compile)
    start = time.perf_counter()
    for epoch in range(1, min(config.epochs, stop_after or config.epochs) + 1):
        lr = optimizer.param_groups[0]["lr"]
        log(f"EPOCH: {epoch} LR: {lr:.6g}")
        epoch_start = time.perf_counter()
        if epoch == config.swa_from:  # the LR stays where one-cycle left it; a plain mean of the weights from here
            scheduler, average = None, uniform_average(model)
            evaluated = average.module
        train_loss, train_acc = train_epoch(model, loaders.train, optimizer, scheduler if per_batch else None,
                                            progress, average, forward)
        reading = evaluate(evaluated, loaders.eval, config.tta_shift, -loaders.mean / loaders.std)
        if scheduler is not None and not per_batch:
            scheduler.step()
        seconds = time.perf_counter() - epoch_start
        total = reading.total
        eval_acc = 100.0 * reading.correct / total
        five = {}
        if config.tta_shift:  # five views, from the same forward passes: names of their own
            five = {"five_loss": reading.five_loss, "five_acc": 100.0 * reading.five_correct / total,
                    "five_correct": reading.five_correct}
        log(f"Train set: Average loss: {train_loss:.4f}, Accuracy: {train_acc:.2f}%")
        log(f"{loaders.eval_name} set: Average loss: {reading.loss:.4f}, Accuracy: {reading.correct}/{total} "
            f"({eval_acc:.2f}%){five_views_note(five)} | LR {lr:.6g} | {seconds:.1f} s")
        history.epochs.append({"epoch": epoch, "lr": lr, "train_loss": train_loss, "train_acc": train_acc,
                               "eval_loss": reading.loss, "eval_acc": eval_acc, "eval_correct": reading.correct,
                               "eval_total": total, **five, "seconds": seconds})
    history.total_seconds = time.perf_counter() - start
    history.draws = getattr(loaders.train, "draws", None)  # the fast pipeline's; the DataLoader's are not digested
    history.model = evaluated
    log(verdict(history))
    if save_to is not None:
        log(f"History saved to {display(save_history(history, Path(save_to)))}")
    return history


def five_views_note(five: dict) -> str:
    """" | five views 99.07%" after the one-view reading of a run that also reads five views, "" otherwise."""
    return f" | five views {five['five_acc']:.2f}%" if five else ""


def check_writable(path: Path) -> None:
    """Raise ResultsUnwritable (one line, with the fix) unless a file can be written at `path`."""
    try:
        if path.is_dir():
            raise IsADirectoryError(f"{path} is a folder")
        probe_writable(path.parent)
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
