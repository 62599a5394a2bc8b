-- model: mart_weak_evidence_by_condition
-- kind: full
-- grain: one row per condition, recommendation (Level U or should not) and guideline section:
--   orders, patients, grams and prescribers, with the verdict in words and the rationale once (it is
--   the same for the orders of one rule), most grams first. The committee reads this before the
--   orders themselves (mart_weak_evidence_orders).
-- reads: order_audit, orders, ref_conditions, ref_recommendations
WITH
weak AS (
    SELECT site, order_id, patient_seq, condition, recommendation, evidence_level, guideline_section, rationale, dose_g
    FROM order_audit WHERE recommendation IN ('insufficient_evidence', 'should_not')
),

prescribers AS (
    SELECT site, order_id, prescriber_id FROM orders
)

SELECT
    coalesce(c.label, w.condition, '(no condition recognised)') AS condition_label,
    w.recommendation,
    rec.label AS recommendation_label,
    w.guideline_section,
    count(*) AS orders,
    count(DISTINCT w.patient_seq) AS patients,
    sum(w.dose_g) AS grams,
    count(DISTINCT p.prescriber_id) AS prescribers,
    mode(w.rationale) AS rationale
FROM weak AS w
LEFT JOIN prescribers AS p USING (site, order_id)
LEFT JOIN ref_conditions AS c ON c.condition_id = w.condition
JOIN ref_recommendations AS rec USING (recommendation)
GROUP BY ALL
ORDER BY grams DESC, condition_label, w.recommendation;
