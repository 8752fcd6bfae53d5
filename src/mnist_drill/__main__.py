"""Command line: `python -m mnist_drill {prepare-data,train,seeds,sweep,verify,report}`.
Each failure one line with its fix, never a traceback: exit 2 for bad input, errors.EXIT_CODES otherwise; Ctrl-C 130."""

import argparse
import ast
import contextlib
import importlib
import re
import signal
import sys
import typing
from dataclasses import fields, replace

from . import config as cfg
from .errors import EXIT_CODES
from .lab import layout

MAX_SEED = 2**32 - 1  # NumPy's seeds are 32-bit
_TYPES = typing.get_type_hints(cfg.Config)
_SETTABLE = [f.name for f in fields(cfg.Config) if f.name not in ("name", "seed")]
_PARSERS = {bool: lambda raw: {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}[raw],
            int | None: lambda raw: None if raw == "none" else int(raw),
            tuple: lambda raw: tuple(map(tuple, ast.literal_eval(raw)))}


def checked(ok, problem: str, convert=int):
    """An argparse type: `convert(text)`, refused with `problem` (formatted with the text) unless `ok(value)`."""
    def parse(text: str):
        with contextlib.suppress(ValueError):
            if ok(value := convert(text)):
                return value
        raise argparse.ArgumentTypeError(problem.format(text))
    return parse


positive = checked(lambda n: n > 0, "expected a whole number > 0, got {!r}")
seed_number = checked(lambda n: 0 <= n <= MAX_SEED, f"a seed must be in 0..{MAX_SEED} (2**32 - 1), got {{!r}}")
device_name = checked(re.compile(r"auto|cpu|mps|cuda(:\d+)?").fullmatch,
                      "unknown device {!r}; use auto, cpu, cuda, cuda:N or mps", convert=str)


def override(text: str) -> tuple[str, object]:
    """'field=value' -> (field, value parsed to the field's type)."""
    name, sep, raw = (part.strip() for part in text.partition("="))
    for bad, problem in ((not sep or not name, f"expected FIELD=VALUE, got {text!r}"),
                         (name == "seed", "the seed is not a --set field: use --seed N (train) or --first-seed N"),
                         (name not in _SETTABLE, f"unknown Config field {name!r}; fields: {', '.join(_SETTABLE)}")):
        if bad:
            raise argparse.ArgumentTypeError(problem)
    try:
        return name, _PARSERS.get(_TYPES[name], _TYPES[name])(raw if _TYPES[name] is str else raw.lower())
    except (ValueError, KeyError, SyntaxError, TypeError):
        kind = getattr(_TYPES[name], "__name__", _TYPES[name])
        raise argparse.ArgumentTypeError(f"{name} takes a {kind}, got {raw!r}") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m mnist_drill", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser("prepare-data", help="get MNIST into data/MNIST/raw and verify it")
    sub.add_parser("report", help="tables and plots from results/, written into the README and notebooks")
    train = sub.add_parser("train", help="train one step; its History goes to results/runs/ (scratch)")
    seeds = sub.add_parser("seeds", help="train one step with several seeds and summarise them")
    sweep = sub.add_parser("sweep", help="a sweep's candidates, several seeds each, on the validation split")
    sweep.add_argument("name", help="the sweep: its candidates are in results/val/sweeps/NAME/sweep.json")
    verify = sub.add_parser("verify", help="re-run a stored run's first epochs and compare, as strictly as it can")
    verify.add_argument("path", nargs="?", default=layout.run_path("notebook", cfg.STEPS[cfg.LAST_STEP].name),
                        help="a stored History (default: the last step's, results/<name>.json)")
    verify.add_argument("--strict", action="store_true", help="demand exact numbers even on another machine")
    for p in (train, seeds, verify):
        p.add_argument("--epochs", type=positive, help="default: the step's (verify: 2)")
    for p in (train, seeds, sweep, verify):
        p.add_argument("--device", type=device_name, default="auto", help="auto, cpu, cuda[:N] or mps (verify: cpu)")
    for p in (train, seeds):
        p.add_argument("--step", type=int, choices=sorted(cfg.STEPS), default=cfg.LAST_STEP, help="default: the last")
        p.add_argument("--variant", help="a named variant of the step (lab/recipes.VARIANTS), e.g. 9.8k")
    for p in (train, seeds, sweep):
        p.add_argument("--set", dest="overrides", type=override, action="append", default=[], metavar="FIELD=VALUE",
                       help="override a Config field, e.g. --set lr=0.1 (repeatable); the run is stored as scratch")
        p.add_argument("--smoke", action="store_true", help="1 epoch on 2k images: checks the set-up, saves nothing")
        p.add_argument("--no-progress", action="store_true", help="no tqdm bars (the epoch lines stay)")
    for p, n in ((seeds, len(layout.CITED_SEEDS)), (sweep, 3)):
        p.add_argument("--seeds", type=positive, default=n, help=f"how many seeds (default: {n})")
        p.add_argument("--first-seed", type=seed_number, default=1, help="the first seed (default: 1)")
        p.add_argument("--jobs", type=positive, help="runs side by side (default: one per CPU core, 1 on a GPU)")
    train.add_argument("--seed", type=seed_number, help="random seed (default: the step's)")
    train.add_argument("--from", dest="from_run", metavar="HISTORY", help="re-run a stored run from its own config")
    train.add_argument("--compile", action="store_true", help="train through torch.compile (eager where it cannot)")
    sweep.add_argument("--only", action="append", metavar="LABEL", help="run only this candidate (repeatable)")
    sweep.add_argument("--table", action="store_true", help="train nothing: print the table of the stored runs")
    sweep.add_argument("--until-fail", action="store_true", help="a candidate that misses starts no further seed")
    verify.set_defaults(device="cpu", epochs=2)  # (after add_argument, whose defaults it replaces)
    return parser


def lab(module: str):  # a lab module, imported when a command needs it (after main has loaded torch)
    return importlib.import_module(f"mnist_drill.lab.{module}")


def resolve(args) -> None:
    """Check train/seeds/sweep arguments as a whole (ValueError: one line) and the device; set args.overrides (a dict),
    args.tag (what makes a run scratch), args.seeds (a range; seeds, sweep) and args.config (train, seeds)."""
    from .devices import pick_device
    from .models import build_model
    args.overrides = overrides = dict(args.overrides)
    if vars(args).get("epochs") is not None:
        if "epochs" in overrides:
            raise ValueError("--epochs and --set epochs=... both given; keep one")
        overrides["epochs"] = args.epochs
    if args.smoke and "epochs" in overrides:
        raise ValueError("--smoke always runs 1 epoch on 2k images; drop --epochs or --smoke")
    if "seeds" in vars(args):
        if (last := args.first_seed + args.seeds - 1) > MAX_SEED:
            raise ValueError(f"seeds {args.first_seed}..{last} go past {MAX_SEED}; lower --first-seed or --seeds")
        args.seeds = range(args.first_seed, last + 1)
    # a train or seeds run's split is in its path already; a sweep's is always val
    args.tag = "_".join(f"{k}-{v}" for k, v in sorted(overrides.items()) if k != "split" or args.command == "sweep")
    if args.command == "sweep":
        if args.table:  # trains nothing: an archived round's options need not exist any more
            lab("sweeps").definition(args.name)
            return
        configs = lab("sweeps").candidates(args.name, overrides)
        if unknown := sorted(set(args.only or []) - set(configs)):
            raise ValueError(f"sweep {args.name!r} has no candidate {unknown}; it has {list(configs)}")
        configs = list(configs.values())
    else:
        try:
            base = (lab("recipes").stored_config(lab("results").load_history(args.from_run).config)
                    if vars(args).get("from_run") else cfg.STEPS[args.step] if args.variant is None
                    else lab("recipes").variant(args.step, args.variant))
        except OSError as e:
            raise ValueError(f"cannot read {args.from_run} ({e.strerror or e}); give a stored History") from None
        configs = [replace(base, **overrides, **({} if vars(args).get("seed") is None else {"seed": args.seed}))]
        args.config = cfg.smoke(configs[0]) if args.smoke else configs[0]
    for config in configs:  # a bad arch is refused here, before any data is loaded; so is a device not there
        build_model(config)
    pick_device(args.device)


def main(argv=None) -> int:
    args = (parser := build_parser()).parse_args(argv)
    try:
        caught = []  # Ctrl-C is held back while torch loads: raised inside its C++ start-up, it aborts the process
        previous = signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
        import torchvision  # noqa: F401  (an import that fails ends the process: nothing to restore)
        signal.signal(signal.SIGINT, previous)
        signal.signal(signal.SIGTERM, signal.default_int_handler)  # `kill` stops a run (and its --jobs) as Ctrl-C does
        if caught:
            raise KeyboardInterrupt
        if args.command in ("train", "seeds", "sweep"):
            try:
                resolve(args)
            except ValueError as e:
                parser.error(str(e))
        return COMMANDS[args.command](args) or 0
    except KeyboardInterrupt:
        print("interrupted: results written so far are complete; nothing half-written was left", file=sys.stderr)
        return 130
    except (*EXIT_CODES, OSError, ValueError) as e:  # beyond EXIT_CODES only verify's: a path, --epochs it can't use
        if not isinstance(e, tuple(EXIT_CODES)) and args.command != "verify":
            raise
        print(f"error: {e}", file=sys.stderr)
        return next((code for kind, code in EXIT_CODES.items() if isinstance(e, kind)), 2)


def cmd_train(args):
    config, origin = args.config, f"from {args.from_run}" if args.from_run else f"step {args.step}"
    print(f"Training {config.name} ({origin}) for {config.epochs} epoch(s), seed {config.seed}, {config.split} split"
          + (f", overrides {args.tag}" if args.tag else ""))
    save_to = None if args.smoke else layout.run_path("scratch", config.name, split=config.split, seed=config.seed,
                                                      tag=args.tag, rerun=bool(args.from_run))
    if save_to is not None and save_to.exists():
        print(f"note: this run replaces the scratch run {layout.display(save_to)}")
    lab("runs").train(config, save_to, device=args.device, progress=not args.no_progress, compile=args.compile)


def cmd_seeds(args):
    folder = None if args.smoke else layout.seeds_dir(args.config.name, args.config.split, args.tag, seeds=args.seeds)
    lab("seeds").run_seeds(args.config, list(args.seeds), folder, device=args.device, jobs=args.jobs,
                           identity={"step": args.step, "variant": args.variant or "", "overrides": args.overrides})


def cmd_sweep(args):
    folder = layout.sweep_dir(args.name, args.tag)
    if args.table:
        lab("sweeps").write_table(args.name, folder, args.overrides)
        return
    if not args.smoke:
        lab("runs").check_writable(layout.summary_path(folder))  # fail now, not after the last run
    lab("sweeps").run_sweep(args.name, list(args.seeds), None if args.smoke else folder, overrides=args.overrides,
                            only=args.only, smoke=args.smoke and cfg.smoke, device=args.device, jobs=args.jobs,
                            until_fail=args.until_fail)


COMMANDS = {"prepare-data": lambda args: print(f"MNIST ready in {lab('fetch').ensure_mnist()}"), "train": cmd_train,
            "report": lambda args: lab("report").write_report() and 0, "seeds": cmd_seeds, "sweep": cmd_sweep,
            "verify": lambda args: int(not lab("verify").verify(args.path, args.epochs, args.device, args.strict))}

if __name__ == "__main__":
    sys.exit(main())
