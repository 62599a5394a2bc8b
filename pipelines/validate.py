"""Validate a staged batch with Great Expectations.

The suite is built from the checks registry (guideline/checks/<kind>.yaml) and runs as SQL inside
DuckDB on stage.staged. Failing rows are collected into stage.check_failures, to be quarantined or
flagged. A check that cannot be evaluated raises CheckError: it must never pass, or vanish,
silently (GX reports a failed metric only in exception_info, it does not raise).
"""
import logging
from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum
from functools import cache

import duckdb
import great_expectations as gx
from duckdb_engine import ConnectionWrapper
from great_expectations.data_context.types.base import ProgressBarsConfig
from great_expectations.execution_engine import sqlalchemy_execution_engine

from pipelines.db import AuditError
from pipelines.paths import GUIDELINE_DIR
from pipelines.yaml_data import read_checked_yaml

RESULT_FORMAT = {"result_format": "COMPLETE", "unexpected_index_column_names": ["source_row"],
                 "return_unexpected_index_query": True, "partial_unexpected_count": 0}


class _DuckDBDialect(str, Enum):
    DUCKDB = "duckdb"


# GX closes a DuckDB connection before fetching results (every expectation then fails with an
# IndexError in exception_info); GX keeps one connection open for the dialects listed here, as it
# does for SQLite. See docs/stack-facts.md.
if _DuckDBDialect.DUCKDB not in sqlalchemy_execution_engine._PERSISTED_CONNECTION_DIALECTS:
    sqlalchemy_execution_engine._PERSISTED_CONNECTION_DIALECTS += (_DuckDBDialect.DUCKDB,)


class CheckError(AuditError):
    """A check in the registry is malformed or could not be evaluated."""


@dataclass
class CheckResult:
    check_id: str
    column_name: str | None
    expectation: str
    severity: str
    message: str
    violated: int
    denominator: int
    percent: float
    status: str  # pass | fail


@cache
def load_checks(kind: str) -> tuple[dict, ...]:
    path = GUIDELINE_DIR / "checks" / f"{kind}.yaml"
    checks = read_checked_yaml(path, "checks.schema.json", CheckError)["checks"]
    ids = [c["id"] for c in checks]
    if len(set(ids)) != len(ids):
        raise CheckError(f"{path}: check ids used twice: {sorted({i for i in ids if ids.count(i) > 1})}")
    return tuple(checks)


def _bound(value, today: date):
    """Dates as datetime (GX compares dates wrongly when given datetime.date)."""
    if value == "today":
        return datetime.combine(today, datetime.min.time())
    if isinstance(value, str):
        return datetime.fromisoformat(value)
    return value


def build_expectation(check: dict, today: date):
    meta = {"check_id": check["id"]}
    kind = check["kind"]
    if kind == "not_null":
        return gx.expectations.ExpectColumnValuesToNotBeNull(column=check["column"], meta=meta)
    if kind == "is_null":
        return gx.expectations.ExpectColumnValuesToBeNull(column=check["column"], meta=meta)
    if kind == "between":
        return gx.expectations.ExpectColumnValuesToBeBetween(
            column=check["column"], min_value=_bound(check.get("min"), today),
            max_value=_bound(check.get("max"), today), strict_min=check.get("strict_min", False),
            strict_max=check.get("strict_max", False), meta=meta)
    return gx.expectations.UnexpectedRowsExpectation(
        unexpected_rows_query=f"SELECT source_row FROM {{batch}} WHERE {check['where']}", meta=meta)


def reset_check_tables(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("CREATE OR REPLACE TABLE stage.check_failures (source_row BIGINT, check_id VARCHAR)")
    con.execute("CREATE OR REPLACE TABLE stage.check_registry "
                "(check_id VARCHAR, check_order INTEGER, severity VARCHAR, message VARCHAR)")


def run_checks(con: duckdb.DuckDBPyConnection, kind: str, today: date) -> list[CheckResult]:
    """Validate stage.staged; fill stage.check_failures (source_row, check_id) and
    stage.check_registry (the checks, in registry order)."""
    checks = load_checks(kind)
    reset_check_tables(con)
    if not con.execute("SELECT count(*) FROM stage.staged").fetchall()[0][0]:
        return []  # a header-only file: nothing to check (GX reports no counts on an empty table)
    con.executemany("INSERT INTO stage.check_registry VALUES (?, ?, ?, ?)",
                    [[c["id"], i, c["severity"], c["message"]] for i, c in enumerate(checks)])
    # GX gets its own connection to the same in-process database, looking at the stage schema; it
    # keeps a transaction open on it, so failing rows are written through another one
    gx_cursor, cursor = con.cursor(), con.cursor()
    try:
        gx_cursor.execute("USE stage")
        cursor.execute("USE stage")
        validation = _validate(gx_cursor, kind, [build_expectation(c, today) for c in checks])
        by_id = {r.expectation_config.meta["check_id"]: r for r in validation.results}
        _raise_on_errors(checks, by_id)
        rows = cursor.execute("SELECT count(*) FROM staged").fetchall()[0][0]
        return [_collect(cursor, check, by_id.get(check["id"]), rows) for check in checks]
    finally:
        cursor.close()


@cache
def _context():
    """One ephemeral GX context per process (it keeps nothing on disk that we use)."""
    # its config module logs at INFO the (immediately removed) temporary docs folder it names
    logging.getLogger("great_expectations.data_context.types.base").setLevel(logging.WARNING)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    return context


def _validate(cursor: duckdb.DuckDBPyConnection, kind: str, expectations: list):
    context = _context()
    source = context.data_sources.add_sql(
        "stage", connection_string="duckdb:///:memory:", kwargs={"creator": lambda: ConnectionWrapper(cursor)})
    try:
        batch = source.add_table_asset("staged", table_name="staged").add_batch_definition_whole_table("all").get_batch()
        return batch.validate(gx.ExpectationSuite(f"{kind}_checks", expectations=expectations),
                              result_format=RESULT_FORMAT)
    finally:
        # end GX's transaction and close its connection now, not whenever the engine is collected
        engine = source.get_execution_engine()
        if engine._connection is not None:
            engine._connection.close()
        engine.engine.dispose()
        context.data_sources.delete("stage")


def _raise_on_errors(checks: tuple[dict, ...], by_id: dict) -> None:
    """Stop on any check GX could not evaluate, naming the one that caused it: one failing query
    aborts GX's transaction, and every check evaluated after it then fails too."""
    errors = []
    for check in checks:
        result = by_id.get(check["id"])
        if result is None:
            raise CheckError(f"check {check['id']}: Great Expectations returned no result for it")
        info = result.exception_info or {}
        messages = [i.get("exception_message") for i in info.values() if isinstance(i, dict) and i.get("raised_exception")]
        if info.get("raised_exception"):
            messages.append(info.get("exception_message"))
        errors += [(check["id"], str(m).splitlines()[0]) for m in messages]
    if errors:
        causes = [e for e in errors if "transaction is aborted" not in e[1]] or errors
        check_id, message = causes[0]
        raise CheckError(f"check {check_id} could not be evaluated: {message}"
                         + (f" ({len({e[0] for e in errors})} checks failed)" if len(errors) > 1 else ""))


def _collect(cursor: duckdb.DuckDBPyConnection, check: dict, result, rows: int) -> CheckResult:
    """Record the failing rows of one check, checking them against the counts GX reported."""
    if check["kind"] == "rows":
        failing = f"SELECT source_row FROM staged WHERE {check['where']}"
        violated, denominator = result.result["observed_value"], rows
    else:
        failing = "SELECT source_row FROM (" + result.result["unexpected_index_query"].rstrip().rstrip(";") + ")"
        violated = result.result["unexpected_count"]
        if result.result["element_count"] != rows:
            raise CheckError(f"check {check['id']}: Great Expectations saw {result.result['element_count']} "
                             f"rows but the batch has {rows}")
        denominator = result.result["element_count"] - result.result.get("missing_count", 0)
    cursor.execute(f"INSERT INTO check_failures SELECT source_row, ? FROM ({failing})", [check["id"]])
    recorded = cursor.execute("SELECT count(*) FROM check_failures WHERE check_id = ?", [check["id"]]).fetchall()[0][0]
    if recorded != violated:
        raise CheckError(f"check {check['id']}: Great Expectations counted {violated} failing rows "
                         f"but its row query found {recorded}")
    return CheckResult(
        check["id"], check.get("column"), result.expectation_config.type, check["severity"], check["message"],
        violated, denominator, round(100.0 * violated / denominator, 4) if denominator else 0.0,
        "fail" if violated else "pass")
