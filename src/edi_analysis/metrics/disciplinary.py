"""Disciplinary and capability metrics: WRES 3, WDES 3 and case outcomes (CONTRACT.md §4.3, HIA6).

Who is counted (WRES technical guidance, indicator 3: "relative likelihood of
staff entering the formal disciplinary process"; WDES technical guidance,
metric 3, the same for the formal capability process): **staff entering**
the process, not cases. A member of staff who enters twice in one reporting
year counts once in that year (:func:`entrant_records`); cases stay the unit
of the outcome and time-to-close measures.

Scope (CONTRACT.md §3: bank staff are out of WRES/WDES, on both sides of the
ratio): a case counts only when its staff member is in scope, decided by
:func:`case_in_scope` — the contract the person holds in the workforce
snapshot that closes the reporting year in which the case started (the
headcount their person-years come from); a person not in that snapshot (they
left during the year) by their latest earlier snapshot; a person in no
snapshot up to then is left out, as they add no person-years either.

Rolling two-year basis (WRES technical guidance, indicator 3; WDES technical
guidance, metric 3): for a reporting group g at snapshot t,

    rate_g = staff entering_g (per reporting year, in the 24 months to t)
             ÷ (in-scope headcount_g at t + in-scope headcount_g at t − 1 year) × 100,

an annual rate per 100 staff. Where the trust has no workforce snapshot a
year earlier, the rate is the reporting year's entrants ÷ the one headcount,
and the row's ``note`` says so. An entrant's group is the characteristic held
on their first case row of that year (as recorded when the case started,
CONTRACT.md §2.3), a member of staff's group the one held at each snapshot.
Unknown groups are shown as rates but excluded from both sides of every ratio
(CONTRACT.md §3).

Relative likelihoods of 0.80–1.25 are the "non-adverse range" (NHS England,
*A fair experience for all*, 2019, after the four-fifths rule); that reading
is left to the narrative, the rows hold only figures and method facts.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import pandas as pd

from edi_analysis import groups, stats
from edi_analysis.metrics._recent import Recent
from edi_analysis.metrics.registry import MetricSpec, family
from edi_analysis.metrics.rows import empty_rows, make_rows

#: Stratum label for pay band "Other", which belongs to no pay cluster (CONTRACT.md §3).
NO_CLUSTER = "none"

WRES3_SOURCE = "WRES technical guidance (NHS England, 2023), indicator 3"
WDES3_SOURCE = "WDES technical guidance (NHS England, 2023), metric 3"
NON_ADVERSE_SOURCE = "NHS England, A fair experience for all (2019): non-adverse range 0.80–1.25"
HIA6_SOURCE = "NHS EDI Improvement Plan (2023), high impact action 6"

ROLLING_NOTE = (
    "12-month basis: no workforce snapshot on {prev} for this trust, so staff entering in the "
    "reporting year ÷ one headcount"
)

#: Metrics counted on the rolling two-year basis (12 months where the earlier snapshot is absent):
#: WRES 3, WDES 3, the same by sex, and the disciplinary-inconsistency model built on them.
_ROLLING = re.compile(r"^(wres\.3|wdes\.3|sex\.3)\.|^hia6\.([a-z_]+\.)?(crude_rate_ratio|"
                      r"rate_ratio_staff_group|adjusted_rate_ratio|disparity|"
                      r"staff_group_rate_ratio|staff_group_difference)$")
TWO_YEAR, TWELVE_MONTH = "two-year rolling", "12-month"


def counting_basis(metric_id: str, period: str, snapshots) -> str:
    """How a metric's cases are counted for ``period``: ``two-year rolling`` when the trust has
    a workforce snapshot a year earlier (``snapshots``: its snapshot dates, ``YYYY-MM-DD``),
    ``12-month`` when not; ``""`` for a metric that does not depend on it.

    Figures on different bases are not comparable: a trend or a year-on-year change joins only
    figures on the same basis (WRES technical guidance, indicator 3)."""
    if not _ROLLING.match(metric_id):
        return ""
    p = pd.Timestamp(period)
    prev = (p - pd.DateOffset(years=1)).strftime("%Y-%m-%d")
    return TWO_YEAR if prev in {str(s)[:10] for s in snapshots} else TWELVE_MONTH


# (metric prefix, case type, group column, compared group, reference group, group labels)
_COMPARISONS = (
    ("wres.3", "disciplinary", "ethnicity", groups.BME, groups.WHITE, groups.ETHNICITY_LABELS),
    ("wdes.3", "capability_performance", "disability_group", groups.DISABLED, groups.NON_DISABLED,
     groups.DISABILITY_LABELS),
    ("sex.3", "disciplinary", "sex_group", groups.MALE, groups.FEMALE, groups.SEX_LABELS),
)

_RATE_DEF = (
    "In-scope staff entering the formal {what} process (a person counts once in each reporting "
    "year in which a case of theirs started; bank staff's cases, and cases of staff in no "
    "snapshot, are left out) in the 24 months to the snapshot ÷ (in-scope headcount at the "
    "snapshot + in-scope headcount at the snapshot a year earlier) × 100, per group as held on the "
    "first case row of the year and at each snapshot; the reporting year's entrants ÷ one "
    "headcount where the earlier snapshot is absent (noted). numerator = staff entering, "
    "denominator = person-years. 95% Wilson interval."
)
_RL_DEF = (
    "Rate of {cmp} staff ÷ rate of {ref} staff, rates as in {rate_id} (Unknown excluded). "
    "numerator/denominator = the {cmp} group's staff entering and person-years. 95% CI by the "
    "log (Katz) method with person-years as the exposure; blank when a group has nobody entering."
)

SPECS = [
    MetricSpec(
        "wres.3.rate", "hia6", "Annual rate of entering the formal disciplinary process", "percent",
        WRES3_SOURCE, _RATE_DEF.format(what="disciplinary"),
    ),
    MetricSpec(
        "wres.3.relative_likelihood", "hia6",
        "Relative likelihood of BME staff entering the formal disciplinary process compared to White staff",
        "ratio", f"{WRES3_SOURCE}; {NON_ADVERSE_SOURCE}",
        _RL_DEF.format(cmp="BME", ref="White", rate_id="wres.3.rate"),
    ),
    MetricSpec(
        "wdes.3.rate", "hia6", "Annual rate of entering the formal capability process (performance)",
        "percent", WDES3_SOURCE,
        _RATE_DEF.format(what="capability (performance; ill-health capability excluded)"),
    ),
    MetricSpec(
        "wdes.3.relative_likelihood", "hia6",
        "Relative likelihood of Disabled staff entering the formal capability process compared to "
        "Non-disabled staff", "ratio", f"{WDES3_SOURCE}; {NON_ADVERSE_SOURCE}",
        _RL_DEF.format(cmp="Disabled", ref="Non-disabled", rate_id="wdes.3.rate"),
    ),
    MetricSpec(
        "sex.3.rate", "hia6", "Annual rate of entering the formal disciplinary process, by sex", "percent",
        f"{HIA6_SOURCE} (all protected characteristics); method of {WRES3_SOURCE}",
        _RATE_DEF.format(what="disciplinary"),
    ),
    MetricSpec(
        "sex.3.relative_likelihood", "hia6",
        "Relative likelihood of male staff entering the formal disciplinary process compared to "
        "female staff", "ratio",
        f"{HIA6_SOURCE} (all protected characteristics); method of {WRES3_SOURCE}",
        _RL_DEF.format(cmp="Male", ref="Female", rate_id="sex.3.rate")
        + " Reference Female, the larger group, as in sex.2.",
    ),
    MetricSpec(
        "er.outcome_share", "hia6", "Outcome of closed disciplinary cases", "percent",
        f"{HIA6_SOURCE}; {WRES3_SOURCE}",
        "Disciplinary cases that started in the reporting year and were closed (closed date and "
        "outcome recorded) by the snapshot: cases with this outcome ÷ closed cases × 100, per "
        "ethnicity group and for All. Every formal case counts (cases, not staff entering; bank "
        "staff's cases included: the measure reviews the process itself). 95% Wilson interval.",
        breakdowns=tuple(f"outcome={o}" for o in groups.OUTCOMES),
    ),
    MetricSpec(
        "er.days_to_close_median", "hia6", "Median days to close a disciplinary case", "days",
        f"{HIA6_SOURCE}",
        "Median of closed date − start date (calendar days) over disciplinary cases that started in "
        "the reporting year and were closed by the snapshot, per ethnicity group and for All "
        "(every formal case, bank staff's included, as er.outcome_share).",
        counts=(),  # a median of days
    ),
]


def _period_str(p: pd.Timestamp) -> str:
    return pd.Timestamp(p).strftime("%Y-%m-%d")


def counted_cases(cases: pd.DataFrame, case_type: str) -> pd.DataFrame:
    """The employee-relations rows of one case type (the cases WRES 3 / WDES 3 draw on).

    :func:`entrant_records` keeps the in-scope ones and one per person per
    reporting year; the outcome measures count every case. The disclosure
    records (``edi_analysis.disclosure.records``) use the same selections.
    """
    return cases[cases["case_type"].eq(case_type).fillna(False).to_numpy(dtype=bool)]


def closed_by(cases: pd.DataFrame, snapshot: pd.Timestamp) -> np.ndarray:
    """Cases closed (closed date and outcome recorded) on or before ``snapshot``."""
    return ((cases["closed_date"] <= snapshot).fillna(False).to_numpy(dtype=bool)
            & cases["outcome"].notna().to_numpy())


#: Why a case is not counted by WRES 3 / WDES 3 (see :func:`case_in_scope`).
SCOPE_RULE = (
    "a case counts when its staff member holds a permanent or fixed-term contract in the "
    "workforce snapshot that closes the reporting year in which the case started (or, if they "
    "left during that year, in their latest earlier snapshot); bank staff and staff in no "
    "snapshot are left out"
)


def case_in_scope(workforce: pd.DataFrame, cases: pd.DataFrame) -> np.ndarray:
    """Whether each case's staff member is in scope of WRES/WDES (bool array aligned with ``cases``).

    CONTRACT.md §3 (bank staff excluded, WDES 2023 technical guidance,
    "consistent with the WRES") applied to the numerator as to the
    denominator. A contract can change between snapshots, so the rule names
    one snapshot per case: the trust's first workforce snapshot on or after
    the case's start date — the snapshot that closes the reporting year the
    case belongs to, whose in-scope headcount the person-years come from.
    The staff member is in scope when their row in that snapshot has a
    permanent or fixed-term contract; when they have no row there (they left
    during the year), their latest earlier row decides; with no row on or
    before it (joined and left between snapshots, or an unknown id) the case
    is out of scope: such a person contributes no person-years either.
    ``workforce`` needs trust_code, staff_id, snapshot_date and ``in_scope``
    (``groups.add_groups``); ``cases`` trust_code, staff_id, start_date.
    """
    n = len(cases)
    if n == 0:
        return np.zeros(0, dtype=bool)
    c = pd.DataFrame({
        "trust_code": cases["trust_code"].astype("str").to_numpy(),
        "staff_id": cases["staff_id"].astype("str").to_numpy(),
        "start": pd.to_datetime(cases["start_date"]).astype("datetime64[ns]").to_numpy(),
        "_pos": np.arange(n),
    })
    c = c[c["start"].notna().to_numpy()]
    snaps = (workforce[["trust_code", "snapshot_date"]].drop_duplicates()
             .astype({"trust_code": "str"}))
    snaps = pd.DataFrame({"trust_code": snaps["trust_code"].to_numpy(),
                          "closing": snaps["snapshot_date"].astype("datetime64[ns]").to_numpy()})
    # The closing snapshot: first snapshot of the trust on or after the start date (a case
    # after the trust's last snapshot is judged by the person's latest row).
    closing = pd.merge_asof(c.sort_values("start"), snaps.sort_values("closing"),
                            left_on="start", right_on="closing", by="trust_code",
                            direction="forward")
    closing["key"] = closing["closing"].fillna(closing["start"])
    people = pd.DataFrame({
        "trust_code": workforce["trust_code"].astype("str").to_numpy(),
        "staff_id": workforce["staff_id"].astype("str").to_numpy(),
        "key": workforce["snapshot_date"].astype("datetime64[ns]").to_numpy(),
        "scope": workforce["in_scope"].fillna(False).to_numpy(dtype=bool),
    })
    held = pd.merge_asof(closing.sort_values("key"), people.sort_values("key"), on="key",
                         by=["trust_code", "staff_id"], direction="backward")
    out = np.zeros(n, dtype=bool)
    out[held["_pos"].to_numpy()] = held["scope"].fillna(False).to_numpy(dtype=bool)
    return out


#: The in-scope cases of a case type for the last few (workforce, cases) tables: the WRES 3 /
#: WDES 3 figures, the disparity model and the disclosure records all ask for them, per
#: characteristic and period, and the scope rule (:func:`case_in_scope`, two as-of joins over
#: the whole workforce) costs the same each time. Keyed by the tables' identities (a
#: context's tables are read-only), checked through weak references.
_IN_SCOPE = Recent(8)


def _in_scope_cases(workforce: pd.DataFrame, cases: pd.DataFrame, case_type: str) -> pd.DataFrame:
    """``counted_cases(cases, case_type)`` narrowed to the in-scope ones (do not modify it)."""
    er = _IN_SCOPE.get((workforce, cases), case_type)
    if er is None:
        er = counted_cases(cases, case_type)
        er = er[case_in_scope(workforce, er)]
        _IN_SCOPE.put((workforce, cases), case_type, value=er)
    return er


def entrant_records(
    workforce: pd.DataFrame,
    cases: pd.DataFrame,
    periods: Sequence[pd.Timestamp],
    *,
    case_type: str,
) -> pd.DataFrame:
    """The staff entering the formal process that WRES 3 / WDES 3 count, per trust and period.

    WRES technical guidance, indicator 3 ("staff entering the formal
    disciplinary process"); WDES technical guidance, metric 3 (capability).
    For each period p and each trust with a workforce snapshot at p: the
    in-scope (:func:`case_in_scope`) cases of ``case_type`` that started in
    the reporting year to p (``year`` "current") and, where the trust has a
    snapshot a year earlier, in the reporting year before it (``year``
    "previous"); one row per staff member per reporting year — their first
    case of that year (earliest start date, then case_id), whose case-row
    characteristics (ethnicity, disability, sex, staff group, pay band) the
    entrant is grouped by. Returns those case rows with ``period``
    (Timestamp), ``year`` and ``rolling`` (the trust has the earlier
    snapshot) added. Identifiers are kept for linking only; no output shows them.
    """
    er = _in_scope_cases(workforce, cases, case_type)
    snapshots = workforce[["trust_code", "snapshot_date"]].drop_duplicates()
    parts = []
    for p in periods:
        p = pd.Timestamp(p)
        prev = p - pd.DateOffset(years=1)
        trusts = set(snapshots.loc[snapshots["snapshot_date"].eq(p), "trust_code"])
        if not trusts:
            continue
        with_prev = set(snapshots.loc[snapshots["snapshot_date"].eq(prev), "trust_code"])
        mine = er[er["trust_code"].isin(trusts).to_numpy()]
        start = mine["start_date"]
        current = ((start > prev) & (start <= p)).fillna(False).to_numpy(dtype=bool)
        previous = ((start > p - pd.DateOffset(years=2)) & (start <= prev)).fillna(False).to_numpy(dtype=bool)
        previous = previous & mine["trust_code"].isin(with_prev).to_numpy()
        both = pd.concat([mine[current].assign(year="current"),
                          mine[previous].assign(year="previous")], ignore_index=True)
        both = both.assign(period=p, rolling=both["trust_code"].isin(with_prev).to_numpy())
        parts.append(both)
    if not parts:
        out = er.iloc[0:0].assign(period=pd.Series(dtype="datetime64[ns]"),
                                  year=pd.Series(dtype="str"), rolling=pd.Series(dtype=bool))
        return out.reset_index(drop=True)
    out = pd.concat(parts, ignore_index=True)
    order = ["trust_code", "period", "year", "staff_id", "start_date", "case_id"]
    out = out.sort_values([c for c in order if c in out], kind="stable")
    return out.drop_duplicates(["trust_code", "period", "year", "staff_id"]).reset_index(drop=True)


def rolling_counts(
    workforce: pd.DataFrame,
    cases: pd.DataFrame,
    periods: Sequence[pd.Timestamp],
    *,
    case_type: str,
    by: Sequence[str],
) -> pd.DataFrame:
    """Staff entering and person-year exposure per trust, period and ``by`` cell on the rolling basis.

    WRES technical guidance, indicator 3 (two-year rolling): for each trust
    with a workforce snapshot at the period, ``cases`` = staff entering the
    process (:func:`entrant_records`: in scope, once per person per
    reporting year) in the 24 months to the snapshot (12 months where the
    trust has no snapshot a year earlier), ``headcount`` and
    ``headcount_prev`` the in-scope headcounts at the snapshot and a year
    earlier, ``exposure`` their sum (person-years). ``by`` columns must exist
    on both tables (after ``groups.add_groups``); a missing value (pay band
    Other has no pay cluster) becomes ``NO_CLUSTER``. Returns one row per
    observed cell with columns trust_code, period (Timestamp), *by, cases,
    headcount, headcount_prev, exposure, rolling, prev_snapshot.
    """
    by = list(by)
    keys = ["trust_code", *by]
    out_cols = ["trust_code", "period", *by, "cases", "headcount", "headcount_prev", "exposure",
                "rolling", "prev_snapshot"]
    wf = workforce[["trust_code", "snapshot_date", "in_scope", *by]]
    wf = wf.assign(**{c: wf[c].fillna(NO_CLUSTER) for c in by})
    ent = entrant_records(workforce, cases, periods, case_type=case_type)
    ent = ent.assign(**{c: ent[c].fillna(NO_CLUSTER) for c in by})
    snapshots = wf[["trust_code", "snapshot_date"]].drop_duplicates()
    in_scope = wf["in_scope"].fillna(False).to_numpy(dtype=bool)
    parts = []
    for p in periods:
        p = pd.Timestamp(p)
        prev = p - pd.DateOffset(years=1)
        trusts = snapshots.loc[snapshots["snapshot_date"].eq(p), "trust_code"]
        if trusts.empty:
            continue
        with_prev = set(snapshots.loc[snapshots["snapshot_date"].eq(prev), "trust_code"])
        now = wf[wf["snapshot_date"].eq(p).to_numpy() & in_scope]
        before = wf[wf["snapshot_date"].eq(prev).to_numpy() & in_scope]
        hc = now.groupby(keys, sort=False).size().rename("headcount")
        hcp = before.groupby(keys, sort=False).size().rename("headcount_prev")
        cc = ent[ent["period"].eq(p).to_numpy()].groupby(keys, sort=False).size().rename("cases")
        df = pd.concat([cc, hc, hcp], axis=1).fillna(0.0).astype("float64").reset_index()
        df = df[df["trust_code"].isin(trusts).to_numpy()]
        df.insert(1, "period", p)
        df["exposure"] = df["headcount"] + df["headcount_prev"]
        df["rolling"] = df["trust_code"].isin(with_prev).to_numpy()
        df["prev_snapshot"] = prev
        parts.append(df)
    if not parts:
        return pd.DataFrame({c: [] for c in out_cols})
    return pd.concat(parts, ignore_index=True)[out_cols]


def _rolling_note(rolling: pd.Series, prev: pd.Series) -> np.ndarray:
    text = prev.dt.strftime("%Y-%m-%d").map(lambda d: ROLLING_NOTE.format(prev=d))
    return np.where(rolling.to_numpy(dtype=bool), "", text.to_numpy(dtype=object))


def _join_notes(*notes) -> np.ndarray:
    """Element-wise '; '-join of non-empty note arrays."""
    arr = np.array([np.asarray(n, dtype=object) for n in np.broadcast_arrays(*notes)], dtype=object)
    return np.array(["; ".join(x for x in col if x) for col in arr.T], dtype=object)


def _wide(counts: pd.DataFrame, col: str, labels: Sequence[str]) -> pd.DataFrame:
    """One row per trust and period, columns 'cases:<group>', 'exposure:<group>' for every label (zeros filled)."""
    idx = ["trust_code", "period", "rolling", "prev_snapshot"]
    w = counts.pivot_table(index=idx, columns=col, values=["cases", "exposure"], aggfunc="sum",
                           fill_value=0.0, observed=True)
    full = pd.MultiIndex.from_product([["cases", "exposure"], list(labels)])
    w = w.reindex(columns=full, fill_value=0.0)
    w.columns = [f"{measure}:{g}" for measure, g in w.columns]
    return w.reset_index()


def _rate_rows(w: pd.DataFrame, metric_id: str, labels: Sequence[str], note) -> list[pd.DataFrame]:
    out = []
    for g in labels:
        k = w[f"cases:{g}"].to_numpy(dtype="float64")
        n = w[f"exposure:{g}"].to_numpy(dtype="float64")
        with np.errstate(divide="ignore", invalid="ignore"):
            value = np.where(n > 0, k / n * 100, np.nan)
        # Wilson needs k ≤ n; more cases than person-years (repeat cases) gets no interval.
        lo, hi = stats.wilson_interval(k, np.where(k <= n, n, 0.0))
        out.append(make_rows(
            trust_code=w["trust_code"], period=w["period_str"], metric_id=metric_id, group=g,
            numerator=k, denominator=n, value=value, ci_lower=lo * 100, ci_upper=hi * 100,
            note=note, basis="rate",
        ))
    return out


def _rl_rows(w: pd.DataFrame, metric_id: str, cmp: str, ref: str, note) -> pd.DataFrame:
    a, n1 = w[f"cases:{cmp}"].to_numpy(dtype="float64"), w[f"exposure:{cmp}"].to_numpy(dtype="float64")
    c, n2 = w[f"cases:{ref}"].to_numpy(dtype="float64"), w[f"exposure:{ref}"].to_numpy(dtype="float64")
    rl, lo, hi = stats.relative_likelihood(a, n1, c, n2)
    why = np.select(
        [n2 == 0, c == 0, n1 == 0, a == 0],
        [f"no {ref} staff in scope", f"no cases in reference group ({ref})", f"no {cmp} staff in scope",
         f"no cases in {cmp} group: interval not computed"],
        default="",
    )
    return make_rows(
        trust_code=w["trust_code"], period=w["period_str"], metric_id=metric_id, group=cmp,
        reference_group=ref, numerator=a, denominator=n1, value=rl, ci_lower=lo, ci_upper=hi,
        note=_join_notes(why, note), basis="rate",
    )


def comparison_rows(ctx, prefix: str, case_type: str, col: str, cmp: str, ref: str,
                    labels: Sequence[str]) -> list[pd.DataFrame]:
    """Per-group rates (``<prefix>.rate``) and the relative likelihood for one characteristic."""
    wf, er = ctx.tables["workforce"], ctx.tables["employee_relations"]
    counts = rolling_counts(wf, er, ctx.periods, case_type=case_type, by=[col])
    if counts.empty:
        return []
    w = _wide(counts, col, labels)
    w["period_str"] = w["period"].dt.strftime("%Y-%m-%d")
    note = _rolling_note(w["rolling"], w["prev_snapshot"])
    return [*_rate_rows(w, f"{prefix}.rate", labels, note),
            _rl_rows(w, f"{prefix}.relative_likelihood", cmp, ref, note)]


def closed_cases(ctx, case_type: str = "disciplinary") -> pd.DataFrame:
    """Cases of ``case_type`` that started in a period's reporting year and were closed by its snapshot.

    CONTRACT.md §2.3 (a case counts in the period whose reporting year holds
    its start_date); "closed" = closed_date and outcome recorded, closed_date
    ≤ snapshot, so a re-run on a later extract gives the same figure.
    Columns: trust_code, period (ISO string), ethnicity, outcome, days.
    """
    wf, er = ctx.tables["workforce"], ctx.tables["employee_relations"]
    er = er[er["case_type"].eq(case_type).fillna(False).to_numpy(dtype=bool)]
    parts = []
    for p in ctx.periods:
        p = pd.Timestamp(p)
        trusts = wf.loc[wf["snapshot_date"].eq(p), "trust_code"].unique()
        sel = (
            er["trust_code"].isin(trusts).to_numpy()
            & (er["start_date"] > p - pd.DateOffset(years=1)).to_numpy()
            & (er["start_date"] <= p).to_numpy()
            & closed_by(er, p)
        )
        c = er[sel]
        parts.append(pd.DataFrame({
            "trust_code": c["trust_code"].to_numpy(), "period": _period_str(p),
            "ethnicity": c["ethnicity"].to_numpy(), "outcome": c["outcome"].to_numpy(),
            "days": (c["closed_date"] - c["start_date"]).dt.days.to_numpy(dtype="float64"),
        }))
    if not parts:
        return pd.DataFrame(columns=["trust_code", "period", "ethnicity", "outcome", "days"])
    return pd.concat(parts, ignore_index=True)


def _with_all(df: pd.DataFrame) -> pd.DataFrame:
    return pd.concat([df, df.assign(ethnicity=groups.ALL)], ignore_index=True)


def outcome_rows(closed: pd.DataFrame) -> pd.DataFrame:
    """``er.outcome_share``: % of closed cases by outcome, per ethnicity group and All."""
    if closed.empty:
        return empty_rows()
    counts = (_with_all(closed).groupby(["trust_code", "period", "ethnicity", "outcome"]).size()
              .unstack("outcome", fill_value=0).reindex(columns=list(groups.OUTCOMES), fill_value=0))
    long = counts.stack().rename("k").reset_index()
    long["n"] = long.groupby(["trust_code", "period", "ethnicity"])["k"].transform("sum")
    k, n = long["k"].to_numpy(dtype="float64"), long["n"].to_numpy(dtype="float64")
    lo, hi = stats.wilson_interval(k, n)
    return make_rows(
        trust_code=long["trust_code"], period=long["period"], metric_id="er.outcome_share",
        breakdown="outcome=" + long["outcome"], group=long["ethnicity"], numerator=k, denominator=n,
        value=k / n * 100, ci_lower=lo * 100, ci_upper=hi * 100, basis="rate",
    )


def days_to_close_rows(closed: pd.DataFrame) -> pd.DataFrame:
    """``er.days_to_close_median``: median days from start to close, per ethnicity group and All."""
    if closed.empty:
        return empty_rows()
    g = _with_all(closed).groupby(["trust_code", "period", "ethnicity"])["days"]
    agg = g.agg(median="median", n="count").reset_index()
    return make_rows(
        trust_code=agg["trust_code"], period=agg["period"], metric_id="er.days_to_close_median",
        group=agg["ethnicity"], value=agg["median"], basis="mean", n_values=agg["n"],
    )


@family("disciplinary", SPECS, tables=("workforce", "employee_relations"))
def disciplinary_metrics(ctx) -> pd.DataFrame:
    """WRES 3, WDES 3 (and the same by sex) on the rolling basis; outcomes and time to close."""
    if "workforce" not in ctx.tables or "employee_relations" not in ctx.tables:
        return empty_rows()
    parts = []
    for prefix, case_type, col, cmp, ref, labels in _COMPARISONS:
        parts.extend(comparison_rows(ctx, prefix, case_type, col, cmp, ref, labels))
    closed = closed_cases(ctx)
    parts.extend([outcome_rows(closed), days_to_close_rows(closed)])
    parts = [p for p in parts if not p.empty]
    return pd.concat(parts, ignore_index=True) if parts else empty_rows()
