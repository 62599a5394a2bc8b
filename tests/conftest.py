import atexit
import csv
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

from pipelines import classify, db, ingest, prefect_env, reference

# No outbound calls from Prefect in any test, and its state in a throwaway folder (the command-line
# runs the tests start inherit both), removed when the tests end.
PREFECT_STATE = Path(tempfile.mkdtemp(prefix="ivig-audit-tests-"))
atexit.register(shutil.rmtree, PREFECT_STATE, ignore_errors=True)
prefect_env.configure(PREFECT_STATE)
os.environ.setdefault("PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW", "ignore")  # tasks the tests call alone

FIXTURES = Path(__file__).parent / "fixtures"
CLI = str(Path(sys.executable).parent / "ivig-audit")


@pytest.fixture(scope="session")
def prefect_server():
    """One Prefect server for the session, as `serve` keeps one for its scheduled runs: the flows
    the tests run in this process and the command-line runs they start (which inherit
    PREFECT_API_URL) use it instead of each starting their own. Prefect reads PREFECT_API_URL when
    first imported: no test module imports it before this runs."""
    assert "prefect" not in sys.modules, "prefect was imported before the test server was up"
    from pipelines.serve import prefect_api
    with prefect_api(one_off=True):
        yield os.environ["PREFECT_API_URL"]


@pytest.fixture
def run_flow(prefect_server):
    """audit_run, the Prefect flow, called in this process (for tests where the command line itself
    is not under test), with its own pseudonymisation key."""
    return flow_runner


def flow_runner(inbox: Path, db: Path, out: Path, key: str, **options):
    from pipelines.flow import audit_run
    from pipelines.pseudonym import KEY_ENV
    before = os.environ.get(KEY_ENV)
    os.environ[KEY_ENV] = key
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


def cli_env(key: str, **extra: str) -> dict[str, str]:
    """The environment for a command-line run with its own pseudonymisation key."""
    return {**os.environ, "IVIG_AUDIT_PSEUDONYM_KEY": key, **extra}

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
                with_methylprednisolone, batch_id, source_row)
            VALUES (?, 'TST', 'k', ?, 70, DATE '2024-01-01', DATE '2024-01-01', 1, 10, ?, ?, ?, ?, ?, ?, 0, 0)""",
            [case["id"], case.get("age", 45), case.get("text"), case.get("code"), case.get("severity"),
             case.get("refractory"), case.get("plasma_exchange"), case.get("methylprednisolone")])
    classify.classify_orders(con, ruleset_id)
    cursor = con.execute("SELECT * FROM order_audit")
    names = [d[0] for d in cursor.description]
    rows = {row[0]: dict(zip(names, row)) for row in cursor.fetchall()}
    con.close()
    return rows
