"""Treatment analysis in SQL: courses with dose per kg on actual and dosing weight
(sql/analysis/courses.sql), parameters and studied regimens from guideline/treatment/courses.yaml."""
from functools import cache

import duckdb

from pipelines.db import run_sql_file
from pipelines.paths import GUIDELINE_DIR
from pipelines.reference import GuidelineError
from pipelines.yaml_data import read_checked_yaml


@cache
def load_treatment() -> dict:
    return read_checked_yaml(GUIDELINE_DIR / "treatment" / "courses.yaml", "treatment.schema.json", GuidelineError)


def build_courses(con: duckdb.DuckDBPyConnection, treatment: dict | None = None) -> None:
    """Rebuild `courses` from orders and order_audit (inside the caller's transaction)."""
    treatment = treatment or load_treatment()
    weight = treatment["dosing_weight"]
    con.execute("""CREATE OR REPLACE TABLE ref_studied_regimens (
        condition VARCHAR PRIMARY KEY, max_g_per_kg_per_course DOUBLE NOT NULL, regimen VARCHAR, source VARCHAR)""")
    regimens = [[r["condition"], r["max_g_per_kg_per_course"], r["regimen"], r["source"]]
                for r in treatment["studied_regimens"]]
    if regimens:
        con.executemany("INSERT INTO ref_studied_regimens VALUES (?, ?, ?, ?)", regimens)
    run_sql_file(con, "analysis/courses.sql", {
        "gap_days": treatment["course_gap_days"],
        "ibw_male": weight["ibw_base_kg"]["male"],
        "ibw_female": weight["ibw_base_kg"]["female"],
        "ibw_per_inch": weight["ibw_kg_per_inch_over_60"],
        "adjusted_fraction": weight["adjusted_fraction"],
        "adjusted_bmi_above": weight["adjusted_when_bmi_above"],
        "adjusted_ratio_above": weight["adjusted_when_actual_over_ibw_ratio_above"],
        "actual_age_below": weight["actual_when_age_below"],
        "actual_height_below": weight["actual_when_height_below_cm"],
        "tolerance": treatment["tolerance"],
    })
