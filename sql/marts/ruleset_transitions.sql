-- model: mart_ruleset_transitions
-- kind: full
-- grain: one row per ordered pair of rule sets audited (audit_rulesets), verdict under the first,
--   verdict under the second and condition: the orders, patients and grams that take that path (a
--   verdict that does not change is a row too, so each pair's rows add up to every order)
-- reads: patient_ruleset_paths
--
-- Each pair is counted once (A before B, per patient in patient_ruleset_paths, which each run
-- rebuilds for the patients it touched) and mirrored for B to A; patients are counted as the rows
-- of the per-patient sums rather than with count(DISTINCT), which is slower. `ivig-audit compare A B`
-- prints one pair.
WITH
one_way AS (
    SELECT from_ruleset_id, to_ruleset_id, from_recommendation, to_recommendation, condition,
           sum(orders)::BIGINT AS orders, count(*) AS patients, sum(grams) AS grams
    FROM patient_ruleset_paths
    GROUP BY ALL
)

SELECT * FROM one_way
UNION ALL
SELECT to_ruleset_id, from_ruleset_id, to_recommendation, from_recommendation, condition, orders, patients, grams
FROM one_way
ORDER BY from_ruleset_id, to_ruleset_id, grams DESC, condition, from_recommendation, to_recommendation;
