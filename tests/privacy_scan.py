"""What a network output says, for privacy checks: every value of every Parquet file and DuckDB
table as text (their own encodings compress strings, so their bytes alone could hide one), and
every other file as text."""
import re
from pathlib import Path

import duckdb


def text_of(path: Path) -> str:
    if path.suffix == ".parquet":
        return _values(duckdb.connect(), f"read_parquet('{path}')")
    if path.suffix == ".duckdb":
        con = duckdb.connect(str(path), read_only=True)
        try:
            tables = [t for (t,) in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()]
            return "\n".join(_values(con, f'"{t}"') for t in tables) + path.read_bytes().decode("utf-8", errors="replace")
        finally:
            con.close()
    return path.read_bytes().decode("utf-8", errors="replace")


def leaks(folders: list[Path], forbidden: set[str]) -> dict[str, list[str]]:
    """file -> the forbidden strings found in it, over every file under the folders."""
    pattern = re.compile("|".join(re.escape(s) for s in sorted(forbidden, key=len, reverse=True)))
    found = {}
    for folder in folders:
        for path in sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.endswith(".lock")):
            hits = sorted(set(pattern.findall(text_of(path))))
            if hits:
                found[str(path)] = hits[:5]
    return found


def _values(con: duckdb.DuckDBPyConnection, relation: str) -> str:
    return "\n".join("\t".join(map(str, row)) for row in con.execute(f"SELECT COLUMNS(*)::VARCHAR FROM {relation}").fetchall())
