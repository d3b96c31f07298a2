"""Pay gaps, bonus shares, quartile pay bands and flexible working (HIA3; CONTRACT.md §4.5).

Method: the Equality Act 2010 (Specific Duties and Public Authorities)
Regulations 2017 (SI 2017/353), Schedule 1 — paragraph 2(1) lists the six
figures; paragraphs 8 and 9 the mean and median hourly-pay gaps, 10 and 11
the bonus gaps, 12 the bonus proportions and 13 the quartile pay bands (the
same text as regulations 8–13 of SI 2017/172 for private employers). The
calculation steps follow the Acas/GEO guidance *Managing gender pay
reporting*. Ethnicity gaps follow the Department for Business and Trade's
*Ethnicity pay reporting: guidance for employers* (2023), which mirrors the
gender method with White British as the reference group; disability gaps
use the same formula with Non-disabled as the reference.

Populations (CONTRACT.md §3, §4.5): hourly figures use full-pay relevant
staff (``full_pay_relevant`` = Y, para. 1(1)); bonus figures use all
relevant employees (all rows, bank included). Unknown groups are excluded
from both sides of every gap.

Hourly rate of pay (Sch. 1 para 6, :func:`statutory_hourly_rate`): ordinary
pay *plus bonus pay paid in the relevant pay period*, per hour — so a
Clinical Excellence Award paid monthly raises a consultant's hourly rate in
the mean and median gaps and the quartile bands, not only the bonus figures.
Pay is taken after any salary-sacrifice reduction and before deductions at
source such as income tax (para 1(2); Acas/GEO, *Managing gender pay
reporting*: "gross pay after any reduction for a salary-sacrifice scheme").

Every function here is vectorised over trusts and periods. The 95%
interval on a mean gap is closed-form (:func:`mean_gap_interval`): the
delta method on the log of the ratio of the two independent group means
(Friedrich, Adhikari & Beyene, *BMC Med. Res. Methodol.* 8:32, 2008) with a
Welch–Satterthwaite t quantile, at a cost that does not grow with the
number of staff. The interval on a median gap is a percentile bootstrap
(Efron & Tibshirani, 1993, ch. 13) resampling each group separately, its
replicates drawn exactly from order statistics (:func:`bootstrap_median`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from edi_analysis import groups as g
from edi_analysis import stats
from edi_analysis.metrics.registry import MetricSpec, family
from edi_analysis.metrics.rows import empty_rows, make_rows

__all__ = [
    "GapSpec", "QUARTILES", "gap_rows", "bootstrap_median", "mean_gap_interval", "stable_seed",
    "quartile_sizes", "quartile_allocation", "hourly_population", "workforce_for_periods",
    "ethnicity5_vs_white_british", "statutory_hourly_rate",
]

# --- registry -----------------------------------------------------------------

_REGS = "Equality Act 2010 (Specific Duties and Public Authorities) Regulations 2017 (SI 2017/353)"
_GAP_DEF = (
    "(reference − compared) ÷ reference × 100, as a % of the reference group's figure; "
    "numerator = compared group's figure (£), denominator = reference group's figure (£); "
    "95% CI: mean gaps, delta method on the log ratio of the two means with a "
    "Welch–Satterthwaite t quantile (Friedrich et al. 2008); median gaps, percentile bootstrap, "
    "each group resampled separately."
)
_HOURLY_DEF = (
    "Hourly rate of pay (Sch. 1 para 6) = ordinary hourly pay + bonus pay paid in the relevant "
    "pay period (optional column bonus_pay_period) ÷ the period's contracted hours (37.5 × fte × "
    "days in the month holding the snapshot ÷ 7; Convention), after salary sacrifice and before "
    "tax. "
)

_SPECS = [
    MetricSpec(
        "pay.gender.mean_gap", "hia3", "Gender pay gap: mean hourly pay", "percent",
        f"{_REGS}, Sch. 1 paras 2(1)(a), 8",
        "Mean hourly pay of male full-pay relevant staff minus that of female, as % of the male "
        "mean. " + _HOURLY_DEF + _GAP_DEF,
        counts=(),  # £ figures, not counts
    ),
    MetricSpec(
        "pay.gender.median_gap", "hia3", "Gender pay gap: median hourly pay", "percent",
        f"{_REGS}, Sch. 1 paras 2(1)(b), 9",
        "Median hourly pay of male full-pay relevant staff minus that of female, as % of the male "
        "median. " + _HOURLY_DEF + _GAP_DEF,
        counts=(),  # £ figures, not counts
    ),
    MetricSpec(
        "pay.gender.bonus_mean_gap", "hia3", "Gender bonus gap: mean bonus pay", "percent",
        f"{_REGS}, Sch. 1 paras 2(1)(c), 10",
        "Mean bonus paid in the reporting year to men paid a bonus minus that to women paid a "
        "bonus, as % of the male mean; all relevant employees (bank included). " + _GAP_DEF,
        counts=(),  # £ figures, not counts
    ),
    MetricSpec(
        "pay.gender.bonus_median_gap", "hia3", "Gender bonus gap: median bonus pay", "percent",
        f"{_REGS}, Sch. 1 paras 2(1)(d), 11",
        "Median bonus of men paid a bonus minus that of women paid a bonus, as % of the male "
        "median; all relevant employees (bank included). " + _GAP_DEF,
        counts=(),  # £ figures, not counts
    ),
    MetricSpec(
        "pay.gender.bonus_share", "hia3", "Staff paid a bonus, by sex", "percent",
        f"{_REGS}, Sch. 1 paras 2(1)(e), 12",
        "% of relevant employees of each sex (bank included) paid bonus pay (> 0) in the "
        "reporting year; Wilson 95% CI.",
    ),
    MetricSpec(
        "pay.gender.quartile_share", "hia3", "Women and men in each quartile pay band", "percent",
        f"{_REGS}, Sch. 1 paras 2(1)(f), 13",
        "Full-pay relevant staff ranked by hourly rate of pay (Sch. 1 para 6: ordinary pay plus "
        "bonus pay paid in the relevant pay period, per hour), ascending, in four bands of N div 4; "
        "remainder (Convention) 1 → Lower, 2 → Lower and Upper middle, 3 → Lower, Lower middle "
        "and Upper middle. A pay rate spanning a band boundary gives each band that rate's "
        "female/male mix (para. 13(2)), so counts may be fractional. Numerator = women (or men) "
        "in the band, denominator = band size; Wilson 95% CI.",
        breakdowns=("quartile",),
    ),
    MetricSpec(
        "pay.ethnicity.mean_gap", "hia3", "Ethnicity pay gap: mean hourly pay", "percent",
        "DBT, Ethnicity pay reporting: guidance for employers (2023); NHS practice (BME vs White)",
        "Overall: mean hourly pay of White minus BME full-pay relevant staff, as % of the White "
        "mean. Breakdown ethnicity5=<group>: each of Mixed, Asian, Black, Other and White other "
        "than British (codes B, C; group 'White') vs White British (code A). " + _HOURLY_DEF + _GAP_DEF,
        breakdowns=("ethnicity5",),
        counts=(),  # £ figures, not counts
    ),
    MetricSpec(
        "pay.ethnicity.median_gap", "hia3", "Ethnicity pay gap: median hourly pay", "percent",
        "DBT, Ethnicity pay reporting: guidance for employers (2023); NHS practice (BME vs White)",
        "As pay.ethnicity.mean_gap with medians. " + _GAP_DEF,
        breakdowns=("ethnicity5",),
        counts=(),  # £ figures, not counts
    ),
    MetricSpec(
        "pay.disability.mean_gap", "hia3", "Disability pay gap: mean hourly pay", "percent",
        "Method of SI 2017/353 Sch. 1 para 8 applied to disability (EDI Improvement Plan HIA3)",
        "Mean hourly pay of Non-disabled minus Disabled full-pay relevant staff, as % of the "
        "Non-disabled mean; Unknown excluded. " + _HOURLY_DEF + _GAP_DEF,
        counts=(),  # £ figures, not counts
    ),
    MetricSpec(
        "pay.disability.median_gap", "hia3", "Disability pay gap: median hourly pay", "percent",
        "Method of SI 2017/353 Sch. 1 para 9 applied to disability (EDI Improvement Plan HIA3)",
        "As pay.disability.mean_gap with medians. " + _GAP_DEF,
        counts=(),  # £ figures, not counts
    ),
]

_FLEX_SPEC = MetricSpec(
    "hia3.flexible_working_share", "hia3", "Staff with a formal flexible working arrangement",
    "percent",
    "NHS EDI Improvement Plan (2023) High Impact Action 3; NHS People Plan (flexible working)",
    "% of in-scope staff (permanent and fixed-term) with flexible_working = Y, of those with it "
    "recorded; overall (group All) and per group with breakdown characteristic=sex|ethnicity|"
    "disability (Unknown groups shown); Wilson 95% CI.",
    breakdowns=("characteristic",),
)

# --- shared helpers -------------------------------------------------------------

QUARTILES = ("Lower", "Lower middle", "Upper middle", "Upper")
KEY = ["trust_code", "period"]


def workforce_for_periods(ctx) -> pd.DataFrame | None:
    """The workforce rows at the context's snapshots, with ``period`` as ISO text."""
    wf = ctx.tables.get("workforce")
    if wf is None or wf.empty:
        return None
    wf = wf[wf["snapshot_date"].isin(list(ctx.periods))]
    if wf.empty:
        return None
    wf = wf.copy(deep=False)  # copy-on-write: the new column does not touch ctx's table
    wf["period"] = wf["snapshot_date"].dt.strftime("%Y-%m-%d").astype("str")
    return wf


#: Full-time contracted hours a week (NHS Terms and Conditions of Service Handbook, s. 27:
#: 37.5 hours), used to spread bonus pay over a person's hours (fte × 37.5; Convention).
FULL_TIME_WEEKLY_HOURS = 37.5

#: Note on the statutory hourly figures when the extract lacks ``bonus_pay_period``.
NO_PERIOD_BONUS_NOTE = (
    "hourly rate is ordinary pay only: the extract has no bonus_pay_period column (bonus pay paid "
    "in the relevant pay period, which SI 2017/353 Sch. 1 para 6 adds to the hourly rate)"
)


def statutory_hourly_rate(wf: pd.DataFrame) -> pd.Series:
    """The hourly rate of pay of SI 2017/353 Sch. 1 para 6: ordinary pay plus period bonus, per hour.

    Para 6 step 1 takes "all amounts of ordinary pay and bonus pay" paid in
    the relevant pay period (the pay period holding the snapshot, para 5(2));
    steps 4–5 turn the total into a weekly then an hourly figure. Payroll
    supplies ordinary pay already as ``hourly_pay``; bonus pay paid in the
    period (``bonus_pay_period``, optional; blank = none; a bonus paid for a
    longer period pro-rated by payroll as step 2 requires) is added per hour
    of the period: ÷ (fte × 37.5 × days in the pay period ÷ 7), the pay period
    being the calendar month holding the snapshot (NHS staff are paid
    monthly; Convention). Amounts are after any salary-sacrifice reduction
    and before deductions at source (para 1(2)). Without the column the rate
    is ordinary pay only (and the rows say so: :data:`NO_PERIOD_BONUS_NOTE`).
    """
    ordinary = wf["hourly_pay"].astype("float64")
    if "bonus_pay_period" not in wf:
        return ordinary
    days = pd.to_datetime(wf["snapshot_date"]).dt.days_in_month.astype("float64")
    hours = wf["fte"].astype("float64") * FULL_TIME_WEEKLY_HOURS * days / 7.0
    bonus = wf["bonus_pay_period"].astype("float64").fillna(0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        extra = np.where(bonus > 0, bonus / hours, 0.0)
    return ordinary + extra


def hourly_population(wf: pd.DataFrame) -> pd.DataFrame:
    """Full-pay relevant staff with an hourly rate (SI 2017/353 Sch. 1 para 1(1)).

    ``full_pay_relevant`` not recorded counts as not full-pay relevant: the
    regulations define the population positively. Adds ``statutory_hourly``
    (:func:`statutory_hourly_rate`), the rate the statutory figures rank and
    average.
    """
    fpr = wf["full_pay_relevant"].fillna(False).astype(bool)
    out = wf[fpr & wf["hourly_pay"].notna()]
    return out.assign(statutory_hourly=statutory_hourly_rate(out))


def stable_seed(*parts) -> int:
    """A 64-bit seed from the key strings, stable across runs and platforms (SHA-256).

    Deriving one seed per (seed, population, trust, period, breakdown, group)
    makes each group's bootstrap independent of which other trusts are in the
    run: all trusts at once equals trust by trust, and re-runs are identical.
    """
    h = hashlib.sha256("\x1f".join(str(p) for p in parts).encode("utf-8")).digest()
    return int.from_bytes(h[:8], "little")


def bootstrap_median(sorted_values: np.ndarray, n_resamples: int,
                     rng: np.random.Generator) -> np.ndarray:
    """Bootstrap replicates of the median of one group (resampled with replacement), exactly.

    ``sorted_values`` must be sorted ascending. The replicates are drawn
    without materialising the resamples — a resample's k-th order statistic
    is F_n^-1(U_(k)), and the k-th order statistic of n uniforms is
    Beta(k, n − k + 1) (David & Nagaraja, *Order Statistics*, 3rd ed., 2003,
    §2.2); for even n the next one is U_(k) + (1 − U_(k))·Beta(1, n − k).
    This is the same distribution as the median of an explicit resample
    (Maritz & Jarrett, JASA 1978, 73:194–196, give the exact bootstrap
    distribution of the median) at O(1) cost per replicate instead of O(n),
    so the cost does not grow with the number of staff.

    The stream is part of the seed contract: these are the first draws from
    ``rng`` (the mean replicates that used to follow them are no longer drawn:
    mean gaps have a closed-form interval, :func:`mean_gap_interval`), so the
    median intervals are those of earlier releases.
    """
    x = np.asarray(sorted_values, dtype="float64")
    n = x.size
    k = (n + 1) // 2 if n % 2 else n // 2
    u = rng.beta(k, n - k + 1, size=n_resamples)
    lo = x[np.minimum((u * n).astype(np.intp), n - 1)]
    if n % 2:
        return lo
    u2 = u + (1.0 - u) * rng.beta(1, n - k, size=n_resamples)
    return (lo + x[np.minimum((u2 * n).astype(np.intp), n - 1)]) / 2.0


def mean_gap_interval(mean_c, var_c, n_c, mean_r, var_r, n_r,
                      alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Closed-form 1 − α interval of the mean gap (1 − x̄_c / x̄_r) × 100, in percentage points.

    Two independent groups, compared (c) and reference (r), each given by
    its mean, variance (ddof = 1) and size; vectorised. The gap is a
    monotone function of the ratio of means R = x̄_c / x̄_r, so the interval
    is that of R transformed: the delta method on log R (Friedrich,
    Adhikari & Beyene, "The ratio of means method as an alternative to mean
    differences for analyzing continuous outcome variables in
    meta-analysis", *BMC Med. Res. Methodol.* 8:32, 2008, eq. 2; Casella &
    Berger, *Statistical Inference*, 2nd ed., 2002, §5.5.4):

        Var(log R) ≈ v_c + v_r,  v_g = s_g² / (n_g x̄_g²)

    with the t quantile on Welch–Satterthwaite degrees of freedom
    (v_c + v_r)² / (v_c²/(n_c − 1) + v_r²/(n_r − 1)) (Welch, *Biometrika*
    34, 1947, 28–35), which tends to the normal quantile as the groups grow
    and keeps the coverage of small groups near 95% (the percentile
    bootstrap falls short there; ``benchmarks/pay_gap_coverage.py``).

        gap interval = [(1 − R·e^{t·se}) × 100, (1 − R·e^{−t·se}) × 100]

    Working on log R keeps the ratio's bounds positive and the interval
    asymmetric, as the ratio's sampling distribution is. NaN where either
    mean is not positive (log R undefined; the reference-zero case is a
    blank gap anyway) or either group has fewer than two values (no
    variance estimate). Both groups without spread give the point itself.
    """
    mc, vc, nc = _f(mean_c), _f(var_c), _f(n_c)
    mr, vr, nr = _f(mean_r), _f(var_r), _f(n_r)
    with np.errstate(divide="ignore", invalid="ignore"):
        a = vc / (nc * mc**2)
        b = vr / (nr * mr**2)
        v = a + b
        spread = v > 0
        df = np.where(spread, v**2 / (a**2 / (nc - 1) + b**2 / (nr - 1)), 1.0)
        tq = np.where(spread, stats.t_ppf(1.0 - alpha / 2.0, df), 0.0)
        half = tq * np.sqrt(v)
        ratio = mc / mr
        lo = (1.0 - ratio * np.exp(half)) * 100.0
        hi = (1.0 - ratio * np.exp(-half)) * 100.0
        point = (mr - mc) / mr * 100.0  # the published value, computed as gap_rows does
    ok = (mc > 0) & (mr > 0) & (nc >= 2) & (nr >= 2) & np.isfinite(v)
    # Rounding must not put the estimate outside its own interval (a group without spread).
    lo = np.where(ok, np.minimum(lo, point), np.nan)
    hi = np.where(ok, np.maximum(hi, point), np.nan)
    return lo, hi


def _f(x) -> np.ndarray:
    return np.asarray(x, dtype="float64")


def _percentile_interval(reps: np.ndarray, alpha: float = 0.05) -> tuple[float, float]:
    reps = reps[np.isfinite(reps)]
    if reps.size == 0:
        return np.nan, np.nan
    lo, hi = np.quantile(reps, [alpha / 2, 1 - alpha / 2])
    return float(lo), float(hi)


@dataclass(frozen=True)
class GapSpec:
    """One comparison: each compared label vs the reference label, within one population.

    ``group_breakdown``: when set (e.g. ``ethnicity5``), each compared group
    gets its own breakdown ``<key>=<label>``; otherwise the population's own
    ``breakdown`` column is used. ``notes`` adds a fixed note per compared label.
    """

    population: str
    mean_id: str
    median_id: str
    compared: tuple[str, ...]
    reference: str
    group_breakdown: str | None = None
    notes: Mapping[str, str] = field(default_factory=dict)


def gap_rows(pop: pd.DataFrame, spec: GapSpec, *, seed: int, n_resamples: int) -> pd.DataFrame:
    """Mean and median gaps with 95% CIs for one population, all trusts and periods at once.

    ``pop`` has columns trust_code, period, breakdown, label, value. Gap =
    (reference − compared) ÷ reference × 100 (SI 2017/353 Sch. 1 paras 8–11).
    A row is produced where both groups have at least one value; a reference
    figure of zero gives a blank value with a note (CONTRACT.md §4.8). Basis
    'mean' with ``n_values`` = the smaller group's count. Mean gaps: the
    closed-form :func:`mean_gap_interval`; median gaps: ``n_resamples``
    percentile-bootstrap replicates per group (:func:`bootstrap_median`).
    """
    labels = spec.compared + (spec.reference,)
    pop = pop[pop["label"].isin(labels) & pop["value"].notna()]
    if pop.empty:
        return empty_rows()
    keys = ["trust_code", "period", "breakdown", "label"]
    grouped = pop.groupby(keys, sort=True)
    st = grouped["value"].agg(n="count", mean="mean", median="median", var="var").reset_index()
    st["gi"] = np.arange(len(st))
    gid = grouped.ngroup().to_numpy()
    vals = pop["value"].to_numpy(dtype="float64")
    order = np.lexsort((vals, gid))
    vals_sorted = vals[order]
    bounds = np.searchsorted(gid[order], np.arange(len(st) + 1))

    ref = st[st["label"] == spec.reference]
    cmp_ = st[st["label"] != spec.reference]
    m = cmp_.merge(ref, on=["trust_code", "period", "breakdown"], suffixes=("", "_ref"))
    if m.empty:
        return empty_rows()
    m = m.sort_values(["trust_code", "period", "breakdown", "label"], kind="stable",
                      ignore_index=True)

    # Median replicates: every group from its own seeded stream (so a group's interval does
    # not depend on which other trusts are in the run), O(n_resamples) per group whatever
    # its size. A reference group shared by several compared groups is drawn once.
    medians: dict[int, np.ndarray] = {}
    for t, p, b, lab, gi, gi_ref in zip(m["trust_code"], m["period"], m["breakdown"], m["label"],
                                        m["gi"], m["gi_ref"], strict=True):
        for i, row_key in ((int(gi), (t, p, b, lab)), (int(gi_ref), (t, p, b, spec.reference))):
            if i not in medians:
                rng = np.random.Generator(np.random.SFC64(stable_seed(seed, spec.population,
                                                                      *row_key)))
                medians[i] = bootstrap_median(vals_sorted[bounds[i]:bounds[i + 1]], n_resamples,
                                              rng)

    n_rows = len(m)
    ci = {"mean": mean_gap_interval(m["mean"], m["var"], m["n"],
                                    m["mean_ref"], m["var_ref"], m["n_ref"]),
          "median": (np.full(n_rows, np.nan), np.full(n_rows, np.nan))}
    for r, (gi, gi_ref) in enumerate(zip(m["gi"], m["gi_ref"], strict=True)):
        if m.at[r, "median_ref"] != 0:
            cr, rr = medians[int(gi)], medians[int(gi_ref)]
            with np.errstate(divide="ignore", invalid="ignore"):
                ci["median"][0][r], ci["median"][1][r] = _percentile_interval(
                    (rr - cr) / rr * 100.0)

    if spec.group_breakdown:
        breakdown = (spec.group_breakdown + "=" + m["label"]).to_numpy()
    else:
        breakdown = m["breakdown"].to_numpy()
    fixed_note = m["label"].map(lambda lab: spec.notes.get(lab, "")).to_numpy(dtype=object)
    n_values = np.minimum(m["n"].to_numpy(), m["n_ref"].to_numpy()).astype("float64")
    parts = []
    for s, metric_id in (("mean", spec.mean_id), ("median", spec.median_id)):
        c = m[s].to_numpy(dtype="float64")
        rf = m[f"{s}_ref"].to_numpy(dtype="float64")
        zero = rf == 0
        with np.errstate(divide="ignore", invalid="ignore"):
            value = np.where(zero, np.nan, (rf - c) / rf * 100.0)
        note = np.where(zero, f"reference group {s} is zero", fixed_note)
        parts.append(make_rows(
            trust_code=m["trust_code"], period=m["period"], metric_id=metric_id,
            breakdown=breakdown, group=m["label"], reference_group=spec.reference,
            numerator=c, denominator=rf, value=value,
            ci_lower=ci[s][0], ci_upper=ci[s][1], note=note,
            basis="mean", n_values=n_values,
        ))
    return pd.concat(parts, ignore_index=True)


# --- gaps: sex, ethnicity, disability, bonus ------------------------------------

def _pop(df: pd.DataFrame, label: pd.Series, value: pd.Series, breakdown="") -> pd.DataFrame:
    # Series, not .to_numpy(): text columns stay in pandas' compact string storage rather than
    # becoming millions of Python objects (the national workforce has ~1.5 M rows per period).
    out = pd.DataFrame({"trust_code": df["trust_code"], "period": df["period"],
                        "breakdown": breakdown, "label": label,
                        "value": value.astype("float64")})
    return out.reset_index(drop=True)


def ethnicity5_vs_white_british(df: pd.DataFrame) -> pd.Series:
    """Ethnicity-pay label: White British (A), White (B, C), Mixed, Asian, Black, Other.

    DBT (2023) recommends White British as the reference group; the White
    other than British staff (codes B and C) are then a compared group of
    their own, labelled ``White`` under breakdown ``ethnicity5=White``.
    Unknown stays Unknown (excluded by the comparisons).
    """
    return df["ethnicity5"].where(~df["white_british"].astype(bool), g.WHITE_BRITISH)


_WHITE_OTHER_NOTE = "White other than White British (codes B, C) vs White British (code A)"

GENDER = GapSpec("hourly.sex", "pay.gender.mean_gap", "pay.gender.median_gap",
                 (g.FEMALE,), g.MALE)
BONUS = GapSpec("bonus.sex", "pay.gender.bonus_mean_gap", "pay.gender.bonus_median_gap",
                (g.FEMALE,), g.MALE)
ETHNICITY = GapSpec("hourly.ethnicity", "pay.ethnicity.mean_gap", "pay.ethnicity.median_gap",
                    (g.BME,), g.WHITE)
ETHNICITY5 = GapSpec("hourly.ethnicity5", "pay.ethnicity.mean_gap", "pay.ethnicity.median_gap",
                     (g.MIXED, g.ASIAN, g.BLACK, g.OTHER, g.WHITE), g.WHITE_BRITISH,
                     group_breakdown="ethnicity5", notes={g.WHITE: _WHITE_OTHER_NOTE})
DISABILITY = GapSpec("hourly.disability", "pay.disability.mean_gap", "pay.disability.median_gap",
                     (g.DISABLED,), g.NON_DISABLED)


@family("pay_gaps", _SPECS[:4] + _SPECS[6:], tables=("workforce",))
def pay_gaps(ctx) -> pd.DataFrame:
    """Mean and median pay gaps by sex, ethnicity and disability, and the gender bonus gaps.

    SI 2017/353 Sch. 1 paras 8–11; DBT ethnicity pay reporting guidance
    (2023). Hourly gaps over full-pay relevant staff; bonus gaps over all
    relevant employees paid a bonus (> 0) in the reporting year.
    """
    wf = workforce_for_periods(ctx)
    if wf is None:
        return empty_rows()
    hourly = hourly_population(wf)
    rate = hourly["statutory_hourly"]
    paid = wf[wf["bonus_pay_12m"].fillna(0) > 0]
    # One population at a time (a generator), so only one national-size frame is alive.
    work = (
        (lambda: _pop(hourly, hourly["sex_group"], rate), GENDER, True),
        (lambda: _pop(paid, paid["sex_group"], paid["bonus_pay_12m"]), BONUS, False),
        (lambda: _pop(hourly, hourly["ethnicity"], rate), ETHNICITY, True),
        (lambda: _pop(hourly, ethnicity5_vs_white_british(hourly), rate), ETHNICITY5, True),
        (lambda: _pop(hourly, hourly["disability_group"], rate), DISABILITY, True),
    )
    no_bonus_column = "bonus_pay_period" not in wf
    parts = []
    for make, spec, hourly_rate in work:
        out = gap_rows(make(), spec, seed=ctx.seed, n_resamples=ctx.n_bootstrap)
        if hourly_rate and no_bonus_column:
            out = _add_note(out, NO_PERIOD_BONUS_NOTE)
        parts.append(out)
    return pd.concat(parts, ignore_index=True)


def _add_note(rows: pd.DataFrame, text: str) -> pd.DataFrame:
    note = rows["note"].astype("str")
    return rows.assign(note=np.where(note.eq(""), text, note + "; " + text)).astype({"note": "str"})


# --- bonus proportions and quartile pay bands -----------------------------------

def quartile_sizes(n) -> np.ndarray:
    """Band sizes (Lower, Lower middle, Upper middle, Upper) for N staff: N div 4 plus remainder.

    SI 2017/353 Sch. 1 para 13 step 2 asks for four sections "each comprising
    (so far as possible) an equal number"; where the remainder goes is not
    specified. Convention (CONTRACT.md §4.5): 1 → Lower; 2 → Lower and Upper
    middle; 3 → Lower, Lower middle and Upper middle.
    """
    n = np.asarray(n, dtype=np.int64)
    q, r = n // 4, n % 4
    return np.stack([q + (r >= 1), q + (r >= 3), q + (r >= 2), q], axis=-1)


def quartile_allocation(df: pd.DataFrame) -> pd.DataFrame:
    """Women and men (fractional counts) in each quartile pay band, per trust and period.

    ``df`` has trust_code, period, hourly_pay and ``female`` (bool) for
    full-pay relevant staff of known sex. Staff are ranked by hourly pay; a
    block of staff on the same rate occupies a run of rank positions, and
    the part of that run inside each band gets the block's female/male mix
    in proportion (Sch. 1 para 13(2): "the relative proportion of male and
    female employees receiving that rate of pay is the same in each of those
    pay bands"). Computed from cumulative positions, without a loop over
    people. Returns trust_code, period, quartile, size, female, male.
    """
    if df.empty:
        return pd.DataFrame(columns=["trust_code", "period", "quartile", "size", "female", "male"])
    grouped = df.groupby(KEY, sort=True)
    keys = grouped.size().reset_index()[KEY]
    gid = grouped.ngroup().to_numpy()
    pay = df["hourly_pay"].to_numpy(dtype="float64")
    fem = df["female"].to_numpy(dtype=bool)
    order = np.lexsort((pay, gid))
    gid, pay, fem = gid[order], pay[order], fem[order]
    n_groups = len(keys)
    n_g = np.bincount(gid, minlength=n_groups)
    start_g = np.concatenate([[0], np.cumsum(n_g)[:-1]])
    pos = np.arange(gid.size) - start_g[gid]
    # A block = staff of one trust-period on one hourly rate (consecutive after sorting).
    new_block = np.ones(gid.size, dtype=bool)
    new_block[1:] = (gid[1:] != gid[:-1]) | (pay[1:] != pay[:-1])
    block = np.cumsum(new_block) - 1
    b_gid = gid[new_block]
    b_start = pos[new_block]
    b_size = np.bincount(block).astype("float64")
    b_fem = np.bincount(block, weights=fem.astype("float64"))
    b_end = b_start + b_size
    sizes = quartile_sizes(n_g)
    edges = np.concatenate([np.zeros((n_groups, 1), dtype=np.int64), np.cumsum(sizes, axis=1)],
                           axis=1)
    lo = np.maximum(b_start[:, None], edges[b_gid, :4])
    hi = np.minimum(b_end[:, None], edges[b_gid, 1:])
    overlap = np.clip(hi - lo, 0, None)
    f_share = b_fem / b_size
    female = np.stack([np.bincount(b_gid, weights=overlap[:, k] * f_share, minlength=n_groups)
                       for k in range(4)], axis=1)
    male = np.stack([np.bincount(b_gid, weights=overlap[:, k] * (1 - f_share), minlength=n_groups)
                     for k in range(4)], axis=1)
    out = pd.DataFrame({
        "trust_code": np.repeat(keys["trust_code"].to_numpy(), 4),
        "period": np.repeat(keys["period"].to_numpy(), 4),
        "quartile": np.tile(np.array(QUARTILES, dtype=object), n_groups),
        "size": sizes.reshape(-1).astype("float64"),
        "female": female.reshape(-1),
        "male": male.reshape(-1),
    })
    out["quartile"] = out["quartile"].astype("str")
    return out


def quartile_staff(wf: pd.DataFrame) -> pd.DataFrame:
    """The input of :func:`quartile_allocation`: full-pay relevant staff of known sex (para 13),
    ranked by the statutory hourly rate (Sch. 1 para 6: ordinary pay and the period's bonus).

    The one selection of quartile staff: :func:`pay_distribution` and the disclosure
    records (``edi_analysis.disclosure.records.quartile_records``) both call it.
    """
    h = hourly_population(wf)
    h = h[h["sex_group"].isin([g.FEMALE, g.MALE])]
    return pd.DataFrame({
        "trust_code": h["trust_code"].to_numpy(), "period": h["period"].to_numpy(),
        # the statutory hourly rate (Sch. 1 para 6) ranks the staff (para 13)
        "hourly_pay": h["statutory_hourly"].to_numpy(dtype="float64"),
        "female": (h["sex_group"] == g.FEMALE).to_numpy(),
    })


def _share_rows(metric_id, trust, period, group, num, den, breakdown=""):
    num = np.asarray(num, dtype="float64")
    den = np.asarray(den, dtype="float64")
    lo, hi = stats.wilson_interval(num, den)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = np.where(den > 0, num / den * 100.0, np.nan)
    return make_rows(
        trust_code=trust, period=period, metric_id=metric_id, breakdown=breakdown, group=group,
        numerator=num, denominator=den, value=value, ci_lower=lo * 100.0, ci_upper=hi * 100.0,
        basis="rate",
    )


@family("pay_distribution", [_SPECS[4], _SPECS[5]], tables=("workforce",))
def pay_distribution(ctx) -> pd.DataFrame:
    """Bonus proportions by sex and the quartile pay bands (SI 2017/353 Sch. 1 paras 12, 13).

    Bonus proportions: all relevant employees (bank included) with bonus pay
    recorded; paid a bonus = bonus_pay_12m > 0. Quartiles: full-pay relevant
    staff of known sex.
    """
    wf = workforce_for_periods(ctx)
    if wf is None:
        return empty_rows()
    parts = []
    b = wf[wf["sex_group"].isin([g.FEMALE, g.MALE]) & wf["bonus_pay_12m"].notna()]
    if not b.empty:
        agg = (b.assign(paid=b["bonus_pay_12m"] > 0)
               .groupby(KEY + ["sex_group"], sort=True)["paid"]
               .agg(["sum", "count"]).reset_index())
        parts.append(_share_rows("pay.gender.bonus_share", agg["trust_code"], agg["period"],
                                 agg["sex_group"], agg["sum"], agg["count"]))
    q = quartile_allocation(quartile_staff(wf))
    q = q[q["size"] > 0]
    if not q.empty:
        bd = ("quartile=" + q["quartile"]).to_numpy()
        for label, col in ((g.FEMALE, "female"), (g.MALE, "male")):
            share = _share_rows("pay.gender.quartile_share", q["trust_code"], q["period"],
                                label, q[col], q["size"], breakdown=bd)
            parts.append(_add_note(share, NO_PERIOD_BONUS_NOTE)
                         if "bonus_pay_period" not in wf else share)
    return pd.concat(parts, ignore_index=True) if parts else empty_rows()


# --- flexible working ------------------------------------------------------------

_CHARACTERISTICS = (
    ("sex", "sex_group"), ("ethnicity", "ethnicity"), ("disability", "disability_group"),
)


@family("flexible_working", [_FLEX_SPEC], tables=("workforce",))
def flexible_working(ctx) -> pd.DataFrame:
    """% of in-scope staff with a formal flexible working arrangement, overall and per group.

    EDI Improvement Plan HIA3 (flexible working as a lever on pay gaps).
    In-scope staff (CONTRACT.md §3) with ``flexible_working`` recorded;
    breakdown ``characteristic=sex|ethnicity|disability`` because the
    Unknown label occurs under more than one characteristic.
    """
    wf = workforce_for_periods(ctx)
    if wf is None:
        return empty_rows()
    s = wf[wf["in_scope"].astype(bool) & wf["flexible_working"].notna()]
    if s.empty:
        return empty_rows()
    s = s.assign(flex=s["flexible_working"].astype(bool))
    overall = s.groupby(KEY, sort=True)["flex"].agg(["sum", "count"]).reset_index()
    parts = [_share_rows(_FLEX_SPEC.id, overall["trust_code"], overall["period"], g.ALL,
                         overall["sum"], overall["count"])]
    for name, col in _CHARACTERISTICS:
        agg = s.groupby(KEY + [col], sort=True)["flex"].agg(["sum", "count"]).reset_index()
        parts.append(_share_rows(_FLEX_SPEC.id, agg["trust_code"], agg["period"], agg[col],
                                 agg["sum"], agg["count"], breakdown=f"characteristic={name}"))
    return pd.concat(parts, ignore_index=True)
