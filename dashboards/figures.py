"""Plotly figures for the committee page, from mart aggregates only (a few hundred rows at most).
Colours: the Okabe-Ito palette, which stays distinguishable with the common colour-vision deficiencies,
one colour per recommendation, the same on every chart."""
import textwrap

import plotly.graph_objects as go
import polars as pl

COLOURS = {
    "offer": "#009E73",
    "consider": "#56B4E9",
    "may_consider": "#0072B2",
    "insufficient_evidence": "#E69F00",
    "should_not": "#D55E00",
    "outside_guideline": "#999999",
    "unknown_indication": "#CC79A7",
}
FONT = dict(family="Segoe UI, Helvetica, Arial, sans-serif", size=13, color="#222")


def _layout(figure: go.Figure, title: str, height: int = 420, legend_title: str = "Recommendation",
            **axes) -> go.Figure:
    figure.update_layout(title=dict(text=title, x=0, xanchor="left"), font=FONT, height=height,
                         template="simple_white", barmode="stack", legend_title_text=legend_title,
                         margin=dict(l=10, r=10, t=60, b=40), **axes)
    # the legend below the plot: beside it, it would take the plot's width on a phone or an A4 page
    figure.update_layout(legend=dict(orientation="h", x=0, xanchor="left", y=-0.18, yanchor="top"))
    return figure


def wrapped(label: str) -> str:
    """A bar's label on lines of at most 24 characters: on one line, long labels would take the
    plot's width on a phone or an A4 page."""
    return "<br>".join(textwrap.wrap(label, 24)) or label


def grams_by_recommendation(summary: pl.DataFrame) -> go.Figure:
    """summary: mart_recommendation_summary."""
    figure = go.Figure(go.Bar(
        x=summary["grams"].to_list(), y=[wrapped(label) for label in summary["label"]], orientation="h",
        marker_color=[COLOURS[r] for r in summary["recommendation"]],
        text=[f"{g:,.0f} g ({p or 0:.1f}%)" for g, p in zip(summary["grams"], summary["pct_grams"])],
        textposition="auto", hovertemplate="%{y}: %{x:,.0f} g<extra></extra>"))
    return _layout(figure, "Grams of IVIg by recommendation (g)", height=340,
                   xaxis_title="grams", yaxis=dict(autorange="reversed"), showlegend=False)


def monthly_grams(monthly: pl.DataFrame) -> go.Figure:
    """monthly: mart_monthly_grams."""
    figure = go.Figure()
    for (recommendation, label), rows in monthly.sort("sort_order").group_by(
            "recommendation", "recommendation_label", maintain_order=True):
        figure.add_bar(x=rows["month"].to_list(), y=rows["grams"].to_list(), name=label,
                       marker_color=COLOURS[recommendation],
                       hovertemplate=f"{label}<br>%{{x|%b %Y}}: %{{y:,.0f}} g<extra></extra>")
    return _layout(figure, "Grams of IVIg per month, by recommendation (g)", xaxis_title="month of order",
                   yaxis_title="grams")


def condition_by_recommendation(by_condition: pl.DataFrame, measure: str) -> go.Figure:
    """by_condition: mart_condition_recommendation; measure: grams or orders. Conditions with the
    most grams (or orders) at the top."""
    order = [wrapped(label) for label in by_condition.group_by("condition_label").agg(pl.col(measure).sum())
             .sort(measure, "condition_label", descending=[True, False])["condition_label"]]
    figure = go.Figure()
    for (recommendation, label), rows in by_condition.sort("sort_order").group_by(
            "recommendation", "recommendation_label", maintain_order=True):
        figure.add_bar(y=[wrapped(c) for c in rows["condition_label"]], x=rows[measure].to_list(), name=label,
                       orientation="h", marker_color=COLOURS[recommendation],
                       hovertemplate=f"%{{y}}<br>{label}: %{{x:,.0f}} {measure}<extra></extra>")
    unit = "g" if measure == "grams" else "orders"
    return _layout(figure, f"{measure.capitalize()} by condition and recommendation ({unit})",
                   height=max(360, 34 * len(order) + 160), xaxis_title=measure,
                   yaxis=dict(categoryorder="array", categoryarray=order, autorange="reversed"))


SHARES = {"pct_weak_grams": ("Level U or should not", "#E69F00"), "pct_should_not_grams": ("Should not", "#D55E00"),
          "pct_outside_grams": ("Outside this guideline", "#999999")}


def share_trend(shares: pl.DataFrame) -> go.Figure:
    """shares: mart_quarterly_usage_shares. A line per share for all sites together; with more than
    one site, the sites' lowest to highest share each quarter as a band behind it."""
    overall = shares.filter(pl.col("scope") == "all").sort("quarter")
    sites = shares.filter(pl.col("scope") != "all")
    figure = go.Figure()
    for column, (label, colour) in SHARES.items():
        if sites["scope"].n_unique() > 1:
            band = sites.group_by("quarter").agg(low=pl.col(column).min(), high=pl.col(column).max()).sort("quarter")
            figure.add_scatter(x=band["quarter"].to_list(), y=band["high"].to_list(), mode="lines", line_width=0,
                               showlegend=False, hoverinfo="skip", legendgroup=column)
            figure.add_scatter(x=band["quarter"].to_list(), y=band["low"].to_list(), mode="lines", line_width=0,
                               fill="tonexty", fillcolor=_transparent(colour), name=f"{label}: range of sites",
                               hoverinfo="skip", legendgroup=column)
        figure.add_scatter(x=overall["quarter"].to_list(), y=overall[column].to_list(), mode="lines+markers", name=label,
                           line_color=colour, legendgroup=column,
                           hovertemplate=f"{label}<br>%{{x|%b %Y}} quarter: %{{y:.1f}}%<extra></extra>")
    return _layout(figure, "Share of grams by quarter (%)", height=380, xaxis_title="quarter",
                   yaxis=dict(title="% of grams", rangemode="tozero"), legend_title="")


def _transparent(colour: str) -> str:
    red, green, blue = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({red},{green},{blue},0.2)"


def has_data(figure: go.Figure) -> bool:
    """Whether a figure has anything to draw (an empty one would show bare axes from -1 to 1)."""
    return any(len(trace.x if trace.x is not None else ()) for trace in figure.data)
