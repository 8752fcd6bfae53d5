"""The weight average, before and after: the hand-written EMA this project used to have against torch's
AveragedModel (train.weight_average), side by side in one run, same step, same seed, same epochs.

Both keep an exponential moving average of the weights and BatchNorm statistics with the decay warmed up as
(1 + t) / (10 + t); they differ only in the first update (the hand-written one blends into the initial weights,
AveragedModel copies) and in the per-batch bookkeeping, which is what this measures.
Usage: python benchmarks/average.py [--epochs N] [--out results/benchmark_average.json]
"""

from __future__ import annotations

import argparse
import copy
import time
from dataclasses import replace
from unittest import mock

import torch

from mnist_drill import train
from mnist_drill.config import LAST_STEP, STEPS
from mnist_drill.fileio import write_json
from mnist_drill.lab.fetch import ensure_mnist
from mnist_drill.lab.layout import benchmark_path, display
from mnist_drill.lab.provenance import machine_fingerprint, provenance


class HandWrittenAverage:
    """The project's EMA before it moved to AveragedModel (kept here as the 'before' of the measurement)."""

    def __init__(self, model: torch.nn.Module, decay: float, warm_up: float = 10.0):  # train.weight_average's call
        self.module = copy.deepcopy(model).eval().requires_grad_(False)
        self.decay, self.warm_up, self.updates = decay, warm_up, 0
        pairs = [(a, m) for a, m in zip(self.module.state_dict().values(), model.state_dict().values(), strict=True)
                 if a.is_floating_point()]
        self._averaged, self._live = [a for a, _ in pairs], [m for _, m in pairs]

    @torch.no_grad()
    def update_parameters(self, model) -> None:
        self.updates += 1
        decay = min(self.decay, (1 + self.updates) / (self.warm_up + self.updates))
        torch._foreach_lerp_(self._averaged, self._live, 1.0 - decay)


def timed(config, label: str, make_average) -> dict:
    with mock.patch.object(train, "weight_average", make_average):  # what fit builds its average with
        start = time.perf_counter()
        history = train.fit(config, device="cpu", progress=False, log=lambda line: print("   ", line, flush=True))
        wall = time.perf_counter() - start
    return {"label": label, "epochs": config.epochs, "seconds_per_epoch": history.seconds_per_epoch,
            "wall_seconds": wall, "eval_acc": history.one_view}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3, help="epochs of the final step's schedule to run (default 3)")
    parser.add_argument("--out", default=str(benchmark_path("benchmark_average")))
    args = parser.parse_args(argv)
    config = replace(STEPS[LAST_STEP], epochs=args.epochs)
    ensure_mnist()
    rows = [timed(config, "hand-written EMA (before)", HandWrittenAverage),
            timed(config, "AveragedModel + warm-up (after)", train.weight_average),
            timed(replace(config, ema=0.0), "no average", train.weight_average)]
    for r in rows:
        print(f"{r['label']:<34} {r['seconds_per_epoch']:6.2f} s/epoch  {r['wall_seconds']:6.1f} s wall")
    ratio = rows[1]["seconds_per_epoch"] / rows[0]["seconds_per_epoch"]
    print(f"AveragedModel / hand-written, per epoch: {ratio:.3f}")
    result = {"step": config.name, "rows": rows, "after_over_before_per_epoch": ratio,
              "cpu_threads": torch.get_num_threads(), "machine": machine_fingerprint("cpu"), **provenance()}
    print(f"saved {display(write_json(args.out, result))}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
