import atexit
import csv
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from pipelines import classify, db, ingest, prefect_env, reference
from pipelines.generate import write_extracts

# No outbound calls from Prefect in any test, and its state in a throwaway folder of this process
# (each pytest-xdist worker its own, not the one it inherits: two servers on one state collide; the
# command-line runs the tests start inherit it), removed when the tests end.
PREFECT_STATE = Path(tempfile.mkdtemp(prefix="ivig-audit-tests-"))
atexit.register(shutil.rmtree, PREFECT_STATE, ignore_errors=True)
os.environ["PREFECT_HOME"] = str(PREFECT_STATE / "prefect")
os.environ["IVIG_AUDIT_CACHE_DIR"] = str(PREFECT_STATE / "cache")  # classify's reference cache, not ~/.cache
prefect_env.configure(PREFECT_STATE)
# Flows run in this process use Prefect's temporary server; its first start creates its database,
# which takes longer than Prefect's default wait on a busy machine.
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
os.environ.setdefault("PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW", "ignore")  # tasks the tests call alone

FIXTURES = Path(__file__).parent / "fixtures"
CLI = str(Path(sys.executable).parent / "ivig-audit")


# The longest tests (minutes on a busy machine; `--durations=40` to review), started right after the
# shared run's group so that they run beside it instead of after it, with one worker idle at the end.
SLOWEST_FIRST = ("test_network_pools.py", "test_serve.py", "test_run_lifecycle.py", "test_atomicity.py",
                 "test_malformed_corpus.py", "test_concurrent_readers.py", "test_rule_set_comparison.py")


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist's own, which reads the group marks
def pytest_collection_modifyitems(config, items):
    """Under pytest-xdist (`make test`: --dist loadgroup --no-loadscope-reorder) the tests that read
    the shared run go to one worker, so it is made once, and so do the tests of a module sharing a
    module-scoped fixture (else each worker makes it again). This hook runs before pytest-xdist's own,
    which reads the marks; and pytest stays below 9.2, where pytest-xdist 3.8 no longer groups
    (pytest-xdist issue 1386). The shared run's group starts first, then the slowest modules; the
    rest keep their order."""
    rank = {}
    for item in items:
        scopes = {name: defs[-1].scope for name, defs in item._fixtureinfo.name2fixturedefs.items()}
        if scopes.get("audited") == "session":
            item.add_marker(pytest.mark.xdist_group("audited"))
            rank[item.nodeid] = 0
            continue
        if "module" in scopes.values():
            item.add_marker(pytest.mark.xdist_group(item.module.__name__))
        name = item.path.name
        rank[item.nodeid] = 1 + (SLOWEST_FIRST.index(name) if name in SLOWEST_FIRST else len(SLOWEST_FIRST))
    items.sort(key=lambda item: rank[item.nodeid])


def pytest_configure(config):
    """Start the session's Prefect server (prefect_server) before any test module imports prefect,
    which reads PREFECT_API_URL once, on import; not in pytest-xdist's controller, which runs no
    tests (each worker has its own)."""
    if config.getoption("numprocesses", default=None) and not hasattr(config, "workerinput"):
        return
    from pipelines.serve import start_server
    server, url = start_server(one_off=True)
    os.environ["PREFECT_API_URL"] = url
    config.stash[PREFECT_SERVER] = server
    config.add_cleanup(lambda: stop_server(server))


def stop_server(server) -> None:
    from pipelines.serve import stop
    stop(server)
    os.environ.pop("PREFECT_API_URL", None)


PREFECT_SERVER = pytest.StashKey()


@pytest.fixture(scope="session")
def prefect_server(pytestconfig):
    """One Prefect server for the session, as `serve` keeps one for its scheduled runs: the flows
    the tests run in this process and the command-line runs they start (which inherit
    PREFECT_API_URL) use it instead of each starting their own. It boots while the tests that need
    no Prefect run; a test that runs a flow or the command line asks for it, to wait until it answers."""
    from pipelines.serve import wait_until_healthy
    wait_until_healthy(os.environ["PREFECT_API_URL"], pytestconfig.stash[PREFECT_SERVER])
    return os.environ["PREFECT_API_URL"]


def flow_runner(inbox: Path, db: Path, out: Path, key: str, **options):
    """audit_run, the Prefect flow, called in this process (for tests where the command line itself
    is not under test; they need the prefect_server fixture), with its own pseudonymisation key."""
    from pipelines.flow import audit_run
    from pipelines.pseudonym import KEY_ENV
    before = os.environ.get(KEY_ENV)
    os.environ[KEY_ENV] = key_for(key)
    try:
        return audit_run(inbox=inbox, db_path=db, out_dir=out, **options)
    finally:
        if before is None:
            del os.environ[KEY_ENV]
        else:
            os.environ[KEY_ENV] = before


def audit_command(inbox: Path, db: Path, out: Path) -> list[str]:
    """`ivig-audit run` over an inbox, as a command line for subprocess."""
    return [CLI, "run", "--inbox", str(inbox), "--db", str(db), "--out", str(out)]


def key_for(name: str) -> str:
    """A pseudonymisation key of the length a run requires, made from a test's name."""
    return hashlib.sha256(name.encode()).hexdigest()


def cli_env(key: str, **extra: str) -> dict[str, str]:
    """The environment for a command-line run with its own pseudonymisation key (made from `key`)."""
    return {**os.environ, "IVIG_AUDIT_PSEUDONYM_KEY": key_for(key), **extra}

ORDER_HEADER = ["order_id", "patient_id", "age_years", "date_of_birth", "sex", "weight_kg", "height_cm",
                "order_date", "start_date", "infusion_days", "dose_g", "product", "indication",
                "diagnosis_code", "severity", "refractory", "plasma_exchange", "with_methylprednisolone",
                "specialty", "department", "prescriber_id", "site"]


def order_row(order_id: str, **values) -> dict:
    """A valid standard order; keyword arguments override fields."""
    row = {name: "" for name in ORDER_HEADER}
    row.update(order_id=order_id, patient_id=f"MRN-{order_id}", age_years="45", sex="F", weight_kg="70",
               order_date="2024-03-01", dose_g="140", indication="CIDP", site="TST")
    row.update(values)
    return row


def write_orders_csv(path: Path, rows: list[dict], header: list[str] = ORDER_HEADER) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=header, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture(scope="session")
def loaded_reference():
    return reference.load_reference()


@pytest.fixture
def con(tmp_path, loaded_reference):
    """A real audit database file, ready for ingest."""
    connection = db.connect(tmp_path / "audit.duckdb")
    ingest.prepare(connection, loaded_reference)
    yield connection
    connection.close()


def classify_cases(db_path: Path, cases: list[dict], loaded, ruleset_id="aan-2012-ivig-nmd",
                   ) -> dict[str, dict]:
    """Insert each case as an order in a DuckDB file, classify them all, return audit rows by id."""
    con = db.connect(db_path)
    ingest.prepare(con, loaded)
    for case in cases:
        con.execute("""
            INSERT INTO orders (order_id, site, patient_key, age_years, weight_kg, order_date, start_date,
                infusion_days, dose_g, indication, diagnosis_code, severity, refractory, plasma_exchange,
                with_methylprednisolone, specialty, batch_id, source_row)
            VALUES (?, 'TST', 'k', ?, 70, DATE '2024-01-01', DATE '2024-01-01', 1, 10, ?, ?, ?, ?, ?, ?, ?, 0, 0)""",
            [case["id"], case.get("age", 45), case.get("text"), case.get("code"), case.get("severity"),
             case.get("refractory"), case.get("plasma_exchange"), case.get("methylprednisolone"),
             case.get("specialty")])
    classify.classify_orders(con, ruleset_id)
    cursor = con.execute("SELECT * FROM order_audit")
    names = [d[0] for d in cursor.description]
    rows = {row[0]: dict(zip(names, row)) for row in cursor.fetchall()}
    con.close()
    return rows


# Text a hostile extract might carry: markup for the page, formulas for a spreadsheet.
MARKUP = {"indication": "Miller Fisher syndrome <script>alert('indication')</script>",
          "specialty": "<img src=x onerror=alert('specialty')>Neurology"}
FORMULA = {"indication": "@SUM(1+1) Miller Fisher syndrome",
           "specialty": "=HYPERLINK(\"http://example.invalid\",\"x\")"}


@pytest.fixture(scope="session")
def audited(tmp_path_factory, prefect_server):
    """One real `ivig-audit run` on the command line, and the same again (nothing new), shared by
    the tests that only read what they left (database, page, lists, output): generated extracts,
    hand-made orders, and hostile ones newer than the rest (the top of the Level U list)."""
    base = tmp_path_factory.mktemp("audited")
    inbox = base / "inbox"
    write_extracts(1500, inbox, seed=7)
    write_orders_csv(inbox / "hand.csv", [
        order_row("H1", indication="Miller Fisher syndrome", patient_id="MRN-RAW-42"),
        order_row("H2", indication="<script>alert(1)</script> GBS", age_years="12"),
        order_row("H3", dose_g="=HYPERLINK(\"x\")"),
    ])
    write_orders_csv(inbox / "hostile.csv", [
        order_row(f"X{n}", patient_id=f"MRN-SECRET-{n}", order_date="2026-01-15", **(MARKUP if n % 2 else FORMULA))
        for n in range(12)])
    command = audit_command(inbox, base / "audit.duckdb", base / "out")
    first = subprocess.run(command, capture_output=True, text=True, env=cli_env("e2e-test-key"), timeout=300)
    second = subprocess.run(command, capture_output=True, text=True, env=cli_env("e2e-test-key"), timeout=300)
    return base, first, second
