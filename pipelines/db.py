"""DuckDB connections, running the project's SQL files, and building a run's database beside the
one analysts read."""
import fcntl
import os
import shutil
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from pipelines.paths import SQL_DIR


# DuckDB's own memory, beyond which it spills to <db>.tmp; Python, Prefect and Great Expectations
# add about 0.5 GB to the process (docs/performance.md).
MEMORY_LIMIT_ENV = "IVIG_AUDIT_MEMORY_LIMIT"
DEFAULT_MEMORY_LIMIT = "1GB"


class AuditError(Exception):
    """A problem the user can fix; the CLI prints it as one line and exits non-zero."""


def connect(db_path: Path | str, read_only: bool = False,
            writable_files: tuple[Path, ...] = (), writable_dir: Path | None = None) -> duckdb.DuckDBPyConnection:
    """Open the audit database with the project's macros loaded and DuckDB's memory limited. A
    read-only connection is also sandboxed: no file is read or written but the database (and
    writable_files, or files in writable_dir), no extension installed or loaded, and no setting changed, so analysts' SQL
    (`ivig-audit sql`) can only read the audit tables."""
    if db_path != ":memory:":
        db_path = Path(db_path)
        if read_only and not db_path.exists():
            raise AuditError(f"{db_path}: no audit database here (run 'ivig-audit run' first)")
        db_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        con = duckdb.connect(str(db_path), read_only=read_only)
    except duckdb.IOException as exc:
        raise AuditError(f"{db_path}: cannot open the database ({str(exc).splitlines()[0]})") from exc
    try:
        con.execute("SET memory_limit = ?", [os.environ.get(MEMORY_LIMIT_ENV, DEFAULT_MEMORY_LIMIT)])
    except duckdb.Error as exc:
        raise AuditError(f"{MEMORY_LIMIT_ENV}: {str(exc).splitlines()[0]}") from exc
    run_sql_file(con, "macros.sql")
    if read_only:
        if writable_files:
            con.execute("SET allowed_paths = ?", [[str(Path(path).resolve()) for path in writable_files]])
        if writable_dir:
            con.execute("SET allowed_directories = ?", [[str(Path(writable_dir).resolve())]])
        for setting in ("autoinstall_known_extensions", "autoload_known_extensions", "enable_external_access"):
            con.execute(f"SET {setting} = false")
        con.execute("SET lock_configuration = true")
    return con


def run_sql_file(con: duckdb.DuckDBPyConnection, relative: str, params: dict | None = None) -> None:
    """Execute every statement of sql/<relative>, binding named parameters ($name). With
    IVIG_AUDIT_SQL_TIMINGS=1 each file's time goes to stderr (docs/performance.md)."""
    params = params or {}
    started = time.perf_counter()
    for statement in con.extract_statements((SQL_DIR / relative).read_text(encoding="utf-8")):
        wanted = {name: params[name] for name in statement.named_parameters}
        con.execute(statement, wanted).fetchall()
    if os.environ.get("IVIG_AUDIT_SQL_TIMINGS") == "1":
        print(f"sql/{relative}: {time.perf_counter() - started:.2f} s", file=sys.stderr)


def quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def insert_rows(con: duckdb.DuckDBPyConnection, table: str, rows: list[dict]) -> None:
    """Insert small reference rows (dicts with the same keys) into an existing table."""
    if rows:
        columns = list(rows[0])
        con.executemany(
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})",
            [[row[c] for c in columns] for row in rows])


@contextmanager
def building(db_path: Path) -> Iterator[Path]:
    """Yield the file a run writes: a copy of the database, <db>.building, swapped in atomically
    (rename) when the run completes. DuckDB allows one writer or many readers per file; this way
    the writer never holds <db>, so analysts' read-only connections never fail during a run and
    see the previous run's data until the swap. A failed or killed run leaves <db> as it was.
    An exclusive lock on <db>.lock keeps two runs from building at once."""
    db_path = Path(db_path)
    db_path.parent.mkdir(parents=True, exist_ok=True)
    work = Path(f"{db_path}.building")
    with open(f"{db_path}.lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise AuditError(f"{db_path}: another audit run is writing this database") from None
        _remove(work)
        if db_path.exists():
            shutil.copyfile(db_path, work)
            if Path(f"{db_path}.wal").exists():  # left by a writer that stopped without a checkpoint
                shutil.copyfile(f"{db_path}.wal", f"{work}.wal")
        try:
            yield work
        except BaseException:
            _remove(work)
            raise
        Path(f"{db_path}.wal").unlink(missing_ok=True)  # replayed into the copy already
        os.replace(work, db_path)


def _remove(database: Path) -> None:
    database.unlink(missing_ok=True)
    Path(f"{database}.wal").unlink(missing_ok=True)
