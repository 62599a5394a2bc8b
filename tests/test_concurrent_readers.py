"""Analysts' read-only connections while `ivig-audit run` writes: the run builds a copy of the
database and swaps it in, so no read fails, a connection held open across the swap keeps working
(on the data it opened), and a new connection after the run sees the new data. (A second run on
the same database: tests/test_run_lifecycle.py.)"""
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb

from pipelines.generate import write_extracts
from tests.conftest import audit_command, cli_env, flow_runner, order_row, write_orders_csv

# An analyst's script in its own process: a new read-only connection per query, until told to stop.
READER = textwrap.dedent("""
    import json, sys, time, duckdb
    db, stop = sys.argv[1], sys.argv[2]
    while True:
        try:
            con = duckdb.connect(db, read_only=True)
            print(json.dumps({"orders": con.execute("SELECT count(*) FROM orders").fetchall()[0][0]}), flush=True)
            con.close()
        except duckdb.Error as exc:
            print(json.dumps({"error": str(exc)}), flush=True)
        if __import__("os").path.exists(stop):
            break
        time.sleep(0.02)
""")


def count_orders(db: Path) -> int:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute("SELECT count(*) FROM orders").fetchall()[0][0]
    finally:
        con.close()


def test_reads_never_fail_while_a_run_writes(tmp_path, prefect_server):
    db, out, inbox, stop = tmp_path / "audit.duckdb", tmp_path / "out", tmp_path / "inbox", tmp_path / "stop"
    write_extracts(1000, inbox, seed=1)
    flow_runner(inbox, db, out, "reader-test")
    before = count_orders(db)
    (inbox / "later").mkdir()
    write_extracts(10_000, inbox / "later", seed=2)
    for path in (inbox / "later").iterdir():  # new order ids, so every row is new
        path.write_text(path.read_text().replace("ORD0", "NEW0"))
        path.rename(inbox / path.name.replace(".csv", "_later.csv"))

    reader = subprocess.Popen([sys.executable, "-c", READER, str(db), str(stop)], stdout=subprocess.PIPE, text=True)
    held = duckdb.connect(str(db), read_only=True)  # a session left open in DBeaver
    run = subprocess.run(audit_command(inbox, db, out), capture_output=True, text=True, env=cli_env("reader-test"),
                         timeout=300)
    held_count = held.execute("SELECT count(*) FROM orders").fetchall()[0][0]
    held.close()
    stop.touch()
    results = [json.loads(line) for line in reader.communicate(timeout=60)[0].splitlines()]

    assert run.returncode == 0, run.stderr
    assert [r["error"] for r in results if "error" in r] == []
    assert len(results) > 50 and {r["orders"] for r in results} == {before, count_orders(db)}
    assert count_orders(db) == before + 10_000 and held_count == before
    assert not Path(f"{db}.building").exists()


def test_in_one_process_new_connections_see_a_new_run_as_the_readme_says(tmp_path, prefect_server):
    """DuckDB reuses the database instance a process has open: while any connection to the file
    stays open, a new one reads the data as it was; ATTACH from a new in-memory connection, or
    connecting after every connection is closed, reads the new run (README, "For analysts")."""
    inbox, db, out = tmp_path / "inbox", tmp_path / "audit.duckdb", tmp_path / "out"
    write_orders_csv(inbox / "first.csv", [order_row("R1")])
    flow_runner(inbox, db, out, "reader-test")
    held = duckdb.connect(str(db), read_only=True)
    write_orders_csv(inbox / "second.csv", [order_row("R2")])
    flow_runner(inbox, db, out, "reader-test")

    again = duckdb.connect(str(db), read_only=True)
    assert again.execute("SELECT count(*) FROM orders").fetchall() == [(1,)]  # the instance held open
    again.close()
    attached = duckdb.connect()
    attached.execute(f"ATTACH '{db}' AS audit (READ_ONLY); USE audit")
    assert attached.execute("SELECT count(*) FROM orders").fetchall() == [(2,)]
    attached.close()
    held.close()
    assert count_orders(db) == 2
