"""Marts on a real DuckDB file: small-number suppression by specialty, CSV export that neutralises
spreadsheet formulas, and the data dictionary's coverage."""
import csv

import pytest

from pipelines import analyse, classify, dictionary, ingest, pseudonym
from pipelines.db import AuditError
from pipelines.export import export
from pipelines.flow import build_marts
from pipelines.profile import SiteProfile
from tests.conftest import order_row, write_orders_csv


def audited(con, tmp_path, loaded_reference, counts: dict[str, int]):
    """Load `counts` orders per specialty (one patient per order), classify, analyse, build marts."""
    rows = [order_row(f"{specialty[:3].upper()}{n}", specialty=specialty)
            for specialty, count in counts.items() for n in range(count)]
    ingest.ingest_file(con, write_orders_csv(tmp_path / "orders.csv", rows), SiteProfile(), pseudonym.hmac_pads(b"k"))
    classify.classify_orders(con, "aan-2012-ivig-nmd")
    analyse.analyse_treatment(con)
    build_marts.fn(con, classify.fingerprint("aan-2012-ivig-nmd", None), 0, rulesets_changed=False)
    return {row[0]: row[1:] for row in con.execute(
        """SELECT group_value, coalesce(orders::VARCHAR, orders_suppressed), coalesce(patients::VARCHAR, patients_suppressed),
                  coalesce(grams::VARCHAR, grams_suppressed) FROM mart_usage_by_group
           WHERE dimension = 'specialty'""").fetchall()}


def test_one_small_cell_hides_the_next_smallest_too(con, tmp_path, loaded_reference):
    shown = audited(con, tmp_path, loaded_reference, {"Neurology": 12, "Haematology": 7, "Immunology": 3})
    assert shown == {"Neurology": ("12", "12", "1680.0"), "Haematology": ("*", "*", "*"),
                     "Immunology": ("<5", "<5", "*")}


def test_two_small_cells_need_no_other_hidden(con, tmp_path, loaded_reference):
    shown = audited(con, tmp_path, loaded_reference, {"Neurology": 12, "Haematology": 4, "Immunology": 2})
    assert shown == {"Neurology": ("12", "12", "1680.0"), "Haematology": ("<5", "<5", "*"),
                     "Immunology": ("<5", "<5", "*")}


def test_exported_counts_are_numbers_and_suppression_is_empty_with_a_flag(con, tmp_path, loaded_reference):
    audited(con, tmp_path, loaded_reference, {"Neurology": 1200, "Haematology": 7, "Immunology": 3})
    with export(con, "mart_usage_by_group", tmp_path / "usage.csv").open(encoding="utf-8") as handle:
        rows = {row["group_value"]: row for row in csv.DictReader(handle) if row["dimension"] == "specialty"}
    assert (rows["Neurology"]["orders"], rows["Neurology"]["grams"], rows["Neurology"]["orders_suppressed"]) == ("1200", "168000.0", "")
    assert (rows["Immunology"]["orders"], rows["Immunology"]["orders_suppressed"], rows["Immunology"]["grams_suppressed"]) == ("", "<5", "*")
    assert (rows["Haematology"]["patients"], rows["Haematology"]["patients_suppressed"]) == ("", "*")


def test_csv_export_neutralises_formulas_and_keeps_the_rest(con, tmp_path, loaded_reference):
    audited(con, tmp_path, loaded_reference, {"=1+2": 5, "+SUM(A1)": 5, "-x": 5, "@cmd": 5, "Neuro-logy": 5})
    path = export(con, "mart_usage_by_group", tmp_path / "usage.csv")
    with path.open(encoding="utf-8") as handle:
        specialties = {row["group_value"] for row in csv.DictReader(handle) if row["dimension"] == "specialty"}
    assert specialties == {"'=1+2", "'+SUM(A1)", "'-x", "'@cmd", "Neuro-logy"}


def test_a_table_the_dictionary_does_not_describe_stops_the_run(con):
    con.execute("CREATE TABLE scratch_table (x INTEGER)")
    with pytest.raises(AuditError, match="sql/dictionary.yaml: no description of table scratch_table"):
        dictionary.apply_comments(con)


def test_indication_review_groups_texts_by_what_happened_largest_first(con, tmp_path, loaded_reference):
    """The pharmacist's queue: texts that ended ambiguous, set aside, unknown or corrected, grouped by
    normalised text (two spellings of one text are one row), with orders, grams, sites and dates."""
    rows = [order_row(f"C{n}", indication=text, order_date=date, site=site, dose_g="100")
            for n, (text, date, site) in enumerate([
                ("CIPD maint", "2024-01-05", "TST"), ("cipd  maint.", "2024-03-09", "OTH"), ("CIPD maint", "2024-02-01", "TST"),
                ("DM", "2024-02-02", "TST"), ("DM", "2024-02-03", "TST"),
                ("myasthenia ruled out", "2024-01-10", "TST"),
                ("see notes", "2024-01-11", "TST"),
                ("CIDP", "2024-01-12", "TST")])]
    ingest.ingest_file(con, write_orders_csv(tmp_path / "orders.csv", rows), SiteProfile(), pseudonym.hmac_pads(b"k"))
    classify.classify_orders(con, "aan-2012-ivig-nmd")
    analyse.analyse_treatment(con)
    build_marts.fn(con, classify.fingerprint("aan-2012-ivig-nmd", None), 0, rulesets_changed=False)
    review = con.execute("""SELECT indication_text, outcome, orders, grams, sites, first_seen::VARCHAR, last_seen::VARCHAR,
                                   conditions FROM mart_indication_review""").fetchall()
    assert review == [
        ("cipd maint", "corrected", 3, 300.0, ["OTH", "TST"], "2024-01-05", "2024-03-09", ["cidp"]),
        ("dm", "ambiguous", 2, 200.0, ["TST"], "2024-02-02", "2024-02-03", []),
        ("myasthenia ruled out", "set_aside", 1, 100.0, ["TST"], "2024-01-10", "2024-01-10", []),
        ("see notes", "unknown", 1, 100.0, ["TST"], "2024-01-11", "2024-01-11", []),
    ]
    path = export(con, "mart_indication_review", tmp_path / "review.csv")
    with path.open(encoding="utf-8") as handle:
        assert [row["indication_text"] for row in csv.DictReader(handle)][:2] == ["cipd maint", "dm"]
