"""Return figures (issue 15, "Out"): they equal the metrics they come from, rounded; the
GOV.UK service's integrity checks fire on crafted bad cases; a figure the published report
hides is still given, with a note; the files are written and accessible."""

from __future__ import annotations

from pathlib import Path

import fastexcel
import numpy as np
import pandas as pd
import pytest

from edi_analysis import cli, pipeline, returns
from edi_analysis.contract import load_valid_dataset

REPO = Path(__file__).resolve().parents[1]
PERIOD = "2024-03-31"


@pytest.fixture(scope="module")
def sample():
    return load_valid_dataset(REPO / "data" / "sample")


@pytest.fixture(scope="module")
def figures(sample):
    return returns.return_figures(sample, PERIOD, ["ZZ003", "ZZ004"])


@pytest.fixture(scope="module")
def raw(sample):
    return pipeline.compute_metrics(sample, [PERIOD], ["ZZ003", "ZZ004"], min_count=1,
                                    min_survey_responses=1)


def test_round_half_up_rounds_the_shown_decimal():
    assert returns.round_half_up(12.25) == 12.3        # Python's round(12.25, 1) is 12.2
    assert returns.round_half_up(-12.25) == -12.3
    assert returns.round_half_up(0.05) == 0.1
    assert returns.round_half_up(1.005, 2) == 1.01
    assert returns.round_half_up(float("nan")) is None
    assert returns.round_half_up(None) is None


def test_gender_pay_gap_fields_are_the_services_names_in_its_order(figures):
    assert list(figures.gender_pay_gap.columns) == [
        "trust_code", "snapshot_date", "DiffMeanHourlyPercent", "DiffMedianHourlyPercent",
        "DiffMeanBonusPercent", "DiffMedianBonusPercent", "MaleBonusPercent",
        "FemaleBonusPercent", "MaleLowerQuartile", "FemaleLowerQuartile",
        "MaleLowerMiddleQuartile", "FemaleLowerMiddleQuartile", "MaleUpperMiddleQuartile",
        "FemaleUpperMiddleQuartile", "MaleTopQuartile", "FemaleTopQuartile", "note"]
    assert list(figures.gender_pay_gap["trust_code"]) == ["ZZ003", "ZZ004"]


def test_gender_pay_gap_figures_equal_their_metrics_rounded(figures, raw):
    """Each field is its metric row's value to one decimal place (half up)."""
    rows = raw.set_index(["trust_code", "metric_id", "breakdown", "group"])["value"]
    checked = 0
    for r in figures.gender_pay_gap.to_dict("records"):
        for name, (metric, breakdown, group) in returns._GPG_SOURCE.items():
            value = float(rows[(r["trust_code"], metric, breakdown, group)])
            assert r[name] == pytest.approx(returns.round_half_up(value, 1), abs=0.1 + 1e-9)
            if "Quartile" not in name or name.startswith("Female"):
                assert r[name] == returns.round_half_up(value, 1), name
            checked += 1
    assert checked == 2 * 14
    # and by hand for one: ZZ004's mean gap on the statutory hourly rate (ordinary pay plus
    # bonus paid in March 2024 per hour of the month: bonus_pay_period / (fte × 37.5 × 31 / 7)):
    # (mean male 23.2813 - female 18.9793) / 23.2813 = 18.48% (ordinary pay alone: 17.87%)
    zz004 = figures.gender_pay_gap.set_index("trust_code").loc["ZZ004"]
    assert zz004["DiffMeanHourlyPercent"] == 18.5
    assert zz004["MaleLowerQuartile"] + zz004["FemaleLowerQuartile"] == 100.0


def test_wres_and_wdes_figures_equal_their_metrics_rounded(figures, raw):
    rows = raw.set_index(["trust_code", "metric_id", "breakdown", "group"])
    for frame in (figures.wres, figures.wdes):
        assert len(frame) > 50
        for r in frame.to_dict("records"):
            m = rows.loc[(r["trust_code"], r["metric_id"], r["breakdown"], r["group"])]
            places = {"percent": 1, "pp": 1, "ratio": 2, "score": 2}[m["unit"]]
            assert r["value"] == returns.round_half_up(returns._number(m["value"]), places)
            if not pd.isna(m["numerator"]):
                assert r["count"] == pytest.approx(m["numerator"])
                assert r["denominator"] == pytest.approx(m["denominator"])


def test_returns_are_in_the_indicator_order_of_the_standards(figures):
    order = list(dict.fromkeys(figures.wres["indicator"]))
    assert order == ["1", "2", "3", "4", "5", "6", "7", "8", "9"]
    order = list(dict.fromkeys(figures.wdes["indicator"]))
    assert order == ["1", "2", "3", "4a(i)", "4a(ii)", "4a(iii)", "4b", "5", "6", "7", "8",
                     "9a", "10"]
    ind2 = figures.wres[(figures.wres["trust_code"] == "ZZ004")
                        & (figures.wres["indicator"] == "2")]
    assert list(ind2["group"]) == ["White", "BME", "Unknown", "White"]
    assert list(ind2["metric_id"])[-1] == "wres.2.relative_likelihood"


def test_a_figure_the_published_report_hides_is_given_with_a_note(figures, sample):
    published = pipeline.compute_metrics(sample, [PERIOD], ["ZZ003", "ZZ004"])
    hidden = published[published["suppressed"] & published["metric_id"].str.match(r"wres\.")]
    assert len(hidden) > 0
    keys = set(zip(hidden["trust_code"], hidden["metric_id"], hidden["breakdown"],
                   hidden["group"]))
    w = figures.wres
    marked = w[w["note"].str.contains("hidden in the published report", regex=False)]
    assert set(zip(marked["trust_code"], marked["metric_id"], marked["breakdown"],
                   marked["group"])) == keys & set(zip(w["trust_code"], w["metric_id"],
                                                       w["breakdown"], w["group"]))
    assert marked["value"].notna().any()      # the figure itself is there


def test_gender_pay_gap_note_names_a_hidden_statutory_figure():
    raw = _gpg_rows()
    published = raw.copy()
    published["suppressed"] = (published["metric_id"] == "pay.gender.bonus_share") & (
        published["group"] == "Male")
    out = returns.gender_pay_gap(raw, published)
    assert out.loc[0, "MaleBonusPercent"] == 5.0
    assert out.loc[0, "note"] == (
        "our disclosure rule hides this figure in the published report (it rests on fewer "
        "than 8 people), but the regulations require it to be published: it is given here "
        "(MaleBonusPercent)")


# ------------------------------------------------------------ integrity checks

def _gpg_rows(**overrides) -> pd.DataFrame:
    """Metric rows of one trust, with values set by hand (field name -> value)."""
    values = {"DiffMeanHourlyPercent": 17.87, "DiffMedianHourlyPercent": 12.95,
              "DiffMeanBonusPercent": 65.6, "DiffMedianBonusPercent": 40.8,
              "MaleBonusPercent": 5.0193, "FemaleBonusPercent": 1.357,
              "MaleLowerQuartile": 22.4, "FemaleLowerQuartile": 77.6,
              "MaleLowerMiddleQuartile": 18.96, "FemaleLowerMiddleQuartile": 81.04,
              "MaleUpperMiddleQuartile": 14.38, "FemaleUpperMiddleQuartile": 85.62,
              "MaleTopQuartile": 31.51, "FemaleTopQuartile": 68.49, **overrides}
    rows = []
    for name, value in values.items():
        metric, breakdown, group = returns._GPG_SOURCE[name]
        rows.append({"trust_code": "RXX", "period": PERIOD, "metric_id": metric,
                     "breakdown": breakdown, "group": group, "value": value,
                     "suppressed": False})
    return pd.DataFrame(rows)


def test_hand_made_rows_give_the_rounded_fields():
    out = returns.gender_pay_gap(_gpg_rows())
    r = out.iloc[0]
    # 12.95 rounds half up to 13.0 (float 12.95 is 12.9499...: rounding the shown decimal)
    assert (r["DiffMeanHourlyPercent"], r["DiffMedianHourlyPercent"]) == (17.9, 13.0)
    assert (r["MaleBonusPercent"], r["FemaleBonusPercent"]) == (5.0, 1.4)
    assert (r["MaleTopQuartile"], r["FemaleTopQuartile"]) == (31.5, 68.5)


def test_complementary_shares_that_both_round_up_still_sum_to_100():
    out = returns.gender_pay_gap(_gpg_rows(MaleLowerQuartile=22.45, FemaleLowerQuartile=77.55))
    # 22.45 -> 22.5 and 77.55 -> 77.6 would sum to 100.1: the male figure is 100 - 77.6
    assert (out.loc[0, "MaleLowerQuartile"], out.loc[0, "FemaleLowerQuartile"]) == (22.4, 77.6)


@pytest.mark.parametrize("overrides, problem", [
    ({"MaleTopQuartile": 40.0, "FemaleTopQuartile": 68.49},
     "RXX 2024-03-31: MaleTopQuartile 40.0 + FemaleTopQuartile 68.5 = 108.5, not 100"),
    ({"FemaleLowerQuartile": np.nan},
     "RXX 2024-03-31: MaleLowerQuartile/FemaleLowerQuartile missing (each quartile needs both)"),
    ({"FemaleBonusPercent": 0.0},
     "RXX 2024-03-31: DiffMeanBonusPercent is 65.6 but no woman was paid a bonus (the service "
     "allows no bonus gap then)"),
    ({"MaleBonusPercent": 0.0, "DiffMeanBonusPercent": np.nan},
     "RXX 2024-03-31: DiffMedianBonusPercent is 40.8 but no man was paid a bonus (the service "
     "allows no bonus gap then)"),
    ({"MaleBonusPercent": 100.04, "FemaleBonusPercent": 101.0},
     "RXX 2024-03-31: FemaleBonusPercent is 101.0, not a percentage from 0 to 100"),
    ({"DiffMeanHourlyPercent": 100.5},
     "RXX 2024-03-31: DiffMeanHourlyPercent is 100.5, more than 100"),
])
def test_integrity_checks_fire_on_crafted_bad_cases(overrides, problem):
    with pytest.raises(returns.ReturnIntegrityError) as exc:
        returns.gender_pay_gap(_gpg_rows(**overrides))
    assert problem in exc.value.problems


def test_returns_command_writes_nothing_when_the_checks_fail(tmp_path, monkeypatch, capsys):
    def failing(*a, **k):
        raise returns.ReturnIntegrityError(["RXX 2024-03-31: MaleTopQuartile 40.0 + "
                                            "FemaleTopQuartile 68.5 = 108.5, not 100"])

    monkeypatch.setattr(returns, "return_figures", failing)
    out = tmp_path / "r"
    assert cli.main(["returns", str(REPO / "data" / "sample"), "--period", PERIOD,
                     "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert "gender-pay-gap: RXX 2024-03-31: MaleTopQuartile 40.0" in err
    assert not out.exists() or not any(out.iterdir())


# ------------------------------------------------------------ files

def test_returns_command_writes_csv_and_accessible_workbooks(tmp_path, figures, capsys):
    out = tmp_path / "r"
    assert cli.main(["returns", str(REPO / "data" / "sample"), "--period", PERIOD,
                     "--trust", "ZZ003", "--trust", "ZZ004", "-o", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "gender-pay-gap.csv", "gender-pay-gap.xlsx", "wdes.csv", "wdes.xlsx", "wres.csv",
        "wres.xlsx"]
    gpg = pd.read_csv(out / "gender-pay-gap.csv", keep_default_na=False)
    assert gpg["DiffMeanHourlyPercent"].tolist() == \
        figures.gender_pay_gap["DiffMeanHourlyPercent"].tolist()
    text = (out / "wres.csv").read_text()
    assert "inf" not in text and "nan" not in text.lower().replace("non-", "")
    book = fastexcel.read_excel(str(out / "wres.xlsx"))
    assert book.sheet_names == ["Cover", "Contents", "wres"]
    sheet = book.load_sheet("wres", header_row=None, dtypes="string").to_arrow().to_pylist()
    cells = [v for row in sheet for v in row.values()]
    assert sheet[0]["__UNNAMED__0"].startswith(
        "Workforce Race Equality Standard (WRES) return figures, period ending 2024-03-31")
    header = next(i for i, row in enumerate(sheet) if row["__UNNAMED__0"] == "trust_code")
    body = [list(row.values()) for row in sheet[header + 1:]]
    assert body and all(v not in (None, "") for row in body for v in row)  # no empty cells
    assert "[z]" in cells and "all staff" in cells


def test_returns_refuse_the_data_folder(tmp_path, capsys):
    assert cli.main(["returns", str(REPO / "data" / "sample"), "--period", PERIOD,
                     "-o", str(REPO / "data" / "sample" / "returns")]) == 2
    assert "may not be written into the data folder" in capsys.readouterr().err
    assert not (REPO / "data" / "sample" / "returns").exists()


def test_non_finite_return_figure_is_refused():
    frame = pd.DataFrame({"trust_code": ["RXX"], "indicator": ["2"], "group": ["White"],
                          "value": [np.inf], "note": [""]})
    with pytest.raises(Exception, match="wres.csv: 1 value not finite"):
        returns.csv_bytes(frame, "wres.csv")


def test_trust_return_figures_for_the_site_and_pack(sample):
    one = returns.trust_return_figures(sample, "ZZ004", PERIOD)
    assert list(one.gender_pay_gap["trust_code"]) == ["ZZ004"]
    assert set(one.wres["trust_code"]) == {"ZZ004"} and set(one.wdes["trust_code"]) == {"ZZ004"}


# ------------------------------------------------------------------ the published view

def _published_rows() -> pd.DataFrame:
    """A report's metrics.csv rows (as text, as the publisher reads them): WRES 1 with one
    group suppressed (primary) and one hidden by secondary suppression, WRES 3's ratio, and
    the mean pay gap."""
    cols = ["trust_code", "period", "area", "metric_id", "breakdown", "group",
            "reference_group", "numerator", "denominator", "value", "ci_lower", "ci_upper",
            "unit", "suppressed", "note"]
    rows = [
        # 120 of 160 = 75.0%; the BME count (5) is below 8 and Unknown (35) would give it back
        ("wres.1.share", "", "White", "", "120", "160", "75.0", "percent", "false", ""),
        ("wres.1.share", "", "BME", "", "", "", "", "percent", "true",
         "suppressed: based on fewer than 8 people"),
        ("wres.1.share", "", "Unknown", "", "", "", "", "percent", "true",
         "hidden so that another small figure cannot be worked out"),
        # 1.714... rounds to 1.71 (two places for a relative likelihood)
        ("wres.3.relative_likelihood", "", "BME", "White", "29", "993", "1.7142857", "ratio",
         "false", ""),
        ("wres.1.share", "clinical=N;pay_cluster=3", "White", "", "44", "70", "62.857",
         "percent", "false", ""),
        # 12.25 -> 12.3, halves away from zero
        ("pay.gender.mean_gap", "", "Female", "", "", "", "12.25", "percent", "false", ""),
    ]
    return pd.DataFrame([("ZZ009", PERIOD, "hia1", m, b, g, ref, n, d, v, "", "", u, s, note)
                         for m, b, g, ref, n, d, v, u, s, note in rows], columns=cols)


def test_published_view_shows_published_figures_rounded_and_hides_what_the_report_hides():
    tables = {t.key: t for t in returns.published_tables(_published_rows())}
    assert set(tables) == {"gender-pay-gap", "wres"}          # no WDES rows, no WDES table
    gpg = tables["gender-pay-gap"]
    assert gpg.rows == (("Mean gender pay gap in hourly pay", "DiffMeanHourlyPercent",
                         "12.3%", ""),)
    wres = tables["wres"]
    assert wres.header == ("Indicator", "Measure", "White", "BME", "Unknown", "Note")
    first = wres.rows[0]
    assert first[:5] == ("1", "Share of the workforce by ethnicity (WRES 1)",
                         "75.0% (120 of 160)", "not shown", "not shown")
    # each hidden cell says why, in the suppression's own words (primary and secondary)
    assert first[5] == ("BME: based on fewer than 8 people; Unknown: hidden so that another "
                        "small figure cannot be worked out")
    assert wres.hidden == 2 and "NHS Staff Survey" in wres.footnote
    assert "not for publication" in returns.NOT_SHOWN  # said once on the page, not per table
    by_measure = {r[1]: r for r in wres.rows}
    assert by_measure["Share of the workforce by ethnicity (WRES 1), non-clinical staff, "
                      "cluster 3"][2] == "62.9% (44 of 70)"
    rl = next(r for r in wres.rows if r[0] == "3")
    assert rl[3] == "1.71" and "of" not in rl[3]  # a ratio shows no count
    # nothing the report hides is on the page: the table's text holds no hidden number
    text = " ".join(" ".join(r) for t in tables.values() for r in t.rows)
    assert "not shown" in text and "5 of" not in text and "35" not in text


def test_one_reason_for_several_hidden_groups_is_said_once():
    rows = _published_rows()
    rows.loc[rows["group"] == "Unknown", "note"] = "suppressed: based on fewer than 8 people"
    wres = next(t for t in returns.published_tables(rows) if t.key == "wres")
    assert wres.rows[0][5] == "BME, Unknown: based on fewer than 8 people"


def test_published_view_of_no_rows_is_empty():
    assert returns.published_tables(_published_rows().iloc[:0]) == ()
