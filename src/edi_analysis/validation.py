"""Validate a dataset folder and print what is wrong with it (``edi-analysis validate`` and
the first step of ``run``)."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path

from edi_analysis.errors import UsageError


def report_validation(report, *, stream=None, show_all: bool = False,
                      errors_to: str | Path | None = None, limit: int = 20) -> None:
    """Print the problems as ``file:line: column: message``, then a one-line verdict.

    More than ``limit`` errors are summarised per file, column and problem (count,
    first lines, a hint) before the first ``limit`` of them; ``show_all`` prints every
    one; ``errors_to`` also writes every one to that file (atomically).
    """
    from edi_analysis.contract.report import summary_lines

    stream = stream or sys.stderr
    if errors_to is not None:
        from edi_analysis.io import atomic_write_text

        atomic_write_text(Path(errors_to), report.format() + "\n")
    if show_all:
        text = report.format()
        if text:
            print(text, file=stream)
    else:
        for line in summary_lines(report, limit):
            print(line, file=stream)
    if errors_to is not None:
        print(f"every problem is in {errors_to}", file=stream)
    n_err, n_warn = len(report.errors), len(report.warnings)
    verdict = "invalid" if n_err else "valid"
    print(f"{verdict}: {n_err} error{'s' * (n_err != 1)}, {n_warn} warning{'s' * (n_warn != 1)}",
          file=stream)


def validate(data_dir: str | Path, periods: Iterable[str] | None = None, params_file=None,
             trusts: Iterable[str] | None = None, mapping=None, settings=None):
    """Validate a dataset folder; returns the contract's ValidationReport.

    ``trusts`` (default: all) are the trusts to be reported: each needs a
    workforce snapshot for every period. ``mapping`` (a profile file or name) and
    ``settings`` (the values it asks for) read a trust's own exports.
    """
    from edi_analysis.contract import validate_dataset
    from edi_analysis.contract.mapping import MappingError

    if not Path(data_dir).is_dir():
        raise UsageError(f"{data_dir}: no such folder")
    try:
        return validate_dataset(Path(data_dir), periods=list(periods) if periods else None,
                                params_file=params_file, trusts=trusts, mapping=mapping,
                                settings=dict(settings) if settings else None)
    except MappingError as exc:
        raise UsageError(str(exc)) from None


