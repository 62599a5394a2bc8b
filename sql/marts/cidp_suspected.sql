-- model: mart_cidp_suspected
-- kind: full
-- grain: one row per CIDP patient whose treatment the review suspects of overuse, longest
--   treated first, with the reasons in words
-- reads: cidp_review
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
