"""Classify orders against a guideline rule set: all logic is in sql/audit/."""
import hashlib
from pathlib import Path

import duckdb

from pipelines.db import run_models, run_sql_file
from pipelines.paths import GUIDELINE_DIR, PROJECT_ROOT, SQL_DIR

DERIVED_TABLES = ("indication_resolution", "indication_setting_resolution", "order_audit", "patient_condition_usage", "patient_group_usage",
                  "courses", "cidp_review")


def classify_orders(con: duckdb.DuckDBPyConnection, ruleset_id: str, since_batch: int = 0) -> None:
    """Classify the orders loaded by batches numbered since_batch or later (0: rebuild every derived
    table from scratch), with the reference data that ingest.prepare wrote, and sum up the usage of
    the patients they touched. Also sets the patients whose treatment analysis (pipelines/analyse.py)
    is rebuilt (sql/audit/scope.sql)."""
    if since_batch == 0:
        for table in DERIVED_TABLES:
            con.execute(f"DROP TABLE IF EXISTS {table}")
    run_sql_file(con, "audit/scope.sql", {"since_batch": since_batch})
    run_sql_file(con, "audit/indication_resolution.sql", {"since_batch": since_batch})
    run_sql_file(con, "audit/order_audit.sql", {"ruleset_id": ruleset_id, "since_batch": since_batch})
    run_models(con, ["audit/patient_condition_usage.sql", "audit/patient_group_usage.sql"])


def fingerprint(ruleset_id: str, guideline: str | None) -> str:
    """What the derived tables are built from: the rule set id, every file under guideline/ and
    sql/, and a rule set file given with --guideline. When it changes, a run rebuilds them all."""
    digest = hashlib.sha256(ruleset_id.encode())
    ours = sorted(p for folder in (GUIDELINE_DIR, SQL_DIR) for p in folder.rglob("*") if p.is_file())
    named = [(str(p.relative_to(PROJECT_ROOT)), p) for p in ours]  # the same wherever installed
    if guideline and Path(guideline).is_file():
        named.append(("--guideline", Path(guideline)))
    for name, path in named:
        digest.update(name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()
