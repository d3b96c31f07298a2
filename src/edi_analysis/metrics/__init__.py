"""Metrics engine: every metric of CONTRACT.md §4 as pure functions.

Usage::

    ctx = MetricContext.from_tables(tables, periods=["2024-03-31"])
    rows = compute(ctx)                     # all metrics, suppressed, sorted
    rows = compute(ctx, ["wres.2.relative_likelihood"])

Each family module registers its functions with ``registry.family``; they are
imported here so the registry is complete whenever the package is imported.
A family function takes a :class:`MetricContext` and returns unsuppressed
rows (``rows.make_rows``) for every trust and period in the context.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import pandas as pd

from edi_analysis import groups, stats
from edi_analysis.metrics.registry import FAMILIES, REGISTRY, MetricSpec, spec
from edi_analysis.metrics.rows import INTERNAL, KEYS, PUBLISHED, empty_rows, normalise

__all__ = ["MetricContext", "compute", "REGISTRY", "FAMILIES", "MetricSpec", "spec", "publishable"]

_NOT_FAMILIES = {"registry", "rows"}


def _load_families() -> None:
    for mod in pkgutil.iter_modules(__path__):
        if mod.name not in _NOT_FAMILIES and not mod.name.startswith("_"):
            importlib.import_module(f"{__name__}.{mod.name}")


@dataclass(frozen=True)
class MetricContext:
    """Everything a metric family needs: validated tables with reporting groups, periods, parameters.

    ``tables`` maps table name (``workforce``, ``recruitment``,
    ``employee_relations``, ``staff_survey``, ``board``, and optionally
    ``actions``, ``external_indicators``) to a validated DataFrame with the
    columns of ``groups.add_groups``. ``periods`` are snapshot dates.
    ``as_of`` (default: the period itself) is the date against which action
    due dates are judged, so a re-run gives the same RAG status.
    """

    tables: Mapping[str, pd.DataFrame]
    periods: tuple[pd.Timestamp, ...]
    seed: int = 20240331
    n_bootstrap: int = 1000
    as_of: pd.Timestamp | None = None
    trusts: tuple[str, ...] | None = None
    extra: Mapping[str, object] = field(default_factory=dict)

    @classmethod
    def from_tables(cls, tables: Mapping[str, pd.DataFrame], periods: Iterable, *,
                    trusts: Iterable[str] | None = None, add_groups: bool = True, **kw) -> "MetricContext":
        """Build a context; restricts every table to ``trusts`` when given."""
        trusts_t = tuple(trusts) if trusts is not None else None
        prepared = {}
        for name, df in tables.items():
            if df is None:
                continue
            if trusts_t is not None and "trust_code" in df:
                df = df[df["trust_code"].isin(trusts_t)]
            prepared[name] = groups.add_groups(df) if add_groups else df
        per = tuple(sorted(pd.Timestamp(p) for p in periods))
        return cls(tables=prepared, periods=per, trusts=trusts_t, **kw)

    def table(self, name: str) -> pd.DataFrame | None:
        return self.tables.get(name)

    @property
    def trust_codes(self) -> list[str]:
        """Trusts reported: those with a workforce snapshot (or the requested list)."""
        if self.trusts is not None:
            return sorted(self.trusts)
        wf = self.tables.get("workforce")
        return sorted(wf["trust_code"].unique()) if wf is not None else []


def families_for(metric_ids: Iterable[str] | None) -> list[str]:
    _load_families()
    if metric_ids is None:
        return list(FAMILIES)
    names = []
    for mid in metric_ids:
        fam = spec(mid).family
        if fam not in names:
            names.append(fam)
    return names


def compute_raw(ctx: MetricContext, metric_ids: Iterable[str] | None = None) -> pd.DataFrame:
    """Unsuppressed rows (internal columns kept) for the requested metrics."""
    _load_families()
    wanted = None if metric_ids is None else set(metric_ids)
    parts = []
    for name in families_for(metric_ids):
        out = FAMILIES[name].func(ctx)
        if out is None or out.empty:
            continue
        if wanted is not None:
            out = out[out["metric_id"].isin(wanted)]
        parts.append(normalise(out))
    rows = pd.concat(parts, ignore_index=True) if parts else empty_rows()
    unknown = set(rows["metric_id"]) - set(REGISTRY)
    if unknown:
        raise ValueError(f"family returned unregistered metric ids: {sorted(unknown)}")
    # A family may set a row's own area (actions.status: each action's area); otherwise
    # the registry's area for the metric.
    registry_area = rows["metric_id"].map(lambda m: REGISTRY[m].area).astype("str")
    rows["area"] = rows["area"].where(rows["area"].ne(""), registry_area).astype("str")
    return sort_rows(rows)


def sort_rows(rows: pd.DataFrame) -> pd.DataFrame:
    return rows.sort_values(KEYS, kind="stable", ignore_index=True)


def compute(
    ctx: MetricContext,
    metric_ids: Iterable[str] | None = None,
    *,
    min_count: int = stats.DEFAULT_MIN_COUNT,
    min_survey_responses: int = stats.DEFAULT_MIN_SURVEY_RESPONSES,
    internal: bool = False,
) -> pd.DataFrame:
    """Suppressed, sorted metric rows: the numbers that are published (CONTRACT.md §4.8, §5).

    Suppression runs over every row of the requested metrics' families, then
    the rows are narrowed to ``metric_ids``: a metric's published rows do not
    depend on which other metrics were asked for. ``compute(ctx, ids)`` equals
    ``compute(ctx)`` narrowed to ``ids``, so a report showing a few metrics
    hides exactly what ``metrics.csv`` hides (e.g. a board gap is suppressed
    with the workforce share it is derived from even when that share is not
    requested). Partitions and ``derived_from`` names never cross families
    (``tests/test_engine.py`` checks it).
    """
    ids = None if metric_ids is None else list(dict.fromkeys(metric_ids))
    whole = None
    if ids is not None:
        fams = set(families_for(ids))
        whole = [m for m, sp in REGISTRY.items() if sp.family in fams]
    rows = stats.apply_suppression(compute_raw(ctx, whole), min_count, min_survey_responses)
    if ids is not None and len(ids) < len(whole):
        rows = rows[rows["metric_id"].isin(ids)].reset_index(drop=True)
    return rows if internal else publishable(rows)


def publishable(rows: pd.DataFrame) -> pd.DataFrame:
    """The metrics.csv view: flag labels moved into ``value``, internal columns dropped."""
    out = rows.copy()
    value = out["value"].astype("object")
    has_label = out["label"].astype("str").ne("")
    value[has_label] = out.loc[has_label, "label"]
    out["value"] = value
    return out[PUBLISHED]


_load_families()
