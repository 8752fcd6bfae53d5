"""Looking inside a model: torchsummary's table, the receptive field of every layer, multiply-adds per image."""

from __future__ import annotations

import contextlib
import copy
import io

import torch
from torch import nn

from ..models import INPUT_SIZE


def count_macs(model: nn.Module, input_size=INPUT_SIZE) -> int:
    """Multiply-adds of one image's forward pass through the convs (the head included): for each conv, its output
    positions x output channels x the inputs each one reads (in_channels / groups x kernel area). BatchNorm, ReLU,
    pooling and the softmax add a few per value, and are left out, as papers leave them out."""
    macs = 0

    def count(module, _inputs, output):
        nonlocal macs
        k = module.kernel_size[0] * module.kernel_size[1]
        macs += output.shape[1:].numel() * (module.in_channels // module.groups) * k

    clone = copy.deepcopy(model).cpu().eval()  # hooked and run apart: the model itself is left untouched
    for module in clone.modules():
        if isinstance(module, nn.Conv2d):
            module.register_forward_hook(count)
    with torch.no_grad():
        clone(torch.zeros(1, *input_size))
    return macs


def summary_text(model: nn.Module, input_size=INPUT_SIZE) -> str:
    """torchsummary's table, taken on a copy on the CPU so that neither the RNG nor BN statistics move."""
    from torchsummary import summary

    clone = copy.deepcopy(model).to("cpu")
    out = io.StringIO()
    with torch.random.fork_rng(devices=[]), contextlib.redirect_stdout(out):
        summary(clone, input_size, device="cpu")
    return out.getvalue().rstrip()


def receptive_fields(model: nn.Module, input_size=INPUT_SIZE) -> list[dict]:
    """Per layer that changes the receptive field or the size: its output size and receptive field.

    Found by running the model's own layers (hooks on every conv, pool and GAP), so the table follows
    the model, not a spec. `rf` is the side, in input pixels, of the region one output unit sees.
    """
    rows, rf, jump = [], 1, 1
    hooks = []

    def record(module, _inputs, output):
        nonlocal rf, jump
        if isinstance(module, nn.AdaptiveAvgPool2d):
            in_size = _inputs[0].shape[-1]
            rf, kind = rf + (in_size - 1) * jump, "GAP"
        else:
            k, s, d = (_pair(getattr(module, a, 1))[0] for a in ("kernel_size", "stride", "dilation"))
            rf += (k - 1) * d * jump
            jump *= s
            kind = f"conv{k}x{k}" if isinstance(module, nn.Conv2d) else f"maxpool{k}x{k}"
            if isinstance(module, nn.Conv2d):
                kind += f" {module.in_channels}->{module.out_channels}"
        rows.append({"layer": f"{len(rows) + 1:>2} {kind}", "output": tuple(output.shape[1:]),
                     "rf": rf, "jump": jump})

    for module in model.modules():
        if isinstance(module, (nn.Conv2d, nn.MaxPool2d, nn.AdaptiveAvgPool2d)):
            hooks.append(module.register_forward_hook(record))
    clone_mode = model.training
    model.eval()
    try:
        with torch.no_grad():
            device = next(model.parameters()).device
            model(torch.zeros(1, *input_size, device=device))
    finally:
        model.train(clone_mode)
        for hook in hooks:
            hook.remove()
    return rows


def _pair(value):
    return value if isinstance(value, tuple) else (value, value)


def format_receptive_fields(rows: list[dict]) -> str:
    lines = [f"{'layer':<22} {'output (C, H, W)':<18} {'RF':>4} {'jump':>5}"]
    for row in rows:
        lines.append(f"{row['layer']:<22} {str(row['output']):<18} {row['rf']:>4} {row['jump']:>5}")
    return "\n".join(lines)


@torch.no_grad()
def misclassified(history, limit: int = 24, data_root=None):
    """The first `limit` evaluation images the trained model gets wrong in one view: (images 0-1, labels, preds)."""
    from ..data import make_loaders
    from ..paths import DATA_DIR
    from .recipes import stored_config

    if history.model is None:
        raise ValueError("this History has no model attached; only fit() returns one")
    model = history.model.eval()
    device = next(model.parameters()).device
    loaders = make_loaders(stored_config(history.config), device, torch.Generator().manual_seed(0),
                           data_root or DATA_DIR)
    images, labels, preds = [], [], []
    for x, y in loaders.eval:
        pred = model(x).argmax(1)
        wrong = pred != y
        images.append((x[wrong] * loaders.std + loaders.mean).squeeze(1).cpu())
        labels.append(y[wrong].cpu())
        preds.append(pred[wrong].cpu())
    return torch.cat(images)[:limit], torch.cat(labels)[:limit], torch.cat(preds)[:limit]
