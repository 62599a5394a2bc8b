"""Ingest one extract file as one batch: read it with DuckDB, stage and check it in SQL, and load
it in a single transaction, so a batch is either wholly in the database or not at all."""
import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb

from pipelines.db import run_sql_file

ORDER_COLUMNS = (
    "order_id", "patient_id", "age_years", "date_of_birth", "sex", "weight_kg", "height_cm",
    "order_date", "start_date", "infusion_days", "dose_g", "product", "indication", "diagnosis_code",
    "severity", "refractory", "plasma_exchange", "with_methylprednisolone", "specialty", "department",
    "prescriber_id", "site",
)
REQUIRED_ORDER_COLUMNS = ("order_id", "patient_id", "weight_kg", "order_date", "dose_g")
READABLE_SUFFIXES = (".csv", ".txt")
ONE_OF_ORDER_COLUMNS = (("age_years", "date_of_birth"), ("indication", "diagnosis_code"))


@dataclass
class BatchResult:
    source_file: str
    status: str  # loaded | rejected | skipped (already ingested)
    batch_id: int | None = None
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    rows_unchanged: int = 0
    reason: str | None = None


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def standard_name(header: str) -> str:
    """'Order ID ' -> 'order_id': headers compare in lower case with runs of other characters as _."""
    return re.sub(r"[^a-z0-9]+", "_", header.strip().lower()).strip("_")


def ingest_file(con: duckdb.DuckDBPyConnection, path: Path, default_site: str,
                hmac_pads: dict[str, bytes]) -> BatchResult:
    sha256 = file_sha256(path)
    seen = con.execute(
        "SELECT batch_id, status FROM ingest_batches WHERE sha256 = ? ORDER BY batch_id LIMIT 1",
        [sha256]).fetchall()
    if seen:
        return BatchResult(str(path), "skipped", batch_id=seen[0][0],
                           reason=f"same content as batch {seen[0][0]} ({seen[0][1]})")
    started_at = datetime.now()
    if path.suffix.lower() in READABLE_SUFFIXES:
        problem, note = _read_orders(con, path)
    else:
        problem, note = f"unsupported file type '{path.suffix}' (readable: {', '.join(READABLE_SUFFIXES)})", None
    con.execute("BEGIN TRANSACTION")
    try:
        batch_id = con.execute("SELECT nextval('batch_id_seq')").fetchall()[0][0]
        if problem:
            result = BatchResult(str(path), "rejected", batch_id, reason=problem)
        else:
            run_sql_file(con, "staging/stg_orders.sql", {"default_site": default_site, **hmac_pads})
            run_sql_file(con, "core/load_orders.sql", {"batch_id": batch_id})
            result = BatchResult(str(path), "loaded", batch_id, *con.execute("""
                WITH unparsed AS (SELECT count(DISTINCT line) AS n FROM csv_rejects)
                SELECT count(*) + any_value(unparsed.n),
                       count(*) FILTER (WHERE change_kind IN ('new', 'changed')),
                       count(*) FILTER (WHERE change_kind = 'quarantined') + any_value(unparsed.n),
                       count(*) FILTER (WHERE change_kind = 'unchanged')
                FROM stg_changes, unparsed""").fetchall()[0], reason=note)
        con.execute("""
            INSERT INTO ingest_batches VALUES (?, ?, ?, 'orders', ?, ?, ?, ?, ?, ?, ?, ?, now()::TIMESTAMP)""",
            [batch_id, str(path), sha256, default_site, result.rows_read, result.rows_loaded,
             result.rows_quarantined, result.rows_unchanged, result.status, result.reason, started_at])
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return result


def _read_orders(con: duckdb.DuckDBPyConnection, path: Path) -> tuple[str | None, str | None]:
    """Outside any transaction, read the file into temp table raw_orders (standard names, all
    VARCHAR, source_row) and structurally bad lines into csv_rejects. Returns why the file cannot
    be used (if it cannot) and a note naming the columns that are not loaded."""
    con.execute("DROP TABLE IF EXISTS csv_rejects; DROP TABLE IF EXISTS csv_rejects_scan")
    try:
        con.execute("""
            CREATE OR REPLACE TEMP TABLE raw_file AS
            SELECT row_number() OVER () AS parsed_row, *
            FROM read_csv(?, all_varchar = true, header = true, delim = ',', quote = '"', escape = '"',
                          store_rejects = true,
                          rejects_table = 'csv_rejects', rejects_scan = 'csv_rejects_scan')""",
            [str(path)]).fetchall()
    except duckdb.Error as exc:
        return f"cannot be read as CSV: {str(exc).splitlines()[0]}", None
    headers = [row[0] for row in con.execute("DESCRIBE raw_file").fetchall()][1:]
    by_name = {}
    for header in headers:
        by_name.setdefault(standard_name(header), header)
    missing = [c for c in REQUIRED_ORDER_COLUMNS if c not in by_name]
    missing += [" or ".join(group) for group in ONE_OF_ORDER_COLUMNS if not any(c in by_name for c in group)]
    if missing:
        return f"not an orders extract: missing column(s) {', '.join(missing)}", None
    select = ", ".join(
        f'"{by_name[c]}" AS {c}' if c in by_name else f"NULL::VARCHAR AS {c}" for c in ORDER_COLUMNS)
    # rows DuckDB could not split into fields are in csv_rejects; number the good rows around them
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE raw_orders AS
        WITH rejected AS (
            SELECT DISTINCT line - 1 AS source_row FROM csv_rejects
        ),
        shifts AS (
            SELECT source_row - row_number() OVER (ORDER BY source_row) AS good_rows_before FROM rejected
        )
        SELECT parsed_row + (SELECT count(*) FROM shifts WHERE good_rows_before < parsed_row) AS source_row,
               {select}
        FROM raw_file""").fetchall()
    ignored = [h for h in headers if standard_name(h) not in ORDER_COLUMNS]
    return None, (f"columns not in the standard extract, not loaded: {', '.join(ignored)}" if ignored else None)
