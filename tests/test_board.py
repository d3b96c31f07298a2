"""The board paper's judgements: the rating rule, direction of travel, peers, England, the
action plan's overdue and contradiction rules, and the asks (edi_analysis.board).

Every expected value is worked by hand in the comment beside it.
"""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd
import pytest
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint

from edi_analysis import board as B
from edi_analysis.catalogue import Action

NAN = float("nan")
PERIOD = "2024-03-31"


def row(metric, value, lo=NAN, hi=NAN, *, group="All", ref="", breakdown="", unit=None, k=NAN,
        n=NAN, suppressed=False, note="", trust="T1", period=PERIOD):
    from edi_analysis.metrics import REGISTRY

    return dict(trust_code=trust, period=period, metric_id=metric, breakdown=breakdown,
                group=group, reference_group=ref, numerator=k, denominator=n, value=value,
                ci_lower=lo, ci_upper=hi, unit=unit or REGISTRY[metric].unit,
                suppressed=suppressed, note=note)


def frame(*rows):
    return pd.DataFrame(list(rows))


def rating_of(key, *rows, period=PERIOD, due=None):
    ind = B.BY_KEY[key]
    fig = B.figure(ind, frame(*rows))
    return B.rate(ind, fig, period=period, due=due)


# --- the rating rule: relative likelihoods --------------------------------------------------

@pytest.mark.parametrize("value, lo, hi, expected", [
    (1.72, 1.25, 2.36, "red"),     # outside 0.80–1.25 and the CI excludes 1.00
    (0.70, 0.60, 0.79, "red"),     # below the band counts too: a disparity either way
    (1.30, 0.90, 1.80, "amber"),   # outside, but the CI includes 1.00: may be chance
    (1.10, 1.02, 1.20, "green"),   # the CI excludes 1.00 but lies inside the band
    (1.10, 0.75, 1.40, "amber"),   # inside, but the CI reaches beyond the band
    (1.00, 0.80, 1.25, "green"),   # a CI exactly on the band's ends is inside it
    (1.25, 1.10, 1.40, "amber"),   # 1.25 is inside the band
    (1.2549, 1.10, 1.40, "amber"),  # shown as 1.25: judged as shown
    (1.255, 1.005, 1.40, "red"),   # shown 1.26 (outside) and the CI shown from 1.01
    (1.255, 1.004, 1.40, "amber"),  # the CI's lower end shows as 1.00: includes parity
    (1.40, NAN, NAN, "amber"),     # no interval: not shown either way
])
def test_relative_likelihood_rule(value, lo, hi, expected):
    r = rating_of("wres.3", row("wres.3.relative_likelihood", value, lo, hi, group="BME",
                                ref="White"))
    assert r.key == expected, r.reason


def test_red_reason_names_band_interval_and_parity():
    r = rating_of("wres.3", row("wres.3.relative_likelihood", 1.72, 1.25, 2.36, group="BME",
                                ref="White"))
    assert r.reason == "outside 0.80 to 1.25; 95% CI 1.25 to 2.36 excludes 1.00"
    assert (r.label, r.shape) == ("Red", "▲")


# --- pay gaps -------------------------------------------------------------------------------

@pytest.mark.parametrize("value, lo, hi, expected", [
    (20.4, 17.1, 23.3, "red"),     # outside −5%…5%, CI excludes 0
    (-6.3, -9.9, -2.7, "red"),     # the compared group paid 6.3% more: a gap either way
    (3.9, -2.1, 9.2, "amber"),     # inside, CI beyond the band
    (2.0, 0.5, 4.9, "green"),      # the whole CI inside −5%…5%
    (5.0, 4.0, 6.0, "amber"),      # 5.0% is on the band
    (5.05, 4.0, 6.0, "red"),       # shown 5.1%: outside; CI 4.0% to 6.0% excludes 0
    (-7.0, -15.0, 1.0, "amber"),   # outside, CI includes no gap
])
def test_pay_gap_rule(value, lo, hi, expected):
    r = rating_of("pay.gender.mean", row("pay.gender.mean_gap", value, lo, hi, group="Female",
                                         ref="Male"))
    assert r.key == expected, r.reason


# --- two groups' percentages ----------------------------------------------------------------

def test_mover_ratio_hand_worked():
    # v1 = 0.5 (0.4, 0.6), v2 = 0.25 (0.2, 0.3): v1·v2 = 0.125.
    # L: 0.4·0.3·(1 − 0.4)·(0.5 − 0.3) = 0.0144; √(0.015625 − 0.0144) = 0.035;
    #    (0.125 − 0.035) ÷ (0.3·0.2) = 1.5.
    # U: 0.6·0.2·(1 − 0.6)·(0.5 − 0.2) = 0.0144; (0.125 + 0.035) ÷ (0.2·0.3) = 2.6667.
    r, lo, hi = B.mover_ratio(0.5, 0.4, 0.6, 0.25, 0.2, 0.3)
    assert r == pytest.approx(2.0)
    assert lo == pytest.approx(1.5)
    assert hi == pytest.approx(0.16 / 0.06)
    # percentages give the same ratio and interval (the formula is scale-free)
    assert B.mover_ratio(50, 40, 60, 25, 20, 30) == pytest.approx((r, lo, hi))


@pytest.mark.parametrize("k1, n1, k2, n2", [(300, 1000, 200, 1000), (147, 416, 434, 1474),
                                            (94, 412, 150, 1478)])
def test_mover_ratio_from_wilson_intervals_agrees_with_the_log_method(k1, n1, k2, n2):
    """With Wilson intervals for each percentage the MOVER ratio interval is close to the
    Katz log interval of the same counts (statsmodels as the reference)."""
    l1, u1 = proportion_confint(k1, n1, method="wilson")
    l2, u2 = proportion_confint(k2, n2, method="wilson")
    r, lo, hi = B.mover_ratio(k1 / n1, l1, u1, k2 / n2, l2, u2)
    klo, khi = confint_proportions_2indep(k1, n1, k2, n2, compare="ratio", method="log")
    assert r == pytest.approx((k1 / n1) / (k2 / n2))
    assert lo == pytest.approx(klo, rel=0.02) and hi == pytest.approx(khi, rel=0.02)


def test_rates_indicator_rates_the_ratio_of_the_two_groups():
    bme = row("wres.8", 22.8155, 19.0255, 27.1078, group="BME", k=94, n=412)
    white = row("wres.8", 10.1488, 8.7112, 11.7931, group="White", k=150, n=1478)
    fig = B.figure(B.BY_KEY["wres.8"], frame(bme, white))
    # 22.8155 ÷ 10.1488 = 2.248
    assert fig.text == "2.25" and fig.groups == "22.8% v 10.1%"
    assert fig.sentence.startswith("22.8% of BME staff said they had experienced discrimination")
    assert "against 10.1% of White staff (relative likelihood 2.25, 95% CI" in fig.sentence
    assert B.rate(B.BY_KEY["wres.8"], fig, period=PERIOD).key == "red"


def test_a_suppressed_group_is_not_rated():
    bme = row("wres.8", NAN, group="BME", suppressed=True)
    white = row("wres.8", 10.1, 8.7, 11.8, group="White", k=150, n=1478)
    fig = B.figure(B.BY_KEY["wres.8"], frame(bme, white))
    r = B.rate(B.BY_KEY["wres.8"], fig, period=PERIOD)
    assert fig.suppressed and r.key == "none" and "suppressed" in r.reason


def test_descriptions_are_not_rated():
    fig = B.figure(B.BY_KEY["wres.1"], frame(row("wres.1.share", 21.2, 20.0, 22.4, group="BME",
                                                 k=950, n=4487)))
    assert B.rate(B.BY_KEY["wres.1"], fig, period=PERIOD).key == "none"
    assert fig.text == "21.2%"


# --- censuses -------------------------------------------------------------------------------

@pytest.mark.parametrize("k, n, workforce, expected", [
    (0, 9, 21.8, "red"),    # parity = 0.218 × 9 = 1.96 members; short 1.96 ≥ 1
    (1, 9, 21.8, "green"),  # short 1.96 − 1 = 0.96 < 1
    (0, 8, 5.7, "green"),   # parity 0.46 members: no whole member short
    (0, 20, 5.0, "red"),    # parity exactly 1.0 member, none on the board
    (3, 9, 21.8, "green"),  # above parity
])
def test_board_membership_rule(k, n, workforce, expected):
    gap = 100 * k / n - workforce
    r = rating_of("wres.9", row("wres.9.board_gap", gap, group="BME", ref="All",
                                breakdown="board=voting", k=k, n=n))
    assert r.key == expected, r.reason


def test_board_figure_says_the_counts():
    fig = B.figure(B.BY_KEY["wres.9"], frame(row("wres.9.board_gap", -21.8, group="BME",
                                                 ref="All", breakdown="board=voting", k=0, n=9)))
    assert fig.text == "0 of 9 v 21.8%"
    assert fig.sentence.startswith("None of the 9 voting board members with recorded ethnicity")


@pytest.mark.parametrize("k, period, expected", [
    (10, "2024-03-31", "green"),   # every member
    (8, "2024-03-31", "amber"),    # below 100% on the due date itself: not yet past it
    (8, "2024-04-30", "red"),      # below 100% after the due date
    (0, "2023-03-31", "amber"),
])
def test_board_objectives_rule(k, period, expected):
    r = rating_of("hia1.smart", row("hia1.smart_objectives_share", 10 * k, k=k, n=10,
                                    period=period), period=period, due=dt.date(2024, 3, 31))
    assert r.key == expected, r.reason


# --- direction of travel, peers, England ------------------------------------------------------

def test_direction_of_travel_is_distance_from_parity():
    ind = B.BY_KEY["wres.3"]
    f = lambda v: B.Figure(value=v)  # noqa: E731
    assert B.travel(ind, f(1.50), f(1.72)).key == "closer"
    assert B.travel(ind, f(0.60), f(1.50)).key == "further"  # |log 0.6| = 0.51 > |log 1.5| = 0.41
    assert B.travel(ind, f(1.504), f(1.496)).key == "same"    # both shown as 1.50
    assert B.travel(ind, f(1.5), None).label == "No earlier figure"
    t = B.travel(ind, f(1.5), f(1.7), basis_now="two-year rolling", basis_before="12-month")
    assert (t.key, t.label) == ("not_comparable", "Not comparable")
    assert t.note == "counting basis changed from 12-month to two-year rolling"


def test_rank_among_peers_closest_to_parity_first():
    peers = frame(*(row("wres.3.relative_likelihood", v, v - 0.2, v + 0.2, group="BME",
                        ref="White", trust=t) for t, v in
                    (("T1", 1.72), ("T2", 0.95), ("T3", 1.30), ("T4", NAN))))
    # distances |log v|: T2 0.05, T3 0.26, T1 0.54; T4 has no figure
    assert B.rank(B.BY_KEY["wres.3"], "T1", peers) == (3, 3)
    assert B.rank(B.BY_KEY["wres.3"], "T2", peers) == (1, 3)
    assert B.rank(B.BY_KEY["wres.3"], "T1", peers[peers.trust_code == "T1"]) is None


def test_england_figure_from_external_indicators():
    ext = pd.DataFrame({
        "trust_code": ["T1", "T1", "T1", "T1"],
        "period": pd.to_datetime([PERIOD, PERIOD, PERIOD, "2023-03-31"]),
        "indicator_id": ["england.wres.2.relative_likelihood", "england.wres.5",
                         "england.wres.5", "england.wres.2.relative_likelihood"],
        "group": ["White", "BME", "White", "White"],
        "value": [1.59, 29.2, 27.6, 1.61], "source": ["NHS England"] * 4})
    assert B.national(B.BY_KEY["wres.2"], ext, PERIOD) == "1.59"
    assert B.national(B.BY_KEY["wres.5"], ext, PERIOD) == "1.06"  # 29.2 ÷ 27.6 = 1.058
    assert B.national(B.BY_KEY["wres.3"], ext, PERIOD) == ""
    assert B.national(B.BY_KEY["wres.2"], ext, "2023-03-31") == "1.61"


# --- the action plan: overdue and contradictions ------------------------------------------------

CATALOGUE = (
    Action("edi.hia1.smart_objectives", "Every board member must have SMART EDI objectives.",
           "hia1", "board", dt.date(2024, 3, 31), "letter", ("hia1.smart_objectives_share",),
           title="SMART EDI objectives"),
    Action("edi.hia6.review_disciplinary", "Review disciplinary processes.", "hia6",
           "employer_system", dt.date(2024, 3, 31), "letter", ("wres.3.relative_likelihood",),
           title="Review disciplinary processes"),
    Action("edi.hia3.flexible_working", "Flexible working policy.", "hia3", "employer_system",
           dt.date(2024, 3, 31), "letter", (), title="Flexible working"),
    Action("edi.hia3.mend_the_gap", "Mend the Gap.", "hia3", "employer_system",
           dt.date(2024, 3, 31), "letter", (), title="Mend the Gap"),
    Action("pp.national.workforce_planning", "Workforce planning", "people_plan", "national",
           None, "people plan", ()),
)


def actions_table(*records):
    return pd.DataFrame([dict(trust_code="T1", action_id=a, status=s, owner=o, evidence=e,
                              updated_on=pd.Timestamp("2024-02-01")) for a, s, o, e in records])


def plan_for(period, records, rows=()):
    return {p.action_id: p for p in B.action_plan(
        None, trust="T1", period=period, actions=actions_table(*records), rows=frame(*rows)
        if rows else pd.DataFrame(columns=["metric_id", "breakdown", "group"]),
        catalogue=CATALOGUE)}


def test_overdue_is_past_the_due_date_and_not_complete():
    records = [("edi.hia3.flexible_working", "in_progress", "Director of People", "Policy draft"),
               ("edi.hia3.mend_the_gap", "complete", "Medical Director", "Board paper")]
    on_time = plan_for("2024-03-31", records)
    late = plan_for("2024-04-01", records)
    assert not on_time["edi.hia3.flexible_working"].overdue  # due on the day itself
    p = late["edi.hia3.flexible_working"]
    assert p.overdue and p.rag == "red" and p.flags[0] == "Overdue: due 31 March 2024, in progress"
    assert (p.owner, p.evidence, p.status, p.due) == ("Director of People", "Policy draft",
                                                      "In progress", "31 March 2024")
    assert not late["edi.hia3.mend_the_gap"].overdue and late["edi.hia3.mend_the_gap"].rag == \
        "green"
    # no record: flagged as past due, but its label stays grey (nothing is known)
    none = plan_for("2024-04-01", [])["edi.hia3.flexible_working"]
    assert none.overdue and none.rag == "grey" and none.owner == "Not assigned"
    assert "pp.national.workforce_planning" not in late  # NHS England's action, not the trust's


def test_complete_while_its_metric_is_red_is_a_contradiction():
    p = plan_for("2024-03-31", [("edi.hia6.review_disciplinary", "complete", "CPO", "Review")],
                 [row("wres.3.relative_likelihood", 1.72, 1.25, 2.36, group="BME", ref="White")])
    c = p["edi.hia6.review_disciplinary"].contradictions
    assert [x.kind for x in c] == ["complete_but_red"]
    assert p["edi.hia6.review_disciplinary"].flags == (
        "Check: recorded complete, but WRES 3 (formal disciplinary process, BME v White) is "
        "rated red (1.72, 95% CI 1.25 to 2.36)",)
    # the same record with a figure inside the band is no contradiction
    ok = plan_for("2024-03-31", [("edi.hia6.review_disciplinary", "complete", "CPO", "Review")],
                  [row("wres.3.relative_likelihood", 1.05, 0.90, 1.20, group="BME", ref="White")])
    assert not ok["edi.hia6.review_disciplinary"].contradictions


def test_not_started_while_its_metric_shows_progress_is_a_contradiction():
    # 8 of 10 board members have SMART objectives, the action is recorded not started
    p = plan_for("2024-03-31", [("edi.hia1.smart_objectives", "not_started", "CEO", "")],
                 [row("hia1.smart_objectives_share", 80.0, k=8, n=10)])
    a = p["edi.hia1.smart_objectives"]
    assert [x.kind for x in a.contradictions] == ["not_started_but_done"]
    assert a.flags == ("Check: recorded not started, but the figures show progress: 8 of the 10 "
                       "board members (80.0%) had SMART EDI objectives",)
    assert a.evidence == "None recorded"
    none = plan_for("2024-03-31", [("edi.hia1.smart_objectives", "not_started", "CEO", "")],
                    [row("hia1.smart_objectives_share", 0.0, k=0, n=10)])
    assert not none["edi.hia1.smart_objectives"].contradictions


# --- the asks -------------------------------------------------------------------------------------

def test_asks_are_tied_to_red_ratings_or_overdue_actions_with_due_dates():
    rows = [row("wres.3.relative_likelihood", 1.72, 1.25, 2.36, group="BME", ref="White"),
            row("hia1.smart_objectives_share", 80.0, k=8, n=10)]
    records = [("edi.hia6.review_disciplinary", "complete", "Chief People Officer", "Review"),
               ("edi.hia1.smart_objectives", "not_started", "Chief Executive", ""),
               ("edi.hia3.flexible_working", "in_progress", "Director of People", "Draft")]
    plan = list(plan_for("2024-04-30", records, rows).values())
    dash = B.dashboard(frame(*rows), trust="T1", period="2024-04-30")
    got = B.asks(dash, plan, period="2024-04-30")
    assert 3 <= len(got) <= 5
    # first: the action recorded complete while its evidence (WRES 3) is red
    assert got[0].kind == "contradiction" and "Review disciplinary processes" in got[0].text
    assert got[0].due == "31 March 2024"
    kinds = [a.kind for a in got]
    assert "overdue" in kinds  # flexible working, due 31 March 2024, in progress on 30 April
    for a in got:
        assert a.kind in ("contradiction", "overdue", "red", "not_started")
        assert a.due
        assert "edi." not in a.text  # no catalogue ids on board pages


def test_asks_stop_at_five():
    rows = [row(m, 2.0, 1.5, 2.5, group=g, ref=r) for m, g, r in (
        ("wres.2.relative_likelihood", "White", "BME"), ("wres.3.relative_likelihood", "BME",
                                                         "White"),
        ("wres.4.relative_likelihood", "White", "BME"), ("wdes.2.relative_likelihood",
                                                         "Non-disabled", "Disabled"),
        ("wdes.3.relative_likelihood", "Disabled", "Non-disabled"),
        ("hia5.training_relative_likelihood", "Domestic", "International"))]
    from edi_analysis.catalogue import load_actions

    plan = B.action_plan(None, trust="T1", period=PERIOD, rows=frame(*rows),
                         catalogue=load_actions())
    dash = B.dashboard(frame(*rows), trust="T1", period=PERIOD)
    assert sum(r.rating == "red" for r in dash) == 6
    got = B.asks(dash, plan, period=PERIOD)
    assert 3 <= len(got) <= 5


def test_summary_as_json_is_plain_data():
    import json

    rows = frame(row("wres.3.relative_likelihood", 1.72, 1.25, 2.36, group="BME", ref="White"))
    s = B.summarise(rows, trust="T1", period=PERIOD)
    data = json.loads(json.dumps(s.as_json()))
    assert data["counts"]["red"] == 1
    assert {r["key"] for r in data["rows"]} >= {"wres.3", "wres.9", "pay.gender.mean"}
    assert math.isclose(len(data["rows"]), len(B.INDICATORS))
