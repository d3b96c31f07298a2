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
from dataclasses import dataclass, field, replace

import pandas as pd

from edi_analysis import groups, stats
from edi_analysis.metrics._recent import Recent
from edi_analysis.metrics.registry import FAMILIES, REGISTRY, MetricSpec, spec
from edi_analysis.metrics.rows import INTERNAL, KEYS, PUBLISHED, empty_rows, normalise

__all__ = ["MetricContext", "compute", "compute_raw", "REGISTRY", "FAMILIES", "MetricSpec", "spec",
           "publishable", "linked_families"]

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
    ``min_count`` and ``min_survey_responses`` are the run's disclosure
    thresholds (CONTRACT.md §4.8), for the words of notes: a count a note
    states is exact from ``min_count`` up, else "fewer than <min_count>".
    :func:`compute` sets them from its own arguments.
    """

    tables: Mapping[str, pd.DataFrame]
    periods: tuple[pd.Timestamp, ...]
    seed: int = 20240331
    n_bootstrap: int = 1000
    as_of: pd.Timestamp | None = None
    trusts: tuple[str, ...] | None = None
    extra: Mapping[str, object] = field(default_factory=dict)
    min_count: int = stats.DEFAULT_MIN_COUNT
    min_survey_responses: int = stats.DEFAULT_MIN_SURVEY_RESPONSES

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


def with_thresholds(ctx: MetricContext, min_count: int,
                    min_survey_responses: int) -> MetricContext:
    """``ctx`` carrying the run's thresholds (the same object when it already does)."""
    if (ctx.min_count, ctx.min_survey_responses) == (int(min_count), int(min_survey_responses)):
        return ctx
    return replace(ctx, min_count=int(min_count), min_survey_responses=int(min_survey_responses))


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


def _raw(ctx: MetricContext, names: Iterable[str], optional: Iterable[str] = (),
         skipped: list | None = None) -> pd.DataFrame:
    """Unsuppressed rows of whole families (internal columns kept), area filled, sorted.

    A family in ``optional`` is left out (and listed in ``skipped`` with its error) when it
    cannot run because a hand-made context's tables lack columns of the contract
    (``_complete``); with a validated dataset every family runs.
    """
    optional = set(optional)
    parts = []
    for name in names:
        try:
            out = FAMILIES[name].func(ctx)
        except KeyError as exc:
            if name in optional and not _complete(ctx, name):
                if skipped is not None:
                    skipped.append((name, exc))
                continue
            raise
        if out is not None and not out.empty:
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


def compute_raw(ctx: MetricContext, metric_ids: Iterable[str] | None = None) -> pd.DataFrame:
    """Unsuppressed rows (internal columns kept) for the requested metrics."""
    rows = _raw(ctx, families_for(metric_ids))
    if metric_ids is not None:
        rows = rows[rows["metric_id"].isin(set(metric_ids))].reset_index(drop=True)
    return rows


def sort_rows(rows: pd.DataFrame) -> pd.DataFrame:
    return rows.sort_values(KEYS, kind="stable", ignore_index=True)


def linked_families() -> list[str]:
    """Families with a metric that declares cells (``edi_analysis.disclosure``): decided together."""
    from edi_analysis import disclosure

    _load_families()
    return [name for name, fam in FAMILIES.items()
            if any(disclosure.has_cells(m) for m in fam.metric_ids)]


def _complete(ctx: MetricContext, name: str) -> bool:
    """Whether every input table of a family that is present holds the contract's required columns.

    Always so for a validated dataset; a context built by hand from a few columns (tests,
    notebooks) cannot run the families that need the others.
    """
    from edi_analysis.contract import TABLES

    required = {t.name: set(t.required_columns) for t in TABLES}
    for table in FAMILIES[name].tables:
        df = ctx.table(table)
        if df is not None and not required.get(table, set()) <= set(df.columns):
            return False
    return True


#: The last few linked decisions, per context object (a context's tables are read-only), so
#: asking one context for several sets of metrics decides once.
_DECIDED = Recent(4)


def _decided(ctx: MetricContext, families: tuple[str, ...], optional: tuple[str, ...],
             min_count: int, min_survey_responses: int) -> pd.DataFrame:
    """Suppressed rows of the linked families: every snapshot of each trust's data decided together.

    ``optional``: families not asked for, which a hand-made context may not be able to run.
    """
    from edi_analysis import disclosure

    key = (families, int(min_count), int(min_survey_responses))
    hit = _DECIDED.get((ctx,), *key)
    if hit is not None:
        out, skipped = hit
    else:
        wide = with_thresholds(disclosure.scope(ctx), min_count, min_survey_responses)
        skipped = []
        rows = _raw(wide, families, optional=families, skipped=skipped)
        infos = disclosure.infos_for(ctx, trusts=rows["trust_code"].unique())
        keep = [period in {p.strftime("%Y-%m-%d") for p in infos[t].periods}
                for t, period in zip(rows["trust_code"], rows["period"])]
        out = disclosure.suppress(rows[keep], wide, min_count, min_survey_responses,
                                  periods=ctx.periods)
        _DECIDED.put((ctx,), *key, value=(out, skipped))
    for name, exc in skipped:
        if name not in optional:  # asked for, and it cannot run on these tables
            raise exc
    return out


def compute(
    ctx: MetricContext,
    metric_ids: Iterable[str] | None = None,
    *,
    min_count: int = stats.DEFAULT_MIN_COUNT,
    min_survey_responses: int = stats.DEFAULT_MIN_SURVEY_RESPONSES,
    internal: bool = False,
) -> pd.DataFrame:
    """Suppressed, sorted metric rows: the numbers that are published (CONTRACT.md §4.8, §5).

    Suppression is one decision per trust over every count published for it
    (``edi_analysis.disclosure``): the rows of every family with cells, at every
    snapshot of the trust's data as well as the requested periods, so a count
    hidden in one family, table or period is hidden in all. The result is then
    narrowed to the context's periods and to ``metric_ids``. So ``compute(ctx,
    ids)`` equals ``compute(ctx)`` narrowed to ``ids``, a report showing a few
    metrics hides exactly what ``metrics.csv`` hides, and each period's rows are
    the same whichever other periods are asked for (``tests/test_engine.py``).
    Families without cells (pay gaps, board objectives, actions) keep their
    own row rules and are computed for the requested periods only. (A context
    built by hand whose tables lack contract columns decides over the families
    that can run on them: ``_raw``.)
    """
    from edi_analysis import disclosure

    ids = None if metric_ids is None else list(dict.fromkeys(metric_ids))
    if ids is not None:
        for mid in ids:
            spec(mid)
    wanted = families_for(ids)
    decided = linked_families() if ids is None or any(disclosure.has_cells(m) for m in ids) else []
    plain = [f for f in wanted if f not in decided]
    parts = []
    if decided:
        optional = tuple(f for f in decided if f not in wanted)
        parts.append(_decided(ctx, tuple(decided), optional, min_count, min_survey_responses))
    if plain:
        raw = _raw(with_thresholds(ctx, min_count, min_survey_responses), plain)
        parts.append(disclosure.suppress(raw, ctx, min_count, min_survey_responses))
    rows = sort_rows(pd.concat(parts, ignore_index=True)) if parts else empty_rows()
    asked = {p.strftime("%Y-%m-%d") for p in ctx.periods}
    keep = rows["period"].isin(asked)
    if ids is not None:
        keep &= rows["metric_id"].isin(ids)
    rows = rows[keep].reset_index(drop=True)
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
