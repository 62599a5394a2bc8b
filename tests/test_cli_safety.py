"""What users type: `ivig-audit sql` is read-only and sandboxed (each way out refused with one
line), its output is exact as CSV and readable as a table; `run` without an inbox audits the stored
orders again; bad configuration lists every problem, one line each, before any work."""
import io
import os
import subprocess
from contextlib import redirect_stdout
from pathlib import Path

import duckdb
import polars as pl
import pytest

from pipelines import db, report
from tests.conftest import CLI, FIXTURES, cli_env, order_row, write_orders_csv

KEY = "cli-safety-key"


def ivig(*args, **env):
    return subprocess.run([CLI, *args], capture_output=True, text=True, env=cli_env(KEY, **env), timeout=300)


@pytest.fixture(scope="module")
def audited(tmp_path_factory, prefect_server):
    """A database made by a real run (in this process), over orders with flags and bracketed text."""
    from pipelines import flow
    base = tmp_path_factory.mktemp("cli")
    write_orders_csv(base / "inbox" / "orders.csv", [
        order_row("S1", indication="CIDP [maintenance]", refractory="perhaps"),
        order_row("S2", indication="ITP", dose_g="487660804.6", weight_kg="1.5114999999999998")])
    os.environ["IVIG_AUDIT_PSEUDONYM_KEY"] = cli_env(KEY)["IVIG_AUDIT_PSEUDONYM_KEY"]
    try:
        with redirect_stdout(io.StringIO()):
            flow.audit_run(inbox=base / "inbox", db_path=base / "audit.duckdb", out_dir=base / "out")
    finally:
        del os.environ["IVIG_AUDIT_PSEUDONYM_KEY"]
    return base


ATTACKS = [
    ("COPY (SELECT * FROM orders) TO '{tmp}/stolen.csv'", "stolen.csv"),
    ("COPY orders TO '{tmp}/stolen.parquet' (FORMAT parquet)", "stolen.parquet"),
    ("SELECT * FROM read_csv('/etc/passwd')", None),
    ("SELECT * FROM read_text('/etc/hostname')", None),
    ("SELECT * FROM glob('/etc/*')", None),
    ("INSTALL httpfs", None),
    ("LOAD httpfs", None),
    ("SET enable_external_access = true", None),
    ("RESET enable_external_access", None),
    ("SET allowed_paths = ['/etc/passwd']", None),
    ("ATTACH '{tmp}/other.duckdb' AS other", "other.duckdb"),
    ("EXPORT DATABASE '{tmp}/dump'", "dump"),
    ("CREATE TABLE t AS SELECT 1", None),
    ("DELETE FROM orders", None),
]


@pytest.mark.parametrize("attack, target", ATTACKS, ids=[a.split("(")[0].split("'")[0].strip() for a, _ in ATTACKS])
def test_a_read_only_connection_refuses_every_way_out_of_the_database(audited, tmp_path, attack, target):
    con = db.connect(audited / "audit.duckdb", read_only=True)
    try:
        with pytest.raises(duckdb.Error, match="Permission Error|locked|read-only"):
            con.execute(attack.format(tmp=tmp_path)).fetchall()
        assert con.execute("SELECT count(*) FROM orders").fetchall() == [(2,)]  # and it still reads
    finally:
        con.close()
    assert target is None or not (tmp_path / target).exists()


@pytest.mark.parametrize("attack, target", [ATTACKS[0], ATTACKS[2]], ids=["COPY", "read_csv"])
def test_sql_refuses_them_with_one_line(audited, tmp_path, attack, target):
    result = ivig("sql", attack.format(tmp=tmp_path), "--db", str(audited / "audit.duckdb"))
    assert result.returncode == 2 and len(result.stderr.splitlines()) == 1, result.stderr
    assert result.stderr.startswith("ivig-audit: Permission Error: Cannot access file")
    assert target is None or not (tmp_path / target).exists()


def test_sql_answers_queries_and_export_and_docs_still_work_in_the_sandbox(audited, tmp_path):
    db = str(audited / "audit.duckdb")
    assert ivig("sql", "SELECT normalise_text('C.I.D.P.') AS t", "--db", db, "--format", "csv").stdout == "t\ncidp\n"
    exported = ivig("export", "order_audit", "--db", db, "--format", "PARQUET", "--out", str(tmp_path / "a.parquet"))
    assert exported.returncode == 0 and pl.read_parquet(tmp_path / "a.parquet").height == 2
    assert ivig("docs", "--db", db, "--out", str(tmp_path / "d.md")).returncode == 0


def test_sql_csv_is_exact_with_lists_as_text_in_any_case_of_the_format_name(audited):
    result = ivig("sql", "SELECT order_id, dq_flags, dose_g, weight_kg, [dose_g, 1234.5] AS numbers FROM orders "
                  "ORDER BY order_id", "--db", str(audited / "audit.duckdb"), "--format", "CSV")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "order_id,dq_flags,dose_g,weight_kg,numbers",
        "S1,refractory_not_yes_no,140.0,70.0,140.0; 1234.5",
        "S2,dose_above_2_5g_per_kg; weight_implausible_for_age,487660804.6,1.5114999999999998,487660804.6; 1234.5"]


def test_a_table_never_cuts_numbers_and_shows_brackets_as_typed(audited):
    query = ("SELECT indication, dose_g, weight_kg, dose_g * 1000 AS mg, 'a long text to fold ' || indication AS note "
             "FROM orders ORDER BY order_id")
    result = ivig("sql", query, "--db", str(audited / "audit.duckdb"), COLUMNS="40")
    assert result.returncode == 0, result.stderr
    assert "487,660,804.6 " in result.stdout and "487,660,804,600 " in result.stdout and "1.51 " in result.stdout
    assert "[maintenance" in result.stdout and "…" not in result.stdout
    alone = ivig("sql", "SELECT indication FROM orders", "--db", str(audited / "audit.duckdb"))
    assert "│ CIDP [maintenance] │" in alone.stdout


def test_print_frame_rounds_separates_thousands_and_neutralises_control_characters(monkeypatch):
    monkeypatch.setattr(report.console, "width", 30)
    printed = io.StringIO()
    with redirect_stdout(printed):
        report.print_frame(pl.DataFrame({"text": ["[/]", "\x1b[2J", "b\x07"], "grams": [487660804.6, 0.45121, 0.0],
                                         "value": [1.5114999999999998, 2.0, 3.0], "g_per_kg": [0.45121, 0.012, 0.0],
                                         "pct": [46.3, 0.2, 100.0], "n": [1234567, 0, 1]}),
                           title="[bold]")
    out = printed.getvalue()
    for shown in ("[/]", "\\x1b[2J", "b\\x07", "487,660,804.60", "0.45 ", "1.51", "2.00", "0.451", "0.012",
                  "46.3", "0.2 ", "100.0", "1,234,567", "[bold]"):
        assert shown in out
    assert "\x1b" not in out and "\x07" not in out


def test_run_without_an_inbox_audits_the_stored_orders_under_another_rule_set(audited):
    db = audited / "audit.duckdb"
    result = ivig("run", "--guideline", str(FIXTURES / "local-policy.yaml"), "--db", str(db),
                  "--out", str(audited / "out"))
    assert result.returncode == 0, result.stderr
    assert "No inbox given: nothing ingested; the orders in the database were audited again." in result.stdout
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT DISTINCT guideline_id FROM order_audit").fetchall() == [("local-policy-example",)]
    assert con.execute("SELECT count(*) FROM ingest_batches").fetchall() == [(1,)]
    con.close()


def test_run_with_neither_an_inbox_nor_a_database_says_so_in_one_line(tmp_path):
    result = ivig("run", "--db", str(tmp_path / "none.duckdb"))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [f"ivig-audit: {tmp_path / 'none.duckdb'}: no audit database to audit "
                                          "again; give --inbox DIR with the extract files to ingest"]


def test_a_profile_with_misspelt_keys_lists_every_problem_one_line_each(tmp_path):
    profile = tmp_path / "site.yaml"
    profile.write_text("site: RVH\ndelimeter: ';'\nunits: {dose: mg, wieght: lb}\ncolumns: {order_no: X}\n")
    (tmp_path / "inbox").mkdir()
    result = ivig("run", "--inbox", str(tmp_path / "inbox"), "--db", str(tmp_path / "a.duckdb"),
                  "--profile", str(profile))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"ivig-audit: {profile}: top level: Additional properties are not allowed ('delimeter' was unexpected)",
        f"ivig-audit: {profile}: columns: 'order_no' is not one of {_column_names()}",
        f"ivig-audit: {profile}: units: Additional properties are not allowed ('wieght' was unexpected)"]


def _column_names() -> list[str]:
    import json
    from pipelines.paths import GUIDELINE_DIR
    schema = json.loads((GUIDELINE_DIR / "schema" / "site_profile.schema.json").read_text())
    return schema["properties"]["columns"]["propertyNames"]["enum"]
