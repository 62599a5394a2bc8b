"""The audit run as one Prefect flow: a task per step of the data flow (../shared/DESIGN.md).
Import pipelines.prefect_env.configure() first: this module imports prefect."""
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from pipelines import analyse, classify, db, ingest, profile, pseudonym, reference, report


@dataclass
class RunSummary:
    db_path: Path
    ruleset_id: str
    batches: list[ingest.BatchResult] = field(default_factory=list)
    key_warning: str | None = None


@task(cache_policy=NO_CACHE)
def load_guideline(guideline: str | None) -> tuple[reference.Reference, str]:
    return reference.load_for(guideline)


@task(cache_policy=NO_CACHE, retries=2, retry_delay_seconds=2)
def ingest_extract(con, path: Path, site_profile: profile.SiteProfile, pads: dict) -> ingest.BatchResult:
    """Retried: reading can fail on a file still being copied; a failed try leaves nothing behind."""
    result = ingest.ingest_file(con, path, site_profile, pads, date.today())
    get_run_logger().info("%s: %s (%d read, %d loaded, %d quarantined, %d unchanged)",
                          path.name, result.status, result.rows_read, result.rows_loaded,
                          result.rows_quarantined, result.rows_unchanged)
    return result


@task(cache_policy=NO_CACHE)
def classify_orders(con, loaded: reference.Reference, ruleset_id: str) -> None:
    con.execute("BEGIN TRANSACTION")
    classify.classify_orders(con, loaded, ruleset_id)
    con.execute("COMMIT")


@task(cache_policy=NO_CACHE)
def analyse_treatment(con) -> None:
    con.execute("BEGIN TRANSACTION")
    analyse.analyse_treatment(con)
    con.execute("COMMIT")


@flow(name="ivig-audit-run", flow_run_name="audit {inbox}")
def audit_run(inbox: Path, db_path: Path, guideline: str | None = None,
              profile_path: Path | None = None, site: str | None = None) -> RunSummary:
    site_profile = profile.load_profile(profile_path, site)
    loaded, ruleset_id = load_guideline(guideline)
    analyse.load_treatment()  # a malformed parameters file stops the run before any ingest
    key, key_warning = pseudonym.resolve_key(db_path)
    con = db.connect(db_path)
    try:
        ingest.prepare(con, loaded)
        summary = RunSummary(db_path, ruleset_id, key_warning=key_warning)
        pads = pseudonym.hmac_pads(key)
        files = extract_files(inbox)
        with report.file_progress(len(files)) as done:
            for path in files:
                summary.batches.append(ingest_extract(con, path, site_profile, pads))
                done(summary.batches[-1])
        classify_orders(con, loaded, ruleset_id)
        analyse_treatment(con)
        db.run_sql_file(con, "marts/recommendation_summary.sql")
    finally:
        con.close()
    return summary


def extract_files(inbox: Path) -> list[Path]:
    """Every file in the inbox, oldest name first; files of other kinds are rejected, not skipped."""
    return sorted(p for p in inbox.iterdir() if p.is_file() and not p.name.startswith("."))
