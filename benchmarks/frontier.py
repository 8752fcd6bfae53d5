"""Seconds per run of every recipe in the frontier, measured on this one machine, side by side in one run.

The frontier's stored runs were made on several machines over the project's life, so their own seconds compare only
where the fingerprints match. Here each recipe (every step and variant with stored seeds) trains --batches batches of
its own augmented data after --warm-up batches, and reads the 10,000 test images once, on this machine, with the
threads torch has; its seconds per run are estimated as epochs x (batches per epoch x seconds per batch + seconds per
reading). Recipes take turns for --rounds rounds and each reports the median. Nothing is trained to the end.
Usage: python benchmarks/frontier.py [--batches N] [--warm-up N] [--rounds R] [--out results/benchmark_frontier.json]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from mnist_drill.data import make_loaders
from mnist_drill.fileio import write_json
from mnist_drill.lab.fetch import ensure_mnist
from mnist_drill.lab.layout import benchmark_path, display, seeds_dir, summary_path
from mnist_drill.lab.provenance import machine_fingerprint, provenance
from mnist_drill.lab.report import cited_seed_configs
from mnist_drill.models import build_model
from mnist_drill.train import evaluate, make_optimizer, set_seed, weight_average


def time_recipe(config, batches: int, warm_up: int) -> tuple[float, float, int]:
    """(seconds per training batch, seconds per reading of the evaluation set, batches per epoch)."""
    generator = set_seed(1)
    loaders = make_loaders(config, "cpu", generator)
    model = build_model(config)
    optimizer, scheduler, per_batch = make_optimizer(model, config, len(loaders.train))
    average = weight_average(model, config.ema, config.ema_warmup) if config.ema else None  # its update is a cost too
    if warm_up + batches > len(loaders.train):
        raise SystemExit(f"--warm-up + --batches is more than an epoch's {len(loaders.train)} batches of {config.name}")
    model.train()
    batch_iter = iter(loaders.train)
    for number in range(warm_up + batches):
        if number == warm_up:
            start = time.perf_counter()
        x, y = next(batch_iter)
        optimizer.zero_grad(set_to_none=True)
        F.nll_loss(model(x), y).backward()
        optimizer.step()
        if per_batch:
            scheduler.step()
        if average is not None:
            average.update_parameters(model)
    per_batch_seconds = (time.perf_counter() - start) / batches
    start = time.perf_counter()
    evaluate(average.module if average else model, loaders.eval, config.tta_shift, -loaders.mean / loaders.std)
    return per_batch_seconds, time.perf_counter() - start, len(loaders.train)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=40, help="timed training batches per recipe (default 40)")
    parser.add_argument("--warm-up", type=int, default=5, help="untimed batches first (default 5)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds, the recipes taking turns (default 3)")
    parser.add_argument("--out", default=str(benchmark_path("benchmark_frontier")))
    args = parser.parse_args(argv)
    if min(args.batches, args.rounds) <= 0 or args.warm_up < 0:
        parser.error("--batches and --rounds must be > 0 and --warm-up >= 0")
    recipes = [c for _, _, c in cited_seed_configs() if summary_path(seeds_dir(c.name)).is_file()]
    ensure_mnist()
    timings = {c.name: [] for c in recipes}
    for round_number in range(1, args.rounds + 1):
        for config in recipes:
            batch, reading, per_epoch = time_recipe(config, args.batches, args.warm_up)
            timings[config.name].append(config.epochs * (per_epoch * batch + reading))
            print(f"round {round_number}: {config.name}: {timings[config.name][-1]:.0f} s per run (estimated)",
                  flush=True)
    rows = [{"name": name, "seconds_per_run": statistics.median(values), "rounds": values}
            for name, values in timings.items()]
    result = {"rows": rows, "batches": args.batches, "warm_up": args.warm_up, "rounds": args.rounds,
              "threads": torch.get_num_threads(), "machine": machine_fingerprint("cpu"), **provenance()}
    print(f"saved to {display(write_json(args.out, result))}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
