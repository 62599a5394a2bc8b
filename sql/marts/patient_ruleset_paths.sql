-- model: patient_ruleset_paths
-- kind: incremental by patient
-- grain: one row per patient, pair of rule sets audited (the first's id before the second's),
--   verdict under each and condition: the patient's orders and grams that take that path
-- reads: order_profiles, profile_verdicts, audit_rulesets, patients_in_scope
--
-- What mart_ruleset_transitions sums. The patients in scope (sql/audit/scope.sql) get their rows
-- rebuilt, so a run joins only their orders to their profiles, not every order (3.9-4.2 s at 10M
-- orders); when the rule sets audited change, every patient is in scope (pipelines/flow.py).
WITH
order_links AS (
    SELECT patient_seq, profile_id, dose_g FROM order_profiles SEMI JOIN patients_in_scope USING (patient_seq)
),

verdicts AS (
    SELECT profile_id, ruleset_id, condition, recommendation FROM profile_verdicts
),

rulesets AS (
    SELECT ruleset_id FROM audit_rulesets
),

pairs AS (
    SELECT a.ruleset_id AS from_ruleset_id, b.ruleset_id AS to_ruleset_id
    FROM rulesets AS a JOIN rulesets AS b ON a.ruleset_id < b.ruleset_id
),

-- each profile's path from one verdict to the other, per pair (profiles, not orders)
profile_paths AS (
    SELECT f.profile_id, pair.from_ruleset_id, pair.to_ruleset_id, f.recommendation AS from_recommendation,
           t.recommendation AS to_recommendation, f.condition
    FROM pairs AS pair
    JOIN verdicts AS f ON f.ruleset_id = pair.from_ruleset_id
    JOIN verdicts AS t ON t.ruleset_id = pair.to_ruleset_id AND t.profile_id = f.profile_id
)

SELECT o.patient_seq, p.from_ruleset_id, p.to_ruleset_id, p.from_recommendation, p.to_recommendation, p.condition,
       count(*) AS orders, sum(o.dose_g) AS grams
FROM order_links AS o
JOIN profile_paths AS p USING (profile_id)
GROUP BY ALL
