"""Where a run came from: the git commit, whether the code had uncommitted changes, the command line,
and the library versions. Every History carries these, so every stored number traces back.
"""

from __future__ import annotations

import platform
import shlex
import subprocess
import sys

from .paths import PROJECT_ROOT

# What counts as code: a change here changes what a run computes. results/, notebooks' stored outputs,
# the README and the tests do not.
CODE_PATHS = ("src", "benchmarks", "pyproject.toml", "requirements.txt")


def _git(*args: str) -> str | None:
    try:
        result = subprocess.run(["git", *args], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() if result.returncode == 0 else None


def git_commit() -> str:
    """HEAD's full hash, or "unknown" outside a git checkout."""
    return _git("rev-parse", "HEAD") or "unknown"


def code_dirty() -> bool | None:
    """True when the code (CODE_PATHS) differs from HEAD, untracked files included; None without git."""
    status = _git("status", "--porcelain", "--", *CODE_PATHS)
    return None if status is None else bool(status)


def command_line() -> str:
    """This process's command, as a reader would type it ("python -m mnist_drill seeds --step 5 ...")."""
    argv = list(sys.argv)
    if argv and argv[0].endswith(("mnist_drill/__main__.py", "mnist_drill\\__main__.py")):
        return shlex.join(["python", "-m", "mnist_drill", *argv[1:]])
    if argv and "ipykernel" in argv[0]:
        return "a notebook kernel"  # notebooks pass their own command to fit()
    return shlex.join(["python", *argv]) if argv and argv[0] else "python"


def notebook_command(name: str) -> str:
    """What a notebook's stored run records as its command: the notebook, executed in full by `make notebooks`."""
    return f"make notebooks (jupyter nbconvert --execute notebooks/{name}.ipynb)"


def library_versions() -> dict:
    import numpy as np
    import torch
    import torchvision

    return {"python": platform.python_version(), "torch": torch.__version__,
            "torchvision": torchvision.__version__, "numpy": np.__version__}


# Taken once, when the package is imported: that is the code a process runs, even if files change later.
AT_IMPORT = {"commit": git_commit(), "code_dirty": code_dirty()}


def provenance(command: str | None = None) -> dict:
    """{commit, code_dirty, command, versions} of the run about to start (the code as it was when imported)."""
    return {**AT_IMPORT, "command": command or command_line(), "versions": library_versions()}
