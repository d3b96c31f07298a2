"""Plain-English sentences for board readers, generated from metric rows.

Every sentence is built from rows of ``metrics.csv`` (one row, two rows for a
comparison between groups, or a set of rows for the action summary), so the
words cannot drift from the numbers:

- numbers are rounded once, by :func:`rounded` (half away from zero on the
  decimal value as written, so 0.795 shows as 0.80), and every judgement in
  the words (higher/lower, more/less likely, inside/outside the non-adverse
  range, whether an interval includes "no difference") is made on the
  number *as shown*: a reader never sees "1.25 … outside the range";
- sizes are stated without a sign and the direction is said in words, in
  the head of the sentence and for each end of the interval: a gap of
  −6.3% reads "6.3% higher … (95% CI 2.7% to 9.9% higher)", never
  "6.3% higher (95% CI −9.9% to −2.7%)";
- a census (the board) is described without a confidence interval: every
  member is counted, so there is no sampling error to show;
- suppressed rows say why (CONTRACT.md §4.8), blank rows give their note.

Every registered metric has an entry in :data:`WORDING` (a test fails for one
without). Terms a board member may not know (BME, relative likelihood, the
non-adverse range, person-years, pay cluster) are explained where they first
appear on a page by :func:`explain_terms`.

Interpretation of relative likelihoods for formal processes follows NHS
England, *A fair experience for all* (2019): 0.80 to 1.25 is the
"non-adverse range" (the four-fifths rule; CONTRACT.md §4.3).

Pure functions: rows in, text out. UK spelling.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Decimal

NON_ADVERSE_LOW = Decimal("0.80")
NON_ADVERSE_HIGH = Decimal("1.25")

#: Decimal places shown per unit (WRES/WDES publish relative likelihoods to 2 dp;
#: pay gap reporting uses 1 dp).
DECIMALS = {"percent": 1, "pp": 1, "ratio": 2, "gbp": 2, "score": 1, "days": 0}


# --- numbers ---------------------------------------------------------------------------

def is_blank(value) -> bool:
    """True for None, NaN, pandas NA and the empty string (a blank cell of metrics.csv)."""
    if value is None:
        return True
    if isinstance(value, str):
        return value.strip() == ""
    try:
        return bool(math.isnan(float(value)))
    except (TypeError, ValueError):
        return str(value) in ("<NA>", "NaT")


def rounded(value, unit: str) -> Decimal:
    """The value as displayed: rounded half away from zero to the unit's decimal places."""
    places = DECIMALS.get(unit, 1)
    q = Decimal(1).scaleb(-places)
    # repr gives the shortest decimal that round-trips, i.e. the number as written
    return Decimal(repr(float(value))).quantize(q, rounding=ROUND_HALF_UP)


def _group_thousands(d: Decimal) -> str:
    return f"{d:,}"


def fmt_number(value, unit: str) -> str:
    """A value for display, without its unit: ``1.60``, ``12.3``, ``2,410``."""
    r = rounded(value, unit)
    if r == 0:
        r = abs(r)  # never show "-0.0"
    return _group_thousands(r)


def fmt_value(value, unit: str) -> str:
    """A value with its unit, as in tables and charts: ``12.3%``, ``1.60``, ``£14.20``."""
    if is_blank(value):
        return ""
    if unit == "flag":
        return str(value).replace("_", " ")
    n = fmt_number(value, unit)
    if unit == "percent":
        return f"{n}%"
    if unit == "pp":
        return f"{n} pp"
    if unit == "gbp":
        return f"£{n}" if not n.startswith("-") else f"-£{n[1:]}"
    if unit == "days":
        return f"{n} days"
    return n


def fmt_count(value) -> str:
    """A count: whole numbers with thousands separators; fractional counts (pay quartiles) 1 dp."""
    if is_blank(value):
        return ""
    v = float(value)
    if v == int(v):
        return f"{int(v):,}"
    return f"{rounded(v, 'percent'):,}"


def _size(value, unit: str) -> str:
    """A magnitude with its unit and no sign (the direction is said in words)."""
    return fmt_value(abs(float(value)), unit)


# --- groups and breakdowns -------------------------------------------------------------

#: How each group is named in running text.
_GROUP_ADJ = {
    "White": "White", "BME": "BME", "Mixed": "Mixed ethnicity",
    "Asian": "Asian", "Black": "Black", "Other": "Other ethnic group",
    "White British": "White British", "Disabled": "disabled", "Non-disabled": "non-disabled",
    "Female": "female", "Male": "male", "International": "internationally recruited",
    "Domestic": "domestically recruited",
}


def group_noun(group: str, population: str = "staff") -> str:
    """``BME`` → "BME staff"; ``Female`` → "women" (staff); ``All`` → "all staff"."""
    if population == "staff" and group in ("Female", "Male"):
        return "women" if group == "Female" else "men"
    if group in ("", "All"):
        return f"all {population}"
    if group == "Unknown":
        return f"{population} whose group is not recorded"
    adj = _GROUP_ADJ.get(group, group)
    if population.startswith(f"{adj} "):  # "disabled" of the population "disabled staff"
        return population
    return f"{adj} {population}"


def short_noun(group: str, population: str = "staff") -> str:
    """The short form used in counts: ``BME`` → "BME staff", ``Disabled`` → "disabled staff"."""
    if group in ("", "All"):
        return population
    short = {"Disabled": "disabled", "Non-disabled": "non-disabled", "Female": "female",
             "Male": "male", "International": "internationally recruited",
             "Domestic": "domestically recruited", "Unknown": "unrecorded"}.get(group, group)
    return f"{short} {population}"


def possessive(noun: str) -> str:
    """"women" → "women's"; "staff" → "staff's"."""
    return noun + ("'" if noun.endswith("s") and not noun.endswith(("ss", "men")) else "'s")


_CLUSTER_BANDS = {"1": "Bands 1 to 4", "2": "Bands 5 to 7", "3": "Bands 8a and 8b",
                  "4": "Bands 8c to 9 and VSM", "5": "consultants", "6": "career grade doctors",
                  "7": "trainee grade doctors"}
_CHARACTERISTIC = {"ethnicity": "by ethnicity", "disability": "by disability",
                   "sex": "by sex", "international_recruit": "by route of recruitment"}


def _one_phrase(key: str, value: str) -> str:
    if key == "pay_cluster":
        return f"in pay cluster {value} ({_CLUSTER_BANDS.get(value, value)})"
    if key == "clinical":
        return "among clinical staff" if value == "Y" else "among non-clinical staff"
    if key == "board":
        return {"voting": "among voting board members",
                "executive": "among executive board members",
                "chair_chief_executive": "among the chair and chief executive"}.get(
                    value, "on the board")
    if key == "quartile":
        return f"in the {value.lower()} pay quartile"
    if key == "pay_band":
        grades = {"Consultant": "among consultants", "Career grade": "among career grade doctors",
                  "Trainee grade": "among trainee grade doctors"}
        return grades.get(value, f"in {value}")
    if key == "staff_group":
        return f"in the {value} staff group"
    if key == "age_band":
        if value == "55+":
            return "aged 55 and over"
        if value.startswith("<"):
            return f"aged under {value[1:]}"
        return f"aged {value.replace('-', ' to ')}"
    if key == "outcome":
        return f"with the outcome '{value.replace('_', ' ')}'"
    if key == "characteristic":
        return _CHARACTERISTIC.get(value, "by " + value.replace("_", " "))
    if key == "ethnicity5":
        return f"({value} staff compared with White British staff)"
    if key == "action":
        return ""
    return ""


def breakdown_phrase(breakdown: str) -> str:
    """``pay_cluster=1`` → "in pay cluster 1 (Bands 1 to 4)"; ``clinical=Y;pay_cluster=1`` →
    "among clinical staff in pay cluster 1 (Bands 1 to 4)"; blank → "".

    Never shows a column name or code: a breakdown it does not know reads as nothing
    rather than "(key: value)".
    """
    if not breakdown:
        return ""
    parts = []
    for piece in str(breakdown).split(";"):
        key, _, value = piece.partition("=")
        phrase = _one_phrase(key.strip(), value.strip())
        if phrase:
            parts.append(phrase)
    return " ".join(parts)


def _whole(breakdown: str, default: str) -> str:
    """What a share is a share *of*: "the workforce", "clinical staff in pay cluster 1 (…)"."""
    if not breakdown:
        return default
    pieces = dict(p.partition("=")[::2] for p in str(breakdown).split(";"))
    if "quartile" in pieces:
        return f"the {pieces['quartile'].lower()} pay quartile"
    if "characteristic" in pieces and len(pieces) == 1:
        return default
    who = "staff"
    if pieces.get("clinical") == "Y":
        who = "clinical staff"
    elif pieces.get("clinical") == "N":
        who = "non-clinical staff"
    if "pay_cluster" in pieces:
        v = pieces["pay_cluster"]
        return f"{who} in pay cluster {v} ({_CLUSTER_BANDS.get(v, v)})"
    return who if who != "staff" else default


# --- per-metric wording -----------------------------------------------------------------

@dataclass(frozen=True)
class Wording:
    """How one metric reads: the kind of sentence and its words.

    kind: ``likelihood`` (relative likelihood), ``odds`` (odds ratio), ``gap``
    (pay gap, %), ``board_gap`` (pp, a census), ``rate`` (a percentage of a
    group), ``share`` (a group's share of a whole), ``census_share`` (a share
    of the board: no interval), ``ratio_share`` (a share ÷ the whole
    workforce's share), ``score`` (a mean score), ``days`` (a median of days),
    ``outcome`` (share of closed cases by outcome), ``flag`` (a label),
    ``status`` (a plan action's RAG label).

    ``event``: what the rate, likelihood or share is of (after "to" for
    likelihoods, after the group for rates). ``measure``: the pay measure of
    a gap. ``population``: staff, applicants, board members. ``whole``: what
    a share is of. ``counts``: how numerator/denominator read
    ("{n} cases among {d}"). ``comparison``: how a difference between two
    groups' rates is said ("were {r} times as likely to say so").
    """

    kind: str
    event: str = ""
    measure: str = ""
    population: str = "staff"
    counts: str = "{n} of {d}"
    non_adverse_range: bool = False
    context: str = ""
    whole: str = "the workforce"
    comparison: str = ""


_SURVEY_COUNTS = "{n} of {d} respondents"


def _survey(event: str, **kw) -> Wording:
    return Wording("rate", event, counts=_SURVEY_COUNTS, **kw)


_DISC = "enter a formal disciplinary process"
_CAPA = "enter the formal capability process"

WORDING: dict[str, Wording] = {
    # recruitment (WRES 2, WDES 2, by sex; HIA2)
    "wres.2.relative_likelihood": Wording(
        "likelihood", "be appointed from shortlisting", population="applicants",
        counts="{n} appointed of {d} shortlisted {g}"),
    "wdes.2.relative_likelihood": Wording(
        "likelihood", "be appointed from shortlisting", population="applicants",
        counts="{n} appointed of {d} shortlisted {g}"),
    "sex.2.relative_likelihood": Wording(
        "likelihood", "be appointed from shortlisting", population="applicants",
        counts="{n} appointed of {d} shortlisted {g}"),
    "wres.2.appointment_rate": Wording("rate", "were appointed from shortlisting",
                                       population="applicants", counts="{n} of {d} shortlisted"),
    "wdes.2.appointment_rate": Wording("rate", "were appointed from shortlisting",
                                       population="applicants", counts="{n} of {d} shortlisted"),
    "sex.2.appointment_rate": Wording("rate", "were appointed from shortlisting",
                                      population="applicants", counts="{n} of {d} shortlisted"),
    "hia2.shortlisting_rate": Wording("rate", "were shortlisted", population="applicants",
                                      counts="{n} of {d} applications"),
    # success metric 2e: the diversity of the shortlist (its composition)
    "hia2.shortlisted_share": Wording("share", whole="the shortlisted candidates"),
    # training (WRES 4, HIA5)
    "wres.4.relative_likelihood": Wording(
        "likelihood", "access non-mandatory training or continuing professional development",
        counts="{n} of {d} {g}"),
    "wres.4.access_rate": Wording("rate", "accessed non-mandatory training or CPD"),
    "hia5.training_relative_likelihood": Wording(
        "likelihood", "access non-mandatory training or continuing professional development"),
    # representation (WRES 1, WDES 1, WRES 9, WDES 10, Model Employer, HIA2 2d)
    "wres.1.share": Wording("share", whole="the workforce"),
    "wdes.1.share": Wording("share", whole="the workforce"),
    "hia2.senior_share": Wording("share", whole="senior leaders (Band 8c and above, and VSM)"),
    "hia2.representation_ratio": Wording("ratio_share"),
    "wres.9.board_gap": Wording("board_gap", population="board members", whole="ethnicity"),
    "wdes.10.board_gap": Wording("board_gap", population="board members",
                                 whole="disability status"),
    # board objectives (HIA1): a census of the board
    "hia1.smart_objectives_share": Wording("census_share", "had SMART EDI objectives",
                                           population="board members"),
    "hia1.appraised_share": Wording("census_share", "were appraised against their EDI objectives",
                                    population="board members"),
    # disciplinary and capability (WRES 3, WDES 3, by sex; HIA6)
    "wres.3.relative_likelihood": Wording(
        "likelihood", _DISC, non_adverse_range=True,
        counts="{n} staff entering in {d} person-years of {g}"),
    "wdes.3.relative_likelihood": Wording(
        "likelihood", _CAPA, non_adverse_range=True,
        counts="{n} staff entering in {d} person-years of {g}"),
    "sex.3.relative_likelihood": Wording(
        "likelihood", _DISC, non_adverse_range=True,
        counts="{n} staff entering in {d} person-years of {g}"),
    "wres.3.rate": Wording("rate", "entered a formal disciplinary process, per year",
                           counts="{n} staff entering in {d} person-years"),
    "wdes.3.rate": Wording("rate", "entered the formal capability process, per year",
                           counts="{n} staff entering in {d} person-years"),
    "sex.3.rate": Wording("rate", "entered a formal disciplinary process, per year",
                          counts="{n} staff entering in {d} person-years"),
    "er.outcome_share": Wording("outcome", "closed disciplinary cases", counts="{n} of {d} cases"),
    "er.days_to_close_median": Wording("days", "disciplinary cases"),
    # the disparity model (HIA6 "where the data shows inconsistency"; CONTRACT.md §4.4): the
    # interval, not the point estimate, is read against the non-adverse range, in the label's
    # own sentence (hia6.disparity). hia6.<characteristic>.* read like these (wording()).
    "hia6.crude_rate_ratio": Wording(
        "likelihood", _DISC, context="With no adjustment, ",
        counts="{n} staff entering against {d} expected at the reference group's rate"),
    "hia6.rate_ratio_staff_group": Wording(
        "likelihood", _DISC, context="Comparing staff in the same staff group, ",
        counts="{n} staff entering against {d} expected"),
    "hia6.adjusted_rate_ratio": Wording(
        "likelihood", _DISC, context="Comparing staff in the same staff group and pay band, ",
        counts="{n} staff entering against {d} expected"),
    "hia6.disparity": Wording("flag", _DISC),  # FLAG_SENTENCES, with the row's note
    "hia6.staff_group_difference": Wording("flag", _DISC),
    "hia6.staff_group_rate_ratio": Wording(
        "likelihood", _DISC, context="Within one staff group, comparing staff in the same pay "
        "band, ", counts="{n} staff entering against {d} expected"),
    # pay gaps (HIA3; Mend the Gap)
    "pay.gender.mean_gap": Wording("gap", measure="mean hourly pay"),
    "pay.gender.median_gap": Wording("gap", measure="median hourly pay"),
    "pay.gender.bonus_mean_gap": Wording("gap", measure="mean bonus pay"),
    "pay.gender.bonus_median_gap": Wording("gap", measure="median bonus pay"),
    "pay.gender.bonus_share": Wording("rate", "were paid a bonus in the year"),
    "pay.gender.quartile_share": Wording("share", counts="{n} of {d} staff in the quartile"),
    "pay.ethnicity.mean_gap": Wording("gap", measure="mean hourly pay"),
    "pay.ethnicity.median_gap": Wording("gap", measure="median hourly pay"),
    "pay.disability.mean_gap": Wording("gap", measure="mean hourly pay"),
    "pay.disability.median_gap": Wording("gap", measure="median hourly pay"),
    "pay.medical.gender_mean_gap": Wording("gap", measure="mean basic hourly pay",
                                           context="Among medical staff, "),
    "pay.medical.gender_median_gap": Wording("gap", measure="median basic hourly pay",
                                             context="Among medical staff, "),
    "pay.medical.gender_mean_gap_total": Wording(
        "gap", measure="mean total pay per hour (basic pay plus awards)",
        context="Among medical staff, "),
    "pay.medical.gender_median_gap_total": Wording(
        "gap", measure="median total pay per hour (basic pay plus awards)",
        context="Among medical staff, "),
    "pay.medical.adjusted_gender_gap": Wording(
        "gap", measure="hourly pay",
        context="Among medical staff on substantive contracts, comparing like with like (same "
                "grade, specialty where recorded, length of service and working hours), "),
    "hia3.flexible_working_share": Wording("rate", "had a formal flexible working arrangement"),
    # health and wellbeing (HIA4, People Plan)
    "hia4.sickness_absence_rate": Wording("absence", "sickness absence rate",
                                          counts="{n} of {d} available days"),
    "hia4.org_action_hwb": _survey("said the trust takes positive action on health and "
                                   "wellbeing"),
    "wdes.6": _survey("said they had felt pressure from their manager to come to work when not "
                      "well enough"),
    "wdes.8": _survey("said the trust had made adequate adjustments to enable them to carry out "
                      "their work", population="disabled staff"),
    "pp.hwb.risk_assessment_completed_rate": Wording("rate", "had a completed risk assessment"),
    "pp.hwb.flu_vaccinated_rate": Wording("rate", "were vaccinated against flu"),
    "pp.hwb.wellbeing_conversation_rate": Wording("rate",
                                                  "had had a health and wellbeing conversation"),
    "pp.leaver_rate": Wording("rate", "left the trust within the year"),
    # internationally recruited staff (HIA5)
    "hia5.retention_12m": Wording("rate", "were still employed 12 months after starting"),
    "hia5.belonging": _survey("said they felt a sense of belonging at work"),
    # EDI plan success metrics 5b: from managers or the team (Staff Survey Q14b or Q14c)
    "hia5.harassment_manager_team": _survey("said they had experienced harassment, bullying or "
                                            "abuse from managers or other colleagues in the "
                                            "last 12 months"),
    # staff survey (WRES 5–8, WDES 4–9, HIA6)
    "wres.5": _survey("said they had experienced harassment, bullying or abuse from patients, "
                      "relatives or the public in the last 12 months"),
    "wres.6": _survey("said they had experienced harassment, bullying or abuse from staff in the "
                      "last 12 months"),
    "wres.7": _survey("said the trust provides equal opportunities for career progression or "
                      "promotion"),
    "wres.8": _survey("said they had experienced discrimination from a manager, team leader or "
                      "other colleague in the last 12 months"),
    "wdes.4a.public": _survey("said they had experienced harassment, bullying or abuse from "
                              "patients, relatives or the public in the last 12 months"),
    "wdes.4a.manager": _survey("said they had experienced harassment, bullying or abuse from "
                               "managers in the last 12 months"),
    "wdes.4a.colleague": _survey("said they had experienced harassment, bullying or abuse from "
                                 "other colleagues in the last 12 months"),
    "wdes.4b": _survey("said they or a colleague had reported their last experience of "
                       "harassment, bullying or abuse"),
    "wdes.5": _survey("said the trust provides equal opportunities for career progression or "
                      "promotion"),
    "wdes.7": _survey("said they were satisfied with the extent to which the trust values their "
                      "work"),
    "wdes.9a": Wording("score", "staff engagement score", counts="{d} respondents"),
    # EDI plan success metrics 6a: from managers or the team (Staff Survey Q14b or Q14c)
    "hia6.harassment_manager_team": _survey("said they had experienced harassment, bullying or "
                                            "abuse from managers or other colleagues in the "
                                            "last 12 months"),
    "hia6.discrimination_colleague": _survey("said they had experienced discrimination from a "
                                             "manager, team leader or other colleague in the "
                                             "last 12 months"),
    # plan actions
    "actions.status": Wording("status"),
}

_GAP_REFERENCE_WORD = {"Male": "men", "White": "White staff", "Non-disabled": "non-disabled staff",
                       "White British": "White British staff"}

#: Metrics of the model family read like their base metric (``hia6.<characteristic>.*``).
_MODEL_BASE = re.compile(r"^hia6\.([a-z_]+)\.(crude_rate_ratio|rate_ratio_staff_group|"
                         r"adjusted_rate_ratio|disparity|staff_group_difference|"
                         r"staff_group_rate_ratio)$")


def wording(metric_id: str, unit: str = "") -> Wording:
    """The wording of a metric, from :data:`WORDING`.

    A metric of the disciplinary model for another characteristic
    (``hia6.<characteristic>.<measure>``) reads like the ethnicity model's
    measure. Any other metric without an entry raises ``KeyError``: every
    registered metric has its own wording (``tests/test_narrative.py``).
    """
    if metric_id in WORDING:
        return WORDING[metric_id]
    m = _MODEL_BASE.match(metric_id)
    if m:
        base = WORDING[f"hia6.{m.group(2)}"]
        event = _CAPA if m.group(1) == "disability" else base.event
        return replace(base, event=event)
    raise KeyError(f"no wording for metric {metric_id!r}: add it to narrative.WORDING")


# --- glossary: terms explained where they first appear on a page ------------------------

#: term → (pattern that finds it in running text, the sentence that explains it)
GLOSSARY: dict[str, tuple[str, str]] = {
    "BME": (r"\bBME\b",
            "BME means Black and minority ethnic: every ethnic group other than White, as the "
            "Workforce Race Equality Standard (WRES) counts it."),
    "relative likelihood": (r"relative likelihood|times as likely|less likely than",
                            "A relative likelihood says how many times as likely one group is "
                            "as another: 1.00 means equally likely."),
    "non-adverse range": (r"non-adverse range",
                          "The non-adverse range, 0.80 to 1.25, is the band within which NHS "
                          "England treats a relative likelihood as showing no adverse "
                          "difference (the four-fifths rule)."),
    "person-years": (r"person-years?",
                     "A person-year is one person employed for one year: two years of cases "
                     "are divided by the staff counted at both year ends."),
    "pay cluster": (r"pay cluster",
                    "A pay cluster is a group of pay bands used by the WRES and WDES (cluster 1 "
                    "is Bands 1 to 4, cluster 4 Bands 8c to 9 and very senior managers)."),
}


def explain_terms(text: str, seen: set[str]) -> str:
    """``text`` with the explanation of each glossary term that it is the first to use.

    ``seen`` holds the terms already explained on the page and is updated, so a
    term is explained once per page, at its first appearance (the explanation
    follows the paragraph that uses it).
    """
    added = []
    for term, (pattern, explanation) in GLOSSARY.items():
        if term in seen or not re.search(pattern, text):
            continue
        seen.add(term)
        if explanation not in text:
            added.append(explanation)
    return text if not added else text.rstrip() + " " + " ".join(added)


# --- sentences ---------------------------------------------------------------------------

def _cap(text: str) -> str:
    return text[:1].upper() + text[1:] if text else text


def _get(row: Mapping, key: str, default=""):
    v = row.get(key, default) if hasattr(row, "get") else default
    return default if is_blank(v) else v


def _ci_text(row: Mapping, unit: str) -> str:
    lo, hi = _get(row, "ci_lower", None), _get(row, "ci_upper", None)
    if lo is None or hi is None:
        return ""
    return f"95% CI {fmt_value(lo, unit)} to {fmt_value(hi, unit)}"


def _counts_text(row: Mapping, w: Wording, gnoun: str) -> str:
    n, d = _get(row, "numerator", None), _get(row, "denominator", None)
    if "{n}" in w.counts and n is None:
        return ""
    if d is None:
        return ""
    return w.counts.format(n=fmt_count(n) if n is not None else "", d=fmt_count(d), g=gnoun)


def _details(row: Mapping, unit: str, w: Wording, gnoun: str) -> str:
    parts = [p for p in (_ci_text(row, unit), _counts_text(row, w, gnoun)) if p]
    return f" ({'; '.join(parts)})" if parts else ""


#: The note of a row hidden only by secondary suppression (``edi_analysis.disclosure``).
SECONDARY_NOTE = "hidden so that another small figure cannot be worked out"


def suppressed_sentence(subject: str, survey: bool, min_count: int,
                        min_survey_responses: int, secondary: bool = False) -> str:
    """The sentence shown in place of a suppressed figure (CONTRACT.md §4.8).

    ``secondary``: the figure is not small itself but is hidden so that another
    small figure cannot be worked out from it (its row's note says so).
    """
    if secondary:
        return f"{_cap(subject)}: this figure is {SECONDARY_NOTE}."
    if survey:
        why = f"fewer than {min_survey_responses} survey responses"
    else:
        why = f"fewer than {min_count} people"
    return f"{_cap(subject)}: this figure is suppressed because it is based on {why}."


def _interval_excludes(row: Mapping, unit: str, null: Decimal) -> bool | None:
    lo, hi = _get(row, "ci_lower", None), _get(row, "ci_upper", None)
    if lo is None or hi is None:
        return None
    return not (rounded(lo, unit) <= null <= rounded(hi, unit))


def likelihood_words(shown: Decimal, gn: str, rn: str, event: str, where: str = "") -> str:
    """"BME staff were 1.72 times as likely as White staff to enter …" for a shown ratio."""
    if shown == 1:
        return f"{gn} were as likely as {rn} to {event}{where} (relative likelihood 1.00)"
    if shown > 1:
        return f"{gn} were {fmt_number(shown, 'ratio')} times as likely as {rn} to {event}{where}"
    return (f"{gn} were less likely than {rn} to {event}{where}: "
            f"{fmt_number(shown, 'ratio')} times as likely")


def range_clause(shown: Decimal) -> str:
    """Whether a shown relative likelihood is within the non-adverse range of 0.80 to 1.25, as a
    clause of the figure's own sentence (so two figures on one page never share a sentence)."""
    where = "within" if NON_ADVERSE_LOW <= shown <= NON_ADVERSE_HIGH else "outside"
    return f", {where} the non-adverse range of 0.80 to 1.25"


CHANCE_RATIO = ("; the interval includes 1.00 (equal likelihood), so the difference may be due "
                "to chance")
CHANCE_GAP = "; the interval includes no gap, so the difference may be due to chance"


def _likelihood(row: Mapping, w: Wording, unit: str) -> str:
    g, ref = _get(row, "group"), _get(row, "reference_group")
    gn, rn = group_noun(g, w.population), group_noun(ref, w.population)
    shown = rounded(_get(row, "value"), "ratio")
    where = breakdown_phrase(_get(row, "breakdown"))
    where = f" {where}" if where else ""
    if w.kind == "odds":
        head = f"the odds of {gn} having to {w.event} were {fmt_number(shown, 'ratio')} times " \
               f"the odds for {rn}{where}"
    else:
        head = likelihood_words(shown, gn, rn, w.event, where)
    text = _cap(w.context + head) + _details(row, "ratio", w, short_noun(g, w.population))
    if w.non_adverse_range:
        text += range_clause(shown)
    excludes = _interval_excludes(row, "ratio", Decimal(1))
    if excludes is False and shown != 1:
        text += CHANCE_RATIO
    return text + "."


def _gap_direction(shown: Decimal) -> str:
    # gap = (reference − compared) ÷ reference: positive means the compared group is paid less
    return "lower" if shown > 0 else "higher"


def gap_interval_text(lo, hi, unit: str = "percent") -> str:
    """A pay gap's interval in words, never with a sign: "95% CI 2.7% to 9.9% higher",
    "95% CI from 1.2% lower to 5.1% higher" (when it spans no gap)."""
    lo_s, hi_s = rounded(lo, unit), rounded(hi, unit)
    if lo_s >= 0 and hi_s > 0:
        return f"95% CI {_size(lo, unit)} to {_size(hi, unit)} lower"
    if hi_s <= 0 and lo_s < 0:
        return f"95% CI {_size(hi, unit)} to {_size(lo, unit)} higher"
    if lo_s == 0 and hi_s == 0:
        return "95% CI 0.0% to 0.0%"
    return f"95% CI from {_size(hi, unit)} lower to {_size(lo, unit)} higher"


def _gap(row: Mapping, w: Wording, unit: str) -> str:
    g, ref = _get(row, "group"), _get(row, "reference_group")
    gn = group_noun(g)
    rn = _GAP_REFERENCE_WORD.get(ref, group_noun(ref))
    shown = rounded(_get(row, "value"), unit)
    where = breakdown_phrase(_get(row, "breakdown"))
    if _get(row, "breakdown", "").startswith("ethnicity5="):
        where = ""  # the group (e.g. Asian) and its reference (White British) say it
    where = f"{where}, " if where else ""
    if shown == 0:
        head = f"{where}{possessive(gn)} {w.measure} was the same as {possessive(rn)}"
    else:
        head = (f"{where}{possessive(gn)} {w.measure} was {fmt_number(abs(shown), unit)}% "
                f"{_gap_direction(shown)} than {possessive(rn)}")
    lo, hi = _get(row, "ci_lower", None), _get(row, "ci_upper", None)
    ci = gap_interval_text(lo, hi, unit) if lo is not None and hi is not None else ""
    text = _cap(w.context + head) + (f" ({ci})" if ci else "")
    excludes = _interval_excludes(row, unit, Decimal(0))
    if excludes is False and shown != 0:
        text += CHANCE_GAP
    return text + "."


def _board_gap(row: Mapping, w: Wording, unit: str) -> str:
    """WRES 9 / WDES 10: a census of the board, so no interval; says plainly when the board
    has no member of the group."""
    g = _get(row, "group")
    shown = rounded(_get(row, "value"), "pp")
    where = breakdown_phrase(_get(row, "breakdown")) or "on the board"
    members = {"among voting board members": "voting board members",
               "among executive board members": "executive board members"}.get(
        where, "board members")
    k, n = _get(row, "numerator", None), _get(row, "denominator", None)
    adj = {"BME": "BME", "Disabled": "disabled"}.get(g, _GROUP_ADJ.get(g, g))
    if k is not None and n is not None and float(n) > 0:
        k, n = int(round(float(k))), int(round(float(n)))
        board_share = 100.0 * k / n
        workforce = board_share - float(_get(row, "value"))
        wf = fmt_value(workforce, "percent")
        if k == 0:
            head = (f"None of the {n} {members} with recorded {w.whole} "
                    f"{'is' if n == 1 else 'are'} {adj}, against {wf} of the workforce")
        else:
            head = (f"{k} of the {n} {members} with recorded {w.whole} "
                    f"({fmt_value(board_share, 'percent')}) {'is' if k == 1 else 'are'} {adj}, "
                    f"against {wf} of the workforce")
        if shown == 0:
            tail = "the same share"
        else:
            tail = (f"{fmt_number(abs(shown), 'pp')} percentage points "
                    f"{'higher' if shown > 0 else 'lower'}")
        return f"{head}: {tail}."
    gn = group_noun(g, "people")
    if shown == 0:
        rel = "the same as"
    else:
        rel = (f"{fmt_number(abs(shown), 'pp')} percentage points "
               f"{'higher' if shown > 0 else 'lower'} than")
    return _cap(f"the share of {gn} {where} was {rel} their share of the workforce.")


def _rate(row: Mapping, w: Wording, unit: str) -> str:
    g = _get(row, "group")
    gn = group_noun(g, w.population)
    where = breakdown_phrase(_get(row, "breakdown"))
    if _get(row, "breakdown", "").startswith("characteristic="):
        where = ""
    where = f" {where}" if where else ""
    v = fmt_value(_get(row, "value"), unit)
    head = f"{v} of {gn}{where} {w.event}"
    return _cap(head) + _details(row, unit, w, short_noun(g, w.population)) + "."


def _absence(row: Mapping, w: Wording, unit: str) -> str:
    g = _get(row, "group")
    gn = group_noun(g)
    v = fmt_value(_get(row, "value"), unit)
    ci = _ci_text(row, unit)
    return _cap(f"the {w.event} of {gn} was {v} of available working days") + \
        (f" ({ci})" if ci else "") + "."


def _share(row: Mapping, w: Wording, unit: str) -> str:
    g = _get(row, "group")
    gn = group_noun(g, "staff")
    whole = _whole(_get(row, "breakdown"), w.whole)
    v = fmt_value(_get(row, "value"), unit)
    return _cap(f"{gn} made up {v} of {whole}") + _details(row, unit, w, short_noun(g)) + "."


def _census_share(row: Mapping, w: Wording, unit: str) -> str:
    n, d = _get(row, "numerator", None), _get(row, "denominator", None)
    where = breakdown_phrase(_get(row, "breakdown"))
    members = {"among voting board members": "voting board members",
               "among executive board members": "executive board members"}.get(
        where, "board members")
    v = fmt_value(_get(row, "value"), unit)
    if n is None or d is None:
        return _cap(f"{v} of {members} {w.event}.")
    n, d = int(round(float(n))), int(round(float(d)))
    if n == 0:
        return f"None of the {d} {members} {w.event}."
    if n == d:
        return f"All {d} {members} {w.event}."
    return f"{n} of the {d} {members} ({v}) {w.event}."


def _ratio_share(row: Mapping, w: Wording, unit: str) -> str:
    g = _get(row, "group") or "BME"
    whole = _whole(_get(row, "breakdown"), "staff")
    shown = rounded(_get(row, "value"), "ratio")
    ci = _ci_text(row, "ratio")
    text = (f"{possessive(group_noun(g))} share of {whole} was {fmt_number(shown, 'ratio')} times "
            f"their share of the whole workforce" + (f" ({ci})" if ci else "") +
            "; at Model Employer parity it would be 1.00.")
    return _cap(text)


def _score(row: Mapping, w: Wording, unit: str) -> str:
    g = _get(row, "group")
    gn = group_noun(g)
    v = fmt_number(_get(row, "value"), "score")
    return _cap(f"the mean {w.event} of {gn} was {v} out of 10") + \
        _details(row, "score", w, short_noun(g)) + "."


def _days(row: Mapping, w: Wording, unit: str) -> str:
    g = _get(row, "group")
    who = "all staff" if g in ("", "All") else group_noun(g)
    v = fmt_number(_get(row, "value"), "days")
    return f"{_cap(w.event)} involving {who} took a median of {v} days to close."


def _outcome(row: Mapping, w: Wording, unit: str) -> str:
    g = _get(row, "group")
    who = "all staff" if g in ("", "All") else group_noun(g)
    outcome = _get(row, "breakdown").partition("=")[2].replace("_", " ") or "this outcome"
    v = fmt_value(_get(row, "value"), unit)
    return (f"{v} of {w.event} involving {who} ended with the outcome '{outcome}'"
            + _details(row, unit, w, "") + ".")


_FLAG_CHARACTERISTIC = {"BME": ("BME staff", "White staff"),
                        "Disabled": ("disabled staff", "non-disabled staff"),
                        "Male": ("men", "women"), "Female": ("women", "men")}


#: The model's labels in words (CONTRACT.md §4.4): ``hia6.*.disparity`` is read from its
#: 90% interval (the row's note says what the interval allows);
#: ``hia6.*.staff_group_difference`` is the interaction test.
FLAG_SENTENCES = {
    "adverse": ("After adjusting for staff group and pay band, {g} entered the formal {process} "
                "process at a higher rate than {r}, by more than the non-adverse range of 0.80 "
                "to 1.25 allows."),
    "below_range": ("After adjusting for staff group and pay band, {g} entered the formal "
                    "{process} process at a lower rate than {r}, by more than the non-adverse "
                    "range of 0.80 to 1.25 allows."),
    "within_range": ("After adjusting for staff group and pay band, any difference between {g} "
                     "and {r} in entering the formal {process} process is within the "
                     "non-adverse range of 0.80 to 1.25."),
    "inconclusive": ("After adjusting for staff group and pay band, the data cannot tell whether "
                     "{g} and {r} differ adversely in entering the formal {process} process."),
    "differs": ("The disparity between {g} and {r} differs between staff groups (a formal test "
                "of the difference): the figures by staff group show where it is larger."),
    "no_difference_shown": ("There is no evidence that the disparity between {g} and {r} differs "
                            "between staff groups: read the trust-wide figure, not the figures "
                            "for single staff groups."),
    "not_tested": ("Whether the disparity between {g} and {r} differs between staff groups could "
                   "not be tested."),
}


def _flag(row: Mapping, w: Wording, label: str) -> str:
    value = str(_get(row, "value"))
    template = FLAG_SENTENCES.get(value)
    if template is None:
        return f"{_cap(label)}: {value.replace('_', ' ')}."
    g = _get(row, "group") or "BME"
    gn, rn = _FLAG_CHARACTERISTIC.get(g, (group_noun(g), group_noun(_get(row, "reference_group"))))
    process = "capability" if ".disability." in str(_get(row, "metric_id")) else "disciplinary"
    text = template.format(g=gn, r=rn, process=process)
    note = _get(row, "note")
    return f"{text} {note}" if note else text


def _status(row: Mapping, label: str) -> str:
    value = str(_get(row, "value")).lower()
    meaning = RAG_MEANING.get(value, value.replace("_", " "))
    return f"This plan action is rated {value} ({meaning})."


def subject(row: Mapping, label: str) -> str:
    """What a row is about, in words, for suppressed and blank figures."""
    mid = str(_get(row, "metric_id"))
    try:
        w = wording(mid, str(_get(row, "unit")))
    except KeyError:
        w = Wording("value")
    g = _get(row, "group")
    where = breakdown_phrase(_get(row, "breakdown"))
    return label + (f" for {group_noun(g, w.population)}" if g and g != "All" else "") + \
        (f" {where}" if where else "")


def sentence(row: Mapping, *, label: str | None = None, survey: bool = False,
             min_count: int = 8, min_survey_responses: int = 11) -> str:
    """One plain-English sentence (or two) describing one metric row.

    ``label`` is the metric's registry label (used to name suppressed or
    blank figures); ``survey`` says the figure comes from the staff survey
    (its suppression threshold differs).
    """
    mid = str(_get(row, "metric_id"))
    unit = str(_get(row, "unit"))
    label = label or mid
    w = wording(mid, unit)
    suppressed = _get(row, "suppressed", False)
    if suppressed is True or str(suppressed).lower() == "true":
        return suppressed_sentence(subject(row, label), survey, min_count, min_survey_responses,
                                   secondary=str(_get(row, "note")) == SECONDARY_NOTE)
    if is_blank(row.get("value") if hasattr(row, "get") else None):
        note = _get(row, "note")
        why = f": {note}" if note else ""
        return f"{_cap(subject(row, label))}: no figure can be given{why}."
    kind = w.kind
    if kind in ("likelihood", "odds"):
        return _likelihood(row, w, unit)
    if kind == "gap":
        return _gap(row, w, unit)
    if kind == "board_gap":
        return _board_gap(row, w, unit)
    if kind == "flag" or unit == "flag":
        if kind == "status":
            return _status(row, label)
        return _flag(row, w, label)
    handlers = {"rate": _rate, "absence": _absence, "share": _share,
                "census_share": _census_share, "ratio_share": _ratio_share, "score": _score,
                "days": _days, "outcome": _outcome}
    return handlers[kind](row, w, unit)


# --- comparisons between two groups -------------------------------------------------------

def comparison_sentence(row: Mapping, ref: Mapping, ratio: tuple | None) -> str:
    """Two groups' figures side by side, the inequality first.

    "35.3% of BME staff said they had experienced …, against 29.4% of White
    staff (relative likelihood 1.20, 95% CI 1.03 to 1.40)." ``ratio`` is
    (value, lower, upper) of the compared group's figure ÷ the reference
    group's (``board.compare``), or None when it cannot be given; its interval
    decides whether "may be due to chance" is said. A mean score is compared
    by its two figures only.
    """
    mid = str(_get(row, "metric_id"))
    unit = str(_get(row, "unit"))
    w = wording(mid, unit)
    g, r = _get(row, "group"), _get(ref, "group")
    gn, rn = group_noun(g, w.population), group_noun(r, w.population)
    v, rv = fmt_value(_get(row, "value"), unit), fmt_value(_get(ref, "value"), unit)
    if w.kind == "absence":
        head = _cap(f"the {w.event} of {gn} was {v} of available working days, against {rv} "
                    f"for {rn}")
        name = "ratio"
    elif w.kind == "score":
        return _cap(f"the mean {w.event} of {gn} was {fmt_number(_get(row, 'value'), 'score')} "
                    f"out of 10, against {fmt_number(_get(ref, 'value'), 'score')} for {rn}.")
    else:
        head = _cap(f"{v} of {gn} {w.event}, against {rv} of {rn}")
        name = "relative likelihood"
    if ratio is None or is_blank(ratio[0]):
        return head + "."
    shown = rounded(ratio[0], "ratio")
    ci = ""
    if not is_blank(ratio[1]) and not is_blank(ratio[2]):
        ci = f", 95% CI {fmt_number(ratio[1], 'ratio')} to {fmt_number(ratio[2], 'ratio')}"
    text = f"{head} ({name} {fmt_number(shown, 'ratio')}{ci})"
    if ci and rounded(ratio[1], "ratio") <= 1 <= rounded(ratio[2], "ratio") and shown != 1:
        text += CHANCE_RATIO
    return text + "."


# --- actions -----------------------------------------------------------------------------

RAG_ORDER = ("red", "amber", "green", "grey")
RAG_MEANING = {"green": "complete", "amber": "in progress and not yet due",
               "red": "not started, or past due and not complete", "grey": "no progress recorded"}


def rag_summary(labels: Iterable[str]) -> str:
    """"Of 24 actions, 3 are green (complete), …" from the RAG labels of ``actions.status`` rows."""
    labels = [str(x).lower() for x in labels if not is_blank(x)]
    if not labels:
        return "No plan actions are recorded for this trust."
    counts = {k: labels.count(k) for k in RAG_ORDER}
    parts = [f"{counts[k]} {k} ({RAG_MEANING[k]})" for k in RAG_ORDER if counts[k]]
    if parts:
        verb = "is" if counts[next(k for k in RAG_ORDER if counts[k])] == 1 else "are"
        parts[0] = f"{parts[0].split(' ', 1)[0]} {verb} {parts[0].split(' ', 1)[1]}"
    other = len(labels) - sum(counts.values())
    if other:
        parts.append(f"{other} with another status")
    n = len(labels)
    listed = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    return f"Of {n} plan action{'s' * (n != 1)}, {listed}."
