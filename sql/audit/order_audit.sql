-- Kind: incremental by batch. Grain: one row per order in `orders`, classified against the primary
-- rule set of the run (audit_rulesets.is_primary). Inputs: orders (batches since $since_batch),
-- orders_to_replace and patients_in_scope (sql/audit/scope.sql), audit_profiles, profile_verdicts,
-- audit_rulesets. The contract's order_audit (docs/design.md): each order's own columns beside its
-- profile's verdict (sql/audit/profile_verdicts.sql); every flag and the rationale follow from the
-- profile. Kept as a table, not a view: a view joins every order to its profile on each read, and
-- at 10M orders a reader that filters the orders first (patient_usage.sql) got the orders as the
-- hash join's build side and ran out of memory under 1 GB (docs/performance.md). The other rule
-- sets' verdicts per order are the view order_verdicts; changing the primary rebuilds everything.
CREATE TABLE IF NOT EXISTS order_audit (
    order_id          VARCHAR,
    site              VARCHAR,
    patient_key       VARCHAR,
    patient_seq       BIGINT,
    order_date        DATE,
    condition         VARCHAR,
    evidence_level    VARCHAR,
    recommendation    VARCHAR,
    outside_reason    VARCHAR,
    flags             VARCHAR[],
    rationale         VARCHAR,
    guideline_id      VARCHAR,
    guideline_version VARCHAR,
    rule_id           VARCHAR,
    guideline_section VARCHAR,
    dose_g            DOUBLE,
    indication        VARCHAR,
    specialty         VARCHAR
);

-- an order replaced belongs to a patient in scope (the old row's patient too): matching the number
-- first spares comparing every order's (site, order_id)
DELETE FROM order_audit
WHERE patient_seq IN (SELECT patient_seq FROM patients_in_scope)
  AND (site, order_id) IN (SELECT (site, order_id) FROM orders_to_replace);

INSERT INTO order_audit BY NAME
WITH
scoped_orders AS (
    SELECT order_id, site, patient_key, patient_seq, order_date, dose_g, indication, diagnosis_code, age_years,
           specialty, severity, refractory, plasma_exchange, with_methylprednisolone
    FROM orders WHERE batch_id >= $since_batch
),

profiles AS (
    SELECT * FROM audit_profiles
),

primary_verdicts AS (
    SELECT * FROM profile_verdicts
    WHERE ruleset_id = (SELECT ruleset_id FROM audit_rulesets WHERE is_primary)
)

SELECT
    o.order_id, o.site, o.patient_key, o.patient_seq, o.order_date, v.condition, v.evidence_level,
    v.recommendation, v.outside_reason, v.flags, v.rationale, v.ruleset_id AS guideline_id,
    v.ruleset_version AS guideline_version, v.rule_id, v.guideline_section, o.dose_g,
    o.indication, o.specialty  -- as typed, for the committee's list (mart_weak_evidence_orders)
FROM scoped_orders AS o
JOIN profiles AS p
  ON p.indication IS NOT DISTINCT FROM o.indication AND p.diagnosis_code IS NOT DISTINCT FROM o.diagnosis_code
 AND p.age_years IS NOT DISTINCT FROM o.age_years AND p.specialty IS NOT DISTINCT FROM o.specialty
 AND p.severity IS NOT DISTINCT FROM o.severity AND p.refractory IS NOT DISTINCT FROM o.refractory
 AND p.plasma_exchange IS NOT DISTINCT FROM o.plasma_exchange
 AND p.with_methylprednisolone IS NOT DISTINCT FROM o.with_methylprednisolone
JOIN primary_verdicts AS v ON v.profile_id = p.profile_id;
