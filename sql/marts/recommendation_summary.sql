-- model: mart_recommendation_summary
-- kind: full
-- grain: one row per recommendation value (all seven always listed), for the rule set of the
--   last run
-- reads: patient_condition_usage, ref_recommendations
--
-- The run summary and dashboards read this.
WITH
totals AS (
    SELECT recommendation, sum(orders)::BIGINT AS orders, count(DISTINCT patient_seq) AS patients, sum(grams) AS grams
    FROM patient_condition_usage GROUP BY recommendation
)

SELECT
    rec.sort_order,
    rec.recommendation,
    rec.label,
    coalesce(t.orders, 0) AS orders,
    coalesce(t.patients, 0) AS patients,
    coalesce(t.grams, 0) AS grams,
    round(100.0 * coalesce(t.orders, 0) / nullif(sum(t.orders) OVER (), 0), 1) AS pct_orders,
    round(100.0 * coalesce(t.grams, 0) / nullif(sum(t.grams) OVER (), 0), 1) AS pct_grams
FROM ref_recommendations AS rec
LEFT JOIN totals AS t USING (recommendation)
ORDER BY rec.sort_order;
