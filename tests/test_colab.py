"""Colab: every notebook's badge and the clone in its first code cell use pyproject.toml's repository address.

The notebooks are read as JSON, never executed.
"""

import json
import re
from pathlib import Path

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("0*.ipynb"))
BADGE = re.compile(r"\[!\[Open In Colab\]\(https://colab\.research\.google\.com/assets/colab-badge\.svg\)\]"
                   r"\((?P<link>[^)\s]+)\)")
REPO_LINE = re.compile(r'^REPO_URL = "(?P<url>[^"]+)"', re.MULTILINE)


def repository_url() -> str:
    with open(ROOT / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["project"]["urls"]["Repository"]


def cells(path: Path) -> list[dict]:
    return [{**c, "source": "".join(c["source"])} for c in json.loads(path.read_text(encoding="utf-8"))["cells"]]


def test_the_address_is_a_github_repository():
    assert re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+", repository_url())
    from mnist_drill.config import STEPS

    assert sorted(p.stem for p in NOTEBOOKS) == sorted(c.name for c in STEPS.values())  # one notebook per step


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_badge_opens_this_notebook_from_the_repository(path):
    badges = [m["link"] for c in cells(path) if c["cell_type"] == "markdown" for m in BADGE.finditer(c["source"])]
    owner_name = repository_url().removeprefix("https://github.com/")
    assert badges == [f"https://colab.research.google.com/github/{owner_name}/blob/main/notebooks/{path.name}"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_first_code_cell_clones_the_repository(path):
    first = next(c for c in cells(path) if c["cell_type"] == "code")["source"]
    assert [m["url"] for m in REPO_LINE.finditer(first)] == [repository_url()]
    assert 'os.environ.get("MNIST_DRILL_REPO", REPO_URL)' in first  # the clone source can be pointed elsewhere
    clone = next(line for line in first.splitlines() if '"git", "clone"' in line)
    assert "check=True" not in clone and "could not clone" in first  # one line of advice, not CalledProcessError


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_gpu_requested_from_colab(path):
    metadata = json.loads(path.read_text(encoding="utf-8"))["metadata"]
    assert "accelerator" not in metadata and "gpu" not in json.dumps(metadata.get("colab", {})).lower()
