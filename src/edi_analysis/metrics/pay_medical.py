"""Gender pay gaps in medicine: basic, total and like-for-like (HIA3; CONTRACT.md §4.5).

After *Mend the Gap: the independent review into gender pay gaps in
medicine in England* (Dacre, Woodhams et al., Department of Health and
Social Care, December 2020): gaps are shown for doctors overall and within
each grade, on basic hourly pay and on total pay (basic plus bonus pay such
as Clinical Excellence Awards, which widen the gap), and as an adjusted
"like-for-like" gap from a regression of log pay on sex, grade, length of
service and working pattern.

Population: Medical and Dental staff group, full-pay relevant (SI 2017/353
Sch. 1 para 1(1)), sex known; the like-for-like gap leaves out bank doctors
and adjusts for specialty where the extract records it (:func:`adjusted_gap`). Total pay per hour (Convention, CONTRACT.md
§4.5) = hourly pay + bonus_pay_12m ÷ (52.14 weeks × 37.5 hours × fte), i.e.
the year's bonus spread over the person's contracted hours.

Metric ids: ``pay.medical.gender_mean_gap`` / ``gender_median_gap`` on basic
hourly pay and ``..._total`` on total pay (separate ids rather than a
compound breakdown, so every breakdown stays a single ``key=value``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from edi_analysis import groups as g
from edi_analysis import stats
from edi_analysis.metrics.pay_gaps import (
    GapSpec,
    gap_rows,
    hourly_population,
    workforce_for_periods,
)
from edi_analysis.metrics.registry import MetricSpec, family
from edi_analysis.metrics.rows import empty_rows, make_rows

WEEKS_PER_YEAR = 52.14
HOURS_PER_WEEK = 37.5
MEDICAL = "Medical and Dental"
#: Fewest women and fewest men for the adjusted model to be fitted: the model is not
#: run on groups smaller than the default disclosure threshold (its row is suppressed
#: with its staff count, CONTRACT.md §4.8, but a fit would describe the few people).
MIN_MODEL_PER_SEX = 8

_MTG = ("Dacre J, Woodhams C, et al. Mend the Gap: the independent review into gender pay gaps "
        "in medicine in England. DHSC, 2020")
_GAP = ("(male − female) ÷ male × 100; numerator = female figure (£/hour), denominator = male "
        "figure; overall and breakdown pay_band=Consultant|Career grade|Trainee grade; 95% CI: "
        "mean gaps, delta method on the log ratio of the two means with a Welch–Satterthwaite t "
        "quantile (Friedrich et al. 2008); median gaps, percentile bootstrap, women and men "
        "resampled separately.")
_TOTAL = ("Total pay per hour = hourly pay + bonus_pay_12m ÷ (52.14 × 37.5 × fte) (Convention). ")

_SPECS = [
    MetricSpec("pay.medical.gender_mean_gap", "hia3",
               "Doctors' gender pay gap: mean basic hourly pay", "percent", _MTG,
               "Medical and Dental full-pay relevant staff, basic hourly pay. " + _GAP,
               breakdowns=("pay_band",), counts=()),  # £ figures
    MetricSpec("pay.medical.gender_median_gap", "hia3",
               "Doctors' gender pay gap: median basic hourly pay", "percent", _MTG,
               "As pay.medical.gender_mean_gap with medians. " + _GAP, breakdowns=("pay_band",),
               counts=()),  # £ figures
    MetricSpec("pay.medical.gender_mean_gap_total", "hia3",
               "Doctors' gender pay gap: mean total pay per hour", "percent", _MTG,
               _TOTAL + _GAP, breakdowns=("pay_band",), counts=()),  # £ figures
    MetricSpec("pay.medical.gender_median_gap_total", "hia3",
               "Doctors' gender pay gap: median total pay per hour", "percent", _MTG,
               _TOTAL + "Medians. " + _GAP, breakdowns=("pay_band",), counts=()),  # £ figures
    MetricSpec("pay.medical.adjusted_gender_gap", "hia3",
               "Doctors' like-for-like gender pay gap (adjusted)", "percent", _MTG,
               "OLS of log hourly pay on female, pay band (dummies), specialty (dummies, where the "
               "extract has the optional specialty column; blank = its own level), years of "
               "service and fte, Medical and Dental full-pay relevant staff on permanent or "
               "fixed-term contracts (bank doctors, paid by the session, are not like-for-like "
               "and are left out; they stay in the basic and total gaps); gap = (1 − "
               "exp(β_female)) × 100, 95% CI from the t interval of β_female transformed the same "
               "way. Blank with a note when fewer than "
               f"{MIN_MODEL_PER_SEX} women or men. Denominator = doctors in the model. The "
               "adjustment cannot remove differences that run through grade and specialty "
               "themselves (who becomes a consultant, or enters a higher-paid specialty), nor "
               "unrecorded ones (programmed activities, on-call, Clinical Excellence Awards, "
               "which are bonus pay and in the total-pay gaps): it is not a measure of unequal "
               "pay for equal work.",
               counts=("denominator",)),  # staff in the model: published, so protected
]

BASIC = GapSpec("medical.basic", "pay.medical.gender_mean_gap", "pay.medical.gender_median_gap",
                (g.FEMALE,), g.MALE)
TOTAL = GapSpec("medical.total", "pay.medical.gender_mean_gap_total",
                "pay.medical.gender_median_gap_total", (g.FEMALE,), g.MALE)


def medical_population(wf: pd.DataFrame) -> pd.DataFrame:
    """Full-pay relevant Medical and Dental staff of known sex, with total pay per hour added."""
    d = hourly_population(wf)
    d = d[(d["staff_group"] == MEDICAL) & d["sex_group"].isin([g.FEMALE, g.MALE])].copy()
    hours = WEEKS_PER_YEAR * HOURS_PER_WEEK * d["fte"]
    d["total_hourly"] = d["hourly_pay"] + d["bonus_pay_12m"] / hours
    return d


def _with_grades(d: pd.DataFrame, value_col: str) -> pd.DataFrame:
    """Overall rows (breakdown '') plus each medical grade's rows (breakdown pay_band=…)."""
    base = pd.DataFrame({
        "trust_code": d["trust_code"].to_numpy(), "period": d["period"].to_numpy(),
        "label": d["sex_group"].to_numpy(), "value": d[value_col].to_numpy(dtype="float64"),
    })
    band = d["pay_band"].to_numpy()
    graded = base[np.isin(band, g.MEDICAL_GRADES)].copy()
    graded["breakdown"] = "pay_band=" + pd.Series(band[np.isin(band, g.MEDICAL_GRADES)],
                                                  index=graded.index, dtype="str")
    return pd.concat([base.assign(breakdown=""), graded], ignore_index=True)


def years_of_service(d: pd.DataFrame) -> pd.Series:
    """Years from start date to the snapshot (365.25-day years)."""
    return (d["snapshot_date"] - d["start_date"]).dt.days / 365.25


#: Level of the specialty dummies for a doctor whose specialty is blank.
SPECIALTY_NOT_RECORDED = "not recorded"


def bank_doctors(d: pd.DataFrame) -> pd.Series:
    """Rows of :func:`medical_population` on bank contracts (out of scope, CONTRACT.md §3)."""
    if "in_scope" not in d:
        return pd.Series(False, index=d.index)
    return ~d["in_scope"].fillna(False).astype(bool)


def in_adjusted_model(d: pd.DataFrame) -> pd.Series:
    """Rows of :func:`medical_population` (with ``years_service``) that the adjusted model uses.

    The one selection of the like-for-like population: :func:`adjusted_gap` and the
    disclosure records (``edi_analysis.disclosure.records``) both call it. Bank doctors
    are left out (paid by the session on other rates: not like-for-like).
    """
    return (~bank_doctors(d) & (d["hourly_pay"] > 0) & d["fte"].notna()
            & d["years_service"].notna()).astype(bool)


def adjusted_gap(d: pd.DataFrame, alpha: float = 0.05) -> dict:
    """Like-for-like gender gap for one trust and period from an OLS of log hourly pay.

    Model (Mend the Gap's "like-for-like" comparison): log(hourly) =
    β0 + β_f·female + Σ γ_b·[pay band = b] + Σ σ_s·[specialty = s] +
    δ·years of service + φ·fte + ε, ordinary least squares, over doctors on
    permanent or fixed-term contracts: bank doctors are paid by the session
    on other rates and are not like-for-like (Dacre & Woodhams 2020 compare
    doctors in comparable substantive posts). The specialty term is used
    when the extract has the optional ``specialty`` column (a blank
    specialty is its own level). Gap = (1 − exp(β_f)) × 100 — the % by which
    a woman's pay falls short of a like-for-like man's; its 95% CI
    transforms the t interval of β_f (lower bound from the upper β bound). A
    term that is constant or collinear in this trust (e.g. one grade only,
    everyone at fte 1) is dropped, and the note says so. Returns value,
    ci_lower, ci_upper, n (staff in the model; NaN when not fitted), note.
    """
    notes = []
    if bank_doctors(d).any():
        notes.append("bank doctors left out of the like-for-like comparison")
    has_specialty = "specialty" in d
    if not has_specialty:
        notes.append("not adjusted for specialty (the extract has no specialty column)")
    d = d[in_adjusted_model(d)]
    n_f = int((d["sex_group"] == g.FEMALE).sum())
    n_m = int((d["sex_group"] == g.MALE).sum())
    out = dict(value=np.nan, ci_lower=np.nan, ci_upper=np.nan, n=float(len(d)),
               note="; ".join(notes))
    if n_f < MIN_MODEL_PER_SEX or n_m < MIN_MODEL_PER_SEX:
        # No count is published for a model not fitted: the staff numbers may be below the
        # disclosure threshold.
        out["n"] = np.nan
        out["note"] = "; ".join([f"too few staff for the adjusted model (fewer than "
                                 f"{MIN_MODEL_PER_SEX} women or fewer than {MIN_MODEL_PER_SEX} men)",
                                 *notes])
        return out
    y = np.log(d["hourly_pay"].to_numpy(dtype="float64"))
    cols = {"const": np.ones(len(d)),
            "female": (d["sex_group"] == g.FEMALE).to_numpy(dtype="float64")}
    present = [b for b in g.PAY_BANDS if (d["pay_band"] == b).any()]
    for b in present[1:]:  # first band present is the reference level
        cols[f"pay_band={b}"] = (d["pay_band"] == b).to_numpy(dtype="float64")
    if has_specialty:
        spec = d["specialty"].astype("str").where(d["specialty"].notna(), SPECIALTY_NOT_RECORDED)
        levels = sorted(spec.unique())
        for lv in levels[1:]:  # first specialty (alphabetical) is the reference level
            cols[f"specialty={lv}"] = (spec == lv).to_numpy(dtype="float64")
    cols["years_service"] = d["years_service"].to_numpy(dtype="float64")
    cols["fte"] = d["fte"].to_numpy(dtype="float64")
    kept, dropped = [], []
    for name, col in cols.items():
        trial = np.column_stack([cols[k] for k in kept] + [col])
        if np.linalg.matrix_rank(trial) == trial.shape[1]:
            kept.append(name)
        else:
            dropped.append(name)
    if len(present) <= 1:
        dropped.insert(0, "pay band (one grade only)")
    x = np.column_stack([cols[k] for k in kept])
    n, p = x.shape
    df_resid = n - p
    if df_resid < 1:
        out.update(n=np.nan, note="; ".join(
            ["too few staff for the adjusted model (no residual degrees of freedom)", *notes]))
        return out
    beta, *_ = np.linalg.lstsq(x, y, rcond=None)
    resid = y - x @ beta
    sigma2 = float(resid @ resid) / df_resid
    cov = sigma2 * np.linalg.inv(x.T @ x)
    j = kept.index("female")
    b, se = float(beta[j]), float(np.sqrt(cov[j, j]))
    tq = float(stats.t_ppf(1 - alpha / 2, df_resid))
    out.update(
        value=(1 - np.exp(b)) * 100.0,
        ci_lower=(1 - np.exp(b + tq * se)) * 100.0,
        ci_upper=(1 - np.exp(b - tq * se)) * 100.0,
    )
    if dropped:
        notes.append("terms dropped (constant or collinear in this trust): " + ", ".join(
            k for k in dropped if k != "const"))
    out["note"] = "; ".join(notes)
    return out


@family("pay_medical", _SPECS, tables=("workforce",))
def pay_medical(ctx) -> pd.DataFrame:
    """Mend the Gap figures: doctors' gender gaps on basic and total pay, by grade, and adjusted.

    Dacre & Woodhams (2020); gap formula SI 2017/353 Sch. 1 paras 8–9.
    """
    wf = workforce_for_periods(ctx)
    if wf is None:
        return empty_rows()
    d = medical_population(wf)
    if d.empty:
        return empty_rows()
    parts = [
        gap_rows(_with_grades(d, col), spec, seed=ctx.seed, n_resamples=ctx.n_bootstrap)
        for col, spec in (("hourly_pay", BASIC), ("total_hourly", TOTAL))
    ]
    d = d.assign(years_service=years_of_service(d))
    fits = []
    for (trust, period), sub in d.groupby(["trust_code", "period"], sort=True):
        fits.append({"trust_code": trust, "period": period, **adjusted_gap(sub)})
    f = pd.DataFrame(fits)
    parts.append(make_rows(
        trust_code=f["trust_code"], period=f["period"], metric_id="pay.medical.adjusted_gender_gap",
        group=g.FEMALE, reference_group=g.MALE, denominator=f["n"], value=f["value"],
        ci_lower=f["ci_lower"], ci_upper=f["ci_upper"], note=f["note"],
        basis="model", n_values=f["n"],
    ))
    return pd.concat(parts, ignore_index=True)
