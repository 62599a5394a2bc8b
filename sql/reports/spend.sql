-- Kind: report query (not a table), run by dashboards/money.py with the price table bound as
-- $prices (product, per_gram; guideline/prices/). Grain: one row per line of the money section:
-- kind 'use' (recommendation and condition: grams, and spend where the product has a price),
-- 'unpriced' (grams of products without a price), 'dosing_weight' (grams and spend that dosing by
-- dosing weight instead of actual weight would have saved: each course's grams less its grams
-- scaled by dosing weight over actual weight, where the dosing weight is the smaller; priced by its
-- latest order's product) and 'cidp_overuse_suspected' (CIDP orders of the patients the review
-- suspects of overuse). Inputs: order_audit, orders, courses, cidp_review, ref_conditions,
-- ref_recommendations.
WITH
prices AS (
    SELECT p.product, p.per_gram FROM (SELECT unnest($prices) AS p)
),

audited AS (
    SELECT a.site, a.order_id, a.patient_seq, a.condition, a.recommendation, a.dose_g, o.product
    FROM order_audit AS a
    JOIN orders AS o USING (site, order_id)
),

priced AS (
    SELECT au.*, au.dose_g * p.per_gram AS spend, p.per_gram IS NOT NULL AS has_price
    FROM audited AS au
    LEFT JOIN prices AS p USING (product)
),

use_lines AS (
    SELECT 'use' AS kind, rec.sort_order, rec.label AS recommendation_label,
           coalesce(c.label, '(no condition recognised)') AS condition_label,
           sum(dose_g) AS grams, sum(spend) AS spend
    FROM priced
    JOIN ref_recommendations AS rec USING (recommendation)
    LEFT JOIN ref_conditions AS c ON c.condition_id = priced.condition
    WHERE has_price
    GROUP BY ALL
),

unpriced AS (
    SELECT 'unpriced' AS kind, NULL::INTEGER AS sort_order, NULL AS recommendation_label, NULL AS condition_label,
           sum(dose_g) AS grams, NULL::DOUBLE AS spend
    FROM priced WHERE NOT has_price
),

dosing_weight AS (
    SELECT 'dosing_weight' AS kind, NULL::INTEGER AS sort_order, NULL AS recommendation_label, NULL AS condition_label,
           sum(saved_g) AS grams, sum(saved_g * p.per_gram) AS spend
    FROM (SELECT c.site, c.latest_order_id AS order_id, c.total_g * (1 - c.dosing_weight_kg / c.weight_kg) AS saved_g
          FROM courses AS c WHERE c.dosing_weight_kg < c.weight_kg) AS saved
    LEFT JOIN orders AS o USING (site, order_id)
    LEFT JOIN prices AS p USING (product)
),

cidp_suspected AS (
    SELECT 'cidp_overuse_suspected' AS kind, NULL::INTEGER AS sort_order, NULL AS recommendation_label,
           NULL AS condition_label, sum(dose_g) AS grams, sum(spend) AS spend
    FROM priced
    SEMI JOIN (SELECT patient_seq FROM cidp_review WHERE overuse_suspected) AS r USING (patient_seq)
    WHERE condition = 'cidp'
)

SELECT * FROM use_lines
UNION ALL SELECT * FROM unpriced
UNION ALL SELECT * FROM dosing_weight
UNION ALL SELECT * FROM cidp_suspected
ORDER BY kind DESC, sort_order, spend DESC NULLS LAST, condition_label;
