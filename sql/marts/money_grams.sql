-- model: mart_money_grams
-- kind: full
-- grain: one row per line of the money section and product: kind 'use' (recommendation and
--   condition), 'dosing_weight' (grams that dosing by dosing weight instead of actual weight would
--   have saved, by the product of each course's latest order) and 'cidp_overuse_suspected' (CIDP
--   orders of the patients the review suspects of overuse); grams only, so the page prices them
--   (sql/reports/spend.sql) without reading every order
-- reads: orders, profile_verdicts, audit_rulesets, courses, cidp_review, ref_conditions, ref_recommendations
WITH
suspected AS (
    SELECT patient_seq FROM cidp_review WHERE overuse_suspected
),

-- the primary rule set's verdict of each profile: an order's, as in the view order_audit
primary_verdicts AS (
    SELECT profile_id, recommendation, condition FROM profile_verdicts
    WHERE ruleset_id = (SELECT ruleset_id FROM audit_rulesets WHERE is_primary)
),

-- one pass over the orders: grams by product, verdict, condition and whether the order is a CIDP
-- order of a patient suspected of overuse. The orders are read once, their verdict found by their
-- profile (orders.profile_id): order_audit joined back to orders read them twice, and at 10M orders
-- that join ran out of memory under the 1 GB limit once order_audit was a view.
order_grams AS (
    SELECT o.product, v.recommendation, v.condition,
           v.condition = 'cidp' AND o.patient_seq IN (SELECT patient_seq FROM suspected) AS cidp_suspected,
           sum(o.dose_g) AS grams
    FROM orders AS o
    JOIN primary_verdicts AS v USING (profile_id)
    GROUP BY ALL
),

saved AS (
    SELECT c.site, c.latest_order_id AS order_id, c.total_g * (1 - c.dosing_weight_kg / c.weight_kg) AS saved_g
    FROM courses AS c
    WHERE c.dosing_weight_kg < c.weight_kg
),

use_grams AS (
    SELECT 'use' AS kind, g.product, rec.sort_order, rec.label AS recommendation_label,
           coalesce(c.label, '(no condition recognised)') AS condition_label, sum(g.grams) AS grams
    FROM order_grams AS g
    JOIN ref_recommendations AS rec USING (recommendation)
    LEFT JOIN ref_conditions AS c ON c.condition_id = g.condition
    GROUP BY ALL
),

dosing_weight_grams AS (
    SELECT 'dosing_weight' AS kind, o.product, NULL::INTEGER AS sort_order, NULL AS recommendation_label,
           NULL AS condition_label, sum(s.saved_g) AS grams
    FROM saved AS s
    LEFT JOIN orders AS o USING (site, order_id)
    GROUP BY ALL
),

cidp_grams AS (
    SELECT 'cidp_overuse_suspected' AS kind, product, NULL::INTEGER AS sort_order, NULL AS recommendation_label,
           NULL AS condition_label, sum(grams) AS grams
    FROM order_grams
    WHERE cidp_suspected
    GROUP BY ALL
)

SELECT * FROM use_grams
UNION ALL SELECT * FROM dosing_weight_grams
UNION ALL SELECT * FROM cidp_grams;
