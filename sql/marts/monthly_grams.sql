-- Grain: one row per calendar month of order_date and recommendation: orders and grams.
CREATE OR REPLACE TABLE mart_monthly_grams AS
SELECT
    date_trunc('month', a.order_date)::DATE AS month,
    a.recommendation,
    rec.label AS recommendation_label,
    rec.sort_order,
    count(*) AS orders,
    sum(a.dose_g) AS grams
FROM order_audit AS a
JOIN ref_recommendations AS rec USING (recommendation)
GROUP BY ALL
ORDER BY month, rec.sort_order;
