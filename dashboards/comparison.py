"""The page's "What changes under <rule set>" sections: for each rule set audited beside the
primary, the verdicts that move (mart_ruleset_transitions) and both rule sets' governance
(mart_ruleset_governance). Kept apart from page.py, which only adds their context entry."""
import duckdb
import plotly.graph_objects as go
import plotly.io as pio
import polars as pl

from dashboards.figures import COLOURS, FONT

SHOWN_MOVES = 25  # changed rows listed on the page; `ivig-audit compare A B` prints them all


def sections(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """One section per non-primary rule set: both rule sets' governance, the transition chart (as
    Plotly JSON) and the changed rows, most grams first."""
    governance = con.sql("SELECT * FROM mart_ruleset_governance").pl().to_dicts()
    primary = next(g for g in governance if g["is_primary"])
    result = []
    for other in (g for g in governance if not g["is_primary"]):
        moves = con.sql("""
            SELECT t.*, coalesce(c.label, t.condition, '(no condition)') AS condition_label
            FROM mart_ruleset_transitions AS t LEFT JOIN ref_conditions AS c ON c.condition_id = t.condition
            WHERE from_ruleset_id = ? AND to_ruleset_id = ?
            ORDER BY grams DESC, condition_label""", params=[primary["ruleset_id"], other["ruleset_id"]]).pl()
        changed = moves.filter(pl.col("from_recommendation") != pl.col("to_recommendation"))
        result.append({
            "primary": primary, "other": other,
            "chart_id": f"transitions-{len(result)}",
            "chart": pio.to_json(transition_sankey(moves, primary["short_name"], other["short_name"]), validate=False),
            "changed": changed.head(SHOWN_MOVES).to_dicts(),
            "changed_total": changed.height,
            "moved": {"orders": changed["orders"].sum(), "grams": changed["grams"].sum(),
                      "all_orders": moves["orders"].sum(), "all_grams": moves["grams"].sum()},
        })
    return result


def transition_sankey(moves: pl.DataFrame, from_name: str, to_name: str) -> go.Figure:
    """Grams from each verdict under one rule set (left) to each verdict under the other (right);
    moves: mart_ruleset_transitions rows of one pair (by condition, summed here)."""
    flows = (moves.group_by("from_recommendation", "to_recommendation").agg(pl.col("grams").sum(), pl.col("orders").sum())
             .sort("from_recommendation", "to_recommendation"))
    verdicts = list(COLOURS)
    left = {v: i for i, v in enumerate(verdicts)}
    right = {v: len(verdicts) + i for i, v in enumerate(verdicts)}
    figure = go.Figure(go.Sankey(
        node=dict(label=[f"{v} ({from_name})" for v in verdicts] + [f"{v} ({to_name})" for v in verdicts],
                  color=[COLOURS[v] for v in verdicts] * 2, pad=12),
        link=dict(source=[left[v] for v in flows["from_recommendation"]],
                  target=[right[v] for v in flows["to_recommendation"]],
                  value=flows["grams"].to_list(), customdata=flows["orders"].to_list(),
                  color=["rgba(0,0,0,0.08)" if a == b else "rgba(213,94,0,0.45)"
                         for a, b in zip(flows["from_recommendation"], flows["to_recommendation"])],
                  hovertemplate="%{source.label} to %{target.label}: %{value:,.0f} g in %{customdata:,} orders"
                                "<extra></extra>")))
    figure.update_layout(title=dict(text=f"Grams of IVIg by verdict: {from_name} (left) to {to_name} (right)",
                                    x=0, xanchor="left"), font=FONT, height=460, margin=dict(l=10, r=10, t=60, b=20))
    return figure
