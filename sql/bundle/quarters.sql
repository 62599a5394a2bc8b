-- Kind: site bundle table (temporary; pipelines/bundle.py writes it to quarters.parquet).
-- Grain: one row per calendar quarter of order_date (every quarter of the site's orders up to
-- $period_end) and group: all orders, weak_evidence (Level U or should not), outside_guideline and
-- other (the rest): orders and grams, for each site's trend.
-- Inputs: order_audit (the orders of site $site dated up to $period_end).
-- Small numbers: within a quarter the three groups are the cells of its total (suppressed_cell,
-- sql/macros.sql): a count of 1 to 4 is NULL, and where only one is, the next smallest too; the
-- total alone is NULL when 1 to 4; grams are NULL where the orders are.
CREATE OR REPLACE TEMP TABLE bundle_quarters AS
WITH
orders_to_period_end AS (
    SELECT order_date, recommendation, dose_g
    FROM order_audit
    WHERE site = $site AND order_date <= $period_end
),

grouped AS (
    SELECT
        date_trunc('quarter', order_date)::DATE AS quarter,
        CASE WHEN recommendation IN ('insufficient_evidence', 'should_not') THEN 'weak_evidence'
             WHEN recommendation = 'outside_guideline' THEN 'outside_guideline'
             ELSE 'other' END AS order_group,
        dose_g
    FROM orders_to_period_end
),

quarter_groups AS (
    SELECT q.quarter, g.order_group
    FROM (SELECT DISTINCT quarter FROM grouped) AS q,
         (VALUES ('all'), ('weak_evidence'), ('outside_guideline'), ('other')) AS g(order_group)
),

counted AS (
    SELECT qg.quarter, qg.order_group, count(o.quarter) AS orders, coalesce(sum(o.dose_g), 0) AS grams
    FROM quarter_groups AS qg
    LEFT JOIN grouped AS o
      ON o.quarter = qg.quarter AND (qg.order_group = 'all' OR o.order_group = qg.order_group)
    GROUP BY ALL
)

SELECT
    quarter,
    order_group,
    CASE WHEN NOT suppressed_cell(orders, (quarter, order_group = 'all'), order_group) THEN orders END AS orders,
    CASE WHEN NOT suppressed_cell(orders, (quarter, order_group = 'all'), order_group) THEN grams END AS grams
FROM counted
ORDER BY quarter, order_group;
