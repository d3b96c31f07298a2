"""The data a run prepares before its notebooks: metrics for every trust at once, one slice
per trust (validated tables and its published rows as Parquet) and the peers rows.

The slices hold person-level rows: they live in the run's private staging folder
(:data:`WORK_DIR`) and go with it. The peers rows (public trust codes and published
figures) are kept in each report folder, so an executed notebook can be run again.
"""

from __future__ import annotations

import json
from pathlib import Path

from edi_analysis.params import Params

#: Inside a staging folder: the prepared slices and peers files (removed with it).
WORK_DIR = "_work"


def _slice_tables(tables: dict, trust: str) -> dict:
    return {name: (df[df["trust_code"] == trust].reset_index(drop=True) if "trust_code" in df else df)
            for name, df in tables.items() if df is not None}


def write_slice(folder: Path, tables: dict, trust: str, provenance: dict,
                metrics: dict | None = None, trust_names: dict | None = None) -> Path:
    """One trust's validated tables as Parquet, with ``slice.json`` and ``provenance.json``.

    ``metrics`` (optional): the trust's prepared rows, ``{"settings": {...},
    "periods": {period: {"rows": DataFrame, "trend": DataFrame}}}``, written
    under ``metrics/`` for the notebooks (``report.load_prepared``).
    ``trust_names``: ODS code → name of the trusts in the run (the params file's
    ``trust_names``), so the notebooks name this trust and its peers.
    """
    from edi_analysis.report import PROVENANCE_FILE, ROWS_DIR, SLICE_MARKER, write_rows

    folder.mkdir(parents=True, exist_ok=True)
    names = []
    for name, df in _slice_tables(tables, trust).items():
        df.to_parquet(folder / f"{name}.parquet", index=False)
        names.append(name)
    meta: dict = {"trust": trust, "tables": names, "trust_names": dict(trust_names or {})}
    if metrics is not None:
        entries = {}
        for period, kinds in metrics["periods"].items():
            entries[period] = {}
            for kind, rows in kinds.items():
                rel = f"{ROWS_DIR}/{period}-{kind}.parquet"
                write_rows(folder / rel, rows)
                entries[period][kind] = rel
        meta["metrics"] = {"settings": metrics["settings"], "periods": entries}
    (folder / SLICE_MARKER).write_text(json.dumps(meta), encoding="utf-8")
    (folder / PROVENANCE_FILE).write_text(json.dumps(provenance, indent=2), encoding="utf-8")
    return folder


def _by_trust(rows, trusts: list[str]) -> dict:
    """Rows split by trust (every trust present, possibly with no rows), order kept."""
    empty = rows.iloc[0:0]
    out = {t: empty for t in trusts}
    for trust, part in rows.groupby("trust_code", sort=False):
        if trust in out:
            out[trust] = part.reset_index(drop=True)
    return out


def prepare_metrics(dataset, params: Params, trusts: list[str]) -> dict:
    """Every trust's published rows, from one computation over every period the run publishes.

    Returns ``{period: {"rows": {trust: rows}, "trend": {trust: rows}}}``.
    ``rows`` are the period's rows (all metrics: they also make
    ``metrics.csv`` and the peers file); ``trend`` the trend metrics' rows of
    the trust's earlier snapshots, which the reports show beside them. Both
    come from one ``metrics.compute`` over the run's periods and every earlier
    snapshot, so a count has one suppression decision wherever the run
    publishes it (``edi_analysis.disclosure``: a 2023 headcount in 2023's
    WRES 1 and in 2024's two-year WRES 3 denominator). A report's rows are
    these narrowed to its metrics: ``metrics.compute`` gives the same rows
    whichever metrics and periods are requested, and the same rows for a
    trust whether it is computed alone or with others.
    """
    from edi_analysis import report
    from edi_analysis.metrics_output import compute_metrics

    settings = report.prepared_settings(params.min_count, params.min_survey_responses,
                                        params.seed)
    snaps = {t: report.snapshot_dates(wf)
             for t, wf in dataset.tables["workforce"].groupby("trust_code")}
    last = max(params.periods)
    periods = sorted(set(params.periods)
                     | {p for t in trusts for p in snaps.get(t, []) if p < last})
    rows = compute_metrics(dataset, periods, trusts, **settings)
    by_period = {p: part.reset_index(drop=True) for p, part in rows.groupby("period", sort=False)}
    empty = rows.iloc[0:0]
    trend_ids = report.all_trend_ids()
    trends = rows[rows["metric_id"].isin(trend_ids)]
    out: dict = {}
    for period in params.periods:
        these = by_period.get(period, empty)
        trend = {}
        for t in trusts:
            earlier = [p for p in snaps.get(t, []) if p < period]
            trend[t] = trends[(trends["trust_code"] == t)
                              & trends["period"].isin(earlier)].reset_index(drop=True)
        out[period] = {"all": these, "rows": _by_trust(these, trusts), "trend": trend}
    return out


def peers_rows(rows):
    """Headline rows (no breakdown, or the breakdown a board-paper indicator is defined on;
    numeric) of every trust: public trust codes and published figures."""
    from edi_analysis.board import headline_breakdowns

    extra = headline_breakdowns()
    keys = list(zip(rows["metric_id"], rows["breakdown"]))
    keep = rows["breakdown"].eq("").to_numpy() | [k in extra for k in keys]
    out = rows[keep & (rows["unit"] != "flag")].reset_index(drop=True)
    out["value"] = out["value"].astype("float64")  # flag labels (text) are excluded above
    return out

