"""A Colab-like check of a notebook's set-up cells, without Colab: in a new empty folder, with a stub
`google.colab` and no mnist_drill on the path, run the first code cells (clone, then import) in a fresh Python
and check that mnist_drill is imported from the clone. Prints one line, PASS or FAIL.

    python tools/colab_check.py [--repo PATH_OR_URL] [--notebook notebooks/05_one_cycle.ipynb]

The clone source defaults to this checkout (MNIST_DRILL_REPO), so it clones the committed HEAD, not uncommitted
edits. Nothing is trained: the cells run in smoke mode and stop after the imports.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import site
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IMPORTS_PACKAGE = re.compile(r"^(from mnist_drill[\w.]* import|import mnist_drill)", re.MULTILINE)
TIMEOUT = 300  # seconds for each subprocess

# Runs in the fresh interpreter, from the empty folder: argv[1] is a JSON list of the cells' sources.
RUNNER = """
import importlib.util, json, sys
from pathlib import Path

import google.colab  # Colab's kernel imports it before any cell runs; the first cell looks for it

if importlib.util.find_spec("mnist_drill") is not None:
    sys.exit(f"mnist_drill is importable before the clone ({importlib.util.find_spec('mnist_drill').origin})")
namespace = {"__name__": "__main__"}
for i, source in enumerate(json.loads(Path(sys.argv[1]).read_text())):
    exec(compile(source, f"<cell {i + 1}>", "exec"), namespace)
import mnist_drill

origin = Path(mnist_drill.__file__).resolve()
clone = Path("mnist-drill").resolve()
if not origin.is_relative_to(clone / "src"):
    sys.exit(f"mnist_drill imported from {origin}, not from the clone {clone}")
print(f"mnist_drill imported from {origin.parent}")
"""


def setup_cells(notebook: Path) -> tuple[list[str], list[str]]:
    """(the first code cell, the code cells up to and including the first one importing from mnist_drill)."""
    code = ["".join(c["source"]) for c in json.loads(notebook.read_text(encoding="utf-8"))["cells"]
            if c["cell_type"] == "code"]
    last = next((i for i, src in enumerate(code[1:], start=1) if IMPORTS_PACKAGE.search(src)), 0)
    no_magics = ["\n".join(line for line in src.splitlines() if not line.lstrip().startswith(("%", "!")))
                 for src in code[:last + 1]]
    return no_magics[:1], no_magics


def isolated_python(folder: Path) -> tuple[list[str], dict]:
    """This interpreter with -S: no site module, so no .pth file runs and the editable install (a .pth that puts
    src/ on the path) is invisible; the installed dependencies come back through PYTHONPATH, which adds folders
    as they are, without reading their .pth files. A stub google.colab comes first."""
    stub = folder / "stubs" / "google" / "colab"  # no google/__init__.py: a namespace package, like the real one
    stub.mkdir(parents=True)
    (stub / "__init__.py").write_text('"""Stand-in for Colab\'s module: only its presence matters."""\n')
    paths = [str(folder / "stubs")] + [p for p in site.getsitepackages() if Path(p).is_dir()]
    for p in paths[1:]:
        if (Path(p) / "mnist_drill").exists() or (Path(p) / "mnist_drill.py").exists():
            raise RuntimeError(f"mnist_drill is installed as a copy in {p}, not as an editable install")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", str(folder)),
           "LANG": os.environ.get("LANG", "C.UTF-8"), "PYTHONPATH": os.pathsep.join(paths),
           "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1", "MNIST_DRILL_SMOKE": "1"}
    return [sys.executable, "-S"], env


def run(python, env, cells: list[str], folder: Path, repo: str) -> subprocess.CompletedProcess:
    workdir = folder / "content"  # Colab's working folder; its parent holds no src/
    workdir.mkdir()
    cells_file = folder / "cells.json"
    cells_file.write_text(json.dumps(cells))
    runner = folder / "runner.py"
    runner.write_text(RUNNER)
    return subprocess.run([*python, str(runner), str(cells_file)], cwd=workdir, env={**env, "MNIST_DRILL_REPO": repo},
                          capture_output=True, text=True, timeout=TIMEOUT)


def check(repo: str, notebook: Path) -> tuple[bool, str]:
    first, cells = setup_cells(notebook)
    with tempfile.TemporaryDirectory(prefix="colab_check_") as tmp:
        python, env = isolated_python(Path(tmp))
        has_torch = subprocess.run([*python, "-c", "import torch"], env=env, capture_output=True).returncode == 0
        ran = cells if has_torch else first  # without torch only the set-up cell can run
        with tempfile.TemporaryDirectory(dir=tmp) as good:
            done = run(python, env, ran, Path(good), repo)
        if done.returncode != 0:
            print(done.stdout[-3000:] + done.stderr[-3000:], file=sys.stderr)
            return False, f"{len(ran)} cell(s) of {notebook.name} failed with {repo} as the clone source"
        imported = done.stdout.strip().splitlines()[-1]
        with tempfile.TemporaryDirectory(dir=tmp) as bad:  # a wrong address: one line of advice, no traceback
            failed = run(python, env, first, Path(bad), str(Path(bad) / "no-such-repository"))
        advice = failed.stderr.strip().splitlines()
        if failed.returncode == 0 or len(advice) != 1 or not advice[0].startswith("could not clone"):
            print(failed.stderr[-3000:], file=sys.stderr)
            return False, "a failed clone did not end in one line of advice"
    scope = f"code cells 1-{len(ran)}" if has_torch else "the set-up cell only (torch not importable here)"
    return True, f"{notebook.name}, {scope}: cloned {repo}, {imported}; a bad address gives one line of advice"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", default=str(ROOT), help="clone source (default: this checkout)")
    parser.add_argument("--notebook", type=Path, default=ROOT / "notebooks" / "05_one_cycle.ipynb")
    args = parser.parse_args()
    try:
        ok, message = check(args.repo, args.notebook)
    except (OSError, RuntimeError, subprocess.TimeoutExpired) as e:
        ok, message = False, str(e)
    print(f"{'PASS' if ok else 'FAIL'} colab-check: {message}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
