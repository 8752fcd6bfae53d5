"""Several runs at once: each in its own process with cores / jobs threads, the epoch lines prefixed with the run.

On a 2-core CPU two one-thread processes train more images per second than one two-thread process
(`benchmarks/jobs.py` measures it; RESULTS.md shows the result), where two two-thread processes thrash. Each run
saves its own History (atomically, to its own path), so runs side by side never write the same file. A run that
fails, or a Ctrl-C, stops the others; the runs already finished stay stored.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

from ..config import Config


@dataclass(frozen=True)
class Run:
    tag: str  # what its lines are prefixed with, e.g. "seed 3" or "cutout 8, seed 2"
    config: Config
    save_to: Path | None


def default_jobs(device: str | None = None) -> int:
    """Runs side by side when --jobs is not given: one per CPU core on a CPU, one on a GPU (it has its own cores)."""
    from ..devices import pick_device

    return 1 if pick_device(device).type != "cpu" else max(1, os.cpu_count() or 1)


def run_all(runs: list[Run], jobs: int, *, device=None, command: str = "", log=print,
            drop: Callable[[Run, object], list[str]] | None = None) -> dict[str, object]:
    """Train every run, `jobs` at a time, and return their Histories by tag (without models), in the order they
    finished.

    drop: called with each finished run and its History; the tags it returns are taken off the queue (not started).
    One job runs in this process, as before; several run in fresh processes with cores // jobs threads each.
    """
    from .runs import train

    pending = list(runs)
    done: dict[str, object] = {}

    def finished(run: Run, history) -> None:
        history.model = None  # keep memory flat over many runs
        done[run.tag] = history
        if drop:
            gone = set(drop(run, history))
            skipped = [r.tag for r in pending if r.tag in gone]
            pending[:] = [r for r in pending if r.tag not in gone]
            if skipped:
                log(f"[{run.tag}] not started: {', '.join(skipped)}")

    jobs = min(jobs, len(pending))  # never more processes than runs: the spare cores go to the runs' threads
    if jobs <= 1:
        while pending:
            run = pending.pop(0)
            log(f"--- {run.tag} ---")
            finished(run, train(run.config, run.save_to, device=device, progress=False, log=log,
                                command=command or None))
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
            finished_now, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished_now:
                run = running.pop(future)
                finished(run, future.result())  # a failed run raises here: the finally stops the others
    except BaseException as e:
        reason = "interrupted" if isinstance(e, KeyboardInterrupt) else f"{run.tag} failed"
        log(f"{reason}: stopping {len(running)} other run(s); {len(done)} finished and stored")
        for process in list(getattr(pool, "_processes", {}).values()):
            process.terminate()
        pool.shutdown(wait=True, cancel_futures=True)  # joined, so that its queues and locks are released cleanly
        raise
    pool.shutdown()
    return done


def _start_worker(threads: int) -> None:
    import threading

    import torch
    from tqdm.auto import tqdm

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle: it stops every worker
    torch.set_num_threads(threads)
    # tqdm's default lock is a multiprocessing one, registered with the resource tracker; a worker stopped mid-run
    # would leave it behind ("leaked semaphore objects"). A run's bars are off in a worker: a thread lock does
    tqdm.set_lock(threading.RLock())


def _train(run: Run, device, command: str):
    from .runs import train

    def log(line: str) -> None:
        print("\n".join(f"[{run.tag}] {part}" for part in str(line).splitlines()), flush=True)

    history = train(run.config, run.save_to, device=device, progress=False, log=log, command=command or None)
    history.model = None  # the parent needs the numbers only
    return history
