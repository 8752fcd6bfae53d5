"""Where the project keeps its data and results.

Both default to folders at the project root (beside `pyproject.toml`) so that the CLI, the tests
and the notebooks (which run from `notebooks/`) all share one copy; environment variables override.
"""

import os
from pathlib import Path


def _project_root() -> Path:
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "pyproject.toml").is_file():
            return parent
    return Path.cwd()  # installed without the source tree: use the working directory


PROJECT_ROOT = _project_root()
DATA_DIR = Path(os.environ.get("MNIST_DRILL_DATA", PROJECT_ROOT / "data"))
RESULTS_DIR = Path(os.environ.get("MNIST_DRILL_RESULTS", PROJECT_ROOT / "results"))
