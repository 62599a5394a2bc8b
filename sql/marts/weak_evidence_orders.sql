-- Grain: one row per order graded Level U (insufficient_evidence) or should_not, newest first: what
-- the committee reviews. `patient` is a short form of the keyed pseudonym, never the hospital number.
CREATE OR REPLACE TABLE mart_weak_evidence_orders AS
SELECT
    a.order_date,
    a.site,
    a.order_id,
    left(a.patient_key, 10) AS patient,
    coalesce(c.label, a.condition) AS condition_label,
    a.recommendation,
    a.evidence_level,
    a.guideline_section,
    a.rationale,
    a.indication,
    a.specialty,
    a.dose_g AS grams
FROM order_audit AS a
LEFT JOIN ref_conditions AS c ON c.condition_id = a.condition
WHERE a.recommendation IN ('insufficient_evidence', 'should_not')
ORDER BY a.order_date DESC, a.site, a.order_id;
