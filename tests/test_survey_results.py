"""Aggregated survey results (issue 15): the ``staff_survey_results`` table, its checks, and
the survey metrics it gives, identical to the respondent-level answers of the same survey."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from edi_analysis import pipeline, sample
from edi_analysis.contract import validate_dataset
from edi_analysis.metrics import FAMILIES

from test_contract import errors_of, valid_tables, write

REPO = Path(__file__).resolve().parents[1]
SURVEY_IDS = set(FAMILIES["survey"].metric_ids)
PERIODS = ["2023-03-31", "2024-03-31"]


def _survey_rows(dataset, trust):
    rows = pipeline.compute_metrics(dataset, PERIODS, [trust])
    return rows[rows["metric_id"].isin(SURVEY_IDS)].reset_index(drop=True)


def test_the_sample_ships_both_forms_for_one_trust():
    results = pd.read_csv(REPO / "data" / "sample" / "staff_survey_results.csv")
    assert set(results["trust_code"]) == {"ZZ004"}
    report = validate_dataset(REPO / "data" / "sample")
    assert report.errors == []
    assert any("staff_survey_results.csv: used only for trusts with no rows" in n
               for n in report.notes)


def test_aggregated_results_give_the_same_survey_metrics_as_respondents(tmp_path):
    """ZZ004's respondent rows and its results by group: every survey metric row is the
    same (value, interval, counts, suppression), except the engagement score (a mean that
    counts cannot give), which is there with no answers and says why."""
    data = tmp_path / "d"
    shutil.copytree(REPO / "data" / "sample", data)
    survey = pd.read_csv(data / "staff_survey.csv", dtype=str, keep_default_na=False)
    survey[survey["trust_code"] != "ZZ004"].to_csv(data / "staff_survey.csv", index=False)
    respondent = validate_dataset(REPO / "data" / "sample").dataset
    aggregated = validate_dataset(data)
    assert aggregated.errors == []
    a = _survey_rows(respondent, "ZZ004")
    b = _survey_rows(aggregated.dataset, "ZZ004")
    assert len(a) == len(b) > 300
    not_9a_a = a[a["metric_id"] != "wdes.9a"].reset_index(drop=True)
    not_9a_b = b[b["metric_id"] != "wdes.9a"].reset_index(drop=True)
    keys = ["trust_code", "period", "metric_id", "breakdown", "group"]
    pd.testing.assert_frame_equal(not_9a_b[keys], not_9a_a[keys])
    # Every figure both publish is the same, and so is every figure too small to show.
    both = ~not_9a_a["suppressed"] & ~not_9a_b["suppressed"]
    assert both.sum() > 250
    pd.testing.assert_frame_equal(not_9a_b[both], not_9a_a[both])
    # Every figure the results hide, the respondents' answers hide too, for the same reason.
    hidden_b = not_9a_b["suppressed"]
    assert not (hidden_b & ~not_9a_a["suppressed"]).any()
    assert (not_9a_b.loc[hidden_b, "note"] == not_9a_a.loc[hidden_b, "note"]).all()
    # Respondents' records link one person's answers across questions (WRES 6 combines two),
    # so they hold finer cells than the results (e.g. Unknown ethnicity answering one of the
    # two questions) and can hide more; the results give no such link, and the audit below
    # finds nothing to recover from what they publish.
    assert (~not_9a_a["suppressed"] | hidden_b).mean() > 0.95
    # and the audit, reading the same results, finds no figure to recover from the rows
    from edi_analysis import audit

    out = tmp_path / "out"
    out.mkdir()
    (out / "metrics.csv").write_bytes(pipeline.metrics_csv_bytes(
        pipeline.compute_metrics(aggregated.dataset, ["2023-03-31", "2024-03-31"], ["ZZ004"])))
    rep = audit.audit([out], data)
    assert rep.ok, [f.format() for f in rep.findings[:3]]
    # the other trusts still come from their respondents
    assert len(_survey_rows(aggregated.dataset, "ZZ001")) == len(_survey_rows(respondent,
                                                                               "ZZ001"))


def test_results_alone_replace_the_required_staff_survey(tmp_path):
    tables = valid_tables()
    del tables["staff_survey"]
    tables["staff_survey_results"] = sample.survey_results(
        valid_tables()["staff_survey"], ["RXX"]).astype(str)
    d = write(tmp_path / "d", tables)
    report = validate_dataset(d)
    assert report.errors == []
    assert ("staff_survey: not supplied; the survey metrics use the aggregated results in "
            f"{d}/staff_survey_results.csv") in report.notes


def _results(tmp_path, rows):
    tables = valid_tables()
    tables["staff_survey_results"] = pd.DataFrame(
        rows, columns=["trust_code", "survey_year", "item", "characteristic", "group",
                       "responses", "positive"])
    return write(tmp_path / "d", tables)


def test_positive_cannot_exceed_responses(tmp_path):
    d = _results(tmp_path, [["RXX", "2023", "wres.5", "all", "All", "40", "41"]])
    assert errors_of(d) == [f"{d}/staff_survey_results.csv:2: positive: '41' is more than "
                            "responses '40' (it is part of responses, so cannot exceed it)"]


def test_groups_cannot_exceed_the_items_all_staff_responses(tmp_path):
    d = _results(tmp_path, [
        ["RXX", "2023", "wres.5", "all", "All", "40", "10"],
        ["RXX", "2023", "wres.5", "ethnicity", "White", "30", "8"],
        ["RXX", "2023", "wres.5", "ethnicity", "BME", "15", "2"],     # 30 + 15 = 45 > 40
        ["RXX", "2023", "wres.5", "disability", "Disabled", "41", "2"],  # 41 > 40
    ])
    assert errors_of(d) == [
        f"{d}/staff_survey_results.csv:4: responses: the ethnicity groups of wres.5 hold 45 "
        "responses, more than the item's all-staff 40",
        f"{d}/staff_survey_results.csv:5: responses: 41 responses in one group is more than "
        "the item's all-staff 40",
        f"{d}/staff_survey_results.csv:5: responses: the disability groups of wres.5 hold 41 "
        "responses, more than the item's all-staff 40",
    ]


def test_group_must_belong_to_its_characteristic_and_item_must_be_known(tmp_path):
    d = _results(tmp_path, [["RXX", "2023", "wres.5", "ethnicity", "Disabled", "4", "1"],
                            ["RXX", "2023", "wres.55", "all", "All", "4", "1"],
                            ["RXX", "2023", "wres.5", "ethnicity", "Disabled", "4", "1"]])
    errors = errors_of(d)
    assert errors[0] == (f"{d}/staff_survey_results.csv:2: group: 'Disabled' is not a group of "
                         "characteristic ethnicity (groups: White, BME, Unknown)")
    assert errors[1].startswith(f"{d}/staff_survey_results.csv:3: item: 'wres.55' is not an "
                                "allowed value (allowed: wres.5, wres.6,")
    assert (f"{d}/staff_survey_results.csv:4: group: duplicate 'Disabled' within trust RXX "
            "survey year 2023 item wres.5 characteristic ethnicity (also on line 2)") in errors
