"""Classify orders against a guideline rule set: all logic is in sql/audit/."""
import duckdb

from pipelines.db import run_sql_file


def classify_orders(con: duckdb.DuckDBPyConnection, ruleset_id: str) -> None:
    """Rebuild indication_resolution and order_audit from `orders`, with the reference data that
    ingest.prepare wrote."""
    run_sql_file(con, "audit/indication_resolution.sql")
    run_sql_file(con, "audit/order_audit.sql", {"ruleset_id": ruleset_id})
