"""Record builders: each population's records, with the columns its cells condition on.

Every selection rule comes from the metric families' own helpers (the scope
of WRES/WDES, the staff entering a formal process that WRES 3 / WDES 3 count,
the cases the outcome measures count, the cells the disparity model fits, the
training and sickness rules, the leaver pairing, the quartile allocation, the
like-for-like doctors …), so a change to a
definition reaches the records too; ``tests/test_disclosure.py`` checks,
for every row, that the declared cells counted on these records are the
row's published numerator and denominator.

Values are text (``"Y"``/``"N"``, group labels, ISO dates; ``""`` for not
recorded). No I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from edi_analysis import groups
from edi_analysis.disclosure.populations import (
    HARASSMENT_FROM_STAFF,
    HWB_COLUMNS,
    SURVEY_ANSWERS,
    model_factor,
    outcome_factor,
)

#: The case types whose staff entering are published (WRES 3 and sex: disciplinary;
#: WDES 3: capability on performance).
COUNTED_CASE_TYPES = ("disciplinary", "capability_performance")
#: The case type whose cases the outcome measures count (er.outcome_share).
OUTCOME_CASE_TYPE = "disciplinary"


def iso(dates: pd.Series) -> pd.Series:
    return dates.dt.strftime("%Y-%m-%d").astype("str")


def _yn(mask) -> np.ndarray:
    return np.where(np.asarray(mask, dtype=bool), "Y", "N").astype(object)


def _flag(values: pd.Series) -> np.ndarray:
    """A recorded Y/N flag as "Y"/"N", blank as ""."""
    v = values.astype("boolean")
    return np.where(v.isna().to_numpy(), "", np.where(v.fillna(False).to_numpy(), "Y", "N")).astype(object)


def _text(values: pd.Series, blank: str = "") -> np.ndarray:
    if isinstance(values.dtype, pd.StringDtype):
        # Already text: one conversion to Python strings, not three (a quarter of the time on
        # the national workforce); the same values as the general path below.
        return values.to_numpy(dtype=object, na_value=blank)
    return values.astype("object").where(values.notna(), blank).astype(str).to_numpy(dtype=object)


def _column(df: pd.DataFrame, col: str) -> pd.Series:
    """A column, or all blank where a hand-made table lacks it (validated tables never do)."""
    return df[col] if col in df else pd.Series(pd.NA, index=df.index, dtype="object")


def year_buckets(dates: pd.Series, trusts: pd.Series,
                 boundaries: Mapping[str, Sequence[pd.Timestamp]]) -> np.ndarray:
    """The elementary year a date falls in: the next boundary on or after it, as ISO text.

    ``boundaries`` per trust are the ends of every reporting year (and rolling
    window) the trust's figures use; consecutive boundaries bound an elementary
    interval (a, b], labelled b, so every reporting year and window is a union
    of them. Dates outside every interval get "".
    """
    out = np.full(len(dates), "", dtype=object)
    d = dates.to_numpy(dtype="datetime64[ns]")
    t = trusts.to_numpy(dtype=object)
    for trust, bounds in boundaries.items():
        at = np.flatnonzero(t == trust)
        if not at.size or len(bounds) < 2:
            continue
        b = np.array(sorted(set(bounds)), dtype="datetime64[ns]")
        i = np.searchsorted(b, d[at], side="left")
        ok = (i >= 1) & (i < len(b)) & ~np.isnat(d[at])
        labels = pd.DatetimeIndex(b).strftime("%Y-%m-%d").to_numpy(dtype=object)
        out[at[ok]] = labels[i[ok]]
    return out


def _boundaries(periods: Mapping[str, Sequence[pd.Timestamp]], years_back: int) -> dict:
    return {t: sorted({p - pd.DateOffset(years=k) for p in ps for k in range(years_back + 1)})
            for t, ps in periods.items()}


def _has(df: pd.DataFrame, *cols: str) -> bool:
    return all(c in df for c in cols)


def workforce_records(ctx) -> pd.DataFrame:
    """Every workforce row (all snapshots, bank included) with its classification and outcomes.

    A column whose source a hand-made table lacks is blank (a validated table has them all;
    the families that need it do not run without it).
    """
    from edi_analysis.metrics.pay_medical import (
        in_adjusted_model,
        medical_population,
        years_of_service,
    )
    from edi_analysis.metrics.recruitment import accessed_training
    from edi_analysis.metrics.wellbeing import new_starter, sickness_recorded, year_on_year

    wf = ctx.table("workforce")
    if wf is None or wf.empty:
        return pd.DataFrame()
    wf = wf.reset_index(drop=True)
    n = len(wf)
    blank = np.full(n, "", dtype=object)
    out = pd.DataFrame({
        "trust_code": wf["trust_code"].to_numpy(dtype=object),
        "snapshot": iso(wf["snapshot_date"]).to_numpy(dtype=object),
        "in_scope": _yn(wf["in_scope"]) if "in_scope" in wf else blank,
    })
    for col, src, blank_as in (("ethnicity", "ethnicity", ""), ("disability", "disability_group", ""),
                               ("sex", "sex_group", ""), ("pay_cluster", "pay_cluster", "none"),
                               ("clinical", "clinical", ""), ("age_band", "age_band", ""),
                               ("recruit_type", "recruit_type", "")):
        out[col] = _text(wf[src], blank_as) if src in wf else blank
    out["training"] = (_yn(accessed_training(wf)) if _has(wf, "accessed_nonmandatory_training")
                       else blank)
    out["flexible"] = _flag(wf["flexible_working"]) if _has(wf, "flexible_working") else blank
    out["sickness"] = (_yn(sickness_recorded(wf))
                       if _has(wf, "sickness_days_12m", "available_days_12m") else blank)
    if _has(wf, "bonus_pay_12m"):
        bonus = wf["bonus_pay_12m"].to_numpy(dtype="float64")
        out["bonus"] = np.select([bonus > 0, bonus == 0], ["paid", "unpaid"], "").astype(object)
    else:
        out["bonus"] = blank
    out["new_starter"] = (_yn(new_starter(wf["start_date"], wf["snapshot_date"]))
                          if _has(wf, "start_date") else blank)
    in_model = np.zeros(n, dtype=bool)
    if _has(wf, "hourly_pay", "full_pay_relevant", "staff_group", "sex_group", "fte",
            "bonus_pay_12m", "start_date"):
        medical = medical_population(wf)
        medical = medical.assign(years_service=years_of_service(medical))
        in_model[medical.index[in_adjusted_model(medical).to_numpy()]] = True
    out["medical_model"] = _yn(in_model)
    # A leaver is an in-scope person at an earlier snapshot absent from the one a year later.
    stayed = blank.copy()
    if _has(wf, "staff_id", "in_scope"):
        pairs, _ = year_on_year(ctx)
        if not pairs.empty:
            key = pd.MultiIndex.from_arrays([wf["trust_code"], wf["snapshot_date"], wf["staff_id"]])
            pk = pd.MultiIndex.from_arrays([pairs["trust_code"], pairs["earlier"],
                                            pairs["staff_id"]])
            pos = key.get_indexer(pk)
            stayed[pos[pos >= 0]] = _yn(pairs["stayed"].to_numpy()[pos >= 0])
    out["stayed"] = stayed
    for col in HWB_COLUMNS:
        if col in wf:
            out[col] = _flag(wf[col])
    return out


def quartile_records(ctx) -> pd.DataFrame:
    """Women and men in each quartile pay band per snapshot, as weighted records (SI 2017/353)."""
    from edi_analysis.metrics.pay_gaps import quartile_allocation, quartile_staff, workforce_for_periods

    wf = workforce_for_periods(ctx)
    if wf is None or not _has(wf, "full_pay_relevant", "hourly_pay", "sex_group"):
        return pd.DataFrame()
    q = quartile_allocation(quartile_staff(wf))
    q = q[q["size"] > 0]
    parts = [pd.DataFrame({"trust_code": q["trust_code"].to_numpy(dtype=object),
                           "snapshot": q["period"].to_numpy(dtype=object),
                           "quartile": q["quartile"].to_numpy(dtype=object),
                           "sex": label, "weight": q[col].to_numpy(dtype="float64")})
             for label, col in ((groups.FEMALE, "female"), (groups.MALE, "male"))]
    out = pd.concat(parts, ignore_index=True)
    return out[out["weight"] > 0].reset_index(drop=True)


def case_records(ctx, periods: Mapping[str, Sequence[pd.Timestamp]]) -> pd.DataFrame:
    """The cases the outcome measures count (every disciplinary case, bank staff's included:
    CONTRACT.md §4.3), with the year they started in.

    ``periods`` (per trust) fix the year boundaries: every reporting year ending on a period.
    """
    from edi_analysis.metrics.disciplinary import closed_by, counted_cases

    er = ctx.table("employee_relations")
    if er is None or er.empty:
        return pd.DataFrame()
    er = counted_cases(er, OUTCOME_CASE_TYPE).reset_index(drop=True)
    out = pd.DataFrame({
        "trust_code": er["trust_code"].to_numpy(dtype=object),
        "year": year_buckets(er["start_date"], er["trust_code"], _boundaries(periods, 1)),
        "case_type": _text(er["case_type"]),
        "ethnicity": _text(_column(er, "ethnicity")),
        "disability": _text(_column(er, "disability_group")),
        "sex": _text(_column(er, "sex_group")),
    })
    for p in sorted({p for ps in periods.values() for p in ps}):
        col = outcome_factor(p.strftime("%Y-%m-%d"))
        if _has(er, "closed_date", "outcome"):
            out[col] = np.where(closed_by(er, p), _text(er["outcome"]), "open").astype(object)
        else:
            out[col] = "open"
    return out


def entrant_records(ctx, periods: Mapping[str, Sequence[pd.Timestamp]]) -> pd.DataFrame:
    """The staff entering a formal process that WRES 3 / WDES 3 count, one record per person
    per reporting year (``metrics.disciplinary.entrant_records``: in scope, first case of the
    year), ``year`` the ISO date of the snapshot closing that year.

    A period's rolling window is its own reporting year and the one before (CONTRACT.md
    §4.3), so each reporting year's staff entering are the same records in every window
    and period that counts them. ``model.<characteristic>@<period>`` is "Y" where that
    period's disparity model of the characteristic counts the record: its group is the
    compared or the reference group and its staff group and pay band (as on the case row)
    hold in-scope staff of its group at the period's snapshot or a year earlier
    (``metrics.disciplinary_model.build_cells`` leaves the others out).
    """
    from edi_analysis.metrics.disciplinary import NO_CLUSTER
    from edi_analysis.metrics.disciplinary import entrant_records as entrants
    from edi_analysis.metrics.disciplinary_model import CHARACTERISTICS

    wf, er = ctx.table("workforce"), ctx.table("employee_relations")
    if (wf is None or er is None or wf.empty or er.empty
            or not _has(er, "staff_id", "start_date") or not _has(wf, "staff_id", "in_scope")):
        return pd.DataFrame()
    snaps = sorted(pd.Timestamp(d) for d in wf["snapshot_date"].unique())
    ent = pd.concat([entrants(wf, er, snaps, case_type=ct) for ct in COUNTED_CASE_TYPES],
                    ignore_index=True)
    # each reporting year once: as the "current" year of the snapshot that closes it
    ent = ent[ent["year"].eq("current").to_numpy()].reset_index(drop=True)
    if ent.empty:
        return pd.DataFrame()
    out = pd.DataFrame({
        "trust_code": ent["trust_code"].to_numpy(dtype=object),
        "year": iso(ent["period"]).to_numpy(dtype=object),
        "case_type": _text(ent["case_type"]),
        "ethnicity": _text(_column(ent, "ethnicity")),
        "disability": _text(_column(ent, "disability_group")),
        "sex": _text(_column(ent, "sex_group")),
        "staff_group": _text(_column(ent, "staff_group")),
        "pay_cluster": _text(_column(ent, "pay_cluster"), NO_CLUSTER),
    })
    in_scope = wf[wf["in_scope"].fillna(False).to_numpy(dtype=bool)]
    every = sorted({p for ps in periods.values() for p in ps})
    for char in CHARACTERISTICS.values():
        col = char.column
        if col not in ent or col not in wf or not _has(wf, "staff_group", "pay_cluster"):
            for p in every:
                out[model_factor(char.name, p.strftime("%Y-%m-%d"))] = "N"
            continue
        compared = (ent["case_type"].eq(char.case_type).fillna(False).to_numpy(dtype=bool)
                    & ent[col].isin([char.compared, char.reference]).to_numpy())
        key = pd.MultiIndex.from_arrays([
            ent["trust_code"].astype("str"), ent[col].astype("str"),
            ent["staff_group"].astype("str"), ent["pay_cluster"].fillna(NO_CLUSTER).astype("str")])
        for p in every:
            # person-years of the period's cells: in-scope staff at the snapshot or a year earlier
            at = in_scope[in_scope["snapshot_date"].isin([p, p - pd.DateOffset(years=1)]).to_numpy()]
            cells = pd.MultiIndex.from_arrays([
                at["trust_code"].astype("str"), at[col].astype("str"),
                at["staff_group"].astype("str"), at["pay_cluster"].fillna(NO_CLUSTER).astype("str")])
            held = key.isin(cells.unique())
            out[model_factor(char.name, p.strftime("%Y-%m-%d"))] = _yn(compared & held)
    return out


def application_records(ctx, periods: Mapping[str, Sequence[pd.Timestamp]]) -> pd.DataFrame:
    """Applications with the (elementary) reporting year they were made in and how far they got."""
    from edi_analysis.metrics.recruitment import application_flags

    rec = ctx.table("recruitment")
    if rec is None or rec.empty:
        return pd.DataFrame()
    shortlisted, appointed = application_flags(rec)
    return pd.DataFrame({
        "trust_code": rec["trust_code"].to_numpy(dtype=object),
        "year": year_buckets(rec["applied_date"], rec["trust_code"], _boundaries(periods, 1)),
        "ethnicity": _text(_column(rec, "ethnicity")),
        "disability": _text(_column(rec, "disability_group")),
        "sex": _text(_column(rec, "sex_group")),
        "stage": np.select([appointed.to_numpy(), shortlisted.to_numpy()],
                           ["appointed", "shortlisted"], "applied").astype(object),
    })


def respondent_records(ctx) -> pd.DataFrame:
    """Survey respondents with each answer as "Y" (counted answer), "N" (other answer) or "".

    Trusts whose survey comes as results by group (``staff_survey_results``, used where
    ``staff_survey`` has no rows for the trust) get the records those results describe
    (:func:`results_records`), so their figures have the same cells and decisions."""
    from edi_analysis.metrics.survey import WRES6, answered_yes

    sv = ctx.table("staff_survey")
    have = set(sv["trust_code"].unique()) if sv is not None and not sv.empty else set()
    extra = results_records(ctx, exclude=have)
    if sv is None or sv.empty:
        return extra
    if not extra.empty:
        return pd.concat([_respondent_records(ctx, sv), extra], ignore_index=True)
    return _respondent_records(ctx, sv)


#: A results characteristic -> the respondent record's column.
_RESULT_CLASS = {"ethnicity": "ethnicity", "disability": "disability",
                 "international_recruit": "recruit_type"}


def results_records(ctx, exclude=frozenset()) -> pd.DataFrame:
    """Records that give exactly the counts of aggregated survey results (one trust, survey
    year and answer at a time): ``positive`` records answering Y and ``responses - positive``
    answering N, each labelled, characteristic by characteristic, with its group in blocks
    of the group's own counts (the rest, if the groups do not add up to all staff, with no
    group). Every count the results give (all staff, and each group of each characteristic)
    is then a count of these records, as it is of respondents' records; how the
    characteristics combine is not known and no cell depends on it. Each answer's records
    are its own: the results do not say which respondents answered several questions.

    An answer is read from the rows whose ``item`` is the answer's column, else from the
    rows of the metric id that counts it (``wres.6`` for the combined harassment from staff,
    ``wdes.8`` for reasonable adjustments): the rows :func:`metrics.survey.results_tally`
    reads."""
    from edi_analysis.metrics.survey import ITEMS

    res = ctx.table("staff_survey_results")
    if res is None or res.empty:
        return pd.DataFrame()
    res = res[~res["trust_code"].isin(set(exclude))]
    if ctx.trust_codes:
        res = res[res["trust_code"].isin(ctx.trust_codes)]
    if res.empty:
        return pd.DataFrame()
    answers = (*SURVEY_ANSWERS, *HARASSMENT_FROM_STAFF)
    parts = []
    for col in answers:
        candidates = [col] + [it.id for it in ITEMS if it.answer == col]
        rows = next((res[res["item"] == c] for c in candidates if (res["item"] == c).any()),
                    None)
        if rows is None:
            continue
        for (trust, year), sub in rows.groupby(["trust_code", "survey_year"], sort=True):
            parts.append(_result_block(sub, str(trust), str(int(year)), col, answers))
    if not parts:
        return pd.DataFrame()
    return pd.concat(parts, ignore_index=True)


def _result_block(sub: pd.DataFrame, trust: str, year: str, col: str, answers) -> pd.DataFrame:
    resp = sub["responses"].astype("int64").to_numpy()
    pos = sub["positive"].astype("int64").to_numpy()
    chars = sub["characteristic"].astype(str).to_numpy()
    grp = sub["group"].astype(str).to_numpy()
    alls = chars == "all"
    # all staff's answers: the results' own row, else the largest characteristic's total
    sums = {c: (resp[chars == c].sum(), pos[chars == c].sum()) for c in _RESULT_CLASS}
    total_y = int(pos[alls].sum()) if alls.any() else int(max(v[1] for v in sums.values()))
    total = int(resp[alls].sum()) if alls.any() else int(max(v[0] for v in sums.values()))
    total_n = total - total_y
    out = {"trust_code": np.full(total, trust, dtype=object),
           "survey_year": np.full(total, year, dtype=object),
           "scored": np.full(total, "", dtype=object)}
    for a in answers:
        out[a] = np.full(total, "", dtype=object)
    out[col] = np.array(["Y"] * total_y + ["N"] * total_n, dtype=object)
    for char, column in _RESULT_CLASS.items():
        labels = np.full(total, "", dtype=object)
        k = chars == char
        y_at, n_at = 0, total_y
        for g, r, p in zip(grp[k], resp[k], pos[k]):
            labels[y_at:y_at + int(p)] = g
            labels[n_at:n_at + int(r - p)] = g
            y_at, n_at = y_at + int(p), n_at + int(r - p)
        out[column] = labels
    return pd.DataFrame(out)


def _respondent_records(ctx, sv: pd.DataFrame) -> pd.DataFrame:
    from edi_analysis.metrics.survey import WRES6, answered_yes

    out = pd.DataFrame({
        "trust_code": sv["trust_code"].to_numpy(dtype=object),
        "survey_year": sv["survey_year"].astype("int64").astype(str).to_numpy(dtype=object),
        "ethnicity": _text(_column(sv, "ethnicity")),
        "disability": _text(_column(sv, "disability_group")),
        "recruit_type": _text(_column(sv, "recruit_type")),
        "scored": _yn(_column(sv, "engagement_score").notna()),
    })
    for col in (*SURVEY_ANSWERS, *HARASSMENT_FROM_STAFF):
        answer = WRES6 if col == "harassment_from_staff" else col
        needs = HARASSMENT_FROM_STAFF[:2] if answer == WRES6 else (answer,)
        if not _has(sv, *needs):
            out[col] = ""
            continue
        yes, answered = answered_yes(sv, answer)
        out[col] = np.where(yes.to_numpy(), "Y", np.where(answered.to_numpy(), "N", "")).astype(object)
    return out


def _with_columns(records: pd.DataFrame, name: str, periods=()) -> pd.DataFrame:
    """No records at all: an empty frame with the population's columns (trust, classes and
    the factor columns of ``periods``, e.g. ``model.<characteristic>@<period>``), so a cell
    conditioning on any of them counts 0 records rather than naming a missing column."""
    from edi_analysis.disclosure.populations import population

    if len(records):
        return records
    pop = population(name, periods)
    cols = ["trust_code", *pop.classes, *(c for cs in pop.factors.values() for c in cs)]
    cols += ["weight"] if pop.weighted else []
    out = {c: records[c] if c in records else pd.Series(dtype=object) for c in cols}
    if pop.weighted:
        out["weight"] = pd.Series(dtype="float64")
    return pd.DataFrame(out)


def build_records(ctx, periods: Mapping[str, Sequence[pd.Timestamp]],
                  names: Iterable[str] | None = None) -> dict[str, pd.DataFrame]:
    """The records of every population (or of those in ``names``) for the trusts of ``ctx``,
    each a DataFrame, possibly empty."""
    builders = {
        "workforce": lambda: workforce_records(ctx),
        "pay_quartiles": lambda: quartile_records(ctx),
        "cases": lambda: case_records(ctx, periods),
        "entrants": lambda: entrant_records(ctx, periods),
        "applications": lambda: application_records(ctx, periods),
        "respondents": lambda: respondent_records(ctx),
    }
    wanted = list(builders) if names is None else [n for n in builders if n in set(names)]
    unknown = set(names or ()) - set(builders)
    if unknown:
        raise KeyError(f"no records for population(s) {sorted(unknown)}")
    every = sorted({p.strftime("%Y-%m-%d") for ps in periods.values() for p in ps})
    return {name: _with_columns(builders[name](), name, every) for name in wanted}
