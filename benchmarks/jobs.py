"""Several runs at once (--jobs) against one at a time, measured side by side in one run on this machine.

The same two runs (the final step, seeds 1 and 2, the first --epochs epochs on all 60,000 training images) are made
twice: one after the other in this process with every core's thread (--jobs 1 as it was), then side by side in two
processes with cores / 2 threads each (--jobs 2). The throughput is the training images of both runs over the wall
time, start-up of the worker processes included.
Usage: python benchmarks/jobs.py [--epochs N] [--out results/benchmark_jobs.json]
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import replace

import torch

from mnist_drill.config import LAST_STEP, STEPS
from mnist_drill.fileio import write_json
from mnist_drill.lab.layout import benchmark_path, display
from mnist_drill.lab.parallel import Run, run_all
from mnist_drill.lab.provenance import machine_fingerprint, provenance


def timed(runs: list[Run], jobs: int) -> float:
    start = time.perf_counter()
    run_all(runs, jobs, device="cpu", log=lambda line: print("   ", line, flush=True))
    return time.perf_counter() - start


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2, help="epochs of each run (default 2)")
    parser.add_argument("--out", default=str(benchmark_path("benchmark_jobs")))
    args = parser.parse_args(argv)
    if args.epochs <= 0:
        parser.error(f"--epochs must be > 0, got {args.epochs}")
    cores = os.cpu_count() or 1
    if cores < 2:
        parser.error("this machine has one core: --jobs 2 has nothing to share")
    final = STEPS[LAST_STEP]
    runs = [Run(f"seed {seed}", replace(final, seed=seed, epochs=args.epochs), None) for seed in (1, 2)]
    images = len(runs) * args.epochs * 60_000
    print(f"=== --jobs 1: {len(runs)} runs one after the other, {torch.get_num_threads()} threads ===", flush=True)
    one = timed(runs, 1)
    print(f"=== --jobs 2: {len(runs)} runs side by side, {max(1, cores // 2)} thread(s) each ===", flush=True)
    two = timed(runs, 2)
    rows = [{"jobs": jobs, "threads_per_run": threads, "wall_seconds": wall, "images_per_second": images / wall}
            for jobs, threads, wall in ((1, torch.get_num_threads(), one), (2, max(1, cores // 2), two))]
    result = {"config": final.name, "epochs": args.epochs, "runs": len(runs), "rows": rows, "ratio": one / two,
              "machine": machine_fingerprint("cpu"), **provenance()}
    for row in rows:
        print(f"--jobs {row['jobs']}: {row['wall_seconds']:.1f} s, {row['images_per_second']:,.0f} training images/s")
    print(f"--jobs 2 trains {one / two:.2f}x the images per second of --jobs 1")
    print(f"saved to {display(write_json(args.out, result))}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
