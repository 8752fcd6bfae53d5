"""Speed levers for the final step, each measured on its own, side by side in one run on this machine.

Each lever runs in a fresh process (so that process-wide settings, the allocator's and the thread count, cannot
leak into the next row), the levers take turns for --rounds rounds, and each row reports the median of its rounds:
on a shared 2-core virtual machine one timing of the same work moves by 20 % or more from one minute to the next.

Training rows time the final step's training step on real augmented batches of 128 (forward, backward, SGD with
Nesterov momentum, the scheduler, the weight average's update). Evaluation rows time reading 1,000 test images, one
view and five. The first row of each table is eager PyTorch, as `fit` runs today; every other row changes one thing.
Nothing is trained to the end; a lever goes into the training loop (train.py) only when it pays here and the final
step's seeds, re-made with it, show no accuracy traded.
Usage: python benchmarks/levers.py [--steps N] [--rounds R] [--out results/benchmark_levers.json]
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import json
import statistics
import subprocess
import sys
import time

TRAINING = {  # lever -> what it changes against eager PyTorch
    "eager": "nothing: eager PyTorch as `fit` runs it (NCHW tensors, glibc's default allocator)",
    "allocator": "glibc keeps freed memory (no page faults per step)",
    "channels-last": "model and batches in channels-last memory",
    "sgd-for-loop": "SGD foreach=False (one kernel per tensor)",
    "one-thread": "1 thread instead of the machine's",
    "compile": "torch.compile (inductor), after compiling",
    "batches-alone": "the augmented batches alone (draws, affine, normalise)",
}
EVALUATION = {
    "eval-eager": "one view and five, eager, batches of 250, as `fit` reads them",
    "eval-channels-last": "one view and five, model and images in channels-last",
    "eval-inference-mode": "one view and five, under inference_mode instead of no_grad",
}


def keep_freed_memory() -> None:
    """Ask glibc to keep freed blocks up to 1 GiB for reuse instead of returning them to the kernel (mallopt's
    M_MMAP_THRESHOLD and M_TRIM_THRESHOLD), so a step's activations are not faulted in again on the next step."""
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    if not (libc.mallopt(-3, 1 << 30) and libc.mallopt(-1, 1 << 30)):
        raise SystemExit("mallopt refused the allocator settings: this lever needs glibc")


def per_call(fn, repeats: int, warm_up: int = 5) -> float:
    """Seconds per call of `fn`, after a warm-up."""
    for _ in range(warm_up):
        fn()
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats


def measure(lever: str, steps: int) -> dict:
    """One lever's timings in this process: {"ms_per_step"} or {"one_view_ms", "five_views_ms"} per 1,000 images."""
    import torch
    import torch.nn.functional as F

    from mnist_drill.config import LAST_STEP, STEPS
    from mnist_drill.data import make_loaders
    from mnist_drill.models import build_model
    from mnist_drill.train import average_views, make_optimizer, set_seed, view_log_probs, weight_average

    config = STEPS[LAST_STEP]
    device = torch.device("cpu")
    if lever == "allocator":
        keep_freed_memory()
    if lever == "one-thread":
        torch.set_num_threads(1)
    channels_last = lever in ("channels-last", "eval-channels-last")
    loaders = make_loaders(config, device, set_seed(1))
    set_seed(1)
    model = build_model(config)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)

    def batches():
        while True:
            for x, y in loaders.train:
                yield (x.contiguous(memory_format=torch.channels_last) if channels_last else x), y

    if lever.startswith("eval-"):
        model.eval()
        background = -loaders.mean / loaders.std
        images = [x for x, _ in loaders.eval][:4]
        if channels_last:
            images = [x.contiguous(memory_format=torch.channels_last) for x in images]
        context = torch.inference_mode if lever == "eval-inference-mode" else torch.no_grad
        with context():
            one = per_call(lambda: [model(x) for x in images], 10, 2)
            five = per_call(lambda: [average_views(view_log_probs(model, x, 1, background)) for x in images], 5, 1)
        return {"one_view_ms": 1000 * one, "five_views_ms": 1000 * five}

    feed = batches()
    if lever == "batches-alone":
        return {"ms_per_step": 1000 * per_call(lambda: next(feed), steps)}
    optimizer, scheduler, _ = make_optimizer(model, config, len(loaders.train))
    if lever == "sgd-for-loop":
        for group in optimizer.param_groups:
            group["foreach"] = False
    average = weight_average(model, config.ema, config.ema_warmup)
    forward = torch.compile(model) if lever == "compile" else model

    def step():
        x, y = next(feed)
        optimizer.zero_grad(set_to_none=True)
        loss = F.nll_loss(forward(x), y)
        loss.backward()
        optimizer.step()
        scheduler.step()
        average.update_parameters(model)

    result = {}
    if lever == "compile":
        start = time.perf_counter()
        step()
        result["compile_s"] = time.perf_counter() - start
    result["ms_per_step"] = 1000 * per_call(step, steps)
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=80, help="timed training steps per row and round (default 80)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; each row reports its median (default 3)")
    parser.add_argument("--only", metavar="LEVER", help=argparse.SUPPRESS)  # a worker: one lever, JSON on stdout
    parser.add_argument("--out", default=None, help="where to save the table (default results/benchmark_levers.json)")
    args = parser.parse_args(argv)
    if args.only:
        print(json.dumps(measure(args.only, args.steps)))
        return 0
    if args.steps <= 0 or args.rounds <= 0:
        parser.error("--steps and --rounds must be > 0")

    from mnist_drill.config import LAST_STEP, STEPS, training_images
    from mnist_drill.fileio import write_json
    from mnist_drill.lab.fetch import ensure_mnist
    from mnist_drill.lab.layout import benchmark_path, display
    from mnist_drill.lab.provenance import machine_fingerprint, provenance
    from mnist_drill.lab.results import format_table

    final = STEPS[LAST_STEP]
    ensure_mnist()  # once, here: the workers read the files it has checked
    steps_per_epoch = -(-training_images(final) // final.batch_size)  # batches per epoch, the last one partial
    runs = {lever: [] for lever in (*TRAINING, *EVALUATION)}
    for round_number in range(1, args.rounds + 1):
        for lever in runs:
            done = subprocess.run([sys.executable, __file__, "--only", lever, "--steps", str(args.steps)],
                                  capture_output=True, text=True)
            if done.returncode != 0:
                raise SystemExit(f"lever {lever!r} failed: {done.stderr.strip().splitlines()[-1]}")
            runs[lever].append(json.loads(done.stdout.strip().splitlines()[-1]))
            print(f"round {round_number}/{args.rounds} {lever:<20} {runs[lever][-1]}", flush=True)

    def median(lever, key):
        return statistics.median(run[key] for run in runs[lever])

    eager = median("eager", "ms_per_step")
    training = [{"lever": lever, "change": TRAINING[lever], "ms_per_step": median(lever, "ms_per_step"),
                 "train_s_per_epoch": median(lever, "ms_per_step") * steps_per_epoch / 1000,
                 "ratio": eager / median(lever, "ms_per_step"),
                 "rounds_ms": [run["ms_per_step"] for run in runs[lever]],
                 **({"compile_s": median(lever, "compile_s")} if lever == "compile" else {})}
                for lever in TRAINING]
    base_one, base_five = median("eval-eager", "one_view_ms"), median("eval-eager", "five_views_ms")
    evaluation = [{"lever": lever, "change": EVALUATION[lever], "one_view_ms_per_1000": median(lever, "one_view_ms"),
                   "five_views_ms_per_1000": median(lever, "five_views_ms"),
                   "ratio_one_view": base_one / median(lever, "one_view_ms"),
                   "ratio_five_views": base_five / median(lever, "five_views_ms")} for lever in EVALUATION]
    print(format_table(["training lever", "ms/step", "train s/epoch", "ratio to eager"],
                       [[r["change"], f"{r['ms_per_step']:.2f}", f"{r['train_s_per_epoch']:.2f}", f"{r['ratio']:.2f}"]
                        for r in training]))
    print(format_table(["evaluation lever", "one view ms/1,000", "five views ms/1,000", "ratio (one, five)"],
                       [[e["change"], f"{e['one_view_ms_per_1000']:.1f}", f"{e['five_views_ms_per_1000']:.1f}",
                         f"{e['ratio_one_view']:.2f}, {e['ratio_five_views']:.2f}"] for e in evaluation]))
    result = {"step": final.name, "steps_timed": args.steps, "rounds": args.rounds, "statistic": "median of rounds",
              "training": training, "evaluation": evaluation, "machine": machine_fingerprint("cpu"), **provenance()}
    out = args.out or benchmark_path("benchmark_levers")
    print(f"saved {display(write_json(out, result))}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
