"""Reading a trained model on the evaluation set: one view per image (the test accuracy), or five views (the image
and its shifts, probabilities averaged: test-time augmentation) with the one-view count from the same passes."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from . import augment
from .config import Config
from .loaders import make_loaders
from .paths import DATA_DIR


@dataclass
class Reading:
    loss: float  # mean loss of the one-view reading (one forward pass per image: the test accuracy)
    correct: int  # images right in one view
    total: int
    five_loss: float | None = None  # the same for the five views' averaged probabilities, when read so
    five_correct: int | None = None


@torch.no_grad()
def evaluate(model, loader, tta_shift: int = 0, background: float = 0.0) -> Reading:
    """Read every batch of `loader` in eval mode, one view per image. tta_shift > 0: each image is also read shifted by
    `tta_shift` pixels right, left, down and up (uncovered pixels get `background`, the normalised 0), and the five
    views' mean probability is read beside the one view, from the same forward passes."""
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
    if not tta_shift:
        return Reading(loss / seen, correct, seen)
    return Reading(loss / seen, correct, seen, five_loss / seen, five_correct)


def view_log_probs(model, x: torch.Tensor, pixels: int, background: float) -> torch.Tensor:
    """(5, N, classes) log-probabilities of the batch itself, then shifted by `pixels` right, left, down and up."""
    views = [(0, 0), (pixels, 0), (-pixels, 0), (0, pixels), (0, -pixels)]
    return torch.stack([model(augment.shift(x, dx, dy, background)) for dx, dy in views])


def average_views(log_probs: torch.Tensor) -> torch.Tensor:
    """The log of the mean probability over the views (the first dimension of `log_probs`)."""
    return torch.logsumexp(log_probs, 0) - math.log(len(log_probs))


@torch.no_grad()
def misclassified(history, limit: int = 24, data_root: Path = DATA_DIR):
    """The first `limit` evaluation images the trained model gets wrong in one view: (images 0-1, labels, preds)."""
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
