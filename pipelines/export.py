"""Write a table or view of the audit database to CSV or Parquet with DuckDB's COPY (no rows pass
through Python). In CSV, text that a spreadsheet would run as a formula (starting with = + - @, tab
or carriage return) is prefixed with an apostrophe, as OWASP advises for CSV injection."""
from pathlib import Path

import duckdb

from pipelines.db import AuditError, quote_identifier

# The full lists behind the page (<out>/exports/*.csv): they grow with the orders.
LISTS = ("mart_weak_evidence_by_condition", "mart_weak_evidence_orders", "mart_cidp_suspected", "mart_usage_by_group",
         "mart_condition_recommendation", "mart_monthly_grams", "mart_quarantine_reasons", "mart_data_quality_batches",
         "mart_indication_review")


def list_paths(out_dir: Path) -> dict[str, Path]:
    return {name: out_dir / "exports" / f"{name.removeprefix('mart_')}.csv" for name in LISTS}


def export_lists(con: duckdb.DuckDBPyConnection, out_dir: Path) -> dict[str, Path]:
    """Write <out>/exports/*.csv, the full lists, from the marts."""
    return {name: export(con, name, path) for name, path in list_paths(out_dir).items()}


def export(con: duckdb.DuckDBPyConnection, relation: str, path: Path, file_format: str = "csv") -> Path:
    columns = con.execute("SELECT column_name, data_type FROM information_schema.columns "
                          "WHERE table_schema = 'main' AND table_name = ? ORDER BY ordinal_position",
                          [relation]).fetchall()
    if not columns:
        raise AuditError(f"no table or view named {relation!r} in the audit database")
    if file_format == "csv":
        select = ", ".join(_csv_safe(name, data_type) for name, data_type in columns)
        options = "FORMAT csv, HEADER true"
    elif file_format == "parquet":
        select, options = "*", "FORMAT parquet"
    else:
        raise AuditError(f"export format must be csv or parquet, not {file_format!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    con.execute(f"COPY (SELECT {select} FROM {quote_identifier(relation)}) TO '{_literal(path)}' ({options})")
    return path


def _csv_safe(name: str, data_type: str) -> str:
    column = quote_identifier(name)
    if data_type.endswith("[]"):
        column = f"array_to_string({column}, '; ')"
    elif data_type not in ("VARCHAR", "JSON"):
        return column
    return f"neutralise_formula(CAST({column} AS VARCHAR)) AS {quote_identifier(name)}"


def _literal(path: Path) -> str:
    return str(path).replace("'", "''")
