"""A run rebuilds only what its new batches touched (sql/audit/scope.sql); the result must be the
same as one run over all the extracts, and a change of rule set rebuilds everything."""
import csv

import duckdb
import polars as pl
import pytest

from pipelines.generate import generate, update_extract
from tests.conftest import FIXTURES, flow_runner

DERIVED = {table: "*" for table in (
    "indication_resolution", "indication_setting_resolution", "order_audit", "patient_condition_usage",
    "patient_group_usage", "courses", "cidp_review", "mart_recommendation_summary", "mart_monthly_grams",
    "mart_condition_recommendation", "mart_outside_reasons", "mart_indication_review", "mart_weak_evidence_orders",
    "mart_cidp_suspected", "mart_usage_by_group", "order_verdicts", "mart_ruleset_transitions",
    "weak_evidence_orders", "mart_weak_evidence_by_condition", "patient_money_grams", "mart_money_grams",
    "cidp_suspected_patients", "patient_indication_review", "patient_ruleset_paths", "mart_quarterly_usage",
    "mart_quarterly_usage_periods", "mart_quarterly_usage_shares", "mart_quarterly_usage_periods_by_condition")} | {
    "mart_audit_coverage": "* EXCLUDE (last_loaded_at)"}  # the run's own time
SUCCESSOR = str(FIXTURES / "successor-ruleset.yaml")


def run(inbox, db, out, **options):
    flow_runner(inbox, db, out, "incremental-key", **options)


def differing_rows(db_a, db_b, table, columns) -> int:
    con = duckdb.connect()
    con.execute(f"ATTACH '{db_a}' AS a (READ_ONLY); ATTACH '{db_b}' AS b (READ_ONLY)")
    a, b = f"SELECT {columns} FROM a.{table}", f"SELECT {columns} FROM b.{table}"
    return con.execute(f"""SELECT (SELECT count(*) FROM ({a} EXCEPT ALL {b}))
                                 + (SELECT count(*) FROM ({b} EXCEPT ALL {a}))""").fetchall()[0][0]


@pytest.fixture(scope="module")
def extracts(tmp_path_factory, prefect_server):
    """A first extract; then a later one with repeats, corrections, typing errors, and new courses
    for patients already loaded (CIDP patients among them), corrections of Level U orders (a dose,
    and an indication that makes them no longer Level U), and new outcome measures."""
    folder = tmp_path_factory.mktemp("extracts")
    first = generate(3000, seed=11)
    first.orders.write_csv(folder / "1_orders.csv")
    first.assessments.head(len(first.assessments) // 2).write_csv(folder / "1_assessments.csv")
    later = first.orders.filter(pl.col("indication").str.to_lowercase().str.contains("cidp")).head(150).with_columns(
        order_id=pl.lit("NEW") + pl.col("order_id"),
        order_date=(pl.col("order_date").str.to_date() + pl.duration(days=400)).cast(pl.String),
        start_date=(pl.col("start_date").str.to_date() + pl.duration(days=400)).cast(pl.String))
    updated = update_extract(first.orders)
    weak = first.orders.filter(pl.col("indication").str.to_lowercase().str.contains("inclusion body|fisher")
                               & ~pl.col("order_id").is_in(updated["order_id"].implode()))
    corrected = pl.concat([
        weak.head(4).with_columns(dose_g=(pl.col("dose_g").cast(pl.Float64) + 10).cast(weak.schema["dose_g"])),
        weak.slice(4, 4).with_columns(indication=pl.lit("CIDP"))])
    pl.concat([updated, corrected, later]).write_csv(folder / "2_orders.csv")
    first.assessments.tail(len(first.assessments) - len(first.assessments) // 2).write_csv(folder / "2_assessments.csv")
    return folder


@pytest.fixture(scope="module")
def whole(extracts, tmp_path_factory):
    """One run over every extract under both rule sets: what runs in steps must build."""
    folder = tmp_path_factory.mktemp("whole")
    run(extracts, folder / "audit.duckdb", folder / "out", also_guidelines=[SUCCESSOR])
    return folder / "audit.duckdb"


def run_in_steps(extracts, step, first_rulesets: list[str]) -> None:
    """The first extracts under first_rulesets, then the later ones under both rule sets."""
    (step / "inbox").mkdir(parents=True)
    for name in ("1_orders.csv", "1_assessments.csv"):
        (step / "inbox" / name).write_bytes((extracts / name).read_bytes())
    run(step / "inbox", step / "audit.duckdb", step / "out", also_guidelines=first_rulesets)
    for name in ("2_orders.csv", "2_assessments.csv"):
        (step / "inbox" / name).write_bytes((extracts / name).read_bytes())
    run(step / "inbox", step / "audit.duckdb", step / "out", also_guidelines=[SUCCESSOR])


def test_an_incremental_run_builds_what_one_run_over_everything_builds(extracts, whole, tmp_path):
    step = tmp_path / "step"
    run_in_steps(extracts, step, [SUCCESSOR])

    con = duckdb.connect(str(step / "audit.duckdb"), read_only=True)
    changed = con.execute("SELECT count(*) FROM orders_history").fetchall()[0][0]
    reviewed = con.execute("SELECT count(*) FROM cidp_review").fetchall()[0][0]
    con.close()
    assert changed == 48 and reviewed > 50  # the second run did correct orders and review patients
    assert {table: differing_rows(step / "audit.duckdb", whole, table, columns)
            for table, columns in DERIVED.items()} == dict.fromkeys(DERIVED, 0)
    # the weak-evidence list keeps its rows by run, and still reads newest first
    with (step / "out" / "exports" / "weak_evidence_orders.csv").open(encoding="utf-8") as handle:
        dates = [row["order_date"] for row in csv.DictReader(handle)]
    assert len(dates) > 10 and dates == sorted(dates, reverse=True)


def test_a_rule_set_added_as_orders_load_is_compared_for_every_patient(extracts, whole, tmp_path):
    """The second run adds a rule set as it loads new orders: the comparison between the rule sets
    covers every patient, not only those the new orders touched."""
    step = tmp_path / "step"
    run_in_steps(extracts, step, [])
    assert {table: differing_rows(step / "audit.duckdb", whole, table, columns)
            for table, columns in DERIVED.items()} == dict.fromkeys(DERIVED, 0)


def test_a_run_with_nothing_new_rebuilds_nothing_and_another_rule_set_rebuilds_everything(extracts, tmp_path):
    db, out = tmp_path / "audit.duckdb", tmp_path / "out"
    run(extracts, db, out)

    def state():
        con = duckdb.connect(str(db), read_only=True)
        try:
            return (con.execute("SELECT fingerprint, built_at FROM derived_state").fetchall(),
                    con.execute("SELECT guideline_id, count(*) FROM order_audit GROUP BY ALL").fetchall())
        finally:
            con.close()

    before = state()
    run(extracts, db, out)
    assert state() == before
    run(extracts, db, out, guideline=str(FIXTURES / "local-policy.yaml"))
    fingerprint, by_guideline = state()
    assert fingerprint[0][0] != before[0][0][0]
    assert by_guideline == [("local-policy-example", sum(n for _, n in before[1]))]
