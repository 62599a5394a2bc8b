"""patient_keys: one number (patient_seq) per pseudonymised patient, kept across files and kinds of
extract; a database made before it is numbered on its next run and builds the same tables."""
import pytest

from pipelines import analyse, classify, ingest, pseudonym
from pipelines.generate import generate
from pipelines.profile import SiteProfile
from tests.conftest import order_row, write_orders_csv

PADS = pseudonym.hmac_pads(b"patient-keys-test")
NUMBERED = ("orders", "orders_history", "assessments", "assessments_history")


def load(con, path):
    return ingest.ingest_file(con, path, SiteProfile(), PADS)


def unnumbered_or_mismatched(con) -> int:
    """Rows without a number, or whose number stands for another patient in patient_keys."""
    return sum(con.execute(f"""SELECT count(*) FROM {table} AS t LEFT JOIN patient_keys AS k USING (patient_seq)
                               WHERE k.patient_key IS DISTINCT FROM t.patient_key OR k.site IS DISTINCT FROM t.site"""
                           ).fetchall()[0][0] for table in NUMBERED)


def test_a_patient_keeps_their_number_across_files_and_corrections(con, tmp_path):
    load(con, write_orders_csv(tmp_path / "1.csv", [order_row("A1", patient_id="P1"), order_row("A2", patient_id="P2")]))
    load(con, write_orders_csv(tmp_path / "2.csv", [order_row("A1", patient_id="P1", dose_g="120"),
                                                    order_row("B1", patient_id="P2"), order_row("B2", patient_id="P3")]))
    seq = dict(con.execute("SELECT order_id, patient_seq FROM orders").fetchall())
    assert seq["A2"] == seq["B1"] != seq["A1"] and seq["B2"] not in (seq["A1"], seq["A2"])
    assert con.execute("SELECT count(*), count(DISTINCT patient_seq), count(DISTINCT (site, patient_key)) "
                       "FROM patient_keys").fetchall() == [(3, 3, 3)]
    assert con.execute("SELECT patient_seq FROM orders_history").fetchall() == [(seq["A1"],)]
    assert unnumbered_or_mismatched(con) == 0


def derived(con) -> dict[str, list]:
    return {table: con.execute(f"SELECT * EXCLUDE (patient_seq) FROM {table} ORDER BY ALL").fetchall()
            for table in ("order_audit", "courses", "cidp_review")}


def build(con, since_batch=0):
    classify.classify_orders(con, "aan-2012-ivig-nmd", since_batch)
    analyse.analyse_treatment(con)


def test_a_correction_that_moves_an_order_to_another_patient_rebuilds_both_patients(con, tmp_path):
    load(con, write_orders_csv(tmp_path / "1.csv", [order_row("A1", patient_id="P1"), order_row("A2", patient_id="P1")]))
    build(con)
    second = load(con, write_orders_csv(tmp_path / "2.csv", [order_row("A1", patient_id="P2")]))
    build(con, second.batch_id)
    seq = dict(con.execute("SELECT order_id, patient_seq FROM orders").fetchall())
    assert seq["A1"] != seq["A2"]
    assert con.execute("SELECT order_id, patient_seq FROM order_audit ORDER BY order_id").fetchall() == sorted(seq.items())
    assert con.execute("SELECT patient_seq, orders FROM patient_condition_usage ORDER BY patient_seq").fetchall() == \
        sorted([(seq["A2"], 1), (seq["A1"], 1)])
    assert con.execute("SELECT patient_seq, count(*) FROM courses GROUP BY ALL ORDER BY 1").fetchall() == \
        sorted([(seq["A2"], 1), (seq["A1"], 1)])


@pytest.fixture
def database_before_patient_keys(con, tmp_path, loaded_reference):
    """A database with CIDP courses, a correction and assessments, then made as it was before
    patient_keys: no registry and no patient_seq column. Returns its derived tables as built."""
    extract = generate(400, seed=5)
    extract.orders.write_csv(tmp_path / "orders.csv")
    extract.assessments.write_csv(tmp_path / "assessments.csv")
    load(con, tmp_path / "assessments.csv")
    load(con, tmp_path / "orders.csv")
    first = extract.orders.head(1).to_dicts()[0]
    load(con, write_orders_csv(tmp_path / "correction.csv", [{**first, "dose_g": "1"}]))
    build(con)
    before = derived(con)
    con.execute("DROP TABLE patient_keys")
    for table in NUMBERED:
        con.execute(f"ALTER TABLE {table} DROP COLUMN patient_seq")
    return before


def test_a_database_made_before_patient_keys_is_numbered_and_builds_the_same_tables(
        con, loaded_reference, database_before_patient_keys):
    ingest.prepare(con, loaded_reference)
    assert unnumbered_or_mismatched(con) == 0
    assert con.execute("SELECT count(*) FROM orders_history").fetchall() == [(1,)]
    assert con.execute("SELECT count(*) = count(DISTINCT patient_seq), count(*) = count(DISTINCT (site, patient_key)) "
                       "FROM patient_keys").fetchall() == [(True, True)]
    build(con)  # since batch 0: every derived table dropped and built again, as a run does when the SQL changed
    assert derived(con) == database_before_patient_keys
    assert len(database_before_patient_keys["cidp_review"]) >= 5  # a comparison with CIDP patients in it
