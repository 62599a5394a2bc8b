"""Plotly figures for the network page, from the network marts (sql/network/): a row per site and
measure, condition or quarter, so a hundred sites make a few thousand points at most. Colours and
font as on the committee page (dashboards/figures.py)."""
import plotly.graph_objects as go
import polars as pl
from plotly.subplots import make_subplots

from dashboards.figures import COLOURS, FONT

NETWORK = "#0072B2"
LIMIT_95, LIMIT_998 = "#E69F00", "#D55E00"
# Okabe-Ito without the network's blue: up to this many sites get a colour of their own in the
# trend and labels on the funnels; more are drawn grey and unlabelled.
SITE_COLOURS = ("#000000", "#E69F00", "#56B4E9", "#009E73", "#F0E442", "#D55E00", "#CC79A7")
SITE_LINES = len(SITE_COLOURS)


def _layout(figure: go.Figure, title: str, height: int = 420, **options) -> go.Figure:
    figure.update_layout(title=dict(text=title, x=0, xanchor="left"), font=FONT, height=height,
                         template="simple_white", margin=dict(l=10, r=10, t=60, b=40), **options)
    return figure


def _markers(status: pl.Series) -> list[str]:
    """Current sites filled, stale sites open."""
    return ["circle" if s == "current" else "circle-open" for s in status]


def funnel(points: pl.DataFrame, limits: pl.DataFrame, label: str, unit: str) -> go.Figure:
    """points: network_measures rows of one count measure with a rate; limits: its
    network_funnel_limits rows. Rates in %, against the denominator."""
    figure = go.Figure()
    for column, colour, dash, name in (("upper_998", LIMIT_998, "dot", "99.8% limits"),
                                       ("upper_95", LIMIT_95, "dash", "95% limits"),
                                       ("lower_95", LIMIT_95, "dash", None), ("lower_998", LIMIT_998, "dot", None)):
        figure.add_scatter(x=limits["n"].to_list(), y=(limits[column] * 100).to_list(), mode="lines",
                           line=dict(color=colour, dash=dash, width=1.5), name=name or column,
                           showlegend=name is not None, legendgroup=colour, hoverinfo="skip")
    if len(limits):
        figure.add_scatter(x=limits["n"].to_list(), y=(limits["network_rate"] * 100).to_list(), mode="lines",
                           line=dict(color=NETWORK, width=2), name="network", hoverinfo="skip")
    figure.add_scatter(
        x=points["denominator"].to_list(), y=(points["rate"] * 100).to_list(), mode="markers+text",
        text=points["site"].to_list() if len(points) <= SITE_LINES else None, textposition="top center",
        marker=dict(size=9, color="#222", symbol=_markers(points["status"])), name="sites",
        customdata=list(zip(points["site"], points["status"], points["numerator"])),
        hovertemplate=f"%{{customdata[0]}} (%{{customdata[1]}})<br>%{{customdata[2]:,.0f}} of %{{x:,.0f}} {unit}: "
                      "%{y:.1f}%<extra></extra>")
    return _layout(figure, f"{label} (% of {unit})", height=380, xaxis_title=f"{unit} at the site",
                   yaxis_title="%", legend=dict(orientation="h", y=-0.2))


def grams_shares(measures: pl.DataFrame) -> go.Figure:
    """measures: network_measures rows of the grams measures. One panel per measure: each site's
    share, and the network's as a vertical line."""
    labels = measures.sort("sort_order")["label"].unique(maintain_order=True).to_list()
    sites = sorted(measures["site"].unique().to_list(), reverse=True)
    figure = make_subplots(rows=1, cols=len(labels), shared_yaxes=True, horizontal_spacing=0.04,
                           subplot_titles=[_sentence(label.removeprefix("Grams ")) for label in labels])
    colours = (COLOURS["insufficient_evidence"], COLOURS["should_not"], COLOURS["outside_guideline"])
    for column, (label, colour) in enumerate(zip(labels, colours), start=1):
        rows = measures.filter(pl.col("label") == label)
        figure.add_bar(x=(rows["rate"] * 100).to_list(), y=rows["site"].to_list(), orientation="h",
                       marker_color=colour, marker_pattern_shape=["" if s == "current" else "/" for s in rows["status"]],
                       showlegend=False, hovertemplate="%{y}: %{x:.1f}% of its grams<extra></extra>",
                       row=1, col=column)
        network_rate = rows["network_rate"].drop_nulls()
        if len(network_rate):
            figure.add_vline(x=network_rate[0] * 100, line=dict(color=NETWORK, width=2), row=1, col=column)
    figure.update_yaxes(categoryorder="array", categoryarray=sites)
    figure.update_xaxes(title_text="% of grams", rangemode="tozero")
    return _layout(figure, "Share of each site's grams by verdict (%); blue line: the network",
                   height=max(320, 22 * len(sites) + 140))


def condition_grams(by_condition: pl.DataFrame) -> go.Figure:
    """by_condition: network_condition_grams rows with grams per patient shown."""
    order = (by_condition.group_by("condition_label").agg(pl.col("patients").sum())
             .sort("patients", "condition_label", descending=[True, False])["condition_label"].to_list())
    figure = go.Figure()
    figure.add_scatter(x=by_condition["grams_per_patient"].to_list(), y=by_condition["condition_label"].to_list(),
                       mode="markers", marker=dict(size=9, color="#222", symbol=_markers(by_condition["status"])),
                       name="sites", customdata=by_condition["site"].to_list(),
                       hovertemplate="%{customdata}: %{x:,.0f} g per patient<extra>%{y}</extra>")
    network = by_condition.unique("condition_label").drop_nulls("network_grams_per_patient")
    figure.add_scatter(x=network["network_grams_per_patient"].to_list(), y=network["condition_label"].to_list(),
                       mode="markers", marker=dict(size=14, color=NETWORK, symbol="line-ns", line=dict(width=3)),
                       name="network", hovertemplate="network: %{x:,.0f} g per patient<extra>%{y}</extra>")
    return _layout(figure, "Grams per patient by condition (g)", height=max(360, 30 * len(order) + 120),
                   xaxis_title="grams per patient in the period",
                   yaxis=dict(categoryorder="array", categoryarray=order, autorange="reversed"))


def weak_evidence_trend(quarterly: pl.DataFrame, deciles: pl.DataFrame) -> go.Figure:
    """quarterly: network_quarterly; deciles: network_quarterly_deciles. Each site's line, and over
    them the network's deciles dashed (median solid), as OpenPrescribing draws them. Beyond
    SITE_LINES sites the lines are faint grey, one legend entry for them all."""
    figure = go.Figure()
    sites = quarterly["site"].unique(maintain_order=True).to_list()
    many = len(sites) > SITE_LINES
    for index, site in enumerate(sites):
        rows = quarterly.filter(pl.col("site") == site)
        stale = " (stale)" if rows["status"][0] == "stale" else ""
        figure.add_scatter(x=rows["quarter"].to_list(), y=(rows["weak_evidence_share"] * 100).to_list(),
                           mode="lines" if many else "lines+markers", connectgaps=False,
                           line=dict(color="#cccccc" if many else SITE_COLOURS[index], width=1 if many else 1.5),
                           name="sites" if many else f"{site}{stale}", legendgroup="sites" if many else site,
                           showlegend=not many or index == 0,
                           hovertemplate=f"{site}{stale}<br>%{{x|%Y Q%q}}: %{{y:.1f}}%<extra></extra>")
    quarters = deciles["quarter"].to_list()
    for index in range(9):
        median = index == 4
        figure.add_scatter(x=quarters, y=[d[index] * 100 for d in deciles["deciles"]], mode="lines",
                           line=dict(color=NETWORK, width=2.5 if median else 1, dash=None if median else "dash"),
                           name="network median" if median else "network deciles",
                           legendgroup="median" if median else "deciles", showlegend=index in (0, 4), hoverinfo="skip")
    return _layout(figure, "Share of grams graded Level U or should not, by quarter (%)", xaxis_title="quarter",
                   yaxis_title="% of the site's grams", yaxis_rangemode="tozero")


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]
