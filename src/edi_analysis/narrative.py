"""Plain-English sentences for board readers, generated from metric rows.

Every sentence is built from one row of ``metrics.csv`` (or, for the action
summary, a set of rows), so the words cannot drift from the numbers:

- numbers are rounded once, by :func:`rounded` (half away from zero on the
  decimal value as written, so 0.795 shows as 0.80), and every judgement in
  the words (higher/lower, more/less likely, inside/outside the non-adverse
  range, whether an interval includes "no difference") is made on the
  number *as shown*: a reader never sees "1.25 … outside the range";
- suppressed rows say why (CONTRACT.md §4.8), blank rows give their note.

Interpretation of relative likelihoods for formal processes follows NHS
England, *A fair experience for all* (2019): 0.80 to 1.25 is the
"non-adverse range" (the four-fifths rule; CONTRACT.md §4.3).

Pure functions: rows in, text out. UK spelling.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
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


# --- groups and breakdowns -------------------------------------------------------------

#: How each population is named, and the plain-English name of each group in it.
_GROUP_ADJ = {
    "White": "White", "BME": "Black and minority ethnic (BME)", "Mixed": "Mixed ethnicity",
    "Asian": "Asian", "Black": "Black", "Other": "Other ethnic group",
    "White British": "White British", "Disabled": "disabled", "Non-disabled": "non-disabled",
    "Female": "female", "Male": "male", "International": "internationally recruited",
    "Domestic": "domestically recruited",
}


def group_noun(group: str, population: str = "staff") -> str:
    """``BME`` → "Black and minority ethnic (BME) staff"; ``Female`` → "women" (staff)."""
    if population == "staff" and group in ("Female", "Male"):
        return "women" if group == "Female" else "men"
    if group in ("", "All"):
        return f"all {population}"
    if group == "Unknown":
        return f"{population} whose group is not recorded"
    adj = _GROUP_ADJ.get(group, group)
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


def breakdown_phrase(breakdown: str) -> str:
    """``pay_cluster=1`` → "in pay cluster 1 (Bands 1 to 4)"; blank → ""."""
    if not breakdown:
        return ""
    key, _, value = breakdown.partition("=")
    if key == "pay_cluster":
        return f"in pay cluster {value} ({_CLUSTER_BANDS.get(value, value)})"
    if key == "clinical":
        return "among clinical staff" if value == "Y" else "among non-clinical staff"
    if key == "board":
        return {"voting": "among voting board members",
                "executive": "among executive board members",
                "chair_chief_executive": "among the chair and chief executive"}.get(
                    value, f"on the board ({value})")
    if key == "quartile":
        return f"in the {value.lower()} pay quartile"
    if key == "pay_band":
        grades = {"Consultant": "among consultants", "Career grade": "among career grade doctors",
                  "Trainee grade": "among trainee grade doctors"}
        return grades.get(value, f"in {value}")
    if key == "staff_group":
        return f"in the {value} staff group"
    if key == "age_band":
        return "aged 55 and over" if value == "55+" else f"aged {value}"
    if key == "outcome":
        return f"with the outcome '{value.replace('_', ' ')}'"
    return f"({key.replace('_', ' ')}: {value})"


# --- per-metric wording -----------------------------------------------------------------

@dataclass(frozen=True)
class Wording:
    """How one metric reads: the kind of sentence and its words.

    kind: ``likelihood`` (relative likelihood), ``gap`` (pay gap, %),
    ``board_gap`` (pp), ``rate`` (a percentage of a group), ``value`` (other),
    ``flag``. ``event``: what the relative likelihood or rate is of (after
    "to" / "who"). ``measure``: the pay measure of a gap. ``population``:
    staff, applicants, board members. ``counts``: how numerator/denominator
    read ("{n} cases among {d}").
    """

    kind: str
    event: str = ""
    measure: str = ""
    population: str = "staff"
    counts: str = "{n} of {d}"
    non_adverse_range: bool = False
    context: str = ""


WORDING: dict[str, Wording] = {
    "wres.2.relative_likelihood": Wording(
        "likelihood", "be appointed from shortlisting", population="applicants",
        counts="{n} appointed of {d} shortlisted {g}"),
    "wdes.2.relative_likelihood": Wording(
        "likelihood", "be appointed from shortlisting", population="applicants",
        counts="{n} appointed of {d} shortlisted {g}"),
    "sex.2.relative_likelihood": Wording(
        "likelihood", "be appointed from shortlisting", population="applicants",
        counts="{n} appointed of {d} shortlisted {g}"),
    "wres.4.relative_likelihood": Wording(
        "likelihood", "access non-mandatory training or continuing professional development",
        counts="{n} of {d} {g}"),
    "wres.3.relative_likelihood": Wording(
        "likelihood", "enter a formal disciplinary process", non_adverse_range=True,
        counts="{n} staff entering in {d} person-years of {g}"),
    "wdes.3.relative_likelihood": Wording(
        "likelihood", "enter the formal capability process", non_adverse_range=True,
        counts="{n} staff entering in {d} person-years of {g}"),
    # The disparity model (CONTRACT.md §4.4): the interval, not the point estimate, is read
    # against the non-adverse range, in the label's own sentence (hia6.disparity).
    "hia6.crude_rate_ratio": Wording(
        "likelihood", "enter a formal disciplinary process", context="With no adjustment, ",
        counts="{n} staff entering against {d} expected at the reference group's rate"),
    "hia6.rate_ratio_staff_group": Wording(
        "likelihood", "enter a formal disciplinary process",
        context="Comparing staff in the same staff group, ",
        counts="{n} staff entering against {d} expected"),
    "hia6.adjusted_rate_ratio": Wording(
        "likelihood", "enter a formal disciplinary process",
        context="Comparing staff in the same staff group and pay band, ",
        counts="{n} staff entering against {d} expected"),
    "hia6.disparity": Wording("flag"),  # sentences in FLAG_SENTENCES, with the row's note
    "hia6.staff_group_difference": Wording("flag"),
    "hia6.staff_group_rate_ratio": Wording(
        "likelihood", "enter a formal disciplinary process",
        context="Within one staff group, comparing staff in the same pay band, ",
        counts="{n} staff entering against {d} expected"),
    "sex.3.relative_likelihood": Wording(
        "likelihood", "enter a formal disciplinary process", non_adverse_range=True,
        counts="{n} staff entering in {d} person-years of {g}"),
    "wres.3.rate": Wording("rate", "entered a formal disciplinary process, per year",
                           counts="{n} staff entering in {d} person-years"),
    "wdes.3.rate": Wording("rate", "entered the formal capability process, per year",
                           counts="{n} staff entering in {d} person-years"),
    "sex.3.rate": Wording("rate", "entered a formal disciplinary process, per year",
                          counts="{n} staff entering in {d} person-years"),
    "wdes.2.appointment_rate": Wording("rate", "were appointed from shortlisting",
                                       population="applicants", counts="{n} of {d} shortlisted"),
    "sex.2.appointment_rate": Wording("rate", "were appointed from shortlisting",
                                      population="applicants", counts="{n} of {d} shortlisted"),
    "wres.4.access_rate": Wording("rate", "accessed non-mandatory training or CPD"),
    "hia5.training_relative_likelihood": Wording(
        "likelihood", "access non-mandatory training or continuing professional development"),
    "pay.gender.mean_gap": Wording("gap", measure="mean hourly pay"),
    "pay.gender.median_gap": Wording("gap", measure="median hourly pay"),
    "pay.gender.bonus_mean_gap": Wording("gap", measure="mean bonus pay"),
    "pay.gender.bonus_median_gap": Wording("gap", measure="median bonus pay"),
    "pay.ethnicity.mean_gap": Wording("gap", measure="mean hourly pay"),
    "pay.ethnicity.median_gap": Wording("gap", measure="median hourly pay"),
    "pay.disability.mean_gap": Wording("gap", measure="mean hourly pay"),
    "pay.disability.median_gap": Wording("gap", measure="median hourly pay"),
    "pay.medical.gender_mean_gap": Wording("gap", measure="mean hourly pay",
                                           context="Among medical staff, "),
    "pay.medical.gender_median_gap": Wording("gap", measure="median hourly pay",
                                             context="Among medical staff, "),
    "pay.medical.adjusted_gender_gap": Wording(
        "gap", measure="hourly pay",
        context="Among medical staff on substantive contracts, comparing like with like (same "
                "grade, specialty where recorded, length of service and working hours), "),
    "wres.9.board_gap": Wording("board_gap", population="board members"),
    "wdes.10.board_gap": Wording("board_gap", population="board members"),
    "wres.2.appointment_rate": Wording("rate", "were appointed from shortlisting",
                                       population="applicants",
                                       counts="{n} of {d} shortlisted"),
    "hia2.shortlisting_rate": Wording("rate", "were shortlisted", population="applicants",
                                      counts="{n} of {d} applications"),
    # success metric 2e: a share of the shortlist, read with the registry label
    "hia2.shortlisted_share": Wording("rate", "", population="applicants",
                                      counts="{n} of {d} shortlisted"),
    # EDI plan success metrics 5b and 6a: managers or the team (Staff Survey Q14b or Q14c)
    "hia5.harassment_manager_team": Wording(
        "rate", "said they had been bullied, harassed or abused by a manager or colleagues in "
        "the last 12 months", counts="{n} of {d} who answered"),
    "hia6.harassment_manager_team": Wording(
        "rate", "said they had been bullied, harassed or abused by a manager or colleagues in "
        "the last 12 months", counts="{n} of {d} who answered"),
    "hia4.sickness_absence_rate": Wording("rate", "", counts="{n} of {d} available days"),
    "pp.leaver_rate": Wording("rate", "left the trust within the year"),
    "hia5.retention_12m": Wording("rate", "were still employed 12 months after starting"),
    "hia3.flexible_working_share": Wording("rate", "had a formal flexible working arrangement"),
}

_GAP_REFERENCE_WORD = {"Male": "men", "White": "White staff", "Non-disabled": "non-disabled staff",
                       "White British": "White British staff"}


def wording(metric_id: str, unit: str) -> Wording:
    """The wording of a metric: from :data:`WORDING`, else inferred from its unit and id."""
    if metric_id in WORDING:
        return WORDING[metric_id]
    # the model's other characteristics (hia6.disability.*, hia6.sex.*) read like the BME model;
    # the disability model is of capability (performance) cases (CONTRACT.md §4.4)
    parts = metric_id.split(".")
    if len(parts) == 3 and parts[0] == "hia6" and f"hia6.{parts[2]}" in WORDING:
        base = WORDING[f"hia6.{parts[2]}"]
        if parts[1] == "disability":
            return Wording(base.kind, "enter the formal capability process", base.measure,
                           base.population, base.counts, base.non_adverse_range, base.context)
        return base
    if metric_id.endswith("relative_likelihood"):
        return Wording("likelihood", "be in this group")
    if unit == "percent" and metric_id.endswith("_gap"):
        return Wording("gap", measure="hourly pay")
    if unit == "pp":
        return Wording("board_gap")
    if unit == "flag":
        return Wording("flag")
    return Wording("rate" if unit == "percent" else "value")


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
    if n is None or d is None:
        return ""
    return w.counts.format(n=fmt_count(n), d=fmt_count(d), g=gnoun)


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


def _likelihood(row: Mapping, w: Wording, unit: str) -> str:
    g, ref = _get(row, "group"), _get(row, "reference_group")
    gn, rn = group_noun(g, w.population), group_noun(ref, w.population)
    shown = rounded(_get(row, "value"), "ratio")
    where = breakdown_phrase(_get(row, "breakdown"))
    where = f" {where}" if where else ""
    if w.kind == "odds":
        head = f"the odds of {gn} having to {w.event} were {fmt_number(shown, 'ratio')} times " \
               f"the odds for {rn}{where}"
    elif shown == 1:
        head = f"{gn} were as likely as {rn} to {w.event}{where} (relative likelihood 1.00)"
    elif shown > 1:
        head = f"{gn} were {fmt_number(shown, 'ratio')} times as likely as {rn} to {w.event}{where}"
    else:
        head = (f"{gn} were less likely than {rn} to {w.event}{where}: "
                f"{fmt_number(shown, 'ratio')} times as likely")
    text = _cap(w.context + head) + _details(row, "ratio", w, short_noun(g, w.population)) + "."
    if w.non_adverse_range:
        if NON_ADVERSE_LOW <= shown <= NON_ADVERSE_HIGH:
            text += " This is within the non-adverse range of 0.80 to 1.25."
        else:
            text += " This is outside the non-adverse range of 0.80 to 1.25."
    excludes = _interval_excludes(row, "ratio", Decimal(1))
    if excludes is False and shown != 1:
        text += (" The 95% confidence interval includes 1.00 (equal likelihood), so the "
                 "difference may be due to chance.")
    return text


def _gap(row: Mapping, w: Wording, unit: str) -> str:
    g, ref = _get(row, "group"), _get(row, "reference_group")
    gn = group_noun(g)
    rn = _GAP_REFERENCE_WORD.get(ref, group_noun(ref))
    shown = rounded(_get(row, "value"), unit)
    where = breakdown_phrase(_get(row, "breakdown"))
    where = f"{where}, " if where else ""
    # gap = (reference − compared) ÷ reference: positive means the compared group is paid less
    if shown == 0:
        head = f"{where}{possessive(gn)} {w.measure} was the same as {possessive(rn)}"
    else:
        direction = "lower" if shown > 0 else "higher"
        head = (f"{where}{possessive(gn)} {w.measure} was {fmt_number(abs(shown), unit)}% "
                f"{direction} than {possessive(rn)}")
    ci = _ci_text(row, unit)
    text = _cap(w.context + head) + (f" ({ci})" if ci else "") + "."
    excludes = _interval_excludes(row, unit, Decimal(0))
    if excludes is False and shown != 0:
        text += " The 95% confidence interval includes no gap, so the difference may be due to chance."
    return text


def _board_gap(row: Mapping, w: Wording, unit: str) -> str:
    g = _get(row, "group")
    shown = rounded(_get(row, "value"), "pp")
    where = breakdown_phrase(_get(row, "breakdown")) or "on the board"
    gn = group_noun(g, "people")
    # value = % of the group among board members − % of the group in the workforce (pp)
    if shown == 0:
        rel = "the same as"
    else:
        rel = (f"{fmt_number(abs(shown), 'pp')} percentage points "
               f"{'higher' if shown > 0 else 'lower'} than")
    return _cap(f"the share of {gn} {where} was {rel} their share of the workforce.")


def _rate(row: Mapping, w: Wording, unit: str, label: str) -> str:
    g = _get(row, "group")
    gn = group_noun(g, w.population)
    where = breakdown_phrase(_get(row, "breakdown"))
    where = f" {where}" if where else ""
    v = fmt_value(_get(row, "value"), unit)
    if w.event:
        head = f"{v} of {gn}{where} {w.event}"
    else:
        head = f"{label} for {gn}{where} was {v}"
    return _cap(head) + _details(row, unit, w, short_noun(g, w.population)) + "."


def _value(row: Mapping, unit: str, label: str) -> str:
    g = _get(row, "group")
    where = breakdown_phrase(_get(row, "breakdown"))
    where = f" {where}" if where else ""
    head = f"{label} for {group_noun(g)}{where} was {fmt_value(_get(row, 'value'), unit)}"
    return _cap(head) + _details(row, unit, Wording("value"), short_noun(g)) + "."


FLAG_SENTENCES = {
    # hia6.*.disparity (CONTRACT.md §4.4): read from the 90% interval; the row's note says
    # what the interval allows.
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
    # hia6.*.staff_group_difference: the interaction test
    "differs": ("The disparity between {g} and {r} differs between staff groups (a formal test "
                "of the difference): the figures by staff group show where it is larger."),
    "no_difference_shown": ("There is no evidence that the disparity between {g} and {r} differs "
                            "between staff groups: read the trust-wide figure, not the figures "
                            "for single staff groups."),
    "not_tested": ("Whether the disparity between {g} and {r} differs between staff groups could "
                   "not be tested."),
}


def _flag(row: Mapping, label: str) -> str:
    value = str(_get(row, "value"))
    template = FLAG_SENTENCES.get(value)
    if template is None:
        return f"{_cap(label)}: {value.replace('_', ' ')}."
    g = group_noun(_get(row, "group") or "BME")
    r = group_noun(_get(row, "reference_group") or "White")
    process = "capability" if ".disability." in str(_get(row, "metric_id")) else "disciplinary"
    text = template.format(g=g, r=r, process=process)
    note = _get(row, "note")
    return f"{text} {note}" if note else text


def sentence(row: Mapping, *, label: str | None = None, survey: bool = False,
             min_count: int = 8, min_survey_responses: int = 11) -> str:
    """One plain-English sentence (or two) describing one metric row.

    ``label`` is the metric's registry label (used where the wording is
    generic and to name suppressed or blank figures); ``survey`` says the
    figure comes from the staff survey (its suppression threshold differs).
    """
    mid = str(_get(row, "metric_id"))
    unit = str(_get(row, "unit"))
    label = label or mid
    w = wording(mid, unit)
    g = _get(row, "group")
    where = breakdown_phrase(_get(row, "breakdown"))
    subject = label + (f" for {group_noun(g, w.population)}" if g and g != "All" else "") + \
        (f" {where}" if where else "")
    suppressed = _get(row, "suppressed", False)
    if suppressed is True or str(suppressed).lower() == "true":
        return suppressed_sentence(subject, survey, min_count, min_survey_responses,
                                   secondary=str(_get(row, "note")) == SECONDARY_NOTE)
    if is_blank(row.get("value") if hasattr(row, "get") else None):
        note = _get(row, "note")
        why = f": {note}" if note else ""
        return f"{_cap(subject)}: no figure can be given{why}."
    if w.kind in ("likelihood", "odds"):
        return _likelihood(row, w, unit)
    if w.kind == "gap":
        return _gap(row, w, unit)
    if w.kind == "board_gap":
        return _board_gap(row, w, unit)
    if w.kind == "flag" or unit == "flag":
        return _flag(row, label)
    if w.kind == "rate" and unit == "percent":
        return _rate(row, w, unit, label)
    return _value(row, unit, label)


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
