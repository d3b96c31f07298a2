"""The params file of ``edi-analysis run|publish|build``: read, check, apply overrides.

A params file is YAML with the keys of CONTRACT.md §7::

    data: ../data/sample          # dataset folder (CSV or Parquet tables)
    trusts: all                   # or a list of ODS codes
    periods: [2023-03-31, 2024-03-31]
    notebooks: all                # or a list of names, e.g. [hia6, 00_overview]
    reports_dir: ../reports
    site_dir: ../_site
    min_count: 8
    min_survey_responses: 11
    seed: 20240331

and optional keys of ours (more below): ``notebooks_dir`` (the folder of notebook
templates; default: the project's ``notebooks/`` folder), ``trust_names``
(ODS code → the trust's name, shown beside its code wherever a trust is
shown) and ``board_paper`` (the board pack's cover sheet)::

    trust_names:
      RXX: Example Hospitals NHS Foundation Trust
    board_paper:                       # every key optional; defaults in BOARD_PAPER_DEFAULTS
      meeting: Board of Directors (public)
      meeting_date: 2024-05-30
      agenda_item: "9.2"
      executive_lead: Chief People Officer
      author: Head of Equality, Diversity and Inclusion
      purpose: assurance               # assurance | approval | discussion | information
      recommendation: note the indicators rated red and agree the asks on page 3
      baf_risk: "BAF risk 4: we do not attract, develop and keep a diverse workforce"
      previously_considered_by: People Committee, 16 May 2024
      trusts:                          # per trust, any of the keys above
        RXX: {executive_lead: Director of People and Culture}

``allow_lower_thresholds`` (default ``false``): ``min_count`` below 8 or
``min_survey_responses`` below 11, the contract's minimums (CONTRACT.md §4.8),
are refused unless it is ``true``; the manifests, every site page and every
board pack then say so, and the audit lists each count below the contract's
minimum as a warning. ``mapping`` and ``set``: the mapping profile a trust's
own exports are read through, and the values it asks for (docs/mapping.md).

``site_dir`` and ``reports_dir`` are checked against the other folders
(:func:`edi_analysis.folders.layout_problems`): neither may equal, contain or
lie inside the data, the notebooks folder or each other, nor equal or contain
the params file's folder, the project folder, the home folder or a system
folder such as ``/tmp``.

**Paths are relative to the folder holding the params file**, not to the
current directory, so a params file means the same thing wherever the
command is run from (``edi-analysis run params/sample.yaml`` from the
repository root and ``edi-analysis run sample.yaml`` from ``params/`` run the
same report). Absolute paths are kept as they are.
"""

from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from edi_analysis import stats

#: The project's own notebook templates (src layout: <root>/src/edi_analysis/params.py).
PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_NOTEBOOKS_DIR = PROJECT_ROOT / "notebooks"
DEFAULT_SEED = 20240331

_REQUIRED = ("data", "periods")
_ALLOWED = ("data", "trusts", "periods", "notebooks", "reports_dir", "site_dir", "min_count",
            "min_survey_responses", "seed", "notebooks_dir", "allow_lower_thresholds", "mapping",
            "set", "trust_names", "board_paper")
#: The data contract's suppression thresholds (CONTRACT.md §4.8): the lowest allowed without
#: ``allow_lower_thresholds: true``.
CONTRACT_MINIMUMS = {"min_count": stats.DEFAULT_MIN_COUNT,
                     "min_survey_responses": stats.DEFAULT_MIN_SURVEY_RESPONSES}

#: The cover sheet's fields and what each shows when the params file does not set it.
#: ``recommendation`` left empty is written from the report (red ratings, overdue actions).
BOARD_PAPER_DEFAULTS: dict[str, str] = {
    "meeting": "Board of Directors (public)",
    "meeting_date": "",
    "agenda_item": "",
    "executive_lead": "Chief People Officer",
    "author": "Equality, diversity and inclusion lead",
    "purpose": "assurance",
    "recommendation": "",
    "baf_risk": "",
    "previously_considered_by": "",
}
#: What a board paper can be for (NHS board papers' "purpose" box).
PURPOSES = ("assurance", "approval", "discussion", "information")
_OVERRIDES = ("trusts", "periods", "notebooks")
_ODS = re.compile(r"^[A-Z0-9]{3,5}$")
_NOTEBOOK_PREFIX = re.compile(r"^\d+_")


class ParamsError(ValueError):
    """A params file (or an override) that cannot be used; the message names the key."""


@dataclass(frozen=True)
class Params:
    """A checked params file: absolute paths, ISO periods, resolved notebook templates.

    ``trusts`` is ``None`` for ``all`` (every trust with a workforce snapshot,
    resolved against the data by the runner). ``notebooks`` holds template
    paths, in run order.
    """

    data: Path
    periods: tuple[str, ...]
    notebooks: tuple[Path, ...]
    trusts: tuple[str, ...] | None = None
    reports_dir: Path = Path("reports")
    site_dir: Path = Path("_site")
    min_count: int = stats.DEFAULT_MIN_COUNT
    min_survey_responses: int = stats.DEFAULT_MIN_SURVEY_RESPONSES
    seed: int = DEFAULT_SEED
    notebooks_dir: Path = DEFAULT_NOTEBOOKS_DIR
    #: ODS code → trust name (``trust_names``); a trust not listed is shown by its code
    trust_names: dict[str, str] = field(default_factory=dict)
    #: the cover sheet's values for every trust (``board_paper`` without ``trusts``)
    board_paper: dict[str, str] = field(default_factory=lambda: dict(BOARD_PAPER_DEFAULTS))
    #: per-trust cover sheet values (``board_paper.trusts``), over :attr:`board_paper`
    board_paper_trusts: dict[str, dict[str, str]] = field(default_factory=dict)
    params_file: Path | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    allow_lower_thresholds: bool = False
    #: mapping profile (a file, resolved against the params file's folder, or a shipped
    #: profile's name such as ``esr``) and the values it asks for (``set:``)
    mapping: str | None = None
    settings: tuple[tuple[str, str], ...] = ()

    @property
    def notebook_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.notebooks)

    @property
    def lower_thresholds(self) -> dict[str, int]:
        """The thresholds set below the contract's minimums: key → value (empty when none)."""
        return lower_thresholds(self.min_count, self.min_survey_responses)

    def trust_name(self, code: str) -> str:
        """The trust's name from ``trust_names``, else its ODS code."""
        return self.trust_names.get(code, code)

    def cover(self, code: str) -> dict[str, str]:
        """The cover sheet values for one trust: defaults, then ``board_paper``, then its own."""
        return {**BOARD_PAPER_DEFAULTS, **self.board_paper,
                **self.board_paper_trusts.get(code, {})}

    def as_record(self) -> dict[str, Any]:
        """JSON-ready view, as recorded in each manifest."""
        return {
            "params_file": str(self.params_file) if self.params_file else None,
            "data": str(self.data),
            "trusts": list(self.trusts) if self.trusts is not None else "all",
            "periods": list(self.periods),
            "notebooks": list(self.notebook_names),
            "notebooks_dir": str(self.notebooks_dir),
            "reports_dir": str(self.reports_dir),
            "site_dir": str(self.site_dir),
            "min_count": self.min_count,
            "min_survey_responses": self.min_survey_responses,
            "seed": self.seed,
            "allow_lower_thresholds": self.allow_lower_thresholds,
            **({"mapping": self.mapping, "set": dict(self.settings)} if self.mapping else {}),
        }


def lower_thresholds(min_count: int, min_survey_responses: int) -> dict[str, int]:
    """Thresholds below the contract's minimums (CONTRACT.md §4.8): key → value."""
    given = {"min_count": int(min_count), "min_survey_responses": int(min_survey_responses)}
    return {k: v for k, v in given.items() if v < CONTRACT_MINIMUMS[k]}


def lower_thresholds_notice(values: dict[str, int]) -> str:
    """The sentence every manifest, page and board pack shows when thresholds are lowered."""
    if not values:
        return ""
    parts = []
    if "min_count" in values:
        parts.append(f"counts are suppressed below {values['min_count']}, not below "
                     f"{CONTRACT_MINIMUMS['min_count']}")
    if "min_survey_responses" in values:
        parts.append(f"survey results are suppressed below {values['min_survey_responses']} "
                     f"answers, not below {CONTRACT_MINIMUMS['min_survey_responses']}")
    return ("Lower suppression thresholds than the data contract's: " + " and ".join(parts)
            + " (set by allow_lower_thresholds: true in the params). Smaller groups are shown "
            "than the NHS disclosure-control standard allows.")


def threshold_problems(min_count: int, min_survey_responses: int, allowed: bool,
                       how: str = "allow_lower_thresholds: true") -> list[str]:
    """Why thresholds below the contract's minimums cannot be used without ``allowed``."""
    if allowed:
        return []
    return [f"{key} {value} is below the data contract's minimum {CONTRACT_MINIMUMS[key]} "
            f"(CONTRACT.md §4.8); to publish smaller counts anyway set {how}"
            for key, value in lower_thresholds(min_count, min_survey_responses).items()]


def check_layout(params: "Params") -> list[str]:
    """Problems with where ``params`` would write (see the module docstring); empty when none.

    Also takes a params-like object with ``site_dir`` and ``reports_dir`` (and optionally
    ``data``, ``notebooks_dir``, ``params_file``)."""
    from edi_analysis import folders

    params_file = getattr(params, "params_file", None)
    guarded = []
    if params_file is not None:
        guarded.append(("the params file's folder", Path(params_file).parent))
    root = folders.project_root()
    if root is not None:
        guarded.append(("the project folder", root))
    return folders.layout_problems(
        {"site_dir": Path(params.site_dir), "reports_dir": Path(params.reports_dir)},
        {"data": getattr(params, "data", None), "notebooks_dir": getattr(params, "notebooks_dir",
                                                                         None)}, guarded)


def _bool(key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ParamsError(f"{key}: expected true or false, got {value!r}")
    return value


def _path(key: str, value: Any, base: Path) -> Path:
    if not isinstance(value, str) or not value.strip():
        raise ParamsError(f"{key}: expected a path, got {value!r}")
    p = Path(value).expanduser()
    return (p if p.is_absolute() else base / p).resolve()


def _int(key: str, value: Any, minimum: int | None = None) -> int:
    # bool is an int subclass in Python; `min_count: yes` is a mistake, not 1
    if isinstance(value, bool) or not isinstance(value, int):
        raise ParamsError(f"{key}: expected a whole number, got {value!r}")
    if minimum is not None and value < minimum:
        raise ParamsError(f"{key}: must be at least {minimum}, got {value}")
    return value


def _period(key: str, value: Any) -> str:
    # YAML reads an unquoted 2024-03-31 as a date; a quoted one as text
    if isinstance(value, _dt.datetime):
        value = value.date()
    if isinstance(value, _dt.date):
        return value.isoformat()
    if isinstance(value, str):
        try:
            if _dt.date.fromisoformat(value).isoformat() == value:
                return value
        except ValueError:
            pass
    raise ParamsError(f"{key}: {value!r} is not a date (expected YYYY-MM-DD)")


def _list(key: str, value: Any, allow_all: bool) -> list | None:
    if allow_all and value == "all":
        return None
    if isinstance(value, (str, int, _dt.date)):
        value = [value]
    if not isinstance(value, list) or not value:
        raise ParamsError(f"{key}: expected a non-empty list{' or all' if allow_all else ''}, "
                          f"got {value!r}")
    return value


def _trusts(value: Any) -> tuple[str, ...] | None:
    items = _list("trusts", value, allow_all=True)
    if items is None:
        return None
    out = []
    for t in items:
        if not isinstance(t, str) or not _ODS.match(t):
            raise ParamsError(f"trusts: {t!r} is not an ODS code (3 to 5 capital letters or digits)")
        if t not in out:
            out.append(t)
    return tuple(out)


def _trust_names(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ParamsError(f"trust_names: expected a mapping of ODS code to name, got {value!r}")
    out = {}
    for code, name in value.items():
        if not isinstance(code, str) or not _ODS.match(code):
            raise ParamsError(f"trust_names: {code!r} is not an ODS code "
                              "(3 to 5 capital letters or digits)")
        if not isinstance(name, str) or not name.strip():
            raise ParamsError(f"trust_names: {code}: expected the trust's name, got {name!r}")
        if "\n" in name.strip():
            raise ParamsError(f"trust_names: {code}: a name must be one line")
        out[code] = " ".join(name.split())
    return out


def _cover_values(where: str, value: Any) -> dict[str, str]:
    """The cover sheet keys of one mapping, checked (``where`` names it in messages)."""
    if not isinstance(value, dict):
        raise ParamsError(f"{where}: expected a mapping, got {value!r}")
    out = {}
    for key, v in value.items():
        if key not in BOARD_PAPER_DEFAULTS:
            raise ParamsError(f"{where}: unknown key {key!r} (allowed: "
                              f"{', '.join(BOARD_PAPER_DEFAULTS)})")
        if key == "meeting_date":
            out[key] = _period(f"{where}.meeting_date", v) if v not in (None, "") else ""
            continue
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            v = str(v)  # an agenda item written 9.2 without quotes
        if v is None:
            v = ""
        if not isinstance(v, str):
            raise ParamsError(f"{where}.{key}: expected text, got {v!r}")
        v = " ".join(v.split())
        if key == "purpose" and v.lower() not in PURPOSES:
            raise ParamsError(f"{where}.purpose: {v!r} is not one of {', '.join(PURPOSES)}")
        out[key] = v.lower() if key == "purpose" else v
    return out


def _board_paper(value: Any) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    if value is None:
        return dict(BOARD_PAPER_DEFAULTS), {}
    if not isinstance(value, dict):
        raise ParamsError(f"board_paper: expected a mapping, got {value!r}")
    value = dict(value)
    per_trust = value.pop("trusts", None) or {}
    common = {**BOARD_PAPER_DEFAULTS, **_cover_values("board_paper", value)}
    if not isinstance(per_trust, dict):
        raise ParamsError(f"board_paper.trusts: expected a mapping of ODS code to cover sheet "
                          f"values, got {per_trust!r}")
    trusts = {}
    for code, values in per_trust.items():
        if not isinstance(code, str) or not _ODS.match(code):
            raise ParamsError(f"board_paper.trusts: {code!r} is not an ODS code "
                              "(3 to 5 capital letters or digits)")
        trusts[code] = _cover_values(f"board_paper.trusts.{code}", values)
    return common, trusts


def _periods(value: Any) -> tuple[str, ...]:
    items = _list("periods", value, allow_all=False)
    return tuple(sorted({_period("periods", p) for p in items}))


def available_notebooks(notebooks_dir: Path) -> list[Path]:
    """Notebook templates in a folder, in name order (the ``NN_`` prefix sets the run order)."""
    return sorted(p for p in Path(notebooks_dir).glob("*.ipynb") if not p.name.startswith("."))


def _match(name: str, templates: list[Path]) -> Path:
    """Find a template by file name, stem, stem without its ``NN_`` prefix, or that name's first word.

    So ``06_hia6_bullying_disciplinary.ipynb``, ``06_hia6_bullying_disciplinary``,
    ``hia6_bullying_disciplinary`` and ``hia6`` all name the same notebook.
    """
    def keys(p: Path) -> set[str]:
        bare = _NOTEBOOK_PREFIX.sub("", p.stem)
        return {p.name, p.stem, bare, bare.split("_")[0]}

    hits = [p for p in templates if name in keys(p)]
    if len(hits) == 1:
        return hits[0]
    known = ", ".join(p.stem for p in templates) or "(none)"
    if not hits:
        raise ParamsError(f"notebooks: no notebook {name!r} (available: {known})")
    raise ParamsError(f"notebooks: {name!r} is ambiguous ({', '.join(p.stem for p in hits)})")


def _notebooks(value: Any, notebooks_dir: Path) -> tuple[Path, ...]:
    if not notebooks_dir.is_dir():
        raise ParamsError(f"notebooks_dir: {notebooks_dir}: no such folder")
    templates = available_notebooks(notebooks_dir)
    items = _list("notebooks", value, allow_all=True)
    if items is None:
        if not templates:
            raise ParamsError(f"notebooks_dir: no notebooks in {notebooks_dir}")
        return tuple(templates)
    chosen = []
    for item in items:
        if not isinstance(item, str):
            raise ParamsError(f"notebooks: expected notebook names, got {item!r}")
        p = _match(item, templates)
        if p not in chosen:
            chosen.append(p)
    return tuple(sorted(chosen, key=lambda p: p.name))


def parse_params(raw: Any, base: Path, overrides: dict | None = None,
                 params_file: Path | None = None) -> Params:
    """Check a params mapping (already read from YAML) and apply command-line overrides."""
    if not isinstance(raw, dict):
        raise ParamsError("the params file must be a mapping of keys to values")
    unknown = [k for k in raw if k not in _ALLOWED]
    if unknown:
        raise ParamsError(f"unknown key {unknown[0]!r} (allowed: {', '.join(_ALLOWED)})")
    missing = [k for k in _REQUIRED if k not in raw]
    if missing:
        raise ParamsError(f"missing key {missing[0]!r}")
    overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
    bad = [k for k in overrides if k not in _OVERRIDES]
    if bad:
        raise ParamsError(f"cannot override {bad[0]!r} (only {', '.join(_OVERRIDES)})")
    merged = {**raw, **overrides}

    notebooks_dir = (_path("notebooks_dir", merged["notebooks_dir"], base)
                     if "notebooks_dir" in merged else DEFAULT_NOTEBOOKS_DIR)
    cover, cover_trusts = _board_paper(merged.get("board_paper"))
    params = Params(
        data=_path("data", merged["data"], base),
        periods=_periods(merged["periods"]),
        notebooks=_notebooks(merged.get("notebooks", "all"), notebooks_dir),
        trusts=_trusts(merged.get("trusts", "all")),
        reports_dir=_path("reports_dir", merged.get("reports_dir", "reports"), base),
        site_dir=_path("site_dir", merged.get("site_dir", "_site"), base),
        min_count=_int("min_count", merged.get("min_count", stats.DEFAULT_MIN_COUNT), 1),
        min_survey_responses=_int("min_survey_responses",
                                  merged.get("min_survey_responses",
                                             stats.DEFAULT_MIN_SURVEY_RESPONSES), 1),
        seed=_int("seed", merged.get("seed", DEFAULT_SEED), 0),
        notebooks_dir=notebooks_dir,
        trust_names=_trust_names(merged.get("trust_names")),
        board_paper=cover,
        board_paper_trusts=cover_trusts,
        params_file=params_file,
        raw=dict(raw),
        allow_lower_thresholds=_bool("allow_lower_thresholds",
                                     merged.get("allow_lower_thresholds", False)),
        mapping=_mapping_key(merged.get("mapping"), base),
        settings=_settings(merged.get("set")),
    )
    problems = threshold_problems(params.min_count, params.min_survey_responses,
                                  params.allow_lower_thresholds)
    # the folder the relative paths were read from stands for the params file's folder
    problems += check_layout(replace(params, params_file=params_file or base / "params.yaml"))
    if problems:
        raise ParamsError("; ".join(problems))
    return params


def _mapping_key(value: Any, base: Path) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ParamsError(f"mapping: expected a profile file or name (e.g. esr), got {value!r}")
    if Path(value).suffix in (".yaml", ".yml"):
        return str(_path("mapping", value, base))
    return value


def _settings(value: Any) -> tuple[tuple[str, str], ...]:
    if value is None:
        return ()
    if not isinstance(value, dict):
        raise ParamsError(f"set: expected a mapping such as {{trust_code: RXX}}, got {value!r}")
    return tuple(sorted((str(k), str(v)) for k, v in value.items()))


def _loader():
    """YAML's safe loader without implicit timestamps: dates stay text and are checked here,
    so a bad date (``2024-02-30``) is reported against its key rather than as a YAML crash."""
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    Loader.yaml_implicit_resolvers = {
        ch: [(tag, rx) for tag, rx in rs if tag != "tag:yaml.org,2002:timestamp"]
        for ch, rs in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    return Loader


def load_params(path: Path, overrides: dict | None = None) -> Params:
    """Read and check a params file; ``overrides`` (``trusts``, ``periods``, ``notebooks``
    lists from the command line) replace the file's values.

    Raises :class:`ParamsError` naming the offending key (the CLI exits 2).
    """
    import yaml

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ParamsError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ParamsError(f"{path}: cannot read: {exc}") from None
    try:
        raw = yaml.load(text, Loader=_loader())  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise ParamsError(f"{path}: not valid YAML: {exc}") from None
    return parse_params(raw, path.resolve().parent, overrides, params_file=path.resolve())


def with_overrides(params: Params, **changes) -> Params:
    """A copy of ``params`` with fields replaced (for tests and programmatic runs)."""
    return replace(params, **changes)
