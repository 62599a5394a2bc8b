-- Grain: one row per order graded Level U (insufficient_evidence) or should_not, newest first: what
-- the committee reviews. `patient` is a short form of the keyed pseudonym, never the hospital number.
-- The rows are kept in weak_evidence_orders like order_audit's: the orders a run classified
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
prescribers AS (
    SELECT site, order_id, prescriber_id FROM orders WHERE batch_id >= $since_batch
)

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
    a.dose_g AS grams,
    a.patient_seq,
    p.prescriber_id
FROM order_audit AS a
LEFT JOIN prescribers AS p USING (site, order_id)
LEFT JOIN ref_conditions AS c ON c.condition_id = a.condition
WHERE a.recommendation IN ('insufficient_evidence', 'should_not')
  AND ($since_batch = 0
       OR (a.patient_seq IN (SELECT patient_seq FROM patients_in_scope)
           AND (a.site, a.order_id) IN (SELECT (site, order_id) FROM orders_to_replace)));

DROP TABLE IF EXISTS mart_weak_evidence_orders;  -- a table in databases made before weak_evidence_orders

CREATE VIEW mart_weak_evidence_orders AS
SELECT * EXCLUDE (patient_seq, prescriber_id) FROM weak_evidence_orders ORDER BY order_date DESC, site, order_id;
