"""Re-audit benchmark: on one generated orders extract, time a bare DuckDB load (the yardstick) and
a full `ivig-audit run`; then, with the orders stored, a run that adds a rule set (`run
--also-guideline`, no inbox: the stored orders audited again) and one that changes it. Each is
reported whole, and by its SQL (IVIG_AUDIT_SQL_TIMINGS): the re-audit proper (sql/audit/, where
only the rule set's profiles are classified) and the marts. Results: docs/performance.md.

    .venv/bin/python benchmarks/reaudit_scale.py --orders 10000000
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import duckdb

from run_scale import machine

CLI = str(Path(sys.executable).parent / "ivig-audit")
RULESET = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "successor-ruleset.yaml"


def timed(args: list[str], work: Path) -> dict:
    """One `ivig-audit run` as a child process: wall time, peak RSS, and seconds per SQL folder."""
    started = time.perf_counter()
    result = subprocess.run([CLI, "run", "--db", str(work / "audit.duckdb"), "--out", str(work / "out"), *args],
                            capture_output=True, text=True,
                            env={**os.environ, "IVIG_AUDIT_PSEUDONYM_KEY": "benchmark-" + "0" * 32,
                                 "IVIG_AUDIT_SQL_TIMINGS": "1", "COLUMNS": "200"})
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"ivig-audit run failed: {result.stderr}")
    by_folder: dict[str, float] = defaultdict(float)
    by_file: dict[str, float] = defaultdict(float)
    for folder, name, spent in re.findall(r"^sql/(?:(\w+)/)?([\w.]+): ([\d.]+) s$", result.stderr, re.MULTILINE):
        by_folder[folder or "."] += float(spent)
        by_file[f"{folder}/{name}" if folder else name] += float(spent)
    return {"seconds": seconds, "folders": dict(by_folder), "files": dict(by_file)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--work", type=Path, help="folder to work in (default: a temporary one)")
    args = parser.parse_args()
    load_before = f"{os.getloadavg()[0]:.2f}"
    with tempfile.TemporaryDirectory() as temporary:
        work = args.work or Path(temporary)
        inbox = work / "inbox"
        inbox.mkdir(parents=True, exist_ok=True)
        subprocess.run([CLI, "generate", "--orders", str(args.orders), "--out", str(inbox), "--seed", "1"],
                       check=True, capture_output=True)
        con = duckdb.connect(str(work / "bare.duckdb"))
        started = time.perf_counter()
        con.execute(f"CREATE TABLE orders AS SELECT * FROM read_csv('{inbox / f'orders_{args.orders}_seed1.csv'}')")
        bare = time.perf_counter() - started
        con.close()
        (work / "bare.duckdb").unlink()

        full = timed(["--inbox", str(inbox)], work)
        ruleset = work / "successor.yaml"
        ruleset.write_text(RULESET.read_text(encoding="utf-8"), encoding="utf-8")
        added = timed(["--also-guideline", str(ruleset)], work)
        ruleset.write_text(ruleset.read_text(encoding="utf-8").replace('version: "test 0.1"', 'version: "test 0.2"'),
                           encoding="utf-8")
        changed = timed(["--also-guideline", str(ruleset)], work)
        con = duckdb.connect(str(work / "audit.duckdb"), read_only=True)
        orders, profiles = con.execute("SELECT (SELECT count(*) FROM orders), (SELECT count(*) FROM audit_profiles)").fetchall()[0]
        con.close()

    print(f"machine: {machine()}; load average before: {load_before}")
    print(f"orders stored: {orders:,}; distinct profiles: {profiles:,}")
    print(f"bare DuckDB load (CREATE TABLE AS read_csv): {bare:.2f} s")
    print(f"full ivig-audit run:                         {full['seconds']:.1f} s ({full['seconds'] / bare:.1f} x the bare load)")
    for name, result in (("adding a rule set", added), ("changing that rule set", changed)):
        audit = result["folders"].get("audit", 0.0)
        transitions = sum(result["files"].get(f"marts/{name}.sql", 0.0) for name in ("patient_ruleset_paths",
                                                                                      "ruleset_transitions"))
        print(f"{name + ':':44} {result['seconds']:.1f} s whole run ({result['seconds'] / bare:.2f} x the bare load); "
              f"re-audit SQL (sql/audit/) {audit:.2f} s ({audit / bare:.2f} x), marts {result['folders'].get('marts', 0.0):.2f} s, "
              f"transitions (per patient and mart) {transitions:.2f} s")
        slowest = sorted(result["files"].items(), key=lambda item: -item[1])[:6]
        print("    slowest SQL: " + ", ".join(f"{file} {spent:.2f} s" for file, spent in slowest))
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
