"""``edi-analysis import``: a trust's own exports, through a mapping profile, written out as
contract-shaped tables an analyst can open and check (docs/mapping.md).

The source folder is validated through the profile first (every problem at once,
``file:line: column: message`` naming the source files); nothing is written when
there is an error. The tables go to a new folder beside the target, which is moved
into place only when complete, so an interrupted import leaves nothing that looks
finished. The target must not exist, be empty, or be a folder this command wrote
before (it holds ``import-manifest.json``); it may not be, hold or sit inside the
source folder.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

MANIFEST = "import-manifest.json"


class ImportRefused(ValueError):
    """The target folder cannot be written (exit status 2); the message says why."""


@dataclass
class ImportResult:
    report: object                # the ValidationReport of the source folder
    written: list[Path]


def contract_csv(frame: pd.DataFrame, kinds: dict[str, str]) -> bytes:
    """A typed table as contract CSV text: ISO dates, Y/N, shortest round-trip numbers."""
    out = {}
    for col in frame.columns:
        s = frame[col]
        k = kinds.get(col, "text")
        if k == "date":
            out[col] = s.dt.strftime("%Y-%m-%d").fillna("")
        elif k == "boolean":
            out[col] = s.map({True: "Y", False: "N"}).astype(object).where(s.notna(), "")
        elif k == "integer":
            out[col] = s.astype("Int64").astype(str).replace("<NA>", "")
        elif k == "number":
            out[col] = s.map(lambda v: "" if pd.isna(v) else repr(float(v)))
        else:
            out[col] = s.fillna("").astype(str)
    return pd.DataFrame(out).to_csv(index=False, lineterminator="\n").encode("utf-8")


def _check_target(src: Path, out: Path) -> None:
    src_r, out_r = src.resolve(), out.resolve()
    if out_r == src_r or src_r in out_r.parents or out_r in src_r.parents:
        raise ImportRefused(f"{out}: the output folder may not be, hold or sit inside the source "
                            f"folder {src} (the inputs must stay as they are)")
    if out.exists():
        if not out.is_dir():
            raise ImportRefused(f"{out}: exists and is not a folder")
        entries = list(out.iterdir())
        if entries and not (out / MANIFEST).is_file():
            raise ImportRefused(f"{out}: the folder is not empty and was not written by "
                                "edi-analysis import; give a new or empty folder")


def run_import(src_dir: str | os.PathLike, out_dir: str | os.PathLike, mapping,
               settings: dict[str, str] | None = None) -> ImportResult:
    """Validate ``src_dir`` through ``mapping`` and write its tables to ``out_dir`` as CSV.

    Returns the validation report and the files written (none when invalid).
    Raises :class:`ImportRefused` for a target it may not write and
    :class:`~edi_analysis.contract.mapping.MappingError` for an unusable profile.
    """
    from edi_analysis.contract import TABLES, validate_dataset
    from edi_analysis.contract.columns import kind
    from edi_analysis.contract.mapping import resolve
    from edi_analysis.io import _umask as umask

    src, out = Path(src_dir), Path(out_dir)
    if not src.is_dir():
        raise ImportRefused(f"{src}: no such folder")
    _check_target(src, out)
    profile = resolve(mapping, src)
    if profile is None:
        raise ImportRefused("no mapping profile: give --mapping FILE or NAME (e.g. esr)")
    report = validate_dataset(src, mapping=profile, settings=settings)
    if not report.ok:
        return ImportResult(report, [])
    ds = report.dataset
    out.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{out.name}.import-", dir=out.parent))
    written = []
    try:
        for spec in TABLES:
            if spec.name not in ds.files:  # an optional table not supplied
                continue
            kinds = {c: kind(col) for c, col in spec.schema.columns.items()}
            path = stage / f"{spec.name}.csv"
            path.write_bytes(contract_csv(ds.tables[spec.name], kinds))
            written.append(out / path.name)
        manifest = {
            "written_by": "edi-analysis import",
            "at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "source": str(src.resolve()),
            "profile": {"name": profile.name, "file": str(profile.path)},
            "set": dict(settings or {}),
            "inputs": dict(sorted(ds.sha256.items())),
        }
        (stage / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        os.chmod(stage, 0o777 & ~umask())
        if out.exists():  # empty, or an earlier import: swap, then drop the old one
            old = out.with_name(f".{out.name}.old-{os.getpid()}")
            os.replace(out, old)
            os.replace(stage, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(stage, out)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    return ImportResult(report, written)

