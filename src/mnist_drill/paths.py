"""Where the project keeps its data and results.

Both default to folders at the project root (beside `pyproject.toml`) so that the CLI, the tests
and the notebooks (which run from `notebooks/`) all share one copy; environment variables override.
"""

import os
from pathlib import Path

DATA_ENV = "MNIST_DRILL_DATA"
RESULTS_ENV = "MNIST_DRILL_RESULTS"


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


PROJECT_ROOT = _project_root()
DATA_DIR = env_path(DATA_ENV, PROJECT_ROOT / "data")
RESULTS_DIR = env_path(RESULTS_ENV, PROJECT_ROOT / "results")
