"""The data contract as code: one pandera schema per input table, and the validator.

``validate_dataset(folder)`` checks every table of CONTRACT.md §2 and
returns a :class:`ValidationReport` listing *all* problems at once, each as
``file:line: column: message`` (CONTRACT.md §6); ``load_valid_dataset``
returns the typed :class:`~edi_analysis.io.Dataset` or raises
:class:`DataValidationError`. Each table's schema lives in its own module
(``contract/workforce.py``, ...), declared with the helpers of
:mod:`edi_analysis.contract.columns`. docs/validation.md describes every check.
"""

from edi_analysis.contract.report import (
    ERROR, WARNING, DataValidationError, Issue, ValidationReport,
)
from edi_analysis.contract.validate import (
    OPTIONAL_TABLES, REQUIRED_TABLES, TABLES, load_valid_dataset, validate_dataset,
)

__all__ = [
    "ERROR", "WARNING", "DataValidationError", "Issue", "ValidationReport",
    "OPTIONAL_TABLES", "REQUIRED_TABLES", "TABLES", "load_valid_dataset", "validate_dataset",
]
