"""The installed ivig-audit command, end to end on a real DuckDB file: CSV in, order_audit out,
through the Prefect flow, with clean exit codes and one-line errors. The run itself is the session's
shared `audited` (tests/conftest.py)."""
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from tests.conftest import CLI, cli_env, order_row, write_orders_csv

RECOMMENDATIONS = {"offer", "consider", "may_consider", "insufficient_evidence", "should_not",
                   "outside_guideline", "unknown_indication"}


def ivig(*args, env_extra=None, cwd=None):
    return subprocess.run([CLI, *args], capture_output=True, text=True, env=cli_env("e2e-test-key", **(env_extra or {})),
                          cwd=cwd, timeout=300)


def test_run_classifies_every_loaded_order(audited):
    base, first, _ = audited
    assert first.returncode == 0, first.stderr
    assert "Orders by recommendation" in first.stdout
    assert (base / "out" / "dashboard.html").stat().st_size > 4_000_000 and "Dashboard:" in first.stdout
    con = duckdb.connect(str(base / "audit.duckdb"), read_only=True)
    orders = con.execute("SELECT count(*) FROM orders").fetchall()[0][0]
    audit = con.execute("SELECT count(*), count(DISTINCT (site, order_id)) FROM order_audit").fetchall()[0]
    assert orders == audit[0] == audit[1] and orders > 1400
    assert {r[0] for r in con.execute("SELECT DISTINCT recommendation FROM order_audit").fetchall()} <= RECOMMENDATIONS
    assert con.execute("""SELECT bool_and(rows_read = rows_loaded + rows_quarantined + rows_unchanged)
                          FROM ingest_batches""").fetchall()[0][0]
    assert con.execute("SELECT sum(rows_read) FROM ingest_batches WHERE kind = 'orders'").fetchall()[0][0] == 1515
    verdict = con.execute("SELECT recommendation, evidence_level FROM order_audit WHERE order_id = 'H1'").fetchall()
    assert verdict == [("insufficient_evidence", "U")]
    assert con.execute("SELECT recommendation FROM order_audit WHERE order_id = 'H2'").fetchall() == [
        ("insufficient_evidence",)]
    assert con.execute("SELECT reasons FROM quarantine").fetchall() == [(["dose_not_number: dose_g is not a number"],)]
    con.close()
    assert b"MRN-RAW-42" not in (base / "audit.duckdb").read_bytes()


def test_run_reviews_cidp_patients_from_orders_and_assessments(audited):
    base, first, _ = audited
    con = duckdb.connect(str(base / "audit.duckdb"), read_only=True)
    assessments, reviewed, suspected = con.execute("""
        SELECT (SELECT count(*) FROM assessments), count(*), count(*) FILTER (WHERE overuse_suspected)
        FROM cidp_review""").fetchone()
    patients = con.execute("""SELECT count(DISTINCT (site, patient_key)) FROM order_audit
                              WHERE condition = 'cidp'""").fetchone()[0]
    con.close()
    assert assessments > 0 and reviewed == patients > 0
    assert 0 < suspected < reviewed
    assert "CIDP patients reviewed" in first.stdout


def test_second_run_of_the_same_inbox_changes_nothing(audited):
    base, first, second = audited
    assert second.returncode == 0, second.stderr
    assert second.stdout.count(": skipped (") == 4
    con = duckdb.connect(str(base / "audit.duckdb"), read_only=True)
    assert con.execute("SELECT count(*) FROM ingest_batches").fetchall()[0][0] == 4
    con.close()


def test_sql_is_read_only_and_prints_results(audited):
    base, _, _ = audited
    db = str(base / "audit.duckdb")
    ok = ivig("sql", "SELECT recommendation, orders FROM mart_recommendation_summary", "--db", db,
              "--format", "csv")
    assert ok.returncode == 0 and ok.stdout.startswith("recommendation,orders")
    refused = ivig("sql", "DELETE FROM orders", "--db", db)
    assert refused.returncode != 0 and "read-only" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1


def test_clear_one_line_errors(tmp_path):
    missing = ivig("run", "--inbox", str(tmp_path / "nope"), "--db", str(tmp_path / "a.duckdb"))
    assert missing.returncode == 2 and missing.stderr.strip() == f"ivig-audit: {tmp_path / 'nope'}: inbox folder not found"
    no_db = ivig("sql", "SELECT 1", "--db", str(tmp_path / "none.duckdb"))
    assert no_db.returncode == 2 and "no audit database" in no_db.stderr
    bad_rules = ivig("classify", "GBS", "--guideline", "no-such-rule-set")
    assert bad_rules.returncode == 2 and "unknown rule set" in bad_rules.stderr


def test_classify_cites_the_section():
    result = ivig("classify", "Miller Fisher syndrome")
    assert result.returncode == 0
    assert result.stdout.startswith("insufficient_evidence (Level U)")
    assert "Other neuromuscular disorders" in result.stdout
    child = ivig("classify", "GBS", "--age", "6", "--plasma-exchange")
    assert child.stdout.startswith("should_not (Level B)")


def test_classify_takes_yes_no_values_never_assumes_age_and_refuses_impossible_ones():
    for bad in ("-3", "200", "forty"):
        refused = ivig("classify", "GBS", "--age", bad)
        assert refused.returncode == 2 and refused.stderr.strip().splitlines() == [
            f"ivig-audit: --age must be a whole number of years from 0 to 120, not '{bad}'"]
    refused = ivig("classify", "DM", "--refractory", "maybe")
    assert refused.returncode == 2 and len(refused.stderr.strip().splitlines()) == 1
    refractory = ivig("classify", "dermatomyositis", "--age", "50", "--refractory", "yes")
    assert refractory.stdout.startswith("may_consider (Level C)")
    not_refractory = ivig("classify", "dermatomyositis", "--age", "50", "--refractory", "no")
    assert not_refractory.stdout.startswith("outside_guideline (population)")
    bare = ivig("classify", "dermatomyositis", "--refractory", "--age", "50")
    assert bare.stdout.startswith("may_consider (Level C)") and "flags: -" in bare.stdout
    no_age = ivig("classify", "Guillain-Barre syndrome")  # adult Level A, child Level U: not guessed
    assert no_age.stdout.startswith("unknown_indication") and "age_not_recorded" in no_age.stdout
    assert ivig("classify", "Guillain-Barre syndrome", "--age", "8").stdout.startswith("insufficient_evidence")
    assert ivig("classify", "CIDP").stdout.startswith("offer (Level A)")  # its rule does not depend on age


def test_help_and_classify_do_not_import_prefect_or_great_expectations():
    code = ("import sys; from pipelines import cli, single_order; "
            "print(any(m.split('.')[0] in ('prefect', 'great_expectations') for m in sys.modules))")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"


def test_without_key_in_environment_a_private_key_file_is_made(tmp_path):
    inbox = tmp_path / "inbox"
    write_orders_csv(inbox / "a.csv", [order_row("K1")])
    # and no PREFECT_API_URL: the one run of the tests that starts its own Prefect server, as a
    # one-off run does
    env = {k: v for k, v in os.environ.items() if k not in ("IVIG_AUDIT_PSEUDONYM_KEY", "PREFECT_API_URL")}
    env["COLUMNS"] = "200"  # the warning names the key file on one line, however long tmp_path is
    result = subprocess.run([CLI, "run", "--inbox", str(inbox), "--db", str(tmp_path / "db.duckdb"),
                             "--out", str(tmp_path / "out")], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    key_file = tmp_path / "db.duckdb.key"
    assert key_file.exists() and (key_file.stat().st_mode & 0o777) == 0o600
    assert "db.duckdb.key" in " ".join(result.stdout.split())


def test_docs_describe_every_public_column(audited, tmp_path):
    base, _, _ = audited
    db = str(base / "audit.duckdb")
    result = ivig("docs", "--db", db, "--out", str(tmp_path / "dictionary.md"))
    assert result.returncode == 0, result.stderr
    text = (tmp_path / "dictionary.md").read_text()
    con = duckdb.connect(db, read_only=True)
    columns = con.execute("""SELECT table_name, column_name FROM duckdb_columns()
                             WHERE schema_name = 'main' AND NOT internal""").fetchall()
    con.close()
    sections = {part.split("\n", 1)[0]: part for part in text.split("\n## ")[1:]}
    assert len(columns) > 300 and {table for table, _ in columns} == set(sections)
    for table, column in columns:
        line = next(line for line in sections[table].splitlines() if line.startswith(f"| {column} |"))
        assert not line.endswith("|  |"), line


def test_export_writes_csv_and_parquet(audited, tmp_path):
    base, _, _ = audited
    db = str(base / "audit.duckdb")
    as_csv = ivig("export", "order_audit", "--db", db, "--out", str(tmp_path / "audit.csv"))
    as_parquet = ivig("export", "order_audit", "--db", db, "--format", "parquet", "--out", str(tmp_path / "a.parquet"))
    assert as_csv.returncode == 0 and as_parquet.returncode == 0, as_csv.stderr + as_parquet.stderr
    con = duckdb.connect()
    rows = con.execute(f"SELECT count(*) FROM read_csv('{tmp_path / 'audit.csv'}')").fetchall()[0][0]
    assert rows == con.execute(f"SELECT count(*) FROM '{tmp_path / 'a.parquet'}'").fetchall()[0][0] > 1400
    unknown = ivig("export", "no_such_table", "--db", db)
    assert unknown.returncode == 2 and unknown.stderr.strip() == "ivig-audit: no table or view named 'no_such_table' in the audit database"


def test_the_readme_analyst_queries_run_and_return_rows(audited):
    base, _, _ = audited
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    block = readme.split("## For analysts", 1)[1].split("```sql", 1)[1].split("```", 1)[0]
    con = duckdb.connect(str(base / "audit.duckdb"), read_only=True)
    statements = con.extract_statements(block)
    assert len(statements) == 5
    assert all(con.execute(statement).fetchall() for statement in statements)
    con.close()
