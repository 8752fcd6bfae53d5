"""Speed, measured side by side in one run on this machine:

1. the reference-style set-up: the step-3 model on the classic torchvision DataLoader pipeline
   (transforms.RandomRotation on PIL images, batch 128, num_workers=2);
2. the same step-3 model on the fast pipeline (tensors on the device, batched rotation);
3. the final step's full run (all its epochs, evaluation included), wall time from the call to fit;
4. with --also-variant NAME, the full run of that variant of the final step, measured the same way: a candidate
   for the final step, against the speed guard, beside the step it would replace.

Rows 1 and 2 run --short-epochs epochs each (default 2) and compare seconds per epoch, evaluation
included; the ratio printed is row 1 over row 3 per epoch, and row 1 over row 2 (the pipeline alone).
Usage: python benchmarks/speed.py [--short-epochs N] [--device cpu|cuda] [--also-variant NAME]
                                  [--out results/benchmark.json]
"""

from __future__ import annotations

import argparse
import platform
import time
from dataclasses import replace

import torch

from mnist_drill.config import LAST_STEP, STEP_3, STEPS, variant
from mnist_drill.devices import pick_device
from mnist_drill.train import fit
from mnist_drill.fileio import write_json
from mnist_drill.lab.layout import benchmark_path, display
from mnist_drill.lab.provenance import machine_fingerprint, provenance
from mnist_drill.lab.results import first_consistent_epoch


def timed_fit(config, device, label):
    print(f"\n=== {label}: {config.name}, {config.pipeline} pipeline, {config.epochs} epoch(s) ===", flush=True)
    start = time.perf_counter()
    history = fit(config, device=device, progress=False, save_to=None,
                  log=lambda line: print("   ", line, flush=True))
    wall = time.perf_counter() - start
    return {"label": label, "step": config.name, "pipeline": config.pipeline, "epochs": config.epochs,
            "batch_size": config.batch_size, "num_workers": config.num_workers if config.pipeline != "fast" else 0,
            "params": history.params, "wall_seconds": wall, "seconds_per_epoch": wall / config.epochs,
            "eval_acc": history.one_view, "first_consistent_epoch": first_consistent_epoch(history)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--short-epochs", type=int, default=2, help="epochs for the two step-3 rows (default 2)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--also-variant", metavar="NAME", help="also time this variant of the final step's full run")
    parser.add_argument("--out", default=str(benchmark_path()))
    args = parser.parse_args(argv)
    if args.short_epochs <= 0:
        parser.error(f"--short-epochs must be > 0, got {args.short_epochs}")
    try:
        candidate = variant(LAST_STEP, args.also_variant) if args.also_variant else None
    except ValueError as e:
        parser.error(str(e))
    device = pick_device(args.device)
    final = STEPS[LAST_STEP]
    classic = replace(STEP_3, pipeline="torchvision", batch_size=128, num_workers=2, epochs=args.short_epochs)
    rows = [timed_fit(classic, device, "reference-style: step-3 model, torchvision DataLoader"),
            timed_fit(replace(classic, pipeline="fast"), device, "step-3 model, fast pipeline"),
            timed_fit(final, device, "final step, fast pipeline, full run")]
    if candidate is not None:
        rows.append(timed_fit(candidate, device, f"variant {args.also_variant}, full run"))
    base = rows[0]["seconds_per_epoch"]
    result = {
        "device": str(device) if device.type != "cuda" else torch.cuda.get_device_name(device),
        "cpu_threads": torch.get_num_threads(), "machine": platform.machine(),
        "fingerprint": machine_fingerprint(device), **provenance(),
        "rows": rows,
        "speedup_final_vs_seed_style_per_epoch": base / rows[2]["seconds_per_epoch"],
        "speedup_pipeline_alone_per_epoch": base / rows[1]["seconds_per_epoch"],
        "final_full_run_wall_seconds": rows[2]["wall_seconds"],
    }
    if candidate is not None:
        result["variant"] = args.also_variant
        result["variant_full_run_wall_seconds"] = rows[3]["wall_seconds"]
        result["speedup_variant_vs_seed_style_per_epoch"] = base / rows[3]["seconds_per_epoch"]
    print(f"\n{'set-up':<52} {'params':>7} {'epochs':>6} {'s/epoch':>8} {'wall s':>8}")
    for r in rows:
        print(f"{r['label']:<52} {r['params']:>7,} {r['epochs']:>6} {r['seconds_per_epoch']:>8.1f} "
              f"{r['wall_seconds']:>8.1f}")
    print(f"pipeline alone (same step-3 model):     {result['speedup_pipeline_alone_per_epoch']:.2f}x faster "
          "per epoch")
    print(f"final step vs reference-style set-up:  {result['speedup_final_vs_seed_style_per_epoch']:.2f}x faster "
          "per epoch")
    print(f"final step's full {final.epochs}-epoch run: {result['final_full_run_wall_seconds']:.1f} s wall "
          f"on {result['device']} ({result['cpu_threads']} threads)")
    if candidate is not None:
        print(f"variant {args.also_variant}'s full run: {result['variant_full_run_wall_seconds']:.1f} s wall, "
              f"{result['speedup_variant_vs_seed_style_per_epoch']:.2f}x faster per epoch than the reference-style "
              "set-up")
    print(f"saved {display(write_json(args.out, result))}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
