-- Kind: full. Grain: one row per ordered pair of rule sets audited (audit_rulesets), verdict under
-- the first, verdict under the second and condition: the orders, patients and grams that take that
-- path (a verdict that does not change is a row too, so each pair's rows add up to every order).
-- Inputs: order_profiles, profile_verdicts, audit_rulesets. Orders are summed per patient and
-- profile first, so the verdicts are joined to those sums rather than to every order;
-- `ivig-audit compare A B` prints one pair.
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

patient_profiles AS (
    SELECT patient_seq, profile_id, count(*) AS orders, sum(dose_g) AS grams
    FROM order_links
    GROUP BY ALL
),

pairs AS (
    SELECT a.ruleset_id AS from_ruleset_id, b.ruleset_id AS to_ruleset_id
    FROM rulesets AS a JOIN rulesets AS b ON a.ruleset_id <> b.ruleset_id
),

moves AS (
    SELECT pair.from_ruleset_id, pair.to_ruleset_id, f.recommendation AS from_recommendation,
           t.recommendation AS to_recommendation, f.condition, u.patient_seq, u.orders, u.grams
    FROM patient_profiles AS u
    JOIN verdicts AS f USING (profile_id)
    JOIN pairs AS pair ON pair.from_ruleset_id = f.ruleset_id
    JOIN verdicts AS t ON t.profile_id = u.profile_id AND t.ruleset_id = pair.to_ruleset_id
)

SELECT
    from_ruleset_id, to_ruleset_id, from_recommendation, to_recommendation, condition,
    sum(orders)::BIGINT AS orders,
    count(DISTINCT patient_seq) AS patients,
    sum(grams) AS grams
FROM moves
GROUP BY ALL
ORDER BY from_ruleset_id, to_ruleset_id, grams DESC, condition, from_recommendation, to_recommendation;
