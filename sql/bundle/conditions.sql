-- Kind: site bundle table (temporary; pipelines/bundle.py writes it to conditions.parquet).
-- Grain: one row per condition the site's orders in the period were classified to (condition NULL:
-- no condition recognised): orders, patients and grams, for grams per patient by condition.
-- Inputs: order_audit (the orders of site $site dated $period_start to $period_end), ref_conditions.
-- Small numbers, per column as on the dashboard (suppressed_cell, sql/macros.sql): a count of 1 to
-- 4 is NULL, and where only one is, the next smallest too; grams are NULL where the orders are.
CREATE OR REPLACE TEMP TABLE bundle_conditions AS
WITH
orders_in_period AS (
    SELECT patient_seq, condition, dose_g
    FROM order_audit
    WHERE site = $site AND order_date BETWEEN $period_start AND $period_end
),

conditions AS (
    SELECT condition_id AS condition, label FROM ref_conditions
),

counted AS (
    SELECT
        o.condition,
        coalesce(c.label, '(no condition recognised)') AS condition_label,
        count(*) AS orders,
        count(DISTINCT o.patient_seq) AS patients,
        sum(o.dose_g) AS grams
    FROM orders_in_period AS o
    LEFT JOIN conditions AS c USING (condition)
    GROUP BY ALL
)

SELECT
    condition,
    condition_label,
    CASE WHEN NOT suppressed_cell(orders, 'orders', condition_label) THEN orders END AS orders,
    CASE WHEN NOT suppressed_cell(patients, 'patients', condition_label) THEN patients END AS patients,
    CASE WHEN NOT suppressed_cell(orders, 'orders', condition_label) THEN grams END AS grams
FROM counted
ORDER BY condition_label;
