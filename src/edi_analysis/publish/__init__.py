"""Publish executed reports as a website and PDF board packs.

``publish(params)`` reads ``params.reports_dir`` (the output of
``edi-analysis run``) and writes ``params.site_dir``. Two routes, one content
model (:mod:`edi_analysis.publish.content`):

- ``quarto``: the project's ``_quarto.yml`` website, rendered by the Quarto CLI
  (board packs with Quarto's ``typst`` format and ``{{< embed >}}``);
- ``fallback``: nbconvert and Jinja2 pages, board packs with the ``typst``
  package from PyPI. Used when ``quarto`` is not on PATH.

Both build into a temporary folder beside ``site_dir`` and swap it into place
only when complete, so an interrupted publish never leaves a half-built site.
"""

from __future__ import annotations

import datetime as _dt
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from edi_analysis.publish import content

__all__ = ["publish", "PublishResult", "choose_engine", "content"]


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

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


def choose_engine(engine: str = "auto") -> str:
    """``quarto`` when asked for or (``auto``) when the Quarto CLI is on PATH, else ``fallback``."""
    if engine not in ("auto", "quarto", "fallback"):
        raise ValueError(f"unknown publishing engine {engine!r} (auto, quarto or fallback)")
    if engine == "auto":
        return "quarto" if shutil.which("quarto") else "fallback"
    return engine


def _swap_into_place(built: Path, target: Path) -> None:
    """Replace ``target`` by ``built`` with renames on one file system (never half a site)."""
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        target.rename(old)
    built.rename(target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _say(msg: str) -> None:
    print(msg, file=sys.stderr)


def publish(params, engine: str = "auto", *, quiet: bool = False,
            jobs: int | None = None) -> PublishResult:
    """Build the site and board packs for ``params`` (an ``edi_analysis.params.Params``).

    ``jobs``: worker processes for the built-in route's reports (default: the
    number of cores; Quarto schedules its own rendering).

    Exit status 1 when there is nothing to publish (no executed reports) or a
    page or board pack fails to build; the previous site is then left as it was.
    """
    say = (lambda m: None) if quiet else _say
    chosen = choose_engine(engine)
    site_dir = Path(params.site_dir)
    if chosen == "quarto" and not shutil.which("quarto"):
        say("publish: error: --engine quarto but `quarto` is not on PATH")
        return PublishResult(1, chosen, site_dir, messages=("quarto not on PATH",))
    t0 = time.perf_counter()
    site = content.load_site(params)
    if not site.reports:
        msg = (f"no executed reports under {params.reports_dir} for the periods and trusts in "
               "the params; run `edi-analysis run` first")
        say(f"publish: error: {msg}")
        return PublishResult(1, chosen, site_dir, messages=(msg,))
    site_dir.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{site_dir.name}.build-", dir=site_dir.parent))
    try:
        out = work / "site"
        out.mkdir()
        if chosen == "quarto":
            from edi_analysis.publish import quarto

            built = quarto.build(site, out, scratch=work / "scratch", params=params, say=say)
        else:
            from edi_analysis.publish import fallback

            built = fallback.build(site, out, scratch=work / "scratch",
                                   jobs=jobs or os.cpu_count() or 1)
        from edi_analysis.publish.fallback import write_manifest

        stamp = _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()
        write_manifest(out, stamp, chosen)
        _swap_into_place(out, site_dir)
    except Exception as exc:  # report which step failed; the old site stays in place
        say(f"publish: error: {type(exc).__name__}: {exc}")
        return PublishResult(1, chosen, site_dir, seconds=time.perf_counter() - t0,
                             messages=(f"{type(exc).__name__}: {exc}",))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    seconds = time.perf_counter() - t0
    say(f"published {len(site.reports)} reports ({len(built.pages)} pages, {len(built.pdfs)} "
        f"board packs) with {chosen} in {seconds:.1f} s -> {site_dir}")
    return PublishResult(0, chosen, site_dir, built.pages, built.pdfs, seconds)
