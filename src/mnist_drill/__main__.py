"""Command line: `python -m mnist_drill {prepare-data,summary,train,seeds,sweep,verify,report}`.

Every command prints what it does; bad input gets one line naming the problem and the fix (exit 2),
an unreachable MNIST or an unwritable results folder one line too (exit 1), never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import typing
from dataclasses import fields, replace

from . import config as cfg
from .lab import layout

# torch is imported under `interrupt_deferred`, so that even Ctrl-C during the first seconds (while torch
# loads) ends with one line, not a traceback

MAX_SEED = 2**32 - 1  # NumPy's seeds are 32-bit
CITED_SEEDS = 5  # `seeds --seeds 5` from seed 1 is what the README and notebooks cite
HELD_OUT_SEEDS = list(range(CITED_SEEDS + 1, 2 * CITED_SEEDS + 1))  # `--first-seed 6`: seeds no choice was made on


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {value}")
    return value


def seed_number(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"a seed must be in 0..{MAX_SEED} (2**32 - 1), got {value}")
    return value


def step_number(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = None
    if value not in cfg.STEPS:
        raise argparse.ArgumentTypeError(f"unknown step {text!r}; choose one of {sorted(cfg.STEPS)}")
    return value


def device_name(text: str) -> str:
    kind, _, index = text.partition(":")
    if kind not in ("auto", "cpu", "cuda", "mps") or (index and not (kind == "cuda" and index.isdigit())):
        raise argparse.ArgumentTypeError(f"unknown device {text!r}; use auto, cpu, cuda, cuda:N or mps")
    return text


_FIELD_TYPES = typing.get_type_hints(cfg.Config)
_SETTABLE = [f.name for f in fields(cfg.Config) if f.name not in ("name", "seed")]


def override(text: str) -> tuple[str, object]:
    """'field=value' -> (field, value parsed to the field's type)."""
    name, sep, raw = text.partition("=")
    name = name.strip()
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected field=value, got {text!r}")
    if name == "seed":
        raise argparse.ArgumentTypeError("the seed is not a --set field: use --seed N (train) "
                                         "or --first-seed N (seeds, sweep)")
    if name not in _SETTABLE:
        raise argparse.ArgumentTypeError(f"unknown Config field {name!r}; fields: {', '.join(_SETTABLE)}")
    kind, raw = _FIELD_TYPES[name], raw.strip()
    try:
        if kind is bool:
            if raw.lower() not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError
            return name, raw.lower() in ("true", "1", "yes")
        if kind == int | None:
            return name, None if raw.lower() == "none" else int(raw)
        return name, kind(raw)
    except ValueError:
        kind_name = getattr(kind, "__name__", str(kind))
        raise argparse.ArgumentTypeError(f"{name} takes a {kind_name}, got {raw!r}") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m mnist_drill", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sub.add_parser("prepare-data", help="get MNIST into data/MNIST/raw and verify it")

    p = sub.add_parser("summary", help="torchsummary table, receptive fields and config of a step")
    p.add_argument("--step", type=step_number, default=cfg.LAST_STEP, help="step number (default: last)")

    def common(p, *, step=True):
        if step:
            p.add_argument("--step", type=step_number, default=cfg.LAST_STEP, help="step number (default: last)")
            p.add_argument("--variant", help="a named variant of the step (config.VARIANTS), e.g. --variant 9.8k")
            p.add_argument("--epochs", type=positive_int, help="epochs (default: the step's, 15)")
            p.add_argument("--split", choices=["test", "val"],
                           help="'val' trains on the first 50k images and reports on the last 10k")
        p.add_argument("--set", dest="overrides", type=override, action="append", default=[], metavar="FIELD=VALUE",
                       help="override any Config field, e.g. --set lr=0.1 --set arch='C8 M C12 C16 G' (repeatable); "
                            "the run is stored as a scratch run")
        p.add_argument("--device", type=device_name, default="auto", help="auto (cuda, mps, cpu), cpu, cuda, mps")
        p.add_argument("--smoke", action="store_true", help="1 epoch on 2k images: checks the set-up, saves nothing")
        p.add_argument("--no-progress", action="store_true",
                       help="no tqdm bars (the epoch lines stay; seeds and sweep runs never show bars)")

    def jobs(p):
        p.add_argument("--jobs", type=positive_int,
                       help="runs side by side, each in its own process with cores/N threads (default: one per CPU "
                            "core on a CPU, 1 on a GPU); their epoch lines are prefixed with the run")

    p = sub.add_parser("train", help="train one step; its History goes to results/runs/ (scratch)")
    common(p)
    p.add_argument("--seed", type=seed_number, help="random seed (default: the step's, 1)")
    p.add_argument("--from", dest="from_run", metavar="HISTORY",
                   help="re-run a stored run from its own config (any step, variant or sweep candidate, even one "
                        "whose definition has left the code), e.g. results/val/sweeps/frontier/5_7k__affine/seed1.json")
    p.add_argument("--compile", action="store_true",
                   help="train through torch.compile (CUDA graphs on a GPU); falls back to eager, saying so, where it "
                        "cannot compile. Off by default: it did not pay on the 2-core CPUs measured")

    p = sub.add_parser("seeds", help="train one step with several seeds and summarise them")
    common(p)
    p.add_argument("--seeds", type=positive_int, default=CITED_SEEDS, help=f"how many seeds (default: {CITED_SEEDS})")
    p.add_argument("--first-seed", type=seed_number, default=1, help="seeds run from this one up (default: 1)")
    jobs(p)

    p = sub.add_parser("sweep", help="a sweep's candidates, several seeds each, on the validation split")
    p.add_argument("name", help="the sweep: its candidates are in results/val/sweeps/NAME/sweep.json")
    common(p, step=False)
    p.add_argument("--only", action="append", metavar="LABEL", help="run only this candidate (repeatable)")
    p.add_argument("--table", action="store_true", help="train nothing: print the table of the stored runs")
    p.add_argument("--seeds", type=positive_int, default=3, help="seeds per candidate (default: 3)")
    p.add_argument("--first-seed", type=seed_number, default=1, help="seeds run from this one up (default: 1)")
    p.add_argument("--until-fail", action="store_true",
                   help="a candidate that misses the target in the window starts no further seed (runs go seed by "
                        "seed across the candidates)")
    jobs(p)

    p = sub.add_parser("verify", help="re-run a stored run's first epochs at HEAD and compare, as strictly as this "
                                      "machine allows (exact on the same fingerprint, within measured bands elsewhere)")
    p.add_argument("path", nargs="?", help="a stored History (default: the last step's notebook run, "
                                           "results/<last step>.json)")
    p.add_argument("--epochs", type=positive_int, default=2, help="how many epochs to re-run (default: 2)")
    p.add_argument("--device", type=device_name, default="cpu", help="where to re-run (default: cpu)")
    p.add_argument("--strict", action="store_true", help="demand exact numbers even on another machine")

    sub.add_parser("report", help="tables and plots from results/, written into the README and notebooks")
    return parser


def resolve(args, parser) -> None:
    """Check the arguments as a whole; set args.config (train, seeds) and args.tag (what makes a run scratch)."""
    overrides = dict(args.overrides)
    for flag in ("epochs", "split"):
        value = getattr(args, flag, None)
        if value is not None:
            if flag in overrides:
                parser.error(f"--{flag} and --set {flag}=... both given; keep one")
            overrides[flag] = value
    if args.smoke and "epochs" in overrides:
        parser.error("--smoke always runs 1 epoch on 2k images; drop --epochs or --smoke")
    if hasattr(args, "seeds") and args.first_seed + args.seeds - 1 > MAX_SEED:
        parser.error(f"seeds {args.first_seed}..{args.first_seed + args.seeds - 1} go past {MAX_SEED}; "
                     "use a smaller --first-seed or fewer --seeds")
    args.override_dict = overrides
    if args.command == "sweep":
        try:
            from .models import build_model
            from .lab.sweeps import candidates, definition

            if args.table:  # trains nothing: an archived round's options need not exist any more
                definition(args.name)
            else:
                configs = candidates(args.name, overrides)
                for config in configs.values():  # every candidate must be valid
                    build_model(config)
                unknown = sorted(set(args.only or []) - set(configs))
                if unknown:
                    raise ValueError(f"sweep {args.name!r} has no candidate {unknown}; it has {list(configs)}")
        except ValueError as e:
            parser.error(str(e))
        args.tag = _tag(overrides)
        return
    if args.variant is not None and not args.variant.strip():
        parser.error("--variant needs a name; leave it out for the step itself")
    from .lab.recipes import variant
    from .models import build_model

    try:
        if getattr(args, "from_run", None):
            base = stored_config(args.from_run)
        else:
            base = variant(args.step, args.variant) if args.variant else cfg.STEPS[args.step]
        config = replace(base, **overrides)
        if getattr(args, "seed", None) is not None:
            config = replace(config, seed=args.seed)
        build_model(config)  # a bad arch is refused here, before any data is loaded
    except ValueError as e:
        parser.error(str(e))
    args.config = cfg.smoke(config) if args.smoke else config
    args.tag = _tag({k: v for k, v in overrides.items() if k != "split"})


def stored_config(path: str) -> cfg.Config:
    """The config a stored History ran, read back whole; ValueError (one line) when it cannot be."""
    from .lab.recipes import stored_config
    from .lab.results import load_history

    try:
        return stored_config(load_history(path).config)
    except OSError as e:
        raise ValueError(f"cannot read {path} ({e.strerror or e}); give the path of a stored History") from None


def _tag(overrides: dict) -> str:
    return "_".join(f"{k}-{v}" for k, v in sorted(overrides.items()))


@contextlib.contextmanager
def interrupt_deferred():
    """Hold back SIGINT until the block ends, then raise it as KeyboardInterrupt.

    A KeyboardInterrupt raised inside torch's C++ start-up (a pybind11 callback) is not catchable: the
    process aborts with "terminate called after throwing ... KeyboardInterrupt" and exit -6.
    """
    caught = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught:
        raise KeyboardInterrupt


def main(argv=None) -> int:
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        with interrupt_deferred():
            import torch  # noqa: F401  (loaded here once, where an interrupt cannot abort it)
            import torchvision  # noqa: F401
        if args.command in ("train", "seeds", "sweep"):
            resolve(args, parser)
        return COMMANDS[args.command](args)
    except KeyboardInterrupt:
        print("interrupted: results written so far are complete; nothing half-written was left", file=sys.stderr)
        return 130
    except Exception as e:
        from .errors import EXIT_CODES

        code = next((code for kind, code in EXIT_CODES.items() if isinstance(e, kind)), None)
        if code is None:
            raise  # a bug: the traceback is what a developer needs
        print(f"error: {e}", file=sys.stderr)
        return code


def cmd_prepare_data(args) -> int:
    from .lab.fetch import ensure_mnist

    path = ensure_mnist()
    print(f"MNIST ready in {path}")
    return 0


def cmd_summary(args) -> int:
    from .lab.inspection import format_receptive_fields, receptive_fields, summary_text
    from .models import build_model, count_params

    config = cfg.STEPS[args.step]
    previous = cfg.STEPS.get(args.step - 1)
    print(cfg.format_diff(previous, config) if previous else cfg.format_config(config))
    model = build_model(config)
    print(summary_text(model))
    print(format_receptive_fields(receptive_fields(model)))
    print(f"Parameters: {count_params(model):,}")
    return 0


def _announce(path, what: str) -> None:
    if path.exists():
        print(f"note: this run replaces {what} {layout.display(path)}")


def cmd_train(args) -> int:
    from .devices import pick_device
    from .lab.runs import train

    pick_device(args.device)  # fail before any work when the device is not there
    config = args.config
    origin = f"from {args.from_run}" if args.from_run else f"step {args.step}"
    print(f"Training {config.name} ({origin}) for {config.epochs} epoch(s), seed {config.seed}, "
          f"{config.split} split" + (f", overrides {args.tag}" if args.tag else ""))
    # results/<step>.json belongs to the step's notebook; train's runs are scratch, in results/runs/
    name = layout.slug(config.name) if args.from_run else config.name
    save_to = None if args.smoke else layout.run_path("scratch", name, split=config.split, seed=config.seed,
                                                      tag="_".join(t for t in ("rerun" if args.from_run else "",
                                                                               args.tag) if t))
    if save_to is not None:
        _announce(save_to, "the scratch run")
    train(config, save_to, device=args.device, progress=not args.no_progress, compile=args.compile)
    return 0


def cmd_seeds(args) -> int:
    from .devices import pick_device
    from .lab.parallel import default_jobs
    from .lab.runs import check_writable
    from .lab.seeds import run_seeds

    pick_device(args.device)
    config = args.config
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    # the cited folders hold seeds 1-5 of the step as defined, and its held-out seeds 6-10; anything else is a scratch
    # run, named by its changes
    held_out = seeds == HELD_OUT_SEEDS and not args.tag
    other_seeds = [] if seeds == list(range(1, CITED_SEEDS + 1)) or held_out else [f"seeds-{seeds[0]}-{seeds[-1]}"]
    tag = "_".join(t for t in (args.tag, *other_seeds) if t)
    folder = None if args.smoke else layout.seeds_dir(config.name, config.split, tag, held_out=held_out)
    if folder is not None:
        check_writable(layout.summary_path(folder))
        _announce(layout.summary_path(folder), "the stored seeds in")
    identity = {"step": args.step, "variant": args.variant or "", "overrides": args.override_dict}
    run_seeds(config, seeds, folder, identity=identity, device=args.device, jobs=args.jobs or default_jobs(args.device))
    return 0


def cmd_sweep(args) -> int:
    from .devices import pick_device
    from .lab.parallel import default_jobs
    from .lab.runs import check_writable
    from .lab.sweeps import run_sweep

    if args.table:
        from .lab.sweeps import write_table

        write_table(args.name, layout.sweep_dir(args.name, args.tag), args.override_dict)
        return 0
    pick_device(args.device)
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    folder = None if args.smoke else layout.sweep_dir(args.name, args.tag)
    if folder is not None:
        check_writable(layout.summary_path(folder))
    run_sweep(args.name, seeds, folder, overrides=args.override_dict, only=args.only,
              smoke=cfg.smoke if args.smoke else None, device=args.device,
              jobs=args.jobs or default_jobs(args.device), until_fail=args.until_fail)
    return 0


def cmd_verify(args) -> int:
    from .devices import pick_device
    from .lab.verify import verify

    pick_device(args.device)
    path = args.path or layout.run_path("notebook", cfg.STEPS[cfg.LAST_STEP].name)
    try:
        same = verify(path, args.epochs, args.device, strict=args.strict)
    except (OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0 if same else 1


def cmd_report(args) -> int:
    from .lab.report import write_report

    write_report()
    return 0


COMMANDS = {"prepare-data": cmd_prepare_data, "summary": cmd_summary, "train": cmd_train,
            "seeds": cmd_seeds, "sweep": cmd_sweep, "verify": cmd_verify, "report": cmd_report}

if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # between the interpreter's start and main()'s own handler
        print("interrupted before anything was written", file=sys.stderr)
        sys.exit(130)
