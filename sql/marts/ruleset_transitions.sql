-- Kind: full. Grain: one row per ordered pair of rule sets audited (audit_rulesets), verdict under
-- the first, verdict under the second and condition: the orders, patients and grams that take that
-- path (a verdict that does not change is a row too, so each pair's rows add up to every order).
-- Inputs: order_profiles, profile_verdicts, audit_rulesets. Each pair is counted once (A before B)
-- and mirrored for B to A; patients are counted as the rows of a per-patient sum rather than with
-- count(DISTINCT), which is slower. `ivig-audit compare A B` prints one pair.
CREATE OR REPLACE TABLE mart_ruleset_transitions AS
WITH
order_links AS (
    SELECT patient_seq, profile_id, dose_g FROM order_profiles
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
),

patient_paths AS (
    SELECT p.from_ruleset_id, p.to_ruleset_id, p.from_recommendation, p.to_recommendation, p.condition,
           o.patient_seq, count(*) AS orders, sum(o.dose_g) AS grams
    FROM order_links AS o
    JOIN profile_paths AS p USING (profile_id)
    GROUP BY ALL
),

one_way AS (
    SELECT from_ruleset_id, to_ruleset_id, from_recommendation, to_recommendation, condition,
           sum(orders)::BIGINT AS orders, count(*) AS patients, sum(grams) AS grams
    FROM patient_paths
    GROUP BY ALL
)

SELECT * FROM one_way
UNION ALL
SELECT to_ruleset_id, from_ruleset_id, to_recommendation, from_recommendation, condition, orders, patients, grams
FROM one_way
ORDER BY from_ruleset_id, to_ruleset_id, grams DESC, condition, from_recommendation, to_recommendation;
