"""DuckDB connections, running the project's SQL files, and what a run holds on disk: its lock, its
private scratch folder, and the copy of the database it builds beside the one analysts read."""
import fcntl
import graphlib
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb

from pipelines.paths import SQL_DIR


# DuckDB's own memory, beyond which it spills to its temp directory (a run's: <db>.scratch); Python,
# Prefect and Great Expectations add about 0.5 GB to the process (docs/performance.md).
MEMORY_LIMIT_ENV = "IVIG_AUDIT_MEMORY_LIMIT"
DEFAULT_MEMORY_LIMIT = "1GB"


class AuditError(Exception):
    """A problem the user can fix; the CLI prints it as one line and exits non-zero."""


def connect(db_path: Path | str, read_only: bool = False, scratch: Path | None = None,
            writable_files: tuple[Path, ...] = (), writable_dir: Path | None = None) -> duckdb.DuckDBPyConnection:
    """Open the audit database with the project's macros loaded and DuckDB's memory limited. A
    connection that writes spills into a private folder: `scratch`, else the database's own
    (scratch_folder). A read-only connection is sandboxed: no file is read or written but the
    database (and writable_files, or files in writable_dir), no extension installed or loaded, and
    no setting changed, so analysts' SQL (`ivig-audit sql`) can only read the audit tables."""
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
        con.execute("SET memory_limit = ?", [memory_limit()])
    except duckdb.Error as exc:
        raise AuditError(f"{MEMORY_LIMIT_ENV}: {str(exc).splitlines()[0]}") from exc
    if db_path != ":memory:" and not read_only:
        con.execute("SET temp_directory = ?", [str(_private(scratch or scratch_folder(db_path)))])
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


def memory_limit() -> str:
    return os.environ.get(MEMORY_LIMIT_ENV, DEFAULT_MEMORY_LIMIT)


def scratch_folder(db_path: Path) -> Path:
    """<db>.scratch: where a run's temporary files go (DuckDB's spills, decoded copies of extracts;
    they can hold raw identifiers), readable by the owner only and cleared by every run. Not
    <db>.tmp, DuckDB's default, where analysts' read-only connections spill."""
    return Path(f"{db_path}.scratch")


def reset_scratch(db_path: Path) -> Path:
    """Empty the scratch folder (a killed run's spills and copies go with it), as a run starts,
    under its lock. Also removes <db>.building.tmp, where runs spilled before the scratch folder."""
    for folder in (scratch_folder(db_path), Path(f"{db_path}.building.tmp")):
        shutil.rmtree(folder, ignore_errors=True)
    return _private(scratch_folder(db_path))


def _private(folder: Path) -> Path:
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    folder.chmod(0o700)  # in case it was made before with other permissions
    return folder


def check_writable(folder: Path, what: str) -> None:
    """Stop with one line, before any work, when a folder the run writes in cannot be made or
    written (permissions, a read-only disk, a file in the way)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise AuditError(f"{folder}: cannot write the {what} here ({exc.strerror or exc})") from None


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


# A derived model (sql/audit/, sql/analysis/, sql/marts/) is one file: a header, then one query (import
# CTEs, logic CTEs, a final select), which statements making temp tables for it may precede. The
# header is the file's first lines, `-- key: value` (a value may go on over lines indented deeper):
#   model:  the table the query's rows go to
#   kind:   full                   the table is made afresh from the query;
#           incremental by patient the rows of the patients in scope (patients_in_scope,
#                                  sql/audit/scope.sql) are deleted and the query's inserted;
#           incremental by batch   the rows whose `unique_key` columns match a row of `scope` (what a
#                                  run's batches touch, e.g. orders_to_replace) likewise.
#           An incremental model's table is made from its query when it does not exist (as after
#           classify.classify_orders drops the derived tables for a full rebuild).
#   grain:  what one row is
#   reads:  the tables and views the query reads, comma-separated; run_models orders models by them
#   unique_key, scope: for incremental by batch only, e.g. `unique_key: site, order_id`,
#           `scope: orders_to_replace`
# The delete and the insert (or the create) are made here, once, not in each file.
MODEL_KINDS = ("full", "incremental by patient", "incremental by batch")
_HEADER_KEYS = ("model", "kind", "grain", "reads", "unique_key", "scope")


@dataclass(frozen=True)
class Model:
    file: str  # relative to sql/
    name: str
    kind: str
    grain: str
    reads: tuple[str, ...]
    unique_key: tuple[str, ...]
    scope: str | None
    sql: str  # the statements after the header


class ModelError(AuditError):
    """A model file without its header, or models whose inputs cannot be ordered or found."""


def read_model(relative: str) -> Model:
    """Parse sql/<relative>'s header; refuse the file with one line when it has none or it is incomplete."""
    lines = (SQL_DIR / relative).read_text(encoding="utf-8").splitlines()
    header: dict[str, str] = {}
    key = None
    for number, line in enumerate(lines):
        found = re.fullmatch(r"--\s?(\w+):\s*(.*)", line)
        if found and found[1] in _HEADER_KEYS and found[1] not in header:
            key = found[1]
            header[key] = found[2].strip()
        elif key and re.match(r"--\s{2,}\S", line):
            header[key] += " " + line[2:].strip()
        else:
            break
    problem = None
    missing = [k for k in ("model", "kind", "grain", "reads") if not header.get(k)]
    if missing:
        problem = f"no model header ({', '.join(f'-- {k}:' for k in missing)} missing)"
    elif header["kind"] not in MODEL_KINDS:
        problem = f"kind '{header['kind']}' is not one of {', '.join(MODEL_KINDS)}"
    elif (header["kind"] == "incremental by batch") != bool(header.get("unique_key") and header.get("scope")):
        problem = "unique_key and scope go with kind 'incremental by batch', and only with it"
    if problem:
        raise ModelError(f"sql/{relative}: {problem}")
    return Model(relative, header["model"], header["kind"], header["grain"], _names(header["reads"]),
                 _names(header.get("unique_key", "")), header.get("scope"), "\n".join(lines[number:]))


def _names(value: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in value.split(",") if name.strip())


def run_models(con: duckdb.DuckDBPyConnection, relatives: list[str], params: dict | None = None) -> None:
    """Run the models of sql/<relative> files, each after the models it reads (in the order given
    where they do not depend on each other). Stops with one line on a cycle, or on an input that
    neither a model given nor the database has, before anything is run."""
    models: dict[str, Model] = {}
    for model in map(read_model, relatives):
        if model.name in models:
            raise ModelError(f"sql/{model.file}: model {model.name} is also made by sql/{models[model.name].file}")
        models[model.name] = model
    order = graphlib.TopologicalSorter()
    for model in models.values():
        order.add(model.name, *(name for name in model.reads if name in models))
    try:
        ordered = list(order.static_order())
    except graphlib.CycleError as exc:
        raise ModelError(f"models read each other in a cycle: {' -> '.join(exc.args[1])}") from None
    present = {name for (name,) in con.execute(
        "SELECT table_name FROM duckdb_tables() UNION SELECT view_name FROM duckdb_views()").fetchall()}
    for model in models.values():
        unknown = [name for name in model.reads if name not in models and name not in present]
        if unknown:
            raise ModelError(f"sql/{model.file}: reads {', '.join(unknown)}, which no model given makes "
                             "and the database does not have")
    for name in ordered:
        run_model(con, models[name], params)


def run_model(con: duckdb.DuckDBPyConnection, model: Model, params: dict | None = None) -> None:
    """Write one model's rows (its kind says how; the header comment above) inside the caller's
    transaction. With IVIG_AUDIT_SQL_TIMINGS=1 its time goes to stderr, like run_sql_file's."""
    params = params or {}
    started = time.perf_counter()
    *before, query = con.extract_statements(model.sql)
    if query.type != duckdb.StatementType.SELECT:
        raise ModelError(f"sql/{model.file}: the last statement must be the model's query (a SELECT)")
    for statement in before:
        con.execute(statement, {name: params[name] for name in statement.named_parameters}).fetchall()
    bound = {name: params[name] for name in query.named_parameters}
    table, select = quote_identifier(model.name), query.query.strip().rstrip(";")
    exists = con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = ? AND schema_name = 'main' "
                         "AND database_name = current_database()",
                         [model.name]).fetchone()[0]
    if model.kind == "full" or not exists:
        con.execute(f"CREATE OR REPLACE TABLE {table} AS {select}", bound)
    else:
        if model.kind == "incremental by patient":
            con.execute(f"DELETE FROM {table} WHERE patient_seq IN (SELECT patient_seq FROM patients_in_scope)")
        else:
            keys = list(map(quote_identifier, model.unique_key))
            con.execute(f"DELETE FROM {table} AS m USING (SELECT DISTINCT {', '.join(keys)} FROM "
                        f"{quote_identifier(model.scope)}) AS s WHERE "
                        + " AND ".join(f"m.{k} IS NOT DISTINCT FROM s.{k}" for k in keys))
        con.execute(f"INSERT INTO {table} BY NAME {select}", bound)
    if os.environ.get("IVIG_AUDIT_SQL_TIMINGS") == "1":
        print(f"sql/{model.file}: {time.perf_counter() - started:.2f} s", file=sys.stderr)


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
def run_lock(db_path: Path) -> Iterator[None]:
    """Hold <db>.lock exclusively: one run per database at a time. The command line takes it before
    Prefect starts, so a second run stops at once; the flow, in the same process, takes it again
    without waiting (a scheduled run under `serve` takes it itself)."""
    key = Path(db_path).resolve()
    if key in _held_locks:
        yield
        return
    Path(db_path).parent.mkdir(parents=True, exist_ok=True)
    with open(f"{db_path}.lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise AuditError(f"{db_path}: another audit run is writing this database") from None
        _held_locks.add(key)
        try:
            yield
        finally:
            _held_locks.discard(key)


_held_locks: set[Path] = set()


@contextmanager
def building(db_path: Path) -> Iterator[Path]:
    """Yield the file a run writes: a copy of the database, <db>.building, swapped in atomically
    (rename) when the run completes. DuckDB allows one writer or many readers per file; this way
    the writer never holds <db>, so analysts' read-only connections never fail during a run and
    see the previous run's data until the swap. A failed or killed run leaves <db> as it was.
    Call it under run_lock."""
    db_path = Path(db_path)
    work = Path(f"{db_path}.building")
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
