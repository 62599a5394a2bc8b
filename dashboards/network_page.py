"""The network page: one self-contained HTML file like the committee page (plotly.js embedded once,
no network request, text escaped by Jinja2), built from the network marts (sql/network/)."""
from datetime import datetime
from pathlib import Path

import duckdb
import plotly.io as pio
import polars as pl
from plotly.offline import get_plotlyjs

from dashboards import network_figures
from dashboards.page import _rows, _template

FUNNELS = ("orders_level_u", "orders_should_not", "orders_outside_guideline", "cidp_overuse_suspected")


def publish(con: duckdb.DuckDBPyConnection, out_dir: Path) -> Path:
    """Write <out>/network_dashboard.html from the network database."""
    measures = con.sql("SELECT * FROM network_measures").pl()
    limits = con.sql("SELECT * FROM network_funnel_limits").pl()
    charts: dict = {}
    all_suppressed = []
    for measure in FUNNELS if len(measures) else ():  # none until some site has a usable bundle
        rows = measures.filter(pl.col("measure") == measure)
        if len(rows.drop_nulls("rate")):
            charts[f"funnel_{measure}"] = network_figures.funnel(
                rows.drop_nulls("rate"), limits.filter(pl.col("measure") == measure), rows["label"][0], rows["unit"][0])
        elif len(rows):
            all_suppressed.append(rows["label"][0])
    if len(measures):
        charts["grams_shares"] = network_figures.grams_shares(measures.filter(pl.col("unit") == "grams"))
        charts["condition_grams"] = network_figures.condition_grams(
            con.sql("SELECT * FROM network_condition_grams WHERE grams_per_patient IS NOT NULL").pl())
        charts["weak_evidence_trend"] = network_figures.weak_evidence_trend(
            con.sql("SELECT * FROM network_quarterly").pl(), con.sql("SELECT * FROM network_quarterly_deciles").pl())
    context = {
        "made_at": datetime.now(),
        "sites": _rows(con, """SELECT s.*, b.ruleset_id, b.ruleset_version, left(b.vocabulary_sha256, 12) AS vocabulary,
                                      b.product_version, t.orders, t.patients, t.grams
                               FROM network_sites AS s
                               LEFT JOIN network_bundles AS b ON b.site = s.site AND b.status = 'used'
                               LEFT JOIN network_totals AS t ON t.site = s.site
                               ORDER BY s.site"""),
        "refused": _rows(con, "SELECT site, bundle, reason FROM network_bundles WHERE status = 'refused' ORDER BY site, bundle DESC"),
        "versions": _rows(con, """SELECT ruleset_id, ruleset_version, left(vocabulary_sha256, 12) AS vocabulary,
                                         list(site ORDER BY site) AS sites
                                  FROM network_bundles WHERE status = 'used' GROUP BY ALL ORDER BY ALL"""),
        "measure_labels": _rows(con, "SELECT DISTINCT sort_order, measure, short_label FROM network_measures ORDER BY sort_order"),
        "measures": _measure_table(measures),
        "network_rates": {row["measure"]: row["network_rate"] for row in _rows(
            con, "SELECT measure, any_value(network_rate) AS network_rate FROM network_measures GROUP BY measure")},
        "funnels": [name for name in charts if name.startswith("funnel_")],
        "all_suppressed": all_suppressed,
        "indication_texts": _rows(con, """SELECT indication, count(*) AS sites, sum(orders) AS orders
                                          FROM network_indication_texts GROUP BY indication
                                          ORDER BY sites DESC, orders DESC, indication LIMIT 50"""),
        "charts": {name: pio.to_json(figure, validate=False) for name, figure in charts.items()},
        "plotly_js": get_plotlyjs(),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    page = out_dir / "network_dashboard.html"
    page.write_text(_template("network.html").render(**context), encoding="utf-8")
    return page


def _measure_table(measures: pl.DataFrame) -> dict[str, dict[str, dict]]:
    """site -> measure -> its network_measures row, for the page's table of sites by measure."""
    table: dict[str, dict[str, dict]] = {}
    for row in measures.to_dicts():
        table.setdefault(row["site"], {})[row["measure"]] = row
    return table
