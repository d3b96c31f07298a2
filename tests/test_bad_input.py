"""Bad input that used to pass (issue 11): implausible numbers, non-finite outputs, a trust
without a snapshot for a requested period, one identifier spelt two ways.

Each case starts from the small valid dataset of ``test_contract`` and breaks
one thing; the expected message is written out in full.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from edi_analysis import cli, pipeline
from edi_analysis.contract import validate_dataset
from edi_analysis.io import NonFiniteValueError, check_finite

from test_contract import errors_of, valid_tables, write

REPO_SAMPLE = "data/sample"


@pytest.fixture
def tables():
    return valid_tables()


@pytest.fixture
def d(tmp_path):
    return tmp_path / "data"


# ------------------------------------------------------------ plausible values

HOURLY = ("is implausibly high (more than 1,000: about five times the best-paid NHS chief "
          "executive's hourly rate; is it annual pay, or in pence?)")
BONUS = ("is implausibly high (more than 1,000,000: 13 times the largest national Clinical "
         "Excellence Award; is it in pence?)")
FTE = "is implausibly small (less than 0.01: under 23 minutes a week; is it a percentage or hours?)"
DAYS = "is implausibly high (more than 549: 366 days at 1.5 FTE, the most in a year)"


@pytest.mark.parametrize("column, value, message", [
    ("hourly_pay", "1e12", HOURLY),          # the issue's case
    ("hourly_pay", "1650", HOURLY),          # £16.50 written in pence
    ("bonus_pay_12m", "1e300", BONUS),       # the issue's case
    ("bonus_pay_12m", "1000000.01", BONUS),
    ("fte", "1e-300", FTE),                  # > 0, so the old range let it through
    ("fte", "0.009", FTE),
    ("sickness_days_12m", "549.5", DAYS),
    ("available_days_12m", "1e6", DAYS),
])
def test_implausible_numbers_are_errors_naming_file_line_column(d, tables, column, value,
                                                                 message):
    tables["workforce"].loc[0, column] = value
    if column == "sickness_days_12m":
        tables["workforce"].loc[0, "available_days_12m"] = ""  # so only the bound applies
    write(d, tables)
    assert errors_of(d) == [f"{d}/workforce.csv:2: {column}: {value!r} {message}"]


@pytest.mark.parametrize("column, value", [
    ("hourly_pay", "1000"), ("bonus_pay_12m", "1000000"), ("fte", "0.01"),
    ("available_days_12m", "549"),
])
def test_plausible_bounds_are_inclusive(d, tables, column, value):
    tables["workforce"].loc[0, column] = value
    write(d, tables)
    assert errors_of(d) == []


def test_a_value_outside_the_hard_range_is_reported_once_not_also_as_implausible(d, tables):
    tables["workforce"].loc[0, "fte"] = "0"      # fails "more than 0"; also < 0.01
    write(d, tables)
    assert errors_of(d) == [f"{d}/workforce.csv:2: fte: '0' is out of range "
                            "(must be more than 0 and at most 1.5)"]


def test_sickness_days_above_available_days(d, tables):
    # line 2: 3.5 days lost of 225 available is fine; line 3: 181 of 180 is not
    tables["workforce"].loc[1, "sickness_days_12m"] = "181"
    write(d, tables)
    assert errors_of(d) == [
        f"{d}/workforce.csv:3: sickness_days_12m: '181' is more than available_days_12m "
        "'180' (it is part of available_days_12m, so cannot exceed it)"]


def test_sickness_equal_to_available_and_blank_available_are_accepted(d, tables):
    tables["workforce"].loc[1, "sickness_days_12m"] = "180"   # every available day lost
    tables["workforce"].loc[2, "available_days_12m"] = ""     # not recorded: nothing to compare
    write(d, tables)
    assert errors_of(d) == []


def test_survey_year_must_be_a_survey_year(d, tables):
    tables["staff_survey"].loc[0, "survey_year"] = "223"      # 2023 with a digit lost
    write(d, tables)
    assert errors_of(d) == [
        f"{d}/staff_survey.csv:2: survey_year: '223' is implausible (outside 2,003 to 2,100: "
        "a calendar year of the NHS Staff Survey, which began in 2003)"]


def test_the_issues_absurd_values_stop_metrics_with_exit_1_and_no_output(tmp_path, capsys):
    """hourly_pay 1e12, bonus 1e300, fte 1e-300, sickness > available: exit 0 and ``inf``
    in metrics.csv before; now exit 1, four errors, nothing written."""
    data = tmp_path / "d"
    tables = {name: pd.read_csv(f"{REPO_SAMPLE}/{name}.csv", dtype=str, keep_default_na=False)
              for name in ("workforce", "recruitment", "employee_relations", "staff_survey",
                           "board", "actions", "external_indicators")}
    wf = tables["workforce"]
    # Men's bonuses of 1e300 overflow the mean to inf; the fte makes total pay per hour inf.
    consultants = wf.index[(wf["snapshot_date"] == "2024-03-31") & (wf["sex"] == "M")
                           & (wf["pay_band"] == "Consultant")][:3]
    wf.loc[consultants, "bonus_pay_12m"] = "1e300"
    wf.loc[consultants[0], "fte"] = "1e-300"
    wf.loc[consultants[1], "hourly_pay"] = "1e12"
    wf.loc[consultants[2], "sickness_days_12m"] = "500"
    write(data, tables)
    out = tmp_path / "metrics.csv"
    code = cli.main(["metrics", str(data), "--period", "2024-03-31", "-o", str(out)])
    err = capsys.readouterr().err
    assert code == 1
    assert not out.exists()
    lines = {int(i) + 2 for i in consultants}
    assert f"{data}/workforce.csv:{min(lines)}: fte: '1e-300' {FTE}" in err
    assert f"invalid: 6 errors" in err  # 3 bonuses, fte, hourly pay, sickness days


# ------------------------------------------------------------ non-finite outputs

def _rows(value, numerator=1.0) -> pd.DataFrame:
    return pd.DataFrame({
        "trust_code": ["RXX", "RXX"], "period": ["2024-03-31"] * 2, "area": ["hia3"] * 2,
        "metric_id": ["pay.gender.mean_gap", "actions.status"], "breakdown": ["", "action=x"],
        "group": ["Female", "All"], "reference_group": ["Male", ""],
        "numerator": [numerator, np.nan], "denominator": [10.0, np.nan],
        "value": pd.array([value, "red"], dtype=object),
        "ci_lower": [np.nan, np.nan], "ci_upper": [np.nan, np.nan],
        "unit": ["percent", "flag"], "suppressed": [False, False], "note": ["", ""],
    })


@pytest.mark.parametrize("value", [np.inf, -np.inf, "inf", "NaN", " -Infinity"])
def test_metrics_csv_writer_refuses_non_finite_values(value):
    with pytest.raises(NonFiniteValueError, match=r"metrics\.csv: 1 value not finite, so "
                       r"nothing was written: RXX 2024-03-31 pay\.gender\.mean_gap  Female: "
                       r"value = "):
        pipeline.metrics_csv_bytes(_rows(value))


def test_metrics_csv_writer_refuses_infinity_in_any_number_column():
    with pytest.raises(NonFiniteValueError, match="numerator = inf"):
        pipeline.metrics_csv_bytes(_rows(2.5, numerator=np.inf))


def test_metrics_csv_writer_keeps_blanks_and_labels():
    data = pipeline.metrics_csv_bytes(_rows(np.nan)).decode()
    assert data.splitlines()[1] == ("RXX,2024-03-31,hia3,pay.gender.mean_gap,,Female,Male,1.0,"
                                    "10.0,,,,percent,false,")
    assert ",red," in data.splitlines()[2]


def test_check_finite_counts_and_names_rows():
    frame = pd.DataFrame({"metric_id": [f"m{i}" for i in range(7)], "value": [np.inf] * 7})
    with pytest.raises(NonFiniteValueError) as exc:
        check_finite(frame, ["value"], "out.csv", label=["metric_id"])
    assert str(exc.value) == ("out.csv: 7 values not finite, so nothing was written: "
                              "m0: value = inf; m1: value = inf; m2: value = inf; "
                              "m3: value = inf; m4: value = inf (and 2 more)")


def test_metrics_command_fails_loudly_rather_than_write_inf(tmp_path, capsys, monkeypatch):
    """Whatever gets past validation, ``inf`` never reaches metrics.csv: exit 1, one line."""
    rows = _rows(np.inf)
    monkeypatch.setattr(pipeline, "compute_metrics", lambda *a, **k: rows)
    out = tmp_path / "metrics.csv"
    code = cli.main(["metrics", REPO_SAMPLE, "--period", "2024-03-31", "-o", str(out)])
    err = capsys.readouterr().err
    assert code == 1
    assert not out.exists()
    assert ("edi-analysis metrics: error: metrics.csv: 1 value not finite, so nothing was "
            "written: RXX 2024-03-31 pay.gender.mean_gap  Female: value = inf") in err
    assert "Traceback" not in err


# ------------------------------------------------------------ trust x period

def _second_trust(tables, snapshots=("2023-03-31",)):
    """Add trust RYY with workforce rows at ``snapshots`` only."""
    wf = tables["workforce"]
    extra = wf[wf["snapshot_date"].isin(snapshots)].assign(trust_code="RYY")
    tables["workforce"] = pd.concat([wf, extra], ignore_index=True)
    return tables


def test_trust_without_a_snapshot_for_a_requested_period_is_an_error(d, tables):
    write(d, _second_trust(tables))
    assert errors_of(d, periods=["2024-03-31"]) == [
        f"{d}/workforce.csv:1: trust_code: trust RYY has no workforce snapshot for period "
        f"2024-03-31, so its report would be empty (its snapshot dates in {d}/workforce.csv: "
        "2023-03-31); supply the snapshot or leave the trust out"]
    assert errors_of(d, periods=["2023-03-31"]) == []


def test_trust_check_is_reported_against_the_params_file(d, tables, tmp_path):
    write(d, _second_trust(tables))
    params = tmp_path / "p.yaml"
    params.write_text("data: data\nperiods:\n  - 2023-03-31\n  - 2024-03-31\n")
    assert errors_of(d, periods=["2023-03-31", "2024-03-31"], params_file=params) == [
        f"{params}:4: periods: trust RYY has no workforce snapshot for period 2024-03-31, so "
        f"its report would be empty (its snapshot dates in {d}/workforce.csv: 2023-03-31); "
        "supply the snapshot or leave the trust out"]


def test_only_the_requested_trusts_need_the_snapshot(d, tables):
    write(d, _second_trust(tables))
    assert errors_of(d, periods=["2024-03-31"], trusts=["RXX"]) == []
    assert len(errors_of(d, periods=["2024-03-31"], trusts=["RXX", "RYY"])) == 1


def test_run_refuses_a_trust_without_a_snapshot(tmp_path, tables, capsys):
    data = write(tmp_path / "data", _second_trust(tables))
    params = tmp_path / "p.yaml"
    params.write_text(f"data: {data}\nperiods: [2024-03-31]\nnotebooks: [overview]\n"
                      f"reports_dir: {tmp_path / 'reports'}\nsite_dir: {tmp_path / 'site'}\n"
                      f"notebooks_dir: {pipeline.Path(__file__).parents[1] / 'notebooks'}\n")
    code = cli.main(["run", str(params), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 1
    assert "trust RYY has no workforce snapshot for period 2024-03-31" in err
    assert not (tmp_path / "reports" / "2024-03-31").exists()


def test_metrics_command_checks_only_the_trusts_asked_for(tmp_path, tables, capsys):
    data = write(tmp_path / "data", _second_trust(tables))
    out = tmp_path / "m.csv"
    assert cli.main(["metrics", str(data), "--period", "2024-03-31", "-o", str(out)]) == 1
    assert not out.exists()
    assert cli.main(["metrics", str(data), "--period", "2024-03-31", "--trust", "RXX",
                     "-o", str(out)]) == 0
    assert set(pd.read_csv(out)["trust_code"]) == {"RXX"}


# ------------------------------------------------------------ one identifier, one spelling

def test_staff_id_differing_only_by_case_within_a_trust(d, tables):
    tables["workforce"].loc[2, "staff_id"] = "s1"      # S1 on line 2 (2023), s1 on line 4 (2024)
    write(d, tables)
    assert errors_of(d) == [
        f"{d}/workforce.csv:4: staff_id: 's1' and 'S1' (line 2) differ only by letter case or "
        "surrounding spaces within trust RXX: one identifier spelt two ways would count as "
        "two; spell it one way"]


def test_staff_id_differing_only_by_surrounding_spaces(d, tables):
    tables["workforce"].loc[3, "staff_id"] = " S2 "
    write(d, tables)
    assert errors_of(d) == [
        f"{d}/workforce.csv:5: staff_id: ' S2 ' and 'S2' (line 3) differ only by letter case "
        "or surrounding spaces within trust RXX: one identifier spelt two ways would count as "
        "two; spell it one way"]


def test_same_spelling_rule_is_per_trust_and_ignores_inner_differences(d, tables):
    wf = tables["workforce"]
    wf.loc[2:3, "trust_code"] = "RYY"           # s1 in another trust: another person
    wf.loc[2, "staff_id"] = "s1"
    wf.loc[3, "staff_id"] = "S 2"               # an inner space is a different id
    tables["employee_relations"]["trust_code"] = "RXX"
    write(d, tables)
    assert not [e for e in errors_of(d) if "differ only" in e]


@pytest.mark.parametrize("table, column, row, first, value, where", [
    ("recruitment", "application_id", 1, 0, "a1", ""),
    ("employee_relations", "case_id", 1, 0, "C1 ", ""),
    ("staff_survey", "respondent_id", 1, 0, "r1", " within trust RXX survey year 2022"),
    ("board", "member_id", 2, 0, "b1", " within trust RXX"),
])
def test_other_identifiers_with_two_spellings(d, tables, table, column, row, first, value,
                                              where):
    original = tables[table].loc[first, column]
    tables[table].loc[row, column] = value
    write(d, tables)
    assert errors_of(d) == [
        f"{d}/{table}.csv:{row + 2}: {column}: {value!r} and {original!r} (line {first + 2}) "
        f"differ only by letter case or surrounding spaces{where}: one identifier spelt two "
        "ways would count as two; spell it one way"]


def test_case_staff_id_spelt_differently_from_the_workforce_is_an_error(d, tables):
    tables["employee_relations"].loc[1, "staff_id"] = "s2"
    write(d, tables)
    report = validate_dataset(d)
    assert [i.format() for i in report.errors] == [
        f"{d}/employee_relations.csv:3: staff_id: 's2' is not in the workforce of trust RXX, "
        f"but 'S2' is ({d}/workforce.csv line 3): they differ only by letter case or "
        "surrounding spaces; spell the identifier one way"]
    assert report.warnings == []


def test_identifier_spelling_check_takes_the_fast_path_on_clean_ids(monkeypatch):
    """No id off the normal form anywhere: the check ends after two folds and two counts,
    without looking for colliding spellings (its cost at a million rows is printed by
    ``benchmarks/validate_scale.py``, not timed here)."""
    from edi_analysis.contract import rules
    from edi_analysis.contract.parsing import TableData
    from edi_analysis.contract.rules import OneSpelling

    calls = []
    real_unique = rules.pc.unique
    monkeypatch.setattr(rules.pc, "unique", lambda *a, **k: calls.append(1) or real_unique(*a, **k))
    n = 100_000
    ids = pd.Series([f"E{i:09d}" for i in range(n)], dtype="str")
    frame = pd.DataFrame({"staff_id": ids, "trust_code": pd.Series(["RXX"] * n, dtype="str")})
    t = TableData("workforce", "w.csv", np.arange(2, n + 2), {}, frame)
    assert OneSpelling("staff_id", within=("trust_code",)).check(t) == []
    assert calls == []  # the fast path: no search for collisions
    # one id spelt in lower case: now the slow path runs, and finds nothing to report
    # (e000000007 has no upper-case twin), so the probe above can see the difference
    frame.loc[7, "staff_id"] = "e000000007x"
    t = TableData("workforce", "w.csv", np.arange(2, n + 2), {}, frame)
    assert OneSpelling("staff_id", within=("trust_code",)).check(t) == []
    assert calls == [1]
