"""Analysts' read-only connections while `ivig-audit run` writes: the run builds a copy of the
database and swaps it in, so no read fails, a connection held open across the swap keeps working
(on the data it opened), and a new connection after the run sees the new data."""
import fcntl
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb

from pipelines.generate import write_extracts
from tests.conftest import audit_command, cli_env

ENV = cli_env("reader-test")
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


def test_reads_never_fail_while_a_run_writes(tmp_path):
    db, out, inbox, stop = tmp_path / "audit.duckdb", tmp_path / "out", tmp_path / "inbox", tmp_path / "stop"
    write_extracts(1000, inbox, seed=1)
    assert subprocess.run(audit_command(inbox, db, out), capture_output=True, env=ENV, timeout=300).returncode == 0
    before = count_orders(db)
    (inbox / "later").mkdir()
    write_extracts(60_000, inbox / "later", seed=2)
    for path in (inbox / "later").iterdir():  # new order ids, so every row is new
        path.write_text(path.read_text().replace("ORD0", "NEW0"))
        path.rename(inbox / path.name.replace(".csv", "_later.csv"))

    reader = subprocess.Popen([sys.executable, "-c", READER, str(db), str(stop)], stdout=subprocess.PIPE, text=True)
    held = duckdb.connect(str(db), read_only=True)  # a session left open in DBeaver
    run = subprocess.run(audit_command(inbox, db, out), capture_output=True, text=True, env=ENV, timeout=300)
    held_count = held.execute("SELECT count(*) FROM orders").fetchall()[0][0]
    held.close()
    stop.touch()
    results = [json.loads(line) for line in reader.communicate(timeout=60)[0].splitlines()]

    assert run.returncode == 0, run.stderr
    assert [r["error"] for r in results if "error" in r] == []
    assert len(results) > 50 and {r["orders"] for r in results} == {before, count_orders(db)}
    assert count_orders(db) == before + 60_000 and held_count == before
    assert not Path(f"{db}.building").exists()


def test_a_second_run_on_the_same_database_is_refused_with_one_line(tmp_path):
    db, inbox = tmp_path / "audit.duckdb", tmp_path / "inbox"
    write_extracts(100, inbox, seed=3)
    with open(f"{db}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # as a run in progress holds it
        second = subprocess.run(audit_command(inbox, db, tmp_path / "out"), capture_output=True, text=True, env=ENV,
                                timeout=300)
    assert second.returncode == 2
    assert second.stderr.strip() == f"ivig-audit: {db}: another audit run is writing this database"
    assert not db.exists()
