-- model: mart_money_grams
-- kind: full
-- grain: one row per line of the money section and product: kind 'use' (recommendation and
--   condition), 'dosing_weight' (grams that dosing by dosing weight instead of actual weight would
--   have saved, by the product of each course's latest order) and 'cidp_overuse_suspected' (CIDP
--   orders of the patients the review suspects of overuse); grams only, so the page prices them
--   (sql/reports/spend.sql) without reading every order
-- reads: patient_money_grams, cidp_review, ref_conditions, ref_recommendations
--
-- Sums of the per-patient rows of patient_money_grams (whole milligrams), which each run rebuilds for
-- the patients it touched only: one grouped pass, and the CIDP orders of suspected patients apart
-- (a CTE of every row read three times would be kept in memory).
WITH
grouped AS MATERIALIZED (
    SELECT kind, product, recommendation, condition, sum(milligrams) AS milligrams
    FROM patient_money_grams
    GROUP BY ALL
),

suspected AS (
    SELECT patient_seq FROM cidp_review WHERE overuse_suspected
),

use_grams AS (
    SELECT 'use' AS kind, g.product, rec.sort_order, rec.label AS recommendation_label,
           coalesce(c.label, '(no condition recognised)') AS condition_label, sum(g.milligrams) / 1000 AS grams
    FROM grouped AS g
    JOIN ref_recommendations AS rec USING (recommendation)
    LEFT JOIN ref_conditions AS c ON c.condition_id = g.condition
    WHERE g.kind = 'use'
    GROUP BY ALL
),

dosing_weight_grams AS (
    SELECT 'dosing_weight' AS kind, product, NULL::INTEGER AS sort_order, NULL AS recommendation_label,
           NULL AS condition_label, sum(milligrams) / 1000 AS grams
    FROM grouped
    WHERE kind = 'dosing_weight'
    GROUP BY ALL
),

cidp_grams AS (
    SELECT 'cidp_overuse_suspected' AS kind, product, NULL::INTEGER AS sort_order, NULL AS recommendation_label,
           NULL AS condition_label, sum(milligrams) / 1000 AS grams
    FROM patient_money_grams
    WHERE kind = 'use' AND condition = 'cidp' AND patient_seq IN (SELECT patient_seq FROM suspected)
    GROUP BY ALL
)

SELECT * FROM use_grams
UNION ALL SELECT * FROM dosing_weight_grams
UNION ALL SELECT * FROM cidp_grams;
