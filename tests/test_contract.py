"""Contract tests: every bad-input case of CONTRACT.md §6 gives its exact message.

Each test starts from a tiny valid dataset (built below as text, written to
tmp_path), breaks one thing and asserts the formatted issue
``file:line: column: message`` (line = line in the file, header = 1).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from edi_analysis.contract import (
    DataValidationError, load_valid_dataset, validate_dataset,
)
from edi_analysis.contract.actions import catalogue_action_ids

REPO = Path(__file__).resolve().parents[1]

ANSWERS = ("harassment_public", "harassment_manager", "harassment_colleague",
           "reported_harassment", "equal_opportunities", "discrimination_colleague",
           "pressure_unwell", "valued_by_org", "adjustments_made",
           "org_action_health_wellbeing", "belonging")


def valid_tables() -> dict[str, pd.DataFrame]:
    """A small valid dataset, every cell as the text written to the CSV."""
    workforce = pd.DataFrame({
        "staff_id": ["S1", "S2", "S1", "S2"],
        "trust_code": ["RXX"] * 4,
        "snapshot_date": ["2023-03-31", "2023-03-31", "2024-03-31", "2024-03-31"],
        "ethnic_category": ["A", "M", "A", ""],
        "sex": ["F", "M", "F", "M"],
        "disability": ["N", "Y", "", "U"],
        "staff_group": ["Nursing and Midwifery Registered", "Medical and Dental",
                        "Nursing and Midwifery Registered", "Medical and Dental"],
        "pay_band": ["Band 5", "Consultant", "Band 6", "Consultant"],
        "contract_type": ["permanent", "fixed_term", "permanent", "bank"],
        "fte": ["1", "0.8", "1.0", "0.5"],
        "start_date": ["2020-01-06", "2015-08-01", "2020-01-06", "2015-08-01"],
        "age_band": ["25-34", "45-54", "25-34", "55+"],
        "hourly_pay": ["16.5", "52.10", "17.25", "0"],
        "full_pay_relevant": ["Y", "Y", "true", "N"],
        "bonus_pay_12m": ["0", "12000", "", "0"],
        "accessed_nonmandatory_training": ["Y", "N", "1", "0"],
        "flexible_working": ["N", "N", "Y", ""],
        "international_recruit": ["N", "Y", "N", "Y"],
        "sickness_days_12m": ["3.5", "0", "1", "0"],
        "available_days_12m": ["225", "180", "225", "90"],
    })
    recruitment = pd.DataFrame({
        "application_id": ["A1", "A2", "A3"],
        "trust_code": ["RXX"] * 3,
        "applied_date": ["2023-05-01", "2023-06-15", "2024-01-10"],
        "staff_group": ["Nursing and Midwifery Registered"] * 3,
        "pay_band": ["Band 5"] * 3,
        "ethnic_category": ["A", "M", "99"],
        "disability": ["N", "Y", ""],
        "sex": ["F", "M", ""],
        "international_applicant": ["N", "Y", "N"],
        "shortlisted": ["Y", "Y", "N"],
        "appointed": ["Y", "N", "N"],
    })
    employee_relations = pd.DataFrame({
        "case_id": ["C1", "C2"],
        "staff_id": ["S1", "S2"],
        "trust_code": ["RXX", "RXX"],
        "case_type": ["disciplinary", "grievance"],
        "start_date": ["2023-06-01", "2023-09-01"],
        "closed_date": ["2023-08-01", ""],
        "outcome": ["informal_action", ""],
        "ethnic_category": ["A", "M"],
        "disability": ["N", "Y"],
        "sex": ["F", "M"],
        "staff_group": ["Nursing and Midwifery Registered", "Medical and Dental"],
        "pay_band": ["Band 5", "Consultant"],
    })
    staff_survey = pd.DataFrame({
        "respondent_id": ["R1", "R2", "R1"],
        "trust_code": ["RXX"] * 3,
        "survey_year": ["2022", "2022", "2023"],
        "ethnic_category": ["A", "", "H"],
        "disability": ["N", "Y", ""],
        "sex": ["F", "", "M"],
        "staff_group": ["Medical and Dental", "", "Students"],
        "international_recruit": ["N", "Y", ""],
        **{a: ["Y", "N", ""] for a in ANSWERS},
        "engagement_score": ["7.2", "", "10"],
    })
    board = pd.DataFrame({
        "member_id": ["B1", "B2", "B1"],
        "trust_code": ["RXX"] * 3,
        "snapshot_date": ["2024-03-31", "2024-03-31", "2023-03-31"],
        "role": ["chair", "chief_executive", "chair"],
        "voting": ["Y", "Y", "Y"],
        "executive": ["N", "Y", "N"],
        "ethnic_category": ["A", "N", "A"],
        "disability": ["N", "N", "N"],
        "sex": ["F", "M", "F"],
        "has_smart_edi_objectives": ["Y", "N", "Y"],
        "appraised_on_edi_objectives": ["Y", "", "N"],
    })
    external_indicators = pd.DataFrame({
        "trust_code": ["RXX"], "period": ["2024-03-31"],
        "indicator_id": ["nets.combined_indicator_score"], "group": ["All"],
        "value": ["3.2"], "source": ["NHS Oversight Framework"],
    })
    tables = {
        "workforce": workforce, "recruitment": recruitment,
        "employee_relations": employee_relations, "staff_survey": staff_survey,
        "board": board, "external_indicators": external_indicators,
    }
    ids = catalogue_action_ids()
    if ids:
        tables["actions"] = pd.DataFrame({
            "trust_code": ["RXX"], "action_id": [ids[0]], "status": ["in_progress"],
            "owner": ["Chief People Officer"], "evidence": ["Board paper, May 2024"],
            "updated_on": ["2024-05-01"],
        })
    return tables


def write(folder: Path, tables: dict[str, pd.DataFrame], encoding: str = "utf-8") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, df in tables.items():
        df.to_csv(folder / f"{name}.csv", index=False, encoding=encoding, lineterminator="\n")
    return folder


def errors_of(folder: Path, **kw) -> list[str]:
    return [i.format() for i in validate_dataset(folder, **kw).errors]


@pytest.fixture
def tables():
    return valid_tables()


@pytest.fixture
def d(tmp_path):
    """The data folder; issues name files as <folder>/<file>."""
    return tmp_path / "data"


# --------------------------------------------------------------- valid data

def test_valid_dataset_has_no_issues_and_typed_tables(d, tables):
    write(d, tables)
    report = validate_dataset(d)
    assert report.errors == [] and report.warnings == []
    assert report.ok
    ds = report.dataset
    wf = ds.tables["workforce"]
    assert list(wf.columns) == list(tables["workforce"].columns)
    assert wf["trust_code"].dtype == "str"
    assert wf["snapshot_date"].dtype == "datetime64[us]"
    assert wf["fte"].dtype == "float64"
    assert wf["full_pay_relevant"].dtype == "boolean"
    assert ds.tables["staff_survey"]["survey_year"].dtype == "int64"
    # Blank ethnic_category is missing (= not known); blank disability means U.
    assert pd.isna(wf.loc[3, "ethnic_category"])
    assert wf["disability"].tolist() == ["N", "Y", "U", "U"]
    # Y/true/1 and N/0 are booleans; blank is not recorded (NA).
    assert wf["full_pay_relevant"].tolist() == [True, True, True, False]
    assert wf["accessed_nonmandatory_training"].tolist() == [True, False, True, False]
    assert pd.isna(wf.loc[3, "flexible_working"])
    assert wf.loc[2, "snapshot_date"] == pd.Timestamp("2024-03-31")
    assert np.isnan(wf.loc[2, "bonus_pay_12m"])
    er = ds.tables["employee_relations"]
    assert pd.isna(er.loc[1, "closed_date"]) and pd.isna(er.loc[1, "outcome"])


def test_dataset_records_files_and_sha256(d, tables):
    write(d, tables)
    ds = validate_dataset(d).dataset
    assert ds.path == d
    assert ds.files["workforce"] == d / "workforce.csv"
    assert ds.sha256["workforce.csv"] == hashlib.sha256(
        (d / "workforce.csv").read_bytes()).hexdigest()
    assert set(ds.sha256) == {f"{n}.csv" for n in tables}


def test_absent_optional_table_is_a_note_and_an_empty_typed_table(d, tables):
    del tables["external_indicators"]
    write(d, tables)
    report = validate_dataset(d)
    assert report.ok
    assert ("external_indicators: optional table not supplied "
            "(no external_indicators.csv, external_indicators.parquet or external_indicators.xlsx)") in report.notes
    empty = report.dataset.tables["external_indicators"]
    assert len(empty) == 0 and empty["period"].dtype == "datetime64[us]"
    assert "external_indicators" not in report.dataset.files


def test_empty_optional_table_is_allowed(d, tables):
    tables["external_indicators"] = tables["external_indicators"].iloc[:0]
    write(d, tables)
    report = validate_dataset(d)
    assert report.ok
    assert f"{d}/external_indicators.csv: no rows (an optional table may be empty)" in report.notes


def test_byte_order_mark_is_accepted(d, tables):
    write(d, tables, encoding="utf-8-sig")
    assert (d / "workforce.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    report = validate_dataset(d)
    assert report.ok, report.format()
    assert "staff_id" in report.dataset.tables["workforce"].columns


def test_extra_columns_are_ignored_with_a_note(d, tables):
    tables["workforce"]["payroll_number"] = "123"
    tables["workforce"]["notes"] = ""
    write(d, tables)
    report = validate_dataset(d)
    assert report.ok
    assert f"{d}/workforce.csv: extra columns ignored: payroll_number, notes" in report.notes
    assert "notes" not in report.dataset.tables["workforce"].columns


def test_optional_wellbeing_columns_are_kept_and_checked(d, tables):
    tables["workforce"]["flu_vaccinated"] = ["Y", "N", "", "perhaps"]
    write(d, tables)
    assert errors_of(d) == [
        f"{d}/workforce.csv:5: flu_vaccinated: 'perhaps' is not a yes/no value "
        "(expected Y or N; true/false and 1/0 are also accepted)",
    ]
    tables["workforce"]["flu_vaccinated"] = ["Y", "N", "", "1"]
    write(d, tables)
    wf = validate_dataset(d).dataset.tables["workforce"]
    assert wf["flu_vaccinated"].tolist()[:2] == [True, False]


def test_optional_pay_columns_bonus_pay_period_and_specialty(d, tables):
    """bonus_pay_period (SI 2017/353 Sch. 1 para 6) and specialty (Mend the Gap) are optional:
    kept and checked when present, not an 'extra column' and not required."""
    tables["workforce"]["bonus_pay_period"] = ["120.5", "", "-3", "x"]
    tables["workforce"]["specialty"] = ["Cardiology", "", "Surgery", ""]
    write(d, tables)
    assert errors_of(d) == [
        f"{d}/workforce.csv:4: bonus_pay_period: '-3' is negative (must be 0 or more)",
        f"{d}/workforce.csv:5: bonus_pay_period: 'x' is not a number",
    ]
    tables["workforce"]["bonus_pay_period"] = ["120.5", "", "3", "0"]
    write(d, tables)
    report = validate_dataset(d)
    assert report.ok and not any("extra columns" in n for n in report.notes)
    wf = report.dataset.tables["workforce"]
    assert wf["bonus_pay_period"].tolist()[0] == 120.5 and wf["specialty"].tolist()[0] == "Cardiology"


# --------------------------------------------------- whole-table problems

def test_missing_required_table(d, tables):
    del tables["board"]
    write(d, tables)
    report = validate_dataset(d)
    assert [i.format() for i in report.errors] == [
        f"{d}/board.csv:1: -: required table board is missing "
        "(expected board.csv, board.parquet or board.xlsx)",
    ]
    assert report.dataset is None and not report.ok


def test_missing_required_column(d, tables):
    tables["workforce"] = tables["workforce"].drop(columns=["sex", "fte"])
    write(d, tables)
    assert errors_of(d) == [
        f"{d}/workforce.csv:1: sex: required column is missing",
        f"{d}/workforce.csv:1: fte: required column is missing",
    ]


def test_missing_column_hint_when_spelt_differently(d, tables):
    tables["board"] = tables["board"].rename(columns={"member_id": "Member_ID"})
    write(d, tables)
    report = validate_dataset(d)
    assert [i.format() for i in report.errors] == [
        f"{d}/board.csv:1: member_id: required column is missing "
        "(found 'Member_ID': column names are exact and lower case)",
    ]


def test_empty_required_table_is_an_error(d, tables):
    tables["recruitment"] = tables["recruitment"].iloc[:0]
    write(d, tables)
    assert errors_of(d) == [
        f"{d}/recruitment.csv:1: -: the table has no data rows "
        "(recruitment is required and must not be empty)",
    ]


def test_zero_byte_file_is_unreadable(d, tables):
    write(d, tables)
    (d / "board.csv").write_bytes(b"")
    assert errors_of(d) == [
        f"{d}/board.csv:1: -: the file is empty; expected a header row naming the columns",
    ]


def test_unreadable_file(d, tables):
    write(d, tables)
    (d / "board.csv").unlink()
    (d / "board.csv").mkdir()  # a folder where the file should be: cannot be read
    assert errors_of(d) == [f"{d}/board.csv:1: -: cannot read the file: Is a directory"]


def test_corrupt_parquet_is_unreadable(d, tables):
    write(d, tables)
    (d / "board.csv").unlink()
    (d / "board.parquet").write_bytes(b"this is not parquet")
    errors = errors_of(d)
    assert len(errors) == 1
    assert errors[0].startswith(f"{d}/board.parquet:1: -: cannot be read as Parquet: ")


def test_table_in_both_formats_is_an_error(d, tables):
    write(d, tables)
    tables["board"].to_parquet(d / "board.parquet")
    assert errors_of(d) == [
        f"{d}/board.csv:1: -: table 'board' is stored twice (board.csv, board.parquet); keep one",
    ]


def test_not_utf8_reports_the_line(d, tables):
    write(d, tables)
    path = d / "employee_relations.csv"
    lines = path.read_text().splitlines()
    lines[2] = lines[2].replace("C2", "C2-Gaël")  # line 3 of the file
    lines[1] = lines[1].replace("C1", "C1-Zoë")  # line 2
    path.write_bytes(("\n".join(lines) + "\n").encode("latin-1"))
    assert errors_of(d) == [
        f"{d}/employee_relations.csv:2: -: the file is not UTF-8: byte 0xEB on this line "
        "cannot be decoded (save or export the file as UTF-8); 2 lines in all, also line 3",
    ]


def test_wrong_number_of_fields_is_reported_and_other_rows_still_checked(d, tables):
    write(d, tables)
    path = d / "board.csv"
    lines = path.read_text().splitlines()
    lines[1] += ",surplus"          # line 2: one field too many
    lines[3] = lines[3].replace("chair", "queen")  # line 4: still checked
    path.write_text("\n".join(lines) + "\n")
    assert errors_of(d) == [
        f"{d}/board.csv:2: -: has 12 fields but the header has 11; this row was not read",
        f"{d}/board.csv:4: role: 'queen' is not an allowed value "
        "(allowed: chair, chief_executive, executive, non_executive, other)",
    ]


def test_blank_lines_and_quoted_line_breaks_keep_line_numbers_exact(d, tables):
    tables["actions"] = pd.DataFrame({
        "trust_code": ["RXX", "RXX", "RXX"], "action_id": ["x"] * 3,
        "status": ["complete", "in_progress", "done"],
        "owner": ["A", "B", "C"], "evidence": ["one\ntwo\nthree", "", "x"],
        "updated_on": ["2024-01-01", "2024-01-01", "2024-01-01"],
    })
    write(d, tables)
    path = d / "actions.csv"
    text = path.read_text()
    path.write_text(text.replace("\nRXX,x,in_progress", "\n\nRXX,x,in_progress"))
    # line 1 header; lines 2-4 first row (quoted value over three lines);
    # line 5 blank; line 6 second row; line 7 third row.
    errors = [e for e in errors_of(d) if ": action_id: " not in e]
    assert errors == [
        f"{d}/actions.csv:7: status: 'done' is not an allowed value "
        "(allowed: not_started, in_progress, complete, not_applicable)",
    ]


def test_missing_folder(tmp_path):
    report = validate_dataset(tmp_path / "nowhere")
    assert [i.format() for i in report.errors] == [
        f"{tmp_path}/nowhere:1: -: no such folder (expected a folder of table files)"]


# ------------------------------------------------------------ cell problems

@pytest.mark.parametrize("value, message", [
    ("2024-13-01", "'2024-13-01' is not a date (expected YYYY-MM-DD)"),
    ("2024-02-30", "'2024-02-30' is not a date (expected YYYY-MM-DD)"),
    ("31/03/2024", "'31/03/2024' is not a date (expected YYYY-MM-DD)"),
    ("2024-3-31", "'2024-3-31' is not a date (expected YYYY-MM-DD)"),
])
def test_unparsable_date(d, tables, value, message):
    tables["workforce"].loc[2, "snapshot_date"] = value  # row 2 = line 4
    write(d, tables)
    assert errors_of(d) == [f"{d}/workforce.csv:4: snapshot_date: {message}"]


@pytest.mark.parametrize("value", ["abc", "1,5", "£20", "nan", " 1"])
def test_unparsable_number(d, tables, value):
    tables["workforce"].loc[0, "hourly_pay"] = value
    write(d, tables)
    assert errors_of(d) == [f"{d}/workforce.csv:2: hourly_pay: {value!r} is not a number"]


def test_unparsable_whole_number(d, tables):
    tables["staff_survey"].loc[1, "survey_year"] = "2022.5"
    write(d, tables)
    assert errors_of(d) == [
        f"{d}/staff_survey.csv:3: survey_year: '2022.5' is not a whole number"]


def test_code_not_in_list_names_the_allowed_values(d, tables):
    tables["workforce"].loc[12 % 4, "sex"] = "X"
    tables["workforce"].loc[3, "contract_type"] = "zero_hours"
    write(d, tables)
    assert errors_of(d) == [
        f"{d}/workforce.csv:2: sex: 'X' is not an allowed value (allowed: F, M)",
        f"{d}/workforce.csv:5: contract_type: 'zero_hours' is not an allowed value "
        "(allowed: permanent, fixed_term, bank)",
    ]


def test_ethnic_category_message_says_blank_is_allowed(d, tables):
    tables["recruitment"].loc[0, "ethnic_category"] = "W"
    write(d, tables)
    assert errors_of(d) == [
        f"{d}/recruitment.csv:2: ethnic_category: 'W' is not an allowed value "
        "(allowed: A, B, C, D, E, F, G, H, J, K, L, M, N, P, R, S, Z, 99 or blank)"]


def test_every_bad_value_in_a_column_is_listed(d, tables):
    tables["workforce"]["age_band"] = ["16-24", "25-34", "65+", "old"]
    write(d, tables)
    allowed = "(allowed: <25, 25-34, 35-44, 45-54, 55+)"
    assert errors_of(d) == [
        f"{d}/workforce.csv:2: age_band: '16-24' is not an allowed value {allowed}",
        f"{d}/workforce.csv:4: age_band: '65+' is not an allowed value {allowed}",
        f"{d}/workforce.csv:5: age_band: 'old' is not an allowed value {allowed}",
    ]


def test_bad_ods_code(d, tables):
    tables["board"].loc[1, "trust_code"] = "rxx"
    tables["board"].loc[2, "trust_code"] = "RXXXXX"
    write(d, tables)
    msg = "is not an ODS code (3 to 5 capital letters or digits, e.g. RXX)"
    assert errors_of(d) == [
        f"{d}/board.csv:3: trust_code: 'rxx' {msg}",
        f"{d}/board.csv:4: trust_code: 'RXXXXX' {msg}",
    ]


def test_blank_required_value(d, tables):
    tables["workforce"].loc[1, "staff_id"] = ""
    tables["workforce"].loc[1, "sex"] = ""
    write(d, tables)
    assert errors_of(d) == [
        f"{d}/workforce.csv:3: staff_id: is blank; a value is required",
        f"{d}/workforce.csv:3: sex: is blank; a value is required",
    ]


@pytest.mark.parametrize("value", ["0", "1.6", "-0.5"])
def test_fte_range(d, tables, value):
    tables["workforce"].loc[0, "fte"] = value
    write(d, tables)
    assert errors_of(d) == [f"{d}/workforce.csv:2: fte: {value!r} is out of range "
                            "(must be more than 0 and at most 1.5)"]


def test_fte_bounds_are_inclusive_of_one_and_a_half(d, tables):
    tables["workforce"].loc[0, "fte"] = "1.5"
    write(d, tables)
    assert errors_of(d) == []


def test_start_date_after_snapshot(d, tables):
    tables["workforce"].loc[3, "start_date"] = "2024-04-01"
    write(d, tables)
    assert errors_of(d) == [f"{d}/workforce.csv:5: start_date: '2024-04-01' is after "
                            "snapshot_date '2024-03-31'"]


def test_duplicate_staff_id_within_trust_and_snapshot(d, tables):
    tables["workforce"].loc[3, "staff_id"] = "S1"  # S1 already on line 4 (same snapshot)
    write(d, tables)
    assert errors_of(d) == [f"{d}/workforce.csv:5: staff_id: duplicate 'S1' within trust RXX "
                            "snapshot 2024-03-31 (also on line 4)"]


def test_same_staff_id_in_another_trust_is_not_a_duplicate(d, tables):
    tables["workforce"].loc[3, ["staff_id", "trust_code"]] = ["S1", "RYY"]
    write(d, tables)
    assert not any("duplicate" in e for e in errors_of(d))


@pytest.mark.parametrize("table, column, row, first, text", [
    ("recruitment", "application_id", 2, 0, "duplicate 'A1' (also on line 2)"),
    ("employee_relations", "case_id", 1, 0, "duplicate 'C1' (also on line 2)"),
    ("staff_survey", "respondent_id", 1, 0,
     "duplicate 'R1' within trust RXX survey year 2022 (also on line 2)"),
    ("board", "member_id", 1, 0,
     "duplicate 'B1' within trust RXX snapshot 2024-03-31 (also on line 2)"),
])
def test_duplicate_identifiers(d, tables, table, column, row, first, text):
    tables[table].loc[row, column] = tables[table].loc[first, column]
    write(d, tables)
    assert errors_of(d) == [f"{d}/{table}.csv:{row + 2}: {column}: {text}"]


def test_every_repeat_points_at_the_first_occurrence(d, tables):
    tables["recruitment"]["application_id"] = ["A7", "A7", "A7"]
    write(d, tables)
    assert errors_of(d) == [
        f"{d}/recruitment.csv:3: application_id: duplicate 'A7' (also on line 2)",
        f"{d}/recruitment.csv:4: application_id: duplicate 'A7' (also on line 2)",
    ]


def test_appointed_without_shortlisted(d, tables):
    tables["recruitment"].loc[2, "appointed"] = "Y"   # shortlisted N
    tables["recruitment"].loc[1, ["shortlisted", "appointed"]] = ["", "true"]
    write(d, tables)
    assert errors_of(d) == [
        f"{d}/recruitment.csv:3: appointed: is 'true' but shortlisted is blank "
        "(appointed requires shortlisted Y)",
        f"{d}/recruitment.csv:4: appointed: is 'Y' but shortlisted is 'N' "
        "(appointed requires shortlisted Y)",
    ]


def test_closed_date_before_start_date(d, tables):
    tables["employee_relations"].loc[0, "closed_date"] = "2023-05-31"
    write(d, tables)
    assert errors_of(d) == [f"{d}/employee_relations.csv:2: closed_date: '2023-05-31' is "
                            "before start_date '2023-06-01'"]


def test_negative_pay_and_bonus(d, tables):
    tables["workforce"].loc[0, "hourly_pay"] = "-16.5"
    tables["workforce"].loc[1, "bonus_pay_12m"] = "-1"
    write(d, tables)
    assert errors_of(d) == [
        f"{d}/workforce.csv:2: hourly_pay: '-16.5' is negative (must be 0 or more)",
        f"{d}/workforce.csv:3: bonus_pay_12m: '-1' is negative (must be 0 or more)",
    ]


def test_hourly_pay_must_be_positive_where_full_pay_relevant(d, tables):
    tables["workforce"].loc[0, "hourly_pay"] = "0"
    tables["workforce"].loc[1, "hourly_pay"] = ""
    # Row 3 (line 5) has hourly_pay 0 with full_pay_relevant N: allowed.
    write(d, tables)
    assert errors_of(d) == [
        f"{d}/workforce.csv:2: hourly_pay: '0' but must be more than 0 where "
        "full_pay_relevant is Y",
        f"{d}/workforce.csv:3: hourly_pay: is blank but must be more than 0 where "
        "full_pay_relevant is Y",
    ]


def test_engagement_score_range(d, tables):
    tables["staff_survey"].loc[0, "engagement_score"] = "10.5"
    write(d, tables)
    assert errors_of(d) == [f"{d}/staff_survey.csv:2: engagement_score: '10.5' is out of "
                            "range (must be at least 0 and at most 10)"]


def test_bad_boolean(d, tables):
    tables["staff_survey"].loc[2, "belonging"] = "Yes"
    write(d, tables)
    assert errors_of(d) == [f"{d}/staff_survey.csv:4: belonging: 'Yes' is not a yes/no value "
                            "(expected Y or N; true/false and 1/0 are also accepted)"]


def test_unparsable_cell_is_reported_once(d, tables):
    # Not a date, and the column needs a value: one error, not two.
    tables["workforce"].loc[0, "start_date"] = "unknown"
    write(d, tables)
    assert errors_of(d) == [
        f"{d}/workforce.csv:2: start_date: 'unknown' is not a date (expected YYYY-MM-DD)"]


@pytest.mark.skipif(catalogue_action_ids() is None, reason="action catalogue not installed")
def test_action_not_in_catalogue(d, tables):
    ids = catalogue_action_ids()
    tables["actions"].loc[0, "action_id"] = ids[0] + "x"
    write(d, tables)
    assert errors_of(d) == [
        f"{d}/actions.csv:2: action_id: {ids[0] + 'x'!r} is not an action in the catalogue "
        f"(did you mean {ids[0]!r}? the {len(ids)} action ids are listed in "
        "src/edi_analysis/catalogue/actions.yaml)"]


# ----------------------------------------------------------- across tables

def test_case_for_unknown_staff_is_a_warning_not_an_error(d, tables):
    tables["employee_relations"].loc[1, "staff_id"] = "S9"
    write(d, tables)
    report = validate_dataset(d)
    assert report.ok and report.errors == []
    assert [i.format() for i in report.warnings] == [
        f"{d}/employee_relations.csv:3: staff_id: 'S9' is not in any workforce snapshot of "
        "trust RXX (joined and left between snapshots? the case counts in outcomes, not in "
        "WRES 3 / WDES 3, which count in-scope staff in a snapshot)"]
    assert report.warnings[0].level == "warning"
    assert report.dataset is not None


def test_case_staff_must_be_in_the_same_trust(d, tables):
    tables["employee_relations"].loc[0, "trust_code"] = "RYY"
    write(d, tables)
    assert [i.format() for i in validate_dataset(d).warnings] == [
        f"{d}/employee_relations.csv:2: staff_id: 'S1' is not in any workforce snapshot of "
        "trust RYY (joined and left between snapshots? the case counts in outcomes, not in "
        "WRES 3 / WDES 3, which count in-scope staff in a snapshot)"]


def test_period_without_snapshot_is_reported_against_the_params_file(d, tables, tmp_path):
    write(d, tables)
    params = tmp_path / "params.yaml"
    params.write_text("data: data\nperiods:\n  - 2024-03-31\n  - 2025-03-31\n")
    report = validate_dataset(d, periods=["2024-03-31", "2025-03-31"], params_file=params)
    assert [i.format() for i in report.errors] == [
        f"{params}:4: periods: period 2025-03-31 has no workforce snapshot "
        f"(snapshot dates in {d}/workforce.csv: 2023-03-31, 2024-03-31)"]


def test_period_without_snapshot_and_no_params_file(d, tables):
    write(d, tables)
    assert errors_of(d, periods=["2022-03-31", "2024-03-31"]) == [
        f"{d}/workforce.csv:1: snapshot_date: period 2022-03-31 has no workforce snapshot "
        f"(snapshot dates in {d}/workforce.csv: 2023-03-31, 2024-03-31)"]


def test_period_that_is_not_a_date(d, tables):
    write(d, tables)
    assert errors_of(d, periods=["2024-03-32"]) == [
        f"{d}/workforce.csv:1: snapshot_date: '2024-03-32' is not a date (expected YYYY-MM-DD)"]


# ------------------------------------------------------------ all at once

def test_all_problems_in_all_files_are_reported_together(d, tables):
    tables["workforce"].loc[1, "sex"] = "X"
    tables["workforce"].loc[0, "fte"] = "2"
    tables["recruitment"].loc[0, "applied_date"] = "yesterday"
    tables["board"].loc[2, "role"] = "king"
    del tables["staff_survey"]
    write(d, tables)
    report = validate_dataset(d, periods=["2020-03-31"])
    assert [i.format() for i in report.errors] == [
        f"{d}/workforce.csv:1: snapshot_date: period 2020-03-31 has no workforce snapshot "
        f"(snapshot dates in {d}/workforce.csv: 2023-03-31, 2024-03-31)",
        f"{d}/workforce.csv:2: fte: '2' is out of range (must be more than 0 and at most 1.5)",
        f"{d}/workforce.csv:3: sex: 'X' is not an allowed value (allowed: F, M)",
        f"{d}/recruitment.csv:2: applied_date: 'yesterday' is not a date (expected YYYY-MM-DD)",
        f"{d}/staff_survey.csv:1: -: required table staff_survey is missing "
        "(expected staff_survey.csv, staff_survey.parquet or staff_survey.xlsx)",
        f"{d}/board.csv:4: role: 'king' is not an allowed value "
        "(allowed: chair, chief_executive, executive, non_executive, other)",
    ]


def test_load_valid_dataset_raises_with_the_report(d, tables):
    tables["workforce"].loc[1, "sex"] = "X"
    write(d, tables)
    with pytest.raises(DataValidationError) as err:
        load_valid_dataset(d)
    assert err.value.report.errors[0].format() == (
        f"{d}/workforce.csv:3: sex: 'X' is not an allowed value (allowed: F, M)")
    assert "invalid: 1 error, 0 warnings" in str(err.value)


def test_load_valid_dataset_returns_the_dataset(d, tables):
    write(d, tables)
    assert len(load_valid_dataset(d, periods=["2024-03-31"]).tables["workforce"]) == 4


# ----------------------------------------------------------------- Parquet

def typed_copy(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The tables with the types a Parquet producer would store (dates, bools, floats, ints)."""
    ds_dir_free = {}
    for name, df in tables.items():
        out = df.copy()
        for c in out.columns:
            if c.endswith("_date") or c in ("period", "updated_on"):
                out[c] = pd.to_datetime(out[c].replace("", None))
            elif c in ("fte", "hourly_pay", "bonus_pay_12m", "sickness_days_12m",
                       "available_days_12m", "engagement_score", "value"):
                out[c] = pd.to_numeric(out[c].replace("", None))
            elif c == "survey_year":
                out[c] = out[c].astype("int64")
            elif set(out[c]) <= {"Y", "N", "", "true", "1", "0"} and c not in (
                    "disability", "sex", "ethnic_category"):
                out[c] = out[c].map({"Y": True, "true": True, "1": True, "N": False,
                                     "0": False, "": None}).astype("boolean")
        ds_dir_free[name] = out
    return ds_dir_free


def test_parquet_with_native_types_gives_the_same_dataset_as_csv(tmp_path, tables):
    csv_ds = validate_dataset(write(tmp_path / "csv", tables)).dataset
    pq_dir = tmp_path / "pq"
    pq_dir.mkdir()
    for name, df in typed_copy(tables).items():
        df.to_parquet(pq_dir / f"{name}.parquet", index=False)
    report = validate_dataset(pq_dir)
    assert report.ok, report.format()
    for name in tables:
        pd.testing.assert_frame_equal(report.dataset.tables[name], csv_ds.tables[name])
    assert set(report.dataset.sha256) == {f"{n}.parquet" for n in tables}


def test_parquet_rows_are_numbered_like_csv_lines(tmp_path, tables):
    pq_dir = tmp_path / "pq"
    pq_dir.mkdir()
    typed = typed_copy(tables)
    typed["workforce"].loc[2, "sex"] = "X"
    typed["workforce"].loc[3, "fte"] = 2.0
    for name, df in typed.items():
        df.to_parquet(pq_dir / f"{name}.parquet", index=False)
    assert errors_of(pq_dir) == [
        f"{pq_dir}/workforce.parquet:4: sex: 'X' is not an allowed value (allowed: F, M)",
        f"{pq_dir}/workforce.parquet:5: fte: '2.0' is out of range "
        "(must be more than 0 and at most 1.5)",
    ]


def test_parquet_of_text_columns_is_parsed_like_csv(tmp_path, tables):
    pq_dir = tmp_path / "pq"
    pq_dir.mkdir()
    tables["board"].loc[0, "snapshot_date"] = "2024-31-03"
    for name, df in tables.items():
        df.to_parquet(pq_dir / f"{name}.parquet", index=False)
    assert errors_of(pq_dir) == [
        f"{pq_dir}/board.parquet:2: snapshot_date: '2024-31-03' is not a date "
        "(expected YYYY-MM-DD)"]


# ------------------------------------------------------------- real sample

@pytest.mark.skipif(not (REPO / "data" / "sample" / "workforce.csv").exists(),
                    reason="data/sample has not been generated")
def test_committed_sample_validates():
    report = validate_dataset(REPO / "data" / "sample")
    assert report.errors == [], report.format()


def test_docs_column_reference_matches_the_schemas():
    from edi_analysis.contract.describe import markdown

    docs = (REPO / "docs" / "validation.md").read_text(encoding="utf-8")
    assert markdown() in docs, "regenerate: python -m edi_analysis.contract.describe"


def test_semicolon_separated_file_is_named_as_such(d, tables):
    write(d, tables)
    tables["board"].to_csv(d / "board.csv", index=False, sep=";")
    assert errors_of(d) == [f"{d}/board.csv:1: -: the header is separated by semicolons, "
                            "not commas (save the file as comma-separated values)"]


def test_repeated_column_name_in_header(d, tables):
    write(d, tables)
    path = d / "board.csv"
    lines = path.read_text().splitlines()
    lines[0] = lines[0].replace("voting,executive", "voting,voting")
    path.write_text("\n".join(lines) + "\n")
    assert errors_of(d) == [
        f"{d}/board.csv:1: voting: this column name appears more than once in the header"]


def test_windows_line_endings_and_trailing_blank_lines(d, tables):
    tables["board"].loc[1, "role"] = "king"
    write(d, tables)
    path = d / "board.csv"
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n") + b"\r\n\r\n")
    assert errors_of(d) == [f"{d}/board.csv:3: role: 'king' is not an allowed value "
                            "(allowed: chair, chief_executive, executive, non_executive, other)"]


def test_unterminated_quote_swallows_the_rest_of_the_file_as_one_bad_row(d, tables):
    write(d, tables)
    path = d / "board.csv"
    path.write_text(path.read_text() + '"B9,RXX\n')  # line 5: the quote never closes
    assert errors_of(d) == [
        f"{d}/board.csv:5: -: has 1 field but the header has 11; this row was not read"]


def test_parquet_categorical_columns_are_read_as_text(tmp_path, tables):
    pq_dir = tmp_path / "pq"
    pq_dir.mkdir()
    for name, df in tables.items():
        if name == "workforce":
            df = df.astype({"sex": "category", "staff_group": "category"})
        df.to_parquet(pq_dir / f"{name}.parquet", index=False)
    report = validate_dataset(pq_dir)
    assert report.ok, report.format()
    assert report.dataset.tables["workforce"]["sex"].dtype == "str"


def test_parquet_column_of_an_unreadable_type(tmp_path, tables):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq_dir = write(tmp_path / "pq", tables)
    (pq_dir / "board.csv").unlink()
    board = pa.Table.from_pandas(tables["board"], preserve_index=False)
    at = board.schema.get_field_index("snapshot_date")
    board = board.set_column(at, "snapshot_date", pa.array([[1], [2], [3]]))
    pq.write_table(board, pq_dir / "board.parquet")
    assert errors_of(pq_dir) == [
        f"{pq_dir}/board.parquet:1: snapshot_date: is stored as list<element: int64>, "
        "which cannot be read as a date"]
