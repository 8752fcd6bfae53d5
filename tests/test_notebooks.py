"""The five notebooks tell the truth: each Result line matches the notebook's stored output and its
results/ JSON, every code cell was executed in order, and the checked cells are marked for nbval.
"""

import re

import nbformat
import pytest

from mnist_drill.config import STEPS
from mnist_drill.paths import PROJECT_ROOT, RESULTS_DIR
from mnist_drill.results import History, first_consistent_epoch

NOTEBOOKS = {n: PROJECT_ROOT / "notebooks" / f"{c.name}.ipynb" for n, c in STEPS.items()}
RESULT = re.compile(r"(?P<params>[\d,]+) parameters · best (?P<best>[\d.]+) % \(epoch (?P<best_epoch>\d+)\) · "
                    r"last epoch (?P<last>[\d.]+) % · ≥ 99\.4 % held from epoch (?P<held>\d+|never) · "
                    r"(?P<seconds>[\d.]+) s per epoch")


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


def test_notebook_exists_with_target_result_analysis(step):
    nb = nbformat.read(NOTEBOOKS[step], as_version=4)
    first = nb.cells[0]
    assert first.cell_type == "markdown"
    for heading in ("**Target.**", "**Result.**", "**Analysis.**", "colab-badge.svg"):
        assert heading in first.source, f"{NOTEBOOKS[step].name} lacks {heading}"
    assert "PLACEHOLDER" not in first.source


def test_code_cells_were_executed_top_to_bottom(step):
    nb = nbformat.read(NOTEBOOKS[step], as_version=4)
    counts = [c.execution_count for c in nb.cells if c.cell_type == "code"]
    assert None not in counts, "a code cell has no execution count: run the notebook top to bottom"
    assert counts == list(range(counts[0], counts[0] + len(counts)))


def test_checked_cells_are_marked(step):
    nb = nbformat.read(NOTEBOOKS[step], as_version=4)
    marked = [c.source for c in nb.cells if c.cell_type == "code" and "# NBVAL_CHECK_OUTPUT" in c.source]
    assert any("summary_text" in s for s in marked) and any("receptive_fields" in s for s in marked)
    assert any("format_diff" in s or "print(config)" in s for s in marked)


def test_result_line_matches_stored_output_and_results_json(step):
    config = STEPS[step]
    nb = nbformat.read(NOTEBOOKS[step], as_version=4)
    match = RESULT.search(nb.cells[0].source)
    assert match, f"{NOTEBOOKS[step].name}: Result line not in the expected form"
    history = History.load(RESULTS_DIR / f"{config.name}.json")
    best, best_epoch = history.best()
    first = first_consistent_epoch(history)
    assert int(match["params"].replace(",", "")) == history.params
    assert float(match["best"]) == round(best, 2) and int(match["best_epoch"]) == best_epoch
    assert float(match["last"]) == round(history.test_acc[-1], 2)
    assert match["held"] == (str(first) if first else "never")
    assert float(match["seconds"]) == round(history.seconds_per_epoch, 1)
    # the stored output of the training cell is the run in results/
    fit_cells = [c for c in nb.cells if c.cell_type == "code" and c.source.startswith("history = fit(")]
    log = outputs_text(fit_cells[0])
    assert "Full run" in outputs_text(next(c for c in nb.cells if "SMOKE = " in c.get("source", "")))
    assert f"best {best:.2f}% at epoch {best_epoch}" in log and f"{history.params:,} params" in log
    for epoch in history.epochs:
        line = f"Accuracy: {epoch['test_correct']}/{epoch['test_total']} ({epoch['test_acc']:.2f}%)"
        assert line in log
