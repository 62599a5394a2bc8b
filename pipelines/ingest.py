"""Ingest one extract file as one batch: read it, stage it in SQL, validate it with the checks
registry, and load it in a single transaction, so a batch is either wholly in the database or not
at all. Reading, staging and validating happen before the transaction and write only to the
in-memory `stage` database and temp tables."""
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import duckdb

from pipelines import readers, validate
from pipelines.db import run_sql_file
from pipelines.profile import SiteProfile
from pipelines.reference import Reference, write_reference


@dataclass
class BatchResult:
    source_file: str
    status: str  # loaded | rejected | skipped (already ingested)
    kind: str | None = None
    batch_id: int | None = None
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    rows_unchanged: int = 0
    reason: str | None = None


def prepare(con: duckdb.DuckDBPyConnection, loaded: Reference) -> None:
    """Create the tables, write the reference data (staging looks up ref_measures), and attach
    `stage`, the in-memory database where a batch is staged and validated before it is loaded."""
    run_sql_file(con, "schema.sql")
    con.execute("BEGIN TRANSACTION")
    write_reference(con, loaded)
    con.execute("COMMIT")
    if not con.execute("SELECT 1 FROM duckdb_databases() WHERE database_name = 'stage'").fetchall():
        con.execute("ATTACH ':memory:' AS stage")


def ingest_file(con: duckdb.DuckDBPyConnection, path: Path, profile: SiteProfile,
                hmac_pads: dict[str, bytes], today: date | None = None) -> BatchResult:
    facts = readers.inspect_file(path)
    settings = profile.fingerprint()
    seen = con.execute("""
        SELECT batch_id, status FROM ingest_batches
        WHERE sha256 = ? AND (status = 'loaded' OR settings_sha256 = ?)
        ORDER BY batch_id LIMIT 1""", [facts.sha256, settings]).fetchall()
    if seen:
        return BatchResult(str(path), "skipped", batch_id=seen[0][0],
                           reason=f"same content as batch {seen[0][0]} ({seen[0][1]})")
    started_at = datetime.now()
    checks: list[validate.CheckResult] = []
    try:
        extract = readers.read_extract(con, path, facts, profile)
    except readers.UnreadableFile as exc:
        extract = None
        problem, kind, note = str(exc), profile.kind, None
    else:
        problem, kind, note = extract.problem, extract.kind, extract.note
        run_sql_file(con, f"staging/stg_{kind}.sql", {**profile.parse_params(), **hmac_pads})
        if problem is None:
            checks = validate.run_checks(con, kind, today or date.today())
        else:
            validate.reset_check_tables(con)
        run_sql_file(con, "staging/checked.sql", {"file_problem": problem})

    con.execute("BEGIN TRANSACTION")
    try:
        batch_id = con.execute("SELECT nextval('batch_id_seq')").fetchall()[0][0]
        result = BatchResult(str(path), "rejected" if problem else "loaded", kind, batch_id,
                             reason="; ".join(filter(None, [problem, note])) or None)
        if extract is not None:
            run_sql_file(con, f"core/load_{kind}.sql", {"batch_id": batch_id})
            (result.rows_read, result.rows_loaded, result.rows_quarantined,
             result.rows_unchanged) = _batch_counts(con)
        if checks:
            con.executemany(
                "INSERT INTO dq_results VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [[batch_id, c.check_id, c.column_name, c.expectation, c.severity, c.violated, c.denominator,
                  c.percent, c.status, c.message] for c in checks])
        con.execute(
            "INSERT INTO ingest_batches VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, now()::TIMESTAMP)",
            [batch_id, str(path), facts.sha256, settings, kind, profile.site, result.rows_read,
             result.rows_loaded, result.rows_quarantined, result.rows_unchanged, result.status, result.reason,
             started_at])
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return result


def _batch_counts(con: duckdb.DuckDBPyConnection) -> tuple[int, int, int, int]:
    """rows read, loaded, quarantined, unchanged: read = loaded + quarantined + unchanged."""
    return con.execute("""
        WITH unparsed AS (SELECT count(*) AS n FROM raw_rejects)
        SELECT count(change_kind) + any_value(unparsed.n),
               count(*) FILTER (WHERE change_kind IN ('new', 'changed')),
               count(*) FILTER (WHERE change_kind = 'quarantined') + any_value(unparsed.n),
               count(*) FILTER (WHERE change_kind = 'unchanged')
        FROM unparsed LEFT JOIN stg_changes ON true""").fetchall()[0]
