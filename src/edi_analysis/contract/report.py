"""What validation reports: one :class:`Issue` per problem, gathered in a :class:`ValidationReport`.

Every issue prints as ``file:line: column: message`` (CONTRACT.md §6), the
shape compilers and linters use, so editors can jump to the line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from edi_analysis.io import Dataset

ERROR = "error"
WARNING = "warning"

#: ``column`` of an issue about a whole file or table rather than one column.
WHOLE_TABLE = "-"


@dataclass(frozen=True, slots=True)
class Issue:
    """One problem found in the input.

    ``file`` is the data folder as given joined with the file name
    (``data/sample/workforce.csv``); ``line`` the line number in that file
    (header = 1, first data row = 2; Parquet rows are numbered the same way);
    ``column`` the column name, or ``-`` for a whole-table problem.
    """

    file: str
    line: int
    column: str
    message: str
    level: str = ERROR

    def format(self) -> str:
        """``file:line: column: message``."""
        return f"{self.file}:{self.line}: {self.column}: {self.message}"

    def __str__(self) -> str:
        return self.format()


@dataclass
class ValidationReport:
    """Everything validation found, in file and line order.

    ``dataset`` is set only when there are no errors.
    """

    errors: list[Issue] = field(default_factory=list)
    warnings: list[Issue] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    dataset: Dataset | None = None

    @property
    def ok(self) -> bool:
        """True when there are no errors (warnings and notes do not make data invalid)."""
        return not self.errors

    def format(self) -> str:
        """All errors, then warnings (marked), then notes, one per line."""
        lines = [i.format() for i in self.errors]
        lines += [f"{i.format()} (warning)" for i in self.warnings]
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)

    def summary(self) -> str:
        """One line: ``valid``/``invalid`` with the error and warning counts."""
        n_err, n_warn = len(self.errors), len(self.warnings)
        verdict = "invalid" if n_err else "valid"
        return (f"{verdict}: {n_err} error{'s' * (n_err != 1)}, "
                f"{n_warn} warning{'s' * (n_warn != 1)}")


class DataValidationError(Exception):
    """Raised by :func:`edi_analysis.contract.load_valid_dataset` when the data has errors."""

    def __init__(self, report: ValidationReport):
        self.report = report
        first = "\n".join(i.format() for i in report.errors[:20])
        more = len(report.errors) - 20
        tail = f"\n... and {more} more" if more > 0 else ""
        super().__init__(f"{report.summary()}\n{first}{tail}")


# ------------------------------------------------------------------ a readable summary

import re as _re  # noqa: E402  (kept beside the one function that needs it)

#: The first value quoted in a message (the cell), and line numbers it cites.
_QUOTED = _re.compile(r"^'(?:[^'\\]|\\.)*'|^blank\b")
_CITED_LINE = _re.compile(r"\(also on line \d+\)|\(line \d+\)|line \d+\b")
_DAYFIRST = _re.compile(r"^'(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})'$")
_MONTHFIRST_ONLY = _re.compile(r"^'(\d{1,2})[/.-](1[3-9]|2\d|3[01])[/.-](\d{4})'$")
_SERIAL = _re.compile(r"^'\d{5}(\.0)?'$")
_MONEY = _re.compile(r"^'[£$€]|^'\d{1,3}(,\d{3})+(\.\d+)?'$")


@dataclass
class ProblemGroup:
    """Issues of one file, column and kind of problem: how many, where the first are."""

    file: str
    column: str
    problem: str
    lines: list[int] = field(default_factory=list)
    values: list[str] = field(default_factory=list)
    level: str = ERROR

    @property
    def hint(self) -> str:
        return _hint(self.problem, self.values)

    def format(self) -> str:
        n = len(self.lines)
        first = ", ".join(str(x) for x in self.lines[:3]) + (", ..." if n > 3 else "")
        mark = " (warning)" if self.level == WARNING else ""
        text = (f"{self.file}: {self.column}: {self.problem}{mark}: {n:,} "
                f"row{'s' * (n != 1)} (line{'s' * (n != 1)} {first})")
        if self.values:
            text += f"; e.g. {', '.join(dict.fromkeys(self.values[:3]))}"
        hint = self.hint
        return text + (f"\n    hint: {hint}" if hint else "")


_ANY_QUOTED = _re.compile(r"'(?:[^'\\]|\\.)*'")


def _kind(message: str) -> tuple[str, str]:
    """(the message with its values and cited lines taken out, the first value)."""
    m = _QUOTED.match(message)
    rest = message[m.end():].strip() if m else message
    if m and rest.startswith("and ") and "differ only" in rest:  # identifier spellings
        return "differs from another spelling only by letter case or spaces", m.group(0)
    inner = _ANY_QUOTED.search(rest)
    value = m.group(0) if m else (inner.group(0) if inner else "")
    rest = _CITED_LINE.sub("(line N)", _ANY_QUOTED.sub("'…'", rest))
    return (f"value {rest}" if m else rest), value


def group_issues(issues: list[Issue]) -> list[ProblemGroup]:
    """Issues grouped by file, column and kind of problem, in order of first appearance."""
    groups: dict[tuple, ProblemGroup] = {}
    for issue in issues:
        problem, value = _kind(issue.message)
        key = (issue.file, issue.column, problem, issue.level)
        g = groups.get(key)
        if g is None:
            g = groups[key] = ProblemGroup(issue.file, issue.column, problem, level=issue.level)
        g.lines.append(issue.line)
        if value and len(g.values) < 50:
            g.values.append(value)
    return list(groups.values())


def _hint(problem: str, values: list[str]) -> str:
    if "is not a date" in problem and values:
        if all(_DAYFIRST.match(v) for v in values):
            if any(_MONTHFIRST_ONLY.match(v) for v in values):
                return ("these look like MM/DD/YYYY (US order); re-export as YYYY-MM-DD or set "
                        "`date_format: monthfirst` in the mapping profile")
            return ("these look like DD/MM/YYYY; re-export as YYYY-MM-DD or set "
                    "`date_format: dayfirst` in the mapping profile")
        if all(_SERIAL.match(v) for v in values):
            return ("these look like Excel date serial numbers saved as text; format the "
                    "column as a date (yyyy-mm-dd) before saving")
    if "is not a number" in problem and values and all(_MONEY.match(v) for v in values):
        return "remove currency signs and thousands separators (write 1234.5, not £1,234.50)"
    if "is not an allowed value" in problem and values and all(
            v.strip("'") != v.strip("'").strip() for v in values):
        return "the values have spaces around them; remove the spaces"
    return ""


def summary_lines(report: ValidationReport, limit: int = 20) -> list[str]:
    """What the command line prints: every problem when there are at most ``limit``
    errors; otherwise a summary per column and problem (count, first three lines, a hint)
    followed by the first ``limit`` problems."""
    lines: list[str] = []
    if len(report.errors) <= limit:
        lines += [i.format() for i in report.errors]
        lines += [f"{i.format()} (warning)" for i in report.warnings]
    else:
        groups = group_issues(report.errors) + group_issues(report.warnings)
        lines.append(f"{len(report.errors):,} errors of {len(groups)} kinds, by file, column "
                     "and problem:")
        lines += ["  " + g.format().replace("\n", "\n  ") for g in groups]
        lines.append(f"the first {limit} of {len(report.errors):,} errors:")
        lines += [i.format() for i in report.errors[:limit]]
        lines.append(f"... and {len(report.errors) - limit:,} more errors and "
                     f"{len(report.warnings):,} warnings (--all prints every one; "
                     "--errors-to FILE writes them to a file)")
    lines += [f"note: {n}" for n in report.notes]
    return lines
