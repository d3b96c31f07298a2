"""Representation metrics (CONTRACT.md §4.1): WRES 1, WDES 1, WRES 9, WDES 10, HIA2, Model Employer.

Population: in-scope staff (permanent and fixed-term; bank excluded) in the
workforce snapshot whose ``snapshot_date`` is the period; the board table at
the same snapshot date. One vectorised pass over every trust and period.

Breakdown syntax used here (``breakdown`` column):

- ``""`` — the whole in-scope workforce (headline);
- ``pay_cluster=1`` … ``pay_cluster=7`` — WRES/WDES pay clusters (staff on
  ``Other`` pay bands are in no cluster and count in the headline only);
- ``clinical=Y`` / ``clinical=N`` — clinical and non-clinical staff groups;
- ``clinical=Y;pay_cluster=2`` — a pay cluster within clinical or
  non-clinical staff, as the WRES and WDES returns report clusters
  separately for clinical and non-clinical staff (keys joined with ``;`` in
  alphabetical order);
- ``characteristic=ethnicity`` / ``characteristic=disability`` — which
  characteristic a ``hia2.senior_share`` row partitions;
- ``board=voting`` / ``board=executive`` — board subsets (WRES 9, WDES 10).

``numerator`` and ``denominator`` are filled only where ``value`` is
numerator ÷ denominator (× 100); ratio and gap rows leave them blank — the
counts behind them are in the share rows of the same trust and period.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from edi_analysis import groups, stats
from edi_analysis.metrics.registry import MetricSpec, family
from edi_analysis.metrics.rows import empty_rows, make_rows

WRES_GUIDANCE = "NHS England, Workforce Race Equality Standard: technical guidance (2023)"
WDES_GUIDANCE = "NHS England, Workforce Disability Equality Standard: technical guidance (2023)"
EDI_PLAN = "NHS England, NHS equality, diversity and inclusion improvement plan (2023)"
MODEL_EMPLOYER = (
    "NHS England, A model employer: increasing black and minority ethnic representation "
    "at senior levels across the NHS (2019)"
)

_SHARE_BREAKDOWNS = ("pay_cluster", "clinical", "clinical;pay_cluster")

SPECS = [
    MetricSpec(
        id="wres.1.share", area="hia2", unit="percent",
        label="Share of the workforce by ethnicity (WRES 1)",
        source=f"{WRES_GUIDANCE}, indicator 1; {EDI_PLAN}, HIA2 success metric 2c",
        definition=(
            "In-scope headcount in each ethnicity group (White, BME, Unknown) ÷ in-scope "
            "headcount of the breakdown, including Unknown, × 100; overall, by pay cluster, "
            "by clinical/non-clinical and by pay cluster within each. 95% Wilson interval."
        ),
        breakdowns=_SHARE_BREAKDOWNS,
    ),
    MetricSpec(
        id="wdes.1.share", area="hia2", unit="percent",
        label="Share of the workforce by disability (WDES 1)",
        source=f"{WDES_GUIDANCE}, metric 1; {EDI_PLAN}, HIA2 success metric 2c",
        definition=(
            "In-scope headcount in each disability group (Disabled, Non-disabled, Unknown) ÷ "
            "in-scope headcount of the breakdown, including Unknown, × 100; overall, by pay "
            "cluster, by clinical/non-clinical and by pay cluster within each. 95% Wilson "
            "interval."
        ),
        breakdowns=_SHARE_BREAKDOWNS,
    ),
    MetricSpec(
        id="hia2.senior_share", area="hia2", unit="percent",
        label="Share of senior leadership (Band 8c and above, VSM) by ethnicity and disability",
        source=f"{EDI_PLAN}, HIA2 success metric 2d; {MODEL_EMPLOYER}",
        definition=(
            "In-scope staff on Band 8c, 8d, 9 or VSM in each ethnicity group (breakdown "
            "characteristic=ethnicity) and each disability group (characteristic=disability) ÷ "
            "all such staff, including Unknown, × 100. 95% Wilson interval. All groups are "
            "shown so that suppression matches WRES 1 / WDES 1 pay cluster 4."
        ),
        breakdowns=("characteristic",),
    ),
    MetricSpec(
        id="hia2.representation_ratio", area="hia2", unit="ratio",
        label="BME representation ratio by pay cluster (Model Employer parity = 1)",
        source=f"{MODEL_EMPLOYER}; {EDI_PLAN}, HIA2 success metric 2c",
        definition=(
            "BME share of in-scope staff with recorded ethnicity in the pay cluster ÷ BME share "
            "of all in-scope staff with recorded ethnicity (Unknown excluded from both). 95% "
            "interval: delta method on the log ratio allowing for the cluster being part of the "
            "whole (Convention; see stats.subset_share_ratio)."
        ),
        breakdowns=("pay_cluster",),
    ),
    MetricSpec(
        id="wres.9.board_gap", area="hia2", unit="pp",
        label="BME board membership minus BME workforce share (WRES 9)",
        source=f"{WRES_GUIDANCE}, indicator 9",
        definition=(
            "% BME among all board members of the subset (voting, or executive) − % BME among "
            "all in-scope staff, in percentage points; Unknown ethnicity stays in both "
            "denominators, as WRES returns and trusts' published board tables count it (a "
            "note gives the board's unrecorded count); numerator = BME members of the subset, "
            "denominator = all its members (the board's own make-up, which is public). Board "
            "membership is a census: no interval. Suppressed with the workforce counts it "
            "subtracts (CONTRACT.md §4.8): the public board make-up would give them back."
        ),
        breakdowns=("board",),
        counts=(),  # the board's own counts are public; its workforce cells are declared (disclosure)
    ),
    MetricSpec(
        id="wdes.10.board_gap", area="hia2", unit="pp",
        label="Disabled board membership minus Disabled workforce share (WDES 10)",
        source=f"{WDES_GUIDANCE}, metric 10",
        definition=(
            "% Disabled among all board members of the subset (voting, or executive) − % "
            "Disabled among all in-scope staff, in percentage points; Unknown (not declared) "
            "stays in both denominators, as in WRES 9 (a note gives the board's unrecorded "
            "count); numerator = Disabled members of the subset, denominator = all its members "
            "(public). No interval. Suppressed with the workforce counts it subtracts "
            "(CONTRACT.md §4.8)."
        ),
        breakdowns=("board",),
        counts=(),  # the board's own counts are public; its workforce cells are declared (disclosure)
    ),
]

_KEYS = ["trust_code", "period"]


def _iso(dates: pd.Series) -> pd.Series:
    return dates.dt.strftime("%Y-%m-%d").astype("str")


def in_scope_snapshot(ctx) -> pd.DataFrame:
    """In-scope workforce rows at the context's periods, with an ISO ``period`` column.

    CONTRACT.md §3: WRES/WDES population = permanent and fixed-term staff in
    the snapshot taken on the period date.
    """
    wf = ctx.table("workforce")
    if wf is None or wf.empty:
        return pd.DataFrame()
    keep = wf["snapshot_date"].isin(pd.DatetimeIndex(ctx.periods)) & wf["in_scope"].astype(bool)
    out = wf.loc[keep]  # a new frame (copy-on-write): the column added here is not wf's
    out["period"] = _iso(out["snapshot_date"])
    return out


def group_counts(df: pd.DataFrame, keys: list[str], group_col: str, labels,
                 weight: str | None = None) -> pd.DataFrame:
    """Headcount per ``keys`` × group, wide: one column per label (zeros kept) and ``total``.

    Counts rows, or sums ``weight`` when given (rows that are already
    counts). ``total`` covers every row, so a group outside ``labels``
    still counts in the denominator.
    """
    if df.empty:
        return pd.DataFrame(columns=keys + list(labels) + ["total"]).astype(
            {c: "float64" for c in list(labels) + ["total"]})
    grouped = df.groupby(keys + [group_col], observed=True, sort=True)
    counts = grouped.size() if weight is None else grouped[weight].sum()
    counts = counts.unstack(group_col, fill_value=0)
    total = counts.sum(axis=1)
    counts = counts.reindex(columns=list(labels), fill_value=0).astype("float64")
    counts["total"] = total.astype("float64")
    counts.columns.name = None
    return counts.reset_index()


def _breakdown_cells(staff: pd.DataFrame) -> pd.DataFrame:
    """Headcount cells (column ``n``) stacked once per breakdown they fall in.

    Staff are first counted by clinical × pay cluster × ethnicity × disability
    so the breakdown labels are built on a table of cells, not of people.
    """
    cols = _KEYS + ["clinical", "pay_cluster", "ethnicity", "disability_group"]
    cells = staff.groupby(cols, observed=True, dropna=False, sort=False).size().rename("n")
    cells = cells.reset_index()
    has_cluster = cells["pay_cluster"].notna()
    in_cluster = cells[has_cluster]
    cluster = "pay_cluster=" + in_cluster["pay_cluster"]
    parts = [
        cells.assign(breakdown=""),
        in_cluster.assign(breakdown=cluster),
        cells.assign(breakdown="clinical=" + cells["clinical"]),
        in_cluster.assign(breakdown="clinical=" + in_cluster["clinical"] + ";" + cluster),
    ]
    out = pd.concat(parts, ignore_index=True)
    out["breakdown"] = out["breakdown"].astype("str")
    return out


def share_rows(metric_id: str, wide: pd.DataFrame, labels, keys: list[str]) -> pd.DataFrame:
    """Share rows from wide counts: each label's count ÷ ``total`` × 100, with Wilson 95% CI."""
    long = wide.melt(id_vars=keys + ["total"], value_vars=list(labels), var_name="group",
                     value_name="k")
    if "breakdown" not in long:
        long["breakdown"] = ""
    k, n = long["k"].to_numpy(), long["total"].to_numpy()
    lo, hi = stats.wilson_interval(k, n)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = np.where(n > 0, 100 * k / n, np.nan)
    return make_rows(
        trust_code=long["trust_code"], period=long["period"], metric_id=metric_id,
        breakdown=long["breakdown"], group=long["group"],
        numerator=k, denominator=n, value=value, ci_lower=100 * lo, ci_upper=100 * hi,
        basis="rate",
    )


def _representation_ratio(wide: pd.DataFrame) -> pd.DataFrame:
    """Model Employer ratio rows from wide ethnicity counts per breakdown (overall + clusters)."""
    overall = wide[wide["breakdown"] == ""].drop(columns=["breakdown", "total"])
    clusters = wide[wide["breakdown"].str.startswith("pay_cluster=")].drop(columns="total")
    m = clusters.merge(overall, on=_KEYS, suffixes=("", "_all"))
    if m.empty:
        return empty_rows()
    labels = (groups.BME, groups.WHITE)
    bme, white = (m[g].to_numpy() for g in labels)
    bme_all, white_all = (m[f"{g}_all"].to_numpy() for g in labels)
    ratio, lo, hi = stats.subset_share_ratio(bme, bme + white, bme_all, bme_all + white_all)
    note = np.select(
        [bme + white == 0, bme_all == 0, bme == 0],
        [
            "no staff with recorded ethnicity in this pay cluster",
            "no BME staff with recorded ethnicity in the workforce: reference share is zero",
            "no BME staff in this pay cluster: interval not computed",
        ],
        default="",
    )
    return make_rows(
        trust_code=m["trust_code"], period=m["period"], metric_id="hia2.representation_ratio",
        breakdown=m["breakdown"], group=groups.BME, reference_group=groups.ALL,
        value=ratio, ci_lower=lo, ci_upper=hi, note=note, basis="rate",
    )


def _board_gap(ctx, wide_eth: pd.DataFrame, wide_dis: pd.DataFrame) -> pd.DataFrame:
    """WRES 9 / WDES 10 rows: board share minus workforce share, Unknown in both denominators.

    WRES technical guidance, indicator 9 ("percentage difference between the
    organisation's board voting membership and its overall workforce"); WDES
    technical guidance, metric 10. Each share is of *all* members or staff:
    a board member or member of staff whose ethnicity (disability status) is
    not recorded counts in the denominator as Unknown, as the WRES/WDES
    returns and trusts' published board tables do ("Unknown 40%").
    """
    board = ctx.table("board")
    if board is None or board.empty:
        return empty_rows()
    board = board.loc[board["snapshot_date"].isin(pd.DatetimeIndex(ctx.periods))].copy()
    if board.empty:
        return empty_rows()
    board["period"] = _iso(board["snapshot_date"])
    # A voting/executive flag left blank is not recorded: the member is not counted in that subset.
    voting = board["voting"].fillna(False).astype(bool)
    executive = board["executive"].fillna(False).astype(bool)
    subsets = pd.concat(
        [board[voting].assign(breakdown="board=voting"),
         board[executive].assign(breakdown="board=executive")],
        ignore_index=True,
    )
    # Every trust and period with a board return gets both subsets, even an empty one, so a
    # missing figure is visible with its reason rather than silently absent.
    frame = board[_KEYS].drop_duplicates().merge(
        pd.DataFrame({"breakdown": ["board=voting", "board=executive"]}), how="cross"
    )
    keys = _KEYS + ["breakdown"]
    parts = []
    for metric_id, col, compared, wide, what in (
        ("wres.9.board_gap", "ethnicity", groups.BME, wide_eth, "ethnicity"),
        ("wdes.10.board_gap", "disability_group", groups.DISABLED, wide_dis,
         "disability status"),
    ):
        counts = group_counts(subsets, keys, col, (compared, groups.UNKNOWN))
        b = frame.merge(counts, on=keys, how="left")
        w = wide.loc[wide["breakdown"] == "", _KEYS + [compared, "total"]]
        b = b.merge(w, on=_KEYS, how="left", suffixes=("", "_wf")).fillna(
            {compared: 0.0, groups.UNKNOWN: 0.0, "total": 0.0}
        )
        kb, nb, unk = (b[c].to_numpy(dtype="float64") for c in (compared, "total", groups.UNKNOWN))
        kw = b[f"{compared}_wf"].to_numpy(dtype="float64")
        nw = b["total_wf"].to_numpy(dtype="float64")
        with np.errstate(divide="ignore", invalid="ignore"):
            gap = np.where((nb > 0) & (nw > 0), 100 * kb / nb - 100 * kw / nw, np.nan)
        kind = np.where(b["breakdown"] == "board=voting", "voting", "executive").astype(object)
        # Board membership is public (CONTRACT.md §4.8), so the board's unrecorded count is shown.
        unrecorded = pd.Series(
            [f"{what} not recorded for {int(u)} of {int(n)} {k} board members (counted as Unknown)"
             for u, n, k in zip(unk, nb, kind)], dtype=object).to_numpy()
        note = np.select(
            [nb == 0, ~(nw > 0), unk > 0],
            [
                "no " + kind + " board members",
                "no in-scope staff at this snapshot",
                unrecorded,
            ],
            default="",
        )
        parts.append(make_rows(
            trust_code=b["trust_code"], period=b["period"], metric_id=metric_id,
            breakdown=b["breakdown"], group=compared, reference_group=groups.ALL,
            # the board's own counts (public): members of the group and members with the
            # characteristic recorded, so a reader sees "0 of 9" rather than only a gap
            numerator=kb, denominator=nb,
            value=gap, note=note, basis="board",
        ))
    return pd.concat(parts, ignore_index=True)


@family("representation", SPECS, tables=("workforce", "board"))
def representation(ctx) -> pd.DataFrame:
    """WRES 1, WDES 1, senior leadership shares, Model Employer ratios, WRES 9 and WDES 10.

    Definitions in CONTRACT.md §4.1 and the registry entries above. Shares
    and the board gaps (WRES 9, WDES 10) keep Unknown in the denominator (they
    describe the whole headcount or board); the representation ratio excludes
    Unknown from both sides (CONTRACT.md §3).
    """
    staff = in_scope_snapshot(ctx)
    if staff.empty:
        return empty_rows()
    cells = _breakdown_cells(staff)
    keys = _KEYS + ["breakdown"]
    wide_eth = group_counts(cells, keys, "ethnicity", groups.ETHNICITY_LABELS, weight="n")
    wide_dis = group_counts(cells, keys, "disability_group", groups.DISABILITY_LABELS, weight="n")

    senior = staff[staff["senior"].astype(bool)]
    senior_eth = group_counts(senior, _KEYS, "ethnicity", groups.ETHNICITY_LABELS).assign(
        breakdown="characteristic=ethnicity")
    senior_dis = group_counts(senior, _KEYS, "disability_group", groups.DISABILITY_LABELS).assign(
        breakdown="characteristic=disability")

    return pd.concat(
        [
            share_rows("wres.1.share", wide_eth, groups.ETHNICITY_LABELS, keys),
            share_rows("wdes.1.share", wide_dis, groups.DISABILITY_LABELS, keys),
            share_rows("hia2.senior_share", senior_eth, groups.ETHNICITY_LABELS, keys),
            share_rows("hia2.senior_share", senior_dis, groups.DISABILITY_LABELS, keys),
            _representation_ratio(wide_eth),
            _board_gap(ctx, wide_eth, wide_dis),
        ],
        ignore_index=True,
    )
