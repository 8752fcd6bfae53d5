"""Several runs at once (--jobs): each in its own spawned process with cores / jobs threads, its lines prefixed with
its tag, its History saved atomically to its own path. On 2 cores two 1-thread runs train more images per second than
one 2-thread run (benchmarks/jobs.py). A failed run or a Ctrl-C stops the others; finished runs stay stored."""

import multiprocessing
import os
import signal
import threading
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

from ..config import Config
from ..devices import pick_device


@dataclass(frozen=True)
class Run:
    tag: str  # what its lines are prefixed with, e.g. "seed 3" or "cutout 8, seed 2"
    config: Config
    save_to: Path | None


def default_jobs(device: str | None = None) -> int:
    """One run per CPU core on a CPU; one on a GPU (--jobs left out)."""
    return 1 if pick_device(device).type != "cpu" else max(1, os.cpu_count() or 1)


def run_all(runs: list[Run], jobs: int | None, *, device=None, command: str = "", log=print,
            drop: Callable[[Run, object], list[str]] | None = None) -> dict[str, object]:
    """Train every run, `jobs` at a time (one: in this process; None: default_jobs); their Histories (without models)
    by tag, in the order they finished. drop(run, history), after each run: the tags it returns leave the queue."""
    pending, done = list(runs), {}

    def finished(run: Run, history) -> None:
        done[run.tag] = history
        gone = set(drop(run, history)) if drop else set()
        if skipped := [r.tag for r in pending if r.tag in gone]:
            pending[:] = [r for r in pending if r.tag not in gone]
            log(f"[{run.tag}] not started: {', '.join(skipped)}")

    jobs = min(jobs or default_jobs(device), len(pending))  # no more processes than runs: spare cores go to threads
    if jobs <= 1:
        while pending:
            log(f"--- {(run := pending.pop(0)).tag} ---")
            finished(run, _train(run, device, command, log))
        return done
    threads = max(1, (os.cpu_count() or 1) // jobs)
    log(f"{len(pending)} runs, {jobs} at a time, {threads} thread{'s' * (threads > 1)} each")
    pool = ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn"), initializer=_start_worker,
                               initargs=(threads,))
    running = {}
    try:
        while pending or running:
            while pending and len(running) < jobs:
                run = pending.pop(0)
                running[pool.submit(_train, run, device, command)] = run
            for future in wait(running, return_when=FIRST_COMPLETED)[0]:
                finished(run := running.pop(future), future.result())  # a failed run raises here
    except BaseException as e:
        reason = "interrupted" if isinstance(e, KeyboardInterrupt) else f"{run.tag} failed"
        log(f"{reason}: stopping {len(running)} other run(s); {len(done)} finished and stored")
        for process in list(getattr(pool, "_processes", {}).values()):
            process.terminate()
        pool.shutdown(wait=True, cancel_futures=True)  # joined, so its queues and locks are released cleanly
        raise
    pool.shutdown()
    return done


def _start_worker(threads: int) -> None:
    import torch
    from tqdm.auto import tqdm

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle: it stops every worker
    torch.set_num_threads(threads)
    tqdm.set_lock(threading.RLock())  # tqdm's multiprocessing lock would leak a semaphore when a worker is stopped


def _train(run: Run, device, command: str, log=None):
    """One run; in a worker (no `log`), its lines printed with its tag. Without its model: keeps memory flat."""
    from .runs import train

    def prefixed(line: str) -> None:
        print("\n".join(f"[{run.tag}] {part}" for part in str(line).splitlines()), flush=True)

    history = train(run.config, run.save_to, device=device, progress=False, log=log or prefixed,
                    command=command or None)
    history.model = None
    return history
