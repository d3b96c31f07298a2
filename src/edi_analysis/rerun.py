"""``edi-analysis rerun NOTEBOOK.ipynb [-o OUT]``: execute a kept notebook again, as recorded,
and say section by section whether it gives the same outputs.

A notebook in ``reports/<period>/<trust>/`` records the parameters it re-runs with (the
dataset's absolute path and the sha256 of each of its files, the peers file kept beside it:
:mod:`edi_analysis.runner`). This runs it with no other parameter in a new kernel of this
environment (papermill's own engine, as ``papermill NOTEBOOK OUT.ipynb`` would), then
compares each code cell's outputs with the recorded ones: the metric rows (figure by
figure: value, interval, counts, suppression), the charts, the tables and the text.

Exit status: 0 every figure the same; 1 any figure differs (metric rows, a chart, a table, a
section's sentences, a section that now fails); 2 a usage or input problem (no such notebook,
not an executed report notebook, an input whose sha256 no longer matches, a parameter the
notebook does not have). A change only in the methodology's text (its provenance line: the
project's commit, package versions) is reported without failing.
"""

from __future__ import annotations

import json
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from edi_analysis.errors import UsageError

#: Errors raised by the report before any figure (the inputs or the parameters are wrong).
INPUT_ERRORS = ("InputChanged", "ParameterError", "SliceError", "FileNotFoundError")
#: Columns of a metric row compared (CONTRACT.md §5), after its key.
_ROW_KEY = ("metric_id", "breakdown", "group")
_ROW_FIELDS = ("numerator", "denominator", "value", "ci_lower", "ci_upper", "suppressed", "unit")


@dataclass
class SectionDiff:
    """One code cell: its label, and what differs (empty: identical)."""

    label: str
    changes: list[str] = field(default_factory=list)
    #: whether a figure differs (metric rows, a chart, a table, a sentence of a section, an
    #: error); False for a change in the methodology's text only (e.g. the project's commit
    #: or a package version in its provenance line)
    figures: bool = False

    @property
    def identical(self) -> bool:
        return not self.changes


def _label(cell, index: int) -> str:
    tags = cell.get("metadata", {}).get("tags", [])
    for t in tags:
        if t.startswith(("hl-", "tbl-")):
            return t
    for t in tags:
        if t not in ("headline",):
            return t
    return f"cell {index}"


def _kind(out: dict) -> str:
    from edi_analysis.report import DATA_MIMES

    data = out.get("data", {})
    if any(m in data for m in DATA_MIMES):
        return "rows"
    plain = data.get("text/plain", "")
    plain = "".join(plain) if isinstance(plain, list) else plain
    if plain.startswith("Table"):
        return "table"
    if "text/markdown" in data and len(data) <= 2:
        return "text"
    if any(k.startswith("image/") for k in data) or "text/html" in data:
        return "figure"
    return out.get("output_type", "output")


def _name(out: dict) -> str:
    plain = out.get("data", {}).get("text/plain", "")
    plain = "".join(plain) if isinstance(plain, list) else str(plain)
    plain = " ".join(plain.split())
    return (plain[:90] + "…") if len(plain) > 90 else plain


def _comparable(cell) -> list[dict]:
    """A cell's outputs without what varies between runs (execution counts, stderr streams)."""
    outs = []
    for o in cell.get("outputs", []):
        if o.get("output_type") == "stream" and o.get("name") == "stderr":
            continue
        o = {k: v for k, v in o.items() if k not in ("execution_count", "metadata")}
        outs.append(json.loads(json.dumps(o)))
    return outs


def _rows(out: dict) -> dict:
    from edi_analysis.report import ROWS_MIME

    recs = out.get("data", {}).get(ROWS_MIME)
    if not isinstance(recs, list):
        return {}
    return {tuple(r.get(k) for k in _ROW_KEY): r for r in recs if isinstance(r, dict)}


def _row_changes(old: dict, new: dict) -> list[str]:
    out = []
    for key in list(old) + [k for k in new if k not in old]:
        where = f"{key[0]}" + (f" [{key[1]}: {key[2]}]" if key[1] or key[2] else "")
        if key not in new:
            out.append(f"{where}: row no longer produced")
        elif key not in old:
            out.append(f"{where}: new row")
        else:
            diff = [f"{f} {old[key].get(f)!r} → {new[key].get(f)!r}" for f in _ROW_FIELDS
                    if old[key].get(f) != new[key].get(f)]
            if diff:
                out.append(f"{where}: " + ", ".join(diff))
    return out


def compare(recorded, rerun) -> list[SectionDiff]:
    """Section by section (code cell by code cell), what the re-run changed."""
    a = [c for c in recorded.cells if c.cell_type == "code"]
    b = [c for c in rerun.cells if c.cell_type == "code"]
    if len(a) != len(b):
        return [SectionDiff("notebook", [f"{len(a)} code cells recorded, {len(b)} re-run"],
                            figures=True)]
    out = []
    for i, (ca, cb) in enumerate(zip(a, b), start=1):
        diff = SectionDiff(_label(ca, i))
        oa, ob = _comparable(ca), _comparable(cb)
        if oa != ob:
            if len(oa) != len(ob):
                diff.figures = True
                diff.changes.append(f"{len(oa)} outputs recorded, {len(ob)} re-run")
            counts: dict[str, int] = {}
            for x, y in zip(oa, ob):
                kind = _kind(x)
                counts[kind] = counts.get(kind, 0) + 1
                if x == y:
                    continue
                if not (kind == "text" and diff.label == "methodology"):
                    diff.figures = True
                if kind == "rows":
                    diff.changes += _row_changes(_rows(x), _rows(y)) or [
                        "metric rows: the same figures, shown differently"]
                elif y.get("output_type") == "error":
                    diff.changes.append(f"now fails: {y.get('ename')}: {y.get('evalue')}")
                else:
                    diff.changes.append(f"{kind} {counts[kind]} ({_name(x) or 'no text'}) "
                                        "differs")
        out.append(diff)
    return out


def _read(path: Path):
    import nbformat

    try:
        nb = nbformat.read(path, as_version=4)
    except (OSError, ValueError) as exc:
        raise UsageError(f"{path}: not a readable notebook ({exc})") from None
    meta = nb.metadata.get("papermill") or {}
    injected = any("injected-parameters" in c.get("metadata", {}).get("tags", [])
                   for c in nb.cells)
    if not isinstance(meta.get("parameters"), dict) or not injected:
        raise UsageError(f"{path}: not an executed report notebook (no recorded parameters); "
                         "rerun takes a notebook from reports/<period>/<trust>/")
    return nb


def rerun(notebook: str | Path, output: str | Path | None = None, stream=None) -> int:
    """Re-execute ``notebook`` as recorded and print, per section, identical or what changed.
    Returns the exit status (0 identical, 1 different, 2 an input problem)."""
    from edi_analysis.execution import execute_one

    stream = stream or sys.stdout
    src = Path(notebook)
    if not src.is_file():
        raise UsageError(f"{src}: no such notebook")
    recorded = _read(src)
    if output is not None:
        out = Path(output)
        if out.resolve() == src.resolve():
            raise UsageError(f"{out}: is the notebook being re-run; choose another -o OUT")
        if out.exists():
            raise UsageError(f"{out}: exists, so it is not overwritten; choose another -o OUT")
        if not out.parent.is_dir():
            raise UsageError(f"{out.parent}: no such folder (for -o OUT)")
    with tempfile.TemporaryDirectory(prefix="edi-analysis-rerun-") as tmp:
        target = Path(tmp) / src.name
        # no parameters: the notebook's injected cell, as recorded; a fresh kernel; run from a
        # folder of its own, as a reviewer's papermill would be
        res = execute_one(str(src.resolve()), str(target), {}, tmp, fresh_kernel=True)
        if not res.get("written"):
            print(f"{src}: the re-run saved no notebook: {res.get('error')}", file=sys.stderr)
            return 1
        import nbformat

        again = nbformat.read(target, as_version=4)
        if output is not None:
            Path(output).write_bytes(target.read_bytes())
    if res["status"] != "ok":
        name = (res.get("error") or "").split(":", 1)[0]
        if name in INPUT_ERRORS:
            print(f"{src}: cannot re-run as recorded: {res['error']}", file=sys.stderr)
            return 2
    diffs = compare(recorded, again)
    changed = [d for d in diffs if not d.identical]
    for d in diffs:
        if d.identical:
            print(f"{d.label}: identical", file=stream)
        else:
            what = "CHANGED" if d.figures else "text changed (no figure)"
            print(f"{d.label}: {what}", file=stream)
            for c in d.changes:
                print(f"    {c}", file=stream)
    n = len(diffs)
    figures = [d for d in changed if d.figures]
    print(f"{n - len(changed)} of {n} section{'s' * (n != 1)} identical"
          + (f"; {len(figures)} with different figures" if figures else "")
          + (f"; {len(changed) - len(figures)} with other text changed"
             if len(changed) > len(figures) else "")
          + (f"; re-run notebook written to {output}" if output is not None else ""),
          file=stream)
    return 1 if figures else 0
