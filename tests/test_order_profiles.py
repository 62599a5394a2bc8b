"""orders.profile_id: each order gets its profile's number when it is loaded, and order_audit is a
view joining it to the primary's verdicts. The numbers stay across rebuilds, and a database made
before the column gets it once and builds the same order_audit."""
from pipelines import analyse, classify, ingest, pseudonym
from pipelines.generate import generate
from pipelines.profile import SiteProfile
from tests.conftest import order_row, write_orders_csv

PADS = pseudonym.hmac_pads(b"order-profiles-test")
PROFILE = "indication, diagnosis_code, age_years, specialty, severity, refractory, plasma_exchange, with_methylprednisolone"


def load(con, path):
    return ingest.ingest_file(con, path, SiteProfile(), PADS)


def build(con, since_batch=0):
    classify.classify_orders(con, "aan-2012-ivig-nmd", since_batch)
    analyse.analyse_treatment(con)


def mismatched(con) -> int:
    """Orders without a profile, or whose profile's columns are not the order's."""
    return con.execute(f"""
        SELECT count(*) FROM orders AS o LEFT JOIN audit_profiles AS p USING (profile_id)
        WHERE p.profile_id IS NULL OR ({', '.join(f'o.{c}' for c in PROFILE.split(', '))})
                                      IS DISTINCT FROM ({', '.join(f'p.{c}' for c in PROFILE.split(', '))})""").fetchall()[0][0]


def audit(con) -> list:
    return con.execute("SELECT * FROM order_audit ORDER BY site, order_id").fetchall()


def test_orders_get_their_profile_at_load_and_keep_it_through_a_rebuild(con, tmp_path):
    load(con, write_orders_csv(tmp_path / "1.csv", [order_row("A1", indication="CIDP"), order_row("A2", indication="CIDP"),
                                                    order_row("A3", indication="Miller Fisher syndrome")]))
    profiles = con.execute("SELECT order_id, profile_id FROM orders ORDER BY order_id").fetchall()
    assert profiles[0][1] == profiles[1][1] != profiles[2][1]
    assert mismatched(con) == 0
    load(con, write_orders_csv(tmp_path / "2.csv", [order_row("B1", indication="GBS"), order_row("B2", indication="CIDP")]))
    assert con.execute("SELECT count(*) FROM audit_profiles").fetchall() == [(3,)]  # CIDP's is not registered twice
    assert mismatched(con) == 0
    build(con)
    first = audit(con), con.execute("FROM audit_profiles ORDER BY profile_id").fetchall()
    assert [row[:1] + row[5:8] for row in first[0]] == [
        ("A1", "cidp", "A", "offer"), ("A2", "cidp", "A", "offer"), ("A3", "miller_fisher_syndrome", "U", "insufficient_evidence"),
        ("B1", "gbs", "A", "offer"), ("B2", "cidp", "A", "offer")]
    build(con)  # everything derived dropped and built again, as after a change of the SQL
    assert (audit(con), con.execute("FROM audit_profiles ORDER BY profile_id").fetchall()) == first


def test_a_database_made_before_profile_id_gets_it_and_builds_the_same_order_audit(con, tmp_path, loaded_reference):
    extract = generate(400, seed=7)
    extract.orders.write_csv(tmp_path / "orders.csv")
    load(con, tmp_path / "orders.csv")
    first = extract.orders.head(1).to_dicts()[0]
    load(con, write_orders_csv(tmp_path / "correction.csv", [{**first, "indication": "multifocal motor neuropathy"}]))
    build(con)
    before, profiles = audit(con), con.execute("FROM audit_profiles ORDER BY profile_id").fetchall()
    for table in ("orders", "orders_history"):
        con.execute(f"ALTER TABLE {table} DROP COLUMN profile_id")
    con.execute("DELETE FROM audit_profiles WHERE profile_id > 5")  # profiles the old database did not have yet
    ingest.prepare(con, loaded_reference)  # as the next run does: the column comes back empty
    assert con.execute("SELECT count(*) FROM orders WHERE profile_id IS NULL").fetchall()[0][0] > 0
    build(con)
    assert mismatched(con) == 0
    assert audit(con) == before
    assert con.execute("FROM audit_profiles WHERE profile_id <= 5 ORDER BY profile_id").fetchall() == profiles[:5]
