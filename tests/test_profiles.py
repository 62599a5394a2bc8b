"""Site profiles: another hospital's headers, encoding, delimiter, day-first dates, decimal commas,
units and yes/no spellings mapped onto the standard; profile errors are clear; profile values are
data, never SQL."""
import io
import os
from contextlib import redirect_stdout
from pathlib import Path

import duckdb
import pytest

from pipelines import ingest, pseudonym
from pipelines.generate import generate, write_extracts
from pipelines.profile import ProfileError, SiteProfile, load_profile

PROFILED = Path(__file__).parent / "fixtures" / "profiled"
CORPUS = Path(__file__).parent / "fixtures" / "malformed"


def load(con, path: Path, profile: SiteProfile) -> ingest.BatchResult:
    return ingest.ingest_file(con, path, profile, pseudonym.hmac_pads(b"profile-key"))


def test_a_profile_maps_headers_units_dates_and_spellings(con):
    profile = load_profile(PROFILED / "rvh-profile.yaml")
    result = load(con, PROFILED / "rvh_orders.csv", profile)
    assert (result.status, result.rows_read, result.rows_loaded, result.rows_quarantined) == ("loaded", 4, 3, 1)
    assert "Bemerkung" in result.reason  # the unmapped column is named, not loaded
    rows = con.execute("""SELECT order_id, site, round(weight_kg, 2), round(height_cm, 1), order_date::VARCHAR,
                                 dose_g, indication, plasma_exchange, dq_flags
                          FROM orders ORDER BY order_id""").fetchall()
    assert rows == [
        ("R1", "RVH", 80.01, 177.8, "2024-02-03", 140.0, "Guillain-Barré-Syndrom GBS", False, []),
        ("R2", "RVH", 70.08, None, "2024-02-29", 35.0005, "CIDP", True, []),
        ("R4", "RVH", 68.04, None, "2024-03-05", 1.0, "CIDP", None, []),
    ]
    assert con.execute("SELECT source_row, reasons FROM quarantine").fetchall() == [
        (3, ["order_date_unreadable: order_date is not a real date in the expected format "
             "(YYYY-MM-DD, or the site profile's date_formats)"])]


def test_excel_sheet_is_chosen_by_the_profile_and_a_rejected_file_is_retried_under_a_new_one(con):
    workbook = CORPUS / "15_orders.xlsx"
    missing = load(con, workbook, SiteProfile(site="MAL", sheet="Sheet9"))
    assert missing.status == "rejected" and "Sheet9" in missing.reason
    assert load(con, workbook, SiteProfile(site="MAL", sheet="Sheet9")).status == "skipped"
    found = load(con, workbook, SiteProfile(site="MAL", sheet="Orders"))
    assert (found.status, found.rows_loaded) == ("loaded", 2)
    assert load(con, workbook, SiteProfile(site="MAL")).status == "skipped"  # loaded content is never re-read


def test_profile_values_and_headers_are_data_not_sql(con, tmp_path):
    injected = "x'); DROP TABLE orders; --"
    header = 'order_id,"pat""ient); DROP TABLE orders; --",age_years,weight_kg,order_date,dose_g,indication,refractory'
    extract = tmp_path / "orders.csv"
    extract.write_text(f"{header}\nZ1,MRN-Z1,50,70,2024-01-02,140,dermatomyositis,{injected}\n", encoding="utf-8")
    profile = SiteProfile(site="x'; --", yes_values=(injected,),
                          columns={"patient_id": 'pat"ient); DROP TABLE orders; --'})
    result = load(con, extract, profile)
    assert (result.status, result.rows_loaded) == ("loaded", 1)
    assert con.execute("SELECT site, refractory FROM orders").fetchall() == [("x'; --", True)]


@pytest.mark.parametrize("text, message", [
    ("site: RVH\nunits: {dose: grains}\n", "units.dose: 'grains' is not one of"),
    ("site: RVH\ncolumns: {weight: Gewicht}\n", "columns: 'weight' is not one of"),
    ("kind: orders\n", "top level: 'site' is a required property"),
    ("site: RVH\ndate_formats: [dd/mm/yyyy]\n", "date_formats[0]: 'dd/mm/yyyy' does not match"),
    ("site: [unclosed\n", "cannot be read as YAML"),
])
def test_a_bad_profile_is_refused_with_the_file_and_the_problem(tmp_path, text, message):
    path = tmp_path / "site.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ProfileError) as error:
        load_profile(path)
    assert str(path) in str(error.value) and message in str(error.value)


def test_the_commented_example_profile_is_valid():
    example = load_profile(Path(__file__).parents[1] / "sample_data" / "profiles" / "example-site.yaml")
    assert (example.site, example.delimiter, example.units["dose"], example.date_formats[0]) == (
        "RVH", ";", "mg", "%d/%m/%Y")


EXAMPLE = Path(__file__).parents[1] / "sample_data" / "profiles" / "example-site.yaml"
EXAMPLE_SAMPLE = Path(__file__).parents[1] / "sample_data" / "example-site_orders.csv"


def test_the_example_site_sample_is_what_the_generator_writes_in_that_format(tmp_path):
    files = write_extracts(60, tmp_path, seed=42, profile=load_profile(EXAMPLE))
    assert files.orders.read_bytes() == EXAMPLE_SAMPLE.read_bytes()
    assert EXAMPLE_SAMPLE.read_bytes().startswith(b"Order No;MRN;age_years;DOB;")


def test_the_example_site_sample_goes_through_a_real_run_under_its_profile(tmp_path):
    from pipelines import flow
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / EXAMPLE_SAMPLE.name).write_bytes(EXAMPLE_SAMPLE.read_bytes())
    os.environ[pseudonym.KEY_ENV] = "example-site-key-" + "0" * 32
    try:
        with redirect_stdout(io.StringIO()):
            summary = flow.audit_run(inbox=inbox, db_path=tmp_path / "audit.duckdb", out_dir=tmp_path / "out",
                                     profile_path=EXAMPLE)
    finally:
        del os.environ[pseudonym.KEY_ENV]
    [batch] = summary.batches
    assert (batch.status, batch.rows_read, batch.rows_loaded, batch.rows_quarantined) == ("loaded", 60, 60, 0)
    standard = generate(60, seed=42).orders
    con = duckdb.connect(str(tmp_path / "audit.duckdb"), read_only=True)
    loaded = con.execute("SELECT order_id, site, dose_g, round(weight_kg, 1), order_date::VARCHAR, indication "
                         "FROM orders ORDER BY order_id").fetchall()
    con.close()
    assert loaded == [(r["order_id"], "RVH", float(r["dose_g"]), float(r["weight_kg"]), r["order_date"],
                       r["indication"].strip()) for r in standard.iter_rows(named=True)]


def test_an_extract_in_another_format_is_told_so_under_a_profile(con):
    result = load(con, Path(__file__).parents[1] / "sample_data" / "orders_sample.csv", load_profile(EXAMPLE))
    assert (result.status, result.rows_read, result.rows_quarantined) == ("rejected", 300, 300)
    assert result.reason == ("the header line has no ';' (the delimiter of the site profile) but has ',': "
                             "the file is not in this site's format")
