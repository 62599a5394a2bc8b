"""Write a table or view of the audit database to CSV or Parquet with DuckDB's COPY (no rows pass
through Python). In CSV, text that a spreadsheet would run as a formula (starting with = + - @, tab
or carriage return) is prefixed with an apostrophe, as OWASP advises for CSV injection."""
from pathlib import Path

import duckdb

from pipelines.db import AuditError, quote_identifier


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
