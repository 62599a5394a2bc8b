-- Kind: report query (not a table), run by dashboards/money.py with the price table bound as
-- $prices (product, per_gram; guideline/prices/). Grain: one row per line of the money section:
-- kind 'use' (recommendation and condition: grams, and spend where the product has a price),
-- 'unpriced' (grams of products without a price), 'dosing_weight' (grams and spend that dosing by
-- dosing weight instead of actual weight would have saved: each course's grams less its grams
-- scaled by dosing weight over actual weight, where the dosing weight is the smaller; priced by its
-- latest order's product) and 'cidp_overuse_suspected' (CIDP orders of the patients the review
-- suspects of overuse). Inputs: mart_money_grams (the grams per line and product, built by the run).
WITH
prices AS (
    SELECT p.product, p.per_gram FROM (SELECT unnest($prices) AS p)
),

grams AS (
    SELECT kind, product, sort_order, recommendation_label, condition_label, grams FROM mart_money_grams
),

priced AS (
    SELECT g.*, g.grams * p.per_gram AS spend, p.per_gram IS NOT NULL AS has_price
    FROM grams AS g
    LEFT JOIN prices AS p USING (product)
),

use_lines AS (
    SELECT 'use' AS kind, sort_order, recommendation_label, condition_label, sum(grams) AS grams, sum(spend) AS spend
    FROM priced
    WHERE kind = 'use' AND has_price
    GROUP BY ALL
),

unpriced AS (
    SELECT 'unpriced' AS kind, NULL::INTEGER AS sort_order, NULL AS recommendation_label, NULL AS condition_label,
           sum(grams) AS grams, NULL::DOUBLE AS spend
    FROM priced WHERE kind = 'use' AND NOT has_price
),

dosing_weight AS (
    SELECT 'dosing_weight' AS kind, NULL::INTEGER AS sort_order, NULL AS recommendation_label, NULL AS condition_label,
           sum(grams) AS grams, sum(spend) AS spend
    FROM priced WHERE kind = 'dosing_weight'
),

cidp_suspected AS (
    SELECT 'cidp_overuse_suspected' AS kind, NULL::INTEGER AS sort_order, NULL AS recommendation_label,
           NULL AS condition_label, sum(grams) AS grams, sum(spend) AS spend
    FROM priced WHERE kind = 'cidp_overuse_suspected'
)

SELECT * FROM use_lines
UNION ALL SELECT * FROM unpriced
UNION ALL SELECT * FROM dosing_weight
UNION ALL SELECT * FROM cidp_suspected
ORDER BY kind DESC, sort_order, spend DESC NULLS LAST, condition_label;
