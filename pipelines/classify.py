"""Classify orders against guideline rule sets: all logic is in sql/audit/. Orders are classified
once per distinct profile, under the primary rule set and any others; an order reaches its
verdicts through its profile (orders.profile_id, numbered at load): the views order_verdicts, and
order_audit for the primary's."""
import hashlib
from pathlib import Path

import duckdb

from pipelines.db import insert_rows, run_models, run_sql_file
from pipelines.paths import GUIDELINE_DIR, PROJECT_ROOT, SQL_DIR
from pipelines.reference import vocabulary_version

# audit_profiles is not derived: the load numbers the profiles, and orders hold their numbers.
DERIVED_TABLES = ("indication_resolution", "indication_setting_resolution", "profile_verdicts", "audit_rulesets",
                  "patient_condition_usage", "patient_group_usage", "courses", "cidp_review", "weak_evidence_orders",
                  "patient_money_grams", "cidp_suspected_patients", "patient_indication_review",
                  "patient_ruleset_paths")
DERIVED_VIEWS = ("order_verdicts", "order_profiles", "order_audit")  # order_audit: a table before profile_id

# What shapes the derived tables besides the rule sets: the SQL (not the dictionary, which only
# describes), the vocabulary and treatment parameters, and the code turning rule files into rows.
FINGERPRINTED = (SQL_DIR, GUIDELINE_DIR, PROJECT_ROOT / "pipelines" / "reference.py",
                 PROJECT_ROOT / "pipelines" / "classify.py")
NOT_FINGERPRINTED = (SQL_DIR / "dictionary.yaml", GUIDELINE_DIR / "rulesets")


def classify_orders(con: duckdb.DuckDBPyConnection, ruleset_id: str, since_batch: int = 0,
                    others: tuple[str, ...] = ()) -> None:
    """Classify the orders loaded by batches numbered since_batch or later (0: rebuild every derived
    table from scratch) under the primary rule set and the others, with the reference data that
    ingest.prepare wrote, and sum up the usage of the patients they touched. New profiles are
    classified under every rule set; a rule set new to the database or changed since (its file's
    hash) classifies every profile; one no longer named loses its verdicts. Also sets the patients
    whose treatment analysis (pipelines/analyse.py) is rebuilt (sql/audit/scope.sql)."""
    if since_batch == 0:
        for view in DERIVED_VIEWS:
            _drop(con, view)
        for table in DERIVED_TABLES:
            _drop(con, table)
    run_sql_file(con, "audit/scope.sql", {"since_batch": since_batch})
    run_sql_file(con, "audit/indication_resolution.sql", {"since_batch": since_batch})
    if con.execute("SELECT EXISTS (FROM orders WHERE profile_id IS NULL)").fetchall()[0][0]:
        run_sql_file(con, "audit/audit_profiles.sql")  # a database made before orders.profile_id
    first_new_profile = _next_profile_id(con)
    rulesets = ruleset_state(con, ruleset_id, others)
    audited = {(r, sha) for r, sha, _ in audited_state(con)}
    con.execute("CREATE OR REPLACE TEMP TABLE ruleset_audit_plan "
                "(ruleset_id VARCHAR, ruleset_sha256 VARCHAR, from_profile_id BIGINT)")
    insert_rows(con, "ruleset_audit_plan", [
        {"ruleset_id": r, "ruleset_sha256": sha, "from_profile_id": first_new_profile if (r, sha) in audited else 0}
        for r, sha, _ in rulesets])
    run_sql_file(con, "audit/profile_verdicts.sql", {"vocabulary_version": vocabulary_version()})
    run_sql_file(con, "audit/audit_rulesets.sql", {"primary": ruleset_id})
    for model in ("order_profiles", "order_verdicts"):
        run_sql_file(con, f"audit/{model}.sql")
    run_sql_file(con, "audit/order_audit.sql")
    run_models(con, ["audit/patient_condition_usage.sql", "audit/patient_group_usage.sql"])


def ruleset_state(con: duckdb.DuckDBPyConnection, primary: str, others: tuple[str, ...]) -> list[tuple]:
    """The rule sets a run audits under, as (id, file hash, is primary), from guideline_rulesets."""
    wanted = [primary, *others]
    hashes = dict(con.execute("SELECT ruleset_id, content_sha256 FROM guideline_rulesets "
                              "WHERE list_contains(?, ruleset_id)", [wanted]).fetchall())
    return sorted((r, hashes[r], r == primary) for r in wanted)


def audited_state(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    """The rule sets the database's verdicts are under, as ruleset_state gives them ([] for none:
    a database from before audit_rulesets, or in a full rebuild). Looked up in the catalogue, not
    tried: an error would abort the caller's transaction."""
    if _kind(con, "audit_rulesets") != "TABLE":
        return []
    return sorted(con.execute("SELECT ruleset_id, ruleset_sha256, is_primary FROM audit_rulesets").fetchall())


def _next_profile_id(con: duckdb.DuckDBPyConnection) -> int:
    """The first profile no verdict covers: the profiles numbered by loads since the last classification
    (every rule set audited has verdicts for every profile before it)."""
    if _kind(con, "profile_verdicts") != "TABLE":
        return 1
    return con.execute("SELECT coalesce(max(profile_id), 0) + 1 FROM profile_verdicts").fetchall()[0][0]


def _kind(con: duckdb.DuckDBPyConnection, name: str) -> str | None:
    """TABLE or VIEW when the database has one of that name, else None."""
    found = con.execute("""
        SELECT 'TABLE' FROM duckdb_tables() WHERE table_name = $name AND schema_name = 'main'
           AND database_name = current_database()
        UNION ALL
        SELECT 'VIEW' FROM duckdb_views() WHERE view_name = $name AND schema_name = 'main'
           AND database_name = current_database()""", {"name": name}).fetchall()
    return found[0][0] if found else None


def _drop(con: duckdb.DuckDBPyConnection, name: str) -> None:
    """Drop a derived table or view, whichever it is (a name may have changed kind between versions)."""
    kind = _kind(con, name)
    if kind:
        con.execute(f"DROP {kind} {name}")


def fingerprint(ruleset_id: str, ruleset_file: Path | None = None) -> str:
    """What the derived tables are built from, besides the other rule sets (audit_rulesets): the
    primary rule set's id and file, the files under guideline/ and sql/ and the code named in
    FINGERPRINTED, not the rule set folder (each rule set's own hash decides when its profiles are
    audited again) nor sql/dictionary.yaml (descriptions only). When it changes, a run rebuilds them all."""
    digest = hashlib.sha256(ruleset_id.encode())
    ours = sorted(p for place in FINGERPRINTED for p in ([place] if place.is_file() else place.rglob("*"))
                  if p.is_file() and not any(p == skip or skip in p.parents for skip in NOT_FINGERPRINTED))
    named = [(str(p.relative_to(PROJECT_ROOT)), p) for p in ours]  # the same wherever installed
    if ruleset_file is not None:
        named.append(("primary rule set", Path(ruleset_file)))
    for name, path in named:
        digest.update(name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()
