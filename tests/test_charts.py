"""Charts and tables: alt text from the data, deterministic PNGs, accessible tables."""

from __future__ import annotations

import base64
import html
import re

import numpy as np
import pandas as pd
import pytest

from edi_analysis import charts

NAN = np.nan


def _rows(values, groups=("White", "BME", "Unknown"), unit="percent", suppressed=None,
          ci=True, denominators=(400, 120, 30), metric="wres.1.share", period="2024-03-31",
          trust="RXA"):
    suppressed = suppressed or [False] * len(values)
    return pd.DataFrame({
        "trust_code": trust, "period": period, "metric_id": metric, "breakdown": "",
        "group": list(groups), "reference_group": "", "numerator": [NAN] * len(values),
        "denominator": [NAN if s else d for s, d in zip(suppressed, denominators)],
        "value": [NAN if s else v for s, v in zip(suppressed, values)],
        "ci_lower": [NAN if (s or not ci) else v - 2 for s, v in zip(suppressed, values)],
        "ci_upper": [NAN if (s or not ci) else v + 2 for s, v in zip(suppressed, values)],
        "unit": unit, "suppressed": suppressed, "note": "",
    })


def test_palette_is_the_analysis_function_palette():
    assert charts.PALETTE == ("#12436D", "#28A197", "#801650", "#F46A25", "#3D3D3D", "#A285D1")


def test_alt_text_describes_every_figure_and_the_suppressed():
    rows = _rows([70.0, 25.04, 5.0], suppressed=[False, False, True])
    alt = charts.describe(rows, "Share of the workforce", "percent")
    assert alt == ("Chart of Share of the workforce. White: 70.0% (95% CI 68.0% to 72.0%), "
                   "n = 400; BME: 25.0% (95% CI 23.0% to 27.0%), n = 120. "
                   "Suppressed (too few people): Unknown.")


def test_chart_html_keeps_alt_text_and_png():
    rows = _rows([70.0, 25.0, 5.0])
    ch = charts.bar_chart(rows, "Share of the workforce", "percent", caption="RXA")
    out = ch.html()
    m = re.search(r'<img alt="([^"]*)" src="data:image/png;base64,([^"]+)"', out)
    assert m, out[:200]
    assert html.unescape(m.group(1)) == ch.alt
    png = base64.b64decode(m.group(2))
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert b"Software" not in png and b"matplotlib" not in png  # no version metadata
    assert "<figcaption>RXA</figcaption>" in out


def test_png_is_deterministic():
    rows = _rows([1.6, 0.9], groups=("BME", "Disabled"), unit="ratio", denominators=(10, 20))
    a = charts.bar_chart(rows, "Relative likelihood", "ratio", reference=1.0, non_adverse_band=True)
    b = charts.bar_chart(rows, "Relative likelihood", "ratio", reference=1.0, non_adverse_band=True)
    assert a.png == b.png


def test_nothing_to_plot_gives_no_chart():
    rows = _rows([1.0, 2.0, 3.0], suppressed=[True, True, True])
    assert charts.bar_chart(rows, "x", "percent") is None


def test_trend_chart_needs_two_periods_and_names_each():
    a = _rows([1.4], groups=("BME",), unit="ratio", period="2023-03-31", denominators=(10,))
    b = _rows([1.6], groups=("BME",), unit="ratio", period="2024-03-31", denominators=(10,))
    assert charts.trend_chart(a, "RL", "ratio") is None
    ch = charts.trend_chart(pd.concat([a, b]), "RL", "ratio")
    assert "BME, 2023-03-31: 1.40" in ch.alt and "BME, 2024-03-31: 1.60" in ch.alt


def test_peers_chart_states_position():
    rows = pd.concat([_rows([v], groups=("BME",), unit="ratio", trust=t, denominators=(10,))
                      for t, v in (("RXA", 1.6), ("RYB", 0.9), ("RZC", 1.2))])
    ch = charts.peers_chart(rows, "RZC", "RL", "ratio")
    assert ch.alt.endswith("This trust (RZC) is 2 of 3 from lowest to highest.")
    assert charts.peers_chart(rows.iloc[:1], "RXA", "RL", "ratio") is None


def test_peers_chart_of_a_national_run_is_one_line_with_a_summary():
    # 215 trusts (England): one named row each would be a chart 65 inches tall and alt text
    # with 215 figures; instead every trust is a dot on one line and the alt text summarises.
    codes = [f"R{i:03d}" for i in range(215)]
    values = [0.5 + i / 100 for i in range(215)]  # 0.50 … 2.64, median 1.57 (the 108th)
    rows = pd.concat([_rows([v], groups=("BME",), unit="ratio", trust=t, denominators=(10,))
                      for t, v in zip(codes, values)])
    ch = charts.peers_chart(rows, "R010", "RL", "ratio")
    assert ch.alt == ("Chart of RL for the 215 trusts in this run with a figure: from 0.50 to "
                      "2.64, median 1.57. This trust (R010): 0.60, 11 of 215 from lowest to "
                      "highest.")
    width, height = _png_size(ch.png)
    assert height < 300 and width > 500  # 7 x 2 inches at 100 dpi, cropped to its content
    small = charts.peers_chart(rows.iloc[:charts.PEERS_LISTED], "R010", "RL", "ratio")
    assert "R029: 0.79" in small.alt  # up to PEERS_LISTED trusts: every trust named
    assert _png_size(small.png)[1] > 900


def test_funnel_chart_places_this_trust_and_counts_the_outliers():
    from edi_analysis.metrics.disciplinary_model import funnel_limits, funnel_points

    # Five trusts; pooled ratio (20 + 10 + 5 + 60 + 9) / (10 + 10 + 5 + 20 + 9) = 104 / 54.
    rows = pd.DataFrame({
        "trust_code": ["T1", "T2", "T3", "T4", "T5"], "metric_id": "hia6.adjusted_rate_ratio",
        "breakdown": "", "numerator": [20.0, 10.0, 5.0, 60.0, 9.0],
        "denominator": [10.0, 10.0, 5.0, 20.0, 9.0], "value": [2.0, 1.0, 1.0, 3.0, 1.0],
        "suppressed": False})
    pts = funnel_points(rows)
    target = 104 / 54
    assert pts["target"].iloc[0] == pytest.approx(target)
    # T4: 60 observed against 20 × 1.926 = 38.5 expected at the pooled ratio — above the 99.8%
    # limit (Poisson(38.5) upper 0.1% point ≈ 59); T1 (20 vs 19.3) is well inside.
    pos = pts.set_index("trust_code")
    assert pos.loc["T4", "position_99.8"] == "above" and pos.loc["T1", "position_95"] == "within"
    lim = funnel_limits(np.geomspace(2, 40, 50), target)
    ch = charts.funnel_chart(pts, lim, "T1", "Adjusted rate ratio", target=target)
    assert ch.alt.startswith("Chart of Adjusted rate ratio for the 5 trusts in this run")
    assert "pooled ratio is 1.93" in ch.alt
    assert "This trust (T1): ratio 2.00 with 10.00 expected, inside both sets of limits." in ch.alt
    again = charts.funnel_chart(pts, lim, "T1", "Adjusted rate ratio", target=target)
    assert again.png == ch.png  # deterministic
    assert charts.funnel_chart(pts.iloc[:1], lim, "T1", "Adjusted rate ratio", target=target) is None


def _png_size(png: bytes) -> tuple[int, int]:
    import struct

    return struct.unpack(">II", png[16:24])


def test_table_is_accessible_and_rounds_for_display_only():
    rows = _rows([70.04, 25.0, 5.0], suppressed=[False, False, True])
    t = charts.table_html(rows, "Workforce by ethnicity")
    assert t.startswith('<table class="edi-table"><caption>Workforce by ethnicity</caption>')
    assert t.count('scope="col"') == 4  # Group, Figure, 95% CI, Denominator (empty columns dropped)
    assert '<th scope="row">White</th><td>70.0%</td><td>68.0% to 72.0%</td><td>400</td>' in t
    assert '<th scope="row">Unknown</th><td>suppressed</td>' in t
    assert rows.loc[0, "value"] == 70.04  # the rows themselves are not rounded


def test_table_escapes_text():
    rows = _rows([1.0], groups=("<b>",), denominators=(10,))
    assert "&lt;b&gt;" in charts.table_html(rows, "a & b")
    assert "<caption>a &amp; b</caption>" in charts.table_html(rows, "a & b")


@pytest.mark.parametrize("breakdown, label", [("", "BME"), ("pay_cluster=2", "BME in pay cluster 2 (Bands 5 to 7)")])
def test_row_label(breakdown, label):
    assert charts.row_label(pd.Series({"group": "BME", "breakdown": breakdown})) == label
