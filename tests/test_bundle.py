"""Site bundles from a real audited DuckDB file: what they hold (suppressed as on the dashboard), what
they never hold (patient keys, hospital numbers, free text unless allowed), and the manifest check
that refuses a damaged or leaking bundle with its reason."""
import json
import shutil
from datetime import date
from pathlib import Path

import duckdb
import pytest

from pipelines import analyse, classify, db, ingest, pseudonym
from pipelines.bundle import BundleRefused, check_bundle, write_bundle
from pipelines.db import AuditError
from pipelines.profile import SiteProfile
from tests.conftest import order_row, write_orders_csv
from tests.bundle_edits import add_free_text, edit_manifest, miscount, rewrite
from tests.privacy_scan import leaks

FREE_TEXT = "IVIG per Dr Zebedee Quux ward note 7731"
SHARED_TEXT = "ivig as per haematology plan"


def orders(prefix: str, count: int, indication: str, month: int, **values) -> list[dict]:
    return [order_row(f"{prefix}{n}", indication=indication, order_date=f"2024-{month:02d}-{n % 28 + 1:02d}",
                      site="HOSP", **values) for n in range(count)]


@pytest.fixture(scope="module")
def site_db(tmp_path_factory, loaded_reference):
    """Site HOSP in 2024: 12 CIDP (offer), 7 MG (consider), 3 Miller Fisher (Level U), 6 ITP
    (outside), one patient each; in 2023 one order typed as free text. Site TEXT: 6 patients
    whose indication names nothing the vocabulary knows."""
    base = tmp_path_factory.mktemp("bundle")
    rows = (orders("C", 12, "CIDP", 2) + orders("M", 7, "myasthenia gravis", 5, severity="severe")
            + orders("F", 3, "Miller Fisher syndrome", 8) + orders("I", 6, "ITP", 11)
            + [order_row("X1", indication=FREE_TEXT, order_date="2023-06-01", site="HOSP", patient_id="MRN-FREE-1")]
            + [order_row(f"T{n}", indication=SHARED_TEXT, order_date="2024-03-01", site="TEXT") for n in range(6)])
    con = db.connect(base / "audit.duckdb")
    ingest.prepare(con, loaded_reference)
    ingest.ingest_file(con, write_orders_csv(base / "orders.csv", rows), SiteProfile(), pseudonym.hmac_pads(b"bundle-key"))
    classify.classify_orders(con, "aan-2012-ivig-nmd")
    analyse.analyse_treatment(con)
    con.close()
    return base / "audit.duckdb", rows


@pytest.fixture(scope="module")
def hosp_bundle(site_db, tmp_path_factory):
    return write_bundle(site_db[0], tmp_path_factory.mktemp("drop"), "HOSP", until=date(2024, 12, 31))


def table(folder: Path, name: str) -> list[tuple]:
    return duckdb.sql(f"SELECT * FROM read_parquet('{folder / name}.parquet')").fetchall()


def test_a_bundle_holds_the_period_s_aggregates_with_small_numbers_suppressed(hosp_bundle):
    manifest = json.loads((hosp_bundle / "manifest.json").read_text())
    assert (manifest["site"], manifest["period"], manifest["free_text"]) == (
        "HOSP", {"start": "2024-01-01", "end": "2024-12-31"}, False)
    assert manifest["ruleset"]["id"] == "aan-2012-ivig-nmd" and len(manifest["vocabulary"]["sha256"]) == 64
    assert sorted(manifest["files"]) == ["cidp.parquet", "conditions.parquet", "quarters.parquet",
                                         "recommendations.parquet", "totals.parquet"]
    assert table(hosp_bundle, "totals") == [(28, 28, 28 * 140.0)]  # the 2023 order is outside the period
    # 3 Level U orders are under 5; the only such cell, so the next smallest (6 outside) is hidden too
    assert table(hosp_bundle, "recommendations") == [
        ("offer", 12, 12, 1680.0), ("consider", 7, 7, 980.0), ("may_consider", 0, 0, 0.0),
        ("insufficient_evidence", None, None, None), ("should_not", 0, 0, 0.0),
        ("outside_guideline", None, None, None), ("unknown_indication", 0, 0, 0.0)]
    assert {row[0]: row[2:] for row in table(hosp_bundle, "conditions")} == {
        "cidp": (12, 12, 1680.0), "myasthenia_gravis": (7, 7, 980.0), "miller_fisher_syndrome": (None, None, None),
        "immune_thrombocytopenia": (None, None, None)}
    assert table(hosp_bundle, "cidp") == [(12, 0)]
    quarters = {(q.isoformat(), group): (n, g) for q, group, n, g in table(hosp_bundle, "quarters")}
    assert quarters[("2023-04-01", "all")] == (None, None)  # one order: a quarter's total under 5
    assert quarters[("2024-07-01", "all")] == (None, None) and quarters[("2024-07-01", "weak_evidence")] == (None, None)
    assert quarters[("2024-01-01", "other")] == (12, 1680.0) and quarters[("2024-01-01", "weak_evidence")] == (0, 0.0)


def test_no_patient_key_hospital_number_or_free_text_leaves_the_site(site_db, hosp_bundle):
    db_path, rows = site_db
    con = duckdb.connect(str(db_path), read_only=True)
    keys = {k for (k,) in con.execute("SELECT patient_key FROM orders").fetchall()}
    con.close()
    forbidden = {r["patient_id"] for r in rows} | keys | {k[:10] for k in keys} | {FREE_TEXT, "zebedee", "bundle-key"}
    forbidden |= {r["order_id"] for r in rows if len(r["order_id"]) > 2}
    assert leaks([hosp_bundle], forbidden) == {}


def test_free_text_only_when_the_site_allows_it_and_only_texts_of_five_patients(site_db, tmp_path):
    without = write_bundle(site_db[0], tmp_path, "TEXT")
    assert not (without / "indication_texts.parquet").exists()
    allowed = write_bundle(site_db[0], tmp_path, "TEXT", allow_free_text=True)
    assert table(allowed, "indication_texts") == [(SHARED_TEXT, 6, 6)]
    assert json.loads((allowed / "manifest.json").read_text())["free_text"] is True
    typed_once = write_bundle(site_db[0], tmp_path, "HOSP", until=date(2023, 12, 31), allow_free_text=True)
    assert table(typed_once, "indication_texts") == []


def test_cidp_overuse_is_hidden_when_it_or_its_complement_is_under_5(tmp_path):
    con = db.connect(tmp_path / "cidp.duckdb")
    con.execute("CREATE TABLE cidp_review (site VARCHAR, latest_course_date DATE, overuse_suspected BOOLEAN)")
    for site, reviewed, suspected in (("SHOWN", 10, 5), ("FEW", 7, 2), ("MOST", 7, 5), ("TINY", 3, 0)):
        con.executemany("INSERT INTO cidp_review VALUES (?, DATE '2024-06-01', ?)",
                        [[site, n < suspected] for n in range(reviewed)])
    shown = {}
    for site in ("SHOWN", "FEW", "MOST", "TINY"):
        db.run_sql_file(con, "bundle/cidp.sql", {"site": site, "period_start": date(2024, 1, 1),
                                                 "period_end": date(2024, 12, 31)})
        shown[site] = con.execute("SELECT * FROM bundle_cidp").fetchall()[0]
    con.close()
    assert shown == {"SHOWN": (10, 5), "FEW": (7, None), "MOST": (7, None), "TINY": (None, None)}


def test_bundle_errors_name_the_problem(site_db, tmp_path):
    with pytest.raises(AuditError, match="holds sites HOSP, TEXT: name the one to bundle with --site"):
        write_bundle(site_db[0], tmp_path / "drop")
    with pytest.raises(AuditError, match="no audited orders of site 'ELSE'"):
        write_bundle(site_db[0], tmp_path / "drop", "ELSE")
    db.connect(tmp_path / "empty.duckdb").close()
    with pytest.raises(AuditError, match="empty.duckdb: no audited orders here"):
        write_bundle(tmp_path / "empty.duckdb", tmp_path / "drop")
    assert not (tmp_path / "drop").exists()


DAMAGE = {
    "no manifest": (lambda f: (f / "manifest.json").unlink(), "no manifest.json"),
    "manifest not JSON": (lambda f: (f / "manifest.json").write_text("{site: HOSP"), "manifest.json is not JSON"),
    "manifest incomplete": (lambda f: edit_manifest(files=None)(f), "manifest.json: files: None is not of type 'object'"),
    "another format": (edit_manifest(bundle_format="ivig-audit-bundle/2"), "bundle format 'ivig-audit-bundle/2' is not"),
    "another site": (edit_manifest(site="OTHER"), "the manifest names site 'OTHER', but the bundle is in the folder of 'HOSP'"),
    "changed after writing": (lambda f: (f / "totals.parquet").write_bytes((f / "totals.parquet").read_bytes() + b"x"),
                              "totals.parquet: its SHA-256 is not the manifest's"),
    "a file missing": (lambda f: (f / "cidp.parquet").unlink(), "listed but missing: cidp.parquet"),
    "a file not listed": (lambda f: (f / "notes.txt").write_text("x"), "not in the manifest: notes.txt"),
    "a patient key column": (lambda f: rewrite(f, "totals", "SELECT *, 'abc' AS patient_key FROM {t}"),
                             "totals.parquet: columns (orders BIGINT, patients BIGINT, grams DOUBLE, patient_key VARCHAR) "
                             "are not the format's"),
    "a count under 5": (lambda f: rewrite(f, "recommendations",
                                          "SELECT recommendation, coalesce(orders, 3) AS orders, patients, grams FROM {t}"),
                        "recommendations.parquet: 2 orders count(s) under 5 not suppressed"),
    "free text not allowed": (add_free_text, "it holds free text (indication_texts.parquet) but its manifest says free_text: false"),
    "rows miscounted": (lambda f: miscount(f, "cidp.parquet", 5), "cidp.parquet: 1 rows, the manifest says 5"),
}


@pytest.mark.parametrize("damage", DAMAGE)
def test_the_manifest_check_refuses_a_damaged_or_leaking_bundle_with_its_reason(hosp_bundle, tmp_path, damage):
    copy = tmp_path / "HOSP" / hosp_bundle.name
    shutil.copytree(hosp_bundle, copy)
    assert check_bundle(copy, "HOSP")["site"] == "HOSP"
    change, reason = DAMAGE[damage]
    change(copy)
    with pytest.raises(BundleRefused) as refused:
        check_bundle(copy, "HOSP")
    assert reason in str(refused.value)
