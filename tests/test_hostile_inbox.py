"""Two real runs (the Prefect flow, in this process) over an inbox of hostile and awkward entries: a
file without a header, a link to a system file, a file still being written, NUL bytes, copies of
one order, lines that cannot be split, markup and escape sequences in names and text, gzip, a
folder, lock files, a README, an unreadable entry; then the complete file and a correction. Every
row is accounted for, nothing raw leaks to disk, screen or Prefect, and nothing is counted twice."""
import gzip
import io
import json
import os
from contextlib import redirect_stdout
from pathlib import Path

import duckdb
import pytest

from tests.conftest import ORDER_HEADER, PREFECT_STATE, order_row, write_orders_csv

ESCAPED_NAME = "esc\x1b[31mred.csv"
RAW_VALUES = (b"MRN-", b"1961-02-03", b"SECRET-FIRST-LINE", b"SECRET-HOSTNAME")  # ids, a birth date, system files
COMPLETE_G3 = order_row("G3", site="STM")


def line(row: dict) -> str:
    return ",".join(row[name] for name in ORDER_HEADER)


def run(inbox: Path, base: Path):
    """One audit run as `ivig-audit run` does it (flow, then the printed summary), output captured."""
    from pipelines import flow, report
    printed = io.StringIO()
    with redirect_stdout(printed):
        summary = flow.audit_run(inbox=inbox, db_path=base / "audit.duckdb", out_dir=base / "out")
        report.print_run(summary)
    return summary, printed.getvalue()


def build_inbox(base: Path) -> Path:
    inbox = base / "inbox"
    write_orders_csv(inbox / "a_orders.csv", [order_row("O1"), order_row("O2"), order_row("O3")])
    headerless = [order_row(f"H{i}", patient_id=f"MRN-HEADLESS-{i}", age_years="", date_of_birth="1961-02-03")
                  for i in (1, 2, 3)]
    (inbox / "headerless.csv").write_text("".join(line(r) + "\n" for r in headerless), encoding="utf-8")
    outside = base / "outside" / "system.txt"
    outside.parent.mkdir()
    outside.write_text("SECRET-FIRST-LINE:x:0:0:root\nsecond:x:1:1:daemon\n", encoding="utf-8")
    (inbox / "passwd.csv").symlink_to(outside)
    (base / "outside" / "hostname").write_text("SECRET-HOSTNAME\n", encoding="utf-8")  # no digit: a name?
    (inbox / "hostname.csv").symlink_to(base / "outside" / "hostname")
    cut = line(COMPLETE_G3)
    cut = cut[:cut.rindex("STM") + 2]  # "...,ST": the site code cut short
    growing = write_orders_csv(inbox / "growing.csv", [order_row("G1"), order_row("G2")])
    growing.write_text(growing.read_text(encoding="utf-8") + cut, encoding="utf-8")
    with_nul = write_orders_csv(inbox / "nul.csv", [order_row("N1"), order_row("N2", indication="CI\x00DP"),
                                                    order_row("N3")])
    assert b"\x00" in with_nul.read_bytes()
    (inbox / "binary.csv").write_bytes(b"\x00\x01\x02order_id\x00\nMRN-BINARY,\x00\x00\n")
    write_orders_csv(inbox / "dupes.csv", [order_row("D1"), order_row("D1"), order_row("D1"),
                                           order_row("D2"), order_row("D2", dose_g="150")])
    broken = write_orders_csv(inbox / "broken.csv", [order_row("B1")])
    with broken.open("a", encoding="utf-8", newline="") as handle:
        handle.write("B2,MRN-B2-too,few\r\n" + line(order_row("B3")) + "\r\n")
    write_orders_csv(inbox / "markup.csv", [{**order_row("M1", indication="CIDP [maintenance]"), "Notes [/]": "x"}],
                     header=ORDER_HEADER + ["Notes [/]"])
    write_orders_csv(inbox / ESCAPED_NAME, [order_row("E1")])
    text = (inbox / "a_orders.csv").read_text(encoding="utf-8").replace("O1", "Z1").replace("O2", "Z2").replace("O3", "Z3")
    (inbox / "orders.csv.gz").write_bytes(gzip.compress(text.encode("utf-8")))
    write_orders_csv(inbox / "old" / "orders_2019.csv", [order_row("X1")])
    (inbox / "~$book.xlsx").write_bytes(b"lock")
    (inbox / "README.md").write_text("Drop the monthly extracts here.\n", encoding="utf-8")
    write_orders_csv(inbox / ".hidden.csv", [order_row("X2")])
    (inbox / "unreadable.csv").symlink_to("/proc/self/mem")  # opens, but every read fails (EIO), even as root
    return inbox


@pytest.fixture(scope="module")
def runs(tmp_path_factory, prefect_server):
    base = tmp_path_factory.mktemp("hostile")
    inbox = build_inbox(base)
    first = run(inbox, base)
    write_orders_csv(inbox / "growing.csv", [order_row("G1"), order_row("G2"), COMPLETE_G3])  # now complete
    write_orders_csv(inbox / "z_correction.csv", [order_row("O2", dose_g="70")])
    second = run(inbox, base)
    con = duckdb.connect(str(base / "audit.duckdb"), read_only=True)
    yield base, first, second, con
    con.close()


def batches(summary) -> dict:
    return {Path(b.source_file).name: b for b in summary.batches}


def test_a_file_without_a_header_is_rejected_without_showing_its_first_row(runs):
    _, (summary, printed), _, con = runs
    for name, columns in (("headerless.csv", 22), ("passwd.csv", 1)):
        batch = batches(summary)[name]
        assert batch.status == "rejected"
        assert batch.reason == (f"first row looks like data, not a header ({columns} columns; none is a standard "
                                "column or one the site profile names)")
        assert (batch.rows_read, batch.rows_quarantined) == ({"headerless.csv": 3, "passwd.csv": 2}[name],) * 2
        assert con.execute("SELECT min(source_row) FROM quarantine WHERE batch_id = ?", [batch.batch_id]).fetchall() == [(0,)]
    assert "first row looks like data" in " ".join(printed.split())
    assert batches(summary)["hostname.csv"].reason == (
        "not an orders extract: none of its 1 columns is a standard column or one the site profile names "
        "(their names are not shown)")


def test_no_raw_identifier_reaches_disk_screen_or_prefect(runs):
    base, (_, first_printed), (_, second_printed), _ = runs
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["ivig-audit-run-summary"])))
    markdown = "".join(str(a.data) for a in artifacts)
    assert "first row looks like data" in markdown
    seen = {"screen": (first_printed + second_printed).encode(), "artifact": markdown.encode()}
    for folder in (base, PREFECT_STATE):
        for path in folder.rglob("*"):
            if path.is_file() and not path.is_symlink() and "inbox" not in path.parts and "outside" not in path.parts:
                seen[str(path)] = path.read_bytes()
    assert any(name.endswith("dashboard.html") for name in seen) and any("exports" in name for name in seen)
    leaks = {where: value for where, data in seen.items() for value in RAW_VALUES if value in data}
    assert leaks == {}


def test_every_row_is_accounted_for_once(runs):
    _, (first, _), (second, _), con = runs
    read = {"a_orders.csv": 3, "headerless.csv": 3, "passwd.csv": 2, "hostname.csv": 0, "growing.csv": 3, "nul.csv": 3, "binary.csv": 0,
            "dupes.csv": 5, "broken.csv": 3, "markup.csv": 1, ESCAPED_NAME: 1, "orders.csv.gz": 3}
    assert {name: b.rows_read for name, b in batches(first).items() if b.batch_id} == read
    assert con.execute("""SELECT bool_and(rows_read = rows_loaded + rows_quarantined + rows_unchanged),
                                 bool_and(rows_replaced <= rows_loaded) FROM ingest_batches""").fetchall() == [(True, True)]
    assert con.execute("SELECT count(*) FROM quarantine").fetchall()[0][0] == con.execute(
        "SELECT sum(rows_quarantined) FROM ingest_batches").fetchall()[0][0]
    assert con.execute("SELECT count(*) FROM orders").fetchall()[0][0] == con.execute(
        "SELECT sum(rows_loaded - rows_replaced) FROM ingest_batches").fetchall()[0][0]


def test_a_file_still_being_written_holds_back_its_cut_row_and_loads_it_once_complete(runs):
    _, (first, _), (second, _), con = runs
    cut, complete = batches(first)["growing.csv"], batches(second)["growing.csv"]
    assert (cut.rows_loaded, cut.rows_quarantined) == (2, 1)
    assert con.execute("SELECT source_row, reasons, record::VARCHAR FROM quarantine WHERE batch_id = ?",
                       [cut.batch_id]).fetchall() == [
        (3, ["incomplete_last_line: the last line has no line end (the file may still have been being written); "
             "held back, it loads when the complete file comes"], '{"order_id":"G3","line":4}')]
    assert (complete.rows_read, complete.rows_loaded, complete.rows_unchanged) == (3, 1, 2)
    assert con.execute("SELECT site, dose_g FROM orders WHERE order_id = 'G3'").fetchall() == [("STM", 140.0)]


def test_identical_copies_load_once_and_differing_copies_are_held_back(runs):
    _, (first, _), _, con = runs
    dupes = batches(first)["dupes.csv"]
    assert (dupes.rows_loaded, dupes.rows_unchanged, dupes.rows_quarantined) == (1, 2, 2)
    assert con.execute("SELECT order_id, source_row FROM orders WHERE order_id IN ('D1', 'D2')").fetchall() == [("D1", 1)]
    assert [r[0] for r in con.execute("SELECT reasons[1] FROM quarantine WHERE batch_id = ? ORDER BY source_row",
                                      [dupes.batch_id]).fetchall()] == [
        "order_id_repeated: order_id appears more than once in this file with different content (every copy is "
        "held back: which one is right is unknown; identical copies load once)"] * 2


def test_a_line_that_cannot_be_split_keeps_its_order_id_and_line_not_its_text(runs):
    _, (first, _), _, con = runs
    broken = batches(first)["broken.csv"]
    assert con.execute("SELECT source_row, reasons, record::VARCHAR FROM quarantine WHERE batch_id = ?",
                       [broken.batch_id]).fetchall() == [
        (2, ["csv_structure: missing columns (Expected Number of Columns: 22 Found: 3)"], '{"order_id":"B2","line":3}')]


def test_rows_with_nul_bytes_are_quarantined_and_a_binary_file_says_why_none_is_counted(runs):
    _, (first, _), _, con = runs
    with_nul, binary = batches(first)["nul.csv"], batches(first)["binary.csv"]
    assert (with_nul.rows_loaded, with_nul.rows_quarantined) == (2, 1)
    assert con.execute("SELECT source_row, reasons, record::VARCHAR FROM quarantine WHERE batch_id = ?",
                       [with_nul.batch_id]).fetchall() == [
        (2, ["nul_bytes: the row holds NUL bytes (binary data, not text)"], '{"order_id":"N2","line":null}')]
    assert con.execute("SELECT count(*) FROM orders WHERE contains(indication, chr(0))").fetchall() == [(0,)]
    assert binary.status == "rejected" and binary.reason.startswith(
        "binary content (NUL bytes in the header line), not a text extract: without a header no row can be counted")


def test_corrections_are_counted_as_replaced_in_the_ledger_summary_and_dashboard(runs):
    base, _, (second, printed), con = runs
    correction = batches(second)["z_correction.csv"]
    assert (correction.rows_loaded, correction.rows_replaced) == (1, 1)
    assert con.execute("SELECT rows_loaded, rows_replaced FROM ingest_batches WHERE batch_id = ?",
                       [correction.batch_id]).fetchall() == [(1, 1)]
    assert con.execute("SELECT rows_replaced FROM mart_data_quality_batches WHERE batch_id = ?",
                       [correction.batch_id]).fetchall() == [(1,)]
    assert con.execute("SELECT dose_g FROM orders_history WHERE order_id = 'O2'").fetchall() == [(140.0,)]
    assert "z_correction.csv: loaded (1 read, 1 loaded of which 1 replaced, 0 quarantined, 0 unchanged)" in printed
    page = (base / "out" / "dashboard.html").read_text(encoding="utf-8")
    assert "of which replaced an earlier row</div>" in page and '<th class="n">of which replaced</th>' in page


def test_text_from_files_prints_as_text_and_control_characters_do_not_reach_the_terminal(runs):
    _, (first, printed), _, con = runs
    assert batches(first)["markup.csv"].reason == "columns not in the standard extract, not loaded: Notes [/]"
    flat = " ".join(printed.split())
    assert "Notes [/]" in flat and "esc\\x1b[31mred.csv: loaded" in printed
    assert "\x1b" not in printed
    assert con.execute("SELECT indication FROM orders WHERE order_id = 'M1'").fetchall() == [("CIDP [maintenance]",)]


def test_inbox_entries_that_are_not_extracts_are_listed_with_why_and_gzip_is_read(runs):
    _, (first, printed), _, con = runs
    skipped = {name: b.reason for name, b in batches(first).items() if b.status == "skipped"}
    assert skipped == {
        "old": "a folder: extracts in folders within the inbox are not read",
        "~$book.xlsx": "a lock file (the workbook is open in Excel or LibreOffice), not an extract",
        "README.md": "a README, not an extract",
        ".hidden.csv": "a hidden file"}
    for name, reason in skipped.items():
        assert f"Skipped: {batches(first)[name].source_file}: {reason}\n" in printed
    assert (batches(first)["orders.csv.gz"].status, batches(first)["orders.csv.gz"].rows_loaded) == ("loaded", 3)
    unreadable = batches(first)["unreadable.csv"]
    assert (unreadable.status, unreadable.batch_id) == ("rejected", None)
    assert unreadable.reason == "cannot be read (Input/output error); tried again next run"
    assert f"Rejected: {unreadable.source_file}: cannot be read" in " ".join(printed.split())
    assert con.execute("SELECT count(*) FROM orders WHERE order_id LIKE 'X%'").fetchall() == [(0,)]

