-- model: mart_monthly_grams
-- kind: full
-- grain: one row per calendar month of order_date and recommendation: orders and grams
-- reads: order_audit, ref_recommendations
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
