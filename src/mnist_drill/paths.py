"""Where the project lives, and where it keeps MNIST (lab/layout.py owns the results folder).

The data folder defaults to `data/` at the project root (beside `pyproject.toml`) so that the CLI, the
tests and the notebooks (which run from `notebooks/`) share one copy; MNIST_DRILL_DATA overrides it.
"""

import os
from pathlib import Path

DATA_ENV = "MNIST_DRILL_DATA"


def _project_root() -> Path:
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "pyproject.toml").is_file():
            return parent
    return Path.cwd()  # installed without the source tree: use the working directory


def env_path(name: str, default: Path, environ=os.environ) -> Path:
    """The folder named by environment variable `name`, or `default` when it is unset or blank.

    Blank counts as unset: `Path("")` is the current folder, which `MNIST_DRILL_DATA=` never means.
    """
    value = environ.get(name, "")
    return Path(value) if value.strip() else default


def env_flag(name: str, environ=os.environ) -> bool:
    """True when environment variable `name` is set to anything but blank, 0, false or no (any case)."""
    return environ.get(name, "").strip().lower() not in ("", "0", "false", "no")


PROJECT_ROOT = _project_root()
DATA_DIR = env_path(DATA_ENV, PROJECT_ROOT / "data")
