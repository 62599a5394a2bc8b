"""The shape of derived SQL models (pipelines/db.py: read_model, run_models): the header each file
declares, the run order that follows what each model reads, and the delete-and-insert done once by
the runner. The real models run in every end-to-end test; these use small models of their own."""
import duckdb
import pytest

from pipelines import db
from pipelines.paths import SQL_DIR

# Not yet in the model shape, run by name (README, Database): the verdicts per profile and rule set
# and the views that reach them per order (order_audit among them), the profiles of orders loaded
# before orders.profile_id, the weak-evidence list (replaced by batch), the rule sets' governance
# view, the two tables of indication_resolution, and the scope, which makes the temp tables the
# incremental models read.
NOT_MODELS = {"audit/audit_profiles.sql", "audit/profile_verdicts.sql", "audit/audit_rulesets.sql",
              "audit/order_profiles.sql", "audit/order_verdicts.sql", "audit/order_audit.sql",
              "audit/indication_resolution.sql", "audit/scope.sql", "analysis/treatment_reference.sql",
              "marts/weak_evidence_orders.sql", "marts/ruleset_governance.sql"}


@pytest.fixture
def sql_dir(tmp_path, monkeypatch):
    monkeypatch.setattr(db, "SQL_DIR", tmp_path)
    return tmp_path


def _model(folder, name: str, header: str, query: str) -> str:
    (folder / f"{name}.sql").write_text(header + query, encoding="utf-8")
    return f"{name}.sql"


def _full(folder, name: str, reads: str, query: str) -> str:
    return _model(folder, name, f"-- model: {name}\n-- kind: full\n-- grain: one row per thing\n-- reads: {reads}\n",
                  query)


def test_every_derived_model_declares_kind_grain_and_reads():
    files = sorted(str(p.relative_to(SQL_DIR)) for layer in ("audit", "analysis", "marts")
                   for p in (SQL_DIR / layer).glob("*.sql"))
    models = [db.read_model(f) for f in files if f not in NOT_MODELS]
    assert len(models) == len(files) - len(NOT_MODELS) >= 14
    assert len({m.name for m in models}) == len(models)
    assert {m.kind for m in models} == {"full", "incremental by patient"}
    assert all(m.grain and m.reads for m in models)


def test_the_header_is_read_with_its_continuation_lines(sql_dir):
    name = _model(sql_dir, "usage", "-- model: usage\n-- kind: incremental by batch\n-- grain: one row per\n"
                  "--   order and day\n-- reads: orders,\n--   patients\n-- unique_key: site, order_id\n"
                  "-- scope: orders_to_replace\n--\n-- Free text after the header.\n", "SELECT 1 AS x")
    model = db.read_model(name)
    assert (model.name, model.kind, model.grain) == ("usage", "incremental by batch", "one row per order and day")
    assert model.reads == ("orders", "patients")
    assert (model.unique_key, model.scope) == (("site", "order_id"), "orders_to_replace")


@pytest.mark.parametrize("header, problem", [
    ("-- Grain: one row per thing (an old-style comment)\n", "no model header (-- model:, -- kind:, -- grain:, -- reads: missing)"),
    ("-- model: x\n-- kind: full\n-- reads: a\n", "no model header (-- grain: missing)"),
    ("-- model: x\n-- kind: sometimes\n-- grain: g\n-- reads: a\n", "kind 'sometimes' is not one of"),
    ("-- model: x\n-- kind: incremental by batch\n-- grain: g\n-- reads: a\n", "unique_key and scope go with"),
])
def test_a_model_without_its_header_is_refused_in_one_line_naming_the_file(sql_dir, header, problem):
    name = _model(sql_dir, "old_style", header, "CREATE OR REPLACE TABLE x AS SELECT 1 AS a;\n")
    with pytest.raises(db.ModelError) as refused:
        db.read_model(name)
    assert str(refused.value).startswith(f"sql/old_style.sql: {problem}")
    assert "\n" not in str(refused.value)


def test_models_run_after_what_they_read_whatever_the_order_given(sql_dir):
    con = duckdb.connect()
    con.execute("CREATE TABLE source AS SELECT range AS n FROM range(5)")
    files = [_full(sql_dir, "total", "doubled, halved", "SELECT (SELECT sum(n) FROM doubled) + (SELECT sum(n) FROM halved) AS n"),
             _full(sql_dir, "doubled", "source", "SELECT n * 2 AS n FROM source"),
             _full(sql_dir, "halved", "doubled", "SELECT n / 2 AS n FROM doubled")]
    db.run_models(con, files)
    assert con.execute("SELECT n FROM total").fetchone()[0] == 20 + 10


def test_a_cycle_is_refused_in_one_line_before_anything_runs(sql_dir):
    con = duckdb.connect()
    files = [_full(sql_dir, "a", "c", "SELECT * FROM c"), _full(sql_dir, "b", "a", "SELECT * FROM a"),
             _full(sql_dir, "c", "b", "SELECT * FROM b")]
    with pytest.raises(db.ModelError, match=r"^models read each other in a cycle: (\w -> ){3}\w$"):
        db.run_models(con, files)


def test_an_unknown_input_is_refused_in_one_line_naming_the_file(sql_dir):
    con = duckdb.connect()
    con.execute("CREATE TABLE source AS SELECT 1 AS n")
    files = [_full(sql_dir, "first", "source", "SELECT n FROM source"),
             _full(sql_dir, "second", "first, sauce", "SELECT n FROM first")]
    with pytest.raises(db.ModelError) as refused:
        db.run_models(con, files)
    assert str(refused.value) == ("sql/second.sql: reads sauce, which no model given makes and the database does "
                                  "not have")
    assert not con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'first'").fetchone()[0]


def test_incremental_models_replace_only_the_rows_in_scope(sql_dir):
    con = duckdb.connect()
    con.execute("CREATE TABLE events AS SELECT * FROM (VALUES (1, 'a', 10), (2, NULL, 20)) AS t(patient_seq, tag, n)")
    con.execute("CREATE TEMP TABLE patients_in_scope AS SELECT 1 AS patient_seq")
    con.execute("CREATE TEMP TABLE tags_in_scope AS SELECT NULL::VARCHAR AS tag")
    by_patient = _model(sql_dir, "per_patient", "-- model: per_patient\n-- kind: incremental by patient\n"
                        "-- grain: one row per event\n-- reads: events, patients_in_scope\n",
                        "SELECT * FROM events SEMI JOIN patients_in_scope USING (patient_seq)")
    by_batch = _model(sql_dir, "per_tag", "-- model: per_tag\n-- kind: incremental by batch\n-- grain: one row per tag\n"
                      "-- reads: events, tags_in_scope\n-- unique_key: tag\n-- scope: tags_in_scope\n",
                      "SELECT e.tag, sum(e.n) AS n FROM events AS e JOIN tags_in_scope AS s ON e.tag IS NOT DISTINCT FROM s.tag "
                      "GROUP BY e.tag")
    db.run_models(con, [by_patient, by_batch])  # the tables do not exist yet: made from the query
    con.execute("INSERT INTO per_patient VALUES (2, NULL, 20)")
    con.execute("INSERT INTO per_tag VALUES ('a', 10)")
    assert con.execute("SELECT * FROM per_tag ORDER BY ALL").fetchall() == [("a", 10), (None, 20)]
    con.execute("UPDATE events SET n = n + 1")
    db.run_models(con, [by_patient, by_batch])
    assert con.execute("SELECT * FROM per_patient ORDER BY ALL").fetchall() == [(1, "a", 11), (2, None, 20)]
    assert con.execute("SELECT * FROM per_tag ORDER BY ALL").fetchall() == [("a", 10), (None, 21)]  # NULL is a key too


def test_two_files_making_one_model_are_refused(sql_dir):
    files = [_full(sql_dir, "a", "source", "SELECT 1 AS n"),
             _model(sql_dir, "b", "-- model: a\n-- kind: full\n-- grain: g\n-- reads: source\n", "SELECT 2 AS n")]
    with pytest.raises(db.ModelError, match=r"^sql/b\.sql: model a is also made by sql/a\.sql$"):
        db.run_models(duckdb.connect(), files)
