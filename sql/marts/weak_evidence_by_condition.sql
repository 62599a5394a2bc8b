-- model: mart_weak_evidence_by_condition
-- kind: full
-- grain: one row per condition, recommendation (Level U or should not) and guideline section:
--   orders, patients, grams and prescribers, with the verdict in words and the rationale once (it is
--   the same for the orders of one rule), most grams first. The committee reads this before the
--   orders themselves (mart_weak_evidence_orders).
-- reads: orders, profile_verdicts, audit_rulesets, ref_conditions, ref_recommendations
WITH
-- the primary rule set's Level U and should-not verdicts, per profile (an order's verdict is its
-- profile's, as in the view order_audit)
weak_verdicts AS (
    SELECT profile_id, condition, recommendation, evidence_level, guideline_section, rationale FROM profile_verdicts
    WHERE ruleset_id = (SELECT ruleset_id FROM audit_rulesets WHERE is_primary)
      AND recommendation IN ('insufficient_evidence', 'should_not')
),

-- the orders read once, with their prescriber: order_audit joined back to orders read them twice
weak AS (
    SELECT o.patient_seq, o.prescriber_id, o.dose_g, v.condition, v.recommendation, v.evidence_level,
           v.guideline_section, v.rationale
    FROM orders AS o
    JOIN weak_verdicts AS v USING (profile_id)
)

SELECT
    coalesce(c.label, w.condition, '(no condition recognised)') AS condition_label,
    w.recommendation,
    rec.label AS recommendation_label,
    w.guideline_section,
    count(*) AS orders,
    count(DISTINCT w.patient_seq) AS patients,
    sum(w.dose_g) AS grams,
    count(DISTINCT w.prescriber_id) AS prescribers,
    mode(w.rationale) AS rationale
FROM weak AS w
LEFT JOIN ref_conditions AS c ON c.condition_id = w.condition
JOIN ref_recommendations AS rec USING (recommendation)
GROUP BY ALL
ORDER BY grams DESC, condition_label, w.recommendation;
