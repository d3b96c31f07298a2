"""Recruitment and progression metrics (CONTRACT.md §4.2): WRES 2, WDES 2, WRES 4, HIA2 2a/2e.

EDI Improvement Plan success metric 2e is "diversity in shortlisted candidates": the make-up of
the shortlist (``hia2.shortlisted_share``), not the rate at which applicants are shortlisted
(``hia2.shortlisting_rate``, kept as the step between application and shortlist).

Applications belong to the period whose reporting year (the 12 months
ending on the snapshot date, CONTRACT.md §1, §2.2) contains ``applied_date``.
A ``shortlisted`` or ``appointed`` flag left blank counts as not shortlisted /
not appointed; ``accessed_nonmandatory_training`` left blank counts as not
accessed (the WRES 4 denominator is the headcount) and the row's ``note``
says so.

Relative likelihoods: ``group`` is the group in the numerator,
``reference_group`` the one in the denominator (CONTRACT.md §8); the
interval is the log (Katz) interval of ``stats.relative_likelihood``;
``numerator``/``denominator`` are left blank (the counts are in the per-group
rate rows of the same trust and period); the four counts the ratio is built
from (a, n1, c, n2) are its cells (``edi_analysis.disclosure.declarations``),
so suppression follows §4.8.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from edi_analysis import groups, stats
from edi_analysis.metrics.registry import MetricSpec, family
from edi_analysis.metrics.representation import (
    EDI_PLAN,
    WDES_GUIDANCE,
    WRES_GUIDANCE,
    in_scope_snapshot,
)
from edi_analysis.metrics.rows import empty_rows, make_rows

_APPOINT_DEF = (
    "appointed ÷ shortlisted × 100 for applications made in the reporting year; "
    "95% Wilson interval"
)
_SEX_SOURCE = (
    f"{EDI_PLAN}, HIA2 (all protected characteristics); method of {WRES_GUIDANCE}, indicator 2"
)
_RL_DEF = (
    "(appointed ÷ shortlisted in the compared group) ÷ (appointed ÷ shortlisted in the reference "
    "group); > 1: the compared group is more likely to be appointed from shortlisting. 95% log "
    "(Katz) interval, blank when a group has no appointments; blank value when the reference "
    "rate is zero. Unknown excluded."
)

SPECS = [
    MetricSpec(
        id="wres.2.appointment_rate", area="hia2", unit="percent",
        label="Appointment rate from shortlisting by ethnicity (WRES 2)",
        source=f"{WRES_GUIDANCE}, indicator 2",
        definition=f"Per ethnicity group (White, BME, Unknown): {_APPOINT_DEF}.",
    ),
    MetricSpec(
        id="wres.2.relative_likelihood", area="hia2", unit="ratio",
        label="Relative likelihood of White applicants being appointed from shortlisting (WRES 2)",
        source=f"{WRES_GUIDANCE}, indicator 2; {EDI_PLAN}, HIA2 success metric 2a",
        definition=f"Group White, reference BME. {_RL_DEF}",
    ),
    MetricSpec(
        id="wdes.2.appointment_rate", area="hia2", unit="percent",
        label="Appointment rate from shortlisting by disability (WDES 2)",
        source=f"{WDES_GUIDANCE}, metric 2",
        definition=f"Per disability group (Disabled, Non-disabled, Unknown): {_APPOINT_DEF}.",
    ),
    MetricSpec(
        id="wdes.2.relative_likelihood", area="hia2", unit="ratio",
        label=("Relative likelihood of non-disabled applicants being appointed from shortlisting "
               "(WDES 2)"),
        source=f"{WDES_GUIDANCE}, metric 2; {EDI_PLAN}, HIA2 success metric 2a",
        definition=f"Group Non-disabled, reference Disabled. {_RL_DEF}",
    ),
    MetricSpec(
        id="sex.2.appointment_rate", area="hia2", unit="percent",
        label="Appointment rate from shortlisting by sex",
        source=_SEX_SOURCE,
        definition=f"Per sex (Female, Male): {_APPOINT_DEF}.",
    ),
    MetricSpec(
        id="sex.2.relative_likelihood", area="hia2", unit="ratio",
        label="Relative likelihood of male applicants being appointed from shortlisting",
        source=_SEX_SOURCE,
        definition=f"Group Male, reference Female. {_RL_DEF}",
    ),
    MetricSpec(
        id="hia2.shortlisted_share", area="hia2", unit="percent",
        label="Diversity of shortlisted candidates: share of the shortlist by ethnicity, disability "
              "and sex",
        source=f"{EDI_PLAN}, HIA2 success metric 2e (\"diversity in shortlisted candidates\")",
        definition=(
            "Shortlisted applications of the group ÷ all shortlisted applications × 100, for "
            "applications made in the reporting year, with breakdown characteristic=ethnicity "
            "(White, BME, Unknown), characteristic=disability (Disabled, Non-disabled, Unknown) "
            "or characteristic=sex (Female, Male); Unknown stays in the denominator (the shares "
            "describe the whole shortlist). numerator = shortlisted in the group, denominator = "
            "all shortlisted. 95% Wilson interval."
        ),
        breakdowns=("characteristic",),
    ),
    MetricSpec(
        id="hia2.shortlisting_rate", area="hia2", unit="percent",
        label="Shortlisting rate by ethnicity, disability and sex",
        source=(f"{EDI_PLAN}, HIA2 (fair and inclusive recruitment); the step before WRES "
                "indicator 2 (success metric 2e is the shortlist's make-up: hia2.shortlisted_share)"),
        definition=(
            "shortlisted ÷ applications × 100 for applications made in the reporting year: "
            "overall (group All, no breakdown) and per group with breakdown "
            "characteristic=ethnicity (White, BME, Unknown), characteristic=disability "
            "(Disabled, Non-disabled, Unknown) or characteristic=sex (Female, Male). 95% Wilson "
            "interval."
        ),
        breakdowns=("characteristic",),
    ),
    MetricSpec(
        id="wres.4.access_rate", area="hia2", unit="percent",
        label="Staff accessing non-mandatory training or CPD by ethnicity (WRES 4)",
        source=f"{WRES_GUIDANCE}, indicator 4",
        definition=(
            "In-scope staff in the group who accessed non-mandatory training or CPD in the "
            "reporting year ÷ in-scope headcount of the group at the snapshot × 100 (not "
            "recorded = not accessed). 95% Wilson interval."
        ),
    ),
    MetricSpec(
        id="wres.4.relative_likelihood", area="hia2", unit="ratio",
        label="Relative likelihood of White staff accessing non-mandatory training or CPD (WRES 4)",
        source=f"{WRES_GUIDANCE}, indicator 4",
        definition=(
            "Group White, reference BME: (White accessed ÷ White headcount) ÷ (BME accessed ÷ "
            "BME headcount), in-scope staff at the snapshot. 95% log (Katz) interval."
        ),
    ),
]

_KEYS = ["trust_code", "period"]

# (metric prefix, group column, labels shown, compared group, reference group)
_APPOINTMENT = (
    ("wres.2", "ethnicity", groups.ETHNICITY_LABELS, groups.WHITE, groups.BME),
    ("wdes.2", "disability_group", groups.DISABILITY_LABELS, groups.NON_DISABLED, groups.DISABLED),
    ("sex.2", "sex_group", groups.SEX_LABELS, groups.MALE, groups.FEMALE),
)
_SHORTLISTING = (
    ("ethnicity", "ethnicity", groups.ETHNICITY_LABELS),
    ("disability", "disability_group", groups.DISABILITY_LABELS),
    ("sex", "sex_group", groups.SEX_LABELS),
)


def application_flags(rec: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """(shortlisted, appointed) as booleans: a flag left blank counts as no (CONTRACT.md §2.2)."""
    return (rec["shortlisted"].fillna(False).astype(bool),
            rec["appointed"].fillna(False).astype(bool))


def accessed_training(staff: pd.DataFrame) -> pd.Series:
    """WRES 4: accessed non-mandatory training or CPD; not recorded counts as not accessed."""
    return staff["accessed_nonmandatory_training"].fillna(False).astype(bool)


def applications_by_period(ctx) -> pd.DataFrame:
    """Applications stacked once per period whose reporting year contains ``applied_date``.

    Reporting year = (snapshot − 12 months, snapshot] (CONTRACT.md §1). An
    application can belong to two periods only if the periods are less than
    a year apart. Adds ``period`` (ISO) and 0/1 ``shortlisted_n``,
    ``appointed_n`` (blank = no).
    """
    rec = ctx.table("recruitment")
    if rec is None or rec.empty:
        return pd.DataFrame()
    shortlisted, appointed = application_flags(rec)
    rec = rec.assign(shortlisted_n=shortlisted.astype("float64"),
                     appointed_n=appointed.astype("float64"))
    # A loop over the (few) periods, not over trusts: each slice covers every trust.
    parts = [
        rec.loc[(rec["applied_date"] > p - pd.DateOffset(years=1)) & (rec["applied_date"] <= p)]
        .assign(period=p.strftime("%Y-%m-%d"))
        for p in ctx.periods
    ]
    out = pd.concat(parts, ignore_index=True)
    out["period"] = out["period"].astype("str")
    return out


def _event_counts(df: pd.DataFrame, group_col: str, labels, event: str,
                  base: str | None) -> pd.DataFrame:
    """Long counts per trust, period and group: ``k`` = Σ event, ``n`` = Σ base (or rows).

    Every label gets a row for every trust and period present, zeros kept.
    """
    cols = {"k": (event, "sum"), "n": (base, "sum") if base else (event, "size")}
    agg = df.groupby(_KEYS + [group_col], observed=True, sort=True).agg(**cols)
    present = agg.index.droplevel(group_col).unique().to_frame(index=False)
    grid = present.merge(pd.DataFrame({"group": list(labels)}), how="cross")
    idx = pd.MultiIndex.from_frame(grid)
    agg.index = agg.index.set_names(_KEYS + ["group"])
    return agg.reindex(idx, fill_value=0).astype("float64").reset_index()


def rate_rows(metric_id: str, long: pd.DataFrame, *, breakdown="", empty_note: str) -> pd.DataFrame:
    """Per-group rate rows k ÷ n × 100 with Wilson 95% CI; ``note`` where n is 0."""
    k, n = long["k"].to_numpy(), long["n"].to_numpy()
    lo, hi = stats.wilson_interval(k, n)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = np.where(n > 0, 100 * k / n, np.nan)
    return make_rows(
        trust_code=long["trust_code"], period=long["period"], metric_id=metric_id,
        breakdown=breakdown, group=long["group"], numerator=k, denominator=n, value=value,
        ci_lower=100 * lo, ci_upper=100 * hi, note=np.where(n > 0, "", empty_note),
        basis="rate",
    )


def relative_likelihood_rows(
    metric_id: str, long: pd.DataFrame, compared: str, reference: str, *, event: str, base: str
) -> pd.DataFrame:
    """Relative likelihood rows (compared rate ÷ reference rate) from long per-group counts.

    ``event``/``base`` name what is counted, for the notes (e.g. "appointments",
    "shortlisted applicants").
    """
    wide = long.pivot(index=_KEYS, columns="group", values=["k", "n"])
    a, n1 = wide[("k", compared)].to_numpy(), wide[("n", compared)].to_numpy()
    c, n2 = wide[("k", reference)].to_numpy(), wide[("n", reference)].to_numpy()
    rl, lo, hi = stats.relative_likelihood(a, n1, c, n2)
    note = np.select(
        [n2 == 0, c == 0, n1 == 0, a == 0],
        [
            f"no {base} in reference group ({reference})",
            f"no {event} in reference group ({reference})",
            f"no {base} in compared group ({compared})",
            f"no {event} in compared group ({compared}): interval not computed",
        ],
        default="",
    )
    keys = wide.index.to_frame(index=False)
    return make_rows(
        trust_code=keys["trust_code"], period=keys["period"], metric_id=metric_id,
        group=compared, reference_group=reference, value=rl, ci_lower=lo, ci_upper=hi,
        note=note, basis="rate",
    )


def _recruitment_rows(apps: pd.DataFrame) -> list[pd.DataFrame]:
    parts = []
    for prefix, col, labels, compared, reference in _APPOINTMENT:
        long = _event_counts(apps, col, labels, "appointed_n", "shortlisted_n")
        parts.append(rate_rows(f"{prefix}.appointment_rate", long,
                               empty_note="no shortlisted applicants"))
        parts.append(relative_likelihood_rows(
            f"{prefix}.relative_likelihood", long, compared, reference,
            event="appointments", base="shortlisted applicants",
        ))
    everyone = apps.assign(_all=groups.ALL)
    overall = _event_counts(everyone, "_all", (groups.ALL,), "shortlisted_n", None)
    parts.append(rate_rows("hia2.shortlisting_rate", overall, empty_note="no applications"))
    for characteristic, col, labels in _SHORTLISTING:
        long = _event_counts(apps, col, labels, "shortlisted_n", None)
        parts.append(rate_rows(
            "hia2.shortlisting_rate", long, breakdown=f"characteristic={characteristic}",
            empty_note="no applications",
        ))
        parts.append(shortlisted_share_rows(long, overall, characteristic))
    return parts


def shortlisted_share_rows(long: pd.DataFrame, overall: pd.DataFrame,
                           characteristic: str) -> pd.DataFrame:
    """``hia2.shortlisted_share`` (EDI plan success metric 2e): each group's share of the shortlist.

    ``long`` holds per-group shortlisted counts ``k`` (from :func:`_event_counts`),
    ``overall`` the trust's shortlisted count (group All) in ``k``: the denominator is
    every shortlisted application of the trust and period, Unknown included (for sex,
    whose rows are Female and Male, an application with sex not recorded too).
    """
    total = overall.set_index(_KEYS)["k"].rename("n")
    share = long.drop(columns="n").merge(total, left_on=_KEYS, right_index=True, how="left")
    share["n"] = share["n"].fillna(0.0).astype("float64")
    return rate_rows("hia2.shortlisted_share", share, breakdown=f"characteristic={characteristic}",
                     empty_note="no shortlisted applications")


def _training_rows(staff: pd.DataFrame) -> list[pd.DataFrame]:
    staff = staff.assign(
        accessed_n=accessed_training(staff).astype("float64"),
        unrecorded=staff["accessed_nonmandatory_training"].isna().astype("float64"),
    )
    long = _event_counts(staff, "ethnicity", groups.ETHNICITY_LABELS, "accessed_n", None)
    unrec = _event_counts(staff, "ethnicity", groups.ETHNICITY_LABELS, "unrecorded", None)
    unrec = unrec["k"].to_numpy()
    rates = rate_rows("wres.4.access_rate", long, empty_note="no in-scope staff")
    # No count in the note: notes are published unsuppressed, and the number of staff with
    # a blank flag may itself be a small cell.
    unrec_note = "training not recorded for some staff in the group: counted as not accessed"
    rates["note"] = rates["note"].mask((rates["note"] == "").to_numpy() & (unrec > 0), unrec_note)
    rl = relative_likelihood_rows(
        "wres.4.relative_likelihood", long, groups.WHITE, groups.BME,
        event="staff accessing training", base="in-scope staff",
    )
    return [rates, rl]


@family("recruitment", SPECS, tables=("recruitment", "workforce"))
def recruitment(ctx) -> pd.DataFrame:
    """WRES 2 / WDES 2 / sex appointment rates and relative likelihoods, shortlisting rates, WRES 4.

    Definitions in CONTRACT.md §4.2 and the registry entries above.
    """
    parts = []
    apps = applications_by_period(ctx)
    if not apps.empty:
        parts += _recruitment_rows(apps)
    staff = in_scope_snapshot(ctx)
    if not staff.empty:
        parts += _training_rows(staff)
    return pd.concat(parts, ignore_index=True) if parts else empty_rows()
