-- Kind: view. Grain: one row per order and rule set audited (audit_rulesets). Inputs:
-- order_profiles, profile_verdicts. Every order's verdict under each rule set, with the versions
-- behind it.
CREATE OR REPLACE VIEW order_verdicts AS
WITH
order_links AS (
    SELECT site, order_id, patient_seq, profile_id FROM order_profiles
),

verdicts AS (
    SELECT profile_id, ruleset_id, condition, evidence_level, recommendation, outside_reason, flags, rule_id,
           ruleset_version, ruleset_sha256, vocabulary_version
    FROM profile_verdicts
)

SELECT o.site, o.order_id, o.patient_seq, v.ruleset_id, v.condition, v.evidence_level, v.recommendation,
       v.outside_reason, v.flags, v.rule_id, v.ruleset_version, v.ruleset_sha256, v.vocabulary_version
FROM order_links AS o
JOIN verdicts AS v USING (profile_id);
