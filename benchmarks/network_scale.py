"""Network scale benchmark: simulate many sites' audit tables (pipelines/network_demo.simulate_sites:
a national programme's orders a year, shared among sites of varied size, over three years), write
each site's bundle through the same SQL as a real site, then time `ivig-audit network` over all of
them (a child process: Prefect server, collect and check, merge, marts, page) and report its peak
memory and the sizes of the bundles, the network database and the page. Results: docs/performance.md.

    .venv/bin/python benchmarks/network_scale.py --sites 100 --orders-per-year 1600000
"""
import argparse
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from run_scale import machine  # benchmarks/ is on the path when run as a script
from pipelines.bundle import write_bundle
from pipelines.network_demo import simulate_sites

CLI = str(Path(sys.executable).parent / "ivig-audit")


def size_mb(path: Path) -> float:
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files) / 2**20


def prepare(work: Path, n_sites: int, orders_per_year: int, stale: int) -> tuple[list[str], float, float]:
    """Simulate the sites and write each one's bundle: (site codes, seconds to simulate, to bundle)."""
    started = time.perf_counter()
    sites = simulate_sites(work / "sites.duckdb", n_sites, orders_per_year, stale_sites=stale)
    simulated = time.perf_counter() - started
    started = time.perf_counter()
    for site in sites:
        write_bundle(work / "sites.duckdb", work / "bundles", site)
    return sites, simulated, time.perf_counter() - started


def timed_network(bundles: Path, out: Path, expected: list[str]) -> tuple[float, float, str]:
    """`ivig-audit network` as a child process: wall time, peak RSS (MB), what it printed."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as output:
        process = subprocess.Popen([CLI, "network", "--bundles", str(bundles), "--out", str(out),
                                    *[option for site in expected for option in ("--expect", site)]],
                                   stdout=output, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        output.seek(0)
        printed = output.read().decode()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"ivig-audit network failed:\n{printed}")
    return seconds, usage.ru_maxrss / 1024, printed


def network_steps(work: Path, expected: list[str]) -> dict[str, float]:
    """The network flow's three steps, each timed: collect and check, merge and marts, page."""
    from dashboards import network_page
    from pipelines import db, network
    times, started = {}, time.perf_counter()
    seen = network.collect(work / "bundles", expected)
    times["collect and check"], started = time.perf_counter() - started, time.perf_counter()
    con = db.connect(work / "steps.duckdb")
    network.build_database(con, seen, expected, 45)
    times["merge and marts"], started = time.perf_counter() - started, time.perf_counter()
    network_page.publish(con, work / "steps")
    times["page"] = time.perf_counter() - started
    con.close()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=100)
    parser.add_argument("--orders-per-year", type=int, default=1_600_000)
    parser.add_argument("--stale", type=int, default=5, help="sites whose data stops six months early")
    parser.add_argument("--missing", type=int, default=3, help="sites expected but without a bundle")
    parser.add_argument("--work", type=Path, help="folder to work in (default: a temporary one)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        work = args.work or Path(temporary)
        # simulated and bundled in a child process, so this one stays small: a child's peak RSS
        # counts the pages it shares with this process when forked
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as child:
            sites, simulated, bundled = child.submit(prepare, work, args.sites, args.orders_per_year, args.stale).result()

        expected = sites + [f"M{index + 1:03d}" for index in range(args.missing)]
        seconds, rss_mb, printed = timed_network(work / "bundles", work / "network", expected)
        statuses = {word: printed.count(f": {word}") for word in ("current", "stale", "missing", "refused")}
        (work / "empty").mkdir()
        fixed_seconds, fixed_rss_mb, _ = timed_network(work / "empty", work / "network-empty", [])
        steps = network_steps(work, expected)

        print(f"machine: {machine()}")
        print(f"{args.sites} sites, {args.orders_per_year:,} orders a year over 3 years: simulated in {simulated:.1f} s")
        print(f"bundles: {bundled:.1f} s for all ({bundled / args.sites:.2f} s a site), "
              f"{size_mb(work / 'bundles'):.1f} MB in all ({size_mb(work / 'bundles') / args.sites * 1024:.0f} KB a site)")
        print(f"ivig-audit network: {seconds:.1f} s, peak RSS {rss_mb:,.0f} MB; sites {statuses}")
        print(f"ivig-audit network over an empty bundle folder (the fixed cost): {fixed_seconds:.1f} s, "
              f"peak RSS {fixed_rss_mb:,.0f} MB")
        print("its steps, timed again in this process without Prefect: "
              + ", ".join(f"{name} {step:.1f} s" for name, step in steps.items()))
        print(f"network.duckdb {size_mb(work / 'network' / 'network.duckdb'):.1f} MB, "
              f"network_dashboard.html {size_mb(work / 'network' / 'network_dashboard.html'):.1f} MB")


if __name__ == "__main__":
    main()
