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
        "Black and minority ethnic (BME) staff were 1.60 times as likely as White staff to enter "
        "a formal disciplinary process (95% CI 1.10 to 2.30; 41 staff entering in 2,410 "
        "person-years of BME staff). This is outside the non-adverse range of 0.80 to 1.25.")


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
    assert s.startswith("White applicants were less likely than Black and minority ethnic (BME) "
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
        "Women's mean hourly pay was 12.3% lower than men's (95% CI 10.1% to 14.2%).")


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
    assert s.startswith("Black and minority ethnic (BME) staff's median hourly pay was 3.0% "
                        "higher than White staff's")
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
    assert n.sentence(row) == ("The share of Black and minority ethnic (BME) people among voting "
                               "board members was 4.3 percentage points lower than their share "
                               "of the workforce.")
    row["value"] = 0.0
    assert "was the same as their share" in n.sentence(row)


def test_rate_with_counts():
    row = dict(metric_id="wres.2.appointment_rate", unit="percent", group="BME", breakdown="",
               value=18.0, ci_lower=15.0, ci_upper=21.0, numerator=90, denominator=500,
               suppressed=False)
    assert n.sentence(row) == ("18.0% of Black and minority ethnic (BME) applicants were appointed "
                               "from shortlisting (95% CI 15.0% to 21.0%; 90 of 500 shortlisted).")


def test_generic_survey_value():
    row = dict(metric_id="wres.5", unit="percent", group="White", breakdown="", value=25.0,
               numerator=50, denominator=200, suppressed=False)
    s = n.sentence(row, label="Harassment from the public")
    assert s == "Harassment from the public for White staff was 25.0% (50 of 200)."


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
        "Relative likelihood for Black and minority ethnic (BME) staff: no figure can be given: "
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
                           "8.3 expected).")
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
