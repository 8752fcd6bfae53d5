"""Speed levers for the final step, each measured on its own, side by side in one run on this machine.

Each row times the same work, the final step's model on real augmented batches of 128: a training step (forward,
backward, SGD with Nesterov momentum, the weight average's update) and the evaluation of 1,000 test images (one view
and five), with one lever changed against the eager baseline. Nothing is trained to the end and nothing is stored
but the table: a lever that pays goes into the engine only when the final step's seeds show no accuracy traded.
Usage: python benchmarks/levers.py [--steps N] [--compile] [--out results/benchmark_levers.json]
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F

from mnist_drill.averaging import weight_average
from mnist_drill.config import FINAL
from mnist_drill.engine import make_optimizer, set_seed
from mnist_drill.evaluation import average_views, view_log_probs
from mnist_drill.fileio import write_json
from mnist_drill.layout import benchmark_path, display
from mnist_drill.loaders import make_loaders
from mnist_drill.models import build_model
from mnist_drill.provenance import machine_fingerprint, provenance
from mnist_drill.results import format_table


def per_call(fn, repeats: int, warm_up: int = 5) -> float:
    """Seconds per call of `fn`, after a warm-up."""
    for _ in range(warm_up):
        fn()
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats


def training_step(model, optimizer, scheduler, average, batches, channels_last=False):
    def step():
        x, y = next(batches)
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        optimizer.zero_grad(set_to_none=True)
        loss = F.nll_loss(model(x), y)
        loss.backward()
        optimizer.step()
        scheduler.step()
        average.update_parameters(model)
    return step


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60, help="timed training steps per row (default 60)")
    parser.add_argument("--compile", action="store_true", help="also time torch.compile (tens of seconds to compile)")
    parser.add_argument("--out", default=str(benchmark_path("benchmark_levers")))
    args = parser.parse_args(argv)
    config = FINAL
    loaders = make_loaders(config, torch.device("cpu"), set_seed(1))
    steps_per_epoch = len(loaders.train)

    def fresh(channels_last=False, compiled=False, foreach=None):
        set_seed(1)
        model = build_model(config)
        if channels_last:
            model = model.to(memory_format=torch.channels_last)
        optimizer, scheduler, _ = make_optimizer(model, config, steps_per_epoch)
        if foreach is not None:
            for group in optimizer.param_groups:
                group["foreach"] = foreach
        average = weight_average(model, config.ema, config.ema_warmup)
        return (torch.compile(model) if compiled else model), optimizer, scheduler, average

    def batches():
        while True:
            yield from loaders.train

    rows = []

    def row(lever, seconds, base=None):
        per_epoch = seconds * steps_per_epoch
        rows.append({"lever": lever, "ms_per_step": 1000 * seconds, "train_s_per_epoch": per_epoch,
                     "ratio": (base / seconds) if base else 1.0})
        print(f"{lever:<44} {1000 * seconds:7.2f} ms/step  {per_epoch:6.2f} s/epoch", flush=True)

    eager = per_call(training_step(*fresh(), batches()), args.steps)
    row("eager (the engine today)", eager)
    row("channels-last memory", per_call(training_step(*fresh(channels_last=True), batches(), True), args.steps),
        eager)
    row("SGD foreach=False (one kernel per tensor)", per_call(training_step(*fresh(foreach=False), batches()),
                                                               args.steps), eager)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    row("1 thread instead of " + str(threads), per_call(training_step(*fresh(), batches()), args.steps), eager)
    torch.set_num_threads(threads)
    feed = batches()
    row("the augmented batch alone (draws, affine, normalise)", per_call(lambda: next(feed), args.steps), eager)
    if args.compile:
        model, optimizer, scheduler, average = fresh(compiled=True)
        start = time.perf_counter()
        step = training_step(model, optimizer, scheduler, average, batches())
        step()
        print(f"torch.compile: first step {time.perf_counter() - start:.1f} s (the compile a first run pays)")
        row("torch.compile (inductor), after compiling", per_call(step, args.steps), eager)

    # evaluation: 1,000 test images in batches of 250, one view and five
    model = fresh()[0].eval()
    images = [x for x, _ in loaders.eval][:4]
    background = -loaders.mean / loaders.std
    with torch.no_grad():
        one = per_call(lambda: [model(x) for x in images], 5, 1)
        five = per_call(lambda: [average_views(view_log_probs(model, x, 1, background)) for x in images], 5, 1)
        stacked = torch.cat(images)
        one_batch = per_call(lambda: model(stacked), 5, 1)
    with torch.inference_mode():
        inference = per_call(lambda: [model(x) for x in images], 5, 1)
    evaluation = [{"reading": label, "ms_per_1000_images": 1000 * s} for label, s in (
        ("one view, batches of 250 (the engine today)", one), ("five views, batches of 250", five),
        ("one view, one batch of 1,000", one_batch), ("one view, inference_mode", inference))]
    print(format_table(["lever", "ms/step", "train s/epoch", "ratio"],
                       [[r["lever"], f"{r['ms_per_step']:.2f}", f"{r['train_s_per_epoch']:.2f}", f"{r['ratio']:.2f}"]
                        for r in rows]))
    print(format_table(["evaluation", "ms per 1,000 images"],
                       [[e["reading"], f"{e['ms_per_1000_images']:.1f}"] for e in evaluation]))
    result = {"step": config.name, "steps_timed": args.steps, "training": rows, "evaluation": evaluation,
              "machine": machine_fingerprint("cpu"), **provenance()}
    print(f"saved {display(write_json(args.out, result))}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
