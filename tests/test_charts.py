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
    # in a region of its own that scrolls when wider than the page, named and focusable
    assert t.startswith('<div class="table-scroll" role="region" tabindex="0" '
                        'aria-label="Workforce by ethnicity"><table class="edi-table">'
                        '<caption>Workforce by ethnicity</caption>')
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


# --- contrast, colours, legends, order, counts (issue 13) ----------------------------------------

def test_contrast_ratio_matches_wcag_examples():
    assert charts.contrast("#000000", "#FFFFFF") == pytest.approx(21.0)
    assert charts.contrast("#767676", "#FFFFFF") == pytest.approx(4.54, abs=0.01)  # WCAG AA grey
    assert charts.contrast("#12436D", "#3D3D3D") == pytest.approx(1.06, abs=0.01)  # the old whisker


def _errorbar_collections(ax):
    from matplotlib.collections import LineCollection

    return [c for c in ax.collections if isinstance(c, LineCollection)]


def _bar_colours(ax):
    from matplotlib.colors import to_hex
    from matplotlib.patches import Rectangle

    return [to_hex(p.get_facecolor()).upper() for p in ax.patches if isinstance(p, Rectangle)
            and p.get_width() != 0 and p.get_height() != 0]


def test_whiskers_have_3_to_1_against_every_bar_and_the_background():
    """Computed from the colours the chart actually draws: each whisker is black with a white
    outline, so against a bar either its line or its outline has at least 3:1."""
    from matplotlib.colors import to_hex

    rows = _rows([70.0, 25.0, 5.0], metric="wres.1.share")
    fig = charts.bar_figure(rows, "Share", "percent")
    ax = fig.axes[0]
    bars = _bar_colours(ax)
    assert bars and set(bars) <= {c.upper() for c in charts.GROUP_COLOURS.values()}
    background = to_hex(ax.get_facecolor()).upper()
    whiskers = _errorbar_collections(ax)
    assert whiskers
    for coll in whiskers:
        line = to_hex(coll.get_colors()[0]).upper()
        effects = coll.get_path_effects()
        halo = to_hex(effects[0]._gc["foreground"]).upper()
        assert charts.contrast(line, background) >= 3
        for bar in bars:
            assert max(charts.contrast(line, bar), charts.contrast(halo, bar)) >= 3, (line, bar)
    for bar in bars:  # the bars themselves against the page (SC 1.4.11)
        assert charts.contrast(bar, background) >= 3
    import matplotlib.pyplot as plt

    plt.close(fig)


def test_every_group_colour_and_peer_dot_has_3_to_1_on_white():
    for group, colour in charts.GROUP_COLOURS.items():
        assert charts.contrast(colour, charts.BACKGROUND) >= 3, group
    for colour in (charts.PEER_DOT, charts.HIGHLIGHT, charts.NATIONAL_LINE,
                   charts.REFERENCE_LINE, charts.BAND_COLOUR):
        assert charts.contrast(colour, charts.BACKGROUND) >= 3, colour
    for colour in charts.GROUP_COLOURS.values():  # whisker line or outline on any colour
        assert max(charts.contrast(charts.WHISKER, colour),
                   charts.contrast(charts.WHISKER_HALO, colour)) >= 3


def test_one_colour_per_group_whatever_the_row_order():
    a = charts.bar_figure(_rows([70.0, 25.0, 5.0]), "Share", "percent")
    b = charts.bar_figure(_rows([25.0, 70.0, 5.0], groups=("BME", "White", "Unknown")), "Share",
                          "percent")
    labels = lambda f: [t.get_text().split("\n")[0] for t in f.axes[0].get_yticklabels()]  # noqa
    colours = lambda f: dict(zip(labels(f), _bar_colours(f.axes[0])))  # noqa: E731
    assert colours(a)["White"] == colours(b)["White"] == charts.GROUP_COLOURS["White"].upper()
    assert colours(a)["BME"] == colours(b)["BME"] == charts.GROUP_COLOURS["BME"].upper()
    # the same map serves every characteristic: reference groups one colour, compared another
    assert charts.group_colour("Non-disabled") == charts.group_colour("White")
    assert charts.group_colour("Disabled") == charts.group_colour("BME")


def _overlaps(a, b) -> bool:
    return not (a.x1 <= b.x0 or b.x1 <= a.x0 or a.y1 <= b.y0 or b.y1 <= a.y0)


@pytest.mark.parametrize("unit, band", [("percent", False), ("ratio", True)])
def test_legend_never_covers_the_plot(unit, band):
    rows = _rows([1.6, 0.9, 1.1], unit=unit)
    fig = charts.bar_figure(rows, "Relative likelihood", unit, non_adverse_band=band,
                            reference=1.0 if unit == "ratio" else None)
    fig.canvas.draw()
    ax = fig.axes[0]
    legend = ax.get_legend()
    assert legend is not None
    renderer = fig.canvas.get_renderer()
    assert not _overlaps(legend.get_window_extent(renderer), ax.get_window_extent(renderer))
    import matplotlib.pyplot as plt

    plt.close(fig)


def test_quartiles_are_plotted_lower_to_upper():
    q = ["Lower", "Lower middle", "Upper", "Upper middle"]  # the alphabetical order of the rows
    rows = pd.DataFrame({
        "metric_id": "pay.gender.quartile_share", "breakdown": [f"quartile={x}" for x in q],
        "group": "Female", "value": [78.0, 82.0, 68.0, 83.0], "ci_lower": NAN, "ci_upper": NAN,
        "numerator": NAN, "denominator": 1167.0, "unit": "percent", "suppressed": False,
        "note": "", "period": "2024-03-31", "trust_code": "RXA", "reference_group": ""})
    fig = charts.bar_figure(rows, "Women in each quartile", "percent")
    ticks = [t.get_text().split("\n")[0] for t in fig.axes[0].get_yticklabels()]
    assert ticks == ["Female in the lower pay quartile", "Female in the lower middle pay quartile",
                     "Female in the upper middle pay quartile", "Female in the upper pay quartile"]
    alt = charts.bar_chart(rows, "Women in each quartile", "percent").alt
    assert alt.index("lower middle") < alt.index("upper middle") < \
        alt.index("upper pay quartile: 68")


def test_bar_labels_show_counts_only_where_they_are_counts():
    # pay gap rows hold mean £ pay in numerator and denominator: no "n =" (it said "n = 23.1")
    pay = pd.DataFrame({
        "metric_id": "pay.gender.mean_gap", "breakdown": "", "group": "Female",
        "reference_group": "Male", "numerator": 18.49, "denominator": 23.1, "value": 20.4,
        "ci_lower": 17.1, "ci_upper": 23.3, "unit": "percent", "suppressed": False, "note": "",
        "period": "2024-03-31", "trust_code": "RXA"}, index=[0])
    ch = charts.bar_chart(pay, "Gender pay gap", "percent")
    assert "n =" not in ch.alt
    fig = charts.bar_figure(pay, "Gender pay gap", "percent")
    assert all("n =" not in t.get_text() for t in fig.axes[0].get_yticklabels())
    days = pay.assign(metric_id="hia4.sickness_absence_rate", denominator=816901.6)
    assert "n =" not in charts.bar_chart(days, "Sickness", "percent").alt  # days, not people
    people = _rows([21.9], groups=("White",), denominators=(1083,),
                   metric="wres.2.appointment_rate")
    assert "n = 1,083" in charts.bar_chart(people, "Appointment rate", "percent").alt


# --- trends join only the same basis -------------------------------------------------------------

def test_trend_does_not_join_figures_on_different_bases():
    a = _rows([1.4], groups=("BME",), unit="ratio", period="2023-03-31", denominators=(10,),
              metric="wres.3.relative_likelihood").assign(basis="12-month")
    b = _rows([1.6], groups=("BME",), unit="ratio", period="2024-03-31", denominators=(10,),
              metric="wres.3.relative_likelihood").assign(basis="two-year rolling")
    fig, changes = charts.trend_figure(pd.concat([a, b]), "RL", "ratio")
    joined = [ln for ln in fig.axes[0].get_lines() if len(ln.get_xdata()) >= 2
              and ln.get_linestyle() == "-"]
    assert not joined  # no line from the 12-month figure to the two-year figure
    assert changes == [("2023-03-31", "2024-03-31")]
    ch = charts.trend_chart(pd.concat([a, b]), "RL", "ratio")
    assert "counting basis changed between 2023-03-31 and 2024-03-31" in ch.alt
    assert "BME, 2023-03-31 (12-month basis): 1.40" in ch.alt
    same = charts.trend_figure(pd.concat([a.assign(basis="two-year rolling"), b]), "RL",
                               "ratio")
    assert same[1] == []
    assert any(len(ln.get_xdata()) == 2 for ln in same[0].axes[0].get_lines())


# --- peers: intervals, names and the England line ---------------------------------------------

def _peer_rows(values):
    return pd.concat([_rows([v], groups=("BME",), unit="ratio", trust=t, denominators=(10,),
                            metric="wres.3.relative_likelihood") for t, v in values])


def test_peers_chart_shows_intervals_names_and_the_england_line():
    rows = _peer_rows((("RXA", 1.6), ("RYB", 0.9), ("RZC", 1.2)))
    fig = charts.peers_figure(rows, "RZC", "RL", "ratio", national=1.14,
                              names={"RZC": "Zed Hospitals NHS Trust"})
    ax = fig.axes[0]
    assert _errorbar_collections(ax)  # each trust's 95% interval
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert "Zed Hospitals NHS Trust (RZC) (this trust)" in labels
    england = [ln for ln in ax.get_lines() if ln.get_label().startswith("England")]
    assert england and england[0].get_xdata()[0] == 1.14
    ch = charts.peers_chart(rows, "RZC", "RL", "ratio", national=1.14)
    assert ch.alt.endswith("This trust (RZC) is 2 of 3 from lowest to highest. The England "
                           "figure is 1.14.")


def test_a_one_trust_run_still_shows_the_england_figure():
    rows = _peer_rows((("RXA", 1.6),))
    assert charts.peers_chart(rows, "RXA", "RL", "ratio") is None  # nothing to compare with
    ch = charts.peers_chart(rows, "RXA", "RL", "ratio", national=1.14)
    assert ch is not None and "The England figure is 1.14." in ch.alt


def _layout_cases():
    long = "Relative likelihood of white staff being appointed from shortlisting compared to BME staff"
    yield "bar", charts.bar_figure(_rows([70.0, 25.0, 5.0]), long, "percent")
    yield "ratio", charts.bar_figure(_rows([1.6], groups=("BME",), unit="ratio",
                                           denominators=(300,)), long, "ratio",
                                     non_adverse_band=True)
    a = _rows([30.0, 35.0], groups=("White", "BME"), denominators=(400, 120))
    yield "trend", charts.trend_figure(pd.concat([a, a.assign(period="2025-03-31")]), long,
                                       "percent")[0]
    peers = _peer_rows((("RXA", 1.6), ("RYB", 0.9), ("RZC", 1.2)))
    yield "peers", charts.peers_figure(
        peers, "RZC", long, "ratio", national=1.14,
        names={"RZC": "Zed Hospitals and Community Services NHS Foundation Trust"})


@pytest.mark.parametrize("kind", ["bar", "ratio", "trend", "peers"])
def test_chart_layout_is_fixed_and_keeps_all_text_inside_the_image(kind):
    # The margins are fitted once from the text's extents: no layout engine runs when the
    # figure is drawn and the PNG is the figure itself (no tight bounding box crop), so every
    # tick label, axis label, key, title and the England label must lie inside the figure.
    fig = dict(_layout_cases())[kind]
    assert fig.get_layout_engine() is None
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    box = fig.bbox
    texts = [t for t in fig.findobj(lambda a: hasattr(a, "get_text")) if t.get_visible()
             and t.get_text().strip()]
    assert texts
    for t in texts:
        e = t.get_window_extent(renderer)
        assert (e.x0 >= box.x0 - 0.5 and e.x1 <= box.x1 + 0.5 and e.y0 >= box.y0 - 0.5
                and e.y1 <= box.y1 + 0.5), (kind, t.get_text(), e, box)
    for legend in fig.axes[0].get_children():
        if type(legend).__name__ == "Legend":
            e = legend.get_window_extent(renderer)
            assert e.x1 <= box.x1 + 0.5 and e.y1 <= box.y1 + 0.5, (kind, e, box)
    width, height = fig.get_size_inches() * fig.dpi
    png = charts._png(fig)
    assert _png_size(png) == (round(width), round(height))  # not cropped: drawn once as laid out


def test_png_is_indexed_colour_and_keeps_the_group_colours_exactly():
    # The drawn figure has a few hundred colours (antialiased edges): stored as a 256-colour
    # PNG, every pixel within PALETTE_TOLERANCE of what was drawn, so the solid group colours
    # (and their contrast on white) are exactly as drawn, in under half the bytes of RGB.
    import io

    from PIL import Image

    fig = charts.bar_figure(_rows([70.0, 25.0, 5.0]), "Share", "percent")
    fig.canvas.draw()
    drawn = np.asarray(fig.canvas.buffer_rgba())[..., :3].astype(int)
    png = charts._png(fig)
    img = Image.open(io.BytesIO(png))
    assert img.mode == "P"
    stored = np.asarray(img.convert("RGB")).astype(int)
    assert stored.shape == drawn.shape
    assert np.abs(stored - drawn).max() <= charts.PALETTE_TOLERANCE
    colours = {tuple(c) for c in stored.reshape(-1, 3)}
    for hexcol in (charts.group_colour("White"), charts.group_colour("BME"),
                   charts.group_colour("Unknown"), charts.BACKGROUND):
        rgb = tuple(int(hexcol[i:i + 2], 16) for i in (1, 3, 5))
        assert rgb in colours, hexcol
    rgb_buf = io.BytesIO()
    Image.fromarray(drawn.astype(np.uint8)).save(rgb_buf, format="PNG")
    assert len(png) < 0.6 * len(rgb_buf.getvalue())


def test_funnel_chart_with_no_case_anywhere_draws_nothing_and_zero_ratios_are_counted():
    """A pooled ratio of 0 (no trust had a case) has no funnel and no place on a log scale:
    None, not a matplotlib error (a 20-trust run's 2023 disability funnel raised one)."""
    from edi_analysis.metrics.disciplinary_model import funnel_limits, funnel_points

    rows = pd.DataFrame({
        "trust_code": ["T1", "T2", "T3", "T4"], "metric_id": "hia6.adjusted_rate_ratio",
        "breakdown": "", "numerator": [0.0, 0.0, 0.0, 0.0],
        "denominator": [1.47, 1.76, 1.41, 0.55], "value": [0.0, 0.0, 0.0, 0.0],
        "suppressed": False})
    pts = funnel_points(rows)
    assert pts["target"].iloc[0] == 0.0  # 0 observed ÷ 5.19 expected
    lim = funnel_limits(np.geomspace(0.3, 3.5, 20), 0.0)
    assert charts.funnel_chart(pts, lim, "T1", "Adjusted rate ratio", target=0.0) is None
    # One trust with no case among three with cases: drawn without it, and the alt text says so.
    rows["numerator"] = [0.0, 10.0, 5.0, 6.0]
    rows["denominator"] = [5.0, 10.0, 5.0, 5.0]
    pts = funnel_points(rows)
    target = 21 / 25  # (0 + 10 + 5 + 6) ÷ (5 + 10 + 5 + 5)
    ch = charts.funnel_chart(pts, funnel_limits(np.geomspace(2, 20, 20), target), "T2",
                             "Adjusted rate ratio", target=target)
    assert "1 of them had no case (a ratio of 0), which a log scale cannot show" in ch.alt
