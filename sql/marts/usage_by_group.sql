-- model: mart_usage_by_group
-- kind: full
-- grain: one row per group of one dimension (specialty, prescriber, site): orders, patients,
--   grams and Level U / should-not orders, with small numbers suppressed
-- reads: patient_group_usage
--
-- A count under 5 is empty with its flag column "<5" (grams too, flagged "*", when the orders
-- are). Where a dimension has exactly one such cell in a column, the next smallest cell is empty
-- too, flagged "*", so the hidden one cannot be worked out from the totals shown on the same page.
-- Only the shown numbers leave this model; they stay numbers (a spreadsheet can sum them), never
-- text such as "4,303".
WITH
-- patient_group_usage has one row per patient in each group
grouped AS (
    SELECT dimension, group_value, sum(orders)::BIGINT AS orders, count(*) AS patients,
           sum(weak_orders)::BIGINT AS weak_orders, sum(grams) AS grams
    FROM patient_group_usage
    GROUP BY ALL
),

cells AS (
    SELECT dimension, group_value, measure, n
    FROM (UNPIVOT (SELECT * EXCLUDE (grams) FROM grouped) ON orders, patients, weak_orders INTO NAME measure VALUE n)
),

-- suppressed_cell (sql/macros.sql): the rule, shared with the site bundle
suppressed AS (
    SELECT *,
        CASE WHEN n < 5 THEN '<5'
             WHEN suppressed_cell(n, (dimension, measure), group_value) THEN '*'
             ELSE n::VARCHAR END AS shown
    FROM cells
),

shown AS (
    SELECT
        g.dimension,
        g.group_value,
        g.orders AS all_orders,
        any_value(s.shown) FILTER (WHERE s.measure = 'orders') AS orders,
        any_value(s.shown) FILTER (WHERE s.measure = 'patients') AS patients,
        CASE WHEN any_value(s.shown) FILTER (WHERE s.measure = 'orders') IN ('<5', '*') THEN '*'
             ELSE round(g.grams, 1)::VARCHAR END AS grams,
        any_value(s.shown) FILTER (WHERE s.measure = 'weak_orders') AS weak_evidence_orders
    FROM grouped AS g
    JOIN suppressed AS s USING (dimension, group_value)
    GROUP BY g.dimension, g.group_value, g.orders, g.grams
)

SELECT
    dimension,
    group_value,
    TRY_CAST(orders AS BIGINT) AS orders,
    TRY_CAST(patients AS BIGINT) AS patients,
    TRY_CAST(grams AS DOUBLE) AS grams,
    TRY_CAST(weak_evidence_orders AS BIGINT) AS weak_evidence_orders,
    CASE WHEN orders IN ('<5', '*') THEN orders END AS orders_suppressed,
    CASE WHEN patients IN ('<5', '*') THEN patients END AS patients_suppressed,
    CASE WHEN grams = '*' THEN grams END AS grams_suppressed,
    CASE WHEN weak_evidence_orders IN ('<5', '*') THEN weak_evidence_orders END AS weak_evidence_orders_suppressed
FROM shown
ORDER BY dimension, all_orders DESC, group_value;
