-- Grain: one row per condition and recommendation: orders, patients and grams. Orders with no
-- recognised condition are grouped as "(no condition recognised)".
CREATE OR REPLACE TABLE mart_condition_recommendation AS
SELECT
    coalesce(c.label, '(no condition recognised)') AS condition_label,
    a.recommendation,
    rec.label AS recommendation_label,
    rec.sort_order,
    count(*) AS orders,
    count(DISTINCT (a.site, a.patient_key)) AS patients,
    sum(a.dose_g) AS grams
FROM order_audit AS a
JOIN ref_recommendations AS rec USING (recommendation)
LEFT JOIN ref_conditions AS c ON c.condition_id = a.condition
GROUP BY ALL
ORDER BY condition_label, rec.sort_order;
