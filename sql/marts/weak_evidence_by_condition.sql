-- model: mart_weak_evidence_by_condition
-- kind: full
-- grain: one row per condition, recommendation (Level U or should not) and guideline section:
--   orders, patients, grams and prescribers, with the verdict in words and the rationale once (it is
--   the same for the orders of one rule), most grams first. The committee reads this before the
--   orders themselves (mart_weak_evidence_orders).
-- reads: weak_evidence_orders, ref_recommendations
--
-- From the rows of weak_evidence_orders (sql/marts/weak_evidence_orders.sql, run before the models),
-- which each run replaces for the orders it classified and which keep each order's patient number
-- and prescriber: no join of every order.
WITH
weak AS (
    SELECT condition_label, recommendation, guideline_section, rationale, patient_seq, prescriber_id, grams
    FROM weak_evidence_orders
)

SELECT
    coalesce(w.condition_label, '(no condition recognised)') AS condition_label,
    w.recommendation,
    rec.label AS recommendation_label,
    w.guideline_section,
    count(*) AS orders,
    count(DISTINCT w.patient_seq) AS patients,
    sum(w.grams) AS grams,
    count(DISTINCT w.prescriber_id) AS prescribers,
    -- of two rationales as common, the first in order, whatever the order of the rows
    mode(w.rationale ORDER BY w.rationale) AS rationale
FROM weak AS w
JOIN ref_recommendations AS rec USING (recommendation)
GROUP BY ALL
ORDER BY grams DESC, condition_label, w.recommendation;
