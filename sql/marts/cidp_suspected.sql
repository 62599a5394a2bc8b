-- model: mart_cidp_suspected
-- kind: full
-- grain: one row per CIDP patient whose treatment the review suspects of overuse, longest
--   treated first, with the reasons in words, and the way back to the case for the clinician:
--   the latest order's id, prescriber and specialty (never the hospital number)
-- reads: cidp_review, orders
WITH
suspected AS (
    SELECT * FROM cidp_review WHERE overuse_suspected
),

latest_orders AS (
    SELECT site, order_id AS latest_order_id, prescriber_id AS latest_prescriber, specialty AS latest_specialty
    FROM orders
)

SELECT
    left(s.patient_key, 10) AS patient,
    s.site,
    s.first_course_date,
    s.latest_course_date,
    s.n_courses,
    s.months_on_treatment,
    s.total_g,
    s.maintenance_g_per_kg_per_week,
    s.last_assessment_date,
    array_to_string(s.flags, ', ') AS flags,
    s.reasons,
    s.latest_order_id,
    o.latest_prescriber,
    o.latest_specialty
FROM suspected AS s
LEFT JOIN latest_orders AS o USING (site, latest_order_id)
ORDER BY s.months_on_treatment DESC, s.site, s.patient_key;
