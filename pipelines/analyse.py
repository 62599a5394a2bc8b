"""Treatment analysis in SQL: courses with dose per kg on actual and dosing weight
(sql/analysis/courses.sql) and the CIDP review (sql/analysis/cidp_review.sql). Their parameters
and reference rows come from guideline/treatment/*.yaml, each threshold beside its source."""
import json
from functools import cache

import duckdb

from pipelines.db import insert_rows, run_models, run_sql_file
from pipelines.paths import GUIDELINE_DIR
from pipelines.reference import GuidelineError
from pipelines.yaml_data import read_checked_yaml


@cache
def load_treatment() -> dict:
    """Both parameter files, schema-checked: {"courses": ..., "cidp_review": ...}."""
    return {name: read_checked_yaml(GUIDELINE_DIR / "treatment" / f"{name}.yaml", f"{name}.schema.json",
                                    GuidelineError)
            for name in ("courses", "cidp_review")}


def analyse_treatment(con: duckdb.DuckDBPyConnection, treatment: dict | None = None) -> None:
    """Rebuild `courses` (from orders and the conditions in indication_resolution) then
    `cidp_review` (from courses and assessments), for the patients in scope (set by
    classify.classify_orders) and keyed on their patient_seq, inside the caller's transaction."""
    treatment = treatment or load_treatment()
    courses, review = treatment["courses"], treatment["cidp_review"]
    run_sql_file(con, "analysis/treatment_reference.sql")
    insert_rows(con, "ref_studied_regimens", [
        {key: r[key] for key in ("condition", "max_g_per_kg_per_course", "regimen", "source")}
        for r in courses["studied_regimens"]])
    insert_rows(con, "ref_cidp_outcome_measures", [
        {"measure": measure, "word": word, "sort_order": rank}
        for rank, (measure, word) in enumerate(review["outcome_measures"].items())])
    insert_rows(con, "ref_cidp_review_flags", [
        {"flag": flag, "suspects_overuse": rule["suspects_overuse"], "source": " ".join(rule["source"].split()),
         "thresholds": json.dumps({k: v for k, v in rule.items() if k not in ("suspects_overuse", "source")})}
        for flag, rule in review["flags"].items()])
    unknown = con.execute("SELECT list(measure) FROM ref_cidp_outcome_measures ANTI JOIN ref_measures USING (measure)"
                          ).fetchone()[0]
    if unknown:
        raise GuidelineError(f"guideline/treatment/cidp_review.yaml: outcome_measures: {', '.join(unknown)} "
                             "not in guideline/vocabulary/measures.yaml")

    weight, flags = courses["dosing_weight"], review["flags"]
    run_models(con, ["analysis/courses.sql", "analysis/cidp_review.sql"], {
        # courses
        "gap_days": courses["course_gap_days"],
        "ibw_male": weight["ibw_base_kg"]["male"],
        "ibw_female": weight["ibw_base_kg"]["female"],
        "ibw_per_inch": weight["ibw_kg_per_inch_over_60"],
        "adjusted_fraction": weight["adjusted_fraction"],
        "adjusted_bmi_above": weight["adjusted_when_bmi_above"],
        "adjusted_ratio_above": weight["adjusted_when_actual_over_ibw_ratio_above"],
        "actual_age_below": weight["actual_when_age_below"],
        "actual_height_below": weight["actual_when_height_below_cm"],
        "tolerance": courses["tolerance"],
        # cidp_review
        "max_interval_days": review["maintenance"]["max_interval_days"],
        "initial_courses": review["maintenance"]["initial_courses"],
        "current_courses": review["maintenance"]["current_courses"],
        "first_review_within_months": flags["review_overdue"]["first_review_within_months"],
        "review_every_months": flags["review_overdue"]["review_every_months"],
        "min_months_on_treatment": flags["no_response"]["min_months_on_treatment"],
        "baseline_days_after": flags["no_response"]["baseline_days_after_first_course"],
        "min_months_of_maintenance": flags["no_taper_attempt"]["min_months_of_maintenance"],
        "min_reduction": flags["no_taper_attempt"]["min_reduction"],
        "high_intensity_above": flags["high_intensity"]["above_g_per_kg_per_week"],
        "high_user_above_g": flags["high_user"]["above_g"],
        "high_user_window_months": flags["high_user"]["window_months"],
    })
