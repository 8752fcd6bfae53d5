"""Speed, measured side by side in one run on this machine:

1. the reference-style set-up: the step-3 model on the classic torchvision DataLoader pipeline, kept here and nowhere
   else (transforms.RandomRotation on PIL images, batch 128, num_workers=2);
2. the same step-3 model on the package's pipeline (tensors on the device, batched rotation);
3. the final step's full run (all its epochs, evaluation included), wall time from the call to fit;
4. with --also-variant NAME, the full run of that variant of the final step, measured the same way: a candidate
   for the final step, against the speed guard, beside the step it would replace.

Every row is the core's `train.fit`; row 1 only hands it the classic loaders in place of `make_loaders`, so the same
model, optimizer, schedule and evaluation run on both pipelines. Rows 1 and 2 run --short-epochs epochs each (default
2) and compare seconds per epoch, evaluation included; the ratio printed is row 1 over row 3 per epoch, and row 1 over
row 2 (the pipeline alone).
Usage: python benchmarks/speed.py [--short-epochs N] [--device cpu|cuda] [--also-variant NAME]
                                  [--out results/benchmark.json]
"""

from __future__ import annotations

import argparse
import contextlib
import platform
import time
from dataclasses import replace
from pathlib import Path
from unittest import mock

import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms

from mnist_drill import train
from mnist_drill.config import LAST_STEP, STEP_3, STEPS
from mnist_drill.data import EVAL_BATCH, Loaders, split_arrays
from mnist_drill.devices import pick_device
from mnist_drill.fileio import write_json
from mnist_drill.lab.fetch import ensure_mnist
from mnist_drill.lab.layout import benchmark_path, display
from mnist_drill.lab.provenance import machine_fingerprint, provenance
from mnist_drill.lab.recipes import variant
from mnist_drill.paths import DATA_DIR

NUM_WORKERS = 2  # the reference's DataLoader workers


# --- the classic pipeline: the reference's Dataset + DataLoader with torchvision's transforms on PIL images ---------
class MnistImages(Dataset):
    """(image, label) pairs as torchvision.datasets.MNIST gives them (a mode "L" PIL image through `transform`, an
    int label), from the tensors of data.split_arrays."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, transform):
        self.images, self.labels, self.transform = images, labels, transform

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int):
        return self.transform(Image.fromarray(self.images[index].numpy())), int(self.labels[index])


class OnDevice:
    """A DataLoader's batches moved to the device, with its len(); no `draws` digest (fit records it as None)."""

    draws = None

    def __init__(self, loader: DataLoader, device):
        self.loader, self.device = loader, torch.device(device)

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self):
        for x, y in self.loader:
            yield x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)


def classic_loaders(config, device, generator: torch.Generator, root: Path = DATA_DIR) -> Loaders:
    """data.make_loaders's call and result, from torchvision DataLoaders: the same split, subsets and statistics."""
    if config.augment_p < 1 or config.brightness or config.contrast or config.crop_pad:
        raise ValueError("the classic pipeline draws rotation, shift and zoom only")
    images, labels, eval_images, eval_labels, eval_name, mean, std = split_arrays(config, root)
    if config.shift or config.scale:
        augmentation = [transforms.RandomAffine(config.rotation_deg,
                                                translate=(config.shift, config.shift) if config.shift else None,
                                                scale=(1 - config.scale, 1 + config.scale) if config.scale else None)]
    else:
        augmentation = [transforms.RandomRotation(config.rotation_deg)] if config.rotation_deg else []
    normalise = [transforms.ToTensor(), transforms.Normalize((mean,), (std,))]
    options = dict(num_workers=NUM_WORKERS, persistent_workers=NUM_WORKERS > 0,
                   pin_memory=torch.device(device).type == "cuda")
    train_set = MnistImages(images, labels, transforms.Compose(augmentation + normalise))
    eval_set = MnistImages(eval_images, eval_labels, transforms.Compose(normalise))
    return Loaders(OnDevice(DataLoader(train_set, config.batch_size, shuffle=True, generator=generator, **options),
                            device),
                   OnDevice(DataLoader(eval_set, EVAL_BATCH, **options), device), eval_name, mean, std)


# --- the measurement ------------------------------------------------------------------------------------------------
def timed_fit(config, device, label, classic: bool = False) -> dict:
    pipeline = "torchvision" if classic else "fast"
    print(f"\n=== {label}: {config.name}, {pipeline} pipeline, {config.epochs} epoch(s) ===", flush=True)
    swap = mock.patch.object(train, "make_loaders", classic_loaders) if classic else contextlib.nullcontext()
    with swap:
        start = time.perf_counter()
        history = train.fit(config, device=device, progress=False, log=lambda line: print("   ", line, flush=True))
        wall = time.perf_counter() - start
    assert (history.draws is None) == classic, "the classic pipeline was not the one trained (train.make_loaders?)"
    return {"label": label, "step": config.name, "pipeline": pipeline, "epochs": config.epochs,
            "batch_size": config.batch_size, "num_workers": NUM_WORKERS if classic else 0,
            "params": history.params, "wall_seconds": wall, "seconds_per_epoch": wall / config.epochs,
            "eval_acc": history.one_view, "first_consistent_epoch": train.first_consistent_epoch(history.one_view)}


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
    except ValueError as e:  # one line, before anything is timed
        parser.exit(2, f"{parser.prog}: error: {e}\n")
    device = pick_device(args.device)
    ensure_mnist()
    final = STEPS[LAST_STEP]
    short = replace(STEP_3, batch_size=128, epochs=args.short_epochs)
    rows = [timed_fit(short, device, "reference-style: step-3 model, torchvision DataLoader", classic=True),
            timed_fit(short, device, "step-3 model, fast pipeline"),
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
