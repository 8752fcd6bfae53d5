"""Command line: `python -m mnist_drill {prepare-data,summary,train,seeds,sweep,report}`.

Every command prints what it does; bad arguments get argparse's error (exit 2), and known failures
(no MNIST, no such device) one line on stderr (exit 1 and 2), never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace

from . import config as cfg
from .data import MnistUnavailable, ensure_mnist
from .engine import DeviceUnavailable
from .paths import RESULTS_DIR


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {value}")
    return value


def step_number(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = None
    if value not in cfg.STEPS:
        raise argparse.ArgumentTypeError(f"unknown step {text!r}; choose one of {sorted(cfg.STEPS)}")
    return value


def sweep_step(text: str) -> int:
    value = step_number(text)
    if value not in cfg.SWEEPS:
        raise argparse.ArgumentTypeError(f"step {value} has no sweep; steps with one: {sorted(cfg.SWEEPS)}")
    return value


def device_name(text: str) -> str:
    if text.split(":")[0] not in ("auto", "cpu", "cuda", "mps"):
        raise argparse.ArgumentTypeError(f"unknown device {text!r}; use auto, cpu, cuda, cuda:N or mps")
    return text


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m mnist_drill", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sub.add_parser("prepare-data", help="get MNIST into data/MNIST/raw and verify it")

    p = sub.add_parser("summary", help="torchsummary table, receptive fields and config of a step")
    p.add_argument("--step", type=step_number, default=cfg.LAST_STEP, help="step number (default: last)")

    def run_options(p, default_epochs_help):
        p.add_argument("--step", type=step_number, default=cfg.LAST_STEP, help="step number (default: last)")
        p.add_argument("--variant", help="a named variant of the step (config.VARIANTS), e.g. --step 5 --variant small")
        p.add_argument("--epochs", type=positive_int, help=default_epochs_help)
        p.add_argument("--pipeline", choices=["fast", "torchvision"], help="input pipeline (default: the step's)")
        p.add_argument("--split", choices=["test", "val"],
                       help="'val' trains on the first 50k images and reports on the last 10k")
        p.add_argument("--device", type=device_name, default="auto", help="auto (cuda, mps, cpu), cpu, cuda, mps")
        p.add_argument("--smoke", action="store_true", help="1 epoch on 2k images: checks the set-up, saves nothing")
        p.add_argument("--no-progress", action="store_true", help="no tqdm bars (logs stay)")

    p = sub.add_parser("train", help="train one step and save its History under results/")
    run_options(p, "epochs (default: the step's, 15)")
    p.add_argument("--seed", type=int, help="random seed (default: the step's, 1)")

    p = sub.add_parser("seeds", help="train one step with several seeds and summarise them")
    run_options(p, "epochs (default: the step's, 15)")
    p.add_argument("--seeds", type=positive_int, default=5, help="how many seeds (default: 5)")
    p.add_argument("--first-seed", type=int, default=1, help="seeds run from this one up (default: 1)")

    p = sub.add_parser("sweep", help="a step's candidate variants on the validation split (how it was chosen)")
    p.add_argument("--step", type=sweep_step, required=True, help=f"one of {sorted(cfg.SWEEPS)}")
    p.add_argument("--device", type=device_name, default="auto")
    p.add_argument("--smoke", action="store_true", help="tiny runs: checks the set-up, saves nothing")
    p.add_argument("--no-progress", action="store_true")

    sub.add_parser("report", help="tables and comparison plot from results/, written into the README")
    return parser


def run_config(args) -> cfg.Config:
    config = args.base  # the step, or its variant, resolved once in main()
    overrides = {k: v for k, v in (("epochs", args.epochs), ("pipeline", args.pipeline),
                                   ("split", args.split), ("seed", getattr(args, "seed", None)))
                 if v is not None}
    config = replace(config, **overrides)
    return cfg.smoke(config) if args.smoke else config


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if hasattr(args, "variant"):  # train and seeds: resolve the step and its variant, or fail like argparse
        try:
            args.base = cfg.variant(args.step, args.variant) if args.variant else cfg.STEPS[args.step]
        except ValueError as e:
            parser.error(str(e))
    try:
        return COMMANDS[args.command](args)
    except MnistUnavailable as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except DeviceUnavailable as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: results written so far are complete; nothing half-written was left", file=sys.stderr)
        return 130


def cmd_prepare_data(args) -> int:
    path = ensure_mnist()
    print(f"MNIST ready in {path}")
    return 0


def cmd_summary(args) -> int:
    from .models import build_model, count_params, format_receptive_fields, receptive_fields, summary_text

    config = cfg.STEPS[args.step]
    previous = cfg.STEPS.get(args.step - 1)
    print(cfg.format_diff(previous, config) if previous else f"{config.name}: the first step\n{config}")
    model = build_model(config)
    print(summary_text(model))
    print(format_receptive_fields(receptive_fields(model)))
    print(f"Parameters: {count_params(model):,}")
    return 0


def cmd_train(args) -> int:
    from .engine import fit, pick_device

    pick_device(args.device)  # fail before any work when the device is not there
    config = run_config(args)
    print(f"Training {config.name} (step {args.step}) for {config.epochs} epoch(s), seed {config.seed}, "
          f"{config.pipeline} pipeline, {config.split} split")
    # results/<step>.json belongs to the step's notebook (its Result cites it); CLI runs go to results/runs/
    folder = RESULTS_DIR / "runs" / ("val" if config.split == "val" else "")
    save_to = None if args.smoke else folder / f"{config.name}_seed{config.seed}.json"
    fit(config, device=args.device, progress=not args.no_progress, save_to=save_to)
    return 0


def cmd_seeds(args) -> int:
    from .engine import pick_device
    from .seeds import run_seeds

    pick_device(args.device)
    config = run_config(args)
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    run_seeds(config, seeds, device=args.device, save=not args.smoke, progress=not args.no_progress)
    return 0


def cmd_sweep(args) -> int:
    from .engine import pick_device
    from .seeds import run_sweep

    pick_device(args.device)
    config = cfg.STEPS[args.step]
    variants = cfg.SWEEPS[args.step]
    if args.smoke:
        config = cfg.smoke(config)
    run_sweep(config, variants, device=args.device, save=not args.smoke, progress=not args.no_progress)
    return 0


def cmd_report(args) -> int:
    from .report import write_report

    write_report()
    return 0


COMMANDS = {"prepare-data": cmd_prepare_data, "summary": cmd_summary, "train": cmd_train,
            "seeds": cmd_seeds, "sweep": cmd_sweep, "report": cmd_report}

if __name__ == "__main__":
    sys.exit(main())
