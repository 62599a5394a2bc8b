"""What a run prints: files, rows, and orders by recommendation (rich tables on the terminal)."""
from pathlib import Path

import duckdb
import polars as pl
from rich.console import Console
from rich.table import Table

from pipelines.db import connect

console = Console()


def print_frame(frame: pl.DataFrame, fmt: str = "table", title: str | None = None) -> None:
    if fmt == "csv":
        print(frame.write_csv(), end="")
        return
    table = Table(title=title)
    for name in frame.columns:
        table.add_column(name, justify="right" if frame[name].dtype.is_numeric() else "left")
    for row in frame.iter_rows():
        table.add_row(*("" if v is None else str(v) for v in row))
    console.print(table)


def print_run(summary) -> None:
    if summary.key_warning:
        console.print(f"[yellow]Warning:[/] {summary.key_warning}")
    batches = pl.DataFrame([{
        "file": Path(b.source_file).name, "status": b.status, "batch": b.batch_id, "read": b.rows_read,
        "loaded": b.rows_loaded, "quarantined": b.rows_quarantined, "unchanged": b.rows_unchanged,
        "note": b.reason or ""} for b in summary.batches])
    if batches.is_empty():
        console.print("No extract files in the inbox.")
    else:
        print_frame(batches, title="Extract files")
    con: duckdb.DuckDBPyConnection = connect(summary.db_path, read_only=True)
    try:
        by_recommendation = con.sql("""
            SELECT recommendation, orders, patients, grams, pct_orders AS "% orders", pct_grams AS "% grams"
            FROM mart_recommendation_summary ORDER BY sort_order""").pl()
        ruleset = con.execute(
            "SELECT short_name, version, publisher_status FROM guideline_rulesets WHERE ruleset_id = ?",
            [summary.ruleset_id]).fetchall()[0]
    finally:
        con.close()
    print_frame(by_recommendation,
                title=f"Orders by recommendation: {ruleset[0]} ({ruleset[1]}; publisher status: {ruleset[2]})")
    console.print(f"Database: {summary.db_path}")
