-- model: patient_money_grams
-- kind: incremental by patient
-- grain: one row per patient, kind and product: kind 'use', their orders' milligrams by product,
--   recommendation and condition; kind 'dosing_weight', the milligrams that dosing by dosing weight
--   instead of actual weight would have saved, by the product of each course's latest order
-- reads: orders, profile_verdicts, audit_rulesets, courses, patients_in_scope
--
-- What mart_money_grams sums. The patients in scope (sql/audit/scope.sql) get their rows rebuilt, so
-- a run joins only their orders to their products, not every order (6.5 s at 10M orders). In whole
-- milligrams: sums of integers do not depend on the order of the rows, so the mart's sums over rows
-- rebuilt at different times are, to the bit, those of one run over everything.
WITH
-- the primary rule set's verdict of each profile: an order's, as in the view order_audit
primary_verdicts AS (
    SELECT profile_id, recommendation, condition FROM profile_verdicts
    WHERE ruleset_id = (SELECT ruleset_id FROM audit_rulesets WHERE is_primary)
),

saved AS (
    SELECT site, patient_seq, latest_order_id AS order_id, total_g * (1 - dosing_weight_kg / weight_kg) AS saved_g
    FROM courses SEMI JOIN patients_in_scope USING (patient_seq)
    WHERE dosing_weight_kg < weight_kg
),

-- orders is read once for each (a CTE read twice is kept in memory: 10M rows ran out of the 1 GB);
-- the verdict found by the order's profile, not by joining order_audit back to orders
use_grams AS (
    SELECT o.patient_seq, 'use' AS kind, o.product, v.recommendation, v.condition,
           sum(round(o.dose_g * 1000))::BIGINT AS milligrams
    FROM orders AS o
    JOIN primary_verdicts AS v USING (profile_id)
    WHERE o.patient_seq IN (SELECT patient_seq FROM patients_in_scope)
    GROUP BY ALL
),

dosing_weight_grams AS (
    SELECT s.patient_seq, 'dosing_weight' AS kind, o.product, NULL::VARCHAR AS recommendation,
           NULL::VARCHAR AS condition, sum(round(s.saved_g * 1000))::BIGINT AS milligrams
    FROM saved AS s
    LEFT JOIN orders AS o USING (site, order_id)
    GROUP BY ALL
)

SELECT * FROM use_grams
UNION ALL SELECT * FROM dosing_weight_grams
