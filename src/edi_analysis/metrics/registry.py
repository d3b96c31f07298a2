"""The metric registry: every metric id once, with its area, label, unit and source.

A *family* is one pure function that computes several related metrics in a
single vectorised pass (e.g. WRES 2 appointment rates and relative
likelihoods share their counts). The registry drives ``edi-analysis
metrics``, ``docs/metrics.md``, the notebooks and the tests.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd

AREAS = ("hia1", "hia2", "hia3", "hia4", "hia5", "hia6", "people_plan")
UNITS = ("percent", "ratio", "pp", "gbp", "score", "days", "flag")
COUNT_COLUMNS = ("numerator", "denominator")
COUNT_RULES = ("min_count", "min_survey_responses")


@dataclass(frozen=True)
class MetricSpec:
    """One published metric: what it is, where it comes from."""

    id: str
    area: str
    label: str
    unit: str
    source: str
    definition: str
    family: str = ""
    breakdowns: tuple[str, ...] = ()
    #: Published columns holding counts of people or cases, subject to CONTRACT.md §4.8:
    #: an unsuppressed row may not show one below the threshold named by ``count_rule``.
    #: ``()`` where numerator/denominator hold £, days, expected values or public board counts.
    counts: tuple[str, ...] = ("numerator", "denominator")
    #: Which threshold protects those counts: ``min_count`` or ``min_survey_responses``.
    count_rule: str = "min_count"

    def __post_init__(self) -> None:
        if self.area not in AREAS:
            raise ValueError(f"{self.id}: area {self.area!r} not in {AREAS}")
        if self.unit not in UNITS:
            raise ValueError(f"{self.id}: unit {self.unit!r} not in {UNITS}")
        bad = set(self.counts) - set(COUNT_COLUMNS)
        if bad:
            raise ValueError(f"{self.id}: counts {sorted(bad)} not in {COUNT_COLUMNS}")
        if self.count_rule not in COUNT_RULES:
            raise ValueError(f"{self.id}: count_rule {self.count_rule!r} not in {COUNT_RULES}")


@dataclass(frozen=True)
class Family:
    name: str
    func: Callable[..., pd.DataFrame]
    metric_ids: tuple[str, ...]
    tables: tuple[str, ...] = field(default=())


REGISTRY: dict[str, MetricSpec] = {}
FAMILIES: dict[str, Family] = {}


def family(name: str, specs: list[MetricSpec], tables: tuple[str, ...] = ()):
    """Register ``func`` as the family computing ``specs``; returns func unchanged.

    ``tables`` names the input tables the family reads (for docs and slicing).
    """

    def deco(func: Callable[..., pd.DataFrame]) -> Callable[..., pd.DataFrame]:
        if name in FAMILIES:
            raise ValueError(f"metric family {name!r} registered twice")
        ids = []
        for spec in specs:
            if spec.id in REGISTRY:
                raise ValueError(f"metric {spec.id!r} registered twice")
            REGISTRY[spec.id] = MetricSpec(**{**spec.__dict__, "family": name})
            ids.append(spec.id)
        FAMILIES[name] = Family(name, func, tuple(ids), tuple(tables))
        return func

    return deco


def spec(metric_id: str) -> MetricSpec:
    try:
        return REGISTRY[metric_id]
    except KeyError:
        raise KeyError(f"unknown metric id {metric_id!r}") from None
