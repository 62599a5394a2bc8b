-- Grain: one row per CIDP patient whose treatment the review suspects of overuse (cidp_review),
-- longest treated first, with the reasons in words.
CREATE OR REPLACE TABLE mart_cidp_suspected AS
SELECT
    left(patient_key, 10) AS patient,
    site,
    first_course_date,
    latest_course_date,
    n_courses,
    months_on_treatment,
    total_g,
    maintenance_g_per_kg_per_week,
    last_assessment_date,
    array_to_string(flags, ', ') AS flags,
    reasons
FROM cidp_review
WHERE overuse_suspected
ORDER BY months_on_treatment DESC, site, patient_key;
