-- model: mart_cidp_suspected
-- kind: full
-- grain: one row per CIDP patient whose treatment the review suspects of overuse, those with the
--   most flags that suspect overuse first (then the longest treated), with the reasons in words, and the way back to the case for the clinician:
--   the latest order's id, prescriber and specialty (never the hospital number)
-- reads: cidp_review, ref_cidp_review_flags, orders
WITH
suspecting_flags AS (
    SELECT list(flag) AS flags FROM ref_cidp_review_flags WHERE suspects_overuse
),

suspected AS (
    SELECT r.*, len(list_intersect(r.flags, f.flags)) AS n_suspecting
    FROM cidp_review AS r, suspecting_flags AS f
    WHERE r.overuse_suspected
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
ORDER BY s.n_suspecting DESC, s.months_on_treatment DESC, s.site, s.patient_key;
