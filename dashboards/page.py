"""The committee page: one self-contained HTML file (plotly.js embedded once, no network request),
built from the marts (sql/marts/) with capped lists, so its size and build time do not grow with the
number of orders; full lists go beside it as CSV. Every text from the data is escaped by Jinja2's
autoescaping; figures travel as JSON in which plotly escapes "<"."""
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb
import jinja2
import plotly.io as pio
from plotly.offline import get_plotlyjs

from dashboards import comparison, figures
from dashboards.findings import Period, comparisons, findings, period_name
from dashboards.money import load_prices, money
from pipelines.report import cidp_counts

SHOWN_ROWS = 25  # rows of each list on the page; the CSV beside it has them all


@dataclass
class Table:
    """A capped list for the page: its rows, and how many there are in all."""
    rows: list[dict]
    total: int


def publish(con: duckdb.DuckDBPyConnection, out_dir: Path, ruleset_id: str, run_started: datetime,
            exports: dict[str, Path]) -> Path:
    """Write <out>/dashboard.html from the marts, linking the exported lists."""
    context = page_context(con, ruleset_id, run_started, exports)
    context["charts"] = {name: pio.to_json(figure, validate=False) for name, figure in context["figures"].items()}
    context["plotly_js"] = get_plotlyjs()
    page = out_dir / "dashboard.html"
    page.write_text(_template().render(**context), encoding="utf-8")
    return page


def chart_figures(con: duckdb.DuckDBPyConnection) -> dict:
    """The page's charts that have something to draw (the page says "no orders" for the others)."""
    if con.execute("SELECT count(*) FROM order_audit").fetchall()[0][0] == 0:
        return {}
    summary = con.sql("SELECT * FROM mart_recommendation_summary").pl()
    by_condition = con.sql("SELECT * FROM mart_condition_recommendation").pl()
    charts = {
        "grams_by_recommendation": figures.grams_by_recommendation(summary),
        "share_trend": figures.share_trend(con.sql("SELECT * FROM mart_quarterly_usage_shares").pl()),
        "monthly_grams": figures.monthly_grams(con.sql("SELECT * FROM mart_monthly_grams").pl()),
        "condition_grams": figures.condition_by_recommendation(by_condition, "grams"),
        "condition_orders": figures.condition_by_recommendation(by_condition, "orders"),
    }
    return {name: figure for name, figure in charts.items() if figures.has_data(figure)}


def page_context(con: duckdb.DuckDBPyConnection, ruleset_id: str, run_started: datetime, exports: dict[str, Path],
                 period: Period = Period(), prices: dict | None = None) -> dict:
    """What the page and the committee pack show, from the marts (and the price table: the
    example one unless given)."""
    summary = con.sql("SELECT * FROM mart_recommendation_summary").pl()
    compared = comparisons(con, period)
    context = {
        "findings": findings(con, compared),
        "compared": compared,
        "figures": chart_figures(con),
        "ruleset": _rows(con, "SELECT * FROM guideline_rulesets WHERE ruleset_id = ?", [ruleset_id])[0],
        "coverage": _rows(con, "SELECT * FROM mart_audit_coverage")[0],
        "run_started": run_started,
        "summary": summary.to_dicts(),
        "outside_reasons": _rows(con, "SELECT * FROM mart_outside_reasons"),
        "indication_review": _capped(con, "mart_indication_review"),
        "weak_by_condition": _capped(con, "mart_weak_evidence_by_condition"),
        "weak_orders": _capped(con, "mart_weak_evidence_orders"),
        "verdicts": dict(con.execute("SELECT recommendation, label FROM ref_recommendations").fetchall()),
        "cidp": _capped(con, "mart_cidp_suspected"),
        "cidp_reviewed": cidp_counts(con)[0],
        "money": money(con, prices or load_prices()),
        "usage": {dimension: _capped(con, "mart_usage_by_group", "dimension = ?", [dimension])
                  for dimension in ("specialty", "prescriber", "site")},
        "batches": _capped(con, "mart_data_quality_batches"),
        "batch_totals": _rows(con, """SELECT count(*) AS batches, sum(rows_read) AS read, sum(rows_loaded) AS loaded,
                                      sum(rows_replaced) AS replaced, sum(rows_quarantined) AS quarantined,
                                      sum(rows_unchanged) AS unchanged FROM ingest_batches""")[0],
        "rejected": _capped(con, "mart_data_quality_batches", "status = 'rejected'"),
        "quarantine_reasons": _capped(con, "mart_quarantine_reasons", limit=10),
        "exports": {name: path.name for name, path in exports.items()},
        "comparisons": comparison.sections(con),
        "colours": figures.COLOURS,
        "pack": False,
    }
    return context


def _rows(con: duckdb.DuckDBPyConnection, query: str, params: list | None = None) -> list[dict]:
    cursor = con.execute(query, params or [])
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def _capped(con: duckdb.DuckDBPyConnection, view: str, where: str = "true", params: list | None = None,
            limit: int = SHOWN_ROWS) -> Table:
    """The first `limit` rows of a mart (in its own order) and the count of all of them."""
    rows = _rows(con, f"SELECT * FROM {view} WHERE {where} LIMIT {limit}", params)
    total = _rows(con, f"SELECT count(*) AS n FROM {view} WHERE {where}", params)[0]["n"]
    return Table(rows, total)


def _template(name: str = "dashboard.html") -> jinja2.Template:
    environment = jinja2.Environment(loader=jinja2.PackageLoader("dashboards", "templates"),
                                     autoescape=True, undefined=jinja2.StrictUndefined)
    environment.filters["number"] = lambda value: "" if value is None else f"{value:,.0f}"
    environment.filters["percent"] = lambda value: "-" if value is None else f"{value:.1f}%"
    environment.globals["period_name"] = period_name
    return environment.get_template(name)
