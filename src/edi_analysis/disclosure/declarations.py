"""The cells every count-bearing metric publishes or is built from, keyed by metric id.

A *cell* is a population (``populations.py``) and a conjunction of
conditions on its records' columns (``column ∈ {values}``). A metric row's
cells are found from its declaration and the row's own keys:

- ``where``: the fixed conditions, with the period as a template: ``P`` the
  period's snapshot, ``P1`` the snapshot a year earlier, ``RY`` the
  period's reporting year, ``W`` its rolling window (24 months where the trust
  has the earlier snapshot, else 12: CONTRACT.md §4.3), ``SY`` the survey year;
- the row's ``group`` selects a column (``group``; under a breakdown
  ``characteristic=<name>``, the column of that characteristic); ``All``
  selects nothing;
- each ``key=value`` of the row's ``breakdown`` selects a column
  (``breakdown``; a key mapped to None, such as ``board``, restricts no record).

Roles: ``numerator`` and ``denominator`` are the counts the row's columns of
those names hold (where ``publishes`` says the row shows them);
``inputs`` are further counts the figure is computed from (a ratio's other
group, a board gap's workforce shares). With ``compare`` the numerator and
denominator are declared for ``group`` and for ``reference_group`` (relative
likelihoods depend on four counts). ``stated`` are counts a row's note gives
(exactly from the threshold up, else as "fewer than N"): known to a reader of
the published row, protected only where another role protects the same records.
A row is suppressed when any of its cells is hidden (CONTRACT.md §4.8); the
cells of a published row count as published (a ratio beside its published
inputs gives them back), except with ``shown=False`` (sickness absence: a rate
of days, protected on its headcount, which it does not show).

Metrics whose rows carry no count (pay gaps in £, medians of days, board
figures, action labels) are listed in :data:`NO_CELLS` with the reason.
``tests/test_disclosure.py`` checks that every registered metric is in
exactly one of the two, and that every declared numerator and denominator,
counted on the records, is the row's published figure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from edi_analysis import groups


@dataclass(frozen=True)
class Template:
    """A condition value worked out per row: the period, its reporting year, window or survey year."""

    name: str

    def __repr__(self) -> str:
        return self.name


P, P1, RY, W, SY = (Template(n) for n in ("P", "P1", "RY", "W", "SY"))
#: Column name template: the cases' outcome as recorded by the period's snapshot.
OUTCOME_AT_P = "outcome@{P}"
#: Column name template: whether the period's disparity model of a characteristic counts
#: a record of staff entering (``populations.model_factor``).
MODEL_AT_P = "model.{characteristic}@{P}"


@dataclass(frozen=True)
class Count:
    """One cell of a row: a population, fixed conditions, and whether the row's group and
    breakdown restrict it too."""

    population: str
    where: Mapping[str, object]
    group: bool = True
    breakdown: bool = True


@dataclass(frozen=True)
class Decl:
    """How a metric's rows map to cells (see the module docstring)."""

    numerator: Count | None = None
    denominator: Count | None = None
    inputs: tuple[Count, ...] = ()
    #: counts the row's note states: known where the row is published, not protected by it
    stated: tuple[Count, ...] = ()
    #: records column the row's group selects (headline and non-characteristic breakdowns)
    group: str | None = None
    #: ``characteristic=<name>`` breakdown → records column of the group
    characteristic: Mapping[str, str] = field(default_factory=dict)
    #: breakdown key → records column (None: the key restricts no record)
    breakdown: Mapping[str, str | None] = field(default_factory=dict)
    compare: bool = False
    publishes: tuple[str, ...] = ("numerator", "denominator")
    shown: bool = True
    #: False for survey results: NHS Staff Survey practice publishes a % of 11+ answers
    #: whatever the count of positive answers, so those counts are not protected
    protect_numerator: bool = True


WF, APPS, CASES, RESP, QUARTILES = "workforce", "applications", "cases", "respondents", "pay_quartiles"
#: CONTRACT.md §4.3: WRES 3 / WDES 3 count staff entering (in scope, once per reporting year).
ENTRANTS = "entrants"
#: CONTRACT.md §3: WRES/WDES population, in-scope staff at the period's snapshot.
AT_P = {"snapshot": P, "in_scope": "Y"}
AT_P1 = {"snapshot": P1, "in_scope": "Y"}
#: CONTRACT.md §4.3: person-years, in-scope headcount at the snapshot and a year earlier.
EXPOSURE = {"snapshot": (P, P1), "in_scope": "Y"}
CHARACTERISTIC = {"ethnicity": "ethnicity", "disability": "disability", "sex": "sex",
                  "international_recruit": "recruit_type"}
SHORTLISTED = ("shortlisted", "appointed")
YES_NO = ("Y", "N")


def _share(population, where, group, **kw) -> Decl:
    """k of n where the group is part of the breakdown's total: n does not depend on the group."""
    return Decl(numerator=Count(population, where),
                denominator=Count(population, where, group=False), group=group, **kw)


def _rate(num_population, num_where, den_population, den_where, group, **kw) -> Decl:
    """k of n within the group."""
    return Decl(numerator=Count(num_population, num_where),
                denominator=Count(den_population, den_where), group=group, **kw)


def _compare(rate: Decl, publishes=()) -> Decl:
    """A relative likelihood built from the group's and the reference group's rates."""
    return Decl(numerator=rate.numerator, denominator=rate.denominator, group=rate.group,
                compare=True, publishes=publishes)


_CLUSTERS = {"pay_cluster": "pay_cluster", "clinical": "clinical"}

DECLARATIONS: dict[str, Decl] = {
    # --- representation (CONTRACT.md §4.1)
    "wres.1.share": _share(WF, AT_P, "ethnicity", breakdown=_CLUSTERS),
    "wdes.1.share": _share(WF, AT_P, "disability", breakdown=_CLUSTERS),
    # Senior leadership (Band 8c and above, VSM) is pay cluster 4 (CONTRACT.md §3), so these
    # are WRES 1 / WDES 1 cluster 4 counts: written as such, they are the same cells.
    "hia2.senior_share": _share(WF, {**AT_P, "pay_cluster": "4"}, None,
                                characteristic=CHARACTERISTIC),
    "hia2.shortlisted_share": _share(APPS, {"year": RY, "stage": SHORTLISTED}, None,
                                     characteristic=CHARACTERISTIC),
    "hia2.representation_ratio": Decl(
        inputs=(Count(WF, {**AT_P, "ethnicity": groups.BME}, group=False),
                Count(WF, {**AT_P, "ethnicity": groups.WHITE}, group=False),
                Count(WF, {**AT_P, "ethnicity": groups.BME}, group=False, breakdown=False),
                Count(WF, {**AT_P, "ethnicity": groups.WHITE}, group=False, breakdown=False)),
        breakdown={"pay_cluster": "pay_cluster"}, publishes=()),
    # Board make-up is public, so a board gap gives back the workforce share it subtracts:
    # the compared group's in-scope headcount over all in-scope staff (Unknown included).
    "wres.9.board_gap": Decl(
        inputs=(Count(WF, {**AT_P, "ethnicity": groups.BME}, group=False, breakdown=False),
                Count(WF, AT_P, group=False, breakdown=False)),
        breakdown={"board": None}, publishes=()),
    "wdes.10.board_gap": Decl(
        inputs=(Count(WF, {**AT_P, "disability": groups.DISABLED}, group=False, breakdown=False),
                Count(WF, AT_P, group=False, breakdown=False)),
        breakdown={"board": None}, publishes=()),
    # --- recruitment and progression (§4.2)
    **{f"{prefix}.appointment_rate": _rate(APPS, {"year": RY, "stage": "appointed"},
                                           APPS, {"year": RY, "stage": SHORTLISTED}, col)
       for prefix, col in (("wres.2", "ethnicity"), ("wdes.2", "disability"), ("sex.2", "sex"))},
    "hia2.shortlisting_rate": _rate(APPS, {"year": RY, "stage": SHORTLISTED}, APPS, {"year": RY},
                                    None, characteristic=CHARACTERISTIC),
    "wres.4.access_rate": _rate(WF, {**AT_P, "training": "Y"}, WF, AT_P, "ethnicity"),
    # --- disciplinary and capability (§4.3): staff entering ÷ person-years
    **{f"{prefix}.rate": _rate(ENTRANTS, {"year": W, "case_type": case_type}, WF, EXPOSURE, col)
       for prefix, case_type, col in (("wres.3", "disciplinary", "ethnicity"),
                                      ("wdes.3", "capability_performance", "disability"),
                                      ("sex.3", "disciplinary", "sex"))},
    "er.outcome_share": Decl(
        numerator=Count(CASES, {"year": RY, "case_type": "disciplinary"}),
        denominator=Count(CASES, {"year": RY, "case_type": "disciplinary",
                                  OUTCOME_AT_P: groups.OUTCOMES}, breakdown=False),
        group="ethnicity", breakdown={"outcome": OUTCOME_AT_P}),
    # --- pay (§4.5)
    "pay.gender.bonus_share": _rate(WF, {"snapshot": P, "bonus": "paid"},
                                    WF, {"snapshot": P, "bonus": ("paid", "unpaid")}, "sex"),
    "pay.gender.quartile_share": _share(QUARTILES, {"snapshot": P}, "sex",
                                        breakdown={"quartile": "quartile"}),
    "hia3.flexible_working_share": _rate(WF, {**AT_P, "flexible": "Y"},
                                         WF, {**AT_P, "flexible": YES_NO}, None,
                                         characteristic=CHARACTERISTIC),
    "pay.medical.adjusted_gender_gap": Decl(
        denominator=Count(WF, {"snapshot": P, "medical_model": "Y"}, group=False),
        publishes=("denominator",)),
    # --- health and wellbeing, retention, international recruits (§4.6)
    "hia4.sickness_absence_rate": Decl(inputs=(Count(WF, {**AT_P, "sickness": "Y"}),),
                                       characteristic=CHARACTERISTIC, publishes=(), shown=False),
    "pp.leaver_rate": _rate(WF, {**AT_P1, "stayed": "N"}, WF, AT_P1, None,
                            characteristic=CHARACTERISTIC, breakdown={"age_band": "age_band"}),
    "hia5.training_relative_likelihood": _compare(
        _rate(WF, {**AT_P, "training": "Y"}, WF, AT_P, "recruit_type")),
    "hia5.retention_12m": _rate(WF, {**AT_P1, "new_starter": "Y", "stayed": "Y"},
                                WF, {**AT_P1, "new_starter": "Y"}, "recruit_type"),
}
for _prefix in ("wres.2", "wdes.2", "sex.2", "wres.4"):
    _of = "access_rate" if _prefix == "wres.4" else "appointment_rate"
    DECLARATIONS[f"{_prefix}.relative_likelihood"] = _compare(DECLARATIONS[f"{_prefix}.{_of}"])
for _prefix in ("wres.3", "wdes.3", "sex.3"):
    DECLARATIONS[f"{_prefix}.relative_likelihood"] = _compare(
        DECLARATIONS[f"{_prefix}.rate"], publishes=("numerator", "denominator"))
for _col in ("risk_assessment_completed", "flu_vaccinated", "wellbeing_conversation"):
    DECLARATIONS[f"pp.hwb.{_col}_rate"] = _rate(WF, {**AT_P, _col: "Y"}, WF, AT_P, "ethnicity")


def _model_declarations() -> dict[str, Decl]:
    """HIA6 disparity model rows (CONTRACT.md §4.4, §4.8): one rule for every row of a fit.

    Every row of one characteristic's model for a trust and period — the three rate ratios
    (crude, staff group, staff group and pay band), the ``disparity`` label and the
    ``staff_group_difference`` test — has the same cells: the observed staff entering of the
    compared and of the reference group that the model counts (``model.<c>@P`` = Y), and
    both groups' person-years. A ratio publishes its group's observed count, and with the
    published person-years the crude ratio gives back the reference group's; the profile-
    likelihood intervals of the others narrow both. So the label and the test are never
    published without their ratios. The ratios' note states the staff entering the model
    leaves out (``stated``). A staff group's ratio also depends on both groups' observed
    staff entering in that staff group.
    """
    from edi_analysis.metrics.disciplinary_model import ADJUSTMENT_METRIC, CHARACTERISTICS

    out = {}
    col = {"ethnicity": "ethnicity", "disability_group": "disability", "sex_group": "sex"}
    for char in CHARACTERISTICS.values():
        g = col[char.column]
        entering = {"year": W, "case_type": char.case_type}
        counted = {**entering, MODEL_AT_P.format(characteristic=char.name, P="{P}"): "Y"}
        left_out = {**entering, g: (char.compared, char.reference),
                    MODEL_AT_P.format(characteristic=char.name, P="{P}"): "N"}
        fit = tuple(Count(pop, {**where, g: grp}, group=False, breakdown=False)
                    for pop, where in ((ENTRANTS, counted), (WF, EXPOSURE))
                    for grp in (char.compared, char.reference))
        stated = (Count(ENTRANTS, left_out, group=False, breakdown=False),)
        observed = fit[0]
        for suffix in ADJUSTMENT_METRIC.values():
            out[char.metric(suffix)] = Decl(numerator=observed, inputs=fit[1:], stated=stated,
                                            group=g, publishes=("numerator",))
        for label in ("disparity", "staff_group_difference"):
            out[char.metric(label)] = Decl(inputs=fit, stated=stated, group=g, publishes=())
        out[char.metric("staff_group_rate_ratio")] = Decl(
            numerator=Count(ENTRANTS, counted),
            inputs=(Count(ENTRANTS, {**counted, g: char.reference}, group=False), *fit),
            stated=stated, group=g, breakdown={"staff_group": "staff_group"},
            publishes=("numerator",))
    return out


def _survey_declarations() -> dict[str, Decl]:
    """Survey results: Y answers of those answering, per group (CONTRACT.md §4.6)."""
    from edi_analysis.metrics.survey import ENGAGEMENT, ITEMS, WRES6

    out = {}
    for item in ITEMS:
        answer = "harassment_from_staff" if item.answer == WRES6 else item.answer
        base = {"survey_year": SY}
        if item.population is not None:
            base["disability"] = item.population
        out[item.id] = _rate(RESP, {**base, answer: "Y"}, RESP, {**base, answer: YES_NO},
                             CHARACTERISTIC[item.headline], characteristic=CHARACTERISTIC,
                             protect_numerator=False)
    out[ENGAGEMENT.id] = Decl(denominator=Count(RESP, {"survey_year": SY, "scored": "Y"}),
                              group="disability", characteristic=CHARACTERISTIC,
                              publishes=("denominator",))
    return out


DECLARATIONS.update(_model_declarations())
DECLARATIONS.update(_survey_declarations())

#: Registered metrics whose rows carry no count, and why (they keep their own row rules).
NO_CELLS: dict[str, str] = {
    **{m: "£ means and medians: protected by the number of values behind them (CONTRACT.md §4.8)"
       for m in ("pay.gender.mean_gap", "pay.gender.median_gap", "pay.gender.bonus_mean_gap",
                 "pay.gender.bonus_median_gap", "pay.ethnicity.mean_gap",
                 "pay.ethnicity.median_gap", "pay.disability.mean_gap",
                 "pay.disability.median_gap", "pay.medical.gender_mean_gap",
                 "pay.medical.gender_median_gap", "pay.medical.gender_mean_gap_total",
                 "pay.medical.gender_median_gap_total")},
    "er.days_to_close_median": "a median of days: protected by the number of closed cases",
    "hia1.smart_objectives_share": "board membership is public (CONTRACT.md §4.8)",
    "hia1.appraised_share": "board membership is public (CONTRACT.md §4.8)",
    "actions.status": "a RAG label of the trust's own action records",
}


def declaration(metric_id: str) -> Decl | None:
    """The metric's declaration; None for a metric in :data:`NO_CELLS`."""
    if metric_id in DECLARATIONS:
        return DECLARATIONS[metric_id]
    if metric_id in NO_CELLS:
        return None
    raise KeyError(f"metric {metric_id!r} declares no cells (edi_analysis/disclosure/declarations.py)")
