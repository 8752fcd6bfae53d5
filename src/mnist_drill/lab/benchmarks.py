"""The Speed section of RESULTS.md: every results/benchmark*.json rendered by one rule, so a new benchmark needs no
code here."""

import ast
import json

from ..paths import PROJECT_ROOT
from . import layout
from .provenance import describe_machine
from .results import format_table


def benchmark_sections() -> list[str]:
    """Every results/benchmark*.json by one rule (a new one needs no code here): its command, what its script's
    docstring says it measures, machine, commit, single values, then a table per list of rows (lists left out)."""
    def cell(v) -> str:  # thousands grouped, about three significant digits
        if type(v) is float:
            return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.1f}" if abs(v) >= 10 else f"{v:.2f}"
        return "-" if v is None else f"{v:,}" if type(v) is int else str(v)

    out = []
    for path in sorted(layout.RESULTS_DIR.glob("benchmark*.json")):
        b = json.loads(path.read_text())
        script = PROJECT_ROOT / next((w for w in b["command"].split() if w.endswith(".py")), "-")
        doc = (ast.get_docstring(ast.parse(script.read_text())) or "") if script.is_file() else ""
        machine = next((m for m in (b.get("fingerprint"), b.get("machine")) if isinstance(m, dict)), None)
        out += [f"### `{layout.display(path)}`", f"`{b['command']}` on {describe_machine(machine)}, at "
                f"`{b['commit'][:7]}`" + " with uncommitted changes" * bool(b.get("code_dirty")) + ": "  # docstring
                + " ".join(doc.split("\n\n")[0].split()).rstrip(":.") + ". " + "; ".join(
                    f"{k.replace('_', ' ').replace('seed style', 'reference style')}: {cell(v)}" for k, v in b.items()
                    if not isinstance(v, dict | list) and k not in ("command", "commit", "code_dirty")) + "."]
        for key, rows in ((k, v) for k, v in b.items() if isinstance(v, list) and v and isinstance(v[0], dict)):
            cols = [c for c, v in rows[0].items() if not isinstance(v, dict | list)]
            head = [c.replace("_", " ").replace("ratio", "speed × row 1") for c in cols]  # row 1's time over the row's
            head[0] = head[0] if key == "rows" else f"{key}: {head[0]}"
            out.append(format_table(head, [[cell(r.get(c)) for c in cols] for r in rows], markdown=True))
    return ["## Speed", "Each `results/benchmark*.json`, made by a script in `benchmarks/` (`make bench` runs each "
            "with its default output); seconds compare only between files made on the same machine.", *out]
