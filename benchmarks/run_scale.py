"""Scale benchmark: on one generated orders extract, time a bare DuckDB load (the floor), the full
`ivig-audit run`, a run with nothing new (the fixed start-up cost) and an incremental run adding
10,000 new orders; report the ratio run / bare load, each run's peak memory and the dashboard's
size and build time. Results and the machine: docs/performance.md.

    .venv/bin/python benchmarks/run_scale.py --orders 1000000
"""
import argparse
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import polars as pl

from pipelines.db import DEFAULT_MEMORY_LIMIT, MEMORY_LIMIT_ENV
from pipelines.generate import generate

CLI = str(Path(sys.executable).parent / "ivig-audit")


def timed_run(inbox: Path, work: Path) -> dict:
    """One `ivig-audit run` as a child process: wall time, peak RSS (the run and the processes it
    waited for), and the dashboard's size and build time."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as stdout, tempfile.TemporaryFile() as stderr:
        process = subprocess.Popen([CLI, "run", "--inbox", str(inbox), "--db", str(work / "audit.duckdb"),
                                    "--out", str(work / "out")], stdout=stdout, stderr=stderr,
                                   env={**os.environ, "IVIG_AUDIT_PSEUDONYM_KEY": "benchmark", "COLUMNS": "200"})
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        stdout.seek(0), stderr.seek(0)
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"ivig-audit run failed: {stderr.read().decode()}")
        dashboard = re.search(r"\(([\d.]+) MB, built in ([\d.]+) s", stdout.read().decode())
    return {"seconds": seconds, "rss_mb": usage.ru_maxrss / 1024, "page_mb": float(dashboard[1]),
            "build_s": float(dashboard[2])}


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    memory_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (f"{os.cpu_count()} cores ({cpu}), {memory_gb:.0f} GiB RAM, {platform.system()} {platform.release()}; "
            f"Python {platform.python_version()}, DuckDB {duckdb.__version__}, polars {pl.__version__}; "
            f"{MEMORY_LIMIT_ENV}={os.environ.get(MEMORY_LIMIT_ENV, DEFAULT_MEMORY_LIMIT)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--work", type=Path, help="folder to work in (default: a temporary one)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        work = args.work or Path(temporary)
        inbox = work / "inbox"
        inbox.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        extracts = generate(args.orders, seed=1)
        extracts.orders.write_csv(inbox / "orders.csv")
        extracts.assessments.write_csv(inbox / "assessments.csv")
        generated, assessments = time.perf_counter() - started, len(extracts.assessments)
        del extracts  # the runs have the machine to themselves

        con = duckdb.connect(str(work / "bare.duckdb"))
        started = time.perf_counter()
        con.execute(f"CREATE TABLE orders AS SELECT * FROM read_csv('{inbox / 'orders.csv'}')")
        bare = time.perf_counter() - started
        con.close()

        full = timed_run(inbox, work)
        nothing_new = timed_run(inbox, work)
        generate(10_000, seed=2).orders.with_columns(
            order_id=pl.lit("INC") + pl.col("order_id")).write_csv(inbox / "orders_increment.csv")
        incremental = timed_run(inbox, work)

    print(f"machine: {machine()}")
    print(f"orders: {args.orders:,} (+ {assessments:,} assessments); generated in {generated:.1f} s")
    print(f"bare DuckDB load (CREATE TABLE AS read_csv): {bare:.2f} s")
    print(f"full ivig-audit run:                         {full['seconds']:.1f} s "
          f"({full['seconds'] / bare:.1f} x the bare load), peak RSS {full['rss_mb']:,.0f} MB")
    print(f"run with nothing new (fixed cost):           {nothing_new['seconds']:.1f} s, "
          f"peak RSS {nothing_new['rss_mb']:,.0f} MB")
    print(f"incremental run, 10,000 new orders:          {incremental['seconds']:.1f} s "
          f"({incremental['seconds'] - nothing_new['seconds']:+.1f} s beyond the fixed cost), "
          f"peak RSS {incremental['rss_mb']:,.0f} MB")
    print(f"dashboard: {full['page_mb']:.1f} MB, built in {full['build_s']:.1f} s "
          f"(incremental run: {incremental['build_s']:.1f} s)")


if __name__ == "__main__":
    main()
