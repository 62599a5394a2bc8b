-- model: cidp_suspected_patients
-- kind: incremental by patient
-- grain: one row per CIDP patient whose treatment the review suspects of overuse: the row
--   mart_cidp_suspected shows, with the patient's number and key and how many of their flags
--   suspect overuse (what the mart sorts on)
-- reads: cidp_review, ref_cidp_review_flags, orders, patients_in_scope
--
-- The patients in scope (sql/audit/scope.sql) get their rows rebuilt, so a run looks up only their
-- latest orders, not every order (0.9 s at 10M orders).
WITH
suspecting_flags AS (
    SELECT list(flag) AS flags FROM ref_cidp_review_flags WHERE suspects_overuse
),

suspected AS (
    SELECT r.*, len(list_intersect(r.flags, f.flags)) AS n_suspecting
    FROM cidp_review AS r
    SEMI JOIN patients_in_scope USING (patient_seq)
    CROSS JOIN suspecting_flags AS f
    WHERE r.overuse_suspected
),

latest_orders AS (
    SELECT site, order_id AS latest_order_id, prescriber_id AS latest_prescriber, specialty AS latest_specialty
    FROM orders
    WHERE patient_seq IN (SELECT patient_seq FROM suspected)
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
    o.latest_specialty,
    s.patient_seq,
    s.patient_key,
    s.n_suspecting
FROM suspected AS s
LEFT JOIN latest_orders AS o USING (site, latest_order_id)
