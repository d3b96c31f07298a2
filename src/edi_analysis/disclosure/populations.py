"""The populations whose counts are published, and which of their columns classify people.

A *population* is a set of records of one trust (CONTRACT.md §4.8): workforce
rows at every snapshot, applications, employee-relations cases (the outcome
measures count cases), staff entering a formal process (WRES 3 / WDES 3 count
each in-scope person once per reporting year), survey respondents, and the
full-pay relevant staff split into quartile pay bands.
Its columns are of two kinds:

- **classification columns** (reporting groups, scope, snapshot or year):
  any count of records defined by these is a count of people the published
  figures must not give away, whether or not a table shows it;
- **outcome columns**, grouped into *factors* (training, flexible working,
  survey answers …): a factor's columns are used together by some cell, and
  different factors are never combined in one cell. Counts defined by an
  outcome are protected where a row publishes them (the cells it is built
  from), not their complements (``n − k`` of a k-of-n rate).

Pure data; no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: Which threshold protects a population's counts (CONTRACT.md §4.8).
MIN_COUNT, MIN_SURVEY = "min_count", "min_survey_responses"


@dataclass(frozen=True)
class Population:
    """A kind of record set: its classification columns, its factors and its threshold."""

    name: str
    classes: tuple[str, ...]
    #: factor name → its outcome columns (a factor's columns vary together in one cell)
    factors: dict[str, tuple[str, ...]] = field(default_factory=dict)
    threshold: str = MIN_COUNT
    #: records carry a ``weight`` column (fractional people) instead of counting 1 each
    weighted: bool = False
    #: the column holding the snapshot or year, which every cell constrains
    period_column: str = "snapshot"

    def factor_of(self, column: str) -> str | None:
        """The factor a column belongs to (None for a classification column)."""
        for name, cols in self.factors.items():
            if column in cols:
                return name
        if column in self.classes:
            return None
        raise KeyError(f"{self.name}: no column {column!r}")


#: Optional workforce columns (CONTRACT.md §2.1) with a People Plan rate each.
HWB_COLUMNS = ("risk_assessment_completed", "flu_vaccinated", "wellbeing_conversation")

WORKFORCE = Population(
    "workforce",
    # (senior leadership is pay cluster 4, CONTRACT.md §3: a condition on pay_cluster)
    classes=("snapshot", "in_scope", "ethnicity", "disability", "sex", "pay_cluster", "clinical",
             "age_band", "recruit_type"),
    factors={
        "training": ("training",),
        "flexible": ("flexible",),
        "sickness": ("sickness",),
        "bonus": ("bonus",),
        "medical_model": ("medical_model",),
        # a leaver is an earlier snapshot's person not in the later one; retention counts
        # the new starters among them who stayed: one factor
        "retention": ("new_starter", "stayed"),
        **{f"hwb.{c}": (c,) for c in HWB_COLUMNS},
    },
)

APPLICATIONS = Population(
    "applications",
    classes=("year", "ethnicity", "disability", "sex"),
    factors={"stage": ("stage",)},
    period_column="year",
)

#: ``outcome@<period>`` factors are added per period (a case's outcome as known at that snapshot).
CASES = Population(
    "cases",
    classes=("year", "case_type", "ethnicity", "disability", "sex"),
    period_column="year",
)

#: One record per in-scope person entering a formal process in a reporting year (its
#: ``year`` is the year's closing snapshot, CONTRACT.md §4.3), grouped as on their first
#: case of the year. ``model.<characteristic>@<period>`` factors are added per period:
#: whether the disparity model of that period counts the record (its staff group and
#: pay band hold in-scope staff of its group, CONTRACT.md §4.4).
ENTRANTS = Population(
    "entrants",
    classes=("year", "case_type", "ethnicity", "disability", "sex", "staff_group", "pay_cluster"),
    period_column="year",
)

#: Survey answers: every item its own factor, except the three harassment-from-staff
#: columns, which are one (WRES 6 is Y when either of the other two is).
SURVEY_ANSWERS = ("harassment_public", "equal_opportunities", "discrimination_colleague",
                  "reported_harassment", "pressure_unwell", "valued_by_org", "adjustments_made",
                  "org_action_health_wellbeing", "belonging")
HARASSMENT_FROM_STAFF = ("harassment_manager", "harassment_colleague", "harassment_from_staff")

RESPONDENTS = Population(
    "respondents",
    classes=("survey_year", "ethnicity", "disability", "recruit_type"),
    factors={**{a: (a,) for a in SURVEY_ANSWERS},
             "harassment_from_staff": HARASSMENT_FROM_STAFF,
             "engagement": ("scored",)},
    threshold=MIN_SURVEY,
    period_column="survey_year",
)

PAY_QUARTILES = Population(
    "pay_quartiles",
    classes=("snapshot", "quartile", "sex"),
    weighted=True,
)

POPULATIONS: dict[str, Population] = {
    p.name: p for p in (WORKFORCE, APPLICATIONS, CASES, ENTRANTS, RESPONDENTS, PAY_QUARTILES)
}
#: The characteristics the disparity model compares (``metrics.disciplinary_model``).
MODEL_CHARACTERISTICS = ("ethnicity", "disability", "sex")


def outcome_factor(period: str) -> str:
    """The cases factor holding each case's outcome as recorded by ``period``'s snapshot."""
    return f"outcome@{period}"


def model_factor(characteristic: str, period: str) -> str:
    """The entrants factor saying whether ``period``'s disparity model of ``characteristic``
    counts each record."""
    return f"model.{characteristic}@{period}"


def population(name: str, periods=()) -> Population:
    """A population by name; for ``cases`` with one outcome factor per period, for
    ``entrants`` one model factor per characteristic and period."""
    pop = POPULATIONS[name]
    if name == "cases" and periods:
        pop = Population(pop.name, pop.classes,
                         {outcome_factor(p): (outcome_factor(p),) for p in periods},
                         pop.threshold, pop.weighted, pop.period_column)
    if name == "entrants" and periods:
        pop = Population(pop.name, pop.classes,
                         {model_factor(c, p): (model_factor(c, p),)
                          for c in MODEL_CHARACTERISTICS for p in periods},
                         pop.threshold, pop.weighted, pop.period_column)
    return pop
