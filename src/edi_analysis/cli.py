"""Command line: parses arguments and calls the pipeline (CONTRACT.md §7). No logic here."""

from __future__ import annotations

import argparse
import os
import sys


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return value


def _mapping_options(s) -> None:
    s.add_argument("--mapping", default=None, metavar="PROFILE",
                   help="mapping profile: a YAML file, or a shipped profile (esr); default "
                        "DATA_DIR/mapping.yaml when present")
    s.add_argument("--set", action="append", default=None, metavar="COLUMN=VALUE",
                   help="a value the profile asks for, e.g. trust_code=RXX (repeatable)")
    s.add_argument("--all", action="store_true",
                   help="print every problem (default: a summary and the first 20 when "
                        "there are more)")
    s.add_argument("--errors-to", default=None, metavar="FILE",
                   help="also write every problem to FILE")


def _build_parser() -> argparse.ArgumentParser:
    from edi_analysis import __version__

    p = argparse.ArgumentParser(
        prog="edi-analysis",
        description="Validate NHS workforce extracts, compute EDI metrics, run and publish reports.",
    )
    p.add_argument("--version", action="version", version=f"edi-analysis {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)

    s = sub.add_parser("sample-data", help="write a deterministic synthetic dataset")
    s.add_argument("out_dir", metavar="OUT_DIR")
    s.add_argument("--trusts", type=_positive_int, default=None, help="number of trusts")
    s.add_argument("--staff", type=_positive_int, default=None,
                   help="total headcount across trusts at the latest snapshot")
    s.add_argument("--seed", type=int, default=None, help="random seed (default 20240331)")
    s.add_argument("--format", choices=("csv", "parquet", "xlsx"), default="csv")
    s.add_argument("--force", action="store_true",
                   help="write into a folder that is not empty (files sample-data did not write "
                        "are never overwritten)")

    s = sub.add_parser("validate", help="check every input table against the data contract")
    s.add_argument("data_dir", metavar="DATA_DIR")
    s.add_argument("--period", action="append", default=None, metavar="YYYY-MM-DD",
                   help="also check that this period has a workforce snapshot (repeatable)")
    s.add_argument("--trust", action="append", default=None, metavar="CODE",
                   help="with --period: only this trust needs the snapshots (repeatable; "
                        "default every trust)")
    _mapping_options(s)

    s = sub.add_parser("import", help="read a trust's own exports through a mapping profile "
                                      "and write contract-shaped tables")
    s.add_argument("src_dir", metavar="SRC_DIR")
    s.add_argument("out_dir", metavar="OUT_DIR", help="a new or empty folder")
    _mapping_options(s)

    s = sub.add_parser("metrics", help="compute every metric and write metrics.csv")
    s.add_argument("data_dir", metavar="DATA_DIR")
    s.add_argument("--period", required=True, action="append", metavar="YYYY-MM-DD")
    s.add_argument("--trust", action="append", default=None, metavar="CODE")
    s.add_argument("-o", "--output", default="metrics.csv", metavar="FILE",
                   help="output file ('-' for standard output)")
    s.add_argument("--min-count", type=_positive_int, default=8)
    s.add_argument("--min-survey-responses", type=_positive_int, default=11)
    s.add_argument("--allow-lower-thresholds", action="store_true",
                   help="accept --min-count below 8 or --min-survey-responses below 11 "
                        "(the data contract's minimums)")
    s.add_argument("--seed", type=int, default=20240331)
    s.add_argument("--metric", action="append", default=None, metavar="ID",
                   help="only this metric id (repeatable)")
    _mapping_options(s)

    s = sub.add_parser("returns", help="write the gender pay gap, WRES and WDES return figures "
                                       "(CSV and accessible .xlsx)")
    s.add_argument("data_dir", metavar="DATA_DIR")
    s.add_argument("--period", required=True, metavar="YYYY-MM-DD")
    s.add_argument("--trust", action="append", default=None, metavar="CODE")
    s.add_argument("-o", "--output", default="returns", metavar="DIR",
                   help="folder for the files (default: returns)")
    s.add_argument("--min-count", type=_positive_int, default=8,
                   help="the published report's threshold, to say which figures it hides")
    s.add_argument("--min-survey-responses", type=_positive_int, default=11)
    s.add_argument("--seed", type=int, default=20240331)
    _mapping_options(s)

    for name, helptext in (("run", "validate, then execute the notebooks with papermill"),
                           ("build", "run, then publish the site and board packs (audited "
                                     "before they replace the old site)")):
        s = sub.add_parser(name, help=helptext)
        s.add_argument("params", metavar="PARAMS.yaml")
        s.add_argument("--jobs", type=_positive_int, default=None,
                       help=f"parallel notebook workers (default: cores, here {os.cpu_count()})")
        s.add_argument("--trust", action="append", default=None, metavar="CODE",
                       help="only this trust (repeatable; overrides the params)")
        s.add_argument("--period", action="append", default=None, metavar="YYYY-MM-DD",
                       help="only this period (repeatable; overrides the params)")
        s.add_argument("--notebook", action="append", default=None, metavar="NAME",
                       help="only this notebook (repeatable; overrides the params)")
        s.add_argument("--executor", choices=("local", "dask"), default="local")
        s.add_argument("--scheduler", default=None, metavar="ADDRESS",
                       help="Dask scheduler address for --executor dask")
        s.add_argument("--no-progress", action="store_true", help="no progress bar")
        s.add_argument("--fresh-kernels", action="store_true",
                       help="a new kernel per notebook (papermill's default engine) instead of "
                            "one warm kernel per worker")
        if name == "build":
            s.add_argument("--engine", choices=("auto", "quarto", "builtin", "fallback"),
                           default="auto",
                           help="publishing route: auto (Quarto when on PATH, else the built-in "
                                "route), quarto or builtin (fallback: the same)")

    s = sub.add_parser("publish", help="render the report site and PDF board packs")
    s.add_argument("params", metavar="PARAMS.yaml")
    s.add_argument("--jobs", type=_positive_int, default=None,
                   help=f"parallel workers: the built-in route's, and Quarto projects "
                        f"rendered side by side (default: cores, here {os.cpu_count()})")
    s.add_argument("--engine", choices=("auto", "quarto", "builtin", "fallback"), default="auto",
                   help="auto: Quarto when on PATH, else the built-in route; quarto; builtin "
                        "(fallback: the same)")

    s = sub.add_parser("rerun", help="execute a kept report notebook again as recorded and say, "
                                     "section by section, whether its outputs are the same "
                                     "(exit 1 if any differs)")
    s.add_argument("notebook", metavar="NOTEBOOK.ipynb",
                   help="an executed notebook, e.g. reports/2024-03-31/ZZ001/03_hia3_pay.ipynb")
    s.add_argument("-o", "--output", default=None, metavar="OUT.ipynb",
                   help="also write the re-executed notebook there (a new file)")

    s = sub.add_parser("audit", help="check published files for input identifiers and "
                                     "unsuppressed small counts (exit 1 on any finding)")
    s.add_argument("paths", nargs="+", metavar="PATH",
                   help="published files or folders, or one PARAMS.yaml (audits its "
                        "reports_dir and site_dir against its data)")
    s.add_argument("--data", default=None, metavar="DATA_DIR",
                   help="the input dataset whose identifiers must not appear "
                        "(required unless a PARAMS.yaml is given)")
    s.add_argument("--min-count", type=_positive_int, default=None,
                   help="suppression threshold for counts (default: params, else 8)")
    s.add_argument("--min-survey-responses", type=_positive_int, default=None,
                   help="suppression threshold for survey answers (default: params, else 11)")
    s.add_argument("--allow-lower-thresholds", action="store_true",
                   help="thresholds below the contract's (8, 11) were allowed: counts between "
                        "them are warnings, not findings")
    return p


def main(argv: list[str] | None = None) -> int:
    parser = _build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help
        return int(exc.code or 0)
    from edi_analysis import pipeline
    from edi_analysis.io import NonFiniteValueError, describe_os_error

    try:
        return pipeline.dispatch(args)
    except pipeline.UsageError as exc:
        print(f"edi-analysis {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except NonFiniteValueError as exc:
        print(f"edi-analysis {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:  # disk full, read-only or missing folder, permission denied
        print(f"edi-analysis {args.command}: error: {describe_os_error(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("edi-analysis: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
