-- model: mart_money_grams
-- kind: full
-- grain: one row per line of the money section and product: kind 'use' (recommendation and
--   condition), 'dosing_weight' (grams that dosing by dosing weight instead of actual weight would
--   have saved, by the product of each course's latest order) and 'cidp_overuse_suspected' (CIDP
--   orders of the patients the review suspects of overuse); grams only, so the page prices them
--   (sql/reports/spend.sql) without reading every order
-- reads: order_audit, orders, courses, cidp_review, ref_conditions, ref_recommendations
WITH
audited AS (
    SELECT a.patient_seq, a.condition, a.recommendation, a.dose_g, o.product
    FROM order_audit AS a
    JOIN orders AS o USING (site, order_id)
),

saved AS (
    SELECT c.site, c.latest_order_id AS order_id, c.total_g * (1 - c.dosing_weight_kg / c.weight_kg) AS saved_g
    FROM courses AS c
    WHERE c.dosing_weight_kg < c.weight_kg
),

suspected AS (
    SELECT patient_seq FROM cidp_review WHERE overuse_suspected
),

use_grams AS (
    SELECT 'use' AS kind, au.product, rec.sort_order, rec.label AS recommendation_label,
           coalesce(c.label, '(no condition recognised)') AS condition_label, sum(au.dose_g) AS grams
    FROM audited AS au
    JOIN ref_recommendations AS rec USING (recommendation)
    LEFT JOIN ref_conditions AS c ON c.condition_id = au.condition
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
    SELECT 'cidp_overuse_suspected' AS kind, au.product, NULL::INTEGER AS sort_order, NULL AS recommendation_label,
           NULL AS condition_label, sum(au.dose_g) AS grams
    FROM audited AS au
    SEMI JOIN suspected USING (patient_seq)
    WHERE au.condition = 'cidp'
    GROUP BY ALL
)

SELECT * FROM use_grams
UNION ALL SELECT * FROM dosing_weight_grams
UNION ALL SELECT * FROM cidp_grams;
