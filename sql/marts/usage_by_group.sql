-- Grain: one row per group of one dimension (specialty, prescriber, site): orders, patients, grams
-- and Level U / should-not orders, with small numbers suppressed. A count under 5 shows as "<5"
-- (grams too when the orders are). Where a dimension has exactly one such cell in a column, the
-- next smallest cell shows as "*", so the hidden one cannot be worked out from the totals shown on
-- the same page. Only the shown text leaves this model.
CREATE OR REPLACE TABLE mart_usage_by_group AS
WITH
audited AS (
    -- every order is in order_audit; only the few weak-evidence ones are looked up there
    SELECT o.site, o.patient_key, o.dose_g,
        coalesce(blank_to_null(trim(o.specialty)), '(not recorded)') AS specialty,
        o.site || ' ' || coalesce(blank_to_null(trim(o.prescriber_id)), '(not recorded)') AS prescriber,
        weak.order_id IS NOT NULL AS weak
    FROM orders AS o
    LEFT JOIN (SELECT site, order_id FROM order_audit
               WHERE recommendation IN ('insufficient_evidence', 'should_not')) AS weak USING (site, order_id)
),

grouped AS (
    SELECT
        CASE WHEN grouping(specialty) = 0 THEN 'specialty'
             WHEN grouping(prescriber) = 0 THEN 'prescriber' ELSE 'site' END AS dimension,
        coalesce(specialty, prescriber, site) AS group_value,
        count(*) AS orders,
        count(DISTINCT (site, patient_key)) AS patients,
        count(*) FILTER (WHERE weak) AS weak_orders,
        sum(dose_g) AS grams
    FROM audited
    GROUP BY GROUPING SETS ((specialty), (prescriber), (site))
),

cells AS (
    SELECT dimension, group_value, measure, n, n < 5 AS small,
        count(*) FILTER (WHERE n < 5) OVER (PARTITION BY dimension, measure) AS small_cells
    FROM (UNPIVOT (SELECT * EXCLUDE (grams) FROM grouped) ON orders, patients, weak_orders INTO NAME measure VALUE n)
),

suppressed AS (
    SELECT *,
        CASE WHEN small THEN '<5'
             WHEN small_cells = 1 AND row_number() OVER (PARTITION BY dimension, measure, small ORDER BY n, group_value) = 1
                 THEN '*'
             ELSE n::VARCHAR END AS shown
    FROM cells
)

SELECT
    g.dimension,
    g.group_value,
    any_value(s.shown) FILTER (WHERE s.measure = 'orders') AS orders,
    any_value(s.shown) FILTER (WHERE s.measure = 'patients') AS patients,
    CASE WHEN any_value(s.shown) FILTER (WHERE s.measure = 'orders') IN ('<5', '*') THEN '*'
         ELSE format('{:,}', round(g.grams)::BIGINT) END AS grams,
    any_value(s.shown) FILTER (WHERE s.measure = 'weak_orders') AS weak_evidence_orders
FROM grouped AS g
JOIN suppressed AS s USING (dimension, group_value)
GROUP BY g.dimension, g.group_value, g.orders, g.grams
ORDER BY g.dimension, g.orders DESC, g.group_value;
