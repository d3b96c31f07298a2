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
