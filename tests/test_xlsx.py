"""Excel workbooks as input tables (issue 15, "In"): read like their CSV twin, messages with
the workbook's row numbers, and a clear message for files that are nearly right."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
import xlsxwriter

from edi_analysis import cli, sample, xlsx
from edi_analysis.contract import validate_dataset

from test_contract import errors_of, valid_tables, write

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def tables():
    return valid_tables()


@pytest.fixture
def d(tmp_path):
    return tmp_path / "data"


def write_xlsx(folder: Path, tables: dict[str, pd.DataFrame], only=None) -> Path:
    """Each table as NAME.xlsx with number and date cells (as saved from Excel)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, df in tables.items():
        if only and name not in only:
            continue
        xlsx.write_table(folder / f"{name}.xlsx", df, kinds=xlsx.table_kinds(name))
    return folder


def as_workbook(d: Path, tables, name="workforce"):
    """All tables as CSV except ``name``, which is a workbook."""
    write(d, {k: v for k, v in tables.items() if k != name})
    write_xlsx(d, tables, only=[name])


def test_workbooks_give_the_same_typed_dataset_as_csv(tmp_path, tables):
    csv_report = validate_dataset(write(tmp_path / "csv", tables))
    xlsx_report = validate_dataset(write_xlsx(tmp_path / "xlsx", tables))
    assert csv_report.errors == [] and xlsx_report.errors == []
    for name, frame in csv_report.dataset.tables.items():
        pd.testing.assert_frame_equal(xlsx_report.dataset.tables[name], frame, obj=name)
    assert set(xlsx_report.dataset.sha256) == {f"{n}.xlsx" for n in tables}


def test_sample_as_workbooks_gives_byte_identical_metrics_csv(tmp_path):
    """The issue's test: an xlsx dataset and its CSV twin give byte-identical metrics.csv."""
    csv_dir, xlsx_dir = tmp_path / "csv", tmp_path / "xlsx"
    sample.write_sample(csv_dir, trusts=2, staff=900, fmt="csv")
    sample.write_sample(xlsx_dir, trusts=2, staff=900, fmt="xlsx")
    assert sorted(p.suffix for p in xlsx_dir.iterdir() if not p.name.startswith(".")) == [".xlsx"] * 8
    outs = []
    for folder in (csv_dir, xlsx_dir):
        out = tmp_path / f"{folder.name}.csv"
        assert cli.main(["metrics", str(folder), "--period", "2023-03-31", "--period",
                         "2024-03-31", "-o", str(out)]) == 0
        outs.append(out.read_bytes())
    assert len(outs[0]) > 10_000
    assert outs[0] == outs[1]


def test_messages_name_the_workbook_and_its_row(d, tables):
    tables["workforce"].loc[1, "hourly_pay"] = "£52.10"   # text in a number column: Excel row 3
    tables["workforce"].loc[2, "sex"] = "X"
    as_workbook(d, tables)
    assert errors_of(d) == [
        f"{d}/workforce.xlsx:3: hourly_pay: '£52.10' is not a number",
        f"{d}/workforce.xlsx:4: sex: 'X' is not an allowed value (allowed: F, M)",
    ]


def test_number_cells_are_read_exactly_and_checked(d, tables):
    tables["workforce"].loc[0, "hourly_pay"] = "1e12"    # a number cell: implausible
    tables["workforce"].loc[1, "fte"] = "0.3333333333333333"   # Excel shows 0.333333333
    as_workbook(d, tables)
    errors = errors_of(d)
    assert errors == [f"{d}/workforce.xlsx:2: hourly_pay: '1000000000000.0' is implausibly "
                      "high (more than 1,000: about five times the best-paid NHS chief "
                      "executive's hourly rate; is it annual pay, or in pence?)"]
    tables["workforce"].loc[0, "hourly_pay"] = "16.5"
    as_workbook(d, tables)
    wf = validate_dataset(d).dataset.tables["workforce"]
    assert wf.loc[1, "fte"] == 1 / 3                      # not the 9 digits Excel shows


def _workbook_as_text(path: Path, frame: pd.DataFrame, name: str, edit=None) -> None:
    """A workbook whose number columns are number cells and every other cell text;
    ``edit(workbook, worksheet)`` then overwrites cells."""
    kinds = xlsx.table_kinds(name)
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet(name)
    ws.write_row(0, 0, list(frame.columns))
    for r, row in enumerate(frame.itertuples(index=False), start=1):
        for c, (column, value) in enumerate(zip(frame.columns, row)):
            if value == "":
                continue
            if kinds[column] == "number":
                ws.write_number(r, c, float(value))
            else:
                ws.write_string(r, c, value)
    if edit:
        edit(wb, ws)
    wb.close()


def test_dates_typed_as_text_and_as_date_cells_are_both_read(d, tables):
    """A date cell is a date (a time of day is dropped); ISO text in a date column is parsed
    like a CSV cell; other text (31/03/2023) is an error with its row."""
    write(d, {k: v for k, v in tables.items() if k != "workforce"})
    wf = tables["workforce"]
    col = list(wf.columns).index("snapshot_date")

    def date_cell(wb, ws):
        ws.write_datetime(1, col, dt.datetime(2023, 3, 31, 14, 5),
                          wb.add_format({"num_format": "dd/mm/yyyy"}))

    def and_bad_text(wb, ws):
        date_cell(wb, ws)
        ws.write_string(2, col, "31/03/2023")

    _workbook_as_text(d / "workforce.xlsx", wf, "workforce", and_bad_text)
    assert errors_of(d) == [
        f"{d}/workforce.xlsx:3: snapshot_date: '31/03/2023' is not a date (expected YYYY-MM-DD)"]
    _workbook_as_text(d / "workforce.xlsx", wf, "workforce", date_cell)
    got = validate_dataset(d).dataset.tables["workforce"]
    want = validate_dataset(write(d.parent / "csv", tables)).dataset.tables["workforce"]
    pd.testing.assert_frame_equal(got, want)


def test_whole_number_cell_with_a_fraction_is_an_error_not_truncated(d, tables):
    tables["staff_survey"].loc[0, "survey_year"] = "2022.5"
    as_workbook(d, tables, "staff_survey")
    assert errors_of(d) == [f"{d}/staff_survey.xlsx:2: survey_year: '2022.5' is not a whole "
                            "number"]


def test_blank_rows_are_skipped_and_rows_keep_the_sheets_numbers(d, tables):
    wf = tables["workforce"]
    blank = pd.DataFrame([[""] * wf.shape[1]], columns=wf.columns)
    tables["workforce"] = pd.concat([wf.iloc[:2], blank, blank, wf.iloc[2:]], ignore_index=True)
    tables["workforce"].loc[5, "sex"] = "X"                # the last row: Excel row 7
    as_workbook(d, tables)
    assert errors_of(d) == [f"{d}/workforce.xlsx:7: sex: 'X' is not an allowed value "
                            "(allowed: F, M)"]
    assert len(validate_dataset(d).errors) == 1


def test_header_below_empty_rows_keeps_excel_row_numbers(d, tables):
    write(d, {k: v for k, v in tables.items() if k != "board"})
    board = tables["board"]
    board.loc[1, "role"] = "trustee"
    wb = xlsxwriter.Workbook(str(d / "board.xlsx"))
    ws = wb.add_worksheet("board")
    ws.write_row(2, 0, list(board.columns))                # header on row 3
    for r, row in enumerate(board.itertuples(index=False), start=3):
        ws.write_row(r, 0, [v for v in row])
    wb.close()
    report = validate_dataset(d)
    assert [i.format() for i in report.errors] == [
        f"{d}/board.xlsx:5: role: 'trustee' is not an allowed value (allowed: chair, "
        "chief_executive, executive, non_executive, other)"]
    assert f"{d}/board.xlsx: the header is on row 3 of sheet 'board' (the rows above it are " \
           "empty); lines are the sheet's row numbers" in report.notes


def test_the_sheet_named_like_the_table_is_read_else_the_first(d, tables):
    write(d, {k: v for k, v in tables.items() if k != "board"})
    wb = xlsxwriter.Workbook(str(d / "board.xlsx"))
    wb.add_worksheet("Notes").write(0, 0, "Exported from ESR on 2024-04-02")
    ws = wb.add_worksheet("board")
    ws.write_row(0, 0, list(tables["board"].columns))
    for r, row in enumerate(tables["board"].itertuples(index=False), start=1):
        ws.write_row(r, 0, list(row))
    wb.close()
    report = validate_dataset(d)
    assert report.errors == []
    assert len(report.dataset.tables["board"]) == 3
    assert (f"{d}/board.xlsx: read sheet 'board' (the workbook has 2 sheets: 'Notes', "
            "'board')") in report.notes


def test_a_table_in_a_workbook_and_a_csv_is_ambiguous(d, tables):
    write(d, tables)
    write_xlsx(d, tables, only=["board"])
    assert errors_of(d) == [f"{d}/board.csv:1: -: table 'board' is stored twice "
                            "(board.csv, board.xlsx); keep one"]


def test_duplicate_column_in_a_workbook_header(d, tables):
    tables["board"] = tables["board"].set_axis(
        [*tables["board"].columns[:-1], "voting"], axis=1)
    as_workbook(d, tables, "board")
    errors = errors_of(d)
    assert errors == [f"{d}/board.xlsx:1: voting: this column name appears more than once in "
                      "the header"]


# ------------------------------------------------------ files that are nearly right

def test_workbook_renamed_csv_says_what_it_is(d, tables):
    as_workbook(d, tables)
    (d / "workforce.xlsx").rename(d / "workforce.csv")
    assert errors_of(d) == [
        f"{d}/workforce.csv:1: -: this is an Excel workbook (or another zip archive), not a CSV "
        "file: rename it workforce.xlsx to have it read as a workbook, or save it from Excel as "
        "'CSV UTF-8 (Comma delimited)'"]


def test_csv_renamed_xlsx_says_what_it_is(d, tables):
    write(d, tables)
    (d / "board.csv").rename(d / "board.xlsx")
    assert errors_of(d) == [
        f"{d}/board.xlsx:1: -: cannot be read as an Excel workbook (.xlsx): it is not one (an "
        "old .xls, or a CSV named .xlsx?); save it from Excel as 'Excel Workbook (.xlsx)' or "
        "as CSV UTF-8"]


@pytest.mark.parametrize("found, advice", [
    ("workforce.CSV", "file names are exact and lower case: rename it workforce.csv"),
    ("Workforce.xlsx", "file names are exact and lower case: rename it workforce.xlsx"),
    ("workforce.xls", "the old Excel format (.xls) is not read: save it from Excel as "
                      "'Excel Workbook (.xlsx)' or as 'CSV UTF-8 (Comma delimited)'"),
    ("workforce.tsv", "tab-separated files are not read: save it as comma-separated values "
                      "(.csv)"),
])
def test_a_file_nearly_named_right_is_named_in_the_message(d, tables, found, advice):
    write(d, tables)
    (d / "workforce.csv").rename(d / found)
    assert errors_of(d) == [f"{d}/{found}:1: -: table workforce is missing: found {found} but "
                            f"{advice}"]


def test_optional_table_nearly_named_right_is_an_error_not_a_silent_absence(d, tables):
    write(d, tables)
    (d / "actions.csv").rename(d / "Actions.csv")
    assert errors_of(d) == [f"{d}/Actions.csv:1: -: found Actions.csv but file names are exact "
                            "and lower case: rename it actions.csv"]


def test_full_sheet_is_reported_as_probably_cut_off(monkeypatch, d, tables):
    """Excel stops at 1,048,576 rows: a sheet that reaches it lost the rest of the export.
    (The limit is lowered here so the test writes a small workbook.)"""
    from edi_analysis.contract import reading

    monkeypatch.setattr(reading, "_MAX_SHEET_ROWS", 4)
    as_workbook(d, tables, "board")                         # header + 3 rows = row 4
    assert errors_of(d) == [f"{d}/board.xlsx:4: -: sheet 'board' is full (Excel holds at most "
                            "4 rows): the export was probably cut off there; export the table "
                            "as CSV instead"]


def test_sample_data_command_writes_workbooks(tmp_path):
    out = tmp_path / "s"
    assert cli.main(["sample-data", str(out), "--format", "xlsx", "--trusts", "1",
                     "--staff", "200"]) == 0
    assert validate_dataset(out).errors == []
