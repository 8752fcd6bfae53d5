"""The drill's models: one conv block, a network described by a short layer spec, and helpers.

A spec is a space-separated list of tokens, read left to right:
  C<n>  3x3 conv block, no padding (conv -> ReLU -> BatchNorm -> dropout, or BatchNorm before the ReLU
        with order="bn-relu"), n output channels
  P<n>  3x3 conv block with padding 1 (keeps the size)
  T<n>  1x1 conv block (a transition that mixes channels cheaply)
  D<n>  depthwise-separable 3x3 block, no padding: a 3x3 conv per input channel, then a 1x1 conv to n channels
        (9 x in + in x n weights instead of 9 x in x n), then the BatchNorm/ReLU of a conv block
  M     2x2 max-pool
  G     global average pooling
After G comes the head: a plain 1x1 conv to the 10 classes, in place of a fully connected layer.
"""

from __future__ import annotations

import contextlib
import copy
import io
import re

import torch
import torch.nn.functional as F
from torch import nn

from .config import BLOCK_ORDERS

NUM_CLASSES = 10
INPUT_SIZE = (1, 28, 28)
_TOKEN = re.compile(r"^(?:(?P<kind>[CPTD])(?P<channels>[1-9]\d*)|(?P<op>[MG]))$")


class GhostBatchNorm2d(nn.BatchNorm2d):
    """BatchNorm that, in training, normalises each chunk of `ghost` images with that chunk's own statistics (ghost
    batch normalisation, Hoffer et al. 2017); every chunk updates the running statistics. Eval mode is plain BN."""

    def __init__(self, channels: int, ghost: int, momentum: float = 0.1):
        super().__init__(channels, momentum=momentum)
        self.ghost = ghost

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or len(x) <= self.ghost:
            return super().forward(x)
        return torch.cat([super(GhostBatchNorm2d, self).forward(chunk) for chunk in x.split(self.ghost)])


def batch_norm(channels: int, momentum: float = 0.1, ghost: int = 0) -> nn.BatchNorm2d:
    return GhostBatchNorm2d(channels, ghost, momentum) if ghost else nn.BatchNorm2d(channels, momentum=momentum)


def conv_block(in_channels: int, out_channels: int, kernel_size: int = 3, padding: int = 0,
               dropout: float = 0.0, order: str = "relu-bn", bias: bool = False, norm=batch_norm) -> nn.Sequential:
    """conv -> ReLU -> BatchNorm -> dropout, the reference's order (BN after the ReLU), or conv -> BN -> ReLU.
    norm: channels -> the BatchNorm layer."""
    if order not in BLOCK_ORDERS:
        raise ValueError(f"unknown block order {order!r}; use one of {BLOCK_ORDERS}")
    norm_act = [nn.ReLU(), norm(out_channels)]
    layers = [nn.Conv2d(in_channels, out_channels, kernel_size, padding=padding, bias=bias),
              *(norm_act if order == "relu-bn" else norm_act[::-1])]
    if dropout > 0:
        layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


def separable_block(in_channels: int, out_channels: int, dropout: float = 0.0,
                    order: str = "relu-bn", norm=batch_norm) -> nn.Sequential:
    """A 3x3 depthwise conv (one filter per input channel, no padding) and a 1x1 conv to `out_channels`, with no
    activation between them (Xception's form), then the BatchNorm/ReLU/dropout of `conv_block`."""
    block = conv_block(in_channels, out_channels, 1, 0, dropout, order, norm=norm)
    depthwise = nn.Conv2d(in_channels, in_channels, 3, groups=in_channels, bias=False)
    return nn.Sequential(depthwise, *block)


def parse_arch(arch: str) -> list[tuple[str, int]]:
    """Tokens of a spec as (kind, channels); channels is 0 for M and G. Raises ValueError."""
    tokens = arch.split()
    if not tokens:
        raise ValueError("empty arch spec; expected e.g. 'C8 C16 M T8 C16 G'")
    parsed = []
    for token in tokens:
        match = _TOKEN.match(token)
        if not match:
            raise ValueError(f"bad token {token!r} in arch {arch!r}; use C<n>, P<n>, T<n>, D<n>, M or G")
        parsed.append((match["kind"], int(match["channels"])) if match["kind"] else (match["op"], 0))
    if [kind for kind, _ in parsed].count("G") != 1 or parsed[-1][0] != "G":
        raise ValueError(f"arch {arch!r} must end with exactly one G (global average pooling)")
    return parsed


class DrillNet(nn.Module):
    """A plain stack of conv blocks and pools, GAP, then a 1x1 conv head; outputs log-probabilities."""

    def __init__(self, arch: str, dropout: float = 0.0, order: str = "relu-bn", num_classes: int = NUM_CLASSES,
                 bias: bool = False, dropout_after: str = "conv", bn_momentum: float = 0.1, ghost_batch: int = 0):
        """bias: a bias in every conv and the head; dropout_after: "conv" (after every conv block) or "pool" (after
        every max-pool instead); bn_momentum, ghost_batch: every BatchNorm's (see batch_norm)."""
        super().__init__()
        self.arch = arch
        layers, channels, size = [], INPUT_SIZE[0], INPUT_SIZE[1]
        block_dropout = dropout if dropout_after == "conv" else 0.0

        def norm(c):
            return batch_norm(c, bn_momentum, ghost_batch)
        for kind, out_channels in parse_arch(arch):
            if kind == "C":
                layers.append(conv_block(channels, out_channels, 3, 0, block_dropout, order, bias, norm))
                channels, size = out_channels, size - 2
            elif kind == "P":
                layers.append(conv_block(channels, out_channels, 3, 1, block_dropout, order, bias, norm))
                channels = out_channels
            elif kind == "D":
                layers.append(separable_block(channels, out_channels, block_dropout, order, norm))
                channels, size = out_channels, size - 2
            elif kind == "T":
                layers.append(conv_block(channels, out_channels, 1, 0, block_dropout, order, bias, norm))
                channels = out_channels
            elif kind == "M":
                layers.append(nn.MaxPool2d(2, 2))
                if dropout_after == "pool" and dropout > 0:
                    layers.append(nn.Dropout(dropout))
                size //= 2
            else:
                layers.append(nn.AdaptiveAvgPool2d(1))
            if size < 1:
                raise ValueError(f"arch {arch!r} shrinks a 28x28 input to nothing; use fewer C or M layers")
        self.features = nn.Sequential(*layers)
        self.head = nn.Conv2d(channels, num_classes, 1, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.log_softmax(self.head(self.features(x)).flatten(1), dim=1)


_MEANINGS = {"C": "3x3 conv block, no padding (the map shrinks by 2)", "P": "3x3 conv block, padding 1 (same size)",
             "T": "1x1 conv block (mixes channels)",
             "D": "depthwise-separable 3x3 block: a 3x3 conv per channel, then a 1x1 conv (the map shrinks by 2)",
             "M": "2x2 max-pool (halves the map)",
             "G": "global average pooling, then a 1x1 conv to the 10 classes"}


def describe_arch(arch: str) -> str:
    """A legend for an arch string: each kind of token it uses, what it means."""
    kinds = list(dict.fromkeys(kind for kind, _ in parse_arch(arch)))
    lines = [f"{arch}   (a conv block is conv -> BatchNorm/ReLU; the number is its output channels)"]
    lines += [f"  {kind + ('<n>' if kind in 'CPTD' else ''):<5} {_MEANINGS[kind]}" for kind in kinds]
    return "\n".join(lines)


def build_model(config) -> DrillNet:
    return DrillNet(config.arch, config.dropout, config.block_order, bias=config.conv_bias,
                    dropout_after=config.dropout_after, bn_momentum=config.bn_momentum,
                    ghost_batch=config.ghost_batch)


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


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
