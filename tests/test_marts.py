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
    build_marts.fn(con, classify.fingerprint("aan-2012-ivig-nmd", None), 0)
    return {row[0]: row[1:] for row in con.execute(
        """SELECT group_value, orders, patients, grams FROM mart_usage_by_group
           WHERE dimension = 'specialty'""").fetchall()}


def test_one_small_cell_hides_the_next_smallest_too(con, tmp_path, loaded_reference):
    shown = audited(con, tmp_path, loaded_reference, {"Neurology": 12, "Haematology": 7, "Immunology": 3})
    assert shown == {"Neurology": ("12", "12", "1,680"), "Haematology": ("*", "*", "*"),
                     "Immunology": ("<5", "<5", "*")}


def test_two_small_cells_need_no_other_hidden(con, tmp_path, loaded_reference):
    shown = audited(con, tmp_path, loaded_reference, {"Neurology": 12, "Haematology": 4, "Immunology": 2})
    assert shown == {"Neurology": ("12", "12", "1,680"), "Haematology": ("<5", "<5", "*"),
                     "Immunology": ("<5", "<5", "*")}


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
