"""WCAG 2.2 AA checks of the built site in headless Chromium with axe-core.

The sample site (built-in route) is served on 127.0.0.1 and every page type is
opened in Debian's chromium: the landing page, a trust's summary, a board view,
a reviewer view, the methodology and the accessibility statement. axe-core runs
the WCAG 2.0/2.1/2.2 A and AA rules plus best practices; any *serious* or
*critical* finding fails. Every image must carry real alternative text. Full
page screenshots and the axe results are kept in build/test-artefacts/accessibility/.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from publish_support import ARTEFACTS, SiteServer, axe_js, chromium_driver, sample_site

pytestmark = [pytest.mark.slow, pytest.mark.browser]

if shutil.which("chromium") is None or shutil.which("chromedriver") is None:
    pytest.skip("Debian chromium and chromium-driver are not installed "
                "(apt-get install -y chromium chromium-driver)", allow_module_level=True)

OUT = ARTEFACTS / "accessibility"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]
FAILING_IMPACTS = {"serious", "critical"}
CONTROL_PAGE = ("<!DOCTYPE html><html><head><title>control</title></head><body><main>"
                "<img src='chart.png'><a href='#'></a></main></body></html>")
_FILENAME = re.compile(r"\.(png|jpe?g|gif|svg|webp)$|^(image|chart|figure|graph|img)\s*\d*$", re.I)


def page_types(site_dir: Path) -> dict[str, str]:
    """One page of each type (relative URL), choosing the notebook with the most charts."""
    reports = sorted(site_dir.glob("reports/*/*/index.html"))
    assert reports, "no trust pages in the built site"
    rdir = reports[-1].parent
    boards = sorted(p for p in rdir.glob("*.html") if p.name != "index.html")
    busiest = max(boards, key=lambda p: p.read_text("utf-8").count("<img"))
    rel = lambda p: p.relative_to(site_dir).as_posix()  # noqa: E731
    return {
        "landing": "index.html",
        "trust-summary": rel(rdir / "index.html"),
        "board-view": rel(busiest),
        "reviewer-view": rel(rdir / "reviewer" / busiest.name),
        "methodology": "methodology.html",
        "accessibility-statement": "accessibility.html",
    }


@pytest.fixture(scope="module")
def browser_results(tmp_path_factory):
    """Open each page type, run axe, collect images' alt text, take a full-page screenshot."""
    params, _ = sample_site()
    site_dir = Path(params.site_dir)
    axe = axe_js().read_text("utf-8")
    OUT.mkdir(parents=True, exist_ok=True)
    results = {}
    driver = chromium_driver(tmp_path_factory.mktemp("chromium-profile"))
    try:
        driver.set_script_timeout(120)
        with SiteServer(site_dir) as server:
            pages = dict(page_types(site_dir))
            # a control page with known faults, so a silent harness cannot pass
            (site_dir / "_axe-control.html").write_text(CONTROL_PAGE, "utf-8")
            pages["control"] = "_axe-control.html"
            for name, rel in pages.items():
                driver.get(server.url + rel)
                driver.execute_script(axe)
                axe_result = driver.execute_async_script(
                    "const done = arguments[arguments.length - 1];"
                    "axe.run(document, {runOnly: {type: 'tag', values: arguments[0]},"
                    " resultTypes: ['violations']}).then(done, e => done({error: String(e)}));",
                    AXE_TAGS)
                images = driver.execute_script(
                    "return Array.from(document.images).map(i => ({src: i.getAttribute('src')"
                    ".slice(0, 60), alt: i.getAttribute('alt'), shown: i.naturalWidth > 0}));")
                lang = driver.execute_script("return document.documentElement.lang;")
                metrics = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})
                size = metrics["cssContentSize"]
                shot = driver.execute_cdp_cmd("Page.captureScreenshot", {
                    "format": "png", "captureBeyondViewport": True,
                    "clip": {"x": 0, "y": 0, "width": size["width"],
                             "height": min(size["height"], 12000), "scale": 1}})
                import base64

                (OUT / f"{name}.png").write_bytes(base64.b64decode(shot["data"]))
                results[name] = {"url": rel, "axe": axe_result, "images": images, "lang": lang}
    finally:
        driver.quit()
        (site_dir / "_axe-control.html").unlink(missing_ok=True)
    summary = {name: {"url": r["url"],
                      "violations": [{"id": v["id"], "impact": v["impact"], "nodes": len(v["nodes"]),
                                      "help": v["help"]} for v in r["axe"].get("violations", [])],
                      "images": len(r["images"])}
               for name, r in results.items()}
    (OUT / "axe-results.json").write_text(json.dumps(summary, indent=1) + "\n", "utf-8")
    return results


@pytest.mark.parametrize("page", ["landing", "trust-summary", "board-view", "reviewer-view",
                                  "methodology", "accessibility-statement"])
def test_no_serious_or_critical_axe_findings(browser_results, page):
    result = browser_results[page]
    assert "error" not in result["axe"], result["axe"]
    bad = [f"{v['id']} ({v['impact']}): {v['help']} — e.g. {v['nodes'][0]['target']}"
           for v in result["axe"]["violations"] if v["impact"] in FAILING_IMPACTS]
    assert not bad, f"{result['url']}:\n" + "\n".join(bad)


@pytest.mark.parametrize("page", ["landing", "trust-summary", "board-view", "reviewer-view",
                                  "methodology", "accessibility-statement"])
def test_page_language_is_en_gb(browser_results, page):
    assert browser_results[page]["lang"] == "en-GB"


def test_every_chart_has_real_alt_text_in_the_browser(browser_results):
    images = [(name, img) for name, r in browser_results.items() if name != "control"
              for img in r["images"]]
    charts = [(n, i) for n, i in images if n in ("trust-summary", "board-view", "reviewer-view")]
    assert charts, "the pages with charts showed no images"
    for name, img in images:
        assert img["shown"], f"{name}: image did not load: {img['src']}"
        alt = (img["alt"] or "").strip()
        assert len(alt) >= 20 and not _FILENAME.search(alt), f"{name}: weak alt text {alt!r}"


def test_every_image_on_every_page_has_real_alt_text():
    """Static check of the whole site (the browser opens one page of each type)."""
    from bs4 import BeautifulSoup

    params, result = sample_site()
    n = 0
    for rel in result.pages:
        soup = BeautifulSoup((Path(params.site_dir) / rel).read_text("utf-8"), "html.parser")
        for img in soup.find_all("img"):
            alt = (img.get("alt") or "").strip()
            assert len(alt) >= 20 and not _FILENAME.search(alt), f"{rel}: weak alt text {alt!r}"
            n += 1
    assert n > 0


def test_the_harness_reports_faults_on_a_faulty_page(browser_results):
    found = {v["id"]: v["impact"] for v in browser_results["control"]["axe"]["violations"]}
    assert found.get("image-alt") == "critical" and "html-has-lang" in found


def test_screenshots_kept(browser_results):
    for name in browser_results:
        shot = OUT / f"{name}.png"
        assert shot.is_file() and shot.stat().st_size > 5000, shot


# --- reflow: no horizontal scrolling of text at 320 CSS px (WCAG 2.2 SC 1.4.10) -------------------

REFLOW_PAGES = ["landing", "trust-summary", "board-view", "reviewer-view", "methodology",
                "accessibility-statement"]


@pytest.fixture(scope="module")
def reflow_results(tmp_path_factory):
    """Each page type at 390 and 320 CSS px (a phone, and 1280 px at 400% zoom): the page's
    width, any element wider than the window outside a scrolling region, and whether the
    summary (or the notebook) comes before the list of the report's pages."""
    params, _ = sample_site()
    site_dir = Path(params.site_dir)
    driver = chromium_driver(tmp_path_factory.mktemp("chromium-reflow"))
    out = {}
    try:
        with SiteServer(site_dir) as server:
            pages = page_types(site_dir)
            for width in (390, 320):
                driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
                    "width": width, "height": 800, "deviceScaleFactor": 1, "mobile": True})
                for name in REFLOW_PAGES:
                    driver.get(server.url + pages[name])
                    out[(name, width)] = driver.execute_script("""
                        const w = window.innerWidth, wide = [];
                        for (const el of document.querySelectorAll('main *, header *, nav *')) {
                          if (el.closest('.table-scroll, .highlight, .input_area')) continue;
                          const r = el.getBoundingClientRect();
                          if (r.width > 0 && r.right > w + 1) wide.push(el.tagName + '.' +
                            el.className + ' ' + Math.round(r.right));
                        }
                        const first = document.querySelector('#summary, .notebook');
                        const nav = document.querySelector('.report-nav');
                        return {scrollWidth: document.documentElement.scrollWidth, width: w,
                                wide: wide.slice(0, 5),
                                summaryFirst: first && nav ? first.getBoundingClientRect().top
                                  < nav.getBoundingClientRect().top : null};""")
                    if width == 390:
                        shot = driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png"})
                        import base64

                        OUT.mkdir(parents=True, exist_ok=True)
                        (OUT / f"{name}-390.png").write_bytes(base64.b64decode(shot["data"]))
    finally:
        driver.quit()
    return out


@pytest.mark.parametrize("width", [390, 320])
@pytest.mark.parametrize("page", REFLOW_PAGES)
def test_pages_reflow_without_horizontal_scrolling(reflow_results, page, width):
    r = reflow_results[(page, width)]
    assert r["scrollWidth"] <= width, r  # the page is no wider than the window
    assert not r["wide"], r  # only tables and code scroll, each in its own region


@pytest.mark.parametrize("page", ["trust-summary", "board-view", "reviewer-view"])
def test_on_a_phone_the_summary_comes_before_the_navigation(reflow_results, page):
    assert reflow_results[(page, 390)]["summaryFirst"] is True
