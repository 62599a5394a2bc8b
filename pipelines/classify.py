"""Classify orders against a guideline rule set: all logic is in sql/audit/."""
import duckdb

from pipelines.db import run_sql_file
from pipelines.reference import Reference, write_reference


def classify_orders(con: duckdb.DuckDBPyConnection, reference: Reference, ruleset_id: str) -> None:
    """Rebuild indication_resolution and order_audit from `orders`."""
    write_reference(con, reference)
    run_sql_file(con, "audit/indication_resolution.sql")
    run_sql_file(con, "audit/order_audit.sql", {"ruleset_id": ruleset_id})
