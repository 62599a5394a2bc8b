"""Killing `ivig-audit run` (SIGKILL, no clean-up) while it ingests leaves the database as the last
completed run left it (here: none yet), and the next run completes as if it had never been
interrupted, with each file loaded once. Each kill lands the moment a run reports a file loaded, while
it reads the next: files enough to be sure the run is still ingesting, not rows enough to be slow."""
import signal
import subprocess
from pathlib import Path

import duckdb
import polars as pl

from pipelines.generate import write_extracts
from tests.conftest import audit_command, cli_env, flow_runner

FILES, ROWS_PER_FILE = 4, 5_000


def start_run(inbox: Path, db: Path, out: Path) -> subprocess.Popen:
    return subprocess.Popen(audit_command(inbox, db, out), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=cli_env("kill-test-key", PYTHONUNBUFFERED="1"))


def kill_after_files(process: subprocess.Popen, files: int) -> str:
    """Wait until `files` files are reported loaded, then kill the process as it reads the next."""
    seen = []
    for line in process.stdout:
        seen.append(line)
        if ": loaded (" in line:
            files -= 1
            if files == 0:
                break
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
    return "".join(seen)


def test_killed_runs_leave_no_partial_batch_and_the_next_run_completes(tmp_path, prefect_server):
    whole = pl.read_csv(write_extracts(FILES * ROWS_PER_FILE, tmp_path / "whole", seed=11).orders, infer_schema_length=0)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for part in range(FILES):
        whole.slice(part * ROWS_PER_FILE, ROWS_PER_FILE).write_csv(inbox / f"orders_part{part}.csv")
    db, out = tmp_path / "audit.duckdb", tmp_path / "out"

    first = start_run(inbox, db, out)
    output = kill_after_files(first, 1)
    assert first.returncode == -signal.SIGKILL, output
    second = start_run(inbox, db, out)
    output = kill_after_files(second, 2)
    assert second.returncode == -signal.SIGKILL, output
    assert not db.exists()  # the killed runs wrote only their own copies, never swapped in
    flow_runner(inbox, db, out, "kill-test-key")  # the next run, in this process: it must complete

    con = duckdb.connect(str(db), read_only=True)
    batches = con.execute("""SELECT source_file, status, rows_read, rows_loaded, rows_quarantined, rows_unchanged
                             FROM ingest_batches ORDER BY source_file""").fetchall()
    assert [Path(b[0]).name for b in batches] == [f"orders_part{i}.csv" for i in range(FILES)]  # once each
    assert all(b[1] == "loaded" and b[2] == ROWS_PER_FILE == b[3] + b[4] + b[5] for b in batches)
    loaded = sum(b[3] for b in batches)
    assert con.execute("SELECT count(*) FROM orders").fetchall()[0][0] == loaded
    assert con.execute("SELECT count(*) FROM order_audit").fetchall()[0][0] == loaded
    assert con.execute("SELECT count(*) FROM quarantine").fetchall()[0][0] == sum(b[4] for b in batches)
    assert con.execute("SELECT count(DISTINCT batch_id) FROM dq_results").fetchall()[0][0] == FILES
    assert con.execute("""SELECT count(*) FROM orders
                          WHERE batch_id NOT IN (SELECT batch_id FROM ingest_batches)""").fetchall()[0][0] == 0
    con.close()
