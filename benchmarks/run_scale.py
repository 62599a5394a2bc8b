"""Scale benchmark: on one generated orders extract, time a bare DuckDB load (the floor), the full
`ivig-audit run`, a run with nothing new (the fixed start-up cost) and an incremental run adding
10,000 new orders; report the ratio run / bare load, the run's peak memory and the dashboard's
size and build time.

    .venv/bin/python benchmarks/run_scale.py --orders 1000000
"""
import argparse
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import polars as pl

from pipelines.generate import generate

CLI = str(Path(sys.executable).parent / "ivig-audit")


def timed_run(inbox: Path, work: Path) -> dict:
    """One `ivig-audit run` as a child process: wall time and the dashboard's size and build time."""
    started = time.perf_counter()
    process = subprocess.Popen([CLI, "run", "--inbox", str(inbox), "--db", str(work / "audit.duckdb"),
                                "--out", str(work / "out")], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env={**os.environ, "IVIG_AUDIT_PSEUDONYM_KEY": "benchmark", "COLUMNS": "200"})
    stdout, stderr = process.communicate()
    seconds = time.perf_counter() - started
    if process.returncode != 0:
        raise SystemExit(f"ivig-audit run failed: {stderr.decode()}")
    dashboard = re.search(r"\(([\d.]+) MB, built in ([\d.]+) s", stdout.decode())
    return {"seconds": seconds, "page_mb": float(dashboard[1]), "build_s": float(dashboard[2])}


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
        generated = time.perf_counter() - started

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

    print(f"orders: {args.orders:,} (+ {len(extracts.assessments):,} assessments); generated in {generated:.1f} s")
    print(f"bare DuckDB load (CREATE TABLE AS read_csv): {bare:.2f} s")
    print(f"full ivig-audit run:                         {full['seconds']:.1f} s "
          f"({full['seconds'] / bare:.1f} x the bare load)")
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # the largest child, in KB
    print(f"peak RSS of the runs:                        {peak_mb:,.0f} MB")
    print(f"run with nothing new (fixed cost):           {nothing_new['seconds']:.1f} s")
    print(f"incremental run, 10,000 new orders:          {incremental['seconds']:.1f} s "
          f"({incremental['seconds'] - nothing_new['seconds']:+.1f} s beyond the fixed cost)")
    print(f"dashboard: {full['page_mb']:.1f} MB, built in {full['build_s']:.1f} s "
          f"(incremental run: {incremental['build_s']:.1f} s)")


if __name__ == "__main__":
    main()
