"""Where a run came from: the commit, whether the code differed from it, the command, the library versions, and the
machine's fingerprint (which decides whether `verify` can demand the same numbers digit for digit)."""

import contextlib
import hashlib
import json
import platform
import shlex
import subprocess
import sys

from ..paths import PROJECT_ROOT

CODE_PATHS = ("src", "benchmarks", "pyproject.toml", "requirements.txt")  # what changes what a run computes


def _git(*args: str) -> str | None:
    try:
        result = subprocess.run(["git", *args], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() if result.returncode == 0 else None


def git_commit() -> str:
    return _git("rev-parse", "HEAD") or "unknown"


def code_dirty() -> bool | None:
    """True when CODE_PATHS differ from HEAD (untracked files included); None without git."""
    status = _git("status", "--porcelain", "--", *CODE_PATHS)
    return None if status is None else bool(status)


def command_line() -> str:
    """This process's command as a reader would type it ("python -m mnist_drill seeds --step 5 ...")."""
    argv = list(sys.argv)
    if argv and argv[0].endswith(("mnist_drill/__main__.py", "mnist_drill\\__main__.py")):
        return shlex.join(["python", "-m", "mnist_drill", *argv[1:]])
    if argv and "ipykernel" in argv[0]:
        return "a notebook kernel"  # notebooks pass their own command
    return shlex.join(["python", *argv]) if argv and argv[0] else "python"


def notebook_command(name: str) -> str:
    return f"make notebooks (jupyter nbconvert --execute notebooks/{name}.ipynb)"


def library_versions() -> dict:
    import numpy as np
    import torch
    import torchvision

    return {"python": platform.python_version(), "torch": torch.__version__,
            "torchvision": torchvision.__version__, "numpy": np.__version__}


def cpu_model() -> str:
    with contextlib.suppress(OSError), open("/proc/cpuinfo", encoding="utf-8", errors="replace") as lines:
        for line in lines:
            if line.lower().startswith(("model name", "hardware", "cpu model")):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine() or "unknown"


def machine_fingerprint(device=None) -> dict:
    """What decides a run's floating-point path: CPU, the SIMD kernels torch picks (AVX2, AVX512), thread count,
    versions, and on CUDA the GPU, CUDA and cuDNN; `hash` digests the rest: equal hashes, equal numbers."""
    import torch

    device = torch.device(device or "cpu")
    machine = {"cpu": cpu_model(), "arch": platform.machine(),
               "cpu_capability": torch.backends.cpu.get_cpu_capability(), "threads": torch.get_num_threads(),
               **library_versions(), "device": device.type}
    if device.type == "cuda":
        machine.update(gpu=torch.cuda.get_device_name(device), cuda=torch.version.cuda,
                       cudnn=torch.backends.cudnn.version())
    return {**machine, "hash": fingerprint_hash(machine)}


def fingerprint_hash(machine: dict) -> str:
    """12 hex digits of a fingerprint's fields (its own `hash` left out)."""
    canonical = json.dumps({k: v for k, v in machine.items() if k != "hash"}, sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()[:12]


def describe_machine(m: dict | None) -> str:
    """For prose: "AMD EPYC (AVX2, 2 threads), CPU, torch 2.14.1 [hash]"."""
    if not m:
        return "an unknown machine (no fingerprint: stored before fingerprints were recorded)"
    where = f"{m.get('gpu')}, CUDA {m.get('cuda')}" if m.get("device") == "cuda" else "CPU"
    return (f"{m.get('cpu', '?')} ({m.get('cpu_capability', '?')}, {m.get('threads', '?')} threads), {where}, "
            f"torch {m.get('torch', '?')} [{m.get('hash', '?')}]")


def machine_label(m: dict | None) -> str:
    """For tables: "AMD EPYC (AVX2), 2 threads [372dbcded662]"; "unrecorded" before fingerprints were."""
    where = m and (m.get("gpu") if m.get("device") == "cuda" else f"{m.get('threads')} threads")
    return f"{m.get('cpu')} ({m.get('cpu_capability')}), {where} [{m.get('hash')}]" if m else "unrecorded"


# Taken once, at import: that is the code this process runs, even if the files change later.
AT_IMPORT = {"commit": git_commit(), "code_dirty": code_dirty()}


def provenance(command: str | None = None) -> dict:
    """{commit, code_dirty, command, versions} of the run about to start (the code as it was when imported)."""
    return {**AT_IMPORT, "command": command or command_line(), "versions": library_versions()}
