"""The audit run as one Prefect flow: a task per step of the data flow (docs/design.md).
Import pipelines.prefect_env.configure() first: this module imports prefect."""
import shutil
import threading
import time
from dataclasses import dataclass, field
from datetime import date, datetime
from importlib import import_module
from pathlib import Path

import duckdb
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from pipelines import analyse, classify, db, dictionary, ingest, profile, pseudonym, reference, report
from pipelines.paths import SQL_DIR
from pipelines.publish import Publication


@dataclass
class RunSummary:
    db_path: Path
    ruleset_id: str  # the primary rule set: order_audit and the main figures
    other_rulesets: tuple[str, ...] = ()  # audited beside it (order_verdicts, mart_ruleset_transitions)
    inbox: Path | None = None  # None: nothing to ingest, the stored orders audited again
    batches: list[ingest.BatchResult] = field(default_factory=list)
    key_warning: str | None = None
    dashboard: Path | None = None
    dashboard_seconds: float = 0.0


class NoUsableFile(db.AuditError):
    """Files were given and every one was rejected: the run is recorded (the database and the page
    list the rejections) and then fails, so a schedule shows it."""

    def __init__(self, message: str, summary: RunSummary | None = None):
        super().__init__(message)
        self.summary = summary


class StillBeingWritten(Exception):
    """The file changed while it was read: it is still being copied in, and a later try may work."""


@task(cache_policy=NO_CACHE)
def load_guideline(guideline: str | None, also: tuple[str, ...]) -> tuple[reference.Reference, str, tuple[str, ...]]:
    return reference.load_for_run(guideline, also)


def _still_being_written(task, task_run, state) -> bool:
    return isinstance(state.data, StillBeingWritten)


@task(cache_policy=NO_CACHE, retries=2, retry_delay_seconds=2, retry_condition_fn=_still_being_written,
      task_run_name="read {path.name}")
def read_extract(con, path: Path, site_profile: profile.SiteProfile, pads: dict):
    """Retried only when the file changed during a failed try (still being copied in): nothing else
    heals by trying again (out of memory, permissions). A failed try keeps nothing but the numbers
    of the patients it named (patient_keys)."""
    before = _size_and_mtime(path)
    try:
        return ingest.read(con, path, site_profile, pads)
    except Exception as exc:
        if _size_and_mtime(path) != before:
            raise StillBeingWritten(f"{path}: changed while it was read") from exc
        raise


def _size_and_mtime(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_size, stat.st_mtime_ns


@task(cache_policy=NO_CACHE, task_run_name="validate {staged.path.name}")
def validate_extract(con, staged: ingest.StagedExtract) -> list:
    return ingest.validate_staged(con, staged, date.today())


@task(cache_policy=NO_CACHE, task_run_name="load {staged.path.name}")
def load_extract(con, staged: ingest.StagedExtract, checks: list) -> ingest.BatchResult:
    result = ingest.load(con, staged, checks)
    get_run_logger().info("%s: %s (%d read, %d loaded of which %d replaced, %d quarantined, %d unchanged)",
                          report.printable(staged.path.name), result.status, result.rows_read, result.rows_loaded,
                          result.rows_replaced, result.rows_quarantined, result.rows_unchanged)
    return result


def ingest_extract(con, path: Path, site_profile: profile.SiteProfile, pads: dict) -> ingest.BatchResult:
    """One file through the read, validate and load tasks (a file seen before stops at read)."""
    staged = read_extract(con, path, site_profile, pads)
    if isinstance(staged, ingest.BatchResult):
        return staged
    return load_extract(con, staged, validate_extract(con, staged))


@task(cache_policy=NO_CACHE)
def classify_orders(con, ruleset_id: str, since_batch: int, others: tuple[str, ...]) -> None:
    con.execute("BEGIN TRANSACTION")
    classify.classify_orders(con, ruleset_id, since_batch, others)
    con.execute("COMMIT")


@task(cache_policy=NO_CACHE)
def analyse_treatment(con) -> None:
    con.execute("BEGIN TRANSACTION")
    analyse.analyse_treatment(con)
    con.execute("COMMIT")


RULESET_MARTS = ("patient_ruleset_paths", "ruleset_transitions", "ruleset_governance")


@task(cache_policy=NO_CACHE)
def build_marts(con, fingerprint: str, since_batch: int, rulesets_changed: bool) -> None:
    """Build every sql/marts/ model, so the dashboard reads small tables (the weak-evidence list
    keeps its rows by the orders of batches since since_batch, 0 = all; the comparison of the rule
    sets covers every patient when they changed); then record what the derived tables were built from."""
    con.execute("BEGIN TRANSACTION")
    # Each model creates its mart afresh, as a table or a view (in databases made before the marts
    # were tables, mart_recommendation_summary is a view).
    for (view,) in con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal "
                               "AND starts_with(view_name, 'mart_')").fetchall():
        con.execute(f'DROP VIEW "{view}"')
    # kept in their own shape: the list replaced by batch (first: a model reads its rows), and the
    # rule set comparison (a view among them)
    db.run_sql_file(con, "marts/weak_evidence_orders.sql", {"since_batch": since_batch})
    own_shape = {"weak_evidence_orders", *RULESET_MARTS}
    db.run_models(con, [f"marts/{path.name}" for path in sorted((SQL_DIR / "marts").glob("*.sql"))
                        if path.stem not in own_shape])
    _compare(con, every_patient=rulesets_changed)
    con.execute("DELETE FROM derived_state")
    con.execute("INSERT INTO derived_state VALUES (?, now()::TIMESTAMP)", [fingerprint])
    con.execute("COMMIT")


@task(cache_policy=NO_CACHE)
def compare_rulesets(con) -> None:
    """Only the rule sets audited beside the primary changed: rebuild the marts that compare them.
    The others, derived_state and so the full lists stay as they are: they follow the primary."""
    con.execute("BEGIN TRANSACTION")
    _compare(con, every_patient=True)
    con.execute("COMMIT")


def _compare(con, every_patient: bool) -> None:
    """The marts that compare the rule sets audited: the paths between their verdicts, kept per
    patient for the patients in scope, and the governance view. A rule set added, changed or dropped
    changes every patient's paths, so then every patient is in scope."""
    if every_patient:
        con.execute("CREATE OR REPLACE TEMP TABLE patients_in_scope AS SELECT patient_seq FROM patient_keys")
    db.run_models(con, ["marts/patient_ruleset_paths.sql", "marts/ruleset_transitions.sql"])
    db.run_sql_file(con, "marts/ruleset_governance.sql")


@task(cache_policy=NO_CACHE)
def describe_database(con) -> None:
    """Every table and column described (sql/dictionary.yaml as COMMENT ON), on every run: the
    reference tables are written anew each time."""
    con.execute("BEGIN TRANSACTION")
    dictionary.apply_comments(con)
    con.execute("COMMIT")


@task(cache_policy=NO_CACHE)
def export_lists(con, publication: Publication, db_path: Path) -> dict[str, Path]:
    return publication.stage_lists(con, db_path)


@task(cache_policy=NO_CACHE)
def publish_dashboard(con, publication: Publication, ruleset_id: str, run_started: datetime,
                      exports: dict[str, Path], read_in_place: Path | None) -> Path:
    return publication.stage_page(con, ruleset_id, run_started, exports, read_in_place)


@task(cache_policy=NO_CACHE)
def publish_summary(markdown: str) -> None:
    create_markdown_artifact(key="ivig-audit-run-summary", markdown=markdown,
                             description="Files, rows, quarantine, grams by recommendation, CIDP review")


@flow(name="ivig-audit-run", flow_run_name="audit {inbox}")
def audit_run(inbox: Path | None, db_path: Path, out_dir: Path, guideline: str | None = None,
              profile_path: Path | None = None, site: str | None = None,
              also_guidelines: list[str] | None = None) -> RunSummary:
    """One run, under the database's lock. It ingests the new files of the inbox (none when inbox
    is None: the stored orders are audited again, under the rule sets given), then classifies
    (under the primary rule set, `guideline`, and the others, `also_guidelines`), analyses and
    publishes. With nothing to write (every inbox file seen, by name, size and modification time,
    the derived tables built from this primary rule set and code, and the verdicts under these rule
    sets) it reads the database as it is; else it builds a copy and swaps it in (db.building). The
    page and the lists follow the database (pipelines/publish.py)."""
    run_started = datetime.now()
    site_profile = profile.load_profile(profile_path, site)
    loaded, ruleset_id, others = load_guideline(guideline, tuple(also_guidelines or ()))
    analyse.load_treatment()  # a malformed parameters file stops the run before any ingest
    key, key_warning = pseudonym.resolve_key(db_path)
    summary = RunSummary(db_path, ruleset_id, others, inbox, key_warning=key_warning)
    built_from = classify.fingerprint(ruleset_id, loaded.rulesets[ruleset_id][0])
    rulesets = sorted((r, reference.file_sha256(loaded.rulesets[r][0]), r == ruleset_id) for r in (ruleset_id, *others))
    with db.run_lock(db_path):
        scratch = db.reset_scratch(db_path)
        try:
            files, summary.batches = extract_files(inbox) if inbox else ([], [])
            seen, current = _seen_before(db_path, files, site_profile, built_from, rulesets)
            publication = Publication(out_dir)
            if current and None not in seen:
                with report.file_progress(len(files)) as done:
                    for batch in seen:
                        summary.batches.append(batch)
                        done(batch)
                con = db.connect(db_path, read_only=True, writable_dir=publication.staging)
                try:
                    markdown = _publish(con, summary, publication, run_started, read_in_place=db_path)
                finally:
                    con.close()
            else:
                if None in seen:
                    _import_in_background("pipelines.validate")  # Great Expectations, while the file is read
                with db.building(db_path) as work_path:
                    con = db.connect(work_path, scratch=scratch)
                    try:
                        _ingest_and_derive(con, summary, files, site_profile, loaded, key, built_from, rulesets)
                        markdown = _publish(con, summary, publication, run_started)
                    finally:
                        con.close()
            publication.move_into_place(db_path)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    publish_summary(markdown)
    if files and all(batch.status == "rejected" for batch in summary.batches if Path(batch.source_file) in files):
        raise NoUsableFile(f"{inbox}: none of the {len(files)} files could be used (all rejected)", summary)
    return summary


def _seen_before(db_path: Path, files: list[Path], site_profile: profile.SiteProfile,
                 built_from: str, rulesets: list[tuple] = ()) -> tuple[list[ingest.BatchResult | None], bool]:
    """Each inbox file as skipped when it matches a batch by name, size and modification time (else
    None), and whether the database is current: its derived tables built from this primary rule set
    and code, its verdicts under these rule sets (classify.ruleset_state), and no WAL file to replay."""
    if not db_path.exists():
        return [None] * len(files), False
    con = db.connect(db_path, read_only=True)
    try:
        settings = site_profile.fingerprint()
        seen = [ingest.seen_unchanged(con, path, state, settings) if (state := _size_and_mtime(path)) else None
                for path in files]
        current = (con.execute("SELECT fingerprint FROM derived_state").fetchall() == [(built_from,)]
                   and classify.audited_state(con) == list(rulesets))
    except duckdb.CatalogException:  # a database from before source_size or derived_state
        return [None] * len(files), False
    finally:
        con.close()
    return seen, current and not Path(f"{db_path}.wal").exists()


def import_for(inbox: Path, db_path: Path, site_profile: profile.SiteProfile) -> None:
    """Import Great Expectations now when an inbox file is to be read: a one-off run calls this
    while its Prefect server starts, so the import overlaps the start instead of following it."""
    seen, _ = _seen_before(db_path, extract_files(inbox)[0] if inbox else [], site_profile, built_from="")
    if None in seen:
        import_module("pipelines.validate")


def _import_in_background(module: str) -> None:
    """Start importing a heavy module in a thread; a later `import` of it waits for that one."""
    threading.Thread(target=import_module, args=(module,), daemon=True).start()


def _ingest_and_derive(con, summary: RunSummary, files: list[Path], site_profile: profile.SiteProfile,
                       loaded: reference.Reference, key: bytes, built_from: str, rulesets: list[tuple]) -> None:
    ingest.prepare(con, loaded)
    pads = pseudonym.hmac_pads(key)
    first_batch = con.execute("SELECT coalesce(max(batch_id), 0) + 1 FROM ingest_batches").fetchall()[0][0]
    with report.file_progress(len(files)) as done:
        for path in files:
            summary.batches.append(ingest_extract(con, path, site_profile, pads))
            done(summary.batches[-1])
    ingest.release_staging(con)
    rebuild = con.execute("SELECT fingerprint FROM derived_state").fetchall() != [(built_from,)]
    # another rule set added, changed or dropped: its profiles are audited again, not the orders
    rulesets_changed = classify.audited_state(con) != rulesets
    new_batches = any(batch.status != "skipped" for batch in summary.batches)
    if rebuild or new_batches:
        since_batch = 0 if rebuild else first_batch
        classify_orders(con, summary.ruleset_id, since_batch, summary.other_rulesets)
        analyse_treatment(con)
        build_marts(con, built_from, since_batch, rulesets_changed)
    elif rulesets_changed:  # no new order: only the changed rule sets' profiles are classified
        classify_orders(con, summary.ruleset_id, first_batch, summary.other_rulesets)
        compare_rulesets(con)
    describe_database(con)


def _publish(con, summary: RunSummary, publication: Publication, run_started: datetime,
             read_in_place: Path | None = None) -> str:
    """Stage the lists and the page; return the run summary's Markdown (the artifact)."""
    exports = export_lists(con, publication, summary.db_path)
    publishing = time.perf_counter()
    summary.dashboard = publish_dashboard(con, publication, summary.ruleset_id, run_started, exports, read_in_place)
    summary.dashboard_seconds = time.perf_counter() - publishing
    return report.run_markdown(con, summary)


def extract_files(inbox: Path) -> tuple[list[Path], list[ingest.BatchResult]]:
    """The files of the inbox to read, by name; and the entries that are not read, each with why
    (files of unsupported types are read, to be rejected with a reason)."""
    try:
        entries = sorted(inbox.iterdir())
    except OSError as exc:
        raise db.AuditError(f"{inbox}: the inbox cannot be listed ({exc.strerror})") from exc
    files, skipped = [], []
    for entry in entries:
        why = _not_an_extract(entry)
        if why:
            skipped.append(ingest.BatchResult(str(entry), "skipped", reason=why))
        else:
            files.append(entry)
    return files, skipped


def _not_an_extract(entry: Path) -> str | None:
    name = entry.name
    if name.startswith("~$") or (name.startswith(".~lock.") and name.endswith("#")):
        return "a lock file (the workbook is open in Excel or LibreOffice), not an extract"
    if name.startswith("."):
        return "a hidden file"
    if entry.is_dir():
        return "a folder: extracts in folders within the inbox are not read"
    if not entry.is_file():
        return "a link to nothing" if entry.is_symlink() and not entry.exists() else "not a regular file"
    if name.lower().startswith("readme"):
        return "a README, not an extract"
    return None
