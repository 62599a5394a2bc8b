"""The data dictionary (sql/dictionary.yaml) written into the database as COMMENT ON, and read back
from the database as Markdown for `ivig-audit docs`."""
import duckdb

from pipelines.db import AuditError, quote_identifier
from pipelines.paths import SQL_DIR
from pipelines.yaml_data import read_yaml

PUBLIC = "schema_name = 'main' AND database_name = current_database() AND NOT internal"


def apply_comments(con: duckdb.DuckDBPyConnection) -> None:
    """COMMENT ON every public table and column; a table or column without a description stops
    the run, so the dictionary cannot fall behind the schema."""
    dictionary = read_yaml(SQL_DIR / "dictionary.yaml")
    shared, tables = dictionary["columns"], dictionary["tables"]
    for table, kind in con.execute(f"""
            SELECT table_name, 'TABLE' FROM duckdb_tables() WHERE {PUBLIC}
            UNION ALL SELECT view_name, 'VIEW' FROM duckdb_views() WHERE {PUBLIC} ORDER BY 1""").fetchall():
        entry = tables.get(table)
        if entry is None:
            raise AuditError(f"sql/dictionary.yaml: no description of table {table}")
        con.execute(f"COMMENT ON {kind} {quote_identifier(table)} IS {_literal(entry['description'])}")
        for (column,) in con.execute("SELECT column_name FROM duckdb_columns() WHERE table_name = ? AND "
                                     f"{PUBLIC} ORDER BY column_index", [table]).fetchall():
            text = entry.get("columns", {}).get(column) or shared.get(column)
            if text is None:
                raise AuditError(f"sql/dictionary.yaml: no description of column {table}.{column}")
            con.execute(f"COMMENT ON COLUMN {quote_identifier(table)}.{quote_identifier(column)} IS {_literal(text)}")


def markdown(con: duckdb.DuckDBPyConnection) -> str:
    """The data dictionary from the database's own comments."""
    lines = ["# IVIg audit database: data dictionary", ""]
    tables = con.execute(f"""
        SELECT table_name, comment FROM duckdb_tables() WHERE {PUBLIC}
        UNION ALL SELECT view_name, comment FROM duckdb_views() WHERE {PUBLIC} ORDER BY 1""").fetchall()
    for table, comment in tables:
        lines += [f"## {table}", "", comment or "(no description)", "", "| column | type | description |",
                  "|---|---|---|"]
        for column, data_type, text in con.execute(
                f"SELECT column_name, data_type, comment FROM duckdb_columns() WHERE table_name = ? AND {PUBLIC} "
                "ORDER BY column_index", [table]).fetchall():
            lines.append(f"| {column} | {data_type} | {(text or '').replace('|', '/')} |")
        lines.append("")
    return "\n".join(lines)


def _literal(text: str) -> str:
    return "'" + " ".join(str(text).split()).replace("'", "''") + "'"
