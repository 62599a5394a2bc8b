-- Kind: view. Grain: one row per order in `orders`, classified against the primary rule set of the
-- run (audit_rulesets.is_primary). Inputs: orders, audit_profiles, profile_verdicts, audit_rulesets.
-- The contract's order_audit (docs/design.md), with the columns it had as a table: each order's
-- own columns beside its profile's verdict (sql/audit/profile_verdicts.sql). Every flag and the
-- rationale follow from the profile, so they are the same for every order of a profile.
CREATE OR REPLACE VIEW order_audit AS
WITH
orders_in AS (
    SELECT order_id, site, patient_key, patient_seq, order_date, dose_g, indication, diagnosis_code, age_years,
           specialty, severity, refractory, plasma_exchange, with_methylprednisolone
    FROM orders
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
FROM orders_in AS o
JOIN profiles AS p
  ON p.indication IS NOT DISTINCT FROM o.indication AND p.diagnosis_code IS NOT DISTINCT FROM o.diagnosis_code
 AND p.age_years IS NOT DISTINCT FROM o.age_years AND p.specialty IS NOT DISTINCT FROM o.specialty
 AND p.severity IS NOT DISTINCT FROM o.severity AND p.refractory IS NOT DISTINCT FROM o.refractory
 AND p.plasma_exchange IS NOT DISTINCT FROM o.plasma_exchange
 AND p.with_methylprednisolone IS NOT DISTINCT FROM o.with_methylprednisolone
JOIN primary_verdicts AS v ON v.profile_id = p.profile_id;
