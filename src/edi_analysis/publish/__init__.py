"""Publish executed reports as a website and PDF board packs.

``publish(params)`` reads ``params.reports_dir`` (the output of
``edi-analysis run``) and writes ``params.site_dir``. Two routes, one content
model (:mod:`edi_analysis.publish.content`):

- ``quarto``: the Quarto CLI (a tested version, :mod:`edi_analysis.publish.quarto`)
  converts the executed notebooks, one small Quarto project per trust and
  period; the page shell, the other pages and the board packs are the
  built-in route's;
- ``fallback`` (``--engine builtin``): nbconvert and Jinja2 pages, board packs
  with the ``typst`` package from PyPI. Used when ``quarto`` is not on PATH.

Both build into a private temporary folder beside ``site_dir``
(``.<site>.build-…``, 0700, with its owner process recorded; a later publish
removes one whose owner is gone). The staged site and the reports it was built
from are then audited (:mod:`edi_analysis.audit`: identifiers, small counts,
absolute local paths, unreadable files), and the staged site replaces
``site_dir`` only when the audit is clean; otherwise, and on any error, the
previous site is left byte for byte as it was.

``site_dir`` is replaced only when it is empty or is a site this tool
published: its ``site-manifest.json`` is the tool's and every file in it is
one that manifest lists, unchanged. It may not equal, contain or lie inside
the data, the reports or the notebooks folder, nor equal or contain the params
file's folder, the project folder, the home folder or a system folder
(:func:`edi_analysis.params.check_layout`). A refusal exits 2 naming the
folder and why.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from edi_analysis import folders
from edi_analysis.publish import content

__all__ = ["publish", "PublishResult", "choose_engine", "content", "site_problems"]

SITE_MANIFEST = "site-manifest.json"


@dataclass(frozen=True)
class PublishResult:
    """Outcome of a publish: exit status, what was written and how long it took."""

    exit_code: int
    engine: str
    site_dir: Path
    pages: tuple[str, ...] = ()
    pdfs: tuple[str, ...] = ()
    seconds: float = 0.0
    messages: tuple[str, ...] = field(default=())
    audit: object | None = None  # the edi_analysis.audit.AuditReport of the staged site
    audit_seconds: float = 0.0  # of ``seconds``: the audit's share

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


#: ``--engine`` choices; ``fallback`` is the built-in route's earlier name.
ENGINES = ("auto", "quarto", "builtin", "fallback")


def choose_engine(engine: str = "auto") -> str:
    """``quarto`` when asked for or (``auto``) when the Quarto CLI is on PATH, else ``fallback``
    (the built-in route; ``builtin`` and ``fallback`` name it)."""
    if engine not in ENGINES:
        raise ValueError(f"unknown publishing engine {engine!r} (auto, quarto or builtin)")
    if engine == "auto":
        return "quarto" if shutil.which("quarto") else "fallback"
    return "fallback" if engine == "builtin" else engine


def read_site_manifest(site_dir: Path) -> dict | None:
    """The site's own ``site-manifest.json`` when it is the tool's, else None.

    The tool's: a JSON object with ``generator: edi-analysis`` (or, written by
    earlier versions, ``built_at``, an ``engine`` of the tool's and ``files``),
    whose ``files`` map relative paths to SHA-256 hashes.
    """
    try:
        m = json.loads((site_dir / SITE_MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(m, dict) or not isinstance(m.get("files"), dict):
        return None
    legacy = "built_at" in m and m.get("engine") in ("fallback", "quarto")
    if m.get("generator") != folders.GENERATOR and not legacy:
        return None
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in m["files"].items()):
        return None
    return m


def site_problems(site_dir: Path) -> list[str]:
    """Why ``site_dir`` may not be replaced by a new site (empty when it may)."""
    site_dir = Path(site_dir)
    if not site_dir.exists() and not site_dir.is_symlink():
        return []
    if site_dir.is_symlink() or not site_dir.is_dir():
        return [f"site_dir {site_dir} is not a folder; publishing replaces site_dir with the "
                "site, so choose a folder of its own"]
    if folders.is_empty_folder(site_dir):
        return []
    manifest = read_site_manifest(site_dir)
    if manifest is None:
        return [f"site_dir {site_dir} is not empty and holds no {SITE_MANIFEST} written by "
                "edi-analysis, so it is not a site this tool published and is not replaced; "
                "choose a new or empty folder for site_dir"]
    foreign = folders.foreign_entries(site_dir, manifest["files"], marker=SITE_MANIFEST)
    if foreign:
        return [f"site_dir {site_dir} holds what the last publish did not write: "
                + ", ".join(foreign) + "; move those files elsewhere, or choose another "
                "site_dir"]
    return []


def _layout_problems(params) -> list[str]:
    """Where ``params`` would publish, checked as the params file is (for params objects made in
    code, which have not been through :func:`edi_analysis.params.parse_params`)."""
    from edi_analysis.params import check_layout

    return check_layout(params)


def _swap_into_place(built: Path, target: Path, trash: Path) -> None:
    """Replace ``target`` by ``built`` with renames on one file system (never half a site); the
    old site goes into ``trash`` (the private build folder, removed afterwards or, after a kill,
    by the next publish)."""
    old = None
    if target.exists():
        old = trash / "previous-site"
        target.rename(old)
    try:
        built.rename(target)
    except BaseException:
        if old is not None and not target.exists():
            old.rename(target)
        raise


def write_site_manifest(out: Path, built_at: str, engine: str, extra: dict | None = None) -> Path:
    """``site-manifest.json``: the tool's marker, every file's sha256, the engine, the build's one
    timestamp, and ``lower_thresholds`` when the reports used thresholds below the contract's."""
    from edi_analysis.publish.fallback import write_manifest

    return write_manifest(out, built_at, engine, extra={"generator": folders.GENERATOR,
                                                        **(extra or {})})


def _say(msg: str) -> None:
    print(msg, file=sys.stderr)


def _audit_staged(params, site, out: Path, say) -> object:
    """The disclosure audit of the staged site ``out`` and of the report files it was built from
    (their notebooks and metrics.csv), against the params' data and thresholds."""
    from edi_analysis import audit

    sources = []
    for r in site.reports:
        sources += [r.source_dir / nb.filename for nb in r.notebooks]
        if r.has_metrics_csv:
            sources.append(r.source_dir / "metrics.csv")
    report = audit.audit(
        [out, *sources], Path(params.data), params.min_count, params.min_survey_responses,
        allow_lower_thresholds=bool(getattr(params, "allow_lower_thresholds", False)),
        mapping=getattr(params, "mapping", None),
        settings=dict(getattr(params, "settings", ())) or None)
    # name the staged files by where they would be published; a local path in a report is not
    # published (the site's copy of a notebook has its paths removed: content.published_notebook),
    # so local paths count in the staged site only
    site_dir = str(Path(params.site_dir))
    staged = str(out) + os.sep
    report.findings = [dataclasses.replace(f, file=site_dir + os.sep + f.file[len(staged):])
                       if f.file.startswith(staged) else f for f in report.findings
                       if f.file.startswith(staged) or f.what != "local path"]
    return report


def publish(params, engine: str = "auto", *, quiet: bool = False,
            jobs: int | None = None, audit: bool = True) -> PublishResult:
    """Build the site and board packs for ``params`` (an ``edi_analysis.params.Params``).

    ``jobs``: worker processes for the built-in route's reports, and the number of
    reports' Quarto projects rendered at once (default: the number of cores). ``audit``: run the
    disclosure audit on the staged site before it replaces ``site_dir``
    (always, from the command line; off only for tests of the build itself).

    Exit status 2 when ``site_dir`` may not be replaced (see the module
    docstring), 1 when there is nothing to publish, a page, board pack or file
    cannot be written, or the audit finds anything; the previous site is then
    left as it was.
    """
    say = (lambda m: None) if quiet else _say
    chosen = choose_engine(engine)
    site_dir = Path(params.site_dir)
    refused = _layout_problems(params) + site_problems(site_dir)
    if refused:
        for msg in refused:
            say(f"publish: error: {msg}")
        return PublishResult(2, chosen, site_dir, messages=tuple(refused))
    if chosen == "quarto":  # before anything is built: Quarto on PATH and of a tested version
        from edi_analysis.publish import quarto

        where = getattr(params, "params_file", None)
        try:
            if not shutil.which("quarto"):
                raise quarto.QuartoError(
                    "--engine quarto but `quarto` is not on PATH; install Quarto "
                    f"{quarto.SUPPORTED_VERSIONS[-1]} (docs/publishing.md) or publish with the "
                    f"built-in route: {quarto.builtin_command(where)}")
            quarto.check_version(quarto.quarto_version(shutil.which("quarto")), where)
        except quarto.QuartoError as exc:
            say(f"publish: error: {exc}")
            return PublishResult(1, chosen, site_dir, messages=(str(exc),))
    t0 = time.perf_counter()
    site = content.load_site(params)
    if not site.reports:
        msg = (f"no executed reports under {params.reports_dir} for the periods and trusts in "
               "the params; run `edi-analysis run` first")
        say(f"publish: error: {msg}")
        return PublishResult(1, chosen, site_dir, messages=(msg,))
    lowered = [r for r in site.reports if content.lower_thresholds_of(r)]
    if lowered and not getattr(params, "allow_lower_thresholds", False):
        msg = (f"the reports of {', '.join(f'{r.trust_code} {r.period}' for r in lowered[:5])} "
               "were run with thresholds below the data contract's (min_count 8, "
               "min_survey_responses 11); set allow_lower_thresholds: true in the params to "
               "publish them, or run them again")
        say(f"publish: error: {msg}")
        return PublishResult(2, chosen, site_dir, messages=(msg,))
    mixed = content.threshold_groups(site.reports)
    if len(mixed) > 1:
        msg = content.mixed_thresholds_message(mixed)
        say(f"publish: error: {msg}")
        return PublishResult(2, chosen, site_dir, messages=(msg,))
    from edi_analysis.io import make_folders, remove_created_folders

    work, created = None, []
    try:
        created = make_folders(site_dir.parent)  # removed again if nothing is published
        prefix = f".{site_dir.name}.build-"
        for old in folders.remove_stale(site_dir.parent, prefix):
            say(f"removed {old}: the build folder of an interrupted publish (its process is gone)")
        work = folders.private_folder(site_dir.parent, prefix)
        out = work / "site"
        out.mkdir()
        if chosen == "quarto":
            from edi_analysis.publish import quarto

            built = quarto.build(site, out, scratch=work / "scratch", params=params, say=say,
                                 jobs=jobs or os.cpu_count() or 1)
        else:
            from edi_analysis.publish import fallback

            built = fallback.build(site, out, scratch=work / "scratch",
                                   jobs=jobs or os.cpu_count() or 1)
        for r in site.reports:  # beside the reviewer pages: how each report was made
            content.write_published_manifest(r.source_dir, out / r.path / "reviewer")
        stamp = _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()
        extra = {"lower_thresholds": site.threshold_notice} if site.threshold_notice else {}
        write_site_manifest(out, stamp, chosen, extra)
        report, audit_seconds = None, 0.0
        if audit:
            from edi_analysis import audit as _audit

            t_audit = time.perf_counter()
            report = _audit_staged(params, site, out, say)
            audit_seconds = time.perf_counter() - t_audit
            if not quiet:
                _audit.print_report(report, sys.stderr)
            if not report.ok:
                msg = (f"the disclosure audit found {len(report.findings)} problem"
                       f"{'s' * (len(report.findings) != 1)} in the new site or its reports; "
                       f"nothing was published and {site_dir} is unchanged")
                say(f"publish: error: {msg}")
                return PublishResult(1, chosen, site_dir, seconds=time.perf_counter() - t0,
                                     messages=(msg,), audit=report, audit_seconds=audit_seconds)
        refused = site_problems(site_dir)  # again: it may have changed during the build
        if refused:
            for msg in refused:
                say(f"publish: error: {msg}")
            return PublishResult(2, chosen, site_dir, messages=tuple(refused), audit=report)
        _swap_into_place(out, site_dir, work)
    except OSError as exc:  # disk full, read-only folder, permission denied: path and cause
        from edi_analysis.io import describe_os_error

        msg = describe_os_error(exc, work or site_dir.parent)
        say(f"publish: error: {msg}")
        return PublishResult(1, chosen, site_dir, seconds=time.perf_counter() - t0,
                             messages=(msg,))
    except Exception as exc:  # report which step failed; the old site stays in place
        from edi_analysis.audit import AuditError

        if isinstance(exc, AuditError):
            say(f"publish: error: the disclosure audit could not run: {exc}")
            return PublishResult(1, chosen, site_dir, seconds=time.perf_counter() - t0,
                                 messages=(f"AuditError: {exc}",))
        from edi_analysis.publish.quarto import QuartoError

        text = str(exc) if isinstance(exc, QuartoError) else f"{type(exc).__name__}: {exc}"
        say(f"publish: error: {text}")
        return PublishResult(1, chosen, site_dir, seconds=time.perf_counter() - t0,
                             messages=(text,))
    finally:
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)
        if not site_dir.exists():
            remove_created_folders(created)
    seconds = time.perf_counter() - t0
    say(f"published {len(site.reports)} reports ({len(built.pages)} pages, {len(built.pdfs)} "
        f"board packs) with {chosen} in {seconds:.1f} s -> {site_dir}")
    return PublishResult(0, chosen, site_dir, built.pages, built.pdfs, seconds, audit=report,
                         audit_seconds=audit_seconds)
