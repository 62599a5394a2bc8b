-- Kind: site bundle table (temporary; pipelines/bundle.py writes it to recommendations.parquet).
-- Grain: one row per recommendation value (all seven; 0 where none): orders, patients and grams in
-- the bundle's period.
-- Inputs: order_audit (the orders of site $site dated $period_start to $period_end), ref_recommendations.
-- Small numbers, per column as on the dashboard (suppressed_cell, sql/macros.sql): a count of 1 to
-- 4 is NULL, and where only one is, the next smallest too, since totals.parquet gives the column's
-- total; grams are NULL where the orders are.
CREATE OR REPLACE TEMP TABLE bundle_recommendations AS
WITH
orders_in_period AS (
    SELECT patient_seq, recommendation, dose_g
    FROM order_audit
    WHERE site = $site AND order_date BETWEEN $period_start AND $period_end
),

recommendations AS (
    SELECT recommendation, sort_order FROM ref_recommendations
),

counted AS (
    SELECT
        r.recommendation,
        r.sort_order,
        count(o.recommendation) AS orders,
        count(DISTINCT o.patient_seq) AS patients,
        coalesce(sum(o.dose_g), 0) AS grams
    FROM recommendations AS r
    LEFT JOIN orders_in_period AS o USING (recommendation)
    GROUP BY ALL
)

SELECT
    recommendation,
    CASE WHEN NOT suppressed_cell(orders, 'orders', sort_order) THEN orders END AS orders,
    CASE WHEN NOT suppressed_cell(patients, 'patients', sort_order) THEN patients END AS patients,
    CASE WHEN NOT suppressed_cell(orders, 'orders', sort_order) THEN grams END AS grams
FROM counted
ORDER BY sort_order;
