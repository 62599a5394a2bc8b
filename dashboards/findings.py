"""What the audit found, in sentences, for the top of the page and of the committee pack. Every
figure comes from a mart (sql/marts/quarterly_usage_periods.sql and its neighbours); this module
only picks the period and words the figures. Each finding names the section that shows its detail."""
import re
from dataclasses import dataclass
from datetime import date

import duckdb

from pipelines.db import AuditError
from pipelines.report import cidp_counts

NO_ORDERS = "No orders in this period."


@dataclass
class Finding:
    text: str
    section: str  # the id of the page's (and pack's) section with the detail


@dataclass
class Period:
    """The period a report compares: the quarter it ends with (None: the latest complete one)."""
    ending_quarter: date | None = None

    @classmethod
    def parse(cls, text: str | None) -> "Period":
        """'latest' (or nothing), or a quarter written 2025Q3."""
        if text in (None, "", "latest"):
            return cls()
        found = re.fullmatch(r"(\d{4})[- ]?Q([1-4])", text.strip(), re.IGNORECASE)
        if not found:
            raise AuditError(f"--period: {text!r} is not 'latest' or a quarter such as 2025Q3")
        return cls(date(int(found[1]), 3 * int(found[2]) - 2, 1))


def quarter_name(day: date) -> str:
    return f"Q{(day.month - 1) // 3 + 1} {day.year}"


def period_name(row: dict, previous: bool = False) -> str:
    start, end = (row["previous_start"], row["previous_end"]) if previous else (row["period_start"], row["period_end"])
    if row["period_kind"] == "quarter":
        return quarter_name(start)
    return f"{quarter_name(start)} to {quarter_name(end)}"


def comparisons(con: duckdb.DuckDBPyConnection, period: Period) -> dict[str, dict]:
    """The mart's rows for the chosen period: {'quarter': row, '12 months': row}, empty when there
    are no orders (or none in that quarter)."""
    ending = period.ending_quarter
    if ending is None:
        found = con.execute("SELECT max(ending_quarter) FROM mart_quarterly_usage_periods WHERE complete").fetchall()[0][0]
        ending = found or con.execute("SELECT max(ending_quarter) FROM mart_quarterly_usage_periods").fetchall()[0][0]
    cursor = con.execute("SELECT * FROM mart_quarterly_usage_periods WHERE ending_quarter = ? AND orders > 0", [ending])
    names = [d[0] for d in cursor.description]
    return {row[0]: dict(zip(names, row)) for row in cursor.fetchall()}


def findings(con: duckdb.DuckDBPyConnection, compared: dict[str, dict]) -> list[Finding]:
    quarter = compared.get("quarter")
    if quarter is None:
        return [Finding(NO_ORDERS, "headline")]
    said = [_weak_use(quarter)]
    if (year := compared.get("12 months")) is not None:
        said.append(_weak_use(year))
    said.append(_outside(quarter))
    said.append(_cidp(con))
    if movers := _movers(con, quarter):
        said.append(movers)
    said.append(_data_quality(con))
    return said


def _change(now: float | None, before: float | None, before_name: str) -> str:
    if before is None:
        return f"no orders in {before_name} to compare with"
    if now == before:
        return f"the same as in {before_name}"
    direction = "up" if now > before else "down"
    return f"{direction} from {before:.1f}% in {before_name} ({now - before:+.1f} points)"


def _weak_use(row: dict) -> Finding:
    name, before = period_name(row), period_name(row, previous=True)
    return Finding(
        f"{name}: {row['weak_grams']:,.0f} g of {row['grams']:,.0f} g ({row['pct_weak_grams']:.1f}%) went to orders "
        f"graded Level U (evidence insufficient) or should not be considered ({row['pct_should_not_grams']:.1f}% should "
        f"not), {_change(row['pct_weak_grams'], row['previous_pct_weak_grams'], before)}.", "weak-evidence")


def _outside(row: dict) -> Finding:
    return Finding(
        f"{row['pct_outside_grams']:.1f}% of grams in {period_name(row)} were for uses outside this guideline, which "
        f"grades neuromuscular disorders only: {row['pct_outside_other_grams']:.1f}% for conditions outside neuromuscular "
        f"disease (immunodeficiency, ITP...) and {row['pct_outside_neuromuscular_grams']:.1f}% for neuromuscular uses it "
        "does not grade. Outside the guideline is not the same as inappropriate.", "headline")


def _cidp(con: duckdb.DuckDBPyConnection) -> Finding:
    reviewed, suspected = cidp_counts(con)
    if not reviewed:
        return Finding("No CIDP patient to review.", "cidp")
    return Finding(f"{suspected:,} of {reviewed:,} CIDP patients reviewed have treatment that deserves review "
                   "(overuse suspected).", "cidp")


def _movers(con: duckdb.DuckDBPyConnection, row: dict) -> Finding | None:
    moved = con.execute("""
        SELECT condition_label, change_grams FROM mart_quarterly_usage_periods_by_condition
        WHERE period_kind = 'quarter' AND ending_quarter = ? AND change_grams <> 0 LIMIT 3""",
                        [row["ending_quarter"]]).fetchall()
    if not moved:
        return None
    changes = "; ".join(f"{label} {change:+,.0f} g" for label, change in moved)
    return Finding(f"Biggest changes in grams, {period_name(row)} against {period_name(row, previous=True)}: {changes}.",
                   "conditions")


def _data_quality(con: duckdb.DuckDBPyConnection) -> Finding:
    read, quarantined, rejected = con.execute("""
        SELECT coalesce(sum(rows_read), 0), coalesce(sum(rows_quarantined), 0), count(*) FILTER (WHERE status = 'rejected')
        FROM ingest_batches""").fetchall()[0]
    unknown, all_orders = con.execute("""
        SELECT coalesce(sum(orders) FILTER (WHERE recommendation = 'unknown_indication'), 0), coalesce(sum(orders), 0)
        FROM mart_recommendation_summary""").fetchall()[0]
    share = f" ({100 * quarantined / read:.1f}%)" if read else ""
    unknown_share = f" ({100 * unknown / all_orders:.1f}% of orders)" if all_orders else ""
    return Finding(f"Data quality: {quarantined:,} of {read:,} rows read were quarantined{share}, {rejected:,} files "
                   f"rejected, and {unknown:,} orders{unknown_share} named no usable indication, so could not be graded.",
                   "data-quality")
