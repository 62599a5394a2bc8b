-- model: mart_quarterly_usage
-- kind: full
-- grain: one row per calendar quarter of order_date, site, condition, recommendation and
--   outside_guideline's reason: orders and grams, with whether the condition is neuromuscular. Every
--   quarter from the first order's to the last order's has rows (a quarter without orders gives one
--   row of zeros per site), so trends show gaps as zero, not as missing. The committee pack's
--   periods, trends and movers are sums over these rows.
-- reads: order_audit, ref_conditions
WITH
orders AS (
    SELECT order_date, site, condition, recommendation, outside_reason, dose_g FROM order_audit
),

conditions AS (
    SELECT condition_id AS condition, label AS condition_label, neuromuscular FROM ref_conditions
),

quarters AS (
    SELECT range::DATE AS quarter
    FROM range((SELECT date_trunc('quarter', min(order_date)) FROM orders),
               (SELECT date_trunc('quarter', max(order_date)) + INTERVAL 3 MONTH FROM orders),
               INTERVAL 3 MONTH)
),

used AS (
    SELECT date_trunc('quarter', o.order_date)::DATE AS quarter, o.site, o.condition,
           coalesce(c.condition_label, '(no condition recognised)') AS condition_label, c.neuromuscular,
           o.recommendation, o.outside_reason, count(*) AS orders, sum(o.dose_g) AS grams
    FROM orders AS o
    LEFT JOIN conditions AS c USING (condition)
    GROUP BY ALL
),

empty_quarters AS (
    SELECT q.quarter, s.site, NULL::VARCHAR AS condition, NULL::VARCHAR AS condition_label,
           NULL::BOOLEAN AS neuromuscular, NULL::VARCHAR AS recommendation, NULL::VARCHAR AS outside_reason,
           0::BIGINT AS orders, 0::DOUBLE AS grams
    FROM quarters AS q
    CROSS JOIN (SELECT DISTINCT site FROM used) AS s
    ANTI JOIN used AS u ON u.quarter = q.quarter AND u.site = s.site
)

SELECT * FROM used
UNION ALL BY NAME
SELECT * FROM empty_quarters
ORDER BY quarter, site, condition_label, recommendation;
