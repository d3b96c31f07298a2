"""Shared by tests/test_publish*.py and tests/test_accessibility.py: the sample site, built once.

The sample reports come from the notebooks' own session fixture when
tests/conftest.py provides one; otherwise ``edi-analysis run`` on
params/sample.yaml is run here, once per test process, into build/.
The site is then published with the built-in route (the route CI has).
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import socketserver
import subprocess
import threading
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# one folder per pytest-xdist worker: two workers building the sample at once would otherwise
# remove each other's reports
BUILD = ROOT / "build" / ("test-publish" + (f"-{os.environ['PYTEST_XDIST_WORKER']}"
                                            if os.environ.get("PYTEST_XDIST_WORKER") else ""))
ARTEFACTS = ROOT / "build" / "test-artefacts"
SAMPLE_PARAMS = ROOT / "params" / "sample.yaml"
AXE_VERSION = "4.11.4"
AXE_CACHE = Path(os.environ.get("EDI_AXE_DIR", Path.home() / ".cache" / "edi-analysis" / "axe"))


def sample_params(reports_dir: Path, site_dir: Path):
    from edi_analysis.params import load_params

    return replace(load_params(SAMPLE_PARAMS), reports_dir=reports_dir, site_dir=site_dir)


@functools.cache
def sample_reports() -> Path:
    """Executed sample reports: ``EDI_SAMPLE_REPORTS`` if set, else one run of the sample."""
    given = os.environ.get("EDI_SAMPLE_REPORTS")
    if given:
        return Path(given)
    from edi_analysis import runner

    reports = BUILD / "reports"
    shutil.rmtree(reports, ignore_errors=True)
    params = sample_params(reports, BUILD / "site")
    result = runner.run(params, progress=False)
    assert result.exit_code == 0, "the sample run failed; see its summary above"
    return reports


def _published_sample(site: str, engine: str):
    """(params, PublishResult) of the sample reports published into ``BUILD / site``."""
    from edi_analysis.publish import publish

    params = sample_params(sample_reports(), BUILD / site)
    result = publish(params, engine=engine)
    assert result.exit_code == 0, result.messages
    return params, result


@functools.cache
def sample_site():
    """(params, PublishResult) of the sample site built with the built-in route."""
    return _published_sample("site", "fallback")


def axe_js() -> Path:
    """axe-core's axe.min.js, installed from the npm registry into a cache folder if missing."""
    target = AXE_CACHE / "node_modules" / "axe-core" / "axe.min.js"
    if not target.is_file():
        npm = shutil.which("npm")
        if npm is None:
            raise FileNotFoundError("axe-core is not installed and npm is not on PATH")
        AXE_CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run([npm, "install", "--prefix", str(AXE_CACHE), "--no-audit", "--no-fund",
                        f"axe-core@{AXE_VERSION}"], check=True, capture_output=True)
    return target


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # keep test output readable
        pass


class SiteServer:
    """Serve a folder on 127.0.0.1 on a free port (loopback only), in a background thread."""

    def __init__(self, folder: Path) -> None:
        handler = functools.partial(_QuietHandler, directory=str(folder))
        self._httpd = socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}/"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def __enter__(self) -> "SiteServer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def chromium_driver(user_data_dir: Path):
    """Selenium driving Debian's headless chromium with Debian's chromedriver (no downloads)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which("chromium")
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--window-size=1280,900", "--force-device-scale-factor=1",
                f"--user-data-dir={user_data_dir}"):
        opts.add_argument(arg)
    return webdriver.Chrome(options=opts, service=Service(executable_path=shutil.which("chromedriver")))


@functools.cache
def quarto_sample_site():
    """(params, PublishResult) of the sample site built with Quarto (``quarto`` on PATH)."""
    return _published_sample("site-quarto", "quarto")


def link_problems(site_dir: Path) -> list[str]:
    """Every local link of the site's pages that leads nowhere: a missing file, or an anchor
    (``page.html#id``, ``#id``) that is no element's ``id`` in the page it names."""
    import re
    from html.parser import HTMLParser
    from urllib.parse import unquote

    class Page(HTMLParser):
        def __init__(self):
            super().__init__()
            self.ids, self.links = set(), []

        def handle_starttag(self, tag, attrs):
            a = dict(attrs)
            if a.get("id"):
                self.ids.add(a["id"])
            if tag == "a" and a.get("name"):
                self.ids.add(a["name"])
            for key in ("href", "src"):
                if tag in ("a", "link", "img", "script") and a.get(key):
                    self.links.append(a[key])

    parsed: dict[Path, Page] = {}

    def page(path: Path) -> Page:
        if path not in parsed:
            p = Page()
            p.feed(path.read_text("utf-8"))
            parsed[path] = p
        return parsed[path]

    problems = []
    for path in sorted(site_dir.rglob("*.html")):
        rel = path.relative_to(site_dir).as_posix()
        for link in page(path).links:
            if re.match(r"^[a-zA-Z][a-zA-Z+.-]*:", link):  # https:, mailto:, data:
                continue
            target, _, frag = link.partition("#")
            dest = (path.parent / unquote(target)).resolve() if target else path
            if not dest.is_file():
                problems.append(f"{rel}: {link} (no such file)")
            elif frag and dest.suffix == ".html" and unquote(frag) not in page(dest).ids:
                problems.append(f"{rel}: {link} (no element with id {unquote(frag)!r})")
    return problems


def site_notebooks(site_dir: Path):
    """``(report folder, file name, notebook)`` for each downloadable notebook of the site: the
    members of each report's ``notebooks.zip``, in order."""
    import zipfile

    import nbformat

    for archive in sorted(Path(site_dir).rglob("notebooks.zip")):
        with zipfile.ZipFile(archive) as zf:
            for name in zf.namelist():
                if name.endswith(".ipynb"):
                    yield archive.parent, name, nbformat.reads(zf.read(name).decode("utf-8"),
                                                               as_version=4)
