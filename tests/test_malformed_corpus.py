"""The malformed-extract corpus (tests/fixtures/malformed, expectations in EXPECTED.yaml) through
the real ingest into a real DuckDB file: every row accounted for, known-bad rows quarantined with
the right checks, unreadable files rejected with a reason, hostile text stored as plain data, and
a second pass over the same inbox changes nothing."""
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from pipelines import db, ingest, pseudonym
from pipelines.profile import SiteProfile
from tests.conftest import audit_command, cli_env
from tests.test_ingest import invariant_holds

CORPUS = Path(__file__).parent / "fixtures" / "malformed"
EXPECTED = yaml.safe_load((CORPUS / "EXPECTED.yaml").read_text(encoding="utf-8"))
TABLES = ("orders", "orders_history", "assessments", "quarantine", "ingest_batches", "dq_results")


def corpus_files() -> list[Path]:
    return sorted(p for p in CORPUS.iterdir() if p.name != "EXPECTED.yaml")


def table_counts(con) -> dict[str, int]:
    return {t: con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0] for t in TABLES}


@pytest.fixture(scope="module")
def ingested(tmp_path_factory, loaded_reference):
    path = tmp_path_factory.mktemp("corpus") / "audit.duckdb"
    con = db.connect(path)
    ingest.prepare(con, loaded_reference)
    pads = pseudonym.hmac_pads(b"corpus-key")
    results = {p.name: ingest.ingest_file(con, p, SiteProfile(), pads) for p in corpus_files()}
    yield con, results, pads, path
    con.close()


def test_every_file_of_the_corpus_has_an_expectation():
    assert sorted(EXPECTED) == [p.name for p in corpus_files()]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_file_outcome_counts_and_quarantine_reasons(ingested, name):
    con, results, _, _ = ingested
    expected, result = EXPECTED[name], results[name]
    assert (result.status, result.rows_read, result.rows_loaded, result.rows_quarantined, result.rows_unchanged) == (
        expected["status"], expected["read"], expected["loaded"], expected["quarantined"], expected["unchanged"])
    assert result.rows_read == result.rows_loaded + result.rows_quarantined + result.rows_unchanged
    if "reason" in expected:
        assert expected["reason"] in result.reason
    held_back = con.execute("SELECT source_row, reasons FROM quarantine WHERE batch_id = ? ORDER BY source_row",
                            [result.batch_id]).fetchall() if result.status != "skipped" else []
    assert {row: [r.split(":")[0] for r in reasons] for row, reasons in held_back} == expected.get("quarantine", {})
    for order_id, flags in expected.get("flags", {}).items():
        assert con.execute("SELECT dq_flags FROM orders WHERE order_id = ?", [order_id]).fetchall() == [(flags,)]


def test_every_batch_keeps_the_invariant_and_has_its_check_results(ingested):
    con, results, _, _ = ingested
    assert invariant_holds(con)
    checked = {row[0] for row in con.execute("SELECT DISTINCT batch_id FROM dq_results").fetchall()}
    assert checked == {r.batch_id for r in results.values() if r.status == "loaded" and r.rows_read > 0}
    assert con.execute("SELECT count(*) FROM dq_results WHERE status = 'fail' AND violated = 0").fetchall() == [(0,)]


def test_text_is_read_in_its_encoding_and_hostile_text_is_stored_verbatim(ingested):
    con, _, _, _ = ingested
    text = dict(con.execute("SELECT order_id, indication FROM orders WHERE order_id IN "
                            "('S1', 'S2', 'Q1', 'H1', 'H2', 'H3', 'H4')").fetchall())
    assert text["S1"] == "Polyradiculonévrite chronique (PIDC)"
    assert text["S2"] == "Guillain–Barré syndrome"
    assert text["Q1"] == 'CIDP,\nrelapsing; "worse" since March'
    assert text["H1"].startswith("<script>alert('x')</script>")
    assert text["H2"] == "=cmd|' /C calc'!A0"
    assert text["H3"] == "'); DROP TABLE orders; -- CIDP"
    assert len(text["H4"]) == 100_005


def test_excel_and_parquet_values_are_typed_like_csv(ingested):
    con, _, _, _ = ingested
    rows = con.execute("""SELECT order_id, weight_kg, order_date::VARCHAR, dose_g, age_years FROM orders
                          WHERE order_id IN ('XL1', 'PQ1') ORDER BY order_id""").fetchall()
    assert rows == [("PQ1", 60.0, "2024-06-01", 120.0, 30), ("XL1", 72.5, "2024-04-02", 144.0, 44)]


def test_a_correction_replaces_the_order_and_keeps_the_old_row(ingested):
    con, results, _, _ = ingested
    assert con.execute("SELECT dose_g FROM orders WHERE order_id = 'M3'").fetchall() == [(120.0,)]
    assert con.execute("SELECT dose_g, replaced_by_batch_id FROM orders_history WHERE order_id = 'M3'").fetchall() == [
        (160.0, results["13_overlap_and_correction.csv"].batch_id)]


def test_a_second_pass_over_the_same_inbox_changes_nothing(ingested):
    con, _, pads, _ = ingested
    before = table_counts(con)
    again = [ingest.ingest_file(con, p, SiteProfile(), pads) for p in corpus_files()]
    assert {r.status for r in again} == {"skipped"}
    assert table_counts(con) == before


def test_no_raw_patient_identifier_is_stored(ingested):
    con, _, _, path = ingested
    con.execute("CHECKPOINT")
    stored = path.read_bytes()
    assert b"MRN-" not in stored
    assert con.execute("SELECT count(*) FROM quarantine WHERE record::VARCHAR LIKE '%MRN-%'").fetchall() == [(0,)]


def test_the_command_line_run_goes_on_past_rejected_files_and_lists_them(tmp_path, prefect_server):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for path in corpus_files():
        shutil.copy(path, inbox / path.name)
    run = subprocess.run(audit_command(inbox, tmp_path / "audit.duckdb", tmp_path / "out"),
                         capture_output=True, text=True, env=cli_env("corpus-key"), timeout=300)
    assert run.returncode == 0, run.stderr
    rejected = [line for line in run.stdout.splitlines() if line.startswith("Rejected: ")]
    assert len(rejected) == sum(1 for e in EXPECTED.values() if e["status"] == "rejected")
    assert any("07_empty.csv: empty file" in line for line in rejected)
    assert "Top quarantine reasons" in run.stdout and "order_id_repeated" in run.stdout
