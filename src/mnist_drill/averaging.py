"""The weight average the final steps evaluate: an exponential moving average of the weights and BatchNorm
statistics, kept beside the live model by torch's AveragedModel."""

from __future__ import annotations

import torch
from torch.optim.swa_utils import AveragedModel


def weight_average(model: torch.nn.Module, decay: float, warm_up: float = 10.0) -> AveragedModel:
    """An exponential moving average of `model`'s weights and BatchNorm statistics (use_buffers=True).

    The update is get_ema_multi_avg_fn's lerp with the decay of update t warmed up as min(decay, (1 + t) / (w + t)),
    w = `warm_up` (w = 10 is TensorFlow's ExponentialMovingAverage with num_updates), so the first epochs are not
    dominated by the early weights; w = 1 is a constant decay. It reaches `decay` only at update
    t = (w * decay - 1) / (1 - decay): with w = 10, 8,990 for 0.999, beyond the 7,035 updates of 15 epochs at batch
    128, so there the average spans about t / 9 of the updates so far (about an epoch at epoch 10).
    """

    @torch.no_grad()
    def ema_with_warm_up(averaged: list, current: list, num_averaged: torch.Tensor) -> None:
        if not averaged[0].is_floating_point():  # num_batches_tracked: eval mode never reads it
            torch._foreach_copy_(averaged, current)
            return
        # this update's number (the first update copies the weights), read from the count AveragedModel keeps on the
        # CPU: `num_averaged` is its copy on the training device, and reading that would wait for the GPU every step
        t = int(average.n_averaged) + 1
        torch._foreach_lerp_(averaged, current, 1.0 - min(decay, (1 + t) / (warm_up + t)))

    average = AveragedModel(model, multi_avg_fn=ema_with_warm_up, use_buffers=True)
    average.module.eval().requires_grad_(False)
    return average


def uniform_average(model: torch.nn.Module) -> AveragedModel:
    """The plain mean of `model`'s weights and BatchNorm statistics over every update from the first (stochastic
    weight averaging, Izmailov et al. 2018): update n + 1 moves the average 1 / (n + 1) of the way to the weights."""

    @torch.no_grad()
    def mean(averaged: list, current: list, num_averaged: torch.Tensor) -> None:
        if not averaged[0].is_floating_point():
            torch._foreach_copy_(averaged, current)
            return
        torch._foreach_lerp_(averaged, current, 1.0 / (int(average.n_averaged) + 1))  # the count on the CPU

    average = AveragedModel(model, multi_avg_fn=mean, use_buffers=True)
    average.module.eval().requires_grad_(False)
    return average
