"""Time the Great Expectations validation of one staged batch (the checks registry for orders),
separately from reading and staging it. Issue target: under 1 s of check time for 1M rows.

    .venv/bin/python benchmarks/validate_checks.py --orders 1000000
"""
import argparse
import tempfile
import time
from datetime import date
from pathlib import Path

from pipelines import db, ingest, pseudonym, readers, reference, validate
from pipelines.generate import write_extracts
from pipelines.profile import SiteProfile


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        extract = write_extracts(args.orders, Path(work), seed=1).orders
        con = db.connect(Path(work) / "audit.duckdb")
        ingest.prepare(con, reference.load_reference())
        profile = SiteProfile()
        started = time.perf_counter()
        readers.read_extract(con, extract, readers.inspect_file(extract), profile)
        db.run_sql_file(con, "staging/stg_orders.sql", {**profile.parse_params(), **pseudonym.hmac_pads(b"bench")})
        staged = time.perf_counter()
        validate.run_checks(con, "orders", date.today())  # warm-up: GX import and context set-up
        checked_once = time.perf_counter()
        results = validate.run_checks(con, "orders", date.today())
        checked = time.perf_counter()
        failing = sum(r.violated for r in results)
        print(f"rows staged:          {args.orders:,}")
        print(f"checks:               {len(results)} (failing row-checks: {failing:,})")
        print(f"read + stage:         {staged - started:.2f} s")
        print(f"checks, first call:   {checked_once - staged:.2f} s (includes GX set-up)")
        print(f"checks, second call:  {checked - checked_once:.2f} s")
        con.close()


if __name__ == "__main__":
    main()
