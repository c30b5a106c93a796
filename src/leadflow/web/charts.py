"""Plotly charts for the dashboard's pages: each turns a report's table into a figure's HTML.

The figures only reference Plotly's JavaScript, which the page loads once from this server
(/web/static/plotly.min.js, from the installed plotly package): nothing is fetched elsewhere.
"""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go
import plotly.io as pio
import polars as pl
from markupsafe import Markup, escape
from plotly.subplots import make_subplots

BLUE, GREEN, RED, GREY, AMBER = "#2563eb", "#16a34a", "#dc2626", "#94a3b8", "#d97706"
_CONFIG = {"responsive": True, "displaylogo": False, "modeBarButtonsToRemove": ["select2d", "lasso2d"]}


def _html(figure: go.Figure, *, height: int = 340) -> Markup:
    # The title is the page's heading above the figure, not Plotly's: Plotly draws it on one
    # line, which a phone's width cuts off; a heading wraps.
    title = figure.layout.title.text
    figure.update_layout(
        title=None,
        height=height,
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        template="plotly_white",
        legend={"orientation": "h", "y": -0.15},
        font={"size": 12},
    )
    figure.update_xaxes(automargin=True)
    figure.update_yaxes(automargin=True)
    html = pio.to_html(figure, full_html=False, include_plotlyjs=False, config=_CONFIG)
    heading = f'<h3 class="chart-title">{escape(title)}</h3>' if title else ""
    return Markup(f'<div class="chart">{heading}{html}</div>')


def _errors(frame: pl.DataFrame, value: str, low: str, high: str) -> dict[str, Any]:
    return {
        "type": "data",
        "symmetric": False,
        "array": (frame[high] - frame[value]).fill_null(0).to_list(),
        "arrayminus": (frame[value] - frame[low]).fill_null(0).to_list(),
    }


def monthly_volume(months: pl.DataFrame) -> Markup:
    """Leads in, worked and won per month."""
    figure = go.Figure()
    for column, colour in (("leads", GREY), ("worked", BLUE), ("won", GREEN)):
        figure.add_bar(
            x=months["month"].to_list(), y=months[column].to_list(), name=column, marker_color=colour
        )
    figure.update_layout(title="Leads in, worked and won by month", barmode="group")
    return _html(figure)


def conversion_trend(months: pl.DataFrame) -> Markup:
    """Conversion (won / closed) by month with its 95% interval as a band."""
    x = months["month"].to_list()
    figure = go.Figure()
    figure.add_scatter(x=x, y=months["conversion_high"].to_list(), mode="lines", line={"width": 0},
                       showlegend=False, hoverinfo="skip")  # fmt: skip
    figure.add_scatter(x=x, y=months["conversion_low"].to_list(), mode="lines", line={"width": 0},
                       fill="tonexty", fillcolor="rgba(37,99,235,0.15)", name="95% interval")  # fmt: skip
    figure.add_scatter(x=x, y=months["conversion"].to_list(), mode="lines+markers", name="conversion",
                       line={"color": BLUE})  # fmt: skip
    if "maturing" in months.columns and months["maturing"].any():
        young = months.filter("maturing")
        figure.add_scatter(x=young["month"].to_list(), y=young["conversion"].to_list(), mode="markers",
                           marker={"color": "white", "line": {"color": GREY, "width": 2}, "size": 9},
                           name="still maturing: not yet comparable")  # fmt: skip
        figure.add_vrect(x0=young["month"][0], x1=young["month"][-1], fillcolor=GREY, opacity=0.12,
                         line_width=0)  # fmt: skip
    figure.update_layout(title="Conversion by month of creation (won / closed)")
    figure.update_yaxes(tickformat=".0%", rangemode="tozero")
    return _html(figure)


def rep_estimates(reps: pl.DataFrame) -> Markup:
    """Each rep's close rate (shrunk toward the team) with its 95% credible interval."""
    table = reps.filter(pl.col("estimate").is_not_null()).sort("estimate")
    figure = go.Figure(
        go.Scatter(
            x=table["estimate"].to_list(), y=table["rep"].to_list(), mode="markers",
            error_x=_errors(table, "estimate", "estimate_low", "estimate_high"),
            marker={"color": [RED if lag else BLUE for lag in table["lagging"].to_list()], "size": 9},
            name="close rate",
        )
    )  # fmt: skip
    figure.update_layout(title="Close rate with 95% credible interval (red: lagging)")
    figure.update_xaxes(tickformat=".0%")
    return _html(figure, height=max(300, 26 * table.height + 80))


def actual_vs_expected(reps: pl.DataFrame) -> Markup:
    """Wins above or below what each rep's leads promised, with the interval of that difference."""
    table = reps.filter(pl.col("won_minus_expected").is_not_null()).sort("won_minus_expected")
    colours = [
        GREEN if low > 0 else RED if high < 0 else GREY
        for low, high in zip(
            table["difference_low"].to_list(), table["difference_high"].to_list(), strict=True
        )
    ]
    figure = go.Figure(
        go.Bar(
            x=table["won_minus_expected"].to_list(), y=table["rep"].to_list(), orientation="h",
            marker_color=colours,
            error_x=_errors(table, "won_minus_expected", "difference_low", "difference_high"),
            name="won − expected",
        )
    )  # fmt: skip
    figure.update_layout(title="Wins minus expected wins from the leads received (grey: within chance)")
    return _html(figure, height=max(300, 26 * table.height + 80))


def capacity_use(capacity: pl.DataFrame) -> Markup:
    """Leads received per month against each rep's capacity."""
    rows = capacity.filter(pl.col("capacity_use").is_not_null()).sort("capacity_use").to_dicts()
    figure = go.Figure(
        go.Bar(
            x=[r["capacity_use"] for r in rows], y=[r["rep"] for r in rows], orientation="h",
            marker_color=[RED if r["capacity_use"] > 1 else BLUE for r in rows], name="capacity use",
        )
    )  # fmt: skip
    figure.add_vline(x=1, line_dash="dash", line_color=GREY)
    figure.update_layout(title="Leads per month against capacity (red: over)")
    figure.update_xaxes(tickformat=".0%")
    return _html(figure, height=max(300, 26 * len(rows) + 80))


def source_roi(sources: pl.DataFrame) -> Markup:
    """Return on each source's cost."""
    table = sources.filter(pl.col("roi").is_not_null()).sort("roi")
    figure = go.Figure(
        go.Bar(
            x=table["roi"].to_list(), y=table["source"].to_list(), orientation="h",
            marker_color=[GREEN if v > 0 else RED for v in table["roi"].to_list()], name="ROI",
        )
    )  # fmt: skip
    figure.update_layout(title="ROI: (revenue − cost) / cost")
    figure.update_xaxes(tickformat=".0%")
    return _html(figure, height=max(280, 30 * table.height + 80))


def source_conversion(sources: pl.DataFrame) -> Markup:
    """Each source's conversion with its 95% interval."""
    table = sources.filter(pl.col("conversion").is_not_null()).sort("conversion")
    figure = go.Figure(
        go.Scatter(
            x=table["conversion"].to_list(), y=table["source"].to_list(), mode="markers",
            error_x=_errors(table, "conversion", "conversion_low", "conversion_high"),
            marker={"color": [RED if s else BLUE for s in table["stopped_working"].to_list()], "size": 9},
            name="conversion",
        )
    )  # fmt: skip
    figure.update_layout(title="Conversion with 95% interval (red: stopped working)")
    figure.update_xaxes(tickformat=".0%")
    return _html(figure, height=max(280, 30 * table.height + 80))


def funnel(stages: pl.DataFrame) -> Markup:
    """Leads reaching each stage."""
    steps = [s for s in stages.to_dicts() if " to " in s["step"]]
    names = [steps[0]["step"].split(" to ")[0], *[s["step"].split(" to ")[1] for s in steps]] if steps else []
    counts = [steps[0]["from"], *[s["reached"] for s in steps]] if steps else []
    # the chain of adjacent steps only (inquiry → lead → opportunity → won)
    chain_names, chain_counts = [], []
    for name, count in zip(names, counts, strict=True):
        if name not in chain_names:
            chain_names.append(name)
            chain_counts.append(count)
    # whole leads with thousands separators (Plotly would write 22485 as 22.485k)
    figure = go.Figure(
        go.Funnel(
            y=chain_names,
            x=chain_counts,
            texttemplate="%{value:,.0f} (%{percentInitial:.0%})",
            hovertemplate="%{y}: %{x:,.0f} leads<extra></extra>",
        )
    )
    figure.update_layout(title="Funnel")
    return _html(figure)


def speed_buckets(table: pl.DataFrame) -> Markup:
    """Conversion by how fast the first touch came, with 95% intervals."""
    figure = go.Figure(
        go.Bar(
            x=table["speed"].to_list(), y=table["conversion"].to_list(), marker_color=BLUE,
            error_y=_errors(table, "conversion", "conversion_low", "conversion_high"), name="conversion",
        )
    )  # fmt: skip
    figure.update_layout(title="Conversion by speed to lead")
    figure.update_yaxes(tickformat=".0%")
    return _html(figure)


def time_to_close(cohorts: pl.DataFrame, months: list[int]) -> Markup:
    """Cumulative share won (and lost) by months since creation, overall and for recent cohorts."""
    figure = go.Figure()
    shown = cohorts.filter(pl.col("cohort") == "all")
    recent = cohorts.filter(pl.col("cohort") != "all").tail(4)
    for row in [*shown.to_dicts(), *recent.to_dicts()]:
        overall = row["cohort"] == "all"
        x = [0, *[m for m in months if row.get(f"won_{m}m") is not None]]
        y = [0.0, *[row[f"won_{m}m"] for m in months if row.get(f"won_{m}m") is not None]]
        figure.add_scatter(
            x=x, y=y, mode="lines+markers", name=f"won, {row['cohort']}",
            line={"width": 3 if overall else 1.5, "color": GREEN if overall else None},
        )  # fmt: skip
    figure.update_layout(title="Share won by months since creation")
    figure.update_yaxes(tickformat=".0%", rangemode="tozero")
    figure.update_xaxes(title="months")
    return _html(figure)


def policy_comparison(table: pl.DataFrame) -> Markup:
    """Estimated wins under each policy with 95% intervals."""
    figure = go.Figure(
        go.Bar(
            x=table["policy"].to_list(), y=table["estimated_wins"].to_list(), marker_color=BLUE,
            error_y=_errors(table, "estimated_wins", "wins_low", "wins_high"), name="estimated wins",
        )
    )  # fmt: skip
    figure.update_layout(title="Estimated wins by policy (95% interval)")
    return _html(figure)


def metric_trends(trend: pl.DataFrame, words: dict[str, str], rep: str) -> Markup:
    """A rep's monthly figure on each goal metric beside their team's, one small chart a metric;
    months still maturing drawn hollow."""
    metrics = list(dict.fromkeys(trend["metric"].to_list()))
    figure = make_subplots(rows=len(metrics), cols=1, subplot_titles=[words.get(m, m) for m in metrics],
                           vertical_spacing=0.35 / max(len(metrics), 1))  # fmt: skip
    for row, metric in enumerate(metrics, start=1):
        part = trend.filter(pl.col("metric") == metric)
        x = part["month"].to_list()
        symbols = ["circle-open" if m else "circle" for m in part["maturing"].to_list()]
        for column, colour, name in (("rep", BLUE, rep), ("team", GREY, "team")):
            figure.add_scatter(x=x, y=part[column].to_list(), mode="lines+markers", name=name,
                               line={"color": colour}, marker={"symbol": symbols, "size": 8},
                               showlegend=row == 1, legendgroup=name, row=row, col=1)  # fmt: skip
    figure.update_layout(title=f"{rep} against the team by month (hollow: still maturing)")
    return _html(figure, height=170 * len(metrics) + 80)


def channel_conversion(channels: pl.DataFrame) -> Markup:
    """Each partner's and the direct reps' conversion (won / issued) with its 95% interval."""
    table = channels.filter(pl.col("conversion").is_not_null()).sort("conversion")
    figure = go.Figure(
        go.Scatter(
            x=table["conversion"].to_list(), y=table["name"].to_list(), mode="markers",
            error_x=_errors(table, "conversion", "conversion_low", "conversion_high"),
            marker={"color": [BLUE if c == "direct" else AMBER for c in table["channel"]], "size": 10},
            name="won / issued",
        )
    )  # fmt: skip
    figure.update_layout(title="Won per lead issued, with 95% interval (amber: partners)")
    figure.update_xaxes(tickformat=".0%")
    return _html(figure, height=max(240, 40 * table.height + 100))
