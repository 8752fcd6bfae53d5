"""The drill's models: one conv block, a network described by a short layer spec, and helpers.

A spec is a space-separated list of tokens, read left to right:
  C<n>  3x3 conv block, no padding (conv -> ReLU -> BatchNorm -> dropout, or BatchNorm before the ReLU
        with order="bn-relu"), n output channels
  P<n>  3x3 conv block with padding 1 (keeps the size)
  T<n>  1x1 conv block (a transition that mixes channels cheaply)
  D<n>  depthwise-separable 3x3 block, no padding: a 3x3 conv per input channel, then a 1x1 conv to n channels
        (9 x in + in x n weights instead of 9 x in x n), then the BatchNorm/ReLU of a conv block
  M     2x2 max-pool
  S     2x2 max-pool at stride 1, then every later conv dilated by 2 (Yu et al. 2017, "Dilated residual networks"):
        the map keeps its resolution and each later conv reads every second pixel, as it would on a pooled map, so
        the GAP averages over the four ways M could have subsampled; no parameters, about 3x the multiply-adds
  G     global average pooling
After G comes the head: a plain 1x1 conv to the 10 classes, in place of a fully connected layer.
"""

from __future__ import annotations

import re

import torch
import torch.nn.functional as F
from torch import nn

from .config import BLOCK_ORDERS

NUM_CLASSES = 10
INPUT_SIZE = (1, 28, 28)
_TOKEN = re.compile(r"^(?:(?P<kind>[CPTD])(?P<channels>[1-9]\d*)|(?P<op>[MSG]))$")


def conv_block(in_channels: int, out_channels: int, kernel_size: int = 3, padding: int = 0,
               dropout: float = 0.0, order: str = "relu-bn", bias: bool = False, dilation: int = 1) -> nn.Sequential:
    """conv -> ReLU -> BatchNorm -> dropout, the reference's order (BN after the ReLU), or conv -> BN -> ReLU."""
    if order not in BLOCK_ORDERS:
        raise ValueError(f"unknown block order {order!r}; use one of {BLOCK_ORDERS}")
    norm_act = [nn.ReLU(), nn.BatchNorm2d(out_channels)]
    layers = [nn.Conv2d(in_channels, out_channels, kernel_size, padding=padding, bias=bias, dilation=dilation),
              *(norm_act if order == "relu-bn" else norm_act[::-1])]
    if dropout > 0:
        layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


def separable_block(in_channels: int, out_channels: int, dropout: float = 0.0,
                    order: str = "relu-bn", dilation: int = 1) -> nn.Sequential:
    """A 3x3 depthwise conv (one filter per input channel, no padding) and a 1x1 conv to `out_channels`, with no
    activation between them (Xception's form), then the BatchNorm/ReLU/dropout of `conv_block`."""
    block = conv_block(in_channels, out_channels, 1, 0, dropout, order)
    depthwise = nn.Conv2d(in_channels, in_channels, 3, groups=in_channels, bias=False, dilation=dilation)
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
            raise ValueError(f"bad token {token!r} in arch {arch!r}; use C<n>, P<n>, T<n>, D<n>, M, S or G")
        parsed.append((match["kind"], int(match["channels"])) if match["kind"] else (match["op"], 0))
    if [kind for kind, _ in parsed].count("G") != 1 or parsed[-1][0] != "G":
        raise ValueError(f"arch {arch!r} must end with exactly one G (global average pooling)")
    return parsed


class DrillNet(nn.Module):
    """A plain stack of conv blocks and pools, GAP, then a 1x1 conv head; outputs log-probabilities."""

    def __init__(self, arch: str, dropout: float = 0.0, order: str = "relu-bn", num_classes: int = NUM_CLASSES,
                 bias: bool = False, dropout_after: str = "conv"):
        """bias: a bias in every conv and the head; dropout_after: "conv" (after every conv block) or "pool" (after
        every max-pool instead)."""
        super().__init__()
        self.arch = arch
        layers, channels, size = [], INPUT_SIZE[0], INPUT_SIZE[1]
        block_dropout = dropout if dropout_after == "conv" else 0.0
        d = 1  # the dilation of the convs from here on: 2 after S
        for kind, out_channels in parse_arch(arch):
            if kind in "CP":
                layers.append(conv_block(channels, out_channels, 3, d if kind == "P" else 0, block_dropout, order, bias,
                                         d))
                channels, size = out_channels, size - 2 * d * (kind == "C")
            elif kind == "D":
                layers.append(separable_block(channels, out_channels, block_dropout, order, d))
                channels, size = out_channels, size - 2 * d
            elif kind == "T":
                layers.append(conv_block(channels, out_channels, 1, 0, block_dropout, order, bias))
                channels = out_channels
            elif kind in "MS":
                if d > 1:
                    raise ValueError(f"arch {arch!r} pools after S; S keeps the resolution: make it the last pool")
                layers.append(nn.MaxPool2d(2, 2 if kind == "M" else 1))
                if dropout_after == "pool" and dropout > 0:
                    layers.append(nn.Dropout(dropout))
                size, d = (size // 2, 1) if kind == "M" else (size - 1, 2)
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
             "S": "2x2 max-pool at stride 1, every later conv dilated by 2 (keeps the map; reads as if pooled)",
             "G": "global average pooling, then a 1x1 conv to the 10 classes"}


def describe_arch(arch: str) -> str:
    """A legend for an arch string: each kind of token it uses, what it means."""
    kinds = list(dict.fromkeys(kind for kind, _ in parse_arch(arch)))
    lines = [f"{arch}   (a conv block is conv -> BatchNorm/ReLU; the number is its output channels)"]
    lines += [f"  {kind + ('<n>' if kind in 'CPTD' else ''):<5} {_MEANINGS[kind]}" for kind in kinds]
    return "\n".join(lines)


def build_model(config) -> DrillNet:
    return DrillNet(config.arch, config.dropout, config.block_order, bias=config.conv_bias,
                    dropout_after=config.dropout_after)


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
