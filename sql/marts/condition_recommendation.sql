-- model: mart_condition_recommendation
-- kind: full
-- grain: one row per condition and recommendation (and, for outside_guideline, its reason):
--   orders, patients and grams, with whether the condition is neuromuscular
-- reads: patient_condition_usage, ref_conditions, ref_recommendations
--
-- Orders with no recognised condition are grouped as "(no condition recognised)".
SELECT
    coalesce(c.label, '(no condition recognised)') AS condition_label,
    a.recommendation,
    rec.label AS recommendation_label,
    rec.sort_order,
    a.outside_reason,
    c.neuromuscular,
    sum(a.orders)::BIGINT AS orders,
    count(*) AS patients,
    sum(a.grams) AS grams
FROM patient_condition_usage AS a
JOIN ref_recommendations AS rec USING (recommendation)
LEFT JOIN ref_conditions AS c ON c.condition_id = a.condition
GROUP BY ALL
ORDER BY condition_label, rec.sort_order;
