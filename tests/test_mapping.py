"""Mapping profiles (issue 15, "In"): a hand-made ESR-style export through the shipped ``esr``
profile gives the contract's workforce table, and its mistakes give clear errors; profiles
are checked; ``import`` writes contract tables atomically and refuses to overwrite."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from edi_analysis import cli, importer, xlsx
from edi_analysis.contract import validate_dataset
from edi_analysis.contract.mapping import MappingError, load_profile, resolve

from test_contract import errors_of, valid_tables, write

NOT_IN_A_STAFF_LIST = ("accessed_nonmandatory_training", "flexible_working",
                       "international_recruit", "sickness_days_12m", "available_days_12m")

ETHNIC = {"A": "A White - British", "M": "M Black or Black British - Caribbean", "": ""}
DISABILITY = {"N": "No", "Y": "Yes", "": "", "U": "Not Declared"}
CONTRACT = {"permanent": "Permanent", "fixed_term": "Fixed Term Temp", "bank": "Bank"}
AGE = {"25-34": "30", "45-54": "50", "55+": "61"}
FPR = {"Y": "Yes", "true": "Y", "N": "No"}


def esr_rows(wf: pd.DataFrame) -> pd.DataFrame:
    """The contract workforce rows as an ESR BI staff list would hold them."""
    return pd.DataFrame({
        "Employee Number": wf["staff_id"],
        "Assignment Number": wf["staff_id"] + "-1",
        "Primary": "Y",
        "Ethnic Origin": wf["ethnic_category"].map(ETHNIC),
        "Gender": wf["sex"].map({"F": "Female", "M": "Male"}),
        "Disability": wf["disability"].map(DISABILITY),
        "Staff Group": wf["staff_group"],
        "Pay Band": wf["pay_band"],
        "Assignment Category": wf["contract_type"].map(CONTRACT),
        "FTE": wf["fte"],
        "Hire Date": wf["start_date"],
        "Age": wf["age_band"].map(AGE),
        "Hourly Rate": wf["hourly_pay"],
        "Full Pay Relevant": wf["full_pay_relevant"].map(FPR),
        "Bonus Pay": wf["bonus_pay_12m"],
        "Org L3": "Surgery",
    })


def write_esr_export(folder: Path, tables) -> Path:
    """Snapshot 2023 as CSV (with a second, non-primary assignment), 2024 as a workbook;
    the other tables contract-shaped."""
    write(folder, {k: v for k, v in tables.items() if k != "workforce"})
    wf = tables["workforce"]
    y23 = esr_rows(wf[wf["snapshot_date"] == "2023-03-31"])
    extra = y23.iloc[[1]].assign(**{"Assignment Number": "S2-2", "Primary": "N",
                                    "Ethnic Origin": "not a label anyone mapped",
                                    "Assignment Category": "Bank", "FTE": "0.2"})
    y23 = pd.concat([y23.iloc[:1], extra, y23.iloc[1:]], ignore_index=True)   # line 3
    y23.to_csv(folder / "esr-staff-list-2023-03-31.csv", index=False, lineterminator="\n")
    y24 = esr_rows(wf[wf["snapshot_date"] == "2024-03-31"]).reset_index(drop=True)
    xlsx.write_table(folder / "esr-staff-list-2024-03-31.xlsx", y24, sheet="Staff List",
                     kinds={"FTE": "number", "Hourly Rate": "number", "Bonus Pay": "number",
                            "Hire Date": "date"})
    return folder


@pytest.fixture
def tables():
    return valid_tables()


@pytest.fixture
def src(tmp_path, tables):
    return write_esr_export(tmp_path / "esr", tables)


def expected_workforce(tmp_path, tables) -> pd.DataFrame:
    wf = tables["workforce"].copy()
    for col in NOT_IN_A_STAFF_LIST:
        wf[col] = ""
    folder = write(tmp_path / "contract", {**tables, "workforce": wf})
    return validate_dataset(folder).dataset.tables["workforce"]


def test_esr_export_through_the_esr_profile_gives_the_contract_table(tmp_path, tables, src):
    report = validate_dataset(src, mapping="esr", settings={"trust_code": "RXX"})
    assert [i.format() for i in report.errors] == []
    got = report.dataset.tables["workforce"]
    pd.testing.assert_frame_equal(got, expected_workforce(tmp_path, tables))
    assert (f"{src}/esr-staff-list-2023-03-31.csv: 1 row left out because 'Primary' is not "
            "'Y' or 'Yes' (profile esr: e.g. non-primary assignments)") in report.notes
    assert set(report.dataset.sha256) >= {"esr-staff-list-2023-03-31.csv",
                                          "esr-staff-list-2024-03-31.xlsx"}


def test_unmapped_label_is_one_error_with_its_count_and_first_line(src):
    y24 = src / "esr-staff-list-2024-03-31.xlsx"
    frame = esr_rows(valid_tables()["workforce"].iloc[2:]).reset_index(drop=True)
    frame["Ethnic Origin"] = "A White - Britsh"                  # a typo, on both rows
    frame.loc[1, "Assignment Category"] = "Honorary"
    xlsx.write_table(y24, frame, kinds={"FTE": "number", "Hourly Rate": "number",
                                        "Bonus Pay": "number", "Hire Date": "date"})
    assert errors_of(src, mapping="esr", settings={"trust_code": "RXX"}) == [
        f"{y24}:2: Ethnic Origin: 'A White - Britsh' has no mapping to ethnic_category in "
        "profile esr (2 rows, the first on this line; labels it maps: 'A White - British', "
        "'B White - Irish', 'C White - Any other White background', 'D Mixed - White & Black "
        "Caribbean', 'D Mixed - White and Black Caribbean', 'E Mixed - White & Black African', "
        "'E Mixed - White and Black African', 'F Mixed - White & Asian', ...); add it to the "
        "profile's values",
        f"{y24}:3: Assignment Category: 'Honorary' has no mapping to contract_type in profile "
        "esr (1 row, the first on this line; labels it maps: 'Permanent', 'Fixed Term Temp', "
        "'Fixed Term', 'Bank'); add it to the profile's values",
    ]


def test_messages_name_the_source_file_line_and_header(src):
    path = src / "esr-staff-list-2023-03-31.csv"
    text = path.read_text().splitlines()
    cells = text[3].split(",")           # line 4: S2's primary row
    cells[9] = "1.5x"                    # FTE
    text[3] = ",".join(cells)
    path.write_text("\n".join(text) + "\n")
    assert errors_of(src, mapping="esr", settings={"trust_code": "RXX"}) == [
        f"{path}:4: FTE: '1.5x' is not a number"]


def test_missing_source_column_names_what_the_profile_maps_it_to(src):
    path = src / "esr-staff-list-2023-03-31.csv"
    frame = pd.read_csv(path, dtype=str, keep_default_na=False).drop(columns=["Gender"])
    frame.to_csv(path, index=False)
    errors = errors_of(src, mapping="esr", settings={"trust_code": "RXX"})
    assert errors[0].startswith(f"{path}:1: Gender: column is missing (profile esr maps it to "
                                "sex; columns found: 'Employee Number', 'Assignment Number'")


def test_values_the_profile_asks_for_must_be_given(src):
    with pytest.raises(MappingError, match=r"profile esr needs trust_code for workforce: the "
                       r"trust's ODS code .*; give it with --set trust_code=VALUE"):
        validate_dataset(src, mapping="esr")
    with pytest.raises(MappingError, match=r"--set staff_group: profile esr asks for no such "
                       r"value \(it asks for: trust_code\)"):
        validate_dataset(src, mapping="esr", settings={"trust_code": "RXX",
                                                      "staff_group": "x"})


def test_a_trust_profile_extends_esr_with_its_own_labels_and_dayfirst_dates(tmp_path, src,
                                                                            tables):
    path = src / "esr-staff-list-2023-03-31.csv"
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame["Hire Date"] = pd.to_datetime(frame["Hire Date"]).dt.strftime("%d/%m/%Y")
    frame.loc[0, "Ethnic Origin"] = "CA White English"            # an ESR sub-code
    frame.to_csv(path, index=False)
    (src / "mapping.yaml").write_text(
        "extends: esr\n"
        "name: rxx\n"
        "date_format: dayfirst\n"
        "set: {trust_code: RXX}\n"
        "tables:\n"
        "  workforce:\n"
        "    columns:\n"
        "      ethnic_category:\n"
        "        values: {CA White English: A}\n")
    report = validate_dataset(src)                                 # DATA_DIR/mapping.yaml
    assert [i.format() for i in report.errors] == []
    pd.testing.assert_frame_equal(report.dataset.tables["workforce"],
                                  expected_workforce(tmp_path, tables))
    frame.loc[2, "Hire Date"] = "31/02/2015"                      # line 4: S2's primary row
    frame.to_csv(path, index=False)
    assert errors_of(src) == [f"{path}:4: Hire Date: '31/02/2015' is not a date (expected "
                              "YYYY-MM-DD)"]


@pytest.mark.parametrize("text, message", [
    ("tables: {wrokforce: {columns: {}}}\n", "tables.wrokforce: no contract table 'wrokforce'"),
    ("tables: {workforce: {columns: {sex: Gender}}}\n",
     "tables.workforce.columns: required contract columns not mapped: staff_id, trust_code"),
    ("tables: {board: {columns: {member_id: Id, colour: C}}}\n",
     "tables.board.columns.colour: no column 'colour' in the contract table board"),
    ("tables: {board: {columns: {sex: {from: G, values: {Woman: W}}}}}\n",
     "tables.board.columns.sex.values['Woman']: 'W' is not an allowed value of sex "
     "(allowed: F, M or blank)"),
    ("date_format: european\ntables: {}\n", "date_format: 'european' is not one of iso, "
     "dayfirst, monthfirst"),
    ("tables: {board: {columns: {sex: {from: G, value: F}}}}\n",
     "tables.board.columns.sex: give exactly one of from:"),
    ("colour: red\ntables: {}\n", "unknown key 'colour'"),
])
def test_profiles_are_checked_before_any_data_is_read(tmp_path, text, message):
    path = tmp_path / "p.yaml"
    path.write_text(text)
    with pytest.raises(MappingError) as exc:
        load_profile(path)
    assert str(exc.value).startswith(f"{path.resolve()}: ") and message in str(exc.value)


def test_unknown_shipped_profile():
    with pytest.raises(MappingError, match=r"no mapping profile 'esrr' \(a file, or a shipped "
                       r"profile: esr\)"):
        resolve("esrr")


def test_esr_profile_marks_every_column_verified_or_not():
    import yaml

    raw = yaml.safe_load(Path(resolve("esr").path).read_text())
    for name, spec in raw["tables"]["workforce"]["columns"].items():
        if isinstance(spec, dict) and "from" in spec:
            assert "verified" in spec, name


# ------------------------------------------------------------------------ import

def test_import_writes_contract_tables_that_validate_to_the_same_dataset(tmp_path, src, capsys):
    out = tmp_path / "contract"
    assert cli.main(["import", str(src), str(out), "--mapping", "esr",
                     "--set", "trust_code=RXX"]) == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["actions.csv", "board.csv", "employee_relations.csv", "external_indicators.csv",
         "import-manifest.json", "recruitment.csv", "staff_survey.csv", "workforce.csv"]
        if (src / "actions.csv").exists() else
        ["board.csv", "employee_relations.csv", "external_indicators.csv",
         "import-manifest.json", "recruitment.csv", "staff_survey.csv", "workforce.csv"])
    mapped = validate_dataset(src, mapping="esr", settings={"trust_code": "RXX"}).dataset
    again = validate_dataset(out)
    assert again.errors == []
    for name, frame in mapped.tables.items():
        pd.testing.assert_frame_equal(again.dataset.tables[name], frame, obj=name)
    head = (out / "workforce.csv").read_text().splitlines()[:2]
    assert head[1].startswith("S1,RXX,2023-03-31,A,F,N,Nursing and Midwifery Registered,"
                              "Band 5,permanent,1.0,2020-01-06,25-34,16.5,Y,0.0,,,,,")
    # a second import into the folder it wrote replaces it
    assert cli.main(["import", str(src), str(out), "--mapping", "esr",
                     "--set", "trust_code=RXX"]) == 0
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_import_of_invalid_exports_writes_nothing(tmp_path, src, capsys):
    (src / "board.csv").write_text("member_id\n")
    out = tmp_path / "contract"
    assert cli.main(["import", str(src), str(out), "--mapping", "esr",
                     "--set", "trust_code=RXX"]) == 1
    assert "required column is missing" in capsys.readouterr().err
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize("where", ["same", "inside", "holds", "foreign"])
def test_import_refuses_to_overwrite_inputs_or_a_folder_it_did_not_write(tmp_path, src, where,
                                                                         capsys):
    out = {"same": src, "inside": src / "out", "holds": tmp_path, "foreign": tmp_path / "x"}[where]
    if where == "foreign":
        out.mkdir()
        (out / "workforce.csv").write_text("a real extract\n")
    before = {p: p.read_bytes() for p in src.iterdir()}
    assert cli.main(["import", str(src), str(out), "--mapping", "esr",
                     "--set", "trust_code=RXX"]) == 2
    err = capsys.readouterr().err
    assert "edi-analysis import: error:" in err
    assert {p: p.read_bytes() for p in src.iterdir()} == before
    if where == "foreign":
        assert (out / "workforce.csv").read_text() == "a real extract\n"


def test_metrics_reads_the_exports_through_the_mapping_directly(tmp_path, src):
    out_mapped, out_imported = tmp_path / "a.csv", tmp_path / "b.csv"
    assert cli.main(["metrics", str(src), "--period", "2024-03-31", "--mapping", "esr",
                     "--set", "trust_code=RXX", "-o", str(out_mapped)]) == 0
    importer.run_import(src, tmp_path / "contract", "esr", {"trust_code": "RXX"})
    assert cli.main(["metrics", str(tmp_path / "contract"), "--period", "2024-03-31",
                     "-o", str(out_imported)]) == 0
    assert out_mapped.read_bytes() == out_imported.read_bytes()


def test_params_file_names_the_mapping_and_its_values(tmp_path):
    from edi_analysis.params import ParamsError, load_params

    (tmp_path / "rxx.yaml").write_text("extends: esr\n")
    params = tmp_path / "p.yaml"
    params.write_text("data: esr\nperiods: [2024-03-31]\nmapping: rxx.yaml\n"
                      "set: {trust_code: RXX}\n")
    loaded = load_params(params)
    assert loaded.mapping == str(tmp_path / "rxx.yaml")
    assert loaded.settings == (("trust_code", "RXX"),)
    assert loaded.as_record()["mapping"] == str(tmp_path / "rxx.yaml")
    params.write_text("data: esr\nperiods: [2024-03-31]\nset: [trust_code]\n")
    with pytest.raises(ParamsError, match="set: expected a mapping"):
        load_params(params)


def test_run_reads_through_the_params_mapping_and_reports_source_lines(tmp_path, src, capsys):
    y24 = src / "esr-staff-list-2024-03-31.xlsx"
    frame = esr_rows(valid_tables()["workforce"].iloc[2:]).reset_index(drop=True)
    frame.loc[0, "Gender"] = "F"                                     # ESR says Female
    xlsx.write_table(y24, frame, kinds={"FTE": "number", "Hourly Rate": "number",
                                        "Bonus Pay": "number", "Hire Date": "date"})
    params = tmp_path / "p.yaml"
    params.write_text(f"data: {src}\nperiods: [2024-03-31]\nnotebooks: [overview]\n"
                      f"reports_dir: {tmp_path / 'reports'}\nsite_dir: {tmp_path / 'site'}\n"
                      f"notebooks_dir: {Path(__file__).parents[1] / 'notebooks'}\n"
                      "mapping: esr\nset: {trust_code: RXX}\n")
    assert cli.main(["run", str(params), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert f"{y24}:2: Gender: 'F' has no mapping to sex in profile esr (1 row" in err
    assert not (tmp_path / "reports" / "2024-03-31").exists()


def test_audit_identifiers_come_from_the_mapped_dataset(src):
    from edi_analysis import audit

    ids = audit.load_identifiers(src, mapping="esr", settings={"trust_code": "RXX"})
    assert {"S1", "S2", "A1", "C1", "R1", "B1"} <= ids
