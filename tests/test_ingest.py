"""CSV ingest into a real DuckDB file: every row accounted for, bad rows quarantined with reasons
and their row number, re-runs change nothing, corrections keep history, no raw identifier stored."""
import gzip
import hashlib
import hmac
from pathlib import Path

import pytest

from pipelines import ingest, pseudonym, readers
from pipelines.profile import SiteProfile
from tests.conftest import ORDER_HEADER, order_row, write_orders_csv

KEY = b"test-key"


def load(con, path: Path, profile: SiteProfile = SiteProfile()) -> ingest.BatchResult:
    return ingest.ingest_file(con, path, profile, pseudonym.hmac_pads(KEY))


def invariant_holds(con) -> bool:
    return con.execute("""SELECT bool_and(rows_read = rows_loaded + rows_quarantined + rows_unchanged)
                          FROM ingest_batches""").fetchall()[0][0]


def test_bad_rows_are_quarantined_with_reasons_and_row_numbers(con, tmp_path):
    rows = [
        order_row("A1"),
        order_row("A2", dose_g="lots"),
        order_row("A3", weight_kg="", patient_id=""),
        order_row("A4", order_date="31/02/2024"),
        order_row("A5", age_years="", date_of_birth=""),
        order_row("A6", age_years="130"),
        order_row("A7", refractory="perhaps"),
        order_row("A8"), order_row("A8", dose_g="150"),  # which copy is right is unknown: both held back
        order_row("A9", indication="", diagnosis_code=""),  # loaded: classified unknown_indication
    ]
    result = load(con, write_orders_csv(tmp_path / "in" / "orders.csv", rows))
    assert (result.status, result.rows_read, result.rows_loaded, result.rows_quarantined) == ("loaded", 10, 3, 7)
    reasons = dict(con.execute("SELECT source_row, reasons FROM quarantine ORDER BY source_row").fetchall())
    assert reasons[2] == ["dose_not_number: dose_g is not a number"]
    assert reasons[3] == ["patient_id_missing: patient_id is missing", "weight_missing: weight_kg is missing"]
    assert reasons[4] == ["order_date_unreadable: order_date is not a real date in the expected format "
                          "(YYYY-MM-DD, or the site profile's date_formats)"]
    assert reasons[5] == ["age_missing: age_years and date_of_birth are both missing"]
    assert reasons[6] == ["age_impossible: age at order is outside 0-120 years (date of birth after the order, "
                          "or a typing error)"]
    assert reasons[8][0].startswith("order_id_repeated: ") and reasons[8] == reasons[9]
    assert con.execute("SELECT dq_flags FROM orders WHERE order_id = 'A7'").fetchall() == [
        (["refractory_not_yes_no"],)]
    assert invariant_holds(con)


def test_structurally_broken_lines_are_quarantined_and_later_rows_keep_their_numbers(con, tmp_path):
    path = write_orders_csv(tmp_path / "orders.csv", [order_row("B1")])
    good = ",".join(order_row("B3").get(c, "") for c in ORDER_HEADER)
    with path.open("a", encoding="utf-8", newline="") as handle:  # csv module's \r\n, as written above
        handle.write("B2,too,few\r\n")
        handle.write(good + "\r\n")
        handle.write(",".join(order_row("B4", indication='"multi\nline CIDP"').get(c, "") for c in ORDER_HEADER) + "\r\n")
    result = load(con, path)
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (4, 3, 1)
    assert con.execute("SELECT source_row, reasons FROM quarantine").fetchall() == [
        (2, ["csv_structure: missing columns (Expected Number of Columns: 22 Found: 3)"])]
    assert dict(con.execute("SELECT order_id, source_row FROM orders").fetchall()) == {"B1": 1, "B3": 3, "B4": 4}


def test_same_file_again_is_not_reread_and_overlap_counts_as_unchanged(con, tmp_path):
    first = write_orders_csv(tmp_path / "jan.csv", [order_row("C1"), order_row("C2")])
    assert load(con, first).rows_loaded == 2
    copy = tmp_path / "renamed.csv"
    copy.write_bytes(first.read_bytes())
    again = load(con, copy)
    assert again.status == "skipped" and "batch 1" in again.reason
    overlap = load(con, write_orders_csv(tmp_path / "feb.csv", [order_row("C2"), order_row("C3")]))
    assert (overlap.rows_read, overlap.rows_loaded, overlap.rows_unchanged) == (2, 1, 1)
    assert con.execute("SELECT count(*) FROM orders").fetchall()[0][0] == 3
    assert con.execute("SELECT count(*) FROM ingest_batches").fetchall()[0][0] == 2
    assert invariant_holds(con)


def test_a_changed_order_is_a_correction_with_history(con, tmp_path):
    load(con, write_orders_csv(tmp_path / "a.csv", [order_row("D1", dose_g="140")]))
    result = load(con, write_orders_csv(tmp_path / "b.csv", [order_row("D1", dose_g="70")]))
    assert (result.rows_loaded, result.rows_unchanged) == (1, 0)
    assert con.execute("SELECT dose_g, batch_id FROM orders").fetchall() == [(70.0, 2)]
    assert con.execute("SELECT dose_g, replaced_by_batch_id FROM orders_history").fetchall() == [(140.0, 2)]


def test_unreadable_files_are_rejected_with_a_reason_and_their_rows_quarantined(con, tmp_path):
    no_columns = write_orders_csv(tmp_path / "wrong.csv", [{"x": "1"}, {"x": "2"}], header=["x", "y"])
    result = load(con, no_columns)
    assert result.status == "rejected" and result.reason == (
        "not an orders extract: none of its 2 columns is a standard column or one the site profile names "
        "(their names are not shown)")
    assert (result.rows_read, result.rows_quarantined) == (2, 2)
    pdf = tmp_path / "orders.pdf"
    pdf.write_bytes(b"%PDF-1.4 not an extract")
    rejected = load(con, pdf)
    assert rejected.status == "rejected" and "unsupported file type '.pdf'" in rejected.reason
    statuses = con.execute("SELECT status FROM ingest_batches").fetchall()
    assert statuses == [("rejected",), ("rejected",)]
    assert invariant_holds(con)


def test_patient_key_is_hmac_sha256_and_no_raw_identifier_is_stored(con, tmp_path):
    rows = [order_row("E1", patient_id="MRN-SECRET-1", date_of_birth="1970-05-06", age_years=""),
            order_row("E2", patient_id="MRN-SECRET-2", dose_g="-1", date_of_birth="1999-01-02")]
    load(con, write_orders_csv(tmp_path / "orders.csv", rows))
    expected = hmac.new(KEY, "TST\x1fMRN-SECRET-1".encode(), hashlib.sha256).hexdigest()
    assert con.execute("SELECT patient_key, age_years FROM orders").fetchall() == [(expected, 53)]
    record = con.execute("SELECT record::VARCHAR FROM quarantine").fetchall()[0][0]
    assert "MRN-SECRET-2" not in record and "1999-01-02" not in record and '"patient_key"' in record
    con.execute("CHECKPOINT")
    stored = Path(con.execute("SELECT path FROM duckdb_databases() WHERE database_name = 'audit'")
                  .fetchall()[0][0]).read_bytes()
    assert b"MRN-SECRET" not in stored and b"1970-05-06" not in stored and b"1999-01-02" not in stored


def _cut(text: str) -> str:
    """The text of an extract with its last line cut short, as a copy still being written leaves it."""
    return text.rstrip("\r\n")[:-2]


@pytest.mark.parametrize("write", [
    lambda path, text: path.write_text(text, encoding="utf-8", newline=""),
    lambda path, text: path.write_bytes(text.encode("windows-1252")),            # read through a UTF-8 copy
    lambda path, text: path.write_bytes(text.replace("\r\n", "\n", 1).encode()),  # mixed line ends: a copy too
    lambda path, text: path.with_name(path.name + ".gz").write_bytes(gzip.compress(text.encode())),
], ids=["utf-8", "windows-1252", "mixed-line-ends", "gzip"])
def test_a_last_line_without_a_line_end_is_held_back_until_the_file_is_complete(con, tmp_path, write):
    complete = write_orders_csv(tmp_path / "full.csv", [order_row("C1"), order_row("C2", site="STM",
                                                                                   indication="CIDP é")])
    text = complete.read_text(encoding="utf-8")
    target = tmp_path / "in" / "orders.csv"
    target.parent.mkdir()
    write(target, _cut(text))
    extract = next(target.parent.iterdir())
    first = load(con, extract)
    assert (first.rows_read, first.rows_loaded, first.rows_quarantined) == (2, 1, 1)
    assert con.execute("SELECT reasons[1][:21], record->>'order_id', record->>'line' FROM quarantine").fetchall() == [
        ("incomplete_last_line:", "C2", "3")]
    write(target, text)  # the writer finished: the same name, the whole content
    second = load(con, extract)
    assert (second.rows_read, second.rows_loaded, second.rows_unchanged) == (2, 1, 1)
    assert con.execute("SELECT order_id, site, indication FROM orders ORDER BY order_id").fetchall() == [
        ("C1", "TST", "CIDP"), ("C2", "STM", "CIDP é")]
    assert invariant_holds(con)


def test_a_file_that_changes_while_it_is_read_is_skipped_and_read_next_time(con, tmp_path, monkeypatch):
    path = write_orders_csv(tmp_path / "orders.csv", [order_row("W1")])
    real_read = readers.read_extract

    def read_while_the_writer_appends(*args):  # the exporting system adds a row meanwhile
        extract = real_read(*args)
        with path.open("a", encoding="utf-8") as handle:
            handle.write(",".join(order_row("W2").get(c, "") for c in ORDER_HEADER) + "\n")
        return extract

    monkeypatch.setattr(readers, "read_extract", read_while_the_writer_appends)
    result = load(con, path)
    assert (result.status, result.batch_id, result.reason) == (
        "skipped", None, "changed while it was read (still being written?); read again next run")
    assert con.execute("SELECT count(*) FROM ingest_batches").fetchall() == [(0,)]
    monkeypatch.setattr(readers, "read_extract", real_read)
    assert load(con, path).rows_loaded == 2


def test_rows_replaced_counts_corrections_and_an_older_database_gets_the_column(con, tmp_path, loaded_reference):
    load(con, write_orders_csv(tmp_path / "a.csv", [order_row("R1"), order_row("R2")]))
    fix = load(con, write_orders_csv(tmp_path / "b.csv", [order_row("R1", dose_g="70"), order_row("R2"),
                                                            order_row("R3")]))
    assert (fix.rows_loaded, fix.rows_replaced, fix.rows_unchanged) == (2, 1, 1)
    con.execute("ALTER TABLE ingest_batches DROP COLUMN rows_replaced")  # as a database made before it
    ingest.prepare(con, loaded_reference)
    assert con.execute("SELECT batch_id, rows_replaced FROM ingest_batches ORDER BY 1").fetchall() == [(1, 0), (2, 1)]
    assert load(con, write_orders_csv(tmp_path / "c.csv", [order_row("R2", dose_g="1")])).rows_replaced == 1
    assert con.execute("SELECT rows_replaced FROM ingest_batches WHERE batch_id = 3").fetchall() == [(1,)]
