"""What each command does, as plain functions the CLI and the notebooks share.

Every command that reads data validates it first and writes nothing when it
is invalid (CONTRACT.md §6). No command deletes or overwrites what the tool
did not write (CONTRACT.md §7, :mod:`edi_analysis.folders`); an output that
cannot be written raises :class:`edi_analysis.io.OutputError` (or another
``OSError``), which the command line prints as one line, exit status 1.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from edi_analysis.errors import UsageError  # re-exported: pipeline.UsageError
from edi_analysis.metrics_output import (  # noqa: F401  (re-exported)
    METRIC_NUMBER_COLUMNS, compute_metrics, metrics_csv_bytes)
from edi_analysis.validation import report_validation, validate  # noqa: F401  (re-exported)


def _err(msg: str) -> None:
    print(msg, file=sys.stderr)


def _listing(args) -> dict:
    return {"show_all": getattr(args, "all", False), "errors_to": getattr(args, "errors_to", None)}


def parse_settings(items: Iterable[str] | None) -> dict[str, str]:
    """``--set COLUMN=VALUE`` options as a dict."""
    out = {}
    for item in items or ():
        key, eq, value = item.partition("=")
        if not eq or not key.strip():
            raise UsageError(f"--set {item!r}: expected COLUMN=VALUE, e.g. trust_code=RXX")
        out[key.strip()] = value.strip()
    return out


def _parse_periods(periods: Iterable[str]) -> list[str]:
    out = []
    for p in periods:
        try:
            ts = pd.Timestamp(p)
        except (ValueError, TypeError):
            raise UsageError(f"period {p!r} is not a date (expected YYYY-MM-DD)") from None
        if ts.strftime("%Y-%m-%d") != str(p):
            raise UsageError(f"period {p!r} is not a date (expected YYYY-MM-DD)")
        out.append(str(p))
    return out


def cmd_sample_data(args) -> int:
    from edi_analysis import sample

    kw = {k: v for k, v in (("trusts", args.trusts), ("staff", args.staff), ("seed", args.seed))
          if v is not None}
    t0 = time.perf_counter()
    try:
        paths = sample.write_sample(Path(args.out_dir), fmt=args.format,
                                    force=getattr(args, "force", False), **kw)
    except sample.SampleFolderError as exc:
        raise UsageError(str(exc)) from None
    _err(f"wrote {len(paths)} tables to {args.out_dir} in {time.perf_counter() - t0:.1f} s")
    return 0


def cmd_validate(args) -> int:
    periods = _parse_periods(args.period) if args.period else None
    t0 = time.perf_counter()
    report = validate(args.data_dir, periods, trusts=getattr(args, "trust", None),
                      mapping=getattr(args, "mapping", None),
                      settings=parse_settings(getattr(args, "set", None)))
    report_validation(report, **_listing(args))
    _err(f"checked in {time.perf_counter() - t0:.1f} s")
    return 0 if report.ok else 1


def check_metrics_output(output: str | Path, data_dir: str | Path,
                         inputs: Iterable[Path] = ()) -> None:
    """Refuse (UsageError) an output that would overwrite an input or a file the tool did not
    write: one inside the data folder, equal to an input table, or an existing file that is not
    a metrics.csv (its first line is not the CONTRACT.md §5 header)."""
    from edi_analysis import folders
    from edi_analysis.metrics.rows import PUBLISHED

    out = Path(output)
    target = out.resolve()
    if folders.relation(target, Path(data_dir)) in ("equals", "is inside"):
        raise UsageError(f"{out}: inside the data folder {Path(data_dir).resolve()}, which holds "
                         "the inputs; write metrics.csv somewhere else")
    for f in inputs:
        if Path(f).resolve() == target:
            raise UsageError(f"{out}: is the input table {f}; write metrics.csv somewhere else")
    if target.is_dir():
        from edi_analysis.io import OutputError

        raise OutputError(out, "is a folder, not a file")
    if target.is_file():
        try:
            with open(target, encoding="utf-8-sig", errors="replace") as fh:
                first = fh.readline().rstrip("\r\n")
        except OSError:
            return  # unreadable: the write reports why
        if first != ",".join(PUBLISHED):
            raise UsageError(f"{out}: exists and is not a metrics.csv (its first line is not the "
                             "metrics.csv header), so it is not overwritten; choose another -o "
                             "FILE")


def cmd_metrics(args) -> int:
    from edi_analysis.io import atomic_write_bytes
    from edi_analysis.metrics import REGISTRY
    from edi_analysis.params import lower_thresholds_notice, lower_thresholds, threshold_problems

    periods = _parse_periods(args.period)
    if args.metric:
        unknown = [m for m in args.metric if m not in REGISTRY]
        if unknown:
            raise UsageError(f"unknown metric id(s): {', '.join(unknown)}")
    allow = getattr(args, "allow_lower_thresholds", False)
    problems = threshold_problems(args.min_count, args.min_survey_responses, allow,
                                  how="--allow-lower-thresholds")
    if problems:
        raise UsageError("; ".join(p.replace("min_count", "--min-count", 1)
                                   .replace("min_survey_responses", "--min-survey-responses", 1)
                                   for p in problems))
    if args.output != "-":
        check_metrics_output(args.output, args.data_dir)
    report = validate(args.data_dir, periods, trusts=args.trust,
                      mapping=getattr(args, "mapping", None),
                      settings=parse_settings(getattr(args, "set", None)))
    if not report.ok:
        report_validation(report, **_listing(args))
        return 1
    if report.warnings or report.notes:
        report_validation(report, **_listing(args))
    dataset = report.dataset
    if args.output != "-":
        check_metrics_output(args.output, args.data_dir, dataset.files.values())
    if args.trust:
        known = set(dataset.tables["workforce"]["trust_code"].unique())
        missing = [t for t in args.trust if t not in known]
        if missing:
            raise UsageError(f"trust(s) not in the workforce table: {', '.join(missing)}")
    t0 = time.perf_counter()
    rows = compute_metrics(dataset, periods, args.trust, min_count=args.min_count,
                           min_survey_responses=args.min_survey_responses, seed=args.seed,
                           metric_ids=args.metric)
    data = metrics_csv_bytes(rows)
    lowered = lower_thresholds(args.min_count, args.min_survey_responses)
    if lowered:
        _err(f"warning: {lower_thresholds_notice(lowered)}".replace(
            "allow_lower_thresholds: true in the params", "--allow-lower-thresholds"))
    if args.output == "-":
        sys.stdout.buffer.write(data)
    else:
        atomic_write_bytes(Path(args.output), data)
    _err(f"{len(rows)} rows, {rows['metric_id'].nunique()} metrics, "
         f"{rows['trust_code'].nunique()} trusts in {time.perf_counter() - t0:.1f} s"
         + ("" if args.output == "-" else f" -> {args.output}"))
    return 0


def _load_params(args):
    from edi_analysis.params import ParamsError, load_params

    overrides = {"trusts": getattr(args, "trust", None), "periods": getattr(args, "period", None),
                 "notebooks": getattr(args, "notebook", None)}
    try:
        return load_params(Path(args.params), {k: v for k, v in overrides.items() if v})
    except ParamsError as exc:
        raise UsageError(str(exc)) from None


def cmd_run(args) -> int:
    from edi_analysis import runner

    params = _load_params(args)
    result = runner.run(params, jobs=args.jobs, executor=args.executor,
                        scheduler=args.scheduler, progress=not args.no_progress,
                        fresh_kernels=getattr(args, "fresh_kernels", False))
    return result.exit_code


def cmd_publish(args) -> int:
    from edi_analysis import publish

    params = _load_params(args)
    # publish audits the staged site and its reports, and swaps it into place only when clean
    result = publish.publish(params, engine=args.engine, jobs=getattr(args, "jobs", None))
    return result.exit_code


def cmd_build(args) -> int:
    code = cmd_run(args)
    if code != 0:
        _err("build: the run failed; nothing was published")
        return code
    code = cmd_publish(args)  # the disclosure audit runs on the staged site, before the swap
    if code != 0:
        _err("build: nothing was published; the previous site, if any, is unchanged")
        return code
    _err(f"build: done; the site is in {_load_params(args).site_dir}")
    return 0


def run_audit(target, data_dir=None, *, min_count: int | None = None,
              min_survey_responses: int | None = None, allow_lower_thresholds: bool = False,
              stream=None) -> int:
    """Disclosure audit of published outputs; prints findings and a summary; returns 0 clean, 1 not.

    ``target`` is a checked :class:`edi_analysis.params.Params` (audits its
    ``reports_dir`` and ``site_dir`` against its ``data`` and thresholds —
    what ``build`` calls after publishing) or an iterable of files/folders
    with ``data_dir``. Raises :class:`UsageError` when the audit cannot run.
    """
    from edi_analysis import audit as _audit
    from edi_analysis import stats

    stream = stream or sys.stderr
    if hasattr(target, "site_dir") and hasattr(target, "reports_dir"):
        params = target
        paths = [p for p in (params.reports_dir, params.site_dir) if Path(p).exists()]
        if not paths:
            raise UsageError(f"nothing to audit: neither {params.reports_dir} nor {params.site_dir} exists")
        data_dir = params.data
        min_count = params.min_count if min_count is None else min_count
        if min_survey_responses is None:
            min_survey_responses = params.min_survey_responses
        allow_lower_thresholds = allow_lower_thresholds or params.allow_lower_thresholds
    else:
        paths = [Path(p) for p in target]
        if data_dir is None:
            raise UsageError("--data DATA_DIR is required (the inputs whose identifiers must not appear)")
    from edi_analysis.params import threshold_problems

    min_count = stats.DEFAULT_MIN_COUNT if min_count is None else min_count
    if min_survey_responses is None:
        min_survey_responses = stats.DEFAULT_MIN_SURVEY_RESPONSES
    problems = threshold_problems(min_count, min_survey_responses, allow_lower_thresholds,
                                  how="--allow-lower-thresholds (or allow_lower_thresholds: "
                                      "true in the params)")
    if problems:
        raise UsageError("; ".join(problems))
    mapping = getattr(target, "mapping", None)  # the inputs are the trust's own exports
    try:
        report = _audit.audit(paths, Path(data_dir), min_count, min_survey_responses,
                              allow_lower_thresholds=allow_lower_thresholds, mapping=mapping,
                              settings=dict(target.settings) if mapping else None)
    except _audit.AuditError as exc:
        raise UsageError(str(exc)) from None
    if hasattr(target, "site_dir") and hasattr(target, "reports_dir"):
        # As publish audits (publish.audit_staged): the kept reports are for reviewers, not
        # published, and their notebooks record the dataset's path so that they re-run as
        # recorded (docs/running.md); the site's copies hold no local path. So a local path
        # counts in the site only; every other finding counts everywhere.
        site = str(Path(params.site_dir).resolve()) + os.sep
        report.findings = [f for f in report.findings if f.what != "local path"
                           or str(Path(f.file).resolve()).startswith(site)]
    _audit.print_report(report, stream)
    return 0 if report.ok else 1


def cmd_audit(args) -> int:
    from edi_analysis.params import ParamsError, load_params

    paths = [Path(p) for p in args.paths]
    thresholds = {"min_count": args.min_count, "min_survey_responses": args.min_survey_responses,
                  "allow_lower_thresholds": getattr(args, "allow_lower_thresholds", False)}
    if len(paths) == 1 and paths[0].suffix.lower() in (".yaml", ".yml"):
        try:
            params = load_params(paths[0])
        except ParamsError as exc:
            raise UsageError(str(exc)) from None
        return run_audit(params, **thresholds)
    if any(p.suffix.lower() in (".yaml", ".yml") for p in paths):
        raise UsageError("a PARAMS.yaml must be the only PATH")
    return run_audit(paths, args.data, **thresholds)


def cmd_import(args) -> int:
    from edi_analysis import importer
    from edi_analysis.contract.mapping import MappingError

    t0 = time.perf_counter()
    try:
        result = importer.run_import(args.src_dir, args.out_dir, args.mapping,
                                     parse_settings(args.set))
    except (importer.ImportRefused, MappingError) as exc:
        raise UsageError(str(exc)) from None
    report_validation(result.report, **_listing(args))
    if not result.written:
        _err(f"import: nothing written to {args.out_dir}")
        return 1
    _err(f"import: wrote {len(result.written)} tables to {args.out_dir} in "
         f"{time.perf_counter() - t0:.1f} s")
    return 0


def cmd_returns(args) -> int:
    from edi_analysis import returns

    period = _parse_periods([args.period])[0]
    out = Path(args.output)
    data = Path(args.data_dir).resolve()
    if out.resolve() == data or data in out.resolve().parents:
        raise UsageError(f"{out}: the returns may not be written into the data folder {data}")
    report = validate(args.data_dir, [period], trusts=args.trust,
                      mapping=getattr(args, "mapping", None),
                      settings=parse_settings(getattr(args, "set", None)))
    if not report.ok or report.warnings:
        report_validation(report, **_listing(args))
    if not report.ok:
        return 1
    t0 = time.perf_counter()
    try:
        figures = returns.return_figures(report.dataset, period, args.trust,
                                         min_count=args.min_count,
                                         min_survey_responses=args.min_survey_responses,
                                         seed=args.seed)
    except returns.ReturnIntegrityError as exc:
        for problem in exc.problems:
            _err(f"gender-pay-gap: {problem}")
        _err(f"returns: the figures fail the return's checks ({len(exc.problems)}); "
             "nothing was written")
        return 1
    written = returns.write_returns(figures, out, period)
    hidden = sum(f["note"].str.contains("hidden|hides", regex=True).sum()
                 for f in (figures.gender_pay_gap, figures.wres, figures.wdes))
    _err(f"returns: {len(figures.gender_pay_gap)} trusts, {len(written)} files -> {out} in "
         f"{time.perf_counter() - t0:.1f} s" + (
             f"; {hidden} figures the published report hides are given (their note says so): "
             "these files are for the returns, not for publication" if hidden else ""))
    return 0


def cmd_rerun(args) -> int:
    from edi_analysis import rerun

    return rerun.rerun(args.notebook, args.output)


COMMANDS = {
    "returns": cmd_returns,
    "rerun": cmd_rerun,
    "sample-data": cmd_sample_data,
    "import": cmd_import,
    "validate": cmd_validate,
    "metrics": cmd_metrics,
    "run": cmd_run,
    "publish": cmd_publish,
    "build": cmd_build,
    "audit": cmd_audit,
}


def dispatch(args: argparse.Namespace) -> int:
    return COMMANDS[args.command](args)
