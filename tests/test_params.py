"""Params files: parsing, path resolution, overrides and errors (CONTRACT.md §7)."""

from __future__ import annotations

from pathlib import Path

import pytest

from edi_analysis.params import DEFAULT_NOTEBOOKS_DIR, ParamsError, load_params, parse_params

ROOT = Path(__file__).resolve().parents[1]


def _write(tmp_path: Path, text: str) -> Path:
    nbdir = tmp_path / "nbs"
    nbdir.mkdir(exist_ok=True)
    for name in ("00_overview", "01_hia1_board", "06_hia6_bullying_disciplinary", "07_people_plan"):
        (nbdir / f"{name}.ipynb").write_text("{}", encoding="utf-8")
    sub = tmp_path / "params"
    sub.mkdir(exist_ok=True)
    p = sub / "p.yaml"
    p.write_text(text, encoding="utf-8")
    return p


BASE = "data: ../data\nperiods: [2024-03-31]\nnotebooks_dir: ../nbs\n"


def test_sample_params_resolve_relative_to_the_file():
    p = load_params(ROOT / "params" / "sample.yaml")
    assert p.data == ROOT / "data" / "sample"
    assert p.reports_dir == ROOT / "reports"
    assert p.periods == ("2023-03-31", "2024-03-31")
    assert p.trusts is None  # all
    assert [n.name for n in p.notebooks] == sorted(x.name for x in (ROOT / "notebooks").glob("*.ipynb"))
    assert (p.min_count, p.min_survey_responses, p.seed) == (8, 11, 20240331)


def test_same_meaning_from_any_working_directory(tmp_path, monkeypatch):
    f = _write(tmp_path, BASE)
    monkeypatch.chdir(tmp_path)
    a = load_params(Path("params/p.yaml"))
    monkeypatch.chdir(tmp_path / "params")
    b = load_params(Path("p.yaml"))
    assert a.data == b.data == (tmp_path / "data").resolve()
    assert a.notebooks == b.notebooks


def test_defaults(tmp_path):
    p = load_params(_write(tmp_path, "data: d\nperiods: 2024-03-31\n"))
    assert p.notebooks_dir == DEFAULT_NOTEBOOKS_DIR
    assert p.reports_dir == (tmp_path / "params" / "reports").resolve()
    assert p.periods == ("2024-03-31",)
    assert p.trusts is None


def test_quoted_and_unquoted_periods_sorted_and_deduplicated(tmp_path):
    p = load_params(_write(tmp_path, BASE.replace("[2024-03-31]", "['2024-03-31', 2023-03-31, 2024-03-31]")))
    assert p.periods == ("2023-03-31", "2024-03-31")


def test_overrides_replace_file_values(tmp_path):
    f = _write(tmp_path, BASE + "trusts: [RXA, RYB]\n")
    p = load_params(f, {"trusts": ["RZZ"], "periods": ["2023-03-31"], "notebooks": ["hia6"]})
    assert p.trusts == ("RZZ",)
    assert p.periods == ("2023-03-31",)
    assert p.notebook_names == ("06_hia6_bullying_disciplinary.ipynb",)


@pytest.mark.parametrize("name", ["06_hia6_bullying_disciplinary.ipynb", "06_hia6_bullying_disciplinary",
                                  "hia6_bullying_disciplinary", "hia6"])
def test_notebook_names_accepted(tmp_path, name):
    p = load_params(_write(tmp_path, BASE), {"notebooks": [name]})
    assert p.notebook_names == ("06_hia6_bullying_disciplinary.ipynb",)


def test_notebooks_run_in_name_order(tmp_path):
    p = load_params(_write(tmp_path, BASE + "notebooks: [people, overview]\n"))
    assert p.notebook_names == ("00_overview.ipynb", "07_people_plan.ipynb")


@pytest.mark.parametrize("text, key", [
    (BASE + "colour: blue\n", "'colour'"),
    ("periods: [2024-03-31]\n", "'data'"),
    ("data: d\n", "'periods'"),
    (BASE + "min_count: eight\n", "min_count"),
    (BASE + "min_count: 0\n", "min_count"),
    (BASE + "min_count: true\n", "min_count"),
    (BASE + "min_survey_responses: 2.5\n", "min_survey_responses"),
    (BASE + "seed: -1\n", "seed"),
    (BASE.replace("[2024-03-31]", "[2024-02-30]"), "periods"),
    (BASE.replace("[2024-03-31]", "[31/03/2024]"), "periods"),
    (BASE.replace("[2024-03-31]", "[]"), "periods"),
    (BASE + "trusts: [rxa]\n", "trusts"),
    (BASE + "trusts: some\n", "trusts"),
    (BASE + "notebooks: [hia9]\n", "notebooks"),
    (BASE + "notebooks: [0]\n", "notebooks"),
    (BASE + "data: 3\n", "data"),
    (BASE.replace("../nbs", "../missing"), "notebooks_dir"),
    ("- just\n- a list\n", "mapping"),
])
def test_errors_name_the_key(tmp_path, text, key):
    with pytest.raises(ParamsError, match=key):
        load_params(_write(tmp_path, text))


def test_ambiguous_notebook_name(tmp_path):
    f = _write(tmp_path, BASE)
    (tmp_path / "nbs" / "08_hia6_extra.ipynb").write_text("{}", encoding="utf-8")
    with pytest.raises(ParamsError, match="ambiguous"):
        load_params(f, {"notebooks": ["hia6"]})


def test_bad_override_key_and_bad_override_value(tmp_path):
    f = _write(tmp_path, BASE)
    with pytest.raises(ParamsError, match="'seed'"):
        load_params(f, {"seed": 1})
    with pytest.raises(ParamsError, match="periods"):
        load_params(f, {"periods": ["March 2024"]})


def test_missing_and_unparsable_files(tmp_path):
    with pytest.raises(ParamsError, match="no such file"):
        load_params(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("data: [unclosed\n", encoding="utf-8")
    with pytest.raises(ParamsError, match="not valid YAML"):
        load_params(bad)


def test_cli_exits_2_on_params_error(tmp_path, capsys):
    from edi_analysis.cli import main

    f = _write(tmp_path, BASE + "colour: blue\n")
    assert main(["run", str(f)]) == 2
    assert "'colour'" in capsys.readouterr().err


def test_as_record_is_json_ready(tmp_path):
    import json

    p = parse_params({"data": "d", "periods": ["2024-03-31"], "trusts": ["RXA"]}, tmp_path)
    rec = json.loads(json.dumps(p.as_record()))
    assert rec["trusts"] == ["RXA"] and rec["periods"] == ["2024-03-31"]
    assert rec["min_count"] == 8


# --- trust names and the board paper's cover sheet (issue 13) ---------------------------------

def test_trust_names_and_cover_sheet(tmp_path):
    p = load_params(_write(tmp_path, BASE + """trust_names:
  RXA: "  Example   Hospitals NHS Foundation Trust "
board_paper:
  meeting: Trust Board (public)
  meeting_date: 2024-05-30
  agenda_item: 9.2
  purpose: Approval
  baf_risk: "BAF 4: workforce equality"
  trusts:
    RXA: {executive_lead: Director of People}
"""))
    assert p.trust_names == {"RXA": "Example Hospitals NHS Foundation Trust"}
    assert p.trust_name("RXA") == "Example Hospitals NHS Foundation Trust"
    assert p.trust_name("RYY") == "RYY"  # not listed: shown by its code
    cover = p.cover("RXA")
    assert cover["meeting"] == "Trust Board (public)" and cover["meeting_date"] == "2024-05-30"
    assert cover["agenda_item"] == "9.2" and cover["purpose"] == "approval"
    assert cover["executive_lead"] == "Director of People"
    assert p.cover("RYY")["executive_lead"] == "Chief People Officer"  # the default
    assert cover["author"] == "Equality, diversity and inclusion lead"


def test_cover_sheet_defaults(tmp_path):
    from edi_analysis.params import BOARD_PAPER_DEFAULTS

    p = load_params(_write(tmp_path, BASE))
    assert p.cover("RXA") == BOARD_PAPER_DEFAULTS and p.trust_names == {}
    assert "edi-analysis" not in p.cover("RXA")["author"]  # the software is not the author


@pytest.mark.parametrize("extra, message", [
    ("trust_names: [RXA]\n", "trust_names: expected a mapping of ODS code to name"),
    ("trust_names: {rxa: X}\n", "trust_names: 'rxa' is not an ODS code"),
    ("trust_names: {RXA: ''}\n", "trust_names: RXA: expected the trust's name"),
    ("board_paper: {purpose: decide}\n",
     "board_paper.purpose: 'decide' is not one of assurance, approval, discussion, information"),
    ("board_paper: {author_name: X}\n", "board_paper: unknown key 'author_name'"),
    ("board_paper: {meeting_date: 2024-02-30}\n", "board_paper.meeting_date: '2024-02-30' is not a date"),
    ("board_paper: {trusts: {RXA: {purpose: x}}}\n", "board_paper.trusts.RXA.purpose: 'x'"),
    ("board_paper: {trusts: {bad: {}}}\n", "board_paper.trusts: 'bad' is not an ODS code"),
    ("board_paper: {meeting: [a, b]}\n", "board_paper.meeting: expected text"),
    ("board_paper: yes\n", "board_paper: expected a mapping"),
])
def test_cover_sheet_errors_name_the_key(tmp_path, extra, message):
    with pytest.raises(ParamsError) as err:
        load_params(_write(tmp_path, BASE + extra))
    assert message in str(err.value)
