-- Grain: one row per condition and recommendation: orders, patients and grams. Orders with no
-- recognised condition are grouped as "(no condition recognised)". From patient_condition_usage:
-- one row per patient in each condition and recommendation.
CREATE OR REPLACE TABLE mart_condition_recommendation AS
SELECT
    coalesce(c.label, '(no condition recognised)') AS condition_label,
    a.recommendation,
    rec.label AS recommendation_label,
    rec.sort_order,
    sum(a.orders)::BIGINT AS orders,
    count(*) AS patients,
    sum(a.grams) AS grams
FROM patient_condition_usage AS a
JOIN ref_recommendations AS rec USING (recommendation)
LEFT JOIN ref_conditions AS c ON c.condition_id = a.condition
GROUP BY ALL
ORDER BY condition_label, rec.sort_order;
