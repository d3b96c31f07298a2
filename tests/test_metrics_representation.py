"""Representation metrics (CONTRACT.md §4.1) on small hand-built tables.

The trust RAA at 2024-03-31 (in-scope staff; bank and the earlier snapshot
are traps that must not count):

    block  n   code  band     staff group       disability   cluster  clinical
    A     30   A     Band 5   Nursing           N            2        Y
    B     10   H     Band 5   Nursing           Y            2        Y
    C      2   Z     Band 5   Nursing           U            2        Y
    D     12   B     Band 3   Admin             N            1        N
    E      8   M     Band 3   Admin             Y            1        N
    F      9   C     Band 8c  Admin             N            4        N
    G      1   R     VSM      Admin             blank        4        N
    H      5   A     Other    Students          N            —        Y
    bank  20   H     Band 5   Nursing (bank)    Y            excluded
    2023  50   M     Band 5   snapshot 2023-03-31           other period

Overall 77: White 30+12+9+5 = 56, BME 10+8+1 = 19, Unknown 2;
Disabled 10+8 = 18, Non-disabled 30+12+9+5 = 56, Unknown 2+1 = 3.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint

from edi_analysis import stats
from edi_analysis.metrics import MetricContext, compute, compute_raw
from edi_analysis.metrics.representation import in_scope_snapshot

from disclosure_support import declared, exact_leaks

TEXT = [
    "staff_id",
    "trust_code",
    "ethnic_category",
    "sex",
    "disability",
    "staff_group",
    "pay_band",
    "contract_type",
]
NURSING, ADMIN, STUDENTS = (
    "Nursing and Midwifery Registered",
    "Administrative and Clerical",
    "Students",
)


def staff(
    n,
    *,
    code="A",
    band="Band 5",
    group=NURSING,
    disability="N",
    contract="permanent",
    trust="RAA",
    snapshot="2024-03-31",
) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "trust_code": trust,
            "snapshot_date": snapshot,
            "ethnic_category": code,
            "sex": "F",
            "disability": disability,
            "staff_group": group,
            "pay_band": band,
            "contract_type": contract,
        },
        index=range(n),
    )


def workforce(*blocks: pd.DataFrame) -> pd.DataFrame:
    """Typed like a validated table: str columns, datetime dates, NaN for blank codes."""
    df = pd.concat(blocks, ignore_index=True)
    df["staff_id"] = [f"S{i:05d}" for i in range(len(df))]
    for col in TEXT:
        df[col] = df[col].astype("str").replace({"": np.nan}).astype("str")
    df["snapshot_date"] = pd.to_datetime(df["snapshot_date"])
    df["accessed_nonmandatory_training"] = pd.array([True] * len(df), dtype="boolean")
    return df


def board(rows, trust="RAA", snapshot="2024-03-31") -> pd.DataFrame:
    df = pd.DataFrame(
        rows, columns=["member_id", "role", "voting", "executive", "ethnic_category", "disability"]
    )
    df["trust_code"] = trust
    df["snapshot_date"] = pd.to_datetime(snapshot)
    df["sex"] = "F"
    for col in ("voting", "executive"):
        df[col] = pd.array(df[col], dtype="boolean")
    for col in ("member_id", "role", "ethnic_category", "disability", "trust_code", "sex"):
        df[col] = df[col].astype("str")
    return df


RAA_STAFF = [
    staff(30, code="A"),
    staff(10, code="H", disability="Y"),
    staff(2, code="Z", disability="U"),
    staff(12, code="B", band="Band 3", group=ADMIN),
    staff(8, code="M", band="Band 3", group=ADMIN, disability="Y"),
    staff(9, code="C", band="Band 8c", group=ADMIN),
    staff(1, code="R", band="VSM", group=ADMIN, disability=""),
    staff(5, code="A", band="Other", group=STUDENTS),
    staff(20, code="H", disability="Y", contract="bank"),
    staff(50, code="M", snapshot="2023-03-31"),
]
RAA_BOARD = board(
    [
        # member, role, voting, executive, ethnicity, disability
        ("m1", "chair", True, False, "A", "N"),
        ("m2", "chief_executive", True, True, "H", "Y"),
        ("m3", "executive", True, True, "99", "N"),
        ("m4", "executive", False, True, "M", "N"),
        ("m5", "non_executive", True, False, "B", "U"),
        ("m6", "other", pd.NA, False, "H", "Y"),  # voting not recorded: not counted as voting
    ]
)


@pytest.fixture(scope="module")
def raw():
    ctx = MetricContext.from_tables(
        {"workforce": workforce(*RAA_STAFF), "board": RAA_BOARD}, periods=["2024-03-31"]
    )
    return compute_raw(
        ctx,
        [
            "wres.1.share",
            "wdes.1.share",
            "hia2.senior_share",
            "hia2.representation_ratio",
            "wres.9.board_gap",
            "wdes.10.board_gap",
        ],
    )


def pick(rows, metric, breakdown="", group=None, period="2024-03-31", trust="RAA"):
    """Rows of one metric, trust and period; ``breakdown=None``: every breakdown."""
    sel = rows[
        (rows["metric_id"] == metric) & (rows["period"] == period) & (rows["trust_code"] == trust)
    ]
    if breakdown is not None:
        sel = sel[sel["breakdown"] == breakdown]
    if group is not None:
        sel = sel[sel["group"] == group]
        assert len(sel) == 1, (metric, breakdown, group)
        return sel.iloc[0]
    return sel.set_index("group")


def test_population_is_in_scope_staff_at_the_period_snapshot():
    ctx = MetricContext.from_tables({"workforce": workforce(*RAA_STAFF)}, periods=["2024-03-31"])
    snap = in_scope_snapshot(ctx)
    assert len(snap) == 77  # bank (20) and the 2023 snapshot (50) excluded
    assert set(snap["period"]) == {"2024-03-31"}


def test_wres1_overall_shares(raw):
    rows = pick(raw, "wres.1.share")
    # White 56/77 = 72.727%, BME 19/77 = 24.675%, Unknown 2/77 = 2.597%;
    # Unknown stays in the denominator.
    assert rows.loc[["White", "BME", "Unknown"], "numerator"].tolist() == [56, 19, 2]
    assert (rows["denominator"] == 77).all()
    assert rows.loc["White", "value"] == pytest.approx(100 * 56 / 77)
    assert rows["value"].sum() == pytest.approx(100)
    lo, hi = proportion_confint(19, 77, method="wilson")
    assert rows.loc["BME", "ci_lower"] == pytest.approx(100 * lo)
    assert rows.loc["BME", "ci_upper"] == pytest.approx(100 * hi)
    assert (rows["unit"] == "percent").all()
    assert (rows["area"] == "hia2").all()


@pytest.mark.parametrize(
    "breakdown,white,bme,unknown",
    [
        ("pay_cluster=1", 12, 8, 0),
        ("pay_cluster=2", 30, 10, 2),
        ("pay_cluster=4", 9, 1, 0),
        ("clinical=Y", 35, 10, 2),  # A 30 + H 5 (students are clinical), B 10, C 2
        ("clinical=N", 21, 9, 0),  # D 12 + F 9, E 8 + G 1
        ("clinical=Y;pay_cluster=2", 30, 10, 2),
        ("clinical=N;pay_cluster=1", 12, 8, 0),
        ("clinical=N;pay_cluster=4", 9, 1, 0),
    ],
)
def test_wres1_breakdowns(raw, breakdown, white, bme, unknown):
    rows = pick(raw, "wres.1.share", breakdown)
    assert rows.loc[["White", "BME", "Unknown"], "numerator"].tolist() == [white, bme, unknown]
    assert (rows["denominator"] == white + bme + unknown).all()


def test_breakdowns_present_are_only_those_with_staff(raw):
    got = set(raw.loc[raw["metric_id"] == "wres.1.share", "breakdown"])
    assert got == {
        "",
        "pay_cluster=1",
        "pay_cluster=2",
        "pay_cluster=4",
        "clinical=Y",
        "clinical=N",
        "clinical=Y;pay_cluster=2",
        "clinical=N;pay_cluster=1",
        "clinical=N;pay_cluster=4",
    }


def test_other_band_counts_overall_but_in_no_cluster(raw):
    clusters = raw[
        (raw["metric_id"] == "wres.1.share") & raw["breakdown"].str.match(r"^pay_cluster=")
    ]
    # Cluster headcounts 20 + 42 + 10 = 72 = 77 − 5 staff on "Other".
    assert clusters.groupby("breakdown")["denominator"].first().sum() == 72


def test_wdes1_shares(raw):
    rows = pick(raw, "wdes.1.share")
    # Disabled 18/77, Non-disabled 56/77, Unknown (U 2 + blank 1) 3/77.
    assert rows.loc[["Disabled", "Non-disabled", "Unknown"], "numerator"].tolist() == [18, 56, 3]
    assert rows.loc["Disabled", "value"] == pytest.approx(100 * 18 / 77)
    c4 = pick(raw, "wdes.1.share", "pay_cluster=4")
    assert c4.loc[["Disabled", "Non-disabled", "Unknown"], "numerator"].tolist() == [0, 9, 1]


def test_zero_share_has_a_wilson_interval(raw):
    row = pick(raw, "wres.1.share", "pay_cluster=1", "Unknown")
    # 0/20: value 0, interval (0, 16.11%) — Wilson upper bound z²/(n + z²) = 3.8415/23.8415.
    assert row["value"] == 0 and row["ci_lower"] == 0
    assert row["ci_upper"] == pytest.approx(100 * 3.841459 / 23.841459, rel=1e-6)


def test_senior_share_matches_wres1_and_wdes1_cluster_4(raw):
    eth = pick(raw, "hia2.senior_share", "characteristic=ethnicity")
    dis = pick(raw, "hia2.senior_share", "characteristic=disability")
    # Senior = F (9, White) + G (1, BME, disability blank): BME 1/10 = 10%, Disabled 0/10 = 0%.
    assert eth.loc["BME", "value"] == pytest.approx(10.0) and eth.loc["BME", "denominator"] == 10
    assert dis.loc["Disabled", "value"] == 0.0 and dis.loc["Unknown", "numerator"] == 1
    for share, wres in (
        (eth, pick(raw, "wres.1.share", "pay_cluster=4")),
        (dis, pick(raw, "wdes.1.share", "pay_cluster=4")),
    ):
        cols = ["numerator", "denominator", "value", "ci_lower", "ci_upper"]
        pd.testing.assert_frame_equal(share[cols].sort_index(), wres[cols].sort_index())


def test_representation_ratio(raw):
    rows = pick(raw, "hia2.representation_ratio", None)
    assert set(rows.index) == {"BME"}
    rows = rows.set_index("breakdown")
    # Whole workforce with recorded ethnicity: 19 BME of 75 = 25.333% (Unknown 2 excluded).
    # Cluster 2: 10/40 = 25% → 0.25/0.25333 = 75/76; cluster 1: 8/20 → 30/19;
    # cluster 4: 1/10 → 7.5/19.
    assert rows.loc["pay_cluster=2", "value"] == pytest.approx(75 / 76)
    assert rows.loc["pay_cluster=1", "value"] == pytest.approx(30 / 19)
    assert rows.loc["pay_cluster=4", "value"] == pytest.approx(7.5 / 19)
    r, lo, hi = stats.subset_share_ratio(10, 40, 19, 75)
    assert rows.loc["pay_cluster=2", "ci_lower"] == pytest.approx(lo)
    assert rows.loc["pay_cluster=2", "ci_upper"] == pytest.approx(hi)
    assert (rows["reference_group"] == "All").all() and (rows["unit"] == "ratio").all()
    # Value is not numerator ÷ denominator, so both are blank.
    assert rows["numerator"].isna().all() and rows["denominator"].isna().all()
    # The ratio is built from four counts, its cells (edi_analysis.disclosure): cluster 2's
    # BME 10 and White 30, and the workforce's BME 19 and White 56.
    ctx = MetricContext.from_tables(
        {"workforce": workforce(*RAA_STAFF), "board": RAA_BOARD}, periods=["2024-03-31"])
    raw_rows = compute_raw(ctx, ["hia2.representation_ratio"])
    cells = declared(raw_rows, ctx)
    at = raw_rows.index[raw_rows["breakdown"] == "pay_cluster=2"][0]
    assert sorted(cells.loc[cells["row"] == at, "count"]) == [10, 19, 30, 56]


def test_board_gaps(raw):
    """WRES 9 / WDES 10 keep Unknown in both denominators (all voting members, all in-scope
    staff), as WRES returns and trusts' published board tables ("Unknown 40%") count them."""
    wres9 = pick(raw, "wres.9.board_gap", None).loc[["BME"]].set_index("breakdown")
    # Voting m1 (A), m2 (H), m3 (99, Unknown), m5 (B); m6 voting not recorded.
    # 1 BME of 4 voting members = 25% − 19 BME of 77 in-scope staff (Unknown 2 included)
    # = 24.675% → 0.325 pp. (Unknown excluded from both, the old rule: 1/3 − 19/75 = 8.0 pp.)
    assert wres9.loc["board=voting", "value"] == pytest.approx(25 - 100 * 19 / 77)
    assert wres9.loc["board=voting", "note"] == (
        "ethnicity not recorded for 1 of 4 voting board members (counted as Unknown)")
    # Executive m2 (H), m3 (99), m4 (M): 2/3 = 66.667% − 24.675% = 41.991 pp.
    assert wres9.loc["board=executive", "value"] == pytest.approx(200 / 3 - 100 * 19 / 77)
    # The board's own counts are published beside the gap (a census: "1 of 4", "2 of 3").
    assert tuple(wres9.loc["board=voting", ["numerator", "denominator"]]) == (1, 4)
    assert tuple(wres9.loc["board=executive", ["numerator", "denominator"]]) == (2, 3)
    wdes10 = pick(raw, "wdes.10.board_gap", None).loc[["Disabled"]].set_index("breakdown")
    # Voting disability m1 N, m2 Y, m3 N, m5 U → 1/4 = 25%; workforce 18 of 77 = 23.377%.
    assert wdes10.loc["board=voting", "value"] == pytest.approx(25 - 100 * 18 / 77)
    # Executive m2 Y, m3 N, m4 N → 1/3 − 18/77.
    assert wdes10.loc["board=executive", "value"] == pytest.approx(100 / 3 - 100 * 18 / 77)
    assert wdes10.loc["board=executive", "note"] == ""
    assert tuple(wdes10.loc["board=voting", ["numerator", "denominator"]]) == (1, 4)
    assert set(pick(raw, "wres.9.board_gap", None).index) == {"BME"}
    assert set(pick(raw, "wdes.10.board_gap", None).index) == {"Disabled"}
    for rows in (wres9, wdes10):
        assert set(rows.index) == {"board=voting", "board=executive"}
        assert (rows["reference_group"] == "All").all()
        assert (rows["unit"] == "pp").all() and (rows["basis"] == "board").all()
        assert rows["ci_lower"].isna().all()


def test_board_without_recorded_ethnicity_and_trust_without_board():
    wf = workforce(*RAA_STAFF, staff(10, code="A", trust="RBB"), staff(9, code="A", trust="RCC"))
    brd = pd.concat(
        [
            RAA_BOARD,
            board(
                [
                    ("x1", "chair", True, False, "A", "N"),
                    ("x2", "executive", False, True, "Z", "U"),
                ],
                trust="RBB",
            ),
        ]
    )
    rows = compute_raw(
        MetricContext.from_tables({"workforce": wf, "board": brd}, periods=["2024-03-31"]),
        ["wres.9.board_gap", "wdes.10.board_gap"],
    )
    assert "RCC" not in set(rows["trust_code"])  # no board return: no board rows
    rbb = rows[rows["trust_code"] == "RBB"].set_index(["metric_id", "breakdown"])
    # Voting: 0 BME of 1 member − 0 of 10 = 0 pp (a real zero, not blank).
    assert rbb.loc[("wres.9.board_gap", "board=voting"), "value"] == 0.0
    # Executive: x2 alone, ethnicity not recorded: 0 BME of 1 member = 0% − 0% = 0 pp, with the
    # unrecorded member in the note (the old rule left the figure blank).
    ex = rbb.loc[("wres.9.board_gap", "board=executive")]
    assert ex["value"] == 0.0
    assert ex["note"] == "ethnicity not recorded for 1 of 1 executive board members (counted as Unknown)"
    ex = rbb.loc[("wdes.10.board_gap", "board=executive")]
    assert ex["value"] == 0.0 and "disability status not recorded for 1 of 1" in ex["note"]
    # A trust whose board return has no executive members: blank, with the reason.
    none = compute_raw(MetricContext.from_tables(
        {"workforce": wf, "board": board([("y1", "chair", True, False, "A", "N")], trust="RBB")},
        periods=["2024-03-31"]), ["wres.9.board_gap"])
    ex = none.set_index("breakdown").loc["board=executive"]
    assert np.isnan(ex["value"]) and ex["note"] == "no executive board members"


def test_board_uses_the_period_snapshot():
    old = board([("o1", "chair", True, True, "H", "Y")], snapshot="2023-03-31")
    ctx = MetricContext.from_tables(
        {"workforce": workforce(*RAA_STAFF), "board": pd.concat([RAA_BOARD, old])},
        periods=["2023-03-31", "2024-03-31"],
    )
    rows = compute_raw(ctx, ["wres.9.board_gap"])
    r23 = pick(rows, "wres.9.board_gap", "board=voting", "BME", period="2023-03-31")
    # 2023: board 1/1 BME = 100%; workforce 50 in-scope staff all M → 100% → gap 0.
    assert r23["value"] == pytest.approx(0.0)
    assert pick(rows, "wres.9.board_gap", "board=voting", "BME")["value"] == pytest.approx(
        25 - 100 * 19 / 77)


def test_periods_are_computed_independently():
    ctx = MetricContext.from_tables(
        {"workforce": workforce(*RAA_STAFF)}, periods=["2023-03-31", "2024-03-31"]
    )
    rows = compute_raw(ctx, ["wres.1.share"])
    r23 = pick(rows, "wres.1.share", period="2023-03-31")
    assert r23.loc[["White", "BME", "Unknown"], "numerator"].tolist() == [0, 50, 0]
    assert pick(rows, "wres.1.share").loc["BME", "numerator"] == 19


def test_published_suppression():
    ctx = MetricContext.from_tables(
        {"workforce": workforce(*RAA_STAFF), "board": RAA_BOARD}, periods=["2024-03-31"]
    )
    ids = ["wres.1.share", "wdes.1.share", "hia2.senior_share", "hia2.representation_ratio",
           "wres.9.board_gap"]
    out = compute(ctx, ids, internal=True)
    key = out.set_index(["metric_id", "breakdown", "group"])
    sup, note = key["suppressed"], key["note"]
    primary = "suppressed: based on fewer than 8 people"
    # Small counts: Unknown 2 (overall, and in cluster 2 and clinical=Y, where all of them
    # are), BME 1 in cluster 4 (the VSM), disability Unknown 1 in cluster 4.
    for where in [("wres.1.share", "", "Unknown"), ("wres.1.share", "pay_cluster=2", "Unknown"),
                  ("wres.1.share", "clinical=Y", "Unknown"), ("wres.1.share", "pay_cluster=4", "BME"),
                  ("wdes.1.share", "pay_cluster=4", "Unknown")]:
        assert sup[where] and note[where] == primary, where
    # Senior leadership is pay cluster 4: the same counts, the same decision, cell for cell.
    for share, char in (("wres.1.share", "ethnicity"), ("wdes.1.share", "disability")):
        assert (sup.loc[(share, "pay_cluster=4")].tolist()
                == sup.loc[("hia2.senior_share", f"characteristic={char}")].tolist())
    # A row hidden only to protect another count says so, and nothing else.
    hidden = out[out["suppressed"]]
    assert set(hidden["note"]) == {primary, "hidden so that another small figure cannot be worked out"}
    assert hidden[["numerator", "denominator", "value", "ci_lower", "ci_upper"]].isna().all().all()
    # Nothing small can be worked out from what is published (independent exact check).
    assert exact_leaks(out, ctx, 8, 11) == []


def test_board_gap_asked_for_alone_is_decided_with_the_workforce_shares():
    # The same trust as above. A report section showing only the board gap publishes what
    # metrics.csv publishes: the gap is decided with every workforce count (it subtracts the
    # BME share of the workforce, which the public board make-up would give back).
    ctx = MetricContext.from_tables(
        {"workforce": workforce(*RAA_STAFF), "board": RAA_BOARD}, periods=["2024-03-31"]
    )
    alone = compute(ctx, ["wres.9.board_gap"])
    assert set(alone["metric_id"]) == {"wres.9.board_gap"}
    with_shares = compute(ctx, ["wres.1.share", "wres.9.board_gap"])
    pd.testing.assert_frame_equal(
        alone, with_shares[with_shares["metric_id"] == "wres.9.board_gap"].reset_index(drop=True)
    )
    # Its cells are the workforce's BME 19 and all 77 in-scope staff (BME 19 + White 56 +
    # Unknown 2: Unknown stays in the WRES 9 denominator, §4.1).
    raw_rows = compute_raw(ctx, ["wres.9.board_gap"])
    assert sorted(set(declared(raw_rows, ctx)["count"])) == [19, 77]


def test_board_gap_is_suppressed_when_its_workforce_count_is_small():
    # 4 BME of 40 in scope: the board gap subtracts 4/40, so with the board's make-up public
    # the gap would give the 4 back: it goes with the WRES 1 BME row.
    wf = workforce(staff(36, code="A"), staff(4, code="H"))
    ctx = MetricContext.from_tables({"workforce": wf, "board": RAA_BOARD}, periods=["2024-03-31"])
    out = compute(ctx, ["wres.1.share", "wres.9.board_gap"]).set_index(
        ["metric_id", "breakdown", "group"])
    assert out.loc[("wres.1.share", "", "BME"), "suppressed"]
    assert out.loc[("wres.9.board_gap",), "suppressed"].all()
    assert out.loc[("wres.9.board_gap",), "value"].isna().all()


def test_representation_ratio_blank_when_reference_share_is_zero():
    wf = workforce(
        staff(10, code="A", trust="RDD"),
        staff(9, code="B", band="Band 3", group=ADMIN, trust="RDD"),
        staff(3, code="Z", band="Band 3", group=ADMIN, trust="RDD"),
    )
    rows = compute_raw(
        MetricContext.from_tables({"workforce": wf}, periods=["2024-03-31"]),
        ["hia2.representation_ratio"],
    )
    assert rows["value"].isna().all()
    assert (
        rows["note"]
        == "no BME staff with recorded ethnicity in the workforce: reference share is zero"
    ).all()


def test_no_workforce_no_rows():
    ctx = MetricContext.from_tables({"workforce": workforce(*RAA_STAFF)}, periods=["2022-03-31"])
    assert compute_raw(ctx, ["wres.1.share", "wres.9.board_gap"]).empty


def test_trust_without_senior_staff_has_no_senior_rows():
    wf = workforce(staff(12, code="A"), staff(9, code="H", band="Band 3", group=ADMIN))
    rows = compute_raw(
        MetricContext.from_tables({"workforce": wf}, periods=["2024-03-31"]),
        ["hia2.senior_share", "wres.1.share"],
    )
    assert "hia2.senior_share" not in set(rows["metric_id"])
    assert pick(rows, "wres.1.share").loc["BME", "numerator"] == 9
