"""The words agree with the numbers: direction, size, rounding, thresholds, suppression."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edi_analysis import narrative as n

NAN = float("nan")


def rl(value, lo=NAN, hi=NAN, mid="wres.3.relative_likelihood", group="BME", ref="White", **kw):
    row = dict(metric_id=mid, unit="ratio", group=group, reference_group=ref, breakdown="",
               value=value, ci_lower=lo, ci_upper=hi, numerator=NAN, denominator=NAN,
               suppressed=False, note="")
    return {**row, **kw}


def gap(value, lo=NAN, hi=NAN, mid="pay.gender.mean_gap", group="Female", ref="Male"):
    return dict(metric_id=mid, unit="percent", group=group, reference_group=ref, breakdown="",
                value=value, ci_lower=lo, ci_upper=hi, suppressed=False, note="")


# --- numbers -------------------------------------------------------------------------------

@pytest.mark.parametrize("value, unit, shown", [
    (1.6, "ratio", "1.60"),
    (0.795, "ratio", "0.80"),      # half away from zero on the written decimal, not binary 0.79499…
    (1.245, "ratio", "1.25"),
    (1.2449, "ratio", "1.24"),
    (12.345, "percent", "12.3%"),
    (12.35, "percent", "12.4%"),
    (-0.04, "percent", "0.0%"),    # never "-0.0%"
    (-3.05, "percent", "-3.1%"),
    (4.25, "pp", "4.3 pp"),
    (14.2, "gbp", "£14.20"),
    (2410.0, "days", "2,410 days"),
    ("adverse", "flag", "adverse"),
    ("within_range", "flag", "within range"),
    (NAN, "ratio", ""),
])
def test_fmt_value(value, unit, shown):
    assert n.fmt_value(value, unit) == shown


@pytest.mark.parametrize("value, shown", [(2410, "2,410"), (2410.0, "2,410"), (12.5, "12.5"),
                                          (0, "0"), (NAN, ""), (None, "")])
def test_fmt_count(value, shown):
    assert n.fmt_count(value) == shown


# --- relative likelihoods ------------------------------------------------------------------

def test_lead_example_sentence():
    row = rl(1.6, 1.1, 2.3, numerator=41, denominator=2410)
    assert n.sentence(row) == (
        "BME staff were 1.60 times as likely as White staff to enter "
        "a formal disciplinary process (95% CI 1.10 to 2.30; 41 staff entering in 2,410 "
        "person-years of BME staff), outside the non-adverse range of 0.80 to 1.25.")


@pytest.mark.parametrize("value, direction, shown, within", [
    (0.80, "less likely", "0.80", True),       # boundary: 0.80 is inside the range
    (0.7949, "less likely", "0.79", False),
    (0.795, "less likely", "0.80", True),      # shown as 0.80, so judged as 0.80
    (1.0, "as likely as", "1.00", True),
    (1.004, "as likely as", "1.00", True),     # shown as 1.00: no direction claimed
    (0.996, "as likely as", "1.00", True),
    (1.005, "times as likely", "1.01", True),
    (1.25, "times as likely", "1.25", True),   # boundary: 1.25 is inside the range
    (1.2549, "times as likely", "1.25", True),
    (1.255, "times as likely", "1.26", False),
    (3.0, "times as likely", "3.00", False),
])
def test_relative_likelihood_direction_size_and_range(value, direction, shown, within):
    s = n.sentence(rl(value))
    assert direction in s
    assert shown in s
    if direction == "less likely":
        assert "less likely than White staff" in s
    assert ("within the non-adverse range" in s) is within
    assert ("outside the non-adverse range" in s) is (not within)


def test_ci_including_one_is_said():
    assert "may be due to chance" in n.sentence(rl(1.4, 0.9, 2.1))
    assert "may be due to chance" not in n.sentence(rl(1.4, 1.1, 2.1))
    # the interval is judged as shown: 0.996 shows as 1.00, so it includes 1.00
    assert "may be due to chance" in n.sentence(rl(1.4, 0.996, 2.1))
    assert "may be due to chance" not in n.sentence(rl(1.4, 1.005, 2.1))


def test_non_adverse_range_only_for_formal_processes():
    s = n.sentence(rl(0.72, 0.5, 0.95, mid="wres.2.relative_likelihood", group="White", ref="BME"))
    assert s.startswith("White applicants were less likely than BME "
                        "applicants to be appointed from shortlisting: 0.72 times as likely")
    assert "non-adverse" not in s


def test_disability_capability_sentence():
    s = n.sentence(rl(2.0, 1.2, 3.3, mid="wdes.3.relative_likelihood", group="Disabled",
                      ref="Non-disabled"))
    assert s.startswith("Disabled staff were 2.00 times as likely as non-disabled staff to enter "
                        "the formal capability process")


@settings(max_examples=300, deadline=None)
@given(st.floats(min_value=0.01, max_value=20, allow_nan=False))
def test_relative_likelihood_words_always_match_the_shown_number(value):
    s = n.sentence(rl(value))
    shown = Decimal(n.fmt_number(value, "ratio"))
    assert n.fmt_number(value, "ratio") in s
    if shown > 1:
        assert "times as likely as White staff" in s
    elif shown < 1:
        assert "less likely than White staff" in s
    else:
        assert "as likely as White staff" in s and "less" not in s
    assert ("within the non-adverse range" in s) == (Decimal("0.80") <= shown <= Decimal("1.25"))


# --- pay gaps ------------------------------------------------------------------------------

def test_gender_pay_gap_sentence():
    assert n.sentence(gap(12.345, 10.1, 14.2)) == (
        "Women's mean hourly pay was 12.3% lower than men's (95% CI 10.1% to 14.2% lower).")


@pytest.mark.parametrize("value, words", [
    (12.3, "12.3% lower than"),
    (-3.05, "3.1% higher than"),   # negative gap: the compared group is paid more
    (0.04, "was the same as"),     # shown as 0.0%
    (-0.04, "was the same as"),
    (0.05, "0.1% lower than"),
])
def test_gap_direction(value, words):
    s = n.sentence(gap(value))
    assert words in s
    assert "-" not in s.split("(")[0]  # sizes are stated without a sign


def test_ethnicity_gap_and_ci_crossing_zero():
    s = n.sentence(gap(-3.0, -5.1, 1.2, mid="pay.ethnicity.median_gap", group="BME", ref="White"))
    assert s.startswith("BME staff's median hourly pay was 3.0% higher than White staff's "
                        "(95% CI from 1.2% lower to 5.1% higher)")
    assert "includes no gap" in s


@settings(max_examples=300, deadline=None)
@given(st.floats(min_value=-60, max_value=60, allow_nan=False))
def test_gap_words_always_match_the_shown_number(value):
    s = n.sentence(gap(value))
    shown = Decimal(n.fmt_number(value, "percent"))
    if shown > 0:
        assert f"{n.fmt_number(value, 'percent')}% lower than men's" in s
    elif shown < 0:
        assert f"{n.fmt_number(-value, 'percent')}% higher than men's" in s
    else:
        assert "the same as men's" in s


# --- other kinds ---------------------------------------------------------------------------

def test_board_gap():
    row = dict(metric_id="wres.9.board_gap", unit="pp", group="BME", reference_group="",
               breakdown="board=voting", value=-4.25, suppressed=False)
    assert n.sentence(row) == ("The share of BME people among voting "
                               "board members was 4.3 percentage points lower than their share "
                               "of the workforce.")
    row["value"] = 0.0
    assert "was the same as their share" in n.sentence(row)


def test_rate_with_counts():
    row = dict(metric_id="wres.2.appointment_rate", unit="percent", group="BME", breakdown="",
               value=18.0, ci_lower=15.0, ci_upper=21.0, numerator=90, denominator=500,
               suppressed=False)
    assert n.sentence(row) == ("18.0% of BME applicants were appointed "
                               "from shortlisting (95% CI 15.0% to 21.0%; 90 of 500 shortlisted).")


def test_survey_value_reads_as_english():
    row = dict(metric_id="wres.5", unit="percent", group="White", breakdown="", value=25.0,
               numerator=50, denominator=200, suppressed=False)
    s = n.sentence(row, label="Harassment from the public")
    assert s == ("25.0% of White staff said they had experienced harassment, bullying or abuse "
                 "from patients, relatives or the public in the last 12 months (50 of 200 "
                 "respondents).")


@pytest.mark.parametrize("survey, kw, words", [
    (False, {}, "fewer than 8 people"),
    (True, {}, "fewer than 11 survey responses"),
    (False, {"min_count": 10}, "fewer than 10 people"),
    (True, {"min_survey_responses": 20}, "fewer than 20 survey responses"),
])
def test_suppressed(survey, kw, words):
    row = rl(NAN, suppressed=True)
    s = n.sentence(row, label="Relative likelihood", survey=survey, **kw)
    assert s.endswith(f"this figure is suppressed because it is based on {words}.")
    assert not re.search(r"\d\.\d", s)  # no figure leaks into a suppressed sentence


def test_suppressed_as_text_from_csv():
    row = gap(NAN)
    row["suppressed"] = "true"
    assert "suppressed" in n.sentence(row)


def test_blank_with_note():
    row = rl(NAN)
    row["note"] = "no cases in reference group"
    assert n.sentence(row, label="Relative likelihood") == (
        "Relative likelihood for BME staff: no figure can be given: "
        "no cases in reference group.")


@pytest.mark.parametrize("label, phrase", [
    ("adverse", "at a higher rate than White staff, by more than the non-adverse range"),
    ("below_range", "at a lower rate than White staff, by more than the non-adverse range"),
    ("within_range", "is within the non-adverse range of 0.80 to 1.25"),
    ("inconclusive", "the data cannot tell whether"),
])
def test_disparity_flag_reads_the_label_and_appends_what_the_interval_allows(label, phrase):
    note = "The 90% interval runs from 1.30 to 2.40, entirely above 1.25: …"
    row = dict(metric_id="hia6.disparity", unit="flag", group="BME", reference_group="White",
               value=label, suppressed=False, note=note)
    text = n.sentence(row)
    assert text.startswith("After adjusting for staff group and pay band, ")
    assert phrase in text and text.endswith(note)
    row = dict(row, metric_id="hia6.disability.disparity", group="Disabled",
               reference_group="Non-disabled")
    assert "formal capability process" in n.sentence(row)


@pytest.mark.parametrize("label, phrase", [
    ("differs", "differs between staff groups"),
    ("no_difference_shown", "read the trust-wide figure, not the figures for single staff groups"),
    ("not_tested", "could not be tested"),
])
def test_staff_group_difference_flag(label, phrase):
    row = dict(metric_id="hia6.staff_group_difference", unit="flag", group="BME",
               reference_group="White", value=label, suppressed=False, note="p = 0.312")
    assert phrase in n.sentence(row) and n.sentence(row).endswith("p = 0.312")


def test_model_ratios_do_not_read_the_point_estimate_against_the_range():
    # The label row does that, from the interval (a 1.08 with interval 0.39–3.02 is not
    # "within the non-adverse range").
    row = dict(metric_id="hia6.disability.adjusted_rate_ratio", unit="ratio", group="Disabled",
               reference_group="Non-disabled", value=1.08, ci_lower=0.39, ci_upper=3.02,
               numerator=9, denominator=8.33, suppressed=False)
    text = n.sentence(row)
    assert text.startswith("Comparing staff in the same staff group and pay band, disabled staff "
                           "were 1.08 times as likely as non-disabled staff to enter the formal "
                           "capability process (95% CI 0.39 to 3.02; 9 staff entering against "
                           "8.3 expected)")
    # the interval includes 1: the sentence says the difference may be due to chance
    assert text.endswith("the interval includes 1.00 (equal likelihood), so the difference may "
                         "be due to chance.")
    assert "non-adverse range" not in text


def test_rag_summary():
    assert n.rag_summary(["green", "red", "red", "grey"]) == (
        "Of 4 plan actions, 2 are red (not started, or past due and not complete), 1 green "
        "(complete) and 1 grey (no progress recorded).")
    assert n.rag_summary(["amber"]) == "Of 1 plan action, 1 is amber (in progress and not yet due)."
    assert n.rag_summary([]) == "No plan actions are recorded for this trust."


@pytest.mark.parametrize("breakdown, phrase", [
    ("pay_cluster=1", "in pay cluster 1 (Bands 1 to 4)"),
    ("clinical=N", "among non-clinical staff"),
    ("quartile=Lower middle", "in the lower middle pay quartile"),
    ("pay_band=Consultant", "among consultants"),
    ("age_band=55+", "aged 55 and over"),
    ("", ""),
])
def test_breakdown_phrase(breakdown, phrase):
    assert n.breakdown_phrase(breakdown) == phrase


# --- every metric reads as English ------------------------------------------------------------

def test_every_registered_metric_has_its_own_wording():
    """A metric added to the registry without words fails here (the fallback that wrote
    "{label} for {group} was X" is gone: ``wording`` raises for an unknown id)."""
    from edi_analysis.metrics import REGISTRY

    missing = []
    for mid, spec in REGISTRY.items():
        try:
            n.wording(mid, spec.unit)
        except KeyError:
            missing.append(mid)
    assert not missing, f"no entry in narrative.WORDING for {missing}"
    with pytest.raises(KeyError, match="add it to narrative.WORDING"):
        n.wording("wres.99.new_metric", "percent")


@pytest.fixture(scope="module")
def sample_rows():
    """Every metric of one sample trust and period (the smallest trust, so suppression and
    blanks occur too)."""
    from edi_analysis import pipeline
    from edi_analysis.contract import validate_dataset
    from pathlib import Path

    data = Path(__file__).resolve().parents[1] / "data" / "sample"
    ds = validate_dataset(data).dataset
    return pipeline.compute_metrics(ds, ["2024-03-31"], ["ZZ004"])


_LABEL_SHAPE = re.compile(r"^(?P<label>.+) for (?P<group>[^.]+?) was (?P<value>[-\d£.,]+)")
_CODES = re.compile(r"\(\w+: |characteristic|international_recruit|ethnicity5|pay_cluster=|"
                    r"[a-z]+_[a-z]+|\bbme\b")


def test_no_sentence_has_the_label_for_group_was_x_shape(sample_rows):
    from edi_analysis.metrics import REGISTRY

    seen = set()
    for rec in sample_rows.to_dict(orient="records"):
        sp = REGISTRY[rec["metric_id"]]
        s = n.sentence(rec, label=sp.label)
        seen.add(rec["metric_id"])
        assert not _LABEL_SHAPE.match(s), s
        if not rec["suppressed"] and not n.is_blank(rec["value"]):
            # a figure is described in words; only a missing one is named by its label
            assert not s.startswith(f"{sp.label} for"), s
        assert not _CODES.search(s), s  # no column names or codes on a board page
        assert not re.search(r"[-−]\s?£?\d", s), s  # sizes are stated without a sign
    assert seen == set(REGISTRY)  # every metric was read


# --- signs: the direction word agrees with the number and its interval -------------------------

_SIGNED = st.floats(min_value=-60, max_value=60, allow_nan=False)
_WIDTH = st.floats(min_value=0, max_value=30, allow_nan=False)


def _pct(x: str) -> Decimal:
    return Decimal(x.replace(",", ""))


@settings(max_examples=400, deadline=None)
@given(_SIGNED, _WIDTH, _WIDTH, st.sampled_from([("Female", "Male", "men's"),
                                                 ("BME", "White", "White staff's"),
                                                 ("Disabled", "Non-disabled",
                                                  "non-disabled staff's")]))
def test_pay_gap_direction_and_interval_agree_for_both_signs(value, below, above, groups):
    g, ref, ref_words = groups
    lo, hi = value - below, value + above
    s = n.sentence(gap(value, lo, hi, group=g, ref=ref))
    shown = n.rounded(value, "percent")
    assert not re.search(r"[-−]\d", s), s  # never a signed figure in words
    if shown > 0:
        assert f"{n.fmt_number(value, 'percent')}% lower than {ref_words}" in s
    elif shown < 0:
        assert f"{n.fmt_number(-value, 'percent')}% higher than {ref_words}" in s
    else:
        assert f"the same as {ref_words}" in s
    lo_s, hi_s = n.rounded(lo, "percent"), n.rounded(hi, "percent")
    m = re.search(r"\(95% CI (from )?([\d.]+)% (lower |higher )?to ([\d.]+)% (lower|higher)\)", s)
    if lo_s == 0 and hi_s == 0:
        assert "(95% CI 0.0% to 0.0%)" in s, s
    else:
        assert m, s
    if lo_s >= 0 and hi_s > 0:  # the whole interval is "lower": a to b% lower
        assert (m.group(1), m.group(5)) == (None, "lower") and \
            (_pct(m.group(2)), _pct(m.group(4))) == (lo_s, hi_s), s
    elif hi_s <= 0 and lo_s < 0:  # the whole interval is "higher"
        assert (m.group(1), m.group(5)) == (None, "higher") and \
            (_pct(m.group(2)), _pct(m.group(4))) == (-hi_s, -lo_s), s
    elif not (lo_s == 0 and hi_s == 0):  # it spans no gap: from x% lower to y% higher
        assert m.group(1) == "from " and m.group(3) == "lower " and m.group(5) == "higher", s
        assert (_pct(m.group(2)), _pct(m.group(4))) == (hi_s, -lo_s), s
    chance = "may be due to chance" in s
    assert chance == (lo_s <= 0 <= hi_s and shown != 0), s


@settings(max_examples=300, deadline=None)
@given(st.floats(min_value=-60, max_value=60, allow_nan=False),
       st.integers(min_value=0, max_value=12), st.integers(min_value=1, max_value=12))
def test_board_gap_direction_agrees_for_both_signs(workforce_gap, k, extra):
    board_n = k + extra
    share = 100 * k / board_n
    workforce = min(max(share - workforce_gap, 0.0), 100.0)
    value = share - workforce
    row = dict(metric_id="wres.9.board_gap", unit="pp", group="BME", reference_group="All",
               breakdown="board=voting", value=value, numerator=k, denominator=board_n,
               suppressed=False)
    s = n.sentence(row)
    shown = n.rounded(value, "pp")
    assert "95% CI" not in s  # a census
    assert not re.search(r"[-−]\d", s), s
    if shown > 0:
        assert "percentage points higher" in s
    elif shown < 0:
        assert "percentage points lower" in s
    else:
        assert "the same share" in s
    if k == 0:
        assert s.startswith(f"None of the {board_n} voting board members")


@settings(max_examples=300, deadline=None)
@given(st.floats(min_value=0.05, max_value=20, allow_nan=False), _WIDTH, _WIDTH)
def test_comparison_words_agree_with_the_ratio_and_interval(ratio, a, b):
    lo, hi = max(ratio - a / 10, 0.01), ratio + b / 10
    row = dict(metric_id="wres.8", unit="percent", group="BME", value=20.0)
    ref = dict(metric_id="wres.8", unit="percent", group="White", value=10.0)
    s = n.comparison_sentence(row, ref, (ratio, lo, hi))
    assert s.startswith("20.0% of BME staff said they had experienced discrimination")
    assert f"(relative likelihood {n.fmt_number(ratio, 'ratio')}, 95% CI " \
           f"{n.fmt_number(lo, 'ratio')} to {n.fmt_number(hi, 'ratio')})" in s
    includes = n.rounded(lo, "ratio") <= 1 <= n.rounded(hi, "ratio")
    assert ("may be due to chance" in s) == (includes and n.rounded(ratio, "ratio") != 1)


# --- censuses ------------------------------------------------------------------------------

def test_board_objectives_are_a_census_without_an_interval():
    row = dict(metric_id="hia1.smart_objectives_share", unit="percent", group="All",
               breakdown="", value=80.0, numerator=8, denominator=10, ci_lower=49.0,
               ci_upper=94.3, suppressed=False)
    s = n.sentence(row)
    assert s == "8 of the 10 board members (80.0%) had SMART EDI objectives."
    row.update(value=100.0, numerator=10)
    assert n.sentence(row) == "All 10 board members had SMART EDI objectives."
    row.update(value=0.0, numerator=0, breakdown="board=voting")
    assert n.sentence(row) == "None of the 10 voting board members had SMART EDI objectives."


def test_a_board_without_a_disabled_voting_member_is_said_plainly():
    row = dict(metric_id="wdes.10.board_gap", unit="pp", group="Disabled",
               reference_group="All", breakdown="board=voting", value=-5.7, numerator=0,
               denominator=8, suppressed=False)
    assert n.sentence(row) == ("None of the 8 voting board members with recorded disability "
                               "status are disabled, against 5.7% of the workforce: 5.7 "
                               "percentage points lower.")


# --- terms explained where they first appear ------------------------------------------------

def test_terms_are_explained_once_at_first_use():
    seen: set[str] = set()
    first = n.explain_terms("BME staff were 1.72 times as likely as White staff to enter a "
                            "formal disciplinary process (55 cases in 1,845 person-years). "
                            "This is outside the non-adverse range of 0.80 to 1.25.", seen)
    for term in ("BME", "relative likelihood", "non-adverse range", "person-years"):
        assert n.GLOSSARY[term][1] in first
    assert seen == {"BME", "relative likelihood", "non-adverse range", "person-years"}
    again = n.explain_terms("BME staff were 1.50 times as likely as White staff.", seen)
    assert again == "BME staff were 1.50 times as likely as White staff."
    cluster = n.explain_terms(n.breakdown_phrase("pay_cluster=1"), set())
    assert n.GLOSSARY["pay cluster"][1] in cluster


@pytest.mark.parametrize("breakdown, phrase", [
    ("characteristic=disability", "by disability"),
    ("characteristic=international_recruit", "by route of recruitment"),
    ("ethnicity5=Asian", "(Asian staff compared with White British staff)"),
    ("clinical=Y;pay_cluster=1", "among clinical staff in pay cluster 1 (Bands 1 to 4)"),
    ("age_band=<25", "aged under 25"),
    ("age_band=25-34", "aged 25 to 34"),
    ("some_new_key=x", ""),  # an unknown breakdown reads as nothing, never as "(key: x)"
])
def test_breakdown_phrases_never_show_codes(breakdown, phrase):
    assert n.breakdown_phrase(breakdown) == phrase
