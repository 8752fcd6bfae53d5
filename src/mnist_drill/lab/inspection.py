"""Looking inside a model: torchsummary's table, the receptive field of every layer, multiply-adds per image, and the
images a trained model gets wrong."""

from __future__ import annotations

import contextlib
import copy
import io

import torch
from torch import nn

from ..models import INPUT_SIZE


def _trace(model: nn.Module, input_size, kinds, hook) -> None:
    """One zero image through a CPU copy of `model` in eval mode, with hook(module, inputs, output) on each module of
    `kinds`, in order: the model itself (its mode, device, BN statistics) and the RNG are left as they were."""
    clone = copy.deepcopy(model).cpu().eval()
    for module in clone.modules():
        if isinstance(module, kinds):
            module.register_forward_hook(hook)
    with torch.no_grad():
        clone(torch.zeros(1, *input_size))


def count_macs(model: nn.Module, input_size=INPUT_SIZE) -> int:
    """Multiply-adds of one image's forward pass through the convs (the head included): for each conv, its output
    positions x output channels x the inputs each one reads (in_channels / groups x kernel area). BatchNorm, ReLU,
    pooling and the softmax add a few per value, and are left out, as papers leave them out."""
    macs = []
    _trace(model, input_size, nn.Conv2d, lambda m, _, out: macs.append(
        out.shape[1:].numel() * (m.in_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1]))
    return sum(macs)


def summary_text(model: nn.Module, input_size=INPUT_SIZE) -> str:
    """torchsummary's table, taken on a copy on the CPU so that neither the RNG nor BN statistics move."""
    from torchsummary import summary

    out = io.StringIO()
    with torch.random.fork_rng(devices=[]), contextlib.redirect_stdout(out):
        summary(copy.deepcopy(model).to("cpu"), input_size, device="cpu")
    return out.getvalue().rstrip()


def receptive_fields(model: nn.Module, input_size=INPUT_SIZE) -> list[dict]:
    """Per layer that changes the receptive field or the size: its output size, `rf` (the side, in input pixels, of
    the region one output unit sees) and jump. Found by running the model's own layers (hooks on every conv, pool and
    GAP), so the table follows the model, not a spec."""
    rows, rf, jump = [], 1, 1

    def record(module, inputs, output):
        nonlocal rf, jump
        if isinstance(module, nn.AdaptiveAvgPool2d):
            rf, kind = rf + (inputs[0].shape[-1] - 1) * jump, "GAP"
        else:  # kernel, stride, dilation: ints or pairs (square here)
            k, s, d = (v if isinstance(v := getattr(module, a, 1), int) else v[0]
                       for a in ("kernel_size", "stride", "dilation"))
            rf, jump = rf + (k - 1) * d * jump, jump * s
            kind = (f"conv{k}x{k} {module.in_channels}->{module.out_channels}" if isinstance(module, nn.Conv2d)
                    else f"maxpool{k}x{k}")
        rows.append({"layer": f"{len(rows) + 1:>2} {kind}", "output": tuple(output.shape[1:]), "rf": rf, "jump": jump})

    _trace(model, input_size, (nn.Conv2d, nn.MaxPool2d, nn.AdaptiveAvgPool2d), record)
    return rows


def format_receptive_fields(rows: list[dict]) -> str:
    return "\n".join([f"{'layer':<22} {'output (C, H, W)':<18} {'RF':>4} {'jump':>5}"] + [
        f"{r['layer']:<22} {str(r['output']):<18} {r['rf']:>4} {r['jump']:>5}" for r in rows])


@torch.no_grad()
def misclassified(history, limit: int = 24):
    """The first `limit` evaluation images the trained model gets wrong in one view: (images 0-1, labels, preds)."""
    from ..data import make_loaders
    from .recipes import stored_config

    if history.model is None:
        raise ValueError("this History has no model attached; only fit() returns one")
    model = history.model.eval()
    loaders = make_loaders(stored_config(history.config), next(model.parameters()).device, torch.Generator())
    found = []  # per batch: (its wrong images, their labels, the predictions)
    for x, y in loaders.eval:
        wrong = (pred := model(x).argmax(1)) != y
        found.append(((x[wrong] * loaders.std + loaders.mean).squeeze(1).cpu(), y[wrong].cpu(), pred[wrong].cpu()))
    return tuple(torch.cat(parts)[:limit] for parts in zip(*found, strict=True))
