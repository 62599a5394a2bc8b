"""A run's life on disk and at its edges, through real `ivig-audit run` processes: its temporary
files stay in a private folder that the next run clears (even after kill -9), its page and lists are
never ahead of its database, and what a user can get wrong stops it with one line and exit 2,
before Prefect starts where it can."""
import fcntl
import os
import signal
import subprocess
import time
import uuid
from pathlib import Path

import duckdb
import httpx
import polars as pl
import pytest

from pipelines.generate import generate, write_extracts
from pipelines import ingest
from tests.conftest import audit_command, cli_env, flow_runner, order_row, write_orders_csv

READ = ingest.read  # the real one, for the tests that count the tries

SYSTEM_TEMP = Path(os.environ.get("TMPDIR", "/tmp"))


def wait_for(check, seconds: float, what: str, process: subprocess.Popen | None = None):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        if process is not None and process.poll() is not None:
            raise AssertionError(f"the run ended (exit {process.returncode}) before {what}")
        time.sleep(0.005)
    raise AssertionError(f"timed out after {seconds} s waiting for {what}")


def files_holding(marker: bytes, folders: list[Path], since: float, skip: Path | None = None) -> list[Path]:
    """Files under the folders, changed since `since`, whose bytes contain the marker."""
    found = []
    for folder in folders:
        for root, _, names in os.walk(folder, onerror=lambda error: None):
            if skip is not None and Path(root).is_relative_to(skip):
                continue
            for name in names:
                path = Path(root) / name
                try:
                    if path.stat().st_mtime >= since and path.stat().st_size < 500_000_000 \
                            and marker in path.read_bytes():
                        found.append(path)
                except OSError:  # gone meanwhile, or not ours to read
                    pass
    return found


def test_a_killed_run_leaves_temporary_copies_and_spills_only_in_a_private_folder_the_next_run_clears(
        tmp_path, prefect_server):
    """A Windows-1252 extract is read through a decoded UTF-8 copy that holds every raw id, and
    under a low memory limit DuckDB spills what it stages. Kill -9 once both are on disk, scan."""
    started = time.time()
    marker = f"KILLED{uuid.uuid4().hex[:8]}"
    inbox, db, out, system_temp = tmp_path / "inbox", tmp_path / "db" / "audit.duckdb", tmp_path / "out", tmp_path / "systemp"
    system_temp.mkdir()
    orders = generate(150_000, seed=5).orders.with_columns(
        patient_id=pl.col("patient_id").str.replace("MRN", marker),
        indication=pl.lit("Polyradiculonévrite chronique"))
    inbox.mkdir()
    (inbox / "orders_cp1252.csv").write_bytes(orders.write_csv().encode("cp1252"))
    env = cli_env("kill-scratch-key", TMPDIR=str(system_temp))

    def copy_and_spill():
        copies = [p for p in tmp_path.rglob("extract.csv") if p.stat().st_size > 0]
        spills = [p for p in tmp_path.rglob("duckdb_temp_*storage*") if p.stat().st_size > 0]
        return copies and spills and (copies[0], spills[0])

    run = subprocess.Popen(audit_command(inbox, db, out), env={**env, "IVIG_AUDIT_MEMORY_LIMIT": "40MB"},
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        copy, spill = wait_for(copy_and_spill, 240, "a decoded copy and a spill file", run)
    finally:
        run.kill()
        run.wait()
    scratch = Path(f"{db}.scratch")
    assert copy.is_relative_to(scratch) and spill.is_relative_to(scratch)
    assert scratch.stat().st_mode & 0o777 == 0o700
    leftovers = files_holding(marker.encode(), [tmp_path, SYSTEM_TEMP], started, skip=inbox)
    assert leftovers and all(path.is_relative_to(scratch) for path in leftovers), leftovers

    final = subprocess.run(audit_command(inbox, db, out), env=env, capture_output=True, text=True, timeout=600)
    assert final.returncode == 0, final.stderr
    assert not scratch.exists() and not Path(f"{db}.building.tmp").exists()
    assert files_holding(marker.encode(), [tmp_path, SYSTEM_TEMP], started, skip=inbox) == []
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT rows_loaded FROM ingest_batches").fetchall() == [(150_000,)]
    con.close()


def test_after_a_kill_the_page_and_lists_are_never_ahead_of_the_database(tmp_path, prefect_server):
    """Kill -9 the moment a run starts writing its page: what the out folder shows must be what
    the database holds (here, still the first run's files)."""
    inbox, db, out = tmp_path / "inbox", tmp_path / "audit.duckdb", tmp_path / "out"
    write_extracts(2000, inbox, seed=21)
    flow_runner(inbox, db, out, "publish-kill-key")  # the first run in this process; the killed one on the command line
    page = out / "dashboard.html"
    first_page = page.stat().st_mtime_ns
    write_extracts(3000, tmp_path / "later", seed=22).orders.rename(inbox / "orders_later.csv")

    run = subprocess.Popen(audit_command(inbox, db, out), env=cli_env("publish-kill-key"), stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: (out / ".publishing" / "dashboard.html").exists() or page.stat().st_mtime_ns != first_page,
                 600, "the run to write its page", run)
    finally:
        run.kill()
        run.wait()
    con = duckdb.connect(str(db), read_only=True)
    in_database = set(con.execute("SELECT parse_filename(source_file) FROM ingest_batches").fetchall())
    con.close()
    listed = set(pl.read_csv(out / "exports" / "data_quality_batches.csv").select("file").rows())
    assert listed <= in_database
    assert "orders_later.csv" not in page.read_text(encoding="utf-8") or ("orders_later.csv",) in in_database


def test_files_given_and_none_usable_fail_the_run_with_one_line(tmp_path, prefect_server):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "minutes.pdf").write_bytes(b"%PDF-1.4 not an extract")
    (inbox / "empty.csv").write_bytes(b"")
    db = tmp_path / "audit.duckdb"
    run = subprocess.run(audit_command(inbox, db, tmp_path / "out"), env=cli_env("rejected-key"),
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 2
    assert run.stderr.strip() == f"ivig-audit: {inbox}: none of the 2 files could be used (all rejected)"
    assert "Rejected: " in run.stdout  # the summary still lists them, with their reasons
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT status, count(*) FROM ingest_batches GROUP BY ALL").fetchall() == [("rejected", 2)]
    con.close()
    assert flow_run_states(prefect_server, f"audit {inbox}") == ["FAILED"]


def flow_run_states(api_url: str, name: str) -> list[str]:
    runs = httpx.post(f"{api_url}/flow_runs/filter", json={"flow_runs": {"name": {"any_": [name]}}}, timeout=30)
    return [run["state_type"] for run in runs.json()]


def test_what_a_user_can_get_wrong_stops_the_run_with_one_line_before_prefect_starts(tmp_path):
    inbox = tmp_path / "inbox"
    write_extracts(100, inbox, seed=23)
    (tmp_path / "a_file").write_text("not a folder")
    unwritable = tmp_path / "unwritable"
    unwritable.mkdir()
    cases = {  # --db, --out: the one line
        "out": (tmp_path / "db" / "audit.duckdb", tmp_path / "a_file" / "out",
                f"{tmp_path / 'a_file' / 'out'}: cannot write the outputs here (Not a directory)"),
        "db": (tmp_path / "a_file" / "audit.duckdb", tmp_path / "out",
               f"{tmp_path / 'a_file'}: cannot write the database here (File exists)"),
    }
    if make_unwritable(unwritable):
        cases["permissions"] = (tmp_path / "db" / "audit.duckdb", unwritable,
                                f"{unwritable}: cannot write the outputs here (")
    try:
        for case, (db, out, line) in cases.items():
            prefect_home = tmp_path / f"prefect-{case}"
            run = subprocess.run(audit_command(inbox, db, out), capture_output=True, text=True, timeout=300,
                                 env=cli_env("one-line-key", PREFECT_HOME=str(prefect_home)))
            assert (run.returncode, run.stderr.count("\n")) == (2, 1), (case, run.stderr)
            assert run.stderr.startswith(f"ivig-audit: {line}"), (case, run.stderr)
            assert not prefect_home.exists() and not db.exists(), case
    finally:
        make_unwritable(unwritable, undo=True)


def make_unwritable(folder: Path, undo: bool = False) -> bool:
    """A folder even root cannot write in (immutable), or read-only permissions for anyone else;
    False when neither is possible here."""
    if os.geteuid() != 0:
        folder.chmod(0o755 if undo else 0o555)
        return True
    return subprocess.run(["chattr", "-i" if undo else "+i", str(folder)], capture_output=True).returncode == 0


def test_out_of_memory_is_one_line_and_not_tried_again(tmp_path, prefect_server, monkeypatch):
    inbox = tmp_path / "inbox"
    write_extracts(25_000, inbox, seed=24)
    monkeypatch.setenv("IVIG_AUDIT_MEMORY_LIMIT", "40MB")
    run = subprocess.run(audit_command(inbox, tmp_path / "audit.duckdb", tmp_path / "out"), capture_output=True,
                         text=True, timeout=600, env=cli_env("memory-key"))
    assert run.returncode == 2 and run.stderr.count("\n") == 1, run.stderr
    assert run.stderr.startswith("ivig-audit: DuckDB ran out of memory under IVIG_AUDIT_MEMORY_LIMIT=40MB: raise it")

    reads = []
    monkeypatch.setattr(ingest, "read", lambda *args: reads.append(args[1].name) or READ(*args))
    with pytest.raises(duckdb.OutOfMemoryException):
        flow_runner(inbox, tmp_path / "in-process.duckdb", tmp_path / "out", "memory-key")
    assert reads.count("orders_25000_seed24.csv") == 1  # Prefect would have tried twice more


def test_a_read_is_tried_again_when_the_file_changed_during_a_failed_try(tmp_path, con, prefect_server, monkeypatch):
    """A file still being copied in: the first try fails as it grows; the second reads it whole."""
    from pipelines import flow, ingest, pseudonym
    from pipelines.profile import SiteProfile
    path = write_orders_csv(tmp_path / "orders.csv", [order_row("G1")])
    tries = []

    def read_while_copied(*args):
        tries.append(1)
        if len(tries) == 1:
            write_orders_csv(path, [order_row("G1"), order_row("G2")])
            raise OSError("unexpected end of file")
        return READ(*args)

    monkeypatch.setattr(ingest, "read", read_while_copied)
    staged = flow.read_extract(con, path, SiteProfile(), pseudonym.hmac_pads(b"k"))
    assert len(tries) == 2 and staged.facts.size == path.stat().st_size
    monkeypatch.setattr(ingest, "read", lambda *args: tries.append(1) or (_ for _ in ()).throw(OSError("disk error")))
    with pytest.raises(OSError):
        flow.read_extract(con, path, SiteProfile(), pseudonym.hmac_pads(b"k"))
    assert len(tries) == 3  # unchanged file: not tried again


def test_a_second_run_is_refused_at_once_before_prefect_starts(tmp_path):
    db, inbox, prefect_home = tmp_path / "audit.duckdb", tmp_path / "inbox", tmp_path / "prefect"
    write_extracts(100, inbox, seed=3)
    with open(f"{db}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # as a run in progress holds it
        second = subprocess.run(audit_command(inbox, db, tmp_path / "out"), capture_output=True, text=True,
                                timeout=300, env=cli_env("lock-key", PREFECT_HOME=str(prefect_home)))
    assert second.returncode == 2
    assert second.stderr.strip() == f"ivig-audit: {db}: another audit run is writing this database"
    assert not db.exists() and not prefect_home.exists()
