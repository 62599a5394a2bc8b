"""DuckDB connections and running the project's SQL files."""
from pathlib import Path

import duckdb

from pipelines.paths import SQL_DIR


class AuditError(Exception):
    """A problem the user can fix; the CLI prints it as one line and exits non-zero."""


def connect(db_path: Path | str, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the audit database with the project's macros loaded."""
    if db_path != ":memory:":
        db_path = Path(db_path)
        if read_only and not db_path.exists():
            raise AuditError(f"{db_path}: no audit database here (run 'ivig-audit run' first)")
        db_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        con = duckdb.connect(str(db_path), read_only=read_only)
    except duckdb.IOException as exc:
        raise AuditError(f"{db_path}: cannot open the database ({str(exc).splitlines()[0]})") from exc
    run_sql_file(con, "macros.sql")
    return con


def run_sql_file(con: duckdb.DuckDBPyConnection, relative: str, params: dict | None = None) -> None:
    """Execute every statement of sql/<relative>, binding named parameters ($name)."""
    params = params or {}
    for statement in con.extract_statements((SQL_DIR / relative).read_text(encoding="utf-8")):
        wanted = {name: params[name] for name in statement.named_parameters}
        con.execute(statement, wanted).fetchall()


def insert_rows(con: duckdb.DuckDBPyConnection, table: str, rows: list[dict]) -> None:
    """Insert small reference rows (dicts with the same keys) into an existing table."""
    if rows:
        columns = list(rows[0])
        con.executemany(
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})",
            [[row[c] for c in columns] for row in rows])
