"""Health and wellbeing, retention and international recruits (CONTRACT.md §4.6: HIA4, HIA5, People Plan).

Population: in-scope staff (permanent and fixed-term; CONTRACT.md §3) at the
period's snapshot, except the year-on-year measures (leaver rate, 12-month
retention), which follow the in-scope staff of the snapshot a year earlier
(the period date minus one year) to the period's snapshot.

Row scheme (Convention), shared with the survey family: headline rows have
an empty breakdown; groups of a reporting characteristic appear under
``characteristic=ethnicity|disability|sex|international_recruit`` (every
group including Unknown, so they add up to the headline total); age bands
appear as breakdowns ``age_band=<band>`` with group ``All``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from edi_analysis import groups, stats
from edi_analysis.metrics._recent import Recent
from edi_analysis.metrics import _partitions as part
from edi_analysis.metrics.recruitment import accessed_training, relative_likelihood_rows
from edi_analysis.metrics.registry import MetricSpec, family
from edi_analysis.metrics.representation import in_scope_snapshot
from edi_analysis.metrics.rows import empty_rows, make_rows

KEYS = ["trust_code", "period"]

_PLAN = "NHS England, NHS equality, diversity and inclusion improvement plan (June 2023)"
_PEOPLE_PLAN = (
    "NHS England, We are the NHS: People Plan 2020/21 — action for us all, priority actions"
)

#: Optional People Plan health and wellbeing columns of the workforce table (CONTRACT.md §2.1).
HWB_COLUMNS: dict[str, tuple[str, str]] = {
    "risk_assessment_completed": (
        "Staff with a completed risk assessment",
        "Our people are safe and supported — employer/system action by end March 2021: "
        "ongoing risk assessments",
    ),
    "flu_vaccinated": (
        "Staff vaccinated against flu",
        "Our people are safe and supported — employer/system action by end March 2021: "
        "COVID-19 (and flu) vaccination",
    ),
    "wellbeing_conversation": (
        "Staff who have had a health and wellbeing conversation",
        "Our people are safe and supported — employer/system actions by end March 2021 and "
        "end June 2021: encourage, then embed, health and wellbeing conversations",
    ),
}

#: Characteristics for the sickness absence and leaver breakdowns.
GROUPED_BY = ("ethnicity", "disability", "sex")

_CHAR_BREAKDOWNS = tuple(f"characteristic={c}" for c in GROUPED_BY)
_AGE_BREAKDOWNS = tuple(f"age_band={a}" for a in groups.AGE_BANDS)

SPECS = [
    MetricSpec(
        id="hia4.sickness_absence_rate",
        area="hia4",
        unit="percent",
        label="Sickness absence rate",
        definition=(
            "Σ FTE days lost to sickness in the reporting year ÷ Σ FTE days available × 100, "
            "in-scope staff at the snapshot with both figures recorded. Headline group All; "
            "groups by ethnicity, disability and sex under `characteristic=…`. Days of one "
            "person are not independent trials, so a Wilson interval on days would be far too "
            "narrow; the 95% interval is the ratio-estimator (linearisation) interval treating "
            "each person as the independent unit: SE² = n/(n−1) · Σ(yᵢ − R·xᵢ)² / (Σxᵢ)² "
            "(Convention; Cochran, Sampling Techniques, 3rd ed., 1977, §6.4). Suppressed when "
            "the group's headcount is below the minimum count."
        ),
        source=(
            f"{_PLAN}, high impact action 4 (health inequalities within the workforce); NHS "
            "Digital, NHS Sickness Absence Rates (FTE days lost ÷ FTE days available)"
        ),
        breakdowns=_CHAR_BREAKDOWNS,
        counts=(),  # FTE days; protected on its headcount (a declared cell)
    ),
    *[
        MetricSpec(
            id=f"pp.hwb.{col}_rate",
            area="people_plan",
            unit="percent",
            label=label,
            definition=(
                f"In-scope staff at the snapshot with `{col}` = Y ÷ in-scope headcount × 100; a "
                "blank (no record) counts as not done and the row's note says so. Headline: "
                "group All and every ethnicity group (White, BME, Unknown). Rows only for "
                "trusts and snapshots where the column holds at least one record. Wilson 95% "
                "interval."
            ),
            source=f"{_PEOPLE_PLAN} — {action}",
        )
        for col, (label, action) in HWB_COLUMNS.items()
    ],
    MetricSpec(
        id="pp.leaver_rate",
        area="people_plan",
        unit="percent",
        label="Leaver rate (12 months)",
        definition=(
            "In-scope staff at the snapshot a year before the period whose staff_id is absent "
            "from the period's snapshot of the same trust ÷ in-scope headcount at the earlier "
            "snapshot × 100. Groups (ethnicity, disability, sex under `characteristic=…`) and "
            "age band (`age_band=…`; 55+ is the band nearest the People Plan's ‘over 50s’ "
            "at-risk cohort) as recorded at the earlier snapshot. Where the earlier snapshot is "
            "absent there is one headline row with a blank value and a note saying so. Wilson "
            "95% interval."
        ),
        source=(
            f"{_PEOPLE_PLAN} — recruiting and retaining our people; supporting national action: "
            "retention initiatives focused on ‘at risk’ cohorts (e.g. over 50s)"
        ),
        breakdowns=_CHAR_BREAKDOWNS + _AGE_BREAKDOWNS,
    ),
    MetricSpec(
        id="hia5.training_relative_likelihood",
        area="hia5",
        unit="ratio",
        label="Relative likelihood of accessing non-mandatory training: domestic vs international recruits",
        definition=(
            "(domestic staff who accessed non-mandatory training or CPD ÷ domestic headcount) ÷ "
            "(international recruits who accessed ÷ international headcount), in-scope staff "
            "at the snapshot; a blank training record counts as not accessed (as WRES 4). "
            "> 1: domestic staff more likely. Group Domestic, reference International. 95% log "
            "(Katz) interval; blank value when the international rate is zero."
        ),
        source=(
            f"{_PLAN}, high impact action 5: give international recruits access to the same "
            "training, development and career progression opportunities as the wider workforce"
        ),
    ),
    MetricSpec(
        id="hia5.retention_12m",
        area="hia5",
        unit="percent",
        label="12-month retention of new starters by recruit type",
        definition=(
            "Of in-scope staff at the snapshot a year before the period who started in the 12 "
            "months up to that snapshot (start_date in (earlier − 1 year, earlier]), the % "
            "still present (any contract) in the same trust's snapshot on the period date. "
            "Headline: group All, International and Domestic. Where the earlier snapshot is "
            "absent there is one headline row with a blank value and a note. Wilson 95% interval."
        ),
        source=(
            f"{_PLAN}, high impact action 5 (induction, onboarding and development for "
            "internationally recruited staff); the plan's aim of benefiting retention (PRN01002)"
        ),
    ),
]


def ratio_interval(s_y, s_x, s_yy, s_xx, s_xy, n, z: float = stats.Z95):
    """Ratio R = Σy ÷ Σx with its linearisation (ratio-estimator) interval, people as the unit.

    Var(R) ≈ n/(n−1) · Σ(yᵢ − R xᵢ)² / (Σx)², with Σ(y − Rx)² = Σy² − 2RΣxy + R²Σx²
    (Cochran, 1977, §6.4). Returns (R, lo, hi); the interval is NaN for fewer than
    two people and its lower end is clipped at 0.
    """
    s_y, s_x, s_yy, s_xx, s_xy, n = (
        np.asarray(a, dtype="float64") for a in (s_y, s_x, s_yy, s_xx, s_xy, n)
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(s_x > 0, s_y / s_x, np.nan)
        resid = np.maximum(s_yy - 2 * r * s_xy + r**2 * s_xx, 0.0)
        se = np.sqrt(n / (n - 1) * resid) / s_x
        ok = (n > 1) & np.isfinite(r)
        lo = np.where(ok, np.maximum(r - z * se, 0.0), np.nan)
        hi = np.where(ok, r + z * se, np.nan)
    return r, lo, hi


def _rate_rows(
    metric_id: str, t: pd.DataFrame, k: str, n: str, empty_note: str, note=None
) -> pd.DataFrame:
    """Per-group k ÷ n × 100 rows with Wilson 95% CI (CONTRACT.md §4.7)."""
    kv, nv = t[k].to_numpy(), t[n].to_numpy()
    lo, hi = stats.wilson_interval(kv, nv)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = np.where(nv > 0, 100 * kv / nv, np.nan)
    base_note = np.where(nv > 0, "" if note is None else note, empty_note)
    return make_rows(
        trust_code=t["trust_code"],
        period=t["period"],
        metric_id=metric_id,
        breakdown=t["breakdown"],
        group=t["group"],
        numerator=kv,
        denominator=nv,
        value=value,
        ci_lower=100 * lo,
        ci_upper=100 * hi,
        note=base_note,
        basis="rate",
    )


def sickness_recorded(staff: pd.DataFrame) -> pd.Series:
    """Staff counted by the sickness absence rate: both day counts recorded, days available > 0."""
    y, x = staff["sickness_days_12m"], staff["available_days_12m"]
    return (y.notna() & x.notna() & (x > 0)).astype(bool)


def new_starter(start_date: pd.Series, earlier: pd.Series) -> pd.Series:
    """HIA5 retention cohort: started in the 12 months up to the earlier snapshot."""
    return ((start_date > earlier - pd.DateOffset(years=1)) & (start_date <= earlier)).astype(bool)


def _sickness(staff: pd.DataFrame) -> pd.DataFrame:
    """HIA4 sickness absence rate per group (NHS Digital definition: FTE days lost ÷ available)."""
    present = staff[KEYS].drop_duplicates()
    y, x = staff["sickness_days_12m"], staff["available_days_12m"]
    recorded = sickness_recorded(staff)
    d = staff.loc[recorded].assign(
        s_y=y[recorded],
        s_x=x[recorded],
        s_yy=y[recorded] ** 2,
        s_xx=x[recorded] ** 2,
        s_xy=y[recorded] * x[recorded],
        n=1.0,
    )
    unrecorded = staff.loc[~recorded].assign(_miss=1.0)
    slots = [part.everyone()] + [part.characteristic(c) for c in GROUPED_BY]
    values = ["s_y", "s_x", "s_yy", "s_xx", "s_xy", "n"]
    t = part.tally(d, KEYS, present, slots, values)
    miss = part.tally(unrecorded, KEYS, present, slots, ["_miss"])["_miss"].to_numpy()
    r, lo, hi = ratio_interval(t["s_y"], t["s_x"], t["s_yy"], t["s_xx"], t["s_xy"], t["n"])
    note = np.where(
        t["n"] == 0,
        "no in-scope staff with sickness absence recorded",
        np.where(miss > 0, "staff with no sickness absence record excluded", ""),
    )
    return make_rows(
        trust_code=t["trust_code"],
        period=t["period"],
        metric_id="hia4.sickness_absence_rate",
        breakdown=t["breakdown"],
        group=t["group"],
        numerator=t["s_y"],
        denominator=t["s_x"],
        value=100 * r,
        ci_lower=100 * lo,
        ci_upper=100 * hi,
        note=note,
        # The disclosure unit is the person: a group of few people is protected however many
        # days it holds (its headcount is the row's cell, edi_analysis.disclosure).
        basis="rate",
    )


def _hwb(staff: pd.DataFrame) -> list[pd.DataFrame]:
    """People Plan health and wellbeing completion rates per ethnicity group, for each column present."""
    slots = [part.everyone(), part.characteristic("ethnicity", headline=True)]
    parts = []
    for col in HWB_COLUMNS:
        if col not in staff:
            continue
        # A trust that holds no record at all for the item does not collect it: no rows,
        # rather than a misleading 0%.
        recorded_any = staff[col].notna().groupby([staff[k] for k in KEYS]).transform("any")
        s = staff.loc[recorded_any.astype(bool)]
        if s.empty:
            continue
        s = s.assign(
            k=s[col].eq(True).fillna(False).astype("float64"),
            n=1.0,
            miss=s[col].isna().astype("float64"),
        )
        t = part.tally(s, KEYS, s[KEYS].drop_duplicates(), slots, ["k", "n", "miss"])
        note = np.where(t["miss"] > 0, "includes staff with no record, counted as not done", "")
        parts.append(_rate_rows(f"pp.hwb.{col}_rate", t, "k", "n", "no in-scope staff", note))
    return parts


def _training_rl(staff: pd.DataFrame) -> pd.DataFrame:
    """HIA5: domestic ÷ international non-mandatory training rate (as WRES 4, CONTRACT.md §4.6)."""
    s = staff.assign(k=accessed_training(staff).astype("float64"), n=1.0)
    t = part.tally(
        s,
        KEYS,
        s[KEYS].drop_duplicates(),
        [part.characteristic("international_recruit", headline=True)],
        ["k", "n"],
    )
    return relative_likelihood_rows(
        "hia5.training_relative_likelihood",
        t[KEYS + ["group", "k", "n"]],
        groups.DOMESTIC,
        groups.INTERNATIONAL,
        event="staff accessing training",
        base="in-scope staff",
    )


#: The last few contexts' :func:`year_on_year` (the leaver rate and the disclosure records
#: both ask for it on one context; its matching of staff across snapshots takes about a
#: second nationally). Keyed by the context object (its tables are read-only), checked
#: through a weak reference; callers do not modify the frames.
_YEAR_ON_YEAR = Recent(2)


def year_on_year(ctx) -> tuple[pd.DataFrame, pd.DataFrame]:
    """In-scope staff at the snapshot a year before each period, flagged ``stayed`` if present at the period.

    Returns (staff, missing): ``staff`` has the earlier snapshot's rows with
    ``period`` (the later snapshot, ISO) and ``stayed`` (staff_id found in
    the same trust's snapshot on the period date, any contract); ``missing``
    lists (trust_code, period, earlier) where the trust has a snapshot on the
    period date but none a year earlier.
    """
    wf = ctx.table("workforce")
    if wf is None:
        return _year_on_year(ctx, wf)
    out = _YEAR_ON_YEAR.get((ctx, wf))
    if out is None:
        out = _year_on_year(ctx, wf)
        _YEAR_ON_YEAR.put((ctx, wf), value=out)
    return out


def _year_on_year(ctx, wf) -> tuple[pd.DataFrame, pd.DataFrame]:
    empty = pd.DataFrame(columns=KEYS + ["earlier"])
    if wf is None or wf.empty:
        return pd.DataFrame(), empty
    staff_parts, missing_parts = [], []
    for p in ctx.periods:
        earlier = p - pd.DateOffset(years=1)
        later = wf.loc[wf["snapshot_date"] == p, ["trust_code", "staff_id"]]
        trusts = later["trust_code"].unique()
        before = wf.loc[(wf["snapshot_date"] == earlier) & wf["trust_code"].isin(trusts)]
        iso, iso_earlier = p.strftime("%Y-%m-%d"), earlier.strftime("%Y-%m-%d")
        absent = sorted(set(trusts) - set(before["trust_code"].unique()))
        if absent:
            missing_parts.append(
                pd.DataFrame({"trust_code": absent, "period": iso, "earlier": iso_earlier})
            )
        before = before.loc[before["in_scope"].astype(bool)]
        stayed = pd.MultiIndex.from_frame(before[["trust_code", "staff_id"]]).isin(
            pd.MultiIndex.from_frame(later)
        )
        staff_parts.append(before.assign(period=iso, stayed=stayed, earlier=earlier))
    staff = pd.concat(staff_parts, ignore_index=True) if staff_parts else pd.DataFrame()
    missing = pd.concat(missing_parts, ignore_index=True) if missing_parts else empty
    return staff, missing


def _missing_rows(metric_id: str, missing: pd.DataFrame) -> pd.DataFrame:
    note = (
        "no workforce snapshot on "
        + missing["earlier"].astype("str")
        + " (a year earlier): this measure needs both snapshots"
    )
    return make_rows(
        trust_code=missing["trust_code"],
        period=missing["period"],
        metric_id=metric_id,
        value=np.full(len(missing), np.nan),
        note=note,
        basis="rate",
    )


def _leavers(staff: pd.DataFrame) -> pd.DataFrame:
    """People Plan leaver rate: earlier in-scope staff absent a year later ÷ earlier headcount."""
    s = staff.assign(k=(~staff["stayed"]).astype("float64"), n=1.0)
    slots = (
        [part.everyone()]
        + [part.characteristic(c) for c in GROUPED_BY]
        + [part.as_breakdown("age_band", groups.AGE_BANDS)]
    )
    t = part.tally(s, KEYS, s[KEYS].drop_duplicates(), slots, ["k", "n"])
    return _rate_rows("pp.leaver_rate", t, "k", "n", "no in-scope staff at the earlier snapshot")


def _retention(staff: pd.DataFrame) -> pd.DataFrame:
    """HIA5 12-month retention of staff who started in the year before the earlier snapshot."""
    started = new_starter(staff["start_date"], staff["earlier"])
    present = staff[KEYS].drop_duplicates()
    cohort = staff.loc[started]
    s = cohort.assign(k=cohort["stayed"].astype("float64"), n=1.0)
    slots = [part.everyone(), part.characteristic("international_recruit", headline=True)]
    t = part.tally(s, KEYS, present, slots, ["k", "n"])
    return _rate_rows(
        "hia5.retention_12m",
        t,
        "k",
        "n",
        "no in-scope staff started in the year before the earlier snapshot",
    )


@family("wellbeing", SPECS, tables=("workforce",))
def wellbeing(ctx) -> pd.DataFrame:
    """Sickness absence, People Plan wellbeing rates, leavers, HIA5 training and retention (CONTRACT.md §4.6)."""
    parts = []
    staff = in_scope_snapshot(ctx)
    if not staff.empty:
        parts.append(_sickness(staff))
        parts += _hwb(staff)
        parts.append(_training_rl(staff))
    del staff  # national scale: release the snapshot before the year-on-year pairing
    pairs, missing = year_on_year(ctx)
    if not pairs.empty:
        parts.append(_leavers(pairs))
        parts.append(_retention(pairs))
    if not missing.empty:
        parts.append(_missing_rows("pp.leaver_rate", missing))
        parts.append(_missing_rows("hia5.retention_12m", missing))
    return pd.concat(parts, ignore_index=True) if parts else empty_rows()
