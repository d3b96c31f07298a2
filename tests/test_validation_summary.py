"""The command line's readable validation summary and the survey-year/snapshot warning
(issue 15): thousands of errors of one kind read as one line with a hint."""

from __future__ import annotations

import pandas as pd
import pytest

from edi_analysis import cli
from edi_analysis.contract import validate_dataset
from edi_analysis.contract.report import Issue, ValidationReport, group_issues, summary_lines

from test_contract import valid_tables, write


@pytest.fixture
def tables():
    return valid_tables()


def _dayfirst(tables, n=30):
    """The workforce of one trust re-saved with DD/MM/YYYY dates (the issue's ZZ002 case)."""
    wf = pd.concat([tables["workforce"]] * (n // 4 + 1), ignore_index=True).iloc[:n].copy()
    wf["staff_id"] = [f"S{i}" for i in range(len(wf))]
    wf["snapshot_date"] = "31/03/2024"
    tables["workforce"] = wf
    return tables


def test_many_errors_are_summarised_per_column_and_problem_with_a_hint(tmp_path, tables,
                                                                     capsys):
    d = write(tmp_path / "d", _dayfirst(tables))
    assert cli.main(["validate", str(d)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "30 errors of 1 kinds, by file, column and problem:"
    assert err[1] == (f"  {d}/workforce.csv: snapshot_date: value is not a date (expected "
                      "YYYY-MM-DD): 30 rows (lines 2, 3, 4, ...); e.g. '31/03/2024'")
    assert err[2] == ("      hint: these look like DD/MM/YYYY; re-export as YYYY-MM-DD or set "
                      "`date_format: dayfirst` in the mapping profile")
    assert err[3] == "the first 20 of 30 errors:"
    assert err[4] == f"{d}/workforce.csv:2: snapshot_date: '31/03/2024' is not a date " \
                     "(expected YYYY-MM-DD)"
    assert err[24] == ("... and 10 more errors and 0 warnings (--all prints every one; "
                       "--errors-to FILE writes them to a file)")
    assert sum("is not a date" in line for line in err) == 21


def test_all_and_errors_to_give_every_problem(tmp_path, tables, capsys):
    d = write(tmp_path / "d", _dayfirst(tables))
    assert cli.main(["validate", str(d), "--all"]) == 1
    assert sum("is not a date" in x for x in capsys.readouterr().err.splitlines()) == 30
    listing = tmp_path / "errors.txt"
    assert cli.main(["validate", str(d), "--errors-to", str(listing)]) == 1
    assert f"every problem is in {listing}" in capsys.readouterr().err
    lines = listing.read_text().splitlines()
    errors = [x for x in lines if "is not a date" in x]
    assert len(errors) == 30 and errors[29].startswith(f"{d}/workforce.csv:31: snapshot_date:")
    assert all(x.startswith("note: ") for x in lines[30:])   # then the notes


def test_few_errors_are_listed_as_before(tmp_path, tables, capsys):
    d = write(tmp_path / "d", _dayfirst(tables, n=4))
    assert cli.main(["validate", str(d)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0] == f"{d}/workforce.csv:2: snapshot_date: '31/03/2024' is not a date " \
                     "(expected YYYY-MM-DD)"
    assert not any("hint" in line for line in err)


@pytest.mark.parametrize("values, hint", [
    (["'03/31/2024'", "'12/25/2023'"], "these look like MM/DD/YYYY (US order)"),
    (["'45382'", "'45383.0'"], "Excel date serial numbers"),
])
def test_date_hints(values, hint):
    issues = [Issue("w.csv", i + 2, "start_date", f"{v} is not a date (expected YYYY-MM-DD)")
              for i, v in enumerate(values)]
    (group,) = group_issues(issues)
    assert hint in group.hint


def test_money_hint_and_grouping_ignores_cited_lines():
    issues = [Issue("w.csv", 2, "hourly_pay", "'£16.50' is not a number"),
              Issue("w.csv", 3, "hourly_pay", "'1,234.50' is not a number"),
              Issue("w.csv", 4, "staff_id", "duplicate 'S1' within trust RXX (also on line 2)"),
              Issue("w.csv", 5, "staff_id", "duplicate 'S2' within trust RXX (also on line 3)")]
    groups = group_issues(issues)
    assert [len(g.lines) for g in groups] == [2, 2]
    assert groups[0].hint.startswith("remove currency signs and thousands separators")
    lines = summary_lines(ValidationReport(errors=issues), limit=1)
    assert lines[2] == ("  w.csv: staff_id: duplicate '…' within trust RXX (line N): 2 rows "
                        "(lines 4, 5); e.g. 'S1', 'S2'")


# ------------------------------------------------------------- survey year vs snapshots

def test_survey_year_matching_no_snapshot_is_a_warning_naming_both(tmp_path, tables):
    """The issue's case: survey 2024 beside snapshots 2024-03-31 and 2025-03-31 (the 2024
    snapshot wants survey 2023)."""
    wf = tables["workforce"]
    wf["snapshot_date"] = wf["snapshot_date"].map({"2023-03-31": "2024-03-31",
                                                   "2024-03-31": "2025-03-31"})
    wf["start_date"] = "2015-08-01"
    for t in ("board",):
        tables[t]["snapshot_date"] = tables[t]["snapshot_date"].map(
            {"2023-03-31": "2024-03-31", "2024-03-31": "2025-03-31"})
    tables["staff_survey"]["survey_year"] = ["2024", "2024", "2022"]
    d = write(tmp_path / "d", tables)
    report = validate_dataset(d)
    assert report.errors == []
    assert [i.format() for i in report.warnings if i.column == "survey_year"] == [
        f"{d}/staff_survey.csv:4: survey_year: survey year 2022 of trust RXX matches no "
        "workforce snapshot (snapshots: 2024-03-31, 2025-03-31; a snapshot of 31 March Y uses "
        "the survey of year Y - 1, so 2022 serves 2023-03-31): its answers are not reported; "
        "was it labelled by the snapshot year?",
        f"{d}/staff_survey.csv:4: survey_year: snapshot 2024-03-31 of trust RXX has no survey "
        "2023 (survey years present: 2022, 2024): that period gets no survey figures",
    ]


def test_survey_years_that_line_up_give_no_warning(tmp_path, tables):
    report = validate_dataset(write(tmp_path / "d", tables))
    assert not [i for i in report.warnings if i.column == "survey_year"]
