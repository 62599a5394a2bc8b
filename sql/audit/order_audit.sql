-- Kind: view. Grain: one row per order in `orders`, classified against the primary rule set of the
-- run (audit_rulesets.is_primary). Inputs: orders, profile_verdicts, audit_rulesets. The contract's
-- order_audit (docs/design.md): each order's own columns beside its profile's verdict
-- (sql/audit/profile_verdicts.sql); every flag and the rationale follow from the profile. Each order
-- holds its profile's number (orders.profile_id, set at load), so the view joins one integer to the
-- primary's verdicts (one row per profile: tens of thousands at 10M orders, the hash join's build
-- side) instead of a per-order copy of them being written on every rebuild. The other rule sets'
-- verdicts per order are the view order_verdicts.
CREATE OR REPLACE VIEW order_audit AS
WITH
orders_in AS (
    SELECT order_id, site, patient_key, patient_seq, order_date, dose_g, indication, specialty, profile_id
    FROM orders
),

primary_verdicts AS (
    SELECT profile_id, condition, evidence_level, recommendation, outside_reason, flags, rationale,
           ruleset_id, ruleset_version, rule_id, guideline_section
    FROM profile_verdicts
    WHERE ruleset_id = (SELECT ruleset_id FROM audit_rulesets WHERE is_primary)
)

SELECT
    o.order_id, o.site, o.patient_key, o.patient_seq, o.order_date, v.condition, v.evidence_level,
    v.recommendation, v.outside_reason, v.flags, v.rationale, v.ruleset_id AS guideline_id,
    v.ruleset_version AS guideline_version, v.rule_id, v.guideline_section, o.dose_g,
    o.indication, o.specialty  -- as typed, for the committee's list (mart_weak_evidence_orders)
FROM orders_in AS o
JOIN primary_verdicts AS v USING (profile_id);
