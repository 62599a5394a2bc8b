"""A run with nothing new costs the same whatever the size of the database: files seen before are
recognised by name, size and modification time without hashing, the database is read where it is
(no copy, no swap), the full lists are not written again, and Great Expectations is not imported."""
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb

from pipelines import ingest, pseudonym, readers
from pipelines.export import LISTS
from pipelines.generate import write_extracts
from pipelines.profile import SiteProfile
from pipelines.publish import RUN_TIME
from tests.conftest import flow_runner, order_row, write_orders_csv

PADS = pseudonym.hmac_pads(b"nothing-new-key")


def test_a_file_seen_before_is_hashed_again_only_when_its_size_or_time_changed(con, tmp_path, monkeypatch):
    path = write_orders_csv(tmp_path / "orders.csv", [order_row("N1"), order_row("N2")])
    first = ingest.ingest_file(con, path, SiteProfile(), PADS)
    assert con.execute("SELECT source_size, source_mtime_ns FROM ingest_batches").fetchall() == [
        (path.stat().st_size, path.stat().st_mtime_ns)]
    hashed = []
    monkeypatch.setattr(readers, "inspect_file", lambda p: hashed.append(p.name) or INSPECT(p))

    again = ingest.ingest_file(con, path, SiteProfile(), PADS)
    assert (again.status, again.batch_id, hashed) == ("skipped", first.batch_id, [])

    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1_000_000_000))  # touched: same bytes
    touched = ingest.ingest_file(con, path, SiteProfile(), PADS)
    assert (touched.status, touched.batch_id, hashed) == ("skipped", first.batch_id, ["orders.csv"])

    # a database made before source_size: hashed once more, then known by its size and time
    con.execute("UPDATE ingest_batches SET source_size = NULL, source_mtime_ns = NULL")
    assert ingest.ingest_file(con, path, SiteProfile(), PADS).status == "skipped" and len(hashed) == 2
    assert ingest.ingest_file(con, path, SiteProfile(), PADS).status == "skipped" and len(hashed) == 2

    write_orders_csv(path, [order_row("N1"), order_row("N3")])  # same name and size, new content
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 2_000_000_000))
    changed = ingest.ingest_file(con, path, SiteProfile(), PADS)
    assert (changed.status, changed.rows_loaded, changed.rows_unchanged, len(hashed)) == ("loaded", 1, 1, 3)


INSPECT = readers.inspect_file


def test_a_run_with_nothing_new_reads_the_database_in_place_and_leaves_the_lists(tmp_path, prefect_server):
    inbox, db, out = tmp_path / "inbox", tmp_path / "audit.duckdb", tmp_path / "out"
    write_extracts(1000, inbox, seed=31)

    def state() -> dict:
        return {"database": (db.stat().st_ino, db.stat().st_mtime_ns),
                "lists": {p.name: p.stat().st_mtime_ns for p in (out / "exports").iterdir()},
                "page": (out / "dashboard.html").stat().st_mtime_ns}

    flow_runner(inbox, db, out, "nothing-new-key")
    built = state()
    built_page = (out / "dashboard.html").read_text(encoding="utf-8")
    summary = flow_runner(inbox, db, out, "nothing-new-key")
    assert [b.status for b in summary.batches] == ["skipped", "skipped"]
    unchanged = state()
    assert unchanged["database"] == built["database"]  # not copied, not swapped, not written
    assert unchanged["lists"] == built["lists"] and len(built["lists"]) == len(LISTS) + 1  # and their stamp
    assert unchanged["page"] != built["page"]  # the page says when the run was
    # kept, not drawn again: only the run's time differs
    assert (RUN_TIME.sub("", (out / "dashboard.html").read_text(encoding="utf-8"))
            == RUN_TIME.sub("", built_page)) and RUN_TIME.search(built_page)
    assert not (out / ".publishing").exists() and not Path(f"{db}.scratch").exists()

    (out / "exports" / "cidp_suspected.csv").unlink()  # a list gone: all are written again
    flow_runner(inbox, db, out, "nothing-new-key")
    assert state()["database"] == built["database"] and (out / "exports" / "cidp_suspected.csv").exists()

    write_orders_csv(inbox / "more.csv", [order_row("M1")])
    flow_runner(inbox, db, out, "nothing-new-key")
    grown = state()
    assert grown["database"][0] != built["database"][0]  # a new file: built beside, swapped in
    assert all(grown["lists"][name] != built["lists"][name] for name in built["lists"])
    assert RUN_TIME.sub("", (out / "dashboard.html").read_text(encoding="utf-8")) != RUN_TIME.sub("", built_page)


# A run in a fresh process, reporting whether Great Expectations and plotly were imported.
RUN_AND_REPORT_IMPORTS = textwrap.dedent("""
    import sys
    from pathlib import Path
    from pipelines.flow import audit_run
    audit_run(inbox=Path(sys.argv[1]), db_path=Path(sys.argv[2]), out_dir=Path(sys.argv[3]))
    print("great_expectations" in sys.modules, "plotly.io" in sys.modules)
""")


def test_neither_great_expectations_nor_plotly_is_imported_by_a_run_with_nothing_new(tmp_path, prefect_server):
    """Nor is the page drawn again, unless it is not known to be drawn from this database file."""
    inbox, db, out = tmp_path / "inbox", tmp_path / "audit.duckdb", tmp_path / "out"
    write_extracts(200, inbox, seed=32)
    flow_runner(inbox, db, out, "imports-key")

    def imported() -> str:
        again = subprocess.run([sys.executable, "-c", RUN_AND_REPORT_IMPORTS, str(inbox), str(db), str(out)],
                               capture_output=True, text=True, timeout=300,
                               env={**os.environ, "IVIG_AUDIT_PSEUDONYM_KEY": "imports-key-" + "0" * 32})
        assert again.returncode == 0, again.stderr
        return again.stdout.strip().splitlines()[-1]

    assert imported() == "False False"
    (out / ".dashboard_built_from").unlink()  # drawn by an older version: drawn again
    assert imported() == "False True" and (out / ".dashboard_built_from").exists()
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT count(*) FROM ingest_batches").fetchall() == [(2,)]
    con.close()
