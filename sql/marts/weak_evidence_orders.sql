-- Grain: one row per order graded Level U (insufficient_evidence) or should_not, newest first: what
-- the committee reviews. `patient` is a short form of the keyed pseudonym, never the hospital number.
-- The rows are kept in weak_evidence_orders: the orders a run classified
-- (orders_to_replace, sql/audit/scope.sql; all of them when $since_batch = 0) replace their rows,
-- instead of every such order being sorted and written again on each run (0.8 s at 10M orders).
-- The mart is a view that lists them newest first. The rows also keep the patient's number and the
-- prescriber, so mart_weak_evidence_by_condition counts both from these rows instead of joining
-- every order (1.9 s at 10M orders); the view leaves them out.
CREATE TABLE IF NOT EXISTS weak_evidence_orders (
    order_date        DATE,
    site              VARCHAR,
    order_id          VARCHAR,
    patient           VARCHAR,
    condition_label   VARCHAR,
    recommendation    VARCHAR,
    evidence_level    VARCHAR,
    guideline_section VARCHAR,
    rationale         VARCHAR,
    indication        VARCHAR,
    specialty         VARCHAR,
    grams             DOUBLE,
    patient_seq       BIGINT,
    prescriber_id     VARCHAR
);

DELETE FROM weak_evidence_orders
WHERE $since_batch = 0 OR (site, order_id) IN (SELECT (site, order_id) FROM orders_to_replace);

INSERT INTO weak_evidence_orders BY NAME
WITH
-- the primary rule set's Level U and should-not verdicts, per profile (an order's verdict is its
-- profile's, as in the view order_audit)
weak_verdicts AS (
    SELECT profile_id, condition, recommendation, evidence_level, guideline_section, rationale
    FROM profile_verdicts
    WHERE ruleset_id = (SELECT ruleset_id FROM audit_rulesets WHERE is_primary)
      AND recommendation IN ('insufficient_evidence', 'should_not')
),

-- the orders read once, with their prescriber: order_audit joined back to orders read them twice
classified_orders AS (
    SELECT order_date, site, order_id, patient_key, patient_seq, indication, specialty, dose_g, prescriber_id,
           profile_id
    FROM orders
    WHERE $since_batch = 0
       OR (patient_seq IN (SELECT patient_seq FROM patients_in_scope)
           AND (site, order_id) IN (SELECT (site, order_id) FROM orders_to_replace))
)

SELECT
    o.order_date,
    o.site,
    o.order_id,
    left(o.patient_key, 10) AS patient,
    coalesce(c.label, v.condition) AS condition_label,
    v.recommendation,
    v.evidence_level,
    v.guideline_section,
    v.rationale,
    o.indication,
    o.specialty,
    o.dose_g AS grams,
    o.patient_seq,
    o.prescriber_id
FROM classified_orders AS o
JOIN weak_verdicts AS v USING (profile_id)
LEFT JOIN ref_conditions AS c ON c.condition_id = v.condition;

DROP TABLE IF EXISTS mart_weak_evidence_orders;  -- a table in databases made before weak_evidence_orders

CREATE VIEW mart_weak_evidence_orders AS
SELECT * EXCLUDE (patient_seq, prescriber_id) FROM weak_evidence_orders ORDER BY order_date DESC, site, order_id;
