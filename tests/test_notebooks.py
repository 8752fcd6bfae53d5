"""The notebooks tell the truth and read well anywhere: each Result is the one `report` writes from the
notebook's stored run, the stored log is that run, every code cell was executed in order, the checked cells are
marked for nbval, and what is stored is plain text a static viewer can show (no widgets, no machine paths).
"""

import json
import re

import nbformat
import pytest

from mnist_drill.config import STEPS
from mnist_drill.lab import layout
from mnist_drill.lab.provenance import notebook_command
from mnist_drill.lab.report import RESULT_END, RESULT_START, load_seed_summaries, result_line
from mnist_drill.lab.results import load_history
from mnist_drill.paths import PROJECT_ROOT

NOTEBOOKS = {n: PROJECT_ROOT / "notebooks" / f"{c.name}.ipynb" for n, c in STEPS.items()}
# legible figures (dpi 80, 400 px wide or more) need room; widgets and state never stored. Raised from 400_000 when
# notebook 05 reached 402 KB with its seeds 1-10 table (round 14): its four figures (curves, steps, seeds, frontier)
# had already been shrunk once to fit, and shrinking them again would cost the reader more than 2 KB saves. Raised to
# 500_000 when notebook 06 reached 476 KB with its seeds 1-20 (four tables, twenty curves) beside the whole series
MAX_BYTES = 500_000
MACHINE_PATH = re.compile(r"(/work/|/home/|/root/|/tmp/|[A-Z]:\\\\)")


def outputs_text(cell) -> str:
    parts = []
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream":
            parts.append(out.get("text", ""))
        elif "data" in out and "text/plain" in out["data"]:
            parts.append(out["data"]["text/plain"])
    return "".join(parts)


@pytest.fixture(params=sorted(NOTEBOOKS), ids=lambda n: NOTEBOOKS[n].stem)
def step(request):
    return request.param


def read(step):
    return nbformat.read(NOTEBOOKS[step], as_version=4)


def test_notebook_opens_with_target_result_analysis(step):
    first = read(step).cells[0]
    assert first.cell_type == "markdown"
    for heading in ("**Target.**", RESULT_START, RESULT_END, "**Analysis.**", "colab-badge.svg"):
        assert heading in first.source, f"{NOTEBOOKS[step].name} lacks {heading}"


def test_code_cells_were_executed_top_to_bottom(step):
    counts = [c.execution_count for c in read(step).cells if c.cell_type == "code"]
    assert None not in counts, "a code cell has no execution count: run the notebook top to bottom"
    assert counts == list(range(counts[0], counts[0] + len(counts)))


def test_checked_cells_are_marked(step):
    marked = [c.source for c in read(step).cells if c.cell_type == "code" and "# NBVAL_CHECK_OUTPUT" in c.source]
    assert any("nb.show_model()" in s for s in marked) and any("nb.show_changes()" in s for s in marked)


def test_every_notebook_is_the_template_with_its_own_story(step):
    """A step's notebook is notebooks/template.ipynb with its header, its step number and its claims; everything
    else is one call into mnist_drill.lab.notebook (the whole series shows in the last step's notebook only)."""
    template = [c.source for c in nbformat.read(PROJECT_ROOT / "notebooks" / "template.ipynb", as_version=4).cells]
    cells = [c.source for c in read(step).cells]
    assert len(cells) == len(template)
    template[2] = template[2].replace("step=...", f"step={step}")
    assert cells[1:-1] == template[1:-1]
    assert cells[-1].rstrip().endswith("nb.compare_with_stored(history, seeds)")


def test_result_is_the_one_report_writes_from_the_stored_run(step):
    config = STEPS[step]
    history = load_history(layout.run_path("notebook", config.name))
    summary = {s["name"]: s for s in load_seed_summaries()}.get(config.name)
    source = read(step).cells[0].source
    block = source.split(RESULT_START, 1)[1].split(RESULT_END, 1)[0]
    assert block == result_line(history, summary), "stale Result: run `python -m mnist_drill report`"


def test_stored_log_is_the_stored_run_and_names_its_command(step):
    config = STEPS[step]
    nb = read(step)
    history = load_history(layout.run_path("notebook", config.name))
    assert history.command == notebook_command(config.name) and len(history.commit) == 40
    assert history.code_dirty is False, "the stored run was made with uncommitted code"
    log = outputs_text(next(c for c in nb.cells if c.cell_type == "code" and c.source == "history = nb.train()"))
    assert "Full run" in outputs_text(next(c for c in nb.cells if "StepNotebook(step=" in c.get("source", "")))
    best, best_epoch = history.best()
    assert f"best {best:.2f}% at epoch {best_epoch}" in log and f"{history.params:,} params" in log
    for epoch in history.epochs:
        line = f"Accuracy: {epoch['eval_correct']}/{epoch['eval_total']} ({epoch['eval_acc']:.2f}%)"
        assert line in log


def test_stored_outputs_are_plain_text_for_any_viewer(step):
    path = NOTEBOOKS[step]
    assert path.stat().st_size < MAX_BYTES, f"{path.name}: {path.stat().st_size:,} bytes"
    raw = json.loads(path.read_text())
    assert "widgets" not in raw.get("metadata", {})
    for cell in raw["cells"]:
        for out in cell.get("outputs", []):
            assert "application/vnd.jupyter.widget-view+json" not in out.get("data", {})
            text = "".join(out.get("text", "")) + "".join(out.get("data", {}).get("text/plain", ""))
            assert not MACHINE_PATH.search(text), f"{path.name}: a machine path in an output: {text[:200]}"
