"""How long `ivig-audit classify` takes to answer (issue 20, item 4: under 1 s, median of three).

Each run is a child process, timed from start to exit, as a user at a terminal waits for it. The
first run, with an empty reference cache, reads and checks guideline/ and writes the cache
(pipelines/reference_cache.py); the three after it read the cache. Prints each run, the median and
the load average, and whether Python may write bytecode (PYTHONDONTWRITEBYTECODE: without cached
bytecode every run compiles its imports from source).

    .venv/bin/python benchmarks/classify_latency.py ["GBS" --age 8 ...]
"""
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CLI = str(Path(sys.executable).parent / "ivig-audit")
REPEATS = 3


def timed(arguments: list[str], cache: str) -> float:
    started = time.perf_counter()
    subprocess.run([CLI, "classify", *arguments], check=True, stdout=subprocess.DEVNULL,
                   env={**os.environ, "IVIG_AUDIT_CACHE_DIR": cache})
    return time.perf_counter() - started


def main() -> None:
    arguments = sys.argv[1:] or ["Miller Fisher syndrome"]
    print(f"ivig-audit classify {' '.join(arguments)}")
    print(f"load average before: {os.getloadavg()[0]:.2f}; "
          f"PYTHONDONTWRITEBYTECODE={os.environ.get('PYTHONDONTWRITEBYTECODE', '')!r}")
    with tempfile.TemporaryDirectory(prefix="classify-cache-") as cache:
        print(f"first run, empty reference cache: {timed(arguments, cache):.2f} s")
        runs = [timed(arguments, cache) for _ in range(REPEATS)]
    for number, seconds in enumerate(runs, 1):
        print(f"run {number}: {seconds:.2f} s")
    print(f"median of {REPEATS}: {statistics.median(runs):.2f} s (target: under 1 s)")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
