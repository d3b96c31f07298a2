"""What a board paper says about the figures: ratings, direction of travel, the dashboard,
the asks and the action plan.

Pure functions over metric rows (the rows ``metrics.compute`` returns and
``metrics.csv`` holds), the action catalogue and the trust's ``actions``
table: no I/O, nothing computed that is not already published except the
comparison of two published figures (below). The overview notebook calls
them (``report.Report.board``) and emits their result as data; the
publisher lays it out. Templates never decide a rating.

**The rating rule** (:func:`rate`; documented in ``docs/board-paper.md``
and on every board pack's method page). Each rated indicator compares a
group with a reference group and has a *parity* value and a *tolerance band*
around it:

- relative likelihoods (WRES 2–4, WDES 2–3, the adjusted disciplinary ratio,
  and every comparison of two groups' percentages): parity 1.00, band 0.80
  to 1.25, the "non-adverse range" (NHS England, *A fair experience for all*,
  2019, after the four-fifths rule);
- pay gaps: parity 0%, band −5% to +5% (Equality and Human Rights
  Commission, *Equal pay audit for larger organisations*: "as a general rule,
  differences of 5% or more … merit further investigation").

**Red**: the figure is outside the band *and* its 95% confidence interval
excludes parity (a difference that is both material and unlikely to be
chance). **Green**: the whole 95% interval lies inside the band (shown to be
close to parity). **Amber**: anything else (not shown either way). Judged on
the numbers as shown (``narrative.rounded``), as the words are.

Censuses have no interval: every member is counted. **Board membership**
(WRES 9, WDES 10) is red when the voting board would need at least one more
member of the group to match the group's share of the workforce, green
otherwise. **Board EDI objectives** (HIA1) are green at 100%, amber below
100% before the plan's due date, red below 100% after it.

Descriptions of the workforce (WRES 1, WDES 1), WDES 8 (asked of disabled
staff only), the engagement score (no published threshold) and external
figures are shown but **not rated**. A suppressed figure is not rated.

**Comparing two groups' percentages.** WRES 5–8, WDES 4–7 and the plan's
survey and rate measures publish a percentage per group; the dashboard rates
the ratio of the two (the group's figure ÷ the reference group's, as WRES 2
does for appointment rates) with a 95% interval from the two published
intervals by the MOVER method for a ratio (Donner and Zou, 2012,
*Statistical Methods in Medical Research* 21(4): 347–359), so the figure is
reproducible from ``metrics.csv``.

**Direction of travel** compares the rated figure with the previous
period's, on the numbers as shown: closer to parity, further from parity or
no change; "not comparable" when the counting basis changed (12-month and
two-year rolling WRES 3 figures, ``metrics.disciplinary.counting_basis``).
It is a description, not a test.

**Peers**: the trust's rank among the trusts in the run with a figure, 1 =
closest to parity. **England**: the national figure where the
``external_indicators`` table supplies one (``indicator_id`` =
``england.<metric id>``, ``group`` as in ``metrics.csv``).
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from decimal import Decimal

import pandas as pd

from edi_analysis import narrative as N

RATIO_BAND = (Decimal("0.80"), Decimal("1.25"))
PAY_GAP_BAND = (Decimal("-5.0"), Decimal("5.0"))
NATIONAL_PREFIX = "england."

RED, AMBER, GREEN, NONE = "red", "amber", "green", "none"
RATING_LABELS = {RED: "Red", AMBER: "Amber", GREEN: "Green", NONE: "Not rated"}
#: Shapes shown beside every rating, so colour is never the only cue.
RATING_SHAPES = {RED: "▲", AMBER: "◆", GREEN: "●", NONE: "○"}
RATING_ORDER = (RED, AMBER, GREEN, NONE)

#: The rating rule, as the board pack and the site state it.
RULE = (
    "Red: the figure is outside the tolerance band and its 95% confidence interval excludes "
    "parity. Green: the whole 95% confidence interval is inside the band. Amber: anything "
    "else. The band is 0.80 to 1.25 for relative likelihoods (NHS England's non-adverse "
    "range) and −5% to +5% for pay gaps (the Equality and Human Rights Commission's "
    "threshold for investigating a pay difference). Board membership is a census: red when "
    "the voting board would need at least one more member of the group to match its share of "
    "the workforce. Board EDI objectives: green at 100%, amber below 100% before the plan's "
    "due date, red after it. Descriptions of the workforce, and figures with no comparison "
    "group or no published threshold, are not rated.",
)


# --- indicators ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Indicator:
    """One line of the dashboard: which rows make its figure and how it is judged.

    ``kind``: ``ratio`` (a published relative likelihood or ratio), ``rates``
    (two groups' percentages compared as a ratio), ``pay_gap``, ``board``
    (WRES 9 / WDES 10), ``census_share`` (HIA1), ``share`` (a description),
    ``score`` (a mean score, compared but not rated), ``value`` (one group's
    figure), ``external`` (a figure from ``external_indicators``).
    """

    key: str
    section: str
    code: str
    metric: str
    kind: str
    area: str
    label: str = ""
    headline: str = ""  # the report section (report.HEADLINES) whose chart shows it
    group: str = ""
    reference: str = ""
    breakdown: str = ""
    also: str = ""  # the plan success metric it also is
    action: str = ""  # the catalogue action whose due date a census share is judged by
    short: str = ""  # the label on the one-page dashboard (its section names the groups)

    @property
    def rated(self) -> bool:
        return self.kind in ("ratio", "rates", "pay_gap", "board", "census_share")


SECTIONS = (
    ("wres", "Workforce Race Equality Standard (WRES)"),
    ("wdes", "Workforce Disability Equality Standard (WDES)"),
    ("pay", "Pay gaps"),
    ("plan", "EDI Improvement Plan success measures and People Plan"),
)
#: What each section's lines compare unless a line says otherwise (the one-page dashboard).
SECTION_NOTES = {"wres": "BME v White staff unless stated",
                 "wdes": "disabled v non-disabled staff unless stated",
                 "pay": "the gap as % of the second group's pay; positive: the first is paid less",
                 "plan": ""}

_I = Indicator
INDICATORS: tuple[Indicator, ...] = (
    # WRES
    _I("wres.1", "wres", "WRES 1", "wres.1.share", "share", "hia2",
       label="BME share of the workforce", short="BME share of the workforce",
       headline="hl-wres1", group="BME", also="plan 2c"),
    _I("wres.2", "wres", "WRES 2", "wres.2.relative_likelihood", "ratio", "hia2",
       label="Appointment from shortlisting: White v BME",
       short="Appointed from shortlisting, White v BME", headline="hl-wres2", also="plan 2a"),
    _I("wres.3", "wres", "WRES 3", "wres.3.relative_likelihood", "ratio", "hia6",
       label="Formal disciplinary process: BME v White", short="Formal disciplinary process",
       headline="hl-wres3"),
    _I("wres.4", "wres", "WRES 4", "wres.4.relative_likelihood", "ratio", "hia2",
       label="Non-mandatory training: White v BME", short="Non-mandatory training, White v BME",
       headline="hl-wres4"),
    _I("wres.5", "wres", "WRES 5", "wres.5", "rates", "hia6",
       label="Harassment from the public: BME v White", short="Harassment from the public",
       headline="hl-harassment", group="BME", reference="White"),
    _I("wres.6", "wres", "WRES 6", "wres.6", "rates", "hia6",
       label="Harassment from staff: BME v White", short="Harassment from staff",
       headline="hl-harassment", group="BME", reference="White"),
    _I("wres.7", "wres", "WRES 7", "wres.7", "rates", "hia2",
       label="Equal opportunities for progression: BME v White",
       short="Equal opportunities to progress", headline="hl-career", group="BME",
       reference="White", also="plan 2b"),
    _I("wres.8", "wres", "WRES 8", "wres.8", "rates", "hia6",
       label="Discrimination from colleagues: BME v White",
       short="Discrimination from colleagues", headline="hl-discrimination", group="BME",
       reference="White", also="plan 6b"),
    _I("wres.9", "wres", "WRES 9", "wres.9.board_gap", "board", "hia1",
       label="BME voting board members v workforce", short="BME voting board members",
       headline="hl-wres9", group="BME", breakdown="board=voting"),
    # WDES
    _I("wdes.1", "wdes", "WDES 1", "wdes.1.share", "share", "hia2",
       label="Disabled share of the workforce", short="Disabled share of the workforce",
       headline="hl-wdes1", group="Disabled", also="plan 2c"),
    _I("wdes.2", "wdes", "WDES 2", "wdes.2.relative_likelihood", "ratio", "hia2",
       label="Appointment from shortlisting: non-disabled v disabled",
       short="Appointed, non-disabled v disabled", headline="hl-wdes2", also="plan 2a"),
    _I("wdes.3", "wdes", "WDES 3", "wdes.3.relative_likelihood", "ratio", "hia6",
       label="Formal capability process: disabled v non-disabled",
       short="Formal capability process", headline="hl-wdes3"),
    _I("wdes.4a.public", "wdes", "WDES 4a", "wdes.4a.public", "rates", "hia6",
       label="Harassment from the public: disabled v non-disabled",
       short="Harassment from the public", headline="hl-harassment", group="Disabled",
       reference="Non-disabled"),
    _I("wdes.4a.manager", "wdes", "WDES 4a", "wdes.4a.manager", "rates", "hia6",
       label="Harassment from managers: disabled v non-disabled",
       short="Harassment from managers", headline="hl-harassment", group="Disabled",
       reference="Non-disabled"),
    _I("wdes.4a.colleague", "wdes", "WDES 4a", "wdes.4a.colleague", "rates", "hia6",
       label="Harassment from colleagues: disabled v non-disabled",
       short="Harassment from colleagues", headline="hl-harassment", group="Disabled",
       reference="Non-disabled"),
    _I("wdes.4b", "wdes", "WDES 4b", "wdes.4b", "rates", "hia6",
       label="Reported harassment: disabled v non-disabled",
       short="Reported their last harassment", headline="hl-harassment", group="Disabled",
       reference="Non-disabled"),
    _I("wdes.5", "wdes", "WDES 5", "wdes.5", "rates", "hia2",
       label="Equal opportunities for progression: disabled v non-disabled",
       short="Equal opportunities to progress", headline="hl-career", group="Disabled",
       reference="Non-disabled", also="plan 2b"),
    _I("wdes.6", "wdes", "WDES 6", "wdes.6", "rates", "hia4",
       label="Pressure to work when unwell: disabled v non-disabled",
       short="Pressure to work when unwell", headline="hl-presenteeism", group="Disabled",
       reference="Non-disabled"),
    _I("wdes.7", "wdes", "WDES 7", "wdes.7", "rates", "people_plan",
       label="Feel their work is valued: disabled v non-disabled",
       short="Feel their work is valued", headline="hl-valued", group="Disabled",
       reference="Non-disabled"),
    _I("wdes.8", "wdes", "WDES 8", "wdes.8", "value", "hia4",
       label="Adequate reasonable adjustments (disabled staff)",
       short="Adjustments made (disabled staff)", headline="hl-adjustments", group="Disabled"),
    _I("wdes.9a", "wdes", "WDES 9a", "wdes.9a", "score", "people_plan",
       label="Engagement score (0–10): disabled v non-disabled",
       short="Engagement score (0 to 10)", headline="hl-engagement", group="Disabled",
       reference="Non-disabled"),
    _I("wdes.10", "wdes", "WDES 10", "wdes.10.board_gap", "board", "hia1",
       label="Disabled voting board members v workforce", short="Disabled voting board members",
       headline="hl-wdes10", group="Disabled", breakdown="board=voting"),
    # pay gaps
    _I("pay.gender.mean", "pay", "Gender pay", "pay.gender.mean_gap", "pay_gap", "hia3",
       label="Mean hourly pay gap: women v men", short="Mean hourly pay, women v men",
       headline="hl-pay-gender", also="plan 3a"),
    _I("pay.gender.median", "pay", "Gender pay", "pay.gender.median_gap", "pay_gap", "hia3",
       label="Median hourly pay gap: women v men", short="Median hourly pay, women v men",
       headline="hl-pay-gender", also="plan 3a"),
    _I("pay.ethnicity.mean", "pay", "Ethnicity pay", "pay.ethnicity.mean_gap", "pay_gap", "hia3",
       label="Mean hourly pay gap: BME v White", short="Mean hourly pay, BME v White",
       headline="hl-pay-ethnicity", group="BME", also="plan 3a"),
    _I("pay.ethnicity.median", "pay", "Ethnicity pay", "pay.ethnicity.median_gap",
       "pay_gap", "hia3",
       label="Median hourly pay gap: BME v White", short="Median hourly pay, BME v White",
       headline="hl-pay-ethnicity", group="BME", also="plan 3a"),
    _I("pay.disability.mean", "pay", "Disability pay", "pay.disability.mean_gap", "pay_gap", "hia3",
       label="Mean hourly pay gap: disabled v non-disabled",
       short="Mean hourly pay, disabled v not", headline="hl-pay-disability", also="plan 3a"),
    _I("pay.disability.median", "pay", "Disability pay", "pay.disability.median_gap",
       "pay_gap", "hia3",
       label="Median hourly pay gap: disabled v non-disabled",
       short="Median hourly pay, disabled v not", headline="hl-pay-disability", also="plan 3a"),
    _I("pay.medical.mean", "pay", "Mend the Gap", "pay.medical.gender_mean_gap", "pay_gap", "hia3",
       label="Doctors' mean basic pay gap: women v men",
       short="Doctors' mean basic pay, women v men", headline="hl-mend-the-gap"),
    # EDI Improvement Plan success measures not above, and the People Plan
    _I("hia1.smart", "plan", "Plan 1", "hia1.smart_objectives_share", "census_share", "hia1",
       label="Board members with SMART EDI objectives", short="Board: SMART EDI objectives",
       headline="hl-hia1-objectives", action="edi.hia1.smart_objectives"),
    _I("hia1.appraised", "plan", "Plan 1a", "hia1.appraised_share", "census_share", "hia1",
       label="Board members appraised on EDI objectives",
       short="Board: appraised on EDI objectives", headline="hl-hia1-objectives",
       action="edi.hia1.smart_objectives"),
    _I("hia2.senior", "plan", "Plan 2d", "hia2.representation_ratio", "ratio", "hia2",
       label="BME share of Bands 8c to VSM v whole workforce",
       short="BME in Bands 8c to VSM v all staff", headline="hl-model-employer",
       breakdown="pay_cluster=4"),
    _I("hia2.shortlisted", "plan", "Plan 2e", "hia2.shortlisted_share", "share", "hia2",
       label="BME share of shortlisted candidates", short="BME share of the shortlist",
       headline="hl-shortlisting", group="BME", breakdown="characteristic=ethnicity"),
    _I("hia2.shortlisting", "plan", "HIA 2", "hia2.shortlisting_rate", "rates", "hia2",
       label="Shortlisting: disabled v non-disabled applicants",
       short="Shortlisting, disabled v not", headline="hl-shortlisting", group="Disabled",
       reference="Non-disabled", breakdown="characteristic=disability"),
    _I("hia4.sickness", "plan", "HIA 4", "hia4.sickness_absence_rate", "rates", "hia4",
       label="Sickness absence: disabled v non-disabled",
       short="Sickness absence, disabled v not", headline="hl-sickness", group="Disabled",
       reference="Non-disabled", breakdown="characteristic=disability"),
    _I("hia4.hwb", "plan", "Plan 4a", "hia4.org_action_hwb", "rates", "hia4",
       label="Positive action on health and wellbeing: BME v White",
       short="Action on wellbeing, BME v White", headline="hl-hwb-action", group="BME",
       reference="White"),
    _I("hia5.training", "plan", "HIA 5", "hia5.training_relative_likelihood", "ratio", "hia5",
       label="Training: domestic v international recruits",
       short="Training, domestic v international", headline="hl-hia5-training"),
    _I("hia5.belonging", "plan", "Plan 5a", "hia5.belonging", "rates", "hia5",
       label="Belonging: international v domestic recruits",
       short="Belonging, international v domestic", headline="hl-hia5-belonging",
       group="International", reference="Domestic"),
    _I("hia5.harassment", "plan", "Plan 5b", "hia5.harassment_manager_team", "rates",
       "hia5", label="Harassment from managers or the team: international v domestic",
       short="Manager or team harassment, international v domestic", headline="hl-hia5-harassment",
       group="International", reference="Domestic"),
    _I("hia6.manager", "plan", "Plan 6a", "hia6.harassment_manager_team", "rates", "hia6",
       label="Harassment from managers or the team: BME v White",
       short="Manager or team harassment, BME v White",
       headline="hl-harassment", group="BME", reference="White"),
    _I("hia6.adjusted", "plan", "HIA 6", "hia6.adjusted_rate_ratio", "ratio", "hia6",
       label="Disciplinary after adjusting for staff group and band: BME v White",
       short="Disciplinary, adjusted, BME v White", headline="hl-hia6-model"),
    _I("pp.leavers", "plan", "People Plan", "pp.leaver_rate", "rates", "people_plan",
       label="Leavers: BME v White", short="Leavers, BME v White", headline="hl-leavers",
       group="BME", reference="White", breakdown="characteristic=ethnicity"),
)

#: External figures shown when the trust's ``external_indicators`` supplies them (not rated).
EXTERNAL = (
    _I("nets", "plan", "Plan 2f", "nets.combined_indicator_score", "external", "hia2",
       label="NETS combined indicator score (training quality)",
       short="NETS training quality score"),
)

BY_KEY = {i.key: i for i in INDICATORS}


def indicator_metrics() -> list[str]:
    """Every metric id the dashboard reads, in dashboard order."""
    return list(dict.fromkeys(i.metric for i in INDICATORS))


def headline_breakdowns() -> set[tuple[str, str]]:
    """(metric id, breakdown) pairs beyond the plain headline (breakdown "") that dashboard
    figures are defined on; the runner's peers file keeps these rows too."""
    return {(i.metric, i.breakdown) for i in INDICATORS if i.breakdown}


# --- the figure of an indicator --------------------------------------------------------------

def mover_ratio(v1, l1, u1, v2, l2, u2) -> tuple[float, float, float]:
    """The ratio v1 ÷ v2 of two independent estimates, with a 95% interval from their 95%
    intervals by the MOVER method (Donner and Zou, 2012; Newcombe, 2016):

        L = (v1·v2 − √((v1·v2)² − l1·u2·(2·v1 − l1)·(2·v2 − u2))) ÷ (u2·(2·v2 − u2))
        U = (v1·v2 + √((v1·v2)² − u1·l2·(2·v1 − u1)·(2·v2 − l2))) ÷ (l2·(2·v2 − l2))

    NaN where a figure is not positive or an interval is missing; an upper bound is
    infinite (NaN) when the reference's lower bound is 0.
    """
    nan = float("nan")
    vals = [v1, l1, u1, v2, l2, u2]
    if any(N.is_blank(x) for x in vals):
        if not any(N.is_blank(x) for x in (v1, v2)) and float(v2) > 0:
            return float(v1) / float(v2), nan, nan
        return nan, nan, nan
    v1, l1, u1, v2, l2, u2 = (float(x) for x in vals)
    if v2 <= 0 or v1 < 0:
        return nan, nan, nan
    r = v1 / v2
    prod = v1 * v2
    lo = hi = nan
    disc_lo = prod ** 2 - l1 * u2 * (2 * v1 - l1) * (2 * v2 - u2)
    den_lo = u2 * (2 * v2 - u2)
    if disc_lo >= 0 and den_lo > 0:
        lo = max(0.0, (prod - math.sqrt(disc_lo)) / den_lo)
    disc_hi = prod ** 2 - u1 * l2 * (2 * v1 - u1) * (2 * v2 - l2)
    den_hi = l2 * (2 * v2 - l2)
    if disc_hi >= 0 and den_hi > 0:
        hi = (prod + math.sqrt(disc_hi)) / den_hi
    return r, lo, hi


@dataclass(frozen=True)
class Figure:
    """The rated figure of an indicator for one trust and period (display strings included)."""

    value: float | None = None
    lower: float | None = None
    upper: float | None = None
    text: str = ""  # the figure as shown, e.g. "1.72", "20.4%", "0 of 9 v 21.8%"
    interval: str = ""  # e.g. "1.25 to 2.36"
    groups: str = ""  # the two groups' figures, e.g. "35.3% v 29.4%"
    sentence: str = ""
    suppressed: bool = False
    missing: str = ""  # why there is no figure
    members_short: float | None = None  # board: members the board would need to reach parity
    count: int | None = None  # census: members counted


def _rows_of(rows: pd.DataFrame, metric: str, breakdown: str = "") -> pd.DataFrame:
    if rows is None or rows.empty:
        return rows.iloc[0:0] if rows is not None else pd.DataFrame()
    return rows[(rows["metric_id"] == metric) & (rows["breakdown"].fillna("") == breakdown)]


def _one(sel: pd.DataFrame, group: str = "") -> Mapping | None:
    if sel is None or sel.empty:
        return None
    if group:
        sel = sel[sel["group"] == group]
    elif len(sel) > 1:
        sel = sel[sel["group"] != "Unknown"]
    if sel.empty:
        return None
    return sel.iloc[0].to_dict()


def _suppressed(row: Mapping) -> bool:
    v = row.get("suppressed", False)
    return v is True or str(v).lower() == "true"


def _num(row: Mapping, key: str) -> float | None:
    v = row.get(key)
    return None if N.is_blank(v) else float(v)


def _label(metric: str) -> str:
    try:
        from edi_analysis.metrics import REGISTRY
        return REGISTRY[metric].label
    except (ImportError, KeyError):
        return metric


def _is_survey(metric: str) -> bool:
    try:
        from edi_analysis.metrics import FAMILIES, REGISTRY
        fam = FAMILIES.get(REGISTRY[metric].family)
        return fam is not None and "staff_survey" in fam.tables
    except (ImportError, KeyError):
        return False


def _unavailable(row: Mapping | None, metric: str, *, min_count: int, min_survey: int) -> Figure:
    if row is None:
        return Figure(missing="no figure in this period's data")
    if _suppressed(row):
        return Figure(suppressed=True, text="suppressed", missing="suppressed (small numbers)",
                      sentence=N.sentence(row, label=_label(metric), survey=_is_survey(metric),
                                          min_count=min_count, min_survey_responses=min_survey))
    note = row.get("note") or ""
    return Figure(missing=str(note) or "no figure can be given",
                  sentence=N.sentence(row, label=_label(metric), survey=_is_survey(metric)))


def figure(ind: Indicator, rows: pd.DataFrame, *, min_count: int = 8,
           min_survey_responses: int = 11, sentences: bool = True) -> Figure:
    """The indicator's figure from one trust's rows for one period."""
    unav = dict(min_count=min_count, min_survey=min_survey_responses)
    sel = _rows_of(rows, ind.metric, ind.breakdown)
    if ind.kind == "rates" or ind.kind == "score":
        a, b = _one(sel, ind.group), _one(sel, ind.reference)
        for r in (a, b):
            if r is None or _suppressed(r) or N.is_blank(r.get("value")):
                return _unavailable(r, ind.metric, **unav)
        unit = str(a.get("unit"))
        groups_text = f"{N.fmt_value(a['value'], unit)} v {N.fmt_value(b['value'], unit)}"
        if ind.kind == "score":
            return Figure(value=None, text=groups_text,
                          sentence=N.comparison_sentence(a, b, None) if sentences else "")
        r, lo, hi = mover_ratio(a["value"], a.get("ci_lower"), a.get("ci_upper"),
                                b["value"], b.get("ci_lower"), b.get("ci_upper"))
        if math.isnan(r):
            return Figure(groups=groups_text, missing="no comparison: the reference figure is 0")
        interval = "" if math.isnan(lo) or math.isnan(hi) else \
            f"{N.fmt_number(lo, 'ratio')} to {N.fmt_number(hi, 'ratio')}"
        return Figure(value=r, lower=None if math.isnan(lo) else lo,
                      upper=None if math.isnan(hi) else hi, text=N.fmt_number(r, "ratio"),
                      interval=interval, groups=groups_text,
                      sentence=N.comparison_sentence(a, b, (r, lo, hi)) if sentences else "")
    row = _one(sel, ind.group)
    if ind.kind == "external":
        if row is None or N.is_blank(row.get("value")):
            return Figure(missing="not supplied")
        v = float(row["value"])
        return Figure(value=v, text=N.fmt_number(v, "score"))
    if row is None or _suppressed(row) or N.is_blank(row.get("value")):
        return _unavailable(row, ind.metric, **unav)
    unit = str(row.get("unit"))
    text = N.sentence(row, label=_label(ind.metric), survey=_is_survey(ind.metric)) \
        if sentences else ""
    v, lo, hi = _num(row, "value"), _num(row, "ci_lower"), _num(row, "ci_upper")
    interval = "" if lo is None or hi is None else \
        f"{N.fmt_value(lo, unit)} to {N.fmt_value(hi, unit)}"
    if ind.kind == "board":
        k, n = _num(row, "numerator"), _num(row, "denominator")
        short = count = None
        shown = N.fmt_value(v, "pp")
        if k is not None and n is not None and n > 0:
            workforce = 100 * k / n - v
            short = workforce / 100 * n - k
            count = int(n)
            shown = f"{int(k)} of {int(n)} v {N.fmt_value(workforce, 'percent')}"
        return Figure(value=v, text=shown, sentence=text, members_short=short, count=count)
    if ind.kind == "census_share":
        k, n = _num(row, "numerator"), _num(row, "denominator")
        shown = N.fmt_value(v, unit) if k is None or n is None else f"{int(k)} of {int(n)}"
        return Figure(value=v, text=shown, sentence=text, count=None if n is None else int(n))
    if ind.kind == "pay_gap":
        return Figure(value=v, lower=lo, upper=hi, text=N.fmt_value(v, unit),
                      interval="" if lo is None or hi is None else
                      f"{N.fmt_number(lo, unit)}% to {N.fmt_number(hi, unit)}%", sentence=text)
    return Figure(value=v, lower=lo, upper=hi, text=N.fmt_value(v, unit), interval=interval,
                  sentence=text)


# --- the rating rule -----------------------------------------------------------------------

@dataclass(frozen=True)
class Rating:
    key: str
    reason: str

    @property
    def label(self) -> str:
        return RATING_LABELS[self.key]

    @property
    def shape(self) -> str:
        return RATING_SHAPES[self.key]


def _shown(x, unit: str) -> Decimal:
    return N.rounded(x, unit)


def rate_interval(value, lower, upper, *, band: tuple[Decimal, Decimal], parity: Decimal,
                  unit: str) -> Rating:
    """The rule for a figure with a 95% interval and a tolerance band around parity.

    Red: outside the band and the interval excludes parity. Green: the whole interval
    inside the band. Amber: otherwise (including a figure with no interval).
    """
    lo_b, hi_b = band
    v = _shown(value, unit)
    band_text = f"{N.fmt_value(float(lo_b), unit)} to {N.fmt_value(float(hi_b), unit)}"
    outside = not (lo_b <= v <= hi_b)
    side = "outside" if outside else "inside"
    if N.is_blank(lower) or N.is_blank(upper):
        return Rating(AMBER, f"{side} {band_text}; no 95% CI to judge it by")
    lo, hi = _shown(lower, unit), _shown(upper, unit)
    excludes = not (lo <= parity <= hi)
    ci = f"95% CI {N.fmt_value(float(lo), unit)} to {N.fmt_value(float(hi), unit)}"
    par = N.fmt_value(float(parity), unit)
    if outside and excludes:
        return Rating(RED, f"outside {band_text}; {ci} excludes {par}")
    if lo_b <= lo and hi <= hi_b:
        return Rating(GREEN, f"{ci} is inside {band_text}")
    if outside:
        return Rating(AMBER, f"outside {band_text}, but {ci} includes {par}")
    return Rating(AMBER, f"inside {band_text}, but {ci} reaches beyond it")


def rate(ind: Indicator, fig: Figure, *, period: str, due: _dt.date | None = None) -> Rating:
    """The rating of one indicator's figure (the rule in the module docstring)."""
    if fig.suppressed:
        return Rating(NONE, "suppressed: too few people to show the figure")
    if not ind.rated:
        why = {"share": "a description of the workforce", "value": "no comparison group",
               "score": "no published threshold for a difference in the score",
               "external": "a published figure shown for context"}.get(ind.kind, "not rated")
        return Rating(NONE, why)
    if fig.value is None:
        return Rating(NONE, fig.missing or "no figure")
    if ind.kind in ("ratio", "rates"):
        return rate_interval(fig.value, fig.lower, fig.upper, band=RATIO_BAND,
                             parity=Decimal("1.00"), unit="ratio")
    if ind.kind == "pay_gap":
        return rate_interval(fig.value, fig.lower, fig.upper, band=PAY_GAP_BAND,
                             parity=Decimal("0.0"), unit="percent")
    if ind.kind == "board":
        if fig.members_short is None:
            return Rating(AMBER, "the board's member counts are not in the data")
        if fig.members_short >= 1 - 1e-9:
            n = math.floor(fig.members_short + 1e-9)
            return Rating(RED, f"the voting board would need at least {n} more member"
                               f"{'s' * (n != 1)} of the group to match the workforce")
        return Rating(GREEN, "the voting board is within one member of the workforce's share")
    if ind.kind == "census_share":
        if _shown(fig.value, "percent") >= 100:
            return Rating(GREEN, "every board member")
        when = "" if due is None else f" (due {N_date(due)})"
        if due is not None and _dt.date.fromisoformat(period[:10]) <= due:
            return Rating(AMBER, f"below 100%, and the plan's date has not passed{when}")
        return Rating(RED, f"below 100% after the plan's due date{when}")
    return Rating(NONE, "not rated")


def N_date(d: _dt.date | str) -> str:
    """``2024-03-31`` → ``31 March 2024``."""
    d = _dt.date.fromisoformat(str(d)[:10])
    return f"{d.day} {d:%B %Y}"


# --- direction of travel, peers, England -------------------------------------------------------

def distance(ind: Indicator, fig: Figure) -> Decimal | None:
    """How far a shown figure is from parity, for ranking and direction of travel."""
    if fig.value is None:
        return None
    if ind.kind in ("ratio", "rates"):
        v = _shown(fig.value, "ratio")
        if v <= 0:
            return None
        return Decimal(str(abs(math.log(float(v)))))
    if ind.kind == "pay_gap":
        return abs(_shown(fig.value, "percent"))
    if ind.kind == "board":
        return max(Decimal(0), -_shown(fig.value, "pp"))
    if ind.kind == "census_share":
        return Decimal(100) - _shown(fig.value, "percent")
    return None


@dataclass(frozen=True)
class Travel:
    key: str  # closer | further | same | not_comparable | none
    label: str
    note: str = ""

    @property
    def shape(self) -> str:
        return {"closer": "↓", "further": "↑", "same": "→"}.get(self.key, "")


def travel(ind: Indicator, now: Figure, before: Figure | None, *, basis_now: str = "",
           basis_before: str = "") -> Travel:
    """Direction of travel since the previous period, on the figures as shown."""
    if before is None or (before.value is None and not before.suppressed and not before.text):
        return Travel("none", "No earlier figure")
    if now.value is None or before.value is None:
        return Travel("none", "—")  # suppressed, or a figure (a score) that is only described
    if basis_now != basis_before:
        return Travel("not_comparable", "Not comparable",
                      f"counting basis changed from {basis_before} to {basis_now}")
    d_now, d_before = distance(ind, now), distance(ind, before)
    if d_now is None or d_before is None:
        unit = "score" if ind.kind in ("score", "external") else "percent"
        a, b = _shown(now.value, unit), _shown(before.value, unit)
        if a == b:
            return Travel("same", "No change")
        return Travel("higher" if a > b else "lower", "Higher" if a > b else "Lower")
    target = "the target" if ind.kind == "census_share" else "parity"
    if d_now == d_before:
        return Travel("same", "No change")
    return Travel("closer", f"Closer to {target}") if d_now < d_before else \
        Travel("further", f"Further from {target}")


def rank(ind: Indicator, trust: str, peers: pd.DataFrame) -> tuple[int, int] | None:
    """(rank, trusts with a figure) of this trust among the trusts in ``peers``, 1 = closest
    to parity; None when fewer than two trusts have a figure or the indicator is not rated."""
    if not ind.rated or peers is None or peers.empty:
        return None
    scored = []
    for code, part in peers.groupby("trust_code", sort=True):
        d = distance(ind, figure(ind, part, sentences=False))
        if d is not None:
            scored.append((d, code))
    if len(scored) < 2 or trust not in {c for _, c in scored}:
        return None
    scored.sort()
    return [c for _, c in scored].index(trust) + 1, len(scored)


def national(ind: Indicator, external: pd.DataFrame | None, period: str) -> str:
    """The England figure of the indicator's statistic, as shown, from ``external_indicators``
    rows ``england.<metric id>`` for the period; "" when none is supplied."""
    if external is None or external.empty:
        return ""
    ext = external.copy()
    ext["period"] = pd.to_datetime(ext["period"]).dt.strftime("%Y-%m-%d")
    sel = ext[(ext["indicator_id"] == NATIONAL_PREFIX + ind.metric) & (ext["period"] == period)]
    if ind.kind == "external":
        sel = ext[(ext["indicator_id"] == NATIONAL_PREFIX + ind.metric)
                  & (ext["period"] == period)]
    if sel.empty:
        return ""
    by_group = {str(g): v for g, v in zip(sel["group"], sel["value"]) if not N.is_blank(v)}
    if ind.kind == "rates":
        a, b = by_group.get(ind.group), by_group.get(ind.reference)
        if a is None or b is None or float(b) <= 0:
            return ""
        return N.fmt_number(float(a) / float(b), "ratio")
    value = by_group.get(ind.group) if ind.group in by_group else \
        next(iter(by_group.values()), None)
    if value is None:
        return ""
    from edi_analysis.metrics import REGISTRY

    unit = REGISTRY[ind.metric].unit if ind.metric in REGISTRY else ""
    return N.fmt_value(float(value), unit) if unit else N.fmt_number(float(value), "score")


# --- the dashboard -----------------------------------------------------------------------------

@dataclass(frozen=True)
class DashboardRow:
    key: str
    section: str
    code: str
    label: str
    area: str
    headline: str
    metric: str
    figure: str
    interval: str
    groups: str
    previous: str
    travel: str
    travel_label: str
    travel_note: str
    peers: str
    england: str
    rating: str
    rating_label: str
    rating_shape: str
    reason: str
    sentence: str
    also: str = ""
    short: str = ""


def _previous_period(trend: pd.DataFrame | None, period: str) -> str | None:
    if trend is None or trend.empty:
        return None
    earlier = sorted(p for p in trend["period"].astype(str).unique() if p < period)
    return earlier[-1] if earlier else None


def _external_rows(ind: Indicator, external: pd.DataFrame | None, trust: str,
                   period: str) -> pd.DataFrame:
    """The trust's own external figure as a metric row (for ``external`` indicators)."""
    if external is None or external.empty:
        return pd.DataFrame()
    ext = external.copy()
    ext["period"] = pd.to_datetime(ext["period"]).dt.strftime("%Y-%m-%d")
    sel = ext[(ext["indicator_id"] == ind.metric) & (ext["period"] == period)
              & (ext["trust_code"] == trust)]
    if sel.empty:
        return pd.DataFrame()
    return pd.DataFrame({"metric_id": ind.metric, "breakdown": "", "group": "All",
                         "value": sel["value"].to_numpy(), "unit": "score",
                         "suppressed": False, "note": ""})


def dashboard(rows: pd.DataFrame, *, trust: str, period: str,
              previous_rows: pd.DataFrame | None = None, peers: pd.DataFrame | None = None,
              external: pd.DataFrame | None = None, snapshots: Sequence[str] = (),
              due: Mapping[str, _dt.date | None] | None = None, min_count: int = 8,
              min_survey_responses: int = 11) -> list[DashboardRow]:
    """Every dashboard line for one trust and period.

    ``rows``: the trust's published rows for the period; ``previous_rows``: its
    rows for earlier periods (the latest earlier period is compared);
    ``peers``: the headline rows of every trust in the run for the period;
    ``external``: its ``external_indicators`` rows; ``snapshots``: its
    workforce snapshot dates (for the counting basis); ``due``: catalogue
    action id → due date.
    """
    from edi_analysis.metrics.disciplinary import counting_basis

    due = due or {}
    prev_period = _previous_period(previous_rows, period)
    prev = previous_rows[previous_rows["period"].astype(str) == prev_period] \
        if prev_period else None
    out = []
    indicators = list(INDICATORS)
    for ext in EXTERNAL:
        if not _external_rows(ext, external, trust, period).empty:
            indicators.append(ext)
    for ind in indicators:
        if ind.kind == "external":
            now_rows = _external_rows(ind, external, trust, period)
            before_rows = _external_rows(ind, external, trust, prev_period) if prev_period \
                else None
        else:
            now_rows, before_rows = rows, prev
        fig = figure(ind, now_rows, min_count=min_count,
                     min_survey_responses=min_survey_responses)
        if ind.kind == "external" and fig.value is not None:
            fig = Figure(value=fig.value, text=fig.text,
                         sentence=f"The trust's {ind.label} was {fig.text}.")
        before = figure(ind, before_rows, sentences=False) if before_rows is not None \
            and not before_rows.empty else None
        b_now = counting_basis(ind.metric, period, snapshots)
        b_before = counting_basis(ind.metric, prev_period, snapshots) if prev_period else ""
        tr = travel(ind, fig, before, basis_now=b_now, basis_before=b_before)
        rating = rate(ind, fig, period=period, due=due.get(ind.action))
        rk = rank(ind, trust, peers) if ind.kind != "external" else None
        out.append(DashboardRow(
            key=ind.key, section=ind.section, code=ind.code, label=ind.label, area=ind.area,
            headline=ind.headline, metric=ind.metric,
            figure=fig.text or ("suppressed" if fig.suppressed else "—"),
            interval=fig.interval, groups=fig.groups,
            previous=(before.text or "—") if before is not None else "—",
            travel=tr.key, travel_label=tr.label, travel_note=tr.note,
            peers=f"{rk[0]} of {rk[1]}" if rk else "—",
            england=national(ind, external, period) or "—",
            rating=rating.key, rating_label=rating.label, rating_shape=rating.shape,
            reason=rating.reason, sentence=fig.sentence, also=ind.also,
            short=ind.short or ind.label,
        ))
    return out


def rating_counts(rows: Iterable[DashboardRow]) -> dict[str, int]:
    rows = list(rows)
    return {k: sum(r.rating == k for r in rows) for k in RATING_ORDER}


def area_summary(rows: Sequence[DashboardRow]) -> dict[str, DashboardRow]:
    """For each action area, the dashboard line that speaks for it: its worst rating, first
    in dashboard order (a rated line before an unrated one)."""
    out: dict[str, DashboardRow] = {}
    order = {k: i for i, k in enumerate(RATING_ORDER)}
    for r in rows:
        if not r.sentence or r.rating == NONE and r.area in out:
            continue
        cur = out.get(r.area)
        if cur is None or order[r.rating] < order[cur.rating]:
            out[r.area] = r
    return out


# --- the action plan -------------------------------------------------------------------------

STATUS_WORDS = {"not_started": "Not started", "in_progress": "In progress",
                "complete": "Complete", "not_applicable": "Not applicable"}
EDI_PLAN, PEOPLE_PLAN = "EDI Improvement Plan", "NHS People Plan"


@dataclass(frozen=True)
class Contradiction:
    """An action whose recorded status its own evidence contradicts."""

    kind: str  # complete_but_red | not_started_but_done
    indicator: str  # the dashboard line (or model flag) that contradicts it
    code: str
    text: str  # what the figures say, one clause

    @property
    def flag(self) -> str:
        if self.kind == "complete_but_red":
            return f"Check: recorded complete, but {self.code} is rated red ({self.text})"
        return f"Check: recorded not started, but the figures show progress: {self.text}"


@dataclass(frozen=True)
class PlanRow:
    action_id: str  # kept for links between data; never shown on a board page
    area: str
    plan: str  # EDI_PLAN | PEOPLE_PLAN
    title: str
    text: str
    owner: str
    due: str
    status: str
    evidence: str
    rag: str
    overdue: bool
    flags: tuple[str, ...] = ()
    due_iso: str = ""
    updated: str = ""
    recorded: bool = False
    contradictions: tuple[Contradiction, ...] = ()

    @property
    def rag_label(self) -> str:
        return {"red": "Red", "amber": "Amber", "green": "Green", "grey": "Grey"}.get(self.rag,
                                                                                     self.rag)

    @property
    def rag_shape(self) -> str:
        return {"red": "▲", "amber": "◆", "green": "●", "grey": "○"}.get(self.rag, "")


def _latest(actions: pd.DataFrame | None, trust: str) -> dict[str, Mapping]:
    if actions is None or actions.empty:
        return {}
    t = actions[actions["trust_code"] == trust].copy()
    t = t.sort_values("updated_on", kind="stable", na_position="first")
    return {r["action_id"]: r for r in t.drop_duplicates("action_id", keep="last")
            .to_dict(orient="records")}


def metric_ratings(rows: pd.DataFrame, *, period: str,
                   due: Mapping[str, _dt.date | None] | None = None) -> dict[str, list]:
    """metric id → [(indicator, figure, rating)] for every dashboard line of the metric, and a
    line for the disciplinary model's inconsistency flags (adverse = red)."""
    due = due or {}
    out: dict[str, list] = {}
    for ind in INDICATORS:
        fig = figure(ind, rows)
        out.setdefault(ind.metric, []).append(
            (ind, fig, rate(ind, fig, period=period, due=due.get(ind.action))))
    for mid, code, label in (
            ("hia6.disparity", "HIA 6 model", "adjusted disciplinary finding: BME v White"),
            ("hia6.disability.disparity", "HIA 6 model",
             "adjusted capability finding: disabled v non-disabled")):
        row = _one(_rows_of(rows, mid))
        if row is None or _suppressed(row) or N.is_blank(row.get("value")):
            continue
        key = {"adverse": RED, "within_range": GREEN}.get(str(row["value"]), AMBER)
        ind = Indicator(mid, "plan", code, mid, "flag", "hia6", label=label)
        fig = Figure(text=str(row["value"]).replace("_", " "),
                     sentence=N.sentence(row, label=_label(mid)))
        out.setdefault(mid, []).append((ind, fig, Rating(key, f"its finding is {fig.text}")))
    return out


def _shows_done(ind: Indicator, fig: Figure, rating: Rating) -> bool:
    if rating.key == GREEN:
        return True
    return ind.kind == "census_share" and fig.value is not None and fig.value > 0


def phrase(label: str) -> str:
    """A dashboard label in running text: "Harassment from managers: BME v White" →
    "harassment from managers, BME v White"."""
    return _lower_first(label.replace(": ", ", "))


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:] if text[:2] not in ("BM", "WR", "WD") else text


def action_plan(status_rows: pd.DataFrame, *, trust: str, period: str,
                actions: pd.DataFrame | None = None, rows: pd.DataFrame | None = None,
                catalogue=None, as_of: str | None = None) -> list[PlanRow]:
    """The trust's action plan: every catalogue action a trust owns (owner level board or
    employer/system), with its owner, due date, status, evidence and RAG label
    (``actions.status``), flagged when overdue or contradicted by its own evidence.

    Overdue: the reference date (``as_of``, else the period) is after the due date and
    the action is not complete (or not applicable); its RAG label is red. Past due with no
    record is flagged too (its label stays grey: nothing is known). Contradictions:
    recorded complete while a metric that evidences it is rated red; recorded not
    started while a metric that evidences it already shows it done (rated green, or a
    board share above 0).
    """
    from edi_analysis.catalogue import load_actions

    catalogue = catalogue if catalogue is not None else load_actions()
    records = _latest(actions, trust)
    ref = _dt.date.fromisoformat((as_of or period)[:10])
    due_by_id = {a.id: a.due for a in catalogue}
    ratings = metric_ratings(rows, period=period, due=due_by_id) if rows is not None else {}
    rag_by_id = {}
    if status_rows is not None and not status_rows.empty:
        st = status_rows[status_rows["metric_id"] == "actions.status"]
        rag_by_id = {b.partition("=")[2]: str(v).lower()
                     for b, v in zip(st["breakdown"], st["value"])}
    out = []
    for a in catalogue:
        if a.owner_level == "national":
            continue
        rec = records.get(a.id)
        status = str(rec["status"]) if rec is not None else ""
        past_due = a.due is not None and ref > a.due and status not in ("complete",
                                                                        "not_applicable")
        flags = []
        if past_due:
            flags.append(f"Overdue: due {N_date(a.due)}, "
                         + ("no progress recorded" if rec is None else
                            STATUS_WORDS.get(status, status).lower()))
        found: list[Contradiction] = []
        for mid in a.metrics:
            for ind, fig, rating in ratings.get(mid, []):
                if status == "complete" and rating.key == RED:
                    what = f"{fig.text}" + (f", 95% CI {fig.interval}" if fig.interval else "")
                    found.append(Contradiction("complete_but_red", ind.key,
                                               f"{ind.code} ({phrase(ind.label)})", what))
                elif status == "not_started" and _shows_done(ind, fig, rating):
                    what = fig.sentence.rstrip(".") if fig.sentence else ind.label
                    found.append(Contradiction("not_started_but_done", ind.key, ind.code,
                                               _lower_first(what)))
        found = list({(c.kind, c.text): c for c in found}.values())
        flags += [c.flag for c in found]
        rag = rag_by_id.get(a.id) or ("red" if (past_due and rec is not None)
                                      or status == "not_started" else
                                      "green" if status == "complete" else
                                      "amber" if status == "in_progress" else "grey")
        owner = "" if rec is None or N.is_blank(rec.get("owner")) else str(rec["owner"])
        evidence = "" if rec is None or N.is_blank(rec.get("evidence")) else str(rec["evidence"])
        updated = "" if rec is None or N.is_blank(rec.get("updated_on")) else \
            N_date(pd.Timestamp(rec["updated_on"]).date())
        out.append(PlanRow(
            action_id=a.id, area=a.area,
            plan=PEOPLE_PLAN if a.area == "people_plan" else EDI_PLAN,
            # an action without a short title is shown by its own (short) text, once
            title=getattr(a, "title", "") or a.text, text=a.text if getattr(a, "title", "")
            else "",
            owner=owner or "Not assigned", due=N_date(a.due) if a.due else "No date set",
            status=STATUS_WORDS.get(status, "No record"),
            evidence=evidence or "None recorded", rag=rag, overdue=past_due,
            flags=tuple(flags), due_iso=a.due.isoformat() if a.due else "", updated=updated,
            recorded=rec is not None, contradictions=tuple(found)))
    return out


def _short(text: str, limit: int = 80) -> str:
    first = text.split(". ")[0].rstrip(".")
    if len(first) <= limit:
        return first
    cut = first[:limit].rsplit(" ", 1)[0]
    return cut + "…"


# --- the asks --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Ask:
    text: str
    due: str
    because: str
    kind: str  # contradiction | overdue | red | not_started | record
    action: str = ""  # the catalogue action it is about (for links; never shown)


def _owner(p: PlanRow) -> str:
    return f"the owner ({p.owner})" if p.owner != "Not assigned" else "the executive lead"


def _items(rows: Sequence[DashboardRow]) -> str:
    items = [f"{r.code} ({phrase(r.label)})" for r in rows]
    return items[0] if len(items) == 1 else "; ".join(items[:-1]) + " and " + items[-1]


def asks(dash: Sequence[DashboardRow], plan: Sequence[PlanRow], *, period: str,
         limit: int = 5) -> list[Ask]:
    """Up to five things the board is asked to do, each tied to a red rating or an overdue
    action, with its due date. In order, EDI Improvement Plan actions before People Plan
    ones: actions recorded complete while their evidence is rated red; overdue actions that
    have a record; the red indicators no ask covers yet, grouped under the plan action they
    evidence; actions not started; overdue actions with no record.
    """
    metrics_of = _action_metrics()
    red = [r for r in dash if r.rating == RED]
    covered: set[str] = set()  # dashboard keys an ask already speaks for
    out: list[Ask] = []
    used: set[str] = set()
    edi = sorted((p for p in plan if p.plan == EDI_PLAN), key=lambda p: (p.due_iso or "9999",
                                                                       p.title))
    people = sorted((p for p in plan if p.plan != EDI_PLAN),
                    key=lambda p: (p.due_iso or "9999", p.title))

    def add(ask: Ask, keys: Iterable[str] = ()) -> None:
        if ask.action and ask.action in used:
            return
        out.append(ask)
        used.add(ask.action)
        covered.update(keys)

    def contradicted(actions: Sequence[PlanRow]) -> None:
        for p in actions:
            bad = [c for c in p.contradictions if c.kind == "complete_but_red"]
            if bad and not {c.indicator for c in bad} <= covered:
                what = "; ".join(f"{c.code} is rated red ({c.text})" for c in bad)
                add(Ask(f"Challenge the ‘complete’ status of ‘{p.title}’ (owner: {p.owner}): "
                        f"{what}.", p.due, "recorded complete while its evidence is red",
                        "contradiction", p.action_id), [c.indicator for c in bad])

    def overdue(actions: Sequence[PlanRow], recorded: bool) -> None:
        for p in actions:
            if not p.overdue or p.recorded != recorded:
                continue
            if recorded:
                add(Ask(f"Agree a recovery date for ‘{p.title}’ with {_owner(p)}: it was due "
                        f"{p.due} and is {p.status.lower()}.", p.due, "overdue", "overdue",
                        p.action_id))
            else:
                add(Ask(f"Ask for an owner and a progress record for ‘{p.title}’: it was due "
                        f"{p.due} and no progress is recorded.", p.due, "overdue, no record",
                        "overdue", p.action_id))

    contradicted(edi)
    overdue(edi, recorded=True)
    # red indicators not yet covered, one ask per plan action they evidence
    groups: dict[str, list[DashboardRow]] = {}
    orphans: list[DashboardRow] = []
    for r in red:
        if r.key in covered:
            continue
        linked = [p for p in edi + people if r.metric in metrics_of.get(p.action_id, ())
                  and p.status != "Not applicable"]
        if linked:
            groups.setdefault(linked[0].action_id, []).append(r)
        else:
            orphans.append(r)
    by_id = {p.action_id: p for p in plan}
    for aid, rs in sorted(groups.items(), key=lambda kv: (by_id[kv[0]].plan != EDI_PLAN,
                                                         -len(kv[1]))):
        p = by_id[aid]
        state = "no progress recorded" if not p.recorded else p.status.lower()
        add(Ask(f"Ask {_owner(p)} for a plan, under ‘{p.title}’ ({state}), to close "
                f"the gaps rated red in {_items(rs)}.", p.due, "rated red", "red", aid),
            [r.key for r in rs])
    if orphans:
        add(Ask(f"Ask the executive lead to set an action, an owner and a date for the gaps "
                f"rated red in {_items(orphans)}, which no plan action covers.",
                "No date in the plan: the Board is asked to set one", "rated red", "red"),
            [r.key for r in orphans])
    for p in edi:  # not started (red), with a contradiction noted when there is one
        if p.status == "Not started":
            done = [c for c in p.contradictions if c.kind == "not_started_but_done"]
            extra = f" The record may be out of date: {done[0].text}." if done else ""
            add(Ask(f"Ask {_owner(p)} to start ‘{p.title}’, recorded as not started "
                    f"(due {p.due}).{extra}", p.due, "not started", "not_started", p.action_id))
    overdue(edi, recorded=False)
    contradicted(people)
    overdue(people, recorded=True)
    return out[:limit]


def _action_metrics() -> dict[str, tuple[str, ...]]:
    from edi_analysis.catalogue import load_actions

    return {a.id: a.metrics for a in load_actions()}


# --- everything a board paper needs, as data -----------------------------------------------------

@dataclass(frozen=True)
class BoardSummary:
    trust: str
    period: str
    previous_period: str
    rows: tuple[DashboardRow, ...]
    plan: tuple[PlanRow, ...]
    asks: tuple[Ask, ...]
    counts: dict = field(default_factory=dict)
    rule: tuple[str, ...] = RULE

    def as_json(self) -> dict:
        """Plain data for the publisher (the overview notebook emits it)."""
        return {
            "version": 1, "trust": self.trust, "period": self.period,
            "previous_period": self.previous_period,
            "sections": [{"key": k, "title": t, "note": SECTION_NOTES.get(k, "")}
                         for k, t in SECTIONS],
            "rows": [asdict(r) for r in self.rows],
            "plan": [{**asdict(p), "rag_label": p.rag_label, "rag_shape": p.rag_shape}
                     for p in self.plan],
            "plan_counts": {k: sum(p.rag == k for p in self.plan) for k in
                            ("red", "amber", "green", "grey")},
            "asks": [asdict(a) for a in self.asks],
            "counts": dict(self.counts),
            "summary": {a: asdict(r) for a, r in area_summary(self.rows).items()},
            "rule": list(self.rule),
        }


def summarise(rows: pd.DataFrame, *, trust: str, period: str,
              previous_rows: pd.DataFrame | None = None, peers: pd.DataFrame | None = None,
              external: pd.DataFrame | None = None, actions: pd.DataFrame | None = None,
              snapshots: Sequence[str] = (), min_count: int = 8,
              min_survey_responses: int = 11, as_of: str | None = None) -> BoardSummary:
    """The dashboard, the action plan and the asks for one trust and period."""
    from edi_analysis.catalogue import load_actions

    catalogue = load_actions()
    due = {a.id: a.due for a in catalogue}
    dash = dashboard(rows, trust=trust, period=period, previous_rows=previous_rows, peers=peers,
                     external=external, snapshots=snapshots, due=due, min_count=min_count,
                     min_survey_responses=min_survey_responses)
    plan = action_plan(rows, trust=trust, period=period, actions=actions, rows=rows,
                       catalogue=catalogue, as_of=as_of)
    return BoardSummary(trust=trust, period=period,
                        previous_period=_previous_period(previous_rows, period) or "",
                        rows=tuple(dash), plan=tuple(plan),
                        asks=tuple(asks(dash, plan, period=period)),
                        counts=rating_counts(dash))
