"""Ingest one extract file as one batch: read it and stage it in SQL, validate it with the checks
registry, and load it in a single transaction, so a batch is either wholly in the database or not
at all. Reading, staging and validating happen before the transaction and write only to the
in-memory `stage` database and temp tables, and number the file's new patients in patient_keys
(sql/staging/stg_patients.sql)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from pipelines import readers
from pipelines.db import run_sql_file
from pipelines.profile import SiteProfile
from pipelines.reference import Reference, write_reference

if TYPE_CHECKING:  # imports Great Expectations (seconds): only when a file is validated
    from pipelines import validate


@dataclass
class BatchResult:
    """One inbox entry's outcome. A rejected file that could not be opened, a skipped file (seen
    before, changed while read, or not an extract) has no batch row: batch_id None."""
    source_file: str
    status: str  # loaded | rejected | skipped (already ingested, changed while read, or not an extract)
    kind: str | None = None
    batch_id: int | None = None
    rows_read: int = 0
    rows_loaded: int = 0  # rows_replaced of them replaced an order (or assessment) loaded before
    rows_quarantined: int = 0
    rows_unchanged: int = 0
    rows_replaced: int = 0
    reason: str | None = None


def prepare(con: duckdb.DuckDBPyConnection, loaded: Reference) -> None:
    """Create the tables, write the reference data (staging looks up ref_measures), and attach
    `stage`, the in-memory database where a batch is staged and validated before it is loaded."""
    run_sql_file(con, "schema.sql")
    unnumbered = " OR ".join(f"EXISTS (FROM {table} WHERE patient_seq IS NULL)"
                             for table in ("orders", "orders_history", "assessments", "assessments_history"))
    if con.execute(f"SELECT {unnumbered}").fetchall()[0][0]:
        run_sql_file(con, "core/number_patients.sql")  # a database made before patient_keys
    con.execute("BEGIN TRANSACTION")
    write_reference(con, loaded)
    con.execute("COMMIT")
    if not con.execute("SELECT 1 FROM duckdb_databases() WHERE database_name = 'stage'").fetchall():
        con.execute("ATTACH ':memory:' AS stage")


@dataclass
class StagedExtract:
    """A file read and staged (in `stage` and temp tables), waiting to be validated and loaded."""
    path: Path
    facts: readers.FileFacts
    size_and_mtime: tuple[int, int]  # the file's size and modification time (ns) before it was hashed
    settings_sha256: str
    site: str | None
    started_at: datetime
    kind: str | None
    problem: str | None  # why the file cannot be used, if it cannot
    note: str | None
    read: bool  # False when no row could be read at all


def read(con: duckdb.DuckDBPyConnection, path: Path, profile: SiteProfile,
         hmac_pads: dict[str, bytes]) -> StagedExtract | BatchResult:
    """Read and stage one file; a BatchResult when there is nothing to stage: its content was
    ingested before (skipped), it changed while it was read (skipped, read again next run: it is
    being written), or it cannot be opened (rejected, tried again next run)."""
    settings = profile.fingerprint()
    try:
        before = _file_state(path)  # before hashing: a file that changes meanwhile no longer matches
        seen = seen_unchanged(con, path, before, settings)
        if seen:
            return seen
        facts = readers.inspect_file(path)
        seen = con.execute("""
            SELECT batch_id, status, source_size IS NULL AND parse_filename(source_file) = ? FROM ingest_batches
            WHERE sha256 = ? AND (status = 'loaded' OR settings_sha256 = ?)
            ORDER BY batch_id LIMIT 1""", [path.name, facts.sha256, settings]).fetchall()
        if seen:
            batch_id, status, made_before_sizes = seen[0]
            if made_before_sizes:  # a batch of a database made before source_size: not hashed next time
                con.execute("UPDATE ingest_batches SET source_size = ?, source_mtime_ns = ? WHERE batch_id = ?",
                            [*before, batch_id])
            return _skipped(path, batch_id, status)
        started_at = datetime.now()
        try:
            extract = readers.read_extract(con, path, facts, profile)
        except readers.UnreadableFile as exc:
            extract = exc
        changed = _file_state(path) != before
    except OSError as exc:
        return BatchResult(str(path), "rejected", reason=f"cannot be read ({exc.strerror or type(exc).__name__}); "
                                                         "tried again next run")
    if changed:
        return BatchResult(str(path), "skipped", reason="changed while it was read (still being written?); "
                                                        "read again next run")
    if isinstance(extract, readers.UnreadableFile):
        return StagedExtract(path, facts, before, settings, profile.site, started_at, profile.kind, str(extract),
                             None, False)
    params = {**profile.parse_params(), **hmac_pads}
    run_sql_file(con, "staging/stg_patients.sql", params)
    run_sql_file(con, f"staging/stg_{extract.kind}.sql", params)
    con.execute("DROP TABLE stage.patients")
    return StagedExtract(path, facts, before, settings, profile.site, started_at, extract.kind,
                         extract.problem, extract.note, True)


def seen_unchanged(con: duckdb.DuckDBPyConnection, path: Path, size_and_mtime: tuple[int, int],
                   settings_sha256: str) -> BatchResult | None:
    """A file with the name, size and modification time of a batch already seen, as skipped, without
    hashing it (3 s for a 1 GB extract); None when it must be hashed (its content is the identity)."""
    seen = con.execute("""
        SELECT batch_id, status FROM ingest_batches
        WHERE source_size = ? AND source_mtime_ns = ? AND parse_filename(source_file) = ?
          AND (status = 'loaded' OR settings_sha256 = ?)
        ORDER BY batch_id LIMIT 1""", [*size_and_mtime, path.name, settings_sha256]).fetchall()
    return _skipped(path, *seen[0]) if seen else None


def _skipped(path: Path, batch_id: int, status: str) -> BatchResult:
    return BatchResult(str(path), "skipped", batch_id=batch_id, reason=f"same content as batch {batch_id} ({status})")


def _file_state(path: Path) -> tuple[int, int]:
    """Size and modification time: a file being written changes them."""
    status = os.stat(path)
    return status.st_size, status.st_mtime_ns


def validate_staged(con: duckdb.DuckDBPyConnection, staged: StagedExtract,
                    today: date | None = None) -> list[validate.CheckResult]:
    """Run the checks registry on the staged rows and mark each row's failures."""
    from pipelines import validate
    checks: list[validate.CheckResult] = []
    if staged.read:
        if staged.problem is None:
            checks = validate.run_checks(con, staged.kind, today or date.today())
        else:
            validate.reset_check_tables(con)
        run_sql_file(con, "staging/checked.sql", {"file_problem": staged.problem})
    return checks


def load(con: duckdb.DuckDBPyConnection, staged: StagedExtract, checks: list[validate.CheckResult]) -> BatchResult:
    """Load, quarantine, check results and the batch row, in one transaction."""
    con.execute("BEGIN TRANSACTION")
    try:
        batch_id = con.execute("SELECT nextval('batch_id_seq')").fetchall()[0][0]
        result = BatchResult(str(staged.path), "rejected" if staged.problem else "loaded", staged.kind, batch_id,
                             reason="; ".join(filter(None, [staged.problem, staged.note])) or None)
        if staged.read:
            run_sql_file(con, f"core/load_{staged.kind}.sql", {"batch_id": batch_id})
            (result.rows_read, result.rows_loaded, result.rows_quarantined, result.rows_unchanged,
             result.rows_replaced) = _batch_counts(con)
        if checks:
            con.executemany(
                "INSERT INTO dq_results VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [[batch_id, c.check_id, c.column_name, c.expectation, c.severity, c.violated, c.denominator,
                  c.percent, c.status, c.message] for c in checks])
        con.execute("""
            INSERT INTO ingest_batches (batch_id, source_file, sha256, settings_sha256, kind, site, rows_read,
                rows_loaded, rows_quarantined, rows_unchanged, rows_replaced, status, reason, started_at,
                finished_at, source_size, source_mtime_ns)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, now()::TIMESTAMP, ?, ?)""",
            [batch_id, str(staged.path), staged.facts.sha256, staged.settings_sha256, staged.kind, staged.site,
             result.rows_read, result.rows_loaded, result.rows_quarantined, result.rows_unchanged,
             result.rows_replaced, result.status, result.reason, staged.started_at, *staged.size_and_mtime])
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return result


def ingest_file(con: duckdb.DuckDBPyConnection, path: Path, profile: SiteProfile,
                hmac_pads: dict[str, bytes], today: date | None = None) -> BatchResult:
    """read, validate_staged and load in a row (the flow runs them as separate tasks)."""
    staged = read(con, path, profile, hmac_pads)
    if isinstance(staged, BatchResult):
        return staged
    return load(con, staged, validate_staged(con, staged, today))


def release_staging(con: duckdb.DuckDBPyConnection) -> None:
    """Drop the last file's text copy and staged rows: after the ingest they only hold memory (or
    spill) that the classification and analysis need."""
    for table in ("temp.raw_file", "temp.stg_changes", "stage.patients", "stage.staged", "stage.check_failures"):
        con.execute(f"DROP TABLE IF EXISTS {table}")


def _batch_counts(con: duckdb.DuckDBPyConnection) -> tuple[int, int, int, int, int]:
    """rows read, loaded, quarantined, unchanged, replaced: read = loaded + quarantined + unchanged,
    and the replaced (corrections of rows loaded before) are counted within loaded."""
    return con.execute("""
        WITH unparsed AS (SELECT count(*) AS n FROM raw_rejects)
        SELECT count(change_kind) + any_value(unparsed.n),
               count(*) FILTER (WHERE change_kind IN ('new', 'changed')),
               count(*) FILTER (WHERE change_kind = 'quarantined') + any_value(unparsed.n),
               count(*) FILTER (WHERE change_kind = 'unchanged'),
               count(*) FILTER (WHERE change_kind = 'changed')
        FROM unparsed LEFT JOIN stg_changes ON true""").fetchall()[0]
