"""Building blocks for the table schemas: one function per kind of column.

Each function returns a pandera ``Column`` whose dtype is the validated
type (shared conventions: text ``str``, dates ``datetime64[us]``, booleans
nullable ``boolean``, numbers ``float64``, whole numbers ``Int64`` while
validating), whose checks carry a plain-English ``error`` text, and whose
``metadata["kind"]`` tells :mod:`edi_analysis.contract.parsing` how to turn
the file's text into that type. ``nullable`` means "may be blank";
``default`` is the value a blank cell stands for (``disability`` blank = U).

The check ``error`` texts complete a sentence that starts with the cell's
value, e.g. ``'X' is not an allowed value (allowed: F, M)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandera.pandas as pa

TEXT, DATE, NUMBER, INTEGER, BOOLEAN = "text", "date", "number", "integer", "boolean"

DATE_DTYPE = "datetime64[us]"
DTYPES = {TEXT: "str", DATE: DATE_DTYPE, NUMBER: "float64", INTEGER: "Int64", BOOLEAN: "boolean"}

#: ODS organisation code (NHS Digital Organisation Data Service): 3 to 5 capitals or digits.
ODS_PATTERN = r"^[A-Z0-9]{3,5}$"

#: Spellings accepted for booleans (CONTRACT.md §2); blank = not recorded.
TRUE_VALUES = ("Y", "y", "true", "True", "TRUE", "1")
FALSE_VALUES = ("N", "n", "false", "False", "FALSE", "0")

#: What a parse failure says, by kind (the value is put in front).
PARSE_ERRORS = {
    DATE: "is not a date (expected YYYY-MM-DD)",
    NUMBER: "is not a number",
    INTEGER: "is not a whole number",
    BOOLEAN: "is not a yes/no value (expected Y or N; true/false and 1/0 are also accepted)",
}

#: What a blank cell in a column that needs a value says.
BLANK_ERROR = "is blank; a value is required"


def _column(kind: str, checks: Sequence[pa.Check] = (), *, blank: bool, required: bool = True,
            default: str | None = None, description: str = "") -> pa.Column:
    return pa.Column(
        DTYPES[kind], checks=list(checks), nullable=blank, required=required,
        default=default, description=description, metadata={"kind": kind},
    )


def identifier(description: str = "pseudonymised identifier") -> pa.Column:
    """A pseudonymised id used only for linking and de-duplication; never blank."""
    return _column(TEXT, blank=False, description=description)


def ods_code(description: str = "ODS code of the trust") -> pa.Column:
    """An ODS organisation code, ``^[A-Z0-9]{3,5}$`` (CONTRACT.md §2); never blank."""
    check = pa.Check.str_matches(
        ODS_PATTERN, error="is not an ODS code (3 to 5 capital letters or digits, e.g. RXX)"
    )
    return _column(TEXT, [check], blank=False, description=description)


def code(values: Sequence[str], *, blank: bool = False, blank_means: str | None = None,
         description: str = "") -> pa.Column:
    """A value from a fixed code list; the error lists the allowed values.

    ``blank=True`` lets the cell be empty (missing); ``blank_means`` makes an
    empty cell stand for that code instead (e.g. disability blank = ``U``).
    """
    values = tuple(values)
    allowed = ", ".join(values)
    if blank and blank_means is None:
        allowed += " or blank"
    check = pa.Check.isin(values, error=f"is not an allowed value (allowed: {allowed})")
    return _column(TEXT, [check], blank=blank and blank_means is None, default=blank_means,
                   description=description)


def text(*, blank: bool = True, required: bool = True, description: str = "") -> pa.Column:
    """Free text (owner, evidence, source, ...); ``required=False`` marks an optional column."""
    return _column(TEXT, blank=blank, required=required, description=description)


def date(*, blank: bool = False, description: str = "") -> pa.Column:
    """An ISO 8601 calendar date ``YYYY-MM-DD`` (a real date: 2024-02-30 is rejected)."""
    return _column(DATE, blank=blank, description=description)


def _fmt(x: float) -> str:
    """A bound in words: ``0.01``, ``1.5``, ``1,000,000`` (never ``1e+06``)."""
    if float(x).is_integer():
        return f"{int(x):,}"
    return f"{x:g}"


def _range_check(gt=None, ge=None, le=None, lt=None) -> pa.Check | None:
    parts = []
    if gt is not None:
        parts.append(f"more than {_fmt(gt)}")
    if ge is not None:
        parts.append(f"at least {_fmt(ge)}")
    if lt is not None:
        parts.append(f"less than {_fmt(lt)}")
    if le is not None:
        parts.append(f"at most {_fmt(le)}")
    if not parts:
        return None
    if ge == 0 and gt is None and le is None and lt is None:
        error = "is negative (must be 0 or more)"
    else:
        error = f"is out of range (must be {' and '.join(parts)})"
    low, high = (gt if gt is not None else ge), (lt if lt is not None else le)
    if low is not None and high is not None:
        return pa.Check.in_range(low, high, include_min=gt is None, include_max=lt is None,
                                 error=error)
    if gt is not None:
        return pa.Check.gt(gt, error=error)
    if ge is not None:
        return pa.Check.ge(ge, error=error)
    if lt is not None:
        return pa.Check.lt(lt, error=error)
    return pa.Check.le(le, error=error)


@dataclass(frozen=True)
class Plausible:
    """Bounds a real value stays within, inside the column's hard range, and why.

    A value outside them is an error: no extract holds it except by mistake
    (wrong units, a typing slip), and left in it would distort or overflow a
    metric (an hourly rate of 1e12 makes the mean pay gap meaningless; an fte
    of 1e-300 makes total pay per hour infinite). The bounds and their sources
    are listed in docs/validation.md ("Plausible values").
    """

    low: float | None = None
    high: float | None = None
    why: str = ""

    @property
    def error(self) -> str:
        if self.low is None:
            return f"is implausibly high (more than {_fmt(self.high)}: {self.why})"
        if self.high is None:
            return f"is implausibly small (less than {_fmt(self.low)}: {self.why})"
        return f"is implausible (outside {_fmt(self.low)} to {_fmt(self.high)}: {self.why})"

    def describe(self) -> str:
        parts = []
        if self.low is not None:
            parts.append(f"at least {_fmt(self.low)}")
        if self.high is not None:
            parts.append(f"at most {_fmt(self.high)}")
        return "plausible: " + " and ".join(parts)

    def check(self, gt=None, ge=None, le=None, lt=None) -> pa.Check:
        """The pandera check; a value already outside the hard range passes it (reported once)."""
        def ok(s):
            outside_hard = s.isna()
            if gt is not None:
                outside_hard |= s <= gt
            if ge is not None:
                outside_hard |= s < ge
            if le is not None:
                outside_hard |= s > le
            if lt is not None:
                outside_hard |= s >= lt
            inside = s.notna()
            if self.low is not None:
                inside &= s >= self.low
            if self.high is not None:
                inside &= s <= self.high
            return inside | outside_hard

        return pa.Check(ok, name="plausible", error=self.error,
                        statistics={"low": self.low, "high": self.high, "why": self.why})


def number(*, blank: bool = False, gt=None, ge=None, le=None, lt=None, required: bool = True,
           plausible: Plausible | None = None, description: str = "") -> pa.Column:
    """A decimal number (``12.5``, ``-3``, ``1e3``; no thousands separators or currency signs).

    ``gt``/``ge``/``le``/``lt`` are the contract's hard range; ``plausible``
    narrows it to what a real extract can hold (:class:`Plausible`);
    ``required=False`` marks an optional column.
    """
    checks = [c for c in (_range_check(gt=gt, ge=ge, le=le, lt=lt),) if c is not None]
    if plausible is not None:
        checks.append(plausible.check(gt=gt, ge=ge, le=le, lt=lt))
    return _column(NUMBER, checks, blank=blank, required=required, description=description)


def whole_number(*, blank: bool = False, gt=None, ge=None, le=None, lt=None,
                 plausible: Plausible | None = None, description: str = "") -> pa.Column:
    """An integer such as a survey year (``2023``; ``2023.0`` is not accepted in a CSV)."""
    checks = [c for c in (_range_check(gt=gt, ge=ge, le=le, lt=lt),) if c is not None]
    if plausible is not None:
        checks.append(plausible.check(gt=gt, ge=ge, le=le, lt=lt))
    return _column(INTEGER, checks, blank=blank, description=description)


def boolean(*, required: bool = True, description: str = "") -> pa.Column:
    """Y/N (also true/false, 1/0); blank = not recorded, so always allowed (CONTRACT.md §2).

    ``required=False`` marks an optional column (metrics only where present).
    """
    return _column(BOOLEAN, blank=True, required=required, description=description)


def kind(column: pa.Column) -> str:
    """The parsing kind of a schema column (text, date, number, integer, boolean)."""
    return column.metadata["kind"]
