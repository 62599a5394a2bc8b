"""Great Expectations validation built from the checks registry, run inside DuckDB: results per
check per batch in dq_results, and a check that cannot be evaluated stops the batch loudly
instead of passing or vanishing."""
import pytest

from pipelines import ingest, pseudonym, validate
from pipelines.profile import SiteProfile
from tests.conftest import order_row, write_orders_csv


def load(con, path):
    return ingest.ingest_file(con, path, SiteProfile(), pseudonym.hmac_pads(b"k"))


def test_every_registry_check_has_a_result_with_counts(con, tmp_path):
    rows = [order_row("V1"), order_row("V2", weight_kg=""), order_row("V3", weight_kg="900"), order_row("V4")]
    result = load(con, write_orders_csv(tmp_path / "orders.csv", rows))
    results = {r[0]: r[1:] for r in con.execute(
        "SELECT check_id, violated, denominator, percent, status FROM dq_results WHERE batch_id = ?",
        [result.batch_id]).fetchall()}
    assert set(results) == {c["id"] for c in validate.load_checks("orders")}
    assert results["weight_missing"] == (1, 4, 25.0, "fail")
    assert results["weight_impossible"] == (1, 3, 33.3333, "fail")  # of the 3 rows with a weight
    assert results["dose_missing"] == (0, 4, 0.0, "pass")
    assert con.execute("SELECT DISTINCT expectation FROM dq_results WHERE check_id = 'weight_impossible'"
                       ).fetchall() == [("expect_column_values_to_be_between",)]


@pytest.mark.parametrize("broken, message", [
    ({"id": "no_such_column", "kind": "not_null", "column": "weight_in_stone", "severity": "quarantine",
      "message": "m"}, 'check no_such_column could not be evaluated: Error: The column "weight_in_stone"'),
    ({"id": "bad_sql", "kind": "rows", "where": "weight_kg >>> 3", "severity": "flag", "message": "m"},
     "check bad_sql could not be evaluated"),
])
def test_a_check_that_cannot_be_evaluated_fails_loudly_and_loads_nothing(con, tmp_path, monkeypatch, broken, message):
    checks = validate.load_checks("orders") + (broken,)
    monkeypatch.setattr(validate, "load_checks", lambda kind: checks)
    with pytest.raises(validate.CheckError) as error:
        load(con, write_orders_csv(tmp_path / "orders.csv", [order_row("W1")]))
    assert message in str(error.value)
    assert con.execute("SELECT (SELECT count(*) FROM orders) + (SELECT count(*) FROM ingest_batches)"
                       " + (SELECT count(*) FROM dq_results)").fetchall() == [(0,)]


def test_the_registry_files_match_their_schema_and_name_staged_columns(con, tmp_path):
    load(con, write_orders_csv(tmp_path / "orders.csv", [order_row("Y1")]))
    staged = {row[0] for row in con.execute("DESCRIBE stage.staged").fetchall()}
    for check in validate.load_checks("orders"):
        assert check.get("column", "source_row") in staged, check["id"]
