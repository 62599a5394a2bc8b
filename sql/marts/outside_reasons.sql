-- model: mart_outside_reasons
-- kind: full
-- grain: one row per reason an order is outside_guideline (both always listed)
-- reads: patient_condition_usage
--
-- The reasons: condition (the rule set does not grade the condition: ITP) or population (it grades the
-- condition, not this population: mild MG, juvenile dermatomyositis). Orders, patients and grams,
-- and the share of all grams.
WITH
reasons AS (
    SELECT * FROM (VALUES (1, 'condition', 'Condition not graded by this rule set'),
                          (2, 'population', 'Condition graded, but not for this population'))
        AS t(sort_order, outside_reason, label)
),

totals AS (
    SELECT outside_reason, sum(orders)::BIGINT AS orders, count(DISTINCT patient_seq) AS patients, sum(grams) AS grams
    FROM patient_condition_usage WHERE recommendation = 'outside_guideline'
    GROUP BY outside_reason
)

SELECT
    r.sort_order, r.outside_reason, r.label,
    coalesce(t.orders, 0) AS orders,
    coalesce(t.patients, 0) AS patients,
    coalesce(t.grams, 0) AS grams,
    round(100.0 * coalesce(t.grams, 0) / nullif((SELECT sum(grams) FROM patient_condition_usage), 0), 1) AS pct_grams
FROM reasons AS r
LEFT JOIN totals AS t USING (outside_reason)
ORDER BY r.sort_order;
